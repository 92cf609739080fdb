"""Distillation benchmark (not a test): images/s of the client's real training loop against a
bare forward + backward + Adam loop of the same student, in one process, on the same data.

    PYTHONPATH=. python benchmarks/bench_distill.py [--steps 20] [--rounds 4] [--threads 1]

Setup (no vendor, no download): a DomainBed tree of random PNGs in a temp dir (4 domains x 3
classes, one domain held out as the target), the offline world's student `world_convnet_s`
(random init; registered by importing `client_trainer.students`), image size 32, 32 images per
source domain x 3 source domains = 96 per step; teacher targets are fixed random unit vectors
(`clean` targets policy, the default) and class texts random unit vectors, dimension 128 (the
offline world's CLIP).

Timed, alternated round by round so a noisy neighbour hits them alike:
  bare        the same student architecture (its own copy), its own Adam over the backbone,
              head frozen as in distill; each step: model(batch) -> ADiP loss -> zero_grad ->
              backward -> step, on batches of the training pixels drawn once before timing
              (converted to float once; no augmentation, no data indexing in the timed region)
  loop        `run_stage` with the VL2V-ADiP distill stage from `adip_stages` and a real
              `BatchSource`: per step the seeded domain-balanced draw, the batched augmentation
              (crop + flip + colour jitter + grayscale), the stage loss, Adam; no holdout (so no
              evaluation); its fixed per-stage costs (Adam created, two state_dict copies for
              model selection) are in the time
  loop+eval   the same with the real source holdout and evaluation every `--eval-every` steps
              (plus the initial one), each followed by a state_dict copy when it is the best
The ratio that the target (>= 0.8) is about is loop / bare.
"""

from __future__ import annotations

import argparse
import copy
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from client_trainer.config import RunConfig
from client_trainer.data.splits import TaskSplit, load_task
from client_trainer.methods.base import MethodInputs, TeacherBundle
from client_trainer.methods.vl2v_adip import adip_loss, adip_stages
from client_trainer.students.registry import create_student
from client_trainer.train.batches import BatchSource, TrainTargets
from client_trainer.train.loop import Stage, run_stage, set_trainable
from client_trainer.train.model import StudentModel, build_student_model

DATASET = "BENCH"
DOMAINS = ("a", "b", "c", "d")  # "d" is the target; three source domains
CLASSES = ("x", "y", "z")
DIM = 128  # the offline world's CLIP dimension
TARGET = 0.8


def machine() -> str:
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return f"{platform.machine()}, {os.cpu_count()} cores, load average {load}"


def make_tree(root: Path, per_class: int, size: int) -> None:
    rng = np.random.default_rng(0)
    for domain in DOMAINS:
        for name in CLASSES:
            folder = root / DATASET / domain / name
            folder.mkdir(parents=True)
            for i in range(per_class):
                pixels = rng.integers(0, 256, size=(size, size, 3), dtype=np.uint8)
                Image.fromarray(pixels, "RGB").save(folder / f"{i:03d}.png")


def config(root: Path, size: int, batch: int, eval_every: int) -> RunConfig:
    return RunConfig().with_overrides(
        {
            "data.root": root,
            "data.dataset": DATASET,
            "data.test_domain": DOMAINS[-1],
            "data.image_size": size,
            "student.name": "world_convnet_s",
            "train.batch_per_domain": batch,
            "train.eval_every": eval_every,
            "output.progress": False,
        }
    )


def inputs_for(cfg: RunConfig, task: TaskSplit, steps: int) -> tuple[MethodInputs, torch.Tensor]:
    gen = torch.Generator().manual_seed(1)
    text = F.normalize(torch.randn(len(task.classes), DIM, generator=gen), dim=-1)
    clean = F.normalize(torch.randn(len(task.train), DIM, generator=gen), dim=-1)
    bundle = TeacherBundle(text, TrainTargets("clean", clean=clean))
    cfg = cfg.with_overrides({"train.steps": steps})
    size = cfg.data.image_size
    inputs = MethodInputs(
        task, bundle, cfg, torch.device("cpu"), lambda: create_student(cfg.student, size)
    )
    return inputs, text


