"""`probe-augment`: the teacher-consistent augmentation table of the world or a data set.

Per held-out domain, the probe a teacher-consistent run makes (`purchase.augment_probe`): per
augmentation family, the teacher's mean cosine between a view and its image's clean embedding,
on a seeded sample of that domain's training images. Everything is bought through the
client's cache, so a rerun, and the table runs that probe the same images later, pay nothing.
"""

from __future__ import annotations

import statistics
from pathlib import Path

import orjson
from rich.console import Console
from rich.table import Table

from client_trainer.data.augment import FAMILIES
from client_trainer.data.splits import load_task
from client_trainer.purchase.augment_probe import NONE, PROBE_FILE, AugmentProbe, probe_sample
from client_trainer.purchase.session import TeacherSession
from client_trainer.simulation.demo import DemoConfig, announce, experiment_session
from client_trainer.simulation.jobs import check_domains


def probe_domains(config: DemoConfig) -> dict[str, AugmentProbe]:
    """The probe of each held-out domain of `config` (all when none is named)."""
    probes = {}
    with experiment_session(config) as session:
        for domain in check_domains(config.test_domains, session.domains):
            run = session.base.with_overrides({"data.test_domain": domain})
            task = load_task(run.data, run.train.seed)
            name = f"{session.tag}probe-augment-{domain}-s{run.train.seed}"
            announce(f"augment probe | held-out {domain}: {run.train.augment_probe_images}"
                     f" images x ({len(FAMILIES)} families + none + clean)")  # fmt: skip
            with TeacherSession(run.teacher, name) as teacher:
                probes[domain] = probe_sample(teacher, task.train, run)
    return probes


def write_probes(probes: dict[str, AugmentProbe], out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    path = out / PROBE_FILE
    data = {domain: probe.to_json() for domain, probe in probes.items()}
    path.write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2))
    return path


def print_probes(console: Console, probes: dict[str, AugmentProbe]) -> None:
    """Per family, the cosine per held-out domain, their mean, and whether the threshold
    keeps the family on each domain's probe."""
    threshold = next(iter(probes.values())).threshold
    table = Table(title=f"Teacher cosine, augmented view vs clean image (keep at >= {threshold})")
    for column in ("family", *probes, "mean", "kept"):
        table.add_column(column, justify="left" if column == "family" else "right")
    for family in (NONE, *FAMILIES):
        values = [p.cosines[family] for p in probes.values()]
        kept = "–" if family == NONE else f"{sum(family in p.kept for p in probes.values())}"
        kept += "" if family == NONE else f" of {len(probes)}"
        table.add_row(family, *(f"{v:.3f}" for v in values), f"{statistics.fmean(values):.3f}",
                      kept)  # fmt: skip
    console.print(table)
