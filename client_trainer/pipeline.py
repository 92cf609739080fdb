"""The library functions behind the CLI: buy, train, evaluate. Tests call these directly."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx

from client_trainer.config import RunConfig
from client_trainer.data.augment import FAMILIES
from client_trainer.data.domainbed import scan_dataset
from client_trainer.data.images import ImageSet
from client_trainer.data.splits import TaskSplit, load_task
from client_trainer.methods import MethodInputs, MethodOutcome, get_method, text_logits
from client_trainer.methods.base import TeacherBundle
from client_trainer.progress import RunProgress
from client_trainer.purchase.augment_probe import PROBE_FILE
from client_trainer.purchase.distributed import buy_once
from client_trainer.purchase.session import TeacherSession
from client_trainer.purchase.tracker import SpendRecord
from client_trainer.report.results import append_result, card_prices, result_line
from client_trainer.runs import CHECKPOINT_FILE, default_run_name, run_dir, write_metrics
from client_trainer.students.registry import create_student
from client_trainer.train.batches import TrainTargets
from client_trainer.train.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from client_trainer.train.device import pick_device, seed_everything, set_threads
from client_trainer.train.distributed import Ranks, launched
from client_trainer.train.evaluate import accuracy, eval_features
from client_trainer.train.precision import resolve_precision
from client_trainer.train.run_log import RunLog


@dataclass(frozen=True)
class BuyReport:
    run_name: str
    images: int  # image embeddings the job needs
    texts: int  # text embeddings the job needs
    spend: SpendRecord  # what this run name has bought so far, over every process that ran it


def buy_embeddings(
    config: RunConfig, transport: httpx.AsyncBaseTransport | None = None
) -> BuyReport:
    """Pre-purchase the class prompts and one clean embedding per image of every domain
    (or, with `views:K`, the views of the training images of the configured split)."""
    policy = config.teacher.targets
    if policy.kind == "per-step":
        raise ValueError("per-step targets are bought during training; buy clean or views:K")
    name = config.output.run_name or f"buy-{config.data.dataset}-{policy}"
    index = scan_dataset(config.data.root, config.data.dataset)
    with (
        RunProgress(config.output.progress) as progress,
        TeacherSession(config.teacher, name, progress.purchase, transport) as session,
    ):
        session.texts(index.classes, config.teacher.prompt_ensemble)
        texts = len(index.classes)
        if policy.kind == "clean":
            session.images(index.paths, "images")
            images = len(index.paths)
        else:
            task = load_task(config.data, config.train.seed)
            views, _ = session.views(
                task.train, policy.views, config.train.seed, config.data.image_size
            )
            images = views.shape[0] * views.shape[1]
        return BuyReport(name, images, texts, session.record())


def augment_record(config: RunConfig, targets: TrainTargets) -> dict[str, Any]:
    """The run's augmentation: the setting, the families its steps applied, and with
    teacher-consistent clean targets the probe's per-family table that chose them."""
    return {
        "setting": config.train.augment,
        "families": [f for f in FAMILIES if f in targets.families],
        "probe": targets.probe,
    }


def _metrics(
    config: RunConfig,
    task: TaskSplit,
    outcome: MethodOutcome,
    spend: SpendRecord,
    wall: float,
    targets: TrainTargets,
) -> dict[str, Any]:
    return {
        "method": config.train.method,
        "test_domain": task.test_domain,
        "source_domains": list(task.source_domains),
        "seed": config.train.seed,
        "student": config.student.name,
        "targets": str(config.teacher.targets),
        "precision": resolve_precision(config.train.precision, pick_device(config.train.device)),
        "id_acc": outcome.id_acc,
        "ood_acc": outcome.ood_acc,
        "image_queries": spend.images,
        "text_queries": spend.texts,
        "cache_hits": spend.cache_hits,
        "image_cache_hits": spend.image_hits,
        "text_cache_hits": spend.text_hits,
        "cost": spend.cost,
        "requests": spend.requests,
        "wall_s": round(wall, 3),
        "sizes": {
            "train": len(task.train),
            "holdout": len(task.holdout),
            "target": len(task.target),
        },
        "stages": [asdict(s) for s in outcome.stages],
        "augment": augment_record(config, targets),
        "config": config.public_dict(),
    }


@dataclass(frozen=True)
class RunResult:
    directory: Path
    metrics: dict[str, Any]


