"""Typed configuration of one client run: data, student, teacher purchase, training, output.

A run config is one `RunConfig`, loadable from a TOML or JSON file whose tables mirror the
sections below (`[data]`, `[student]`, `[teacher]`, `[train]`, `[output]`), and overridable
field by field (the CLI's flags). Every field carries its meaning in `description`.
"""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from client_trainer.target_policy import TargetPolicy

PROMPT_TEMPLATE = "a photo of a {}"
# Extra templates for the optional prompt ensemble (averaged, then renormalised).
ENSEMBLE_TEMPLATES = (
    "a photo of a {}",
    "a drawing of a {}",
    "a painting of a {}",
    "a cartoon of a {}",
    "a sketch of a {}",
    "a picture of a {}",
)


class Flag:
    """The command-line spelling of a field whose name alone is not enough: its option names
    (the first is the main one; "--on/--off" for a bool) and an environment variable that sets
    it. Kept in the field's annotation: `Annotated[Path, Flag("--data-root")]`."""

    def __init__(self, *names: str, envvar: str | None = None) -> None:
        self.names, self.envvar = names, envvar


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DataConfig(_Section):
    root: Annotated[Path, Flag("--data-root")] = Field(
        default=Path("data"), description="Folder holding <DATASET>/<domain>/<class>/<image>."
    )
    dataset: str = Field(default="PACS", description="Data set folder name under the root.")
    test_domain: str | None = Field(
        default=None,
        description="Held-out target domain (OOD test); None = the first domain, sorted.",
    )
    holdout_fraction: float = Field(
        default=0.2,
        ge=0.0,
        lt=1.0,
        description="Seeded share of each source domain kept for ID validation.",
    )
    image_size: int = Field(
        default=64, ge=8, description="Student input side in pixels (224 for real data)."
    )
    max_images_per_domain: Annotated[
        int | None, Flag("--max-images-per-domain", "--max-per-domain")
    ] = Field(
        default=None,
        ge=1,
        description="Keep at most this many images per domain (seeded), for quick runs.",
    )


class StudentConfig(_Section):
    name: Annotated[str, Flag("--student")] = Field(
        default="test_resnet", description="Any timm model name (incl. ones registered later)."
    )
    init: Annotated[Literal["random", "timm", "file"], Flag("--student-init")] = Field(
        default="random",
        description="Weights: random, timm's pretrained (only when already on disk), or a file.",
    )
    weights: Annotated[Path | None, Flag("--student-weights")] = Field(
        default=None, description="Local weight file, used when init = file."
    )
    module: Annotated[str | None, Flag("--student-module")] = Field(
        default=None,
        description="Python module to import first (one that registers timm models).",
    )

    @model_validator(mode="after")
    def _known_student(self) -> StudentConfig:
        from client_trainer.students import check_student  # imports this module

        check_student(self.name, self.module)
        return self


class TeacherConfig(_Section):
    vendor_url: Annotated[str, Flag(envvar="VENDOR_URL")] = Field(
        default="http://127.0.0.1:8000", description="Base URL of the vendor's REST API."
    )
    api_key: Annotated[SecretStr, Flag(envvar="VENDOR_API_KEY")] = Field(
        default=SecretStr(""), description="Bearer API key of the vendor account."
    )
    model: str | None = Field(
        default=None, description="Vendor model id; None = the first in /v1/models."
    )
    targets: TargetPolicy = Field(
        default=TargetPolicy("clean"),
        description="Image targets: clean (one per image), views:K (K cached views), per-step.",
    )
    image_fraction: float = Field(
        default=1.0,
        gt=0,
        le=1,
        description="Share of training images whose targets are bought (seeded subset; clean or"
        " views); the others train on the label terms only.",
    )
    selection: str = Field(
        default="random",
        description="Which images an image_fraction < 1 buys: random, class-balanced, or"
        " k-center (core-set on the pretrained student's features).",
    )
    prompt_ensemble: Annotated[bool, Flag("--prompt-ensemble/--single-prompt")] = Field(
        default=False,
        description="Average the text embeddings of several prompt templates per class.",
    )
    cap: int | None = Field(
        default=None,
        ge=0,
        description="Client-side hard spend cap of this run in credits; None = no cap.",
    )
    max_in_flight: int = Field(
        default=4, ge=1, description="Requests to the vendor in flight at once."
    )
    max_inputs_per_request: Annotated[
        int | None, Flag("--max-inputs-per-request", "--per-request")
    ] = Field(
        default=None,
        ge=1,
        description="Inputs per request; None = the vendor's limit from /v1/models.",
    )
    max_attempts: int = Field(
        default=8, ge=1, description="Attempts per request on 429/503/409/connection."
    )
    timeout_s: float = Field(
        default=60.0, gt=0, description="HTTP timeout of one request in seconds."
    )
    redis_url: Annotated[str | None, Flag(envvar="REDIS_URL")] = Field(
        default=None,
        description="Client cache Redis (redis://..., or redis+cluster://host:port,... for a "
        "Redis Cluster); None = REDIS_URL or embedded.",
    )
    redis_prefix: Annotated[str, Flag(envvar="CLIENT_REDIS_PREFIX")] = Field(
        default_factory=lambda: os.environ.get("CLIENT_REDIS_PREFIX", "client:"),
        description="Key prefix of the client's cache and records.",
    )

    @field_validator("selection")
    @classmethod
    def _known_selection(cls, value: str) -> str:
        from client_trainer.selection import STRATEGIES  # imports this module

        return STRATEGIES.check(value)


