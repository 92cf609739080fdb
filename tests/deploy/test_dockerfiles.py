"""The images: pinned, unprivileged, secret-free, layered for caching, running our commands."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from client_trainer.simulation import commands
from tests.support import compose
from tests.support.dockerfile import Instruction, parse

DOCKER_DIR = compose.REPO_ROOT / "docker"
VENDOR = DOCKER_DIR / "vendor.Dockerfile"
CLIENT = DOCKER_DIR / "client.Dockerfile"
DOCKERFILES = (VENDOR, CLIENT)
# Each image: the packages it carries, and the ones it must not.
PACKAGES = {
    VENDOR: ({"shared", "vendor_service"}, {"client_trainer"}),
    CLIENT: ({"shared", "client_trainer"}, {"vendor_service"}),
}


def of(path: Path, keyword: str) -> list[Instruction]:
    return [item for item in parse(path) if item.keyword == keyword]


def pyproject_pins() -> dict[str, str]:
    project = tomllib.loads((compose.REPO_ROOT / "pyproject.toml").read_text())["project"]
    pins: dict[str, str] = {}
    for dependency in project["dependencies"]:
        pinned = re.fullmatch(r"([\w-]+)==(\S+)", dependency)
        if pinned:
            pins[pinned.group(1)] = pinned.group(2)
    return pins


def test_every_compose_build_has_its_dockerfile() -> None:
    model = compose.merge(compose.BASE)
    builds = [service["build"] for service in model["services"].values() if "build" in service]
    used = {compose.REPO_ROOT / build["dockerfile"] for build in builds}
    assert used == set(DOCKERFILES)


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda path: path.name)
class TestEachDockerfile:
    def test_base_image_is_a_pinned_slim_python(self, path: Path) -> None:
        (base,) = of(path, "FROM")
        image = base.arguments.split()[0]
        assert "$" not in image, "the base must be written out, not an ARG"
        assert re.fullmatch(r"python:3\.11\.\d+-slim-bookworm", image), image

    def test_runs_as_an_unprivileged_user(self, path: Path) -> None:
        users = of(path, "USER")
        assert users, "no USER: the container would run as root"
        user = users[-1].arguments.split(":")[0]
        assert user not in {"root", "0"}
        instructions = parse(path)
        last_user = max(i for i, item in enumerate(instructions) if item.keyword == "USER")
        assert not any(item.keyword == "RUN" for item in instructions[last_user:]), (
            "RUN after USER: nothing should need root after dropping it"
        )

    def test_torch_is_pinned_exactly_as_in_pyproject(self, path: Path) -> None:
        pins = pyproject_pins()
        text = " ".join(item.arguments for item in of(path, "RUN"))
        for package in ("torch", "torchvision"):
            assert f"{package}=={pins[package]}" in text.split(), package

    def test_installs_the_project_from_pyproject_without_dev_extras(self, path: Path) -> None:
        runs = [item.arguments for item in of(path, "RUN")]
        assert any("pyproject.toml" in run and "pip install -r" in run for run in runs)
        assert any(re.search(r"pip install --no-deps \.(\s|$)", run) for run in runs)
        assert not any("[dev]" in run or ".[" in run for run in runs)

    def test_dependencies_are_installed_before_the_source_is_copied(self, path: Path) -> None:
        instructions = parse(path)
        deps = next(i for i, item in enumerate(instructions) if "pip install -r" in item.arguments)
        source = re.compile(r"\b(shared|vendor_service|client_trainer)\b")
        copies = [
            i
            for i, item in enumerate(instructions)
            if item.keyword == "COPY" and source.search(item.arguments)
        ]
        assert copies and min(copies) > deps

    def test_carries_only_its_own_packages(self, path: Path) -> None:
        wanted, unwanted = PACKAGES[path]
        copied = {item.arguments.split()[-2] for item in of(path, "COPY")}
        assert wanted <= copied
        assert not (unwanted & copied)
        assert not any(item.arguments.split()[0] == "." for item in of(path, "COPY"))

    def test_bakes_in_no_secret(self, path: Path) -> None:
        for item in of(path, "ENV") + of(path, "ARG"):
            assert not re.search(r"TOKEN|SECRET|PASSWORD|API_KEY", item.arguments, re.I), item
        assert not any("vendor.env" in item.arguments for item in of(path, "COPY"))

    def test_declares_stop_signal_and_entrypoint(self, path: Path) -> None:
        assert [item.arguments for item in of(path, "STOPSIGNAL")] == ["SIGTERM"]
        (entrypoint,) = of(path, "ENTRYPOINT")
        assert entrypoint.exec_form() == ["clip-distill-entrypoint"]


def test_vendor_image_runs_serve_exposes_its_port_and_checks_readyz() -> None:
    (cmd,) = of(VENDOR, "CMD")
    assert cmd.exec_form() == commands.vendor_serve(
        commands.CONTAINER_HOST, commands.CONTAINER_PORT
    )
    assert [item.arguments for item in of(VENDOR, "EXPOSE")] == [str(commands.CONTAINER_PORT)]
    (healthcheck,) = of(VENDOR, "HEALTHCHECK")
    assert "--start-period=" in healthcheck.arguments
    assert healthcheck.exec_form()[-1] == f"http://127.0.0.1:{commands.CONTAINER_PORT}/readyz"


def test_client_image_runs_the_demo() -> None:
    (cmd,) = of(CLIENT, "CMD")
    assert cmd.exec_form() == commands.CLIENT_DEMO


def test_client_image_uses_the_cpu_torch_wheel_by_default() -> None:
    args = [item.arguments for item in of(CLIENT, "ARG")]
    assert "TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu" in args


def test_dockerignore_keeps_big_and_secret_paths_out_of_the_context() -> None:
    lines = (compose.REPO_ROOT / ".dockerignore").read_text().splitlines()
    entries = {line.strip().rstrip("/") for line in lines if line.strip() and line[0] != "#"}
    expected = {".git", ".venv", "runs", "artifacts", "**/__pycache__", "deploy/*.env"}
    expected |= {".mypy_cache", ".ruff_cache", ".pytest_cache"}
    assert expected <= entries


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda path: path.name)
def test_the_requirements_step_lists_exactly_the_runtime_dependencies(
    path: Path, tmp_path: Path
) -> None:
    """Run the image's own dependency-extraction shell step on our pyproject.toml."""
    (step,) = [item.arguments for item in of(path, "RUN") if "tomllib" in item.arguments]
    extract = step.split("&&")[0].replace("/tmp/requirements.txt", str(tmp_path / "req.txt"))
    (tmp_path / "pyproject.toml").write_bytes((compose.REPO_ROOT / "pyproject.toml").read_bytes())
    bin_dir = Path(sys.executable).parent
    env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    subprocess.run(["sh", "-c", extract], cwd=tmp_path, env=env, check=True, timeout=30)
    project = tomllib.loads((compose.REPO_ROOT / "pyproject.toml").read_text())["project"]
    listed = (tmp_path / "req.txt").read_text().splitlines()
    assert listed == project["dependencies"]
    assert not any(line.startswith(("pytest", "ruff", "mypy")) for line in listed)


@pytest.mark.parametrize(("path", "service"), [(VENDOR, "vendor"), (CLIENT, "client")])
def test_artifacts_volume_sits_at_the_default_relative_artifacts_dir(
    path: Path, service: str
) -> None:
    """Code that falls back to ./artifacts finds the volume, whatever variable it reads."""
    (workdir,) = of(path, "WORKDIR")
    mounts = compose.named_volume_mounts(compose.merge(compose.BASE)["services"][service])
    environment = compose.service_environment(compose.merge(compose.BASE)["services"][service])
    assert f"{workdir.arguments}/artifacts" in mounts
    assert environment["ARTIFACTS_DIR"] == f"{workdir.arguments}/artifacts"
