"""The README's real-data commands (quote, table, collect) on a PACS-like JPEG tree, against a
live vendor serving a checkpoint in OpenAI's own TorchScript format (`-quickgelu` architecture),
with a timm student loaded from a file: the README's set-up with tiny random-weight models.

The micro test runs in the default suite; the full one (`table --methods all --seeds 2`,
killed mid-way and run again) is marked slow.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import timm
import torch
from typer.testing import CliRunner, Result

from client_trainer.cli import app
from tests.support.checkpoint_files import TINY_VIT_QUICKGELU, openai_archive, random_model
from tests.support.live_vendor import REPO_ROOT, LiveVendor, live_vendor
from tests.support.pacs_tree import CLASSES, DATASET, DOMAINS, image_count, make_pacs_tree
from tests.support.redis import delete_prefix

PRICE_IMAGE, PRICE_TEXT = 10, 1  # the vendor's default list prices
TINY_RECIPE = ["--image-size", "32", "--steps", "2", "--batch-per-domain", "2",
               "--eval-every", "1", "--head-lr", "1e-3"]  # fmt: skip


@pytest.fixture(scope="module")
def pacs_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_pacs_tree(tmp_path_factory.mktemp("pacs"))


@pytest.fixture(scope="module")
def vendor(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveVendor]:
    """The README's vendor: `VENDOR_MODEL=<arch>-quickgelu VENDOR_PRETRAINED=<OpenAI's .pt>`."""
    archive = openai_archive(random_model(TINY_VIT_QUICKGELU),
                             tmp_path_factory.mktemp("teacher") / "tiny-ViT.pt")  # fmt: skip
    prefix = f"test:{uuid.uuid4().hex[:12]}:"
    settings = {"VENDOR_MODEL": TINY_VIT_QUICKGELU, "VENDOR_PRETRAINED": str(archive)}
    try:
        with live_vendor(redis_url, prefix, tmp_path_factory.mktemp("vendor"), settings) as up:
            yield up
    finally:
        delete_prefix(redis_url, prefix)


@pytest.fixture(scope="module")
def student_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A timm checkpoint as a user downloads one: the whole model's state dict, classifier
    included (random weights here)."""
    path = tmp_path_factory.mktemp("weights") / "test_resnet.pth"
    torch.manual_seed(0)
    torch.save(timm.create_model("test_resnet").state_dict(), path)
    return path


class Client:
    """`python -m client_trainer ...` pointed at the vendor and the test's Redis prefix, with
    the same data and student flags every command of the README takes: in this process
    (`invoke`, fast) or in a subprocess of its own (`argv`, for signals)."""

    def __init__(self, vendor: LiveVendor, api_key: str, redis_url: str, prefix: str,
                 root: Path, weights: Path) -> None:  # fmt: skip
        self.settings = {"REDIS_URL": redis_url, "CLIENT_REDIS_PREFIX": prefix}
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("VENDOR_", "REDIS_"))},
            "PYTHONPATH": str(REPO_ROOT),
            **self.settings,
        }
        self.common = [
            "--data-root", str(root), "--dataset", DATASET, "--student", "test_resnet",
            "--student-init", "file", "--student-weights", str(weights),
            "--vendor-url", vendor.base_url, "--api-key", api_key, *TINY_RECIPE,
        ]  # fmt: skip

    def args(self, command: str, *flags: str, common: bool = True) -> list[str]:
        return [command, *(self.common if common else []), *flags]

    def argv(self, command: str, *flags: str) -> list[str]:
        return [sys.executable, "-m", "client_trainer", *self.args(command, *flags)]

    def invoke(self, command: str, *flags: str, common: bool = True) -> Result:
        unset: dict[str, str | None] = dict.fromkeys(("VENDOR_URL", "VENDOR_API_KEY"))
        return CliRunner().invoke(app, self.args(command, *flags, common=common),
                                  env={**unset, **self.settings})  # fmt: skip

    def run(self, command: str, *flags: str, common: bool = True) -> str:
        result = self.invoke(command, *flags, common=common)
        assert result.exit_code == 0, result.output[-4000:]
        return result.stdout


@pytest.fixture
def client(
    vendor: LiveVendor, redis_url: str, redis_prefix: str, pacs_root: Path, student_file: Path
) -> Iterator[tuple[Client, str]]:
    key_id, api_key = vendor.create_key(10**7)
    yield Client(vendor, api_key, redis_url, redis_prefix, pacs_root, student_file), key_id


def _results(runs: Path) -> list[dict[str, object]]:
    lines = []
    for path in sorted(runs.rglob("results.jsonl")):
        text = path.read_text().splitlines()
        assert len(text) == 1, f"{path} holds {len(text)} lines: a run ran twice"
        lines.append(json.loads(text[0]))
    return lines


def _quote(client: Client, *axes: str) -> dict[str, int]:
    return dict(json.loads(client.run("quote", *axes).strip().splitlines()[-1]))


@pytest.mark.timeout(300)
def test_quote_table_and_collect_on_a_pacs_tree(
    client: tuple[Client, str], vendor: LiveVendor, tmp_path: Path
) -> None:
    cli, key_id = client
    card = httpx.get(f"{vendor.base_url}/v1/models").json()["data"][0]
    pretrained = card["pretrained"]
    assert (pretrained["name"], pretrained["format"]) == ("tiny-ViT.pt", "torchscript")
    axes = ["--methods", "zero-shot,erm,vl2v-adip", "--test-domains", "photo,sketch"]
    quote = _quote(cli, *axes, "--seeds", "1")
    # zero-shot needs every image of the two held-out tasks, ADiP their training images:
    # together the whole tree, once, and one prompt per class.
    assert (quote["images"], quote["texts"]) == (image_count(), len(CLASSES))
    assert quote["cost"] == image_count() * PRICE_IMAGE + len(CLASSES) * PRICE_TEXT
    assert quote["images_cached"] == 0

    out = tmp_path / "table"
    refused = cli.invoke("table", *axes, "--seeds", "1", "--out", str(out), "--max-cost", "10")
    assert refused.exit_code == 1
    assert "above --max-cost 10" in " ".join(refused.output.split())
    assert vendor.key_info(key_id)["spent"] == 0, "a refused quote bought something"

    cli.run("table", *axes, "--seeds", "1", "--out", str(out), "--workers", "1",
            "--max-cost", str(quote["cost"]))  # fmt: skip
    lines = _results(out / "runs")
    assert sorted((r["row"], r["test_domain"]) for r in lines) == sorted(
        (m, d) for m in ("zero-shot", "erm", "vl2v-adip") for d in ("photo", "sketch")
    )
    assert all(0.0 <= float(r["ood_acc"]) <= 1.0 for r in lines)  # type: ignore[arg-type]
    assert vendor.key_info(key_id)["spent"] == quote["cost"], "paid other than quoted"
    assert _quote(cli, *axes, "--seeds", "1")["cost"] == 0  # all of it is in the cache now

    collected = tmp_path / "collected"
    cli.run("collect", str(out / "runs"), "--out", str(collected), common=False)
    by_table = json.loads((out / "summary.json").read_text())
    by_collect = json.loads((collected / "summary.json").read_text())
    assert by_collect["results"] == by_table["results"]
    assert by_collect["paired_ood"] == by_table["paired_ood"]
    report = (collected / "report.md").read_text()
    assert "| vl2v-adip | erm | 2 |" in report  # paired over (seed 0) x (photo, sketch)
    assert (collected / "methods.png").read_bytes().startswith(b"\x89PNG")


def _count_results(runs: Path) -> int:
    return sum(1 for _ in runs.rglob("results.jsonl")) if runs.is_dir() else 0


def _group_members(pgid: int) -> list[str]:
    """Command lines of the processes of a process group still running (zombies, already
    ended and only waiting for init to reap them, do not count)."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) == pgid and fields[0] != "Z":
                members.append((stat.parent / "cmdline").read_text().replace("\0", " "))
        except (OSError, IndexError, ValueError):
            continue  # ended while we looked
    return members


@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_killed_table_reruns_only_the_missing_runs_and_buys_nothing_twice(
    client: tuple[Client, str], vendor: LiveVendor, tmp_path: Path, stop: signal.Signals
) -> None:
    cli, key_id = client
    out = tmp_path / "table"
    argv = cli.argv("table", "--methods", "all", "--seeds", "2", "--out", str(out),
                    "--workers", "2")  # fmt: skip
    log = tmp_path / "first.log"
    with log.open("wb") as sink:
        first = subprocess.Popen(argv, cwd=REPO_ROOT, env=cli.env, stdout=sink, stderr=sink,
                                 start_new_session=True)  # fmt: skip
    deadline = time.monotonic() + 300
    while _count_results(out / "runs") < 3:
        assert first.poll() is None, log.read_text()[-3000:]
        assert time.monotonic() < deadline, "no run finished in time"
        time.sleep(0.2)
    # SIGTERM to the command alone (its workers are its to stop); Ctrl-C reaches the group.
    if stop == signal.SIGTERM:
        first.send_signal(stop)
    else:
        os.killpg(first.pid, stop)
    assert first.wait(timeout=60) == 130
    assert _group_members(first.pid) == [], "a process of the killed table is still running"
    done_before = _count_results(out / "runs")
    total = len(DOMAINS) * 7 * 2  # --methods all: seven rows (linear probe and align stage too)
    assert 3 <= done_before < total, "killed too late to prove anything"

    second = cli.invoke("table", "--methods", "all", "--seeds", "2", "--out", str(out),
                        "--workers", "2")  # fmt: skip
    assert second.exit_code == 0, second.output[-4000:]
    said = " ".join(second.output.split())
    assert f"{done_before} of {total} runs finished earlier" in said
    lines = _results(out / "runs")  # one line per run: none ran twice
    assert len(lines) == total
    # Every embedding was paid for once, over both commands: the whole tree and the prompts.
    spent = vendor.key_info(key_id)["spent"]
    assert spent == image_count() * PRICE_IMAGE + len(CLASSES) * PRICE_TEXT

    collected = tmp_path / "collected"
    cli.run("collect", str(out / "runs"), "--out", str(collected), common=False)
    summary = json.loads((collected / "summary.json").read_text())
    assert len(summary["results"]) == total
    baselines = {c["baseline"] for c in summary["paired_ood"]}
    assert baselines == {"erm", "lp-ft", "erm [linear-probe]"}