class TrainConfig(_Section):
    method: str = Field(
        default="vl2v-adip", description="zero-shot, erm, lp-ft, kd, vl2v-adip-align or vl2v-adip."
    )
    erm_variant: Literal["full", "linear-probe"] = Field(
        default="full", description="ERM: full fine-tune, or a linear probe on a frozen backbone."
    )
    steps: int = Field(default=200, ge=0, description="Optimiser steps per training stage.")
    lr: float = Field(default=5e-5, gt=0, description="Adam learning rate (paper: 5e-5).")
    head_lr: float | None = Field(
        default=None,
        gt=0,
        description="Learning rate of a head trained from scratch: linear probe, ADiP align, and"
        " the new classifier of ERM and KD fine-tunes (backbone at lr); None = lr.",
    )
    weight_decay: float = Field(default=0.0, ge=0, description="Adam weight decay (paper: 0).")
    batch_per_domain: int = Field(
        default=32, ge=1, description="Training images per source domain per step."
    )
    eval_every: int = Field(
        default=50, ge=1, description="Evaluate on the source holdouts every N steps."
    )
    lmd: float = Field(
        default=0.5, ge=0, le=1, description="ADiP weight of the image term (text: 1 - lmd)."
    )
    logit_scale: float = Field(
        default=100.0, gt=0, description="Predict: scale of the cosine logits."
    )
    kd_temperature: float = Field(
        default=0.1, gt=0, description="KD: temperature on the teacher's cosines."
    )
    kd_weight: float = Field(default=1.0, ge=0, description="KD: weight of the KL term next to CE.")
    augment: Literal["standard", "teacher-consistent"] = Field(
        default="standard",
        description="Training augmentation: standard (every family of data.augment), or"
        " teacher-consistent: with clean targets, only the families whose teacher cosine"
        " between a view and its clean image (probed on bought images) is >= augment_threshold.",
    )
    augment_threshold: float = Field(
        default=0.95,
        ge=-1,
        le=1,
        description="teacher-consistent: least mean teacher cosine a family keeps.",
    )
    augment_probe_images: int = Field(
        default=64,
        ge=1,
        description="teacher-consistent: training images probed, one view per family each"
        " (bought and cached like every query).",
    )
    align_steps: int | None = Field(
        default=None,
        ge=0,
        description="VL2V-ADiP: optimiser steps of the align stage (P only); None = steps.",
    )
    align_lr: float | None = Field(
        default=None,
        gt=0,
        description="VL2V-ADiP: learning rate of the align stage; None = head_lr (or lr).",
    )
    freeze_bn: bool = Field(
        default=False,
        description="Keep every BatchNorm layer in eval mode in every stage of every method"
        " (running statistics fixed, affine weights still train), as DomainBed's ResNet does.",
    )
    swad: bool = Field(
        default=False,
        description="Weight averaging in every stage: the loss-valley window (swad_mode valley)"
        " or the later part of the stage (tail).",
    )
    swad_mode: Literal["valley", "tail"] = Field(
        default="tail",
        description="SWAD: valley = Cha et al.'s window on the source-holdout loss (evaluated"
        " every eval_every steps); tail = every step after swad_start.",
    )
    swad_start: float = Field(
        default=0.5, ge=0, lt=1, description="SWAD tail: share of steps before averaging."
    )
    swad_n_converge: int = Field(
        default=3,
        ge=1,
        description="SWAD valley: the window opens at an evaluation whose holdout loss is the"
        " lowest of it and the next n_converge - 1.",
    )
    swad_n_tolerance: int = Field(
        default=6,
        ge=1,
        description="SWAD valley: the window closes before n_tolerance evaluations in a row"
        " above the threshold.",
    )
    swad_tolerance_ratio: float = Field(
        default=0.3,
        ge=0,
        description="SWAD valley: threshold = (1 + ratio) x the mean holdout loss of the"
        " n_converge evaluations that opened the window.",
    )
    holdout_alignment: Literal["cached", "buy", "off"] = Field(
        default="cached",
        description="VL2V-ADiP: source-holdout images on which cos(P f, I_t) is recorded before"
        " and after each stage: cached = those whose clean embedding the client cache holds"
        " (nothing bought), buy = every one (bought and quoted), off.",
    )
    target_alignment: bool = Field(
        default=False,
        description="Research: also record cos(P f, I_t) on the held-out domain's images (as"
        " holdout_alignment gets them); never used for model selection.",
    )
    seed: int = Field(
        default=0, description="Seeds torch, numpy, random, splits, data order, views."
    )
    device: Literal["auto", "cpu", "cuda"] = Field(
        default="auto", description="auto = CUDA when present."
    )
    precision: Literal["auto", "fp32", "bf16"] = Field(
        default="auto",
        description="Training forward precision: auto = bf16 autocast on CUDA and on CPUs"
        " with native bfloat16, else fp32; weights and evaluation stay fp32.",
    )
    threads: int | None = Field(
        default=1,
        ge=1,
        description="torch CPU threads; 1 suits tiny students on a shared machine (a table runs"
        " one process per core); None = all cores.",
    )

    @field_validator("method")
    @classmethod
    def _known_method(cls, value: str) -> str:
        from client_trainer.methods import METHODS  # imports this module

        return METHODS.check(value)

    def align_stage(self) -> tuple[int, float]:
        """VL2V-ADiP's align stage: (steps, lr), its own where set, else `steps` at the head
        rate (`head_lr`, or `lr`)."""
        steps = self.steps if self.align_steps is None else self.align_steps
        return steps, self.align_lr or self.head_lr or self.lr


