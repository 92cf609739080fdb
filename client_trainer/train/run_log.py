"""A run's per-step log: `log.jsonl` in its run directory, and TensorBoard events on request.

One JSON object per line (`client_trainer.report.curves` reads them):
- `step`: the run's step over all its stages (a stage's step s is the previous stages' steps
  plus s); `stage` and `stage_step`: the stage and its own step;
- at a training step: `loss` (the global batch's) and the method's loss terms (ADiP `image`
  and `text`, KD `ce` and `kl`), `lr` (and `head_lr` when the head learns at its own rate),
  `images_per_s` (training images per second of training over the last logged window);
- where the source holdout was evaluated: `holdout_acc` and `holdout_loss` (cross-entropy of
  the stage's predictor); at a stage's start and end (`event` start or selected) also what
  model selection chose and the stage's measures (ADiP's alignment).
At a stage's boundary the start line of the next stage has the same `step` as the end of the
previous one: both describe the selected weights the next stage starts from.

The file is created empty when a run starts (a finished run is not run again upstream) and
each window of lines is flushed as it is written. Under torchrun only rank 0 has a log.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import IO, Any

LOG_FILE = "log.jsonl"  # the name client_trainer.report.curves reads
TENSORBOARD_DIR = "tensorboard"


class TensorBoardMissing(ValueError):
    """`--log tensorboard` without the tensorboard package installed."""


def _summary_writer(directory: Path) -> Any:
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as exc:  # torch imports the tensorboard package lazily
        raise TensorBoardMissing(
            "--log tensorboard needs the tensorboard package (pip install tensorboard);"
            " log.jsonl is written either way"
        ) from exc
    return SummaryWriter(log_dir=str(directory / TENSORBOARD_DIR))


class RunLog:
    def __init__(self, directory: Path, tensorboard: bool = False) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / LOG_FILE
        self._writer = _summary_writer(directory) if tensorboard else None
        self._file: IO[str] = self.path.open("w")  # a run starts its log afresh
        self._offset = 0  # steps of the stages before this one
        self._stage = ""

    def begin_stage(self, name: str) -> None:
        self._stage = name

    def end_stage(self, steps: int) -> None:
        self._offset += steps

    def write(self, lines: list[dict[str, Any]]) -> None:
        """Each line's `step` is the stage's own; it is logged as the run's step."""
        for values in lines:
            stage_step = int(values.pop("step"))
            step = self._offset + stage_step
            line = {"step": step, "stage": self._stage, "stage_step": stage_step, **values}
            self._file.write(json.dumps(_finite(line), sort_keys=False) + "\n")
            if self._writer is not None:
                self._scalars(step, values)
        self._file.flush()
        if self._writer is not None:
            self._writer.flush()

    def _scalars(self, step: int, values: dict[str, Any]) -> None:
        assert self._writer is not None
        for key, value in values.items():
            if isinstance(value, int | float) and not isinstance(value, bool):
                if math.isfinite(value):
                    self._writer.add_scalar(f"{self._stage}/{key}", value, step)
            elif isinstance(value, dict):  # measures: {"holdout": cos, ...}
                for name, inner in value.items():
                    if isinstance(inner, int | float) and math.isfinite(inner):
                        self._writer.add_scalar(f"{self._stage}/{key}/{name}", inner, step)

    def close(self) -> None:
        self._file.close()
        if self._writer is not None:
            self._writer.close()

    def __enter__(self) -> RunLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _finite(value: Any) -> Any:
    """NaN and infinities as null: JSON has no spelling for them."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    return value
