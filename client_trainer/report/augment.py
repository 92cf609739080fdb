"""The teacher-consistent augmentation probe in a report: per family, the teacher's mean
cosine between a view and its clean target, and in how many probes the family was kept.

Runs of one held-out domain and seed share one probe (the same images and views), so each
distinct probe counts once, whatever number of methods used it.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Sequence
from typing import Any

from client_trainer.data.augment import FAMILIES
from client_trainer.purchase.augment_probe import NONE
from client_trainer.report.records import Summary

META_KEY = "augment_probe"


def probe_summary(lines: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """Over the distinct probes of `lines` (results.jsonl lines): mean cosine per family and
    how many probes kept it; None when no run probed."""
    probes: dict[str, dict[str, Any]] = {}
    for line in lines:
        probe = (line.get("augment") or {}).get("probe")
        if probe:
            key = json.dumps([line["test_domain"], line["seed"], probe], sort_keys=True)
            probes[key] = probe
    if not probes:
        return None
    found = list(probes.values())
    names = (NONE, *FAMILIES)
    return {
        "probes": len(found),
        "images": sorted({p["images"] for p in found}),
        "thresholds": sorted({p["threshold"] for p in found}),
        "cosines": {f: statistics.fmean(p["cosines"][f] for p in found) for f in names},
        "kept": {f: sum(f in p["kept"] for p in found) for f in FAMILIES},
    }


def augment_section(summary: Summary) -> list[str]:
    probe = summary.meta.get(META_KEY)
    if not probe:
        return []
    count = probe["probes"]
    lines = [
        "## Teacher-consistent augmentation (clean targets)",
        "",
        "| family | teacher cosine, view vs clean target | kept in |",
        "|---|---|---|",
        f"| none (the image at the student's size) | {probe['cosines'][NONE]:.3f} | – |",
    ]
    lines += [f"| {f} | {probe['cosines'][f]:.3f} | {probe['kept'][f]} of {count} |"
              for f in FAMILIES]  # fmt: skip
    images = ", ".join(str(n) for n in probe["images"])
    thresholds = ", ".join(f"{t:g}" for t in probe["thresholds"])
    lines += [
        "",
        f"Mean over {count} probes (one per held-out domain and seed, {images} bought training"
        " images each, one view per family); a teacher-consistent run with clean targets trains"
        f" with the families at or above the threshold ({thresholds}).",
        "",
    ]
    return lines
