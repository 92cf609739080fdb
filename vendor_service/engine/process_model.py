"""The model in its own process: forward passes that never wait for the server's GIL.

In one process the forward thread gives up the GIL inside every torch op and must win it
back from the event loop and the decoding threads before the next op; under load each op
can wait a whole switch interval, and a small model's forward runs several times slower than
on its own. `ProcessModel` is an `EmbeddingModel` whose encode calls run in a child process
(started with `spawn`, the model built there by the same factory); only the batch goes over
a pipe, as numpy arrays. Preprocessing stays in the server's decode threads.

If the child dies, the batch in flight fails (503, refunded) and the next call starts a new
child, so a crash costs one batch and a model load, not the service.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

import numpy as np
import torch
from PIL import Image

from vendor_service.engine.model import ModelFactory, ModelInfo
from vendor_service.settings import Settings

log = logging.getLogger(__name__)


class ModelProcessError(RuntimeError):
    """The model process failed to start, died, or its forward raised."""


def _serve(conn: Connection, settings: Settings, factory: ModelFactory) -> None:
    """The child's loop: build the model, report its info, then answer encode calls."""
    try:
        if settings.torch_threads:
            torch.set_num_threads(settings.torch_threads)
        model = factory(settings)
        conn.send(("ready", model.info, getattr(model, "preprocessor", None)))
    except BaseException as exc:  # noqa: BLE001 - sent to the parent, which refuses to start
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
        return
    while True:
        try:
            kind, payload = conn.recv()
        except (EOFError, OSError):  # the server went away
            return
        try:
            if kind == "images":
                out = model.encode_images(torch.from_numpy(payload))
            else:
                out = model.encode_texts(payload)
            conn.send(("ok", np.ascontiguousarray(out.numpy(), dtype=np.float32)))
        except Exception as exc:  # noqa: BLE001 - sent to the parent: this batch fails (503)
            conn.send(("error", f"{type(exc).__name__}: {exc}"))


class ProcessModel:
    """An EmbeddingModel whose forward passes run in a child process."""

    def __init__(self, settings: Settings, factory: ModelFactory) -> None:
        self._settings, self._factory = settings, factory
        self._lock = threading.Lock()  # one call on the pipe at a time
        self._process: Any = None
        self._conn: Connection | None = None
        self.info, self.preprocessor = self._start()

    def preprocess(self, image: Image.Image) -> torch.Tensor:
        return self.preprocessor(image)

    def encode_images(self, batch: torch.Tensor) -> torch.Tensor:
        return self._call("images", np.ascontiguousarray(batch.numpy()))

    def encode_texts(self, texts: list[str]) -> torch.Tensor:
        return self._call("texts", list(texts))

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
        if self._process is not None:
            self._process.join(timeout=5)
            if self._process.is_alive():
                self._process.kill()
                self._process.join()

    def _start(self) -> tuple[ModelInfo, Callable[[Image.Image], torch.Tensor]]:
        context = mp.get_context("spawn")
        parent, child = context.Pipe()
        process = context.Process(
            target=_serve, args=(child, self._settings, self._factory),
            name="vendor-model", daemon=True,
        )  # fmt: skip
        process.start()
        child.close()
        try:
            reply = parent.recv()
        except EOFError:
            reply = ("error", f"the model process exited with code {process.exitcode}")
        if reply[0] != "ready":
            process.join(timeout=5)
            raise ModelProcessError(f"the model process could not start: {reply[1]}")
        if reply[2] is None:
            process.kill()
            raise ModelProcessError("the model has no picklable `preprocessor` to run here")
        self._process, self._conn = process, parent
        log.info("model process %d ready", process.pid)
        return reply[1], reply[2]

    def _call(self, kind: str, payload: object) -> torch.Tensor:
        with self._lock:
            if self._conn is None:
                self._restart()
            assert self._conn is not None
            try:
                self._conn.send((kind, payload))
                tag, value = self._conn.recv()
            except (EOFError, OSError) as exc:
                log.error("the model process died (%s); starting a new one", exc)
                self._conn = None
                raise ModelProcessError("the model process died during a forward pass") from exc
        if tag != "ok":
            raise ModelProcessError(value)
        return torch.from_numpy(value)

    def _restart(self) -> None:
        if self._process is not None and self._process.is_alive():
            self._process.kill()
        self.info, self.preprocessor = self._start()