def _run_method(
    config: RunConfig,
    task: TaskSplit,
    progress: RunProgress,
    session: TeacherSession | None,
    ranks: Ranks,
    log: RunLog | None,
) -> tuple[MethodOutcome, TeacherBundle]:
    method = get_method(config.train.method)
    bundle = (
        buy_once(session, task, method.needs, config, ranks)  # under torchrun: rank 0 buys
        if session is not None
        else TeacherBundle(None, TrainTargets("none"))
    )
    seed_everything(ranks.seed(config.train.seed))
    device = ranks.device
    inputs = MethodInputs(
        task,
        bundle,
        config,
        device,
        lambda: create_student(config.student, config.data.image_size),
        progress.step,
        resolve_precision(config.train.precision, device),
        log,
    )
    return method.run(inputs), bundle


@contextmanager
def _run_log(config: RunConfig, name: str, ranks: Ranks) -> Iterator[RunLog | None]:
    """The run's per-step log in its run directory, started afresh; rank 0 alone writes."""
    if not ranks.is_main:
        yield None
        return
    with RunLog(config.output.out_dir / name, config.output.log == "tensorboard") as log:
        yield log


def train_run(config: RunConfig, transport: httpx.AsyncBaseTransport | None = None) -> RunResult:
    """Buy what the method needs, train, select on the source holdouts, evaluate on the
    target, and write `metrics.json` (+ `checkpoint.pt` when a student was trained), then
    append the run's line to `results.jsonl`.

    Under torchrun every rank trains its share of each batch and rank 0 alone buys up front,
    evaluates and writes (client_trainer.train.distributed)."""
    with launched(config.train.device, config.train.batch_per_domain) as ranks:
        return _train_run(config, transport, ranks)


def _train_run(
    config: RunConfig, transport: httpx.AsyncBaseTransport | None, ranks: Ranks
) -> RunResult:
    started = time.perf_counter()
    set_threads(config.train.threads)
    needs = get_method(config.train.method).needs
    uses_teacher = needs.text or needs.train_images or needs.eval_images
    with RunProgress(config.output.progress and ranks.is_main) as progress:
        task = load_task(config.data, config.train.seed, progress.decode)
        name = config.output.run_name or default_run_name(config, task.test_domain)
        prices = None
        with _run_log(config, name, ranks) as log:
            if uses_teacher:
                with TeacherSession(config.teacher, name, progress.purchase, transport) as s:
                    outcome, bundle = _run_method(config, task, progress, s, ranks, log)
                    spend = s.spent()
                    prices = card_prices(s.card())
            else:
                outcome, bundle = _run_method(config, task, progress, None, ranks, log)
                spend = SpendRecord()
    if not ranks.is_main:  # rank 0 writes; the others wait for it, then end
        ranks.barrier()
        directory = config.output.out_dir / name
        return RunResult(directory, _metrics(config, task, outcome, spend, 0.0, bundle.train))
    directory = run_dir(config, name)
    if outcome.model is not None:
        ckpt = Checkpoint(
            outcome.model.cpu(),
            outcome.predictor,
            list(task.classes),
            bundle.text,
            config.train.logit_scale,
            config.public_dict(),
        )
        save_checkpoint(directory / CHECKPOINT_FILE, ckpt)
    metrics = _metrics(config, task, outcome, spend, time.perf_counter() - started, bundle.train)
    if bundle.train.probe is not None:
        (directory / PROBE_FILE).write_text(json.dumps(bundle.train.probe, indent=2))
    write_metrics(directory, metrics)
    append_result(directory, result_line(config, metrics, prices))  # last: the run is finished
    ranks.barrier()
    return RunResult(directory, metrics)


def evaluate_checkpoint(
    checkpoint: Path, config: RunConfig | None = None, overrides: dict[str, Any] | None = None
) -> dict[str, float]:
    """ID (source holdouts) and OOD (target) accuracy of a saved student; no vendor needed.
    Without `config`, the run's own config saved in the checkpoint is used (then `overrides`)."""
    ckpt = load_checkpoint(checkpoint)
    base = config if config is not None else RunConfig.model_validate(ckpt.config)
    config = base.with_overrides(overrides or {})
    task = load_task(config.data, config.train.seed)
    if list(task.classes) != ckpt.classes:
        raise ValueError(f"checkpoint classes {ckpt.classes} differ from the data's")
    device = pick_device(config.train.device)
    model = ckpt.model.to(device)
    if ckpt.predictor == "text":
        assert ckpt.text is not None
        logits = text_logits(model, ckpt.text.to(device), ckpt.logit_scale)
    else:
        logits = model.head

    def acc(images: ImageSet) -> float:
        return accuracy(eval_features(model, images, device).to(device), images.labels, logits)

    return {"id_acc": acc(task.holdout), "ood_acc": acc(task.target)}
