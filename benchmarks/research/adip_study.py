"""Research (not a test): with a strong teacher, do steps or learning rate let VL2V-ADiP pass ERM?

Starts the same simulation as `python -m client_trainer table` (world, teacher,
student, a local vendor, the client's cache) and runs ordinary client runs with the recipe's
config changed in one place each, printing one JSON line per run (ID and OOD accuracy, %).
ADiP's align stage runs as many steps as its distill stage (`train.align_steps` = steps at the
head rate), not the recipe's converged 1,500: the setting the studies compare.

    PYTHONPATH=. python benchmarks/research/adip_study.py [--out runs/adip_study]
        [--grid steps-lr|data|student|transfer]
        [--per-class N]   (N images per class and domain; 40)
        [--student world_convnet_m]   (the student pretrained and fine-tuned; recipe _s)
        [--workers 0]   (runs side by side, 0 = one per core)

docs/offline-world.md reports what it measured.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from client_trainer.simulation import profiles
from client_trainer.simulation.runner import RunSpec, auto_workers, run_specs
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
# With --student world_convnet_m (5x the parameters): can a larger student absorb the teacher?
STUDENT_GRID: list[tuple[str, str, int, float, dict[str, Any]]] = [
    (m, d, 150, 5e-5, {})
    for d in ("art_painting", "cartoon", "photo", "sketch")
    for m in ("erm", "kd", "vl2v-adip")
]
# With --per-class 250 (PACS-scale: 2,000 images per domain) against the recipe's 40: does
# more source data, with steps that move the backbone, let ERM pass the linear probe on the
# untouched student? (The linear probe trains the head only, on the same images.)
LINEAR_PROBE = {"train.erm_variant": "linear-probe"}
TRANSFER_GRID: list[tuple[str, str, int, float, dict[str, Any]]] = [
    point
    for d in ("art_painting", "cartoon", "photo", "sketch")
    for point in (
        ("erm", d, 150, 5e-5, LINEAR_PROBE), ("erm", d, 1500, 5e-5, LINEAR_PROBE),
        ("erm", d, 150, 5e-5, {}), ("erm", d, 1500, 5e-5, {}),
    )
]  # fmt: skip
GRIDS = {
    "steps-lr": GRID, "data": DATA_GRID, "student": STUDENT_GRID, "transfer": TRANSFER_GRID,
}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("runs/adip_study"))
    parser.add_argument("--grid", choices=tuple(GRIDS), default="steps-lr")
    parser.add_argument("--per-class", type=int, default=None)
    parser.add_argument("--student", default=None)
    parser.add_argument("--workers", type=int, default=0)
    args = parser.parse_args()
    if args.per_class or args.student:
        _change_profile(args.per_class, args.student)
    session = SessionConfig(out_dir=args.out)
    with simulation_session(session, print) as s:
        specs = [_spec(s.tag, *point) for point in GRIDS[args.grid]]
        workers = args.workers or auto_workers(s.base)
        for spec, metrics in zip(specs, run_specs(s.base, specs, print, workers), strict=True):
            row = {
                **json.loads(spec.label),
                "student": metrics["student"],
                "id_acc": round(100 * metrics["id_acc"], 1),
                "ood_acc": round(100 * metrics["ood_acc"], 1),
                "seconds": metrics["wall_s"],
            }
            print(json.dumps(row), flush=True)


def _spec(
    tag: str, method: str, domain: str, steps: int, lr: float, extra: dict[str, Any]
) -> RunSpec:
    name = f"{tag}{method}-{domain}-{steps}-{lr:g}" + "".join(
        f"-{k.split('.')[-1]}{v}" for k, v in extra.items()
    )
    overrides = {
        "train.method": method, "data.test_domain": domain, "train.steps": steps,
        "train.align_steps": steps, "train.lr": lr, "output.run_name": name, **extra,
    }  # fmt: skip
    label = {"method": method, "domain": domain, "steps": steps, "lr": lr, **extra}
    return RunSpec(json.dumps(label), overrides)


def _change_profile(per_class: int | None, student: str | None) -> None:
    """The simulation's client profile with another task size or student; nothing else
    changes. The runs build the student by the name the simulation's world reports, so it
    follows."""
    from client_trainer.simulation import session as module

    shipped = module.client_profile

    def profile(name: str) -> profiles.ClientProfile:
        made = shipped(name)
        task = replace(made.task, per_class=per_class) if per_class else made.task
        pretrain = replace(made.pretrain, model_name=student) if student else made.pretrain
        return replace(made, task=task, pretrain=pretrain)

    module.client_profile = profile  # type: ignore[assignment]


if __name__ == "__main__":
    main()