class Bare:
    """Forward + backward + Adam over the backbone (head frozen), nothing else."""

    def __init__(
        self, model: StudentModel, task: TaskSplit, inputs: MethodInputs, text: torch.Tensor
    ):
        self.model = model
        params = set_trainable(model, backbone=True, head=False)
        self.optimiser = torch.optim.Adam(params, lr=inputs.config.train.lr)
        self.text, self.lmd = text, inputs.config.train.lmd
        clean = inputs.teacher.train.clean
        assert clean is not None
        gen = torch.Generator().manual_seed(2)
        batch = inputs.config.train.batch_per_domain * len(task.source_domains)
        self.batches = []
        for _ in range(8):
            index = torch.randint(len(task.train), (batch,), generator=gen)
            images = task.train.pixels[index].float() / 255.0
            self.batches.append((images, task.train.labels[index], clean[index]))

    def run(self, steps: int) -> None:
        self.model.train()
        for step in range(steps):
            images, labels, teacher = self.batches[step % len(self.batches)]
            loss = adip_loss(self.model(images), teacher, self.text[labels], self.lmd)
            self.optimiser.zero_grad(set_to_none=True)
            loss.backward()
            self.optimiser.step()


def rate(call: Callable[[], None], images: int) -> float:
    started = time.perf_counter()
    call()
    return images / (time.perf_counter() - started)


def measure(
    inputs: MethodInputs, text: torch.Tensor, steps: int, rounds: int
) -> dict[str, list[float]]:
    task, cfg = inputs.task, inputs.config
    torch.manual_seed(0)
    model = build_student_model(inputs.make_backbone(), DIM)
    bare = Bare(copy.deepcopy(model), task, inputs, text)
    distill: Stage = adip_stages(inputs, text)[1]
    assert distill.name == "distill" and distill.train_backbone and not distill.train_head
    source = BatchSource(
        task.train,
        inputs.teacher.train,
        cfg.train.batch_per_domain,
        cfg.data.image_size,
        0,
        inputs.device,
    )
    no_holdout = task.holdout.subset([])
    per_round = steps * cfg.train.batch_per_domain * len(task.source_domains)

    def loop() -> None:
        run_stage(model, distill, source, no_holdout, eval_every=cfg.train.eval_every)

    def loop_eval() -> None:
        run_stage(model, distill, source, task.holdout, eval_every=cfg.train.eval_every)

    calls = {"bare": lambda: bare.run(steps), "loop": loop, "loop+eval": loop_eval}
    bare.run(2)  # warm-up: allocator, kernels, Adam state, augmentation
    loop()
    out: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(rounds):
        for name, call in calls.items():
            out[name].append(rate(call, per_round))
    return out


def report(threads: int, rates: dict[str, list[float]]) -> None:
    med = {name: statistics.median(r) for name, r in rates.items()}
    print(f"\ntorch threads {threads} ({machine()}), median of {len(rates['bare'])} rounds:")
    for name, r in rates.items():
        print(
            f"  {name:10s} {med[name]:8.1f} images/s ({min(r):.1f}-{max(r):.1f})"
            f"   x bare {med[name] / med['bare']:.2f}"
        )
    ratio = med["loop"] / med["bare"]
    verdict = "met" if ratio >= TARGET else "MISSED"
    print(f"  ratio loop/bare = {ratio:.2f} (target >= {TARGET}: {verdict})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20, help="optimiser steps per timed round")
    parser.add_argument("--rounds", type=int, default=4, help="alternated rounds per measure")
    parser.add_argument("--threads", default="1", help="torch CPU thread counts to measure")
    parser.add_argument("--eval-every", type=int, default=10, help="loop+eval: evaluate every N")
    parser.add_argument("--per-class", type=int, default=20, help="images per class and domain")
    parser.add_argument("--size", type=int, default=32, help="image side")
    parser.add_argument("--batch", type=int, default=32, help="images per source domain per step")
    args = parser.parse_args()
    print(f"machine: {machine()}, torch {torch.__version__}")
    with tempfile.TemporaryDirectory(prefix="bench-distill-") as tmp:
        make_tree(Path(tmp), args.per_class, args.size)
        cfg = config(Path(tmp), args.size, args.batch, args.eval_every)
        task = load_task(cfg.data, cfg.train.seed)
    inputs, text = inputs_for(cfg, task, args.steps)
    print(
        f"data: {len(task.train)} train / {len(task.holdout)} holdout images, "
        f"{len(task.source_domains)} source domains x {args.batch} = "
        f"{args.batch * len(task.source_domains)} per step, {args.size} px; "
        f"{args.steps} steps per round; student world_convnet_s, targets {DIM}-d"
    )
    for threads in (int(t) for t in args.threads.split(",")):
        torch.set_num_threads(threads)
        report(threads, measure(inputs, text, args.steps, args.rounds))


if __name__ == "__main__":
    main()
