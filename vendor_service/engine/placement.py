"""Where forward passes run: in a thread of the server, or in a model process of their own."""

from __future__ import annotations

import logging
import pickle

from vendor_service.engine.devices import gpu_count, worker_count
from vendor_service.engine.model import EmbeddingModel, ModelFactory
from vendor_service.engine.open_clip_model import pick_device
from vendor_service.settings import Settings

log = logging.getLogger(__name__)


def open_clip_factory(settings: Settings) -> EmbeddingModel:
    """The real model; a module-level function, so a model process can be sent it."""
    from vendor_service.engine.open_clip_model import OpenClipModel

    return OpenClipModel(settings)


def build_model(factory: ModelFactory, settings: Settings) -> EmbeddingModel:
    """The model in this process, or behind a child process (VENDOR_INFERENCE_PROCESS)."""
    if not forward_in_child(settings, factory):
        return factory(settings)
    from vendor_service.engine.process_model import ProcessModel

    return ProcessModel(settings, factory)


def forward_in_child(settings: Settings, factory: ModelFactory | None = None) -> bool:
    """VENDOR_INFERENCE_PROCESS, with `auto` resolved: a child process on CPU with one worker,
    if the model factory can be sent to one (a factory defined in a function cannot)."""
    if settings.inference_process != "auto":
        return settings.inference_process
    if worker_count(settings, gpu_count()) != 1 or pick_device(settings.device).type != "cpu":
        return False
    if factory is not None and not _picklable(factory):
        log.info("the model factory %r cannot go to a model process; forward passes run in a "
                 "thread (VENDOR_INFERENCE_PROCESS=auto)", factory)  # fmt: skip
        return False
    return True


def batches_in_flight(model: EmbeddingModel, settings: Settings) -> int:
    """VENDOR_BATCHES_IN_FLIGHT in front of a model process; 1 for a forward in a thread."""
    from vendor_service.engine.process_model import ProcessModel

    return settings.batches_in_flight if isinstance(model, ProcessModel) else 1


def _picklable(value: object) -> bool:
    try:
        pickle.dumps(value)
    except Exception:  # noqa: BLE001 - pickling a closure raises AttributeError, PicklingError...
        return False
    return True
