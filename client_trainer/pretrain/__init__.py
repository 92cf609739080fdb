"""The client's own pretrained student for the offline world.

- `world_convnet_s` / `world_convnet_xs`: timm models (registered on import of this package).
- `PretrainConfig`: corpus, model, steps, lr of the supervised pretraining.
- `pretrain_student(config, root=None) -> Path`: the cached backbone weight file.
"""

from client_trainer.pretrain.config import PretrainConfig
from client_trainer.pretrain.convnet import WorldConvNet
from client_trainer.pretrain.train import WEIGHTS, accuracy_by_style, pretrain_student

__all__ = ["WEIGHTS", "PretrainConfig", "WorldConvNet", "accuracy_by_style", "pretrain_student"]
