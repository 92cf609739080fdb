"""Which training images to buy teacher embeddings for, under a query budget.

A strategy picks `n` indices out of a pool; the images it leaves out still train with the
text-embedding term (one query per class), so a smaller budget degrades gracefully.
"""

from client_trainer.selection.registry import STRATEGIES, SelectionStrategy, get_strategy, select

__all__ = ["STRATEGIES", "SelectionStrategy", "get_strategy", "select"]
