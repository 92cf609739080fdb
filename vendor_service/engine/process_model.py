"""The model in its own process: forward passes that never wait for the server's GIL.

In one process the forward thread gives up the GIL inside every torch op and must win it
back from the event loop and the decoding threads before the next op; under load each op
can wait a whole switch interval, and a small model's forward runs several times slower than
on its own. `ProcessModel` is an `EmbeddingModel` whose encode calls run in a child process
(started with `spawn`, the model built there by the same factory); only the batch goes over
a pipe, as numpy arrays, and image batches through shared-memory slots (`batch_slots`).
Preprocessing stays in the server's decode threads.

Several calls may be in flight at once (one per calling thread): requests go down one pipe in
order, the child answers them in that order, and a reader thread hands each reply to its
caller. So the next batch can wait in the pipe while the child runs the current one, and the
child never idles while the server turns a result into responses and collates the next batch.

If the child dies, the batches in flight fail (503, refunded) and the next call starts a new
child, so a crash costs those batches and a model load, not the service. A child that died
while idle costs no batch.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

import numpy as np
import torch
from PIL import Image

from vendor_service.engine.batch_slots import AttachedSlots, BatchSlots
from vendor_service.engine.model import ModelFactory, ModelInfo
from vendor_service.settings import Settings

log = logging.getLogger(__name__)


class ModelProcessError(RuntimeError):
    """The model process failed to start, died, or its forward raised."""


def _serve(requests: Connection, replies: Connection, settings: Settings,
           factory: ModelFactory) -> None:  # fmt: skip
    """The child's loop: build the model, report its info, then answer encode calls in order."""
    try:
        if settings.torch_threads:
            torch.set_num_threads(settings.torch_threads)
        model = factory(settings)
        replies.send(("ready", model.info, getattr(model, "preprocessor", None)))
    except BaseException as exc:  # noqa: BLE001 - sent to the parent, which refuses to start
        replies.send(("error", f"{type(exc).__name__}: {exc}"))
        return
    slots: AttachedSlots | None = None
    while True:
        try:
            kind, payload = requests.recv()
        except (EOFError, OSError):  # the server went away
            return
        try:
            if kind == "attach":
                slots = AttachedSlots(*payload)
                replies.send(("ok", None))
                continue
            if kind == "slot":
                assert slots is not None, "a slot before the slots were attached"
                out = model.encode_images(slots.rows(*payload))
            elif kind == "images":
                out = model.encode_images(torch.from_numpy(payload))
            else:
                out = model.encode_texts(payload)
            replies.send(("ok", np.ascontiguousarray(out.numpy(), dtype=np.float32)))
        except Exception as exc:  # noqa: BLE001 - sent to the parent: this batch fails (503)
            replies.send(("error", f"{type(exc).__name__}: {exc}"))


@dataclass
class _Child:
    """One model process, its two pipe ends, and the calls it has not answered yet (in order)."""

    process: Any
    requests: Connection
    replies: Connection
    pending: deque[Future[Any]] = field(default_factory=deque)
    alive: bool = True


