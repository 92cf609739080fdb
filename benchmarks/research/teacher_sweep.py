"""Research (not a test): how strong can the world teacher get, and what does each knob buy?

Trains variants of `world-clip` on the recipe's vendor corpus with the shipped loop's recipe
(open_clip's ClipLoss, AdamW, warm-up + cosine, flips and shifts, captions re-drawn each use),
each in its own process, and prints one JSON line per evaluation: 24-way zero-shot ("a photo
of a {class}") per style on the corpus holdout, and 8-way zero-shot per domain on the client's
task images. Meant for a GPU (several variants share it); `DEV=cpu` works, slowly.

    PYTHONPATH=. python benchmarks/research/teacher_sweep.py SWEEP [VARIANT ...]
        SWEEP: width (fp32), bf16 (the shipped architecture), recipe (knobs at 1,200 steps)
        env: DEV=cuda|cpu  PAR=<processes>  ART=<artefact root>  OUT=<folder for sweep.jsonl>
             SMOKE=1 (4 steps each, to check the script)

docs/offline-world.md reports what the three sweeps measured.
"""

from __future__ import annotations

import copy
import json
import math
import os
import sys
import tempfile
import time
from dataclasses import asdict, replace
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np
import open_clip
import torch

from shared.world.captions import CaptionConfig, prompt
from shared.world.config import TASK_CLASSES, TASK_DOMAINS, TASK_STREAM
from shared.world.corpus import build_corpus, load_corpus
from shared.world.render import render
from vendor_service.engine.model_configs import CONFIG_DIR
from vendor_service.vlm.batches import CaptionSampler
from vendor_service.vlm.profiles import vlm_profile

ROOT = Path(os.environ.get("ART", "artifacts"))
OUT = Path(os.environ.get("OUT", "runs/teacher_sweep"))
DEV = os.environ.get("DEV", "cuda")
# The baseline the sweep varies: vision width 16, text width 128, context 16.
BEFORE = {"vw": 16, "tw": 128, "ctx": 16}
SHIPPED = {"vw": 32, "tw": 64, "ctx": 12, "amp": True}
HARD_STYLES = [0.25, 0.25, 0.125, 0.25, 0.125]  # photo, art, cartoon, sketch, line_art
Variant = dict[str, Any]
SWEEPS: dict[str, list[Variant]] = {
    "width": [
        dict(BEFORE, name="base800", steps=800),
        dict(BEFORE, name="s2000", steps=2000),
        dict(BEFORE, name="s6000", steps=6000, evals=[3000]),
        dict(BEFORE, name="lr5e3", steps=2000, lr=5e-3),
        dict(BEFORE, name="vw32", steps=2000, vw=32),
        dict(BEFORE, name="tw64c12", steps=2000, tw=64, ctx=12),
        dict(BEFORE, name="bs128", steps=2000, bs=128),
        dict(BEFORE, name="bs512", steps=2000, bs=512),
        dict(BEFORE, name="p03", steps=2000, p=0.3),
        dict(BEFORE, name="vw32tw64lr5e3", steps=2000, vw=32, tw=64, ctx=12, lr=5e-3),
        dict(BEFORE, name="vl2222", steps=2000, vlayers=[2, 2, 2, 2]),
        dict(BEFORE, name="bs128s6000", steps=6000, bs=128, evals=[3000]),
        dict(BEFORE, name="vw32s6000", steps=6000, vw=32, tw=64, ctx=12, evals=[3000]),
        dict(BEFORE, name="wd0", steps=2000, wd=0.0),
    ],
    "bf16": [
        dict(SHIPPED, name="a1000", steps=1000),
        dict(SHIPPED, name="a1200", steps=1200),
        dict(SHIPPED, name="a1500", steps=1500),
        dict(SHIPPED, name="a2000", steps=2000),
        dict(SHIPPED, name="a1500lr3", steps=1500, lr=3e-3),
        dict(SHIPPED, name="w24s2000", steps=2000, vw=24),
        dict(SHIPPED, name="a1200bs384", steps=1200, bs=384),
        dict(SHIPPED, name="t128s1500", steps=1500, tw=128, ctx=16),
    ],
    "recipe": [
        dict(SHIPPED, name="b1200", steps=1200),
        dict(SHIPPED, name="hard1200", steps=1200, sw=HARD_STYLES),
        dict(SHIPPED, name="lr3e3w100", steps=1200, lr=3e-3, wu=100),
        dict(SHIPPED, name="bs192s1600", steps=1600, bs=192),
        dict(SHIPPED, name="p03c03", steps=1200, p=0.3, cp=0.3),
        dict(SHIPPED, name="wd005", steps=1200, wd=0.05),
        dict(SHIPPED, name="hard1500", steps=1500, sw=HARD_STYLES),
        dict(SHIPPED, name="jit1200", steps=1200, jitter=True),
        dict(SHIPPED, name="lr1e3", steps=1200, lr=1e-3),
        dict(SHIPPED, name="hardp03", steps=1200, sw=HARD_STYLES, p=0.3),
    ],
}


