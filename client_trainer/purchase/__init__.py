"""Turning data into teacher queries and buying them through the budget tracker."""

from client_trainer.purchase.bundle import buy_bundle, train_targets
from client_trainer.purchase.session import TeacherSession

__all__ = ["TeacherSession", "buy_bundle", "train_targets"]
