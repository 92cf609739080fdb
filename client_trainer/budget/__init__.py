"""The client's budget: content-addressed embedding cache, spend cap and spend record."""

from client_trainer.budget.tracker import (
    BudgetTracker,
    Query,
    SpendCapReached,
    SpendRecord,
)

__all__ = ["BudgetTracker", "Query", "SpendCapReached", "SpendRecord"]
