"""Vendor model on CUDA: encode_images images/s per precision and batch size, and how closely
fp16/bf16 embeddings agree with fp32 ones."""

from __future__ import annotations

import argparse
import sys
import time

import torch
import torch.nn.functional as F

from vendor_service.engine.open_clip_model import OpenClipModel
from vendor_service.settings import Settings

TOKEN = "gpu-check-admin-token-0123456789"


def sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize()


def rate(model: OpenClipModel, x: torch.Tensor, seconds: float) -> float:
    for _ in range(3):
        model.encode_images(x)
    sync(model.device)
    n, started = 0, time.perf_counter()
    while True:
        model.encode_images(x)  # returns a CPU tensor: includes the device->host copy
        n += 1
        if n >= 3 and time.perf_counter() - started > seconds:
            break
    sync(model.device)
    return n * len(x) / (time.perf_counter() - started)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--device", default="cuda")
    p.add_argument("--models", default="bench-clip-64,ViT-B-16")
    p.add_argument("--batches", default="32,256")
    p.add_argument("--precisions", default="fp32,fp16,bf16")
    p.add_argument("--seconds", type=float, default=1.5)
    a = p.parse_args()
    print(
        f"torch {torch.__version__}, cuda {torch.version.cuda}, "
        f"device {torch.cuda.get_device_name() if torch.cuda.is_available() else 'none'}, "
        f"tf32 matmul {torch.backends.cuda.matmul.allow_tf32}, "
        f"cudnn tf32 {torch.backends.cudnn.allow_tf32}"
    )
    batches = [int(b) for b in a.batches.split(",")]
    for name in a.models.split(","):
        print(f"\n== model {name}")
        ref_state = None
        ref_out: torch.Tensor | None = None
        gen = torch.Generator().manual_seed(0)
        started = time.perf_counter()
        for prec in a.precisions.split(","):
            try:
                m = OpenClipModel(
                    Settings(
                        admin_token=TOKEN,
                        model=name,
                        pretrained="random",
                        device=a.device,
                        precision=prec,
                        rate_limit_requests="",
                        rate_limit_items="",
                    )
                )
            except Exception as exc:  # noqa: BLE001
                print(f"  {prec}: FAILED to build: {type(exc).__name__}: {exc}")
                continue
            if ref_state is None:
                ref_state = {k: v.detach().clone() for k, v in m.model.state_dict().items()}
                size = m.info.image_size
                params = sum(p.numel() for p in m.model.visual.parameters())
                print(
                    f"  image_size {size}, embedding_dim {m.info.embedding_dim}, visual params "
                    f"{params / 1e6:.1f} M, built in {time.perf_counter() - started:.1f}s"
                )
                x_cpu = torch.randn(max(batches), 3, size, size, generator=gen)
            else:
                same = all(torch.equal(v, ref_state[k]) for k, v in m.model.state_dict().items())
                if not same:
                    m.model.load_state_dict(ref_state)
                print(f"  {prec}: same seeded weights as fp32 without copying: {same}")
            print(f"  {prec}: autocast dtype {m.autocast_dtype}, model device {m.device}")
            for b in batches:
                xb = x_cpu[:b]
                r_cpu = rate(m, xb, a.seconds)
                r_dev = rate(m, xb.to(m.device), a.seconds)
                print(
                    f"  {prec:5s} batch {b:4d}: {r_cpu:9.0f} images/s (CPU input, as served)"
                    f"  {r_dev:9.0f} images/s (input already on {m.device.type})"
                )
            out = m.encode_images(x_cpu)
            assert out.dtype == torch.float32 and out.device.type == "cpu"
            norms = out.norm(dim=-1)
            print(
                f"  {prec}: output norms {norms.min():.4f}..{norms.max():.4f}, finite "
                f"{bool(torch.isfinite(out).all())}"
            )
            if ref_out is None:
                ref_out = out
            else:
                cos = F.cosine_similarity(out, ref_out, dim=-1)
                print(
                    f"  {prec} vs fp32 cosine over {len(cos)} images: min {cos.min():.6f} "
                    f"mean {cos.mean():.6f}; max |diff| {(out - ref_out).abs().max():.4f}"
                )
            del m
            if a.device == "cuda":
                torch.cuda.empty_cache()
    sys.stdout.flush()


if __name__ == "__main__":
    main()