class ProcessModel:
    """An EmbeddingModel whose forward passes run in a child process."""

    def __init__(
        self, settings: Settings, factory: ModelFactory, shared_memory: bool = True
    ) -> None:
        """`shared_memory=False` sends image batches through the pipe (for comparison)."""
        self._settings, self._factory = settings, factory
        self._lock = threading.Lock()  # guards the child: sends, restarts, death
        self._child: _Child | None = None
        self._slots: BatchSlots | None = None
        self._slots_failed = not shared_memory
        self.info, self.preprocessor = self._start()

    def preprocess(self, image: Image.Image) -> torch.Tensor:
        return self.preprocessor(image)

    def encode_images(self, batch: torch.Tensor) -> torch.Tensor:
        slots = self._slots
        if slots is None or not slots.fits(batch):  # float batches, or no shared memory
            return torch.from_numpy(self.submit("images", np.ascontiguousarray(batch.numpy()))
                                    .result())  # fmt: skip
        index = slots.put(batch)
        try:
            call = self.submit("slot", (index, batch.shape[0]))
        except BaseException:  # never sent (a new child failed to start): the slot is free
            slots.release(index)
            raise
        call.add_done_callback(lambda _: slots.release(index))  # answered: the child is done
        return torch.from_numpy(call.result())

    def encode_texts(self, texts: list[str]) -> torch.Tensor:
        return torch.from_numpy(self.submit("texts", list(texts)).result())

    def submit(self, kind: str, payload: object) -> Future[Any]:
        """Send one call down the pipe; its future resolves when the child answers it."""
        future: Future[Any] = Future()
        with self._lock:
            child = self._child
            if child is None or not child.alive or not child.process.is_alive():
                self._restart()
                child = self._child
            assert child is not None
            child.pending.append(future)
            try:
                child.requests.send((kind, payload))
            except OSError:  # the child is gone; its reader fails this call with the others
                log.debug("sending to the model process failed", exc_info=True)
        return future

    @property
    def pid(self) -> int | None:
        return self._child.process.pid if self._child is not None else None

    def close(self) -> None:
        with self._lock:
            child, self._child = self._child, None
        if child is None:
            return
        child.requests.close()  # the child sees EOF and exits
        child.process.join(timeout=5)
        if child.process.is_alive():
            child.process.kill()
            child.process.join()
        if self._slots is not None:
            self._slots.close()
            self._slots = None

    def _start(self) -> tuple[ModelInfo, Callable[[Image.Image], torch.Tensor]]:
        context = mp.get_context("spawn")
        requests_out, requests_in = context.Pipe(duplex=False)  # (read end, write end)
        replies_out, replies_in = context.Pipe(duplex=False)
        process = context.Process(
            target=_serve, args=(requests_out, replies_in, self._settings, self._factory),
            name="vendor-model", daemon=True,
        )  # fmt: skip
        process.start()
        requests_out.close()
        replies_in.close()
        try:
            reply = replies_out.recv()
        except EOFError:
            reply = ("error", f"the model process exited with code {process.exitcode}")
        if reply[0] != "ready":
            process.join(timeout=5)
            raise ModelProcessError(f"the model process could not start: {reply[1]}")
        if reply[2] is None:
            process.kill()
            raise ModelProcessError("the model has no picklable `preprocessor` to run here")
        try:
            self._attach_slots(requests_in, replies_out, reply[1])
        except ModelProcessError:
            process.kill()
            raise
        child = _Child(process, requests_in, replies_out)
        self._child = child
        threading.Thread(
            target=self._read, args=(child,), name="vendor-model-replies", daemon=True
        ).start()
        log.info("model process %d ready", process.pid)
        return reply[1], reply[2]

    def _attach_slots(self, requests: Connection, replies: Connection, info: ModelInfo) -> None:
        """Give a new child the image slots (made at the first start); on failure, the pipe."""
        if self._slots is None and not self._slots_failed:
            size = info.image_size
            shape = (self._settings.max_batch_size, 3, size, size)
            try:
                self._slots = BatchSlots(self._settings.batches_in_flight, shape)
            except OSError as exc:
                log.warning("no shared memory for image batches (%s); they go through the "
                            "pipe", exc)  # fmt: skip
                self._slots_failed = True
        if self._slots is None:
            return
        try:
            requests.send(("attach", (self._slots.names, self._slots.shape)))
            tag, value = replies.recv()
        except (EOFError, OSError) as exc:
            raise ModelProcessError("the model process died before it was ready") from exc
        if tag != "ok":
            log.warning("the model process cannot attach the image slots (%s); image batches "
                        "go through the pipe", value)  # fmt: skip
            self._slots.close()
            self._slots, self._slots_failed = None, True

    def _read(self, child: _Child) -> None:
        """Hand each reply to the oldest unanswered call; on EOF fail every call in flight."""
        while True:
            try:
                tag, value = child.replies.recv()
            except (EOFError, OSError):
                break
            future = child.pending.popleft()
            if tag == "ok":
                future.set_result(value)
            else:
                future.set_exception(ModelProcessError(value))
        with self._lock:
            child.alive = False
            lost = list(child.pending)
            child.pending.clear()
        child.replies.close()
        if self._child is child:
            log.error("the model process %d died with %d call(s) in flight; the next call "
                      "starts a new one", child.process.pid, len(lost))  # fmt: skip
        for future in lost:
            future.set_exception(ModelProcessError("the model process died during a forward pass"))

    def _restart(self) -> None:
        """Replace a dead child (called with the lock held)."""
        old = self._child
        if old is not None and old.process.is_alive():
            old.process.kill()
        self.info, self.preprocessor = self._start()
