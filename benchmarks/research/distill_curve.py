"""Research (not a test): does VL2V-ADiP's distill stage move the student, and when?

On the offline world (the same simulation as `python -m client_trainer table`: world, teacher,
student, a local vendor, the client's cache), runs VL2V-ADiP over a grid of distill steps x
backbone learning rate x student, with one fixed align stage (`--align-steps` at
`--align-lr`), and records per run: OOD and ID accuracy, the step model selection picked in
distill, and cos(P f, I_t) before and after distill on the source holdout and on the held-out
domain (the research hook `train.target_alignment`: recorded, never used for selection).

    PYTHONPATH=. python benchmarks/research/distill_curve.py [--out runs/distill_curve]
        [--steps 150,600,2000,5001] [--lrs 5e-5,2e-4] [--students world_convnet_s,world_convnet_m]
        [--targets clean|per-step|views:K] [--domains art_painting,sketch] [--seed 0]
        [--align-steps 1500] [--align-lr 1e-3] [--batch-per-domain 16] [--eval-every 50]
        [--profile full|micro|paper] [--workers 0]

Writes `curve.csv` and `curve.json` (one row per run) and `curve.png` (held-out alignment and
OOD accuracy against distill steps, one line per student and lr, mean over the held-out
domains) into `--out`; a rerun skips the runs that finished. docs/offline-world.md reports
what it measured.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import statistics
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from client_trainer.simulation import profiles
from client_trainer.simulation.runner import RunSpec, auto_workers, run_specs
from client_trainer.simulation.session import SessionConfig, simulation_session

COLUMNS = (
    "student", "lr", "steps", "targets", "domain", "seed", "ood_acc", "id_acc",
    "distill_selected", "holdout_alignment_before", "holdout_alignment_after",
    "target_alignment_before", "target_alignment_after", "image_queries", "seconds",
)  # fmt: skip


def _floats(text: str) -> list[float]:
    return [float(x) for x in text.split(",") if x]


def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x]


def _names(text: str) -> list[str]:
    return [x for x in text.split(",") if x]


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("runs/distill_curve"))
    parser.add_argument("--steps", type=_ints, default=[150, 600, 2000, 5001])
    parser.add_argument("--lrs", type=_floats, default=[5e-5, 2e-4])
    parser.add_argument("--students", type=_names, default=["world_convnet_s"])
    parser.add_argument("--targets", default="per-step")
    parser.add_argument("--domains", type=_names, default=["art_painting", "sketch"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--align-steps", type=int, default=1500)
    parser.add_argument("--align-lr", type=float, default=1e-3)
    parser.add_argument("--batch-per-domain", type=int, default=None)
    parser.add_argument("--eval-every", type=int, default=None)
    parser.add_argument("--profile", default="full")
    parser.add_argument("--workers", type=int, default=0)
    return parser.parse_args()


@contextmanager
def student_profile(student: str) -> Iterator[None]:
    """The simulation's client profiles with `student` pretrained and fine-tuned instead of
    the profile's own; the runs build the student by the name the world reports."""
    from client_trainer.simulation import session as module

    shipped = module.client_profile

    def profile(name: str) -> profiles.ClientProfile:
        made = shipped(name)
        return replace(made, pretrain=replace(made.pretrain, model_name=student))

    module.client_profile = profile  # type: ignore[assignment]
    try:
        yield
    finally:
        module.client_profile = shipped  # type: ignore[assignment]


def specs(args: argparse.Namespace, tag: str, student: str) -> list[RunSpec]:
    out = []
    for domain in args.domains:
        for lr in args.lrs:
            for steps in args.steps:
                name = f"{tag}{student}-{domain}-{args.targets}-{steps}-{lr:g}-s{args.seed}"
                overrides: dict[str, Any] = {
                    "train.method": "vl2v-adip", "data.test_domain": domain,
                    "teacher.targets": args.targets, "train.seed": args.seed,
                    "train.steps": steps, "train.lr": lr, "train.align_steps": args.align_steps,
                    "train.align_lr": args.align_lr, "train.holdout_alignment": "buy",
                    "train.target_alignment": True, "output.run_name": name.replace(":", "_"),
                }  # fmt: skip
                if args.batch_per_domain:
                    overrides["train.batch_per_domain"] = args.batch_per_domain
                if args.eval_every:
                    overrides["train.eval_every"] = args.eval_every
                label = {"student": student, "domain": domain, "steps": steps, "lr": lr}
                out.append(RunSpec(json.dumps(label), overrides))
    return out


def row(spec: RunSpec, line: dict[str, Any], targets: str, seed: int) -> dict[str, Any]:
    label = json.loads(spec.label)
    distill = next(s for s in line["stages"] if s["name"] == "distill")
    before, after = distill.get("before", {}), distill.get("after", {})
    return {
        **label, "targets": targets, "seed": seed,
        "ood_acc": round(100 * line["ood_acc"], 2), "id_acc": round(100 * line["id_acc"], 2),
        "distill_selected": distill["selected"],
        "holdout_alignment_before": before.get("holdout"),
        "holdout_alignment_after": after.get("holdout"),
        "target_alignment_before": before.get("target"),
        "target_alignment_after": after.get("target"),
        "image_queries": line["image_queries"], "seconds": line["wall_s"],
    }  # fmt: skip


def write(rows: list[dict[str, Any]], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "curve.json").write_text(json.dumps(rows, indent=2))
    with (out / "curve.csv").open("w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    plot(rows, out / "curve.png")


def _mean_over_domains(
    rows: list[dict[str, Any]], key: str
) -> dict[tuple[str, float], list[tuple[int, float]]]:
    grouped: dict[tuple[str, float, int], list[float]] = {}
    for r in rows:
        value = r[key]
        if isinstance(value, int | float) and math.isfinite(value):
            grouped.setdefault((r["student"], r["lr"], r["steps"]), []).append(float(value))
    lines: dict[tuple[str, float], list[tuple[int, float]]] = {}
    for (student, lr, steps), values in sorted(grouped.items()):
        lines.setdefault((student, lr), []).append((steps, statistics.fmean(values)))
    return lines


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [
        ("target_alignment_after", "held-out cos(P f, I_t) after distill"),
        ("ood_acc", "OOD accuracy (%)"),
    ]
    fig, axes = plt.subplots(1, len(panels), figsize=(11, 4))
    for ax, (key, title) in zip(axes, panels, strict=True):
        for (student, lr), points in _mean_over_domains(rows, key).items():
            steps, values = zip(*points, strict=True)
            ax.plot(steps, values, marker="o", label=f"{student} @ {lr:g}")
        ax.set_xscale("log")
        ax.set_xlabel("distill steps")
        ax.set_title(title)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    args = parse()
    rows: list[dict[str, Any]] = []
    for student in args.students:
        with student_profile(student):
            session = SessionConfig(out_dir=args.out, profile=args.profile)
            with simulation_session(session, print) as s:
                grid = specs(args, s.tag, student)
                workers = args.workers or auto_workers(s.base)
                for spec, line in zip(grid, run_specs(s.base, grid, print, workers), strict=True):
                    rows.append(row(spec, line, args.targets, args.seed))
                    print(json.dumps(rows[-1]), flush=True)
    write(rows, args.out)
    print(f"wrote {args.out / 'curve.csv'}, curve.json and curve.png")


if __name__ == "__main__":
    main()
