"""Research (not a test): with a strong teacher, do steps or learning rate let VL2V-ADiP pass ERM?

Starts the same simulation session as `python -m client_trainer table` (world, teacher,
student, a local vendor, the client's cache) and runs ordinary client runs with the recipe's
config changed in one place each, printing one JSON line per run (ID and OOD accuracy, %).

    PYTHONPATH=. python benchmarks/research/adip_study.py [--out runs/adip_study]
        [--grid steps-lr|data] [--per-class N]   (N images per class and domain; recipe 40)

docs/offline-world.md reports what it measured.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from client_trainer.pipeline import train_run
from client_trainer.simulation import profiles
from client_trainer.simulation.session import SessionConfig, simulation_session

# (method, held-out domain, steps, backbone lr, other overrides); the recipe is 150 @ 5e-5.
GRID: list[tuple[str, str, int, float, dict[str, Any]]] = [
    *((m, d, 600, 5e-5, {}) for d in ("art_painting", "sketch") for m in ("erm", "vl2v-adip")),
    *((m, d, 150, 5e-4, {}) for d in ("art_painting", "sketch") for m in ("erm", "vl2v-adip")),
    ("kd", "art_painting", 600, 5e-5, {}),
    ("kd", "art_painting", 150, 5e-4, {}),
    ("vl2v-adip", "art_painting", 150, 5e-5, {"train.lmd": 1.0}),  # image term only
]
# With --per-class 160 (4x the source images): does more data carry the teacher further?
DATA_GRID: list[tuple[str, str, int, float, dict[str, Any]]] = [
    (m, d, 150, 5e-5, {}) for d in ("art_painting", "sketch") for m in ("erm", "kd", "vl2v-adip")
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("runs/adip_study"))
    parser.add_argument("--grid", choices=("steps-lr", "data"), default="steps-lr")
    parser.add_argument("--per-class", type=int, default=None)
    args = parser.parse_args()
    if args.per_class:
        _task_per_class(args.per_class)
    session = SessionConfig(out_dir=args.out)
    grid = GRID if args.grid == "steps-lr" else DATA_GRID
    with simulation_session(session, print) as s:
        for method, domain, steps, lr, extra in grid:
            started = time.perf_counter()
            name = f"{s.tag}{method}-{domain}-{steps}-{lr:g}" + "".join(
                f"-{k.split('.')[-1]}{v}" for k, v in extra.items()
            )
            overrides = {
                "train.method": method, "data.test_domain": domain, "train.steps": steps,
                "train.lr": lr, "output.run_name": name, **extra,
            }  # fmt: skip
            metrics = train_run(s.base.with_overrides(overrides)).metrics
            row = {
                "method": method, "domain": domain, "steps": steps, "lr": lr, **extra,
                "id_acc": round(100 * metrics["id_acc"], 1),
                "ood_acc": round(100 * metrics["ood_acc"], 1),
                "seconds": round(time.perf_counter() - started, 1),
            }  # fmt: skip
            print(json.dumps(row), flush=True)


def _task_per_class(per_class: int) -> None:
    """The session's client profile with a larger (or smaller) task; nothing else changes."""
    from client_trainer.simulation import session as module

    shipped = module.client_profile

    def profile(name: str) -> profiles.ClientProfile:
        made = shipped(name)
        return replace(made, task=replace(made.task, per_class=per_class))

    module.client_profile = profile  # type: ignore[assignment]


if __name__ == "__main__":
    main()
