"""Rich progress bars for purchases (queries bought, credits spent) and training steps."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from types import TracebackType

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


class RunProgress(AbstractContextManager["RunProgress"]):
    """One display per run; `enabled=False` makes every callback a no-op (tests, scripts)."""

    def __init__(self, enabled: bool) -> None:
        self._progress = (
            Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[info]}"),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
            )
            if enabled
            else None
        )
        self._stages: dict[str, TaskID] = {}
        self._purchases: dict[str, tuple[TaskID, dict[str, int]]] = {}

    def __enter__(self) -> RunProgress:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._progress is not None:
            self._progress.stop()

    def purchase(self, label: str, total: int) -> Callable[[int, int], None]:
        """A tick callback (items delivered, credits spent) for one purchase. Purchases with
        the same label before " (" share one bar (per-step buys one batch per step)."""
        progress = self._progress
        if progress is None:
            return lambda items, cost: None
        name = label.split(" (")[0]
        if name in self._purchases:
            task, state = self._purchases[name]
            progress.update(task, total=(progress.tasks[task].total or 0) + total)
        else:
            task = progress.add_task(f"buy {label}", total=total, info="bought 0, cost 0")
            state = {"items": 0, "cost": 0}
            self._purchases[name] = (task, state)

        def tick(items: int, cost: int) -> None:
            state["items"] += items
            state["cost"] += cost
            info = f"bought {state['items']}, cost {state['cost']}"
            progress.update(task, advance=items, info=info)

        return tick

    def decode(self, total: int) -> Callable[[int], None]:
        """A tick callback (images decoded) for loading a data set."""
        progress = self._progress
        if progress is None:
            return lambda count: None
        task = progress.add_task("decode images", total=total, info="")

        def tick(count: int) -> None:
            progress.update(task, advance=count)

        return tick

    def step(self, stage: str, step: int, steps: int, loss: float) -> None:
        """Training progress callback of `train.loop.run_stage`."""
        progress = self._progress
        if progress is None:
            return
        if stage not in self._stages:
            self._stages[stage] = progress.add_task(stage, total=steps, info="")
        progress.update(self._stages[stage], completed=step, info=f"loss {loss:.4f}")
