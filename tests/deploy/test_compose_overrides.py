"""The CPU and replica overrides, alone and together, as Compose would merge them."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlparse

import pytest

from client_trainer.simulation import commands
from tests.support import compose

NGINX_CONF = compose.REPO_ROOT / "deploy" / "nginx.conf"


def vendor_services(model: dict[str, Any]) -> dict[str, Any]:
    """Every service that runs the vendor's serve command and starts without naming a profile."""
    serve = commands.VENDOR_SERVE
    return {
        name: service
        for name, service in model["services"].items()
        if service.get("command", [])[: len(serve)] == serve and not service.get("profiles")
    }


def gpus(service: dict[str, Any]) -> list[str]:
    """The device ids a service reserves."""
    devices = service.get("deploy", {}).get("resources", {}).get("reservations", {})
    return [i for device in devices.get("devices", []) for i in device.get("device_ids", [])]


def replica_count(service: dict[str, Any]) -> int:
    return int(service.get("scale", service.get("deploy", {}).get("replicas", 1)))


def nginx_conf() -> str:
    """deploy/nginx.conf without its comments."""
    return re.sub(r"#[^\n]*", "", NGINX_CONF.read_text())


def upstream_servers(conf: str) -> list[tuple[str, int]]:
    """(host, port) of every `server` line in the upstream that `proxy_pass` names."""
    proxied = re.search(r"proxy_pass\s+http://([\w.-]+)\s*;", conf)
    assert proxied, "no proxy_pass in nginx.conf"
    block = re.search(r"upstream\s+" + re.escape(proxied.group(1)) + r"\s*\{(.*?)\}", conf, re.S)
    assert block, f"no upstream {proxied.group(1)}"
    found = re.findall(r"^\s*server\s+([\w.-]+):(\d+)", block.group(1), re.M)
    return [(host, int(port)) for host, port in found]


@pytest.fixture(scope="module")
def replicas() -> dict[str, Any]:
    return compose.merge(compose.BASE, compose.REPLICAS)


def test_cpu_override_drops_only_the_gpu_reservation() -> None:
    base = compose.merge(compose.BASE)
    cpu = compose.merge(compose.BASE, compose.CPU)
    for name in ("vendor", "vendor-gpu1"):
        vendor = cpu["services"][name]
        assert "devices" not in vendor["deploy"]["resources"]["reservations"]
        for key in ("command", "healthcheck", "volumes", "environment", "depends_on", "env_file"):
            assert vendor[key] == base["services"][name][key], (name, key)


def test_cpu_override_builds_one_image_for_vendor_and_vendor_train() -> None:
    services = compose.merge(compose.BASE, compose.CPU)["services"]
    vendor, train = services["vendor"], services["vendor-train"]
    assert vendor["image"] == train["image"]
    assert vendor["build"] == train["build"]
    assert "whl/cpu" in vendor["build"]["args"]["TORCH_INDEX_URL"]


def test_every_image_pulled_is_pinned(replicas: dict[str, Any]) -> None:
    for name, service in replicas["services"].items():
        if "build" not in service:
            assert compose.pinned(service["image"]), f"{name}: {service['image']}"


def test_pinned_rejects_floating_tags() -> None:
    for image in ("nginx", "nginx:latest", "redis:alpine", "nginxinc/nginx-unprivileged"):
        assert not compose.pinned(image), image
    assert compose.pinned("nginxinc/nginx-unprivileged:1.27.5-alpine")


def test_replicas_run_two_or_more_vendors(replicas: dict[str, Any]) -> None:
    vendors = vendor_services(replicas)
    assert sum(replica_count(service) for service in vendors.values()) >= 2


def test_each_replica_has_a_gpu_of_its_own(replicas: dict[str, Any]) -> None:
    vendors = vendor_services(replicas)
    assert all(replica_count(service) == 1 for service in vendors.values())  # no shared request
    reserved = [gpus(service) for service in vendors.values()]
    assert all(len(ids) == 1 for ids in reserved), reserved
    assert sorted(ids[0] for ids in reserved) == [str(i) for i in range(len(vendors))]
    text = compose.REPLICAS.read_text()
    assert "first GPU" not in text and "every replica the" not in text


def test_replicas_share_one_redis_ledger(replicas: dict[str, Any]) -> None:
    vendors = vendor_services(replicas).values()
    ledgers = {
        (env["REDIS_URL"], env["VENDOR_REDIS_PREFIX"])
        for env in map(compose.service_environment, vendors)
    }
    assert len(ledgers) == 1


def test_replicas_publish_no_fixed_host_port(replicas: dict[str, Any]) -> None:
    for name, service in vendor_services(replicas).items():
        assert not service.get("ports"), f"{name}: replicas cannot share a host port"


def test_the_load_balancer_routes_to_every_replica(replicas: dict[str, Any]) -> None:
    lb = replicas["services"]["lb"]
    mounted = [v for v in lb["volumes"] if v.split(":")[1] == "/etc/nginx/nginx.conf"]
    assert mounted and (compose.REPO_ROOT / mounted[0].split(":")[0]).resolve() == NGINX_CONF
    servers = upstream_servers(nginx_conf())
    vendors = vendor_services(replicas)
    # A scaled service's name resolves to all of its replicas, so naming it routes to each.
    assert {host for host, _ in servers} == set(vendors)
    assert all(port == commands.CONTAINER_PORT for _, port in servers)
    for name in vendors:
        assert compose.depends_on(lb)[name]["condition"] == "service_healthy"


def test_the_load_balancer_follows_replica_addresses() -> None:
    conf = nginx_conf()
    assert re.search(r"^\s*resolver\s+127\.0\.0\.11\b", conf, re.M)
    assert all(
        "resolve" in line.split() for line in re.findall(r"^\s*server\s+\S+:\d+.*;", conf, re.M)
    )
    assert "non_idempotent" not in conf, "a sent POST must never be replayed on another replica"


def test_the_load_balancer_admits_the_vendors_largest_body() -> None:
    size = re.search(r"client_max_body_size\s+(\d+)m;", nginx_conf())
    assert size
    settings = pytest.importorskip("vendor_service.settings")
    assert int(size.group(1)) << 20 >= settings.Settings.model_fields["max_body_bytes"].default


def test_client_goes_through_the_load_balancer(replicas: dict[str, Any]) -> None:
    client, lb = replicas["services"]["client"], replicas["services"]["lb"]
    url = urlparse(compose.service_environment(client)["VENDOR_URL"])
    listen = re.search(r"^\s*listen\s+(\d+)\s*;", nginx_conf(), re.M)
    assert listen
    assert (url.hostname, url.port) == ("lb", int(listen.group(1)))
    assert int(lb["ports"][0].rsplit(":", 1)[1]) == int(listen.group(1))
    assert compose.depends_on(client)["lb"]["condition"] == "service_healthy"


def test_overrides_combine_in_either_order() -> None:
    one = compose.merge(compose.BASE, compose.CPU, compose.REPLICAS)
    other = compose.merge(compose.BASE, compose.REPLICAS, compose.CPU)
    assert one == other
    vendors = vendor_services(one)
    assert sum(replica_count(service) for service in vendors.values()) >= 2
    for vendor in vendors.values():
        assert "devices" not in vendor["deploy"]["resources"]["reservations"]
