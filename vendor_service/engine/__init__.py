"""Inference: the embedding-model interface, its open_clip implementation, the batcher."""
