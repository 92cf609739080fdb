"""What compose and deploy/vendor.env.example give the vendor is what its Settings accept."""

from __future__ import annotations

import re

import pytest

from tests.support import compose

settings_module = pytest.importorskip("vendor_service.settings")

# Read by docker/entrypoint.sh, not by the service.
ENTRYPOINT_VARIABLES = {"VENDOR_ADMIN_TOKEN_FILE", "VENDOR_ADMIN_TOKEN_PROVISION"}
A_TOKEN = "a-strong-test-token-0123456789abcdef"


def known_variables() -> set[str]:
    fields = settings_module.Settings.model_fields
    names = {f"VENDOR_{name.upper()}" for name in fields}
    return names | {"REDIS_URL"}


@pytest.mark.parametrize("name", ["vendor", "vendor-train"])
def test_every_vendor_variable_in_compose_is_a_setting(name: str) -> None:
    environment = compose.service_environment(compose.merge(compose.BASE)["services"][name])
    vendor_variables = {key for key in environment if key.startswith("VENDOR_")}
    assert vendor_variables - ENTRYPOINT_VARIABLES <= known_variables()


def test_compose_environment_starts_the_vendor(monkeypatch: pytest.MonkeyPatch) -> None:
    environment = compose.service_environment(compose.merge(compose.BASE)["services"]["vendor"])
    for key, value in environment.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("VENDOR_ADMIN_TOKEN", A_TOKEN)  # what the entrypoint exports
    settings = settings_module.Settings()
    assert settings.redis_url == environment["REDIS_URL"]
    assert settings.redis_prefix == environment["VENDOR_REDIS_PREFIX"]
    assert not settings.dev_mode


def test_the_example_env_file_names_only_real_settings() -> None:
    text = (compose.REPO_ROOT / "deploy" / "vendor.env.example").read_text()
    named = set(re.findall(r"^#?\s*(VENDOR_[A-Z0-9_]+|REDIS_URL)\s*=", text, re.M))
    assert named, "the example names no setting"
    assert named <= known_variables()
