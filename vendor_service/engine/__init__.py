"""Inference: `Engine` (the model, its threads and one batcher per modality), the
embedding-model interface and its open_clip implementation, preprocessing, dynamic batching,
and the model process with its shared-memory slots."""
