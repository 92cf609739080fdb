"""The budget tracker under the import path tests/reliability and bench_memory.py name."""

from client_trainer.purchase.tracker import (
    READ_CHUNK,
    BudgetTracker,
    Query,
    SpendCapReached,
    SpendRecord,
)

__all__ = ["READ_CHUNK", "BudgetTracker", "Query", "SpendCapReached", "SpendRecord"]
