"""The one shared training loop, evaluation, weight averaging and checkpoints."""

from client_trainer.train.batches import BatchSource, StepBatch, TrainTargets
from client_trainer.train.device import pick_device, seed_everything
from client_trainer.train.evaluate import accuracy, eval_features
from client_trainer.train.loop import Stage, StageReport, run_stage
from client_trainer.train.model import StudentModel

__all__ = [
    "BatchSource",
    "Stage",
    "StageReport",
    "StepBatch",
    "StudentModel",
    "TrainTargets",
    "accuracy",
    "eval_features",
    "pick_device",
    "run_stage",
    "seed_everything",
]
