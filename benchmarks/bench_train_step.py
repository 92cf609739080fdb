"""Training-step cost on this CPU, side by side in one process (not a test).

  teacher  a narrower world-clip recipe (vision width 16, text 128/ctx 16, fp32, AdamW loop)
           against the shipped one (width 32, text 64/ctx 12, bf16 autocast + channels-last,
           fused AdamW), batch 256 at 32 px
  student  world_convnet_s fp32 against bf16 autocast + channels-last, batches 48 and 128

Rounds alternate the two sides, so load that comes and goes hits both; prints the medians
and their ratio.

    PYTHONPATH=. python benchmarks/bench_train_step.py [--rounds 8]
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import open_clip
import timm
import torch

import client_trainer.students  # noqa: F401  (registers world_convnet_s with timm)
from vendor_service.engine.model_configs import CONFIG_DIR

Step = Callable[[], None]


def _clip(name: str, vision_width: int, text_width: int, context: int) -> torch.nn.Module:
    config = copy.deepcopy(json.loads((CONFIG_DIR / "world-clip.json").read_text()))
    config["vision_cfg"]["width"] = vision_width
    config["text_cfg"].update(width=text_width, heads=text_width // 32, context_length=context)
    folder = Path(tempfile.mkdtemp())
    (folder / f"{name}.json").write_text(json.dumps(config))
    open_clip.add_model_config(folder)
    return open_clip.create_model(name)


def teacher_steps() -> tuple[Step, Step]:
    loss_fn = open_clip.ClipLoss()
    old = _clip("step-old", 16, 128, 16)
    new = _clip("step-new", 32, 64, 12).to(memory_format=torch.channels_last)
    old_opt = torch.optim.AdamW(old.parameters(), lr=1e-3, weight_decay=0.1)
    new_opt = torch.optim.AdamW(new.parameters(), lr=1e-3, weight_decay=0.1, fused=True)
    x = torch.randn(256, 3, 32, 32)
    x_last = x.contiguous(memory_format=torch.channels_last)
    tokens = torch.randint(1, 49000, (256, 16))

    def step_old() -> None:
        image, text, scale = old(x, tokens)[:3]
        loss = loss_fn(image, text, scale)
        old_opt.zero_grad()
        loss.backward()
        old_opt.step()

    def step_new() -> None:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            image, text, scale = new(x_last, tokens[:, :12])[:3]
        loss = loss_fn(image.float(), text.float(), scale)
        new_opt.zero_grad()
        loss.backward()
        new_opt.step()

    return step_old, step_new


def student_steps(batch: int) -> tuple[Step, Step]:
    fp32 = timm.create_model("world_convnet_s", num_classes=8)
    bf16 = timm.create_model("world_convnet_s", num_classes=8).to(memory_format=torch.channels_last)
    opt32, opt16 = torch.optim.Adam(fp32.parameters(), 1e-4), torch.optim.Adam(bf16.parameters())
    x, y = torch.randn(batch, 3, 32, 32), torch.randint(0, 8, (batch,))
    x_last = x.contiguous(memory_format=torch.channels_last)

    def step32() -> None:
        loss = torch.nn.functional.cross_entropy(fp32(x), y)
        opt32.zero_grad()
        loss.backward()
        opt32.step()

    def step16() -> None:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = bf16(x_last)
        loss = torch.nn.functional.cross_entropy(out.float(), y)
        opt16.zero_grad()
        loss.backward()
        opt16.step()

    return step32, step16


def side_by_side(label: str, a: Step, b: Step, rounds: int, per_round: int = 3) -> None:
    a(), b()
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(rounds):
        for side, step in zip(times, (a, b), strict=True):
            started = time.perf_counter()
            for _ in range(per_round):
                step()
            side.append((time.perf_counter() - started) / per_round)
    first, second = statistics.median(times[0]), statistics.median(times[1])
    print(
        f"{label:44s} {1000 * first:7.0f} ms {1000 * second:7.0f} ms   ratio {second / first:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch threads {args.threads}; medians of {args.rounds} alternating rounds")
    print(f"{'':44s} {'before':>10s} {'after':>10s}")
    side_by_side("teacher step (old fp32 -> shipped bf16)", *teacher_steps(), args.rounds)
    for batch in (48, 128):
        side_by_side(f"student step, batch {batch} (fp32 -> bf16+cl)", *student_steps(batch),
                     args.rounds)  # fmt: skip


if __name__ == "__main__":
    main()