def model_config(v: Variant) -> dict[str, Any]:
    config = copy.deepcopy(json.loads((CONFIG_DIR / "world-clip.json").read_text()))
    config["vision_cfg"].update(width=v["vw"], layers=v.get("vlayers", [1, 1, 1, 1]))
    config["text_cfg"].update(width=v["tw"], heads=max(1, v["tw"] // 32), context_length=v["ctx"])
    return config


def task_arrays(size: int = 32, per_class: int = 40) -> dict[str, np.ndarray]:
    """The client's task images, rendered as `build_task` writes them (without the PNGs)."""
    images, labels, domains = [], [], []
    for d, domain in enumerate(TASK_DOMAINS):
        for c, name in enumerate(TASK_CLASSES):
            for n in range(per_class):
                rng = np.random.default_rng([0, TASK_STREAM, d, c, n])
                images.append(render(name, domain, size, rng).image)
                labels.append(c)
                domains.append(d)
    return {"images": np.stack(images), "labels": np.array(labels), "domains": np.array(domains)}


def normalise(x: torch.Tensor) -> torch.Tensor:
    from open_clip.constants import OPENAI_DATASET_MEAN, OPENAI_DATASET_STD

    mean = torch.tensor(OPENAI_DATASET_MEAN, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(OPENAI_DATASET_STD, device=x.device).view(1, 3, 1, 1)
    return (x.permute(0, 3, 1, 2).float() / 255.0 - mean) / std


def augment(x: torch.Tensor, gen: torch.Generator, jitter: bool) -> torch.Tensor:
    """As the shipped loop: random flips, one random shift of up to 4 px per batch."""
    flip = torch.rand(x.shape[0], generator=gen, device=x.device) < 0.5
    x = torch.where(flip.view(-1, 1, 1, 1), x.flip(3), x)
    size = x.shape[-1]
    padded = torch.nn.functional.pad(x, (4, 4, 4, 4), mode="replicate")
    dx, dy = (int(v) for v in torch.randint(0, 9, (2,), generator=gen, device=x.device))
    x = padded[:, :, dy : dy + size, dx : dx + size]
    if jitter:  # brightness x [0.7, 1.3] per image
        x = x * (1 + (torch.rand(x.shape[0], 1, 1, 1, generator=gen, device=x.device) - 0.5) * 0.6)
    return x


@torch.no_grad()
def zero_shot(
    model: Any, tokenizer: Any, data: tuple[np.ndarray, ...], names: tuple[str, ...],
    classes: tuple[str, ...],
) -> dict[str, float]:  # fmt: skip
    images, labels, groups = data
    model.eval()
    text = model.encode_text(tokenizer([prompt(c) for c in classes]).to(DEV))
    text = torch.nn.functional.normalize(text, dim=-1)
    preds = []
    for s in range(0, len(images), 1000):
        f = model.encode_image(normalise(torch.from_numpy(images[s : s + 1000]).to(DEV)))
        preds.append((torch.nn.functional.normalize(f, dim=-1) @ text.T).argmax(1).cpu().numpy())
    ok = np.concatenate(preds) == labels
    out = {n: round(float(100 * ok[groups == k].mean()), 1) for k, n in enumerate(names)}
    out["all"] = round(float(100 * ok.mean()), 1)
    model.train()
    return out


def corpus_config(v: Variant) -> Any:
    corpus = vlm_profile("full").corpus
    return replace(corpus, style_weights=tuple(v["sw"])) if v.get("sw") else corpus


def lr_at(step: int, v: Variant) -> float:
    lr, warmup, steps = v.get("lr", 2e-3), v.get("wu", 50), v["steps"]
    if step < warmup:
        return float(lr * (step + 1) / warmup)
    return float(lr * 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, steps - warmup))))


