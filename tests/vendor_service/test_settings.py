"""Settings refuse to start an unsafe service outside dev mode."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from vendor_service.settings import Settings, load_settings

GOOD = "a-real-admin-token-0123456789"


@pytest.mark.parametrize("token", ["", "changeme", "secret", "short-token"])
def test_placeholder_admin_token_refuses_to_start(token: str) -> None:
    with pytest.raises(ValidationError, match="VENDOR_ADMIN_TOKEN"):
        Settings(admin_token=token)


def test_dev_mode_generates_a_token_and_logs_it_once(caplog: pytest.LogCaptureFixture) -> None:
    settings = load_settings(dev_mode=True)
    assert len(settings.admin_token) >= 16
    assert settings.admin_token in caplog.text


def test_environment_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VENDOR_ADMIN_TOKEN", GOOD)
    monkeypatch.setenv("VENDOR_PRICE_PER_IMAGE", "7")
    monkeypatch.setenv("REDIS_URL", "redis://example:6379/3")
    settings = Settings()
    assert (settings.price_per_image, settings.redis_url) == (7, "redis://example:6379/3")


def test_other_checks() -> None:
    with pytest.raises(ValidationError, match="dev mode"):
        Settings(admin_token=GOOD, unmetered=True)
    with pytest.raises(ValidationError):
        Settings(admin_token=GOOD, rate_limit_requests="lots")
    with pytest.raises(ValidationError):
        Settings(admin_token=GOOD, lease_seconds=120)
    with pytest.raises(ValidationError, match="INFERENCE_TIMEOUT"):
        Settings(admin_token=GOOD, lease_seconds=5)
    with pytest.raises(ValidationError, match="MAX_QUEUE_ITEMS"):
        Settings(admin_token=GOOD, max_queue_items=4, max_inputs_per_request=8)


@pytest.mark.parametrize(
    ("values", "says"),
    [
        ({"redis_prefix": "vendor{a}:"}, "must not contain"),
        ({"redis_url": "redis+cluster://host"}, "host:port"),
        ({"redis_url": "memcached://host:1"}, "must start with"),
        ({"redis_wait_replicas": 17}, "VENDOR_REDIS_WAIT_REPLICAS"),
    ],
)
def test_redis_settings_that_cannot_work_are_refused(values: dict[str, object], says: str) -> None:
    with pytest.raises(ValidationError, match=says):
        Settings(admin_token=GOOD, **values)  # type: ignore[arg-type]


def test_a_cluster_url_and_a_replica_wait_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", "redis+cluster://a:7000,b:7001")
    monkeypatch.setenv("VENDOR_REDIS_WAIT_REPLICAS", "1")
    settings = Settings(admin_token=GOOD)
    assert settings.redis_url == "redis+cluster://a:7000,b:7001"
    assert settings.redis_wait_replicas == 1
    assert Settings(admin_token=GOOD).workers == "auto"


def test_only_the_worlds_model_has_default_weights() -> None:
    assert Settings(admin_token=GOOD).pretrained == "world"
    assert Settings(admin_token=GOOD, model="ViT-B-16-quickgelu", pretrained="openai").pretrained
    for unset in ("", "  "):
        with pytest.raises(ValidationError, match=r"VENDOR_PRETRAINED is required with "
                           r"VENDOR_MODEL=ViT-B-16: .* or random"):  # fmt: skip
            Settings(admin_token=GOOD, model="ViT-B-16", pretrained=unset)
