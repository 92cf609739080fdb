"""Artefacts cached on disk under a directory named by a hash of the config that made them.

`<root>/<kind>-<hash12>/` holds the artefact's files and a `manifest.json` written last, so a
directory with a manifest is complete; a second call with the same config reuses it. Builders
write into a temporary sibling that is renamed into place, so a crash never leaves a half
artefact that looks finished.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
# bump when a builder's output changes for the same config, so stale caches are not reused
FORMAT_VERSION = 1


def default_root() -> Path:
    """Where artefacts live: $ARTIFACTS_DIR, else ./artifacts."""
    return Path(os.environ.get("ARTIFACTS_DIR", "artifacts"))


def config_dict(config: Any) -> dict[str, Any]:
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        return dataclasses.asdict(config)
    return dict(config)


def config_hash(kind: str, config: Any) -> str:
    """12 hex digits of sha256 over (kind, format version, the config as sorted JSON)."""
    body = json.dumps(
        {"kind": kind, "format": FORMAT_VERSION, "config": config_dict(config)}, sort_keys=True
    )
    return hashlib.sha256(body.encode()).hexdigest()[:12]


def artifact_dir(root: Path, kind: str, config: Any) -> Path:
    return Path(root) / f"{kind}-{config_hash(kind, config)}"


def read_manifest(path: Path) -> dict[str, Any]:
    return dict(json.loads((Path(path) / MANIFEST).read_text()))


def cached(root: Path, kind: str, config: Any, build: Callable[[Path], dict[str, Any]]) -> Path:
    """The artefact directory for (kind, config), building it with `build(tmp_dir)` if absent.

    `build` fills the directory and returns extra manifest fields (counts, metrics).
    """
    final = artifact_dir(root, kind, config)
    if (final / MANIFEST).exists():
        return final
    tmp = final.with_name(f".{final.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    started = time.perf_counter()
    log.info("building %s (first use of this config; cached afterwards)", final.name)
    try:
        extra = build(tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    manifest = {
        "kind": kind,
        "hash": final.name.rsplit("-", 1)[1],
        "format": FORMAT_VERSION,
        "config": config_dict(config),
        "build_seconds": round(time.perf_counter() - started, 2),
        **extra,
    }
    (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True))
    if (final / MANIFEST).exists():  # another process finished first: keep theirs
        shutil.rmtree(tmp, ignore_errors=True)
        return final
    shutil.rmtree(final, ignore_errors=True)
    tmp.rename(final)
    return final
