"""docker-compose.yml: the services, their health, dependencies, volumes and commands."""

from __future__ import annotations

import re
import subprocess
from typing import Any
from urllib.parse import urlparse

import pytest

from client_trainer.simulation import commands
from tests.support import compose


@pytest.fixture(scope="module")
def model() -> dict[str, Any]:
    return compose.merge(compose.BASE)


@pytest.fixture(scope="module")
def services(model: dict[str, Any]) -> dict[str, Any]:
    return dict(model["services"])


def test_the_services_exist(services: dict[str, Any]) -> None:
    assert {"redis", "vendor-train", "vendor", "client"} <= set(services)


def test_every_service_has_a_pinned_image_or_a_build(services: dict[str, Any]) -> None:
    for name, service in services.items():
        if "build" in service:
            dockerfile = compose.REPO_ROOT / service["build"]["dockerfile"]
            assert dockerfile.is_file(), name
        else:
            assert compose.pinned(service["image"]), f"{name}: {service['image']} is not pinned"


def test_redis_keeps_an_append_only_file_on_a_named_volume(services: dict[str, Any]) -> None:
    redis = services["redis"]
    command = redis["command"]
    assert command[command.index("--appendonly") + 1] == "yes"
    assert "/data" in compose.named_volume_mounts(redis)
    assert redis["healthcheck"]["test"][-2:] == ["redis-cli", "ping"]


def test_vendor_reserves_one_nvidia_gpu(services: dict[str, Any]) -> None:
    devices = services["vendor"]["deploy"]["resources"]["reservations"]["devices"]
    assert devices == [{"driver": "nvidia", "device_ids": ["0"], "capabilities": ["gpu"]}]


def test_the_second_replica_is_the_vendor_on_gpu_1_and_off_alone(
    services: dict[str, Any],
) -> None:
    """vendor-gpu1 waits for docker-compose.replicas.yml (a profile nobody names)."""
    second, vendor = services["vendor-gpu1"], services["vendor"]
    assert second["profiles"] == ["replicas"]
    devices = second["deploy"]["resources"]["reservations"]["devices"]
    assert devices == [{"driver": "nvidia", "device_ids": ["1"], "capabilities": ["gpu"]}]
    assert not second["ports"]
    same = ("image", "build", "command", "environment", "env_file", "volumes", "healthcheck",
            "depends_on", "shm_size")  # fmt: skip
    assert {key: second[key] for key in same} == {key: vendor[key] for key in same}


def test_vendor_healthcheck_asks_readyz_on_its_port(services: dict[str, Any]) -> None:
    healthcheck = services["vendor"]["healthcheck"]
    url = urlparse(healthcheck["test"][-1])
    assert url.path == "/readyz"
    assert url.port == commands.CONTAINER_PORT
    assert "start_period" in healthcheck


def test_vendor_reads_the_checkpoint_vendor_train_writes(services: dict[str, Any]) -> None:
    vendor, train = services["vendor"], services["vendor-train"]
    artifacts = compose.service_environment(vendor)["ARTIFACTS_DIR"]
    assert compose.service_environment(train)["ARTIFACTS_DIR"] == artifacts
    assert compose.named_volume_mounts(vendor)[artifacts] == "model-cache"
    assert compose.named_volume_mounts(train)[artifacts] == "model-cache"
    assert vendor["image"] == train["image"]
    assert compose.depends_on(vendor)["vendor-train"]["condition"] == (
        "service_completed_successfully"
    )
    assert compose.depends_on(vendor)["redis"]["condition"] == "service_healthy"


def test_vendor_settings_come_from_an_optional_ignored_env_file(services: dict[str, Any]) -> None:
    assert services["vendor"]["env_file"] == [{"path": "deploy/vendor.env", "required": False}]
    assert (compose.REPO_ROOT / "deploy/vendor.env.example").is_file()
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", "deploy/vendor.env"], cwd=compose.REPO_ROOT, check=False
    )
    assert ignored.returncode == 0, "deploy/vendor.env must be git-ignored"


def test_no_secret_is_written_into_compose_or_the_examples(services: dict[str, Any]) -> None:
    for name, service in services.items():
        environment = compose.service_environment(service)
        assert "VENDOR_ADMIN_TOKEN" not in environment, name
        assert "VENDOR_API_KEY" not in environment, name
    for example in (compose.REPO_ROOT / "deploy").glob("*.env.example"):
        for line in example.read_text().splitlines():
            if re.match(r"\s*VENDOR_(ADMIN_TOKEN|API_KEY)\s*=", line):
                raise AssertionError(f"{example.name} sets a secret: {line!r}")


def test_the_admin_token_file_is_shared_read_only_after_provisioning(
    services: dict[str, Any],
) -> None:
    token_file = compose.service_environment(services["vendor-train"])["VENDOR_ADMIN_TOKEN_FILE"]
    assert compose.service_environment(services["vendor-train"])["VENDOR_ADMIN_TOKEN_PROVISION"]
    token_dir = token_file.rsplit("/", 1)[0]
    for name in ("vendor", "client"):
        environment = compose.service_environment(services[name])
        assert environment["VENDOR_ADMIN_TOKEN_FILE"] == token_file, name
        assert "VENDOR_ADMIN_TOKEN_PROVISION" not in environment, name
        mount = next(v for v in services[name]["volumes"] if v.split(":")[1] == token_dir)
        assert mount.endswith(":ro"), f"{name} must mount the token read-only"


def test_client_waits_for_a_healthy_vendor(services: dict[str, Any]) -> None:
    client = services["client"]
    assert compose.depends_on(client)["vendor"]["condition"] == "service_healthy"
    url = urlparse(compose.service_environment(client)["VENDOR_URL"])
    assert (url.hostname, url.port) == ("vendor", commands.CONTAINER_PORT)
    assert compose.named_volume_mounts(client)["/app/runs"] == "client-runs"


def test_client_and_vendor_keep_apart_in_redis(services: dict[str, Any]) -> None:
    vendor = compose.service_environment(services["vendor"])
    client = compose.service_environment(services["client"])
    vendor_url, client_url = urlparse(vendor["REDIS_URL"]), urlparse(client["REDIS_URL"])
    assert vendor_url.hostname == client_url.hostname == "redis"
    assert vendor_url.path != client_url.path, "vendor ledger and client cache share a DB"


def test_client_never_mounts_the_vendor_model_cache(services: dict[str, Any]) -> None:
    assert "model-cache" not in compose.named_volume_mounts(services["client"]).values()


def test_every_named_volume_used_is_declared_and_used(model: dict[str, Any]) -> None:
    used = {
        volume
        for service in model["services"].values()
        for volume in compose.named_volume_mounts(service).values()
    }
    assert used == set(model["volumes"])


def test_each_container_runs_the_command_the_local_demo_runs(services: dict[str, Any]) -> None:
    serve = commands.vendor_serve(commands.CONTAINER_HOST, commands.CONTAINER_PORT)
    assert services["vendor"]["command"] == serve
    assert services["vendor-train"]["command"] == commands.VENDOR_TRAIN
    assert services["client"]["command"] == commands.CLIENT_DEMO
    assert serve[: len(commands.VENDOR_SERVE)] == commands.VENDOR_SERVE


def test_vendor_publishes_its_port_on_loopback_only(services: dict[str, Any]) -> None:
    host, _published, target = services["vendor"]["ports"][0].split(":")
    assert host == "127.0.0.1"
    assert int(target) == commands.CONTAINER_PORT
