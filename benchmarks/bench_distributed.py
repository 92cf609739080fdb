"""Distributed training benchmark (not a test): images/s of the client's training loop in one
process against N processes under torchrun (DDP; gloo on the CPU, NCCL on CUDA), side by side
in one run, on the micro world.

    PYTHONPATH=. python benchmarks/bench_distributed.py [--nproc 2] [--steps 30] [--rounds 3]
    PYTHONPATH=. python benchmarks/bench_distributed.py --device cuda --nproc <GPUs>

Setup (no vendor): the micro world's task data and pretrained student (`world_convnet_s`),
built or reused under ARTIFACTS_DIR; the VL2V-ADiP distill stage (the backbone trains with
BatchNorm in train mode, so the global-batch statistics are in the time) with `clean` targets
that are fixed random unit vectors (the world CLIP's 128 dimensions); the world recipe's image
size; `--batch` images per source domain per step, the global batch, which N processes share
(each takes batch / N); no holdout evaluation; 1 torch thread per process.

Each round, alternated so a noisy neighbour hits them alike, each in a fresh process:
  1 proc x 1 thread    `python benchmarks/bench_distributed.py --worker`
  1 proc x N threads   the same with N torch threads (the same cores as N processes)
  N procs x 1 thread   `torchrun --standalone --nproc_per_node=N ... --worker`
A worker times `--steps` steps after a warm-up stage of 2 steps (rank 0's wall time between
two barriers) and prints global images per second.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch
import torch.nn.functional as F

from client_trainer.data.splits import load_task
from client_trainer.methods.base import MethodInputs, TeacherBundle, batch_source
from client_trainer.methods.vl2v_adip import adip_stages
from client_trainer.simulation.profiles import client_profile
from client_trainer.simulation.recipe import Recipe, base_config
from client_trainer.simulation.world import prepare_client_world
from client_trainer.students.registry import create_student
from client_trainer.train.batches import TrainTargets
from client_trainer.train.distributed import launched
from client_trainer.train.loop import run_stage
from client_trainer.train.model import build_student_model
from shared.world.artifacts import default_root

REPO_ROOT = Path(__file__).resolve().parents[1]
DIM = 128  # the offline world's CLIP dimension
WARMUP_STEPS = 2


def machine() -> str:
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return f"{platform.machine()}, {os.cpu_count()} cores, load average {load}"


def _inputs(batch: int, device: torch.device) -> MethodInputs:
    profile = client_profile("micro")
    world = prepare_client_world(default_root(), profile)
    recipe = Recipe(image_size=profile.recipe.image_size, batch_per_domain=batch)
    config = base_config(
        recipe, world.data_root, world.dataset, (world.student, world.student_weights), Path()
    ).with_overrides({"output.progress": False, "train.device": device.type})
    task = load_task(config.data, config.train.seed)
    gen = torch.Generator().manual_seed(1)
    text = F.normalize(torch.randn(len(task.classes), DIM, generator=gen), dim=-1)
    clean = F.normalize(torch.randn(len(task.train), DIM, generator=gen), dim=-1)
    bundle = TeacherBundle(text, TrainTargets("clean", clean=clean))
    size = config.data.image_size
    return MethodInputs(task, bundle, config, device, lambda: create_student(config.student, size))


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def worker(args: argparse.Namespace) -> None:
    """Time the distill stage in this process (one rank of a torchrun, or alone)."""
    torch.set_num_threads(args.threads)
    with launched(args.device, args.batch) as ranks:
        inputs = _inputs(args.batch, ranks.device)
        assert inputs.teacher.text is not None
        text = inputs.teacher.text.to(ranks.device)
        torch.manual_seed(0)
        model = build_student_model(inputs.make_backbone(), DIM).to(ranks.device)
        distill = adip_stages(inputs, text)[1]
        source, no_holdout = batch_source(inputs), inputs.task.holdout.subset([])
        warmup = replace(distill, steps=WARMUP_STEPS)
        run_stage(model, warmup, source, no_holdout, eval_every=10**9)
        timed = replace(distill, steps=args.steps)
        _sync(ranks.device)
        ranks.barrier()
        started = time.perf_counter()
        run_stage(model, timed, source, no_holdout, eval_every=10**9)
        _sync(ranks.device)
        ranks.barrier()
        seconds = time.perf_counter() - started
        if ranks.is_main:
            images = args.steps * args.batch * len(inputs.task.source_domains)
            print(json.dumps({"images_per_s": images / seconds, "ranks": ranks.world_size}))


def _worker_argv(args: argparse.Namespace, threads: int) -> list[str]:
    return [
        str(Path(__file__).resolve()), "--worker", "--steps", str(args.steps),
        "--batch", str(args.batch), "--device", args.device, "--threads", str(threads),
    ]  # fmt: skip


def _rate(argv: list[str]) -> float:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    done = subprocess.run(argv, cwd=REPO_ROOT, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed:\n{done.stderr[-3000:]}")
    line = next(line for line in done.stdout.splitlines() if line.startswith("{"))
    return float(json.loads(line)["images_per_s"])


def measure(args: argparse.Namespace) -> dict[str, list[float]]:
    n = args.nproc
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone",
                f"--nproc_per_node={n}"]  # fmt: skip
    contenders = {
        "1 proc x 1 thread": [sys.executable, *_worker_argv(args, 1)],
        f"1 proc x {n} threads": [sys.executable, *_worker_argv(args, n)],
        f"{n} procs x 1 thread": [*torchrun, *_worker_argv(args, 1)],
    }
    if args.device == "cuda":  # one process has one GPU whatever its threads
        del contenders[f"1 proc x {n} threads"]
    rates: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(args.rounds):
        for name, argv in contenders.items():
            rates[name].append(_rate(argv))
    return rates


def report(args: argparse.Namespace, rates: dict[str, list[float]]) -> None:
    med = {name: statistics.median(r) for name, r in rates.items()}
    base = med["1 proc x 1 thread"]
    print(f"\n{machine()}; median of {args.rounds} rounds of {args.steps} steps:")
    for name, r in rates.items():
        print(
            f"  {name:20s} {med[name]:8.1f} images/s ({min(r):.1f}-{max(r):.1f})"
            f"   x 1 proc {med[name] / base:.2f}"
        )
    ddp = med[f"{args.nproc} procs x 1 thread"]
    print(f"  ratio {args.nproc} procs / 1 proc = {ddp / base:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nproc", type=int, default=2, help="processes of the torchrun")
    parser.add_argument("--steps", type=int, default=30, help="timed steps per round")
    parser.add_argument("--rounds", type=int, default=3, help="alternated rounds")
    parser.add_argument("--batch", type=int, default=16, help="images per source domain per step")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--threads", type=int, default=1, help="(worker) torch threads")
    parser.add_argument("--worker", action="store_true", help="time one run (internal)")
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return
    _inputs(args.batch, torch.device("cpu"))  # build the micro world once, before timing
    print(f"machine: {machine()}, torch {torch.__version__}, device {args.device}")
    print(
        f"micro world, world_convnet_s, ADiP distill, global batch {args.batch} per source"
        f" domain, {args.nproc} processes take {args.batch // args.nproc} each"
    )
    report(args, measure(args))


if __name__ == "__main__":
    main()
