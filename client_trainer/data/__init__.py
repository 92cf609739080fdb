"""DomainBed folders, leave-one-domain-out splits, in-memory images and batched augmentation."""

from client_trainer.data.augment import AugmentParams, augment, draw_params
from client_trainer.data.batches import DomainBatches
from client_trainer.data.domainbed import DataError, DatasetIndex, scan_dataset
from client_trainer.data.images import ImageSet, load_images
from client_trainer.data.splits import TaskSplit, load_task, split_task

__all__ = [
    "AugmentParams",
    "DataError",
    "DatasetIndex",
    "DomainBatches",
    "ImageSet",
    "TaskSplit",
    "augment",
    "draw_params",
    "load_images",
    "load_task",
    "scan_dataset",
    "split_task",
]