def run(v: Variant) -> None:
    torch.manual_seed(0)
    folder, name = Path(tempfile.mkdtemp()), "sweep-" + v["name"]
    (folder / f"{name}.json").write_text(json.dumps(model_config(v)))
    open_clip.add_model_config(folder)
    captions = CaptionConfig(style_word_p=v.get("p", 0.5), colour_word_p=v.get("cp", 0.5))
    corpus = load_corpus(build_corpus(corpus_config(v), ROOT), mmap=False)
    task = np.load(ROOT / "sweep-task.npz")
    model = open_clip.create_model(name).to(DEV)
    tokenizer = open_clip.get_tokenizer(name)
    sampler = CaptionSampler(corpus, captions, tokenizer, 0)
    params, batch = model.parameters(), v.get("bs", 256)
    opt = torch.optim.AdamW(params, lr=v.get("lr", 2e-3), weight_decay=v.get("wd", 0.1), fused=True)
    loss_fn = open_clip.ClipLoss()
    gen, order = torch.Generator(device=DEV).manual_seed(0), np.random.default_rng([0, 1])
    images = torch.from_numpy(corpus.images).to(DEV)
    n_train = len(corpus.labels) - 1000
    hold = np.arange(n_train, len(corpus.labels))
    held = (corpus.images[hold], corpus.labels[hold], corpus.styles[hold])
    task_data = (task["images"], task["labels"], task["domains"])
    started, evals = time.perf_counter(), set(v.get("evals", [])) | {v["steps"]}
    for step in range(v["steps"]):
        for group in opt.param_groups:
            group["lr"] = lr_at(step, v)
        index = np.sort(order.choice(n_train, batch, replace=False))
        x = augment(normalise(images[torch.from_numpy(index).to(DEV)]), gen, v.get("jitter", False))
        with torch.autocast(DEV, dtype=torch.bfloat16, enabled=v.get("amp", False)):
            image_f, text_f, scale = model(x, sampler.tokens(index).to(DEV))[:3]
        loss = loss_fn(image_f.float(), text_f.float(), scale)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step + 1 in evals:
            row = {
                "variant": v, "step": step + 1, "loss": round(loss.item(), 3),
                "sec": round(time.perf_counter() - started, 1),
                "hold": zero_shot(model, tokenizer, held, corpus.style_names, corpus.classes),
                "task": zero_shot(model, tokenizer, task_data, TASK_DOMAINS, TASK_CLASSES),
            }  # fmt: skip
            print(json.dumps(row), flush=True)
            with (OUT / "sweep.jsonl").open("a") as handle:
                handle.write(json.dumps(row) + "\n")


def main() -> None:
    sweep, only = sys.argv[1], sys.argv[2:]
    variants = [v for v in SWEEPS[sweep] if not only or v["name"] in only]
    OUT.mkdir(parents=True, exist_ok=True)
    if os.environ.get("SMOKE"):  # a few steps of each, to check the script itself
        variants = [dict(v, steps=4, wu=2, evals=[]) for v in variants]
    for config in {
        json.dumps(asdict(corpus_config(v))): corpus_config(v) for v in variants
    }.values():
        build_corpus(config, ROOT)
    if not (ROOT / "sweep-task.npz").exists():
        np.savez(ROOT / "sweep-task.npz", **task_arrays())  # type: ignore[arg-type]
    with get_context("spawn").Pool(int(os.environ.get("PAR", 4))) as pool:
        pool.map(run, variants, chunksize=1)


if __name__ == "__main__":
    main()
