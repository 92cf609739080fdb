"""A pool of worker processes that each run jobs one at a time, in their own environment.

Unlike a `ProcessPoolExecutor`, each worker gets its own environment (its GPU: set before the
worker's interpreter starts, and again first thing in it), a failing or
dying worker stops the experiment at once, and an interrupt (Ctrl-C, or SIGTERM turned into
one by the command) terminates every worker before it returns: nothing keeps training after
the command has ended. Workers are spawned, never forked, so no torch state is inherited.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from client_trainer.simulation.devices import CUDA_VISIBLE_DEVICES

Task = Callable[[Any], Any]  # a module-level function: payload -> result (both picklable)
OnResult = Callable[[int, Any], None]  # (job index, result) as each job finishes
POLL_S = 0.5
STOP_GRACE_S = 10.0


class WorkerDied(RuntimeError):
    """A worker process exited without reporting (killed, out of memory, crashed)."""


def _check_cuda_untouched() -> None:
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_initialized():
        raise RuntimeError("CUDA was initialised before the worker chose its GPU")


def _portable(exc: BaseException) -> BaseException:
    """The exception itself when it survives pickling, else a RuntimeError with its text."""
    import pickle

    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:  # noqa: BLE001 - any pickling failure: send its text instead
        return RuntimeError(f"{type(exc).__name__}: {exc}")
    return exc


@contextmanager
def _inherited(environment: dict[str, str]) -> Iterator[None]:
    """`environment` set in this process while a worker is spawned, so the worker starts with
    it (a library that touches CUDA while the worker imports it sees the worker's GPU)."""
    saved = {name: os.environ.get(name) for name in environment}
    os.environ.update(environment)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _worker(task: Task, environment: dict[str, str], jobs: Any, results: Any) -> None:
    os.environ.update(environment)
    if CUDA_VISIBLE_DEVICES in environment:
        _check_cuda_untouched()
    while (job := jobs.get()) is not None:
        index, payload = job
        results.put(("start", index, os.getpid()))
        try:
            results.put(("done", index, task(payload)))
        except Exception as exc:  # noqa: BLE001 - sent to the parent, which raises it
            results.put(("error", index, _portable(exc)))
            return


def run_in_workers(
    task: Task,
    payloads: Sequence[Any],
    environments: Sequence[dict[str, str]],
    on_result: OnResult | None = None,
) -> list[Any]:
    """`task(payload)` for every payload on len(environments) workers; results in order."""
    context = multiprocessing.get_context("spawn")
    jobs, results = context.Queue(), context.Queue()
    workers = [
        context.Process(target=_worker, args=(task, env, jobs, results), daemon=True)
        for env in environments
    ]
    for worker, env in zip(workers, environments, strict=True):
        with _inherited(env):
            worker.start()
    try:
        return _gather(workers, jobs, results, list(payloads), on_result)
    finally:
        _stop(workers)
        jobs.cancel_join_thread()  # jobs nobody will take must not hold up the exit
        jobs.close()
        results.close()


def _gather(
    workers: list[Any], jobs: Any, results: Any, payloads: list[Any], on_result: OnResult | None
) -> list[Any]:
    """Hand out one job per worker, the next as each one finishes (so the job pipe never
    fills), then a stop sign each; collect the results."""
    waiting = iter(enumerate(payloads))
    for _ in workers:
        jobs.put(next(waiting, None))
    found: dict[int, Any] = {}
    while len(found) < len(payloads):
        try:
            kind, index, value = results.get(timeout=POLL_S)
        except queue.Empty:
            _check_alive(workers)
            continue
        if kind == "error":
            raise value
        if kind == "done":
            found[index] = value
            jobs.put(next(waiting, None))
            if on_result is not None:
                on_result(index, value)
    return [found[i] for i in range(len(payloads))]


def _check_alive(workers: list[Any]) -> None:
    for worker in workers:
        if worker.exitcode not in (None, 0):
            raise WorkerDied(f"a worker process died (exit code {worker.exitcode})")
    if all(worker.exitcode is not None for worker in workers):
        raise WorkerDied("every worker process has exited with jobs still unfinished")


def _stop(workers: list[Any]) -> None:
    """SIGTERM to the workers still running, SIGKILL to any that outlive the grace period."""
    for worker in workers:
        if worker.is_alive():
            worker.terminate()
    for worker in workers:
        worker.join(STOP_GRACE_S)
        if worker.is_alive():
            worker.kill()
            worker.join()
