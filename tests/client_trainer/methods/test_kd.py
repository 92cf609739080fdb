"""KD loss: cross-entropy plus KL to the teacher's zero-shot distribution at T = 0.1."""

from __future__ import annotations

import math

import pytest
import torch

from client_trainer.methods.kd import kd_loss


def test_kd_loss_matches_a_hand_computation() -> None:
    student = torch.tensor([[1.0, 0.0]])
    labels = torch.tensor([0])
    teacher_image = torch.tensor([[1.0, 0.0]])
    text = torch.tensor([[1.0, 0.0], [0.0, 1.0]])  # cosines (1, 0) -> logits (10, 0)
    p_t = [1 / (1 + math.exp(-10)), 1 / (1 + math.exp(10))]
    q = [math.exp(1) / (math.exp(1) + 1), 1 / (math.exp(1) + 1)]
    ce = -math.log(q[0])
    kl = sum(p * math.log(p / qq) for p, qq in zip(p_t, q, strict=True))
    got = kd_loss(student, labels, teacher_image, text, temperature=0.1, weight=0.5)
    assert got.item() == pytest.approx(ce + 0.5 * kl, rel=1e-5)
