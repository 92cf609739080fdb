"""CUDA variant of benchmarks/bench_distill.py.

Times, on the same device, alternated round by round:
  bare       forward + ADiP loss + backward + Adam over the backbone (head frozen), batches
             pre-drawn and already on the device, under the client's AMP (bf16 autocast on CUDA,
             the same `autocast` the loop uses); no per-step host sync
  loop       the client's real `run_stage` distill stage with a real `BatchSource` (seeded draw
             on the CPU, augmentation on the device, the loss read back every LOSS_EVERY
             steps), no holdout
  loop+eval  the same with the source holdout evaluated every --eval-every steps
  draw       `BatchSource.next()` alone (draw + copy + augmentation), to place the gap
CUDA is synchronised before and after each timed call.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "benchmarks"))

import bench_distill as bd  # noqa: E402

from client_trainer.data.splits import load_task  # noqa: E402
from client_trainer.methods.vl2v_adip import adip_loss, adip_stages  # noqa: E402
from client_trainer.train.batches import BatchSource  # noqa: E402
from client_trainer.train.loop import run_stage, set_trainable  # noqa: E402
from client_trainer.train.model import build_student_model  # noqa: E402
from client_trainer.train.precision import autocast  # noqa: E402


def sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize()


class Bare:
    def __init__(self, model, task, inputs, text, dev: torch.device) -> None:
        self.model, self.dev = model, dev
        params = set_trainable(model, backbone=True, head=False)
        self.optimiser = torch.optim.Adam(params, lr=inputs.config.train.lr)
        self.text, self.lmd = text, inputs.config.train.lmd
        clean = inputs.teacher.train.clean
        gen = torch.Generator().manual_seed(2)
        batch = inputs.config.train.batch_per_domain * len(task.source_domains)
        self.batches = []
        for _ in range(8):
            index = torch.randint(len(task.train), (batch,), generator=gen)
            images = (task.train.pixels[index].float() / 255.0).to(dev)
            self.batches.append((images, task.train.labels[index].to(dev), clean[index].to(dev)))

    def run(self, steps: int) -> None:
        self.model.train()
        for step in range(steps):
            images, labels, teacher = self.batches[step % len(self.batches)]
            with autocast(self.dev, "bf16" if self.dev.type == "cuda" else "fp32"):
                features = self.model.features(images)
                loss = adip_loss(
                    self.model.head(features.float()), teacher, self.text[labels], self.lmd
                )
            self.optimiser.zero_grad(set_to_none=True)
            loss.backward()
            self.optimiser.step()


def rate(call: Callable[[], None], images: int, dev: torch.device) -> float:
    sync(dev)
    started = time.perf_counter()
    call()
    sync(dev)
    return images / (time.perf_counter() - started)


def run_one(
    student: str,
    size: int,
    batch: int,
    steps: int,
    rounds: int,
    eval_every: int,
    per_class: int,
    dev: torch.device,
) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-distill-") as tmp:
        t0 = time.perf_counter()
        bd.make_tree(Path(tmp), per_class, size)
        cfg = bd.config(Path(tmp), size, batch, eval_every)
        cfg = cfg.with_overrides({"student.name": student})
        task = load_task(cfg.data, cfg.train.seed)
        print(f"  data built in {time.perf_counter() - t0:.1f}s")
    inputs, text = bd.inputs_for(cfg, task, steps)
    inputs = dataclasses.replace(inputs, device=dev)
    text = text.to(dev)
    torch.manual_seed(0)
    model = build_student_model(inputs.make_backbone(), bd.DIM).to(dev)
    params = sum(p.numel() for p in model.backbone.parameters())
    print(
        f"  student {student}: {params / 1e6:.2f} M backbone params; {size} px; "
        f"{len(task.source_domains)} x {batch} = {batch * len(task.source_domains)} per step; "
        f"{steps} steps per round, {rounds} rounds; {len(task.train)} train / "
        f"{len(task.holdout)} holdout images"
    )
    bare = Bare(copy.deepcopy(model), task, inputs, text, dev)
    distill = adip_stages(inputs, text)[1]
    assert distill.name == "distill" and distill.train_backbone and not distill.train_head
    source = BatchSource(
        task.train, inputs.teacher.train, cfg.train.batch_per_domain, cfg.data.image_size, 0, dev
    )
    no_holdout = task.holdout.subset([])
    per_round = steps * batch * len(task.source_domains)

    def draw() -> None:
        for _ in range(steps):
            source.next()

    calls = {
        "bare": lambda: bare.run(steps),
        "loop": lambda: run_stage(model, distill, source, no_holdout, eval_every=eval_every),
        "loop+eval": lambda: run_stage(model, distill, source, task.holdout, eval_every=eval_every),
        "draw only": draw,
    }
    t0 = time.perf_counter()
    bare.run(3)
    calls["loop"]()
    sync(dev)
    print(f"  warm-up {time.perf_counter() - t0:.1f}s")
    report(calls, rounds, per_round, dev)


def report(
    calls: dict[str, Callable[[], None]], rounds: int, images: int, dev: torch.device
) -> None:
    """Alternate the calls round by round; print each one's median images/s and its ratio."""
    out: dict[str, list[float]] = {k: [] for k in calls}
    for _ in range(rounds):
        for k, call in calls.items():
            out[k].append(rate(call, images, dev))
    med = {k: statistics.median(v) for k, v in out.items()}
    for k, v in out.items():
        print(
            f"  {k:10s} {med[k]:9.0f} images/s ({min(v):.0f}-{max(v):.0f})  x bare "
            f"{med[k] / med['bare']:.2f}"
        )
    print(f"  ratio loop/bare = {med['loop'] / med['bare']:.2f} (target >= 0.8)")
    if dev.type == "cuda":
        print(f"  peak CUDA memory {torch.cuda.max_memory_allocated() / 2**30:.2f} GiB")
        torch.cuda.reset_peak_memory_stats()


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--device", default="cuda")
    p.add_argument("--students", default="world_convnet_s:32,resnet50:224")
    p.add_argument("--batch", type=int, default=32, help="per source domain (x3 = per step)")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--eval-every", type=int, default=10)
    p.add_argument("--per-class", type=int, default=20)
    p.add_argument("--threads", type=int, default=0, help="0 = os.cpu_count(), as the client")
    a = p.parse_args()
    dev = torch.device(a.device)
    torch.set_num_threads(a.threads or max(1, os.cpu_count() or 1))
    name = torch.cuda.get_device_name() if dev.type == "cuda" else "cpu"
    print(
        f"torch {torch.__version__} on {name}; torch CPU threads {torch.get_num_threads()}; "
        f"cudnn.benchmark {torch.backends.cudnn.benchmark}; "
        f"AMP: {'bf16 autocast' if dev.type == 'cuda' else 'none (cpu)'}"
    )
    for spec in a.students.split(","):
        student, size = spec.split(":")
        print(f"\n== {student} @ {size} px")
        try:
            run_one(student, int(size), a.batch, a.steps, a.rounds, a.eval_every, a.per_class, dev)
        except Exception as exc:  # noqa: BLE001
            import traceback

            traceback.print_exc()
            print(f"  FAILED: {type(exc).__name__}: {exc}")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
