"""The vendor's own small CLIP, trained on the offline world's caption corpus.

- `VLMTrainConfig`: what to train (corpus, caption policy, architecture, steps, lr).
- `train_vlm(config, root=None) -> Path`: the cached checkpoint file, loadable by open_clip.
- `zero_shot_by_style`: zero-shot accuracy per style with "a photo of a {class}".
"""

from vendor_service.vlm.config import VLMTrainConfig
from vendor_service.vlm.train import CHECKPOINT, encode_throughput, train_vlm
from vendor_service.vlm.zero_shot import class_text_embeddings, zero_shot_by_style

__all__ = [
    "CHECKPOINT",
    "VLMTrainConfig",
    "class_text_embeddings",
    "encode_throughput",
    "train_vlm",
    "zero_shot_by_style",
]
