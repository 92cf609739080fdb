"""One serving worker per GPU: how many workers `serve` starts, and which device each uses.

`VENDOR_WORKERS=auto` (the default) starts one worker per GPU the process can see, 1 on a
host without one. Worker i runs its model on GPU i (`cuda:i`), so G GPUs serve with G models
side by side rather than G copies on the first GPU. `serve` hands each worker its device and
its index in its environment (VENDOR_DEVICE, VENDOR_WORKER_INDEX); /readyz and /metrics say
them. With more workers than GPUs (VENDOR_WORKERS=N), worker i takes GPU i modulo G. An
explicit VENDOR_DEVICE=cuda:k keeps every worker on GPU k, and cpu keeps them on the CPU.
"""

from __future__ import annotations

from vendor_service.settings import Settings


def gpu_count() -> int:
    """CUDA devices this process can see (0 without CUDA)."""
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def spreads_over_gpus(settings: Settings, gpus: int) -> bool:
    """Whether workers are spread one per GPU: there are GPUs and the device says auto/cuda."""
    return gpus > 0 and settings.device in ("auto", "cuda")


def worker_count(settings: Settings, gpus: int) -> int:
    """VENDOR_WORKERS as a number: auto is one per GPU, or 1."""
    if settings.workers != "auto":
        return int(settings.workers)
    return gpus if spreads_over_gpus(settings, gpus) else 1


def worker_device(settings: Settings, index: int, gpus: int) -> str:
    """The device worker `index` runs its model on: `cuda:<index mod gpus>` when spread over
    GPUs, else VENDOR_DEVICE itself (auto without a GPU is the CPU)."""
    if spreads_over_gpus(settings, gpus):
        return f"cuda:{index % gpus}"
    return "cpu" if settings.device == "auto" else settings.device


def worker_environments(settings: Settings, gpus: int) -> list[dict[str, str]]:
    """What each of `serve`'s workers gets in its environment on top of the shared one."""
    return [
        {"VENDOR_DEVICE": worker_device(settings, i, gpus), "VENDOR_WORKER_INDEX": str(i)}
        for i in range(worker_count(settings, gpus))
    ]


def use_device(device: str) -> None:
    """Make `device` this process's current CUDA device, so that anything allocated on plain
    "cuda" (autocast, a library's .cuda()) lands on this worker's GPU too."""
    if device.startswith("cuda:"):
        import torch

        torch.cuda.set_device(int(device.split(":", 1)[1]))
