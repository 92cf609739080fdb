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


def test_kl_only_over_rows_with_a_bought_target() -> None:
    gen = torch.Generator().manual_seed(0)
    logits, image = (torch.randn(4, 3, generator=gen) for _ in range(2))
    text = torch.randn(3, 3, generator=gen)  # (classes, dim)
    labels = torch.tensor([0, 1, 2, 0])
    has = torch.tensor([True, False, True, False])
    masked = kd_loss(logits, labels, image, text, 0.1, 1.0, has)
    ce = torch.nn.functional.cross_entropy(logits, labels)
    only = kd_loss(logits[has], labels[has], image[has], text, 0.1, 1.0)
    ce_only = torch.nn.functional.cross_entropy(logits[has], labels[has])
    assert masked.item() == pytest.approx((ce + (only - ce_only)).item(), rel=1e-5)
    none = kd_loss(logits, labels, image, text, 0.1, 1.0, torch.zeros(4, dtype=torch.bool))
    assert none.item() == pytest.approx(ce.item(), rel=1e-6)