class OutputConfig(_Section):
    out_dir: Path = Field(default=Path("runs"), description="Parent folder of run directories.")
    run_name: str | None = Field(default=None, description="Run directory and spend-record name.")
    progress: Annotated[bool, Flag("--progress/--quiet")] = Field(
        default=True, description="Show rich progress bars."
    )
    log: Literal["jsonl", "tensorboard"] = Field(
        default="jsonl",
        description="Per-step log of the run directory: log.jsonl always; tensorboard adds"
        " TensorBoard event files (in tensorboard/).",
    )


class RunConfig(_Section):
    data: DataConfig = Field(default_factory=DataConfig)
    student: StudentConfig = Field(default_factory=StudentConfig)
    teacher: TeacherConfig = Field(default_factory=TeacherConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    output: OutputConfig = Field(default_factory=OutputConfig)

    def public_dict(self) -> dict[str, Any]:
        """The exact config as JSON-ready data, with the API key masked."""
        data = self.model_dump(mode="json")
        data["teacher"]["api_key"] = "***" if self.teacher.api_key.get_secret_value() else ""
        return data

    def with_overrides(self, overrides: dict[str, Any]) -> RunConfig:
        """A copy with dotted-path fields replaced: {"train.steps": 10}; None values are skipped."""
        data = self.model_dump()
        data["teacher"]["api_key"] = self.teacher.api_key
        for dotted, value in overrides.items():
            if value is None:
                continue
            section, _, name = dotted.partition(".")
            if section not in data or name not in data[section]:
                raise KeyError(f"unknown config field {dotted!r}")
            data[section][name] = value
        return RunConfig.model_validate(data)


def read_config_file(path: Path) -> dict[str, Any]:
    """The raw tables of a .toml or .json run config file, not yet validated."""
    raw = path.read_bytes()
    data = tomllib.loads(raw.decode()) if path.suffix == ".toml" else json.loads(raw)
    if not isinstance(data, dict):
        raise ValueError(f"{path} holds no tables of a run config")
    return data


def load_config(path: Path | None) -> RunConfig:
    """A RunConfig from a .toml or .json file (tables per section), or the defaults."""
    if path is None:
        return RunConfig()
    return RunConfig.model_validate(read_config_file(path))
