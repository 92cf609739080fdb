"""Which training images to buy teacher embeddings for, under a query budget.

A strategy picks `n` indices out of a pool; the images it leaves out still train with the
text-embedding term (one query per class), so a smaller budget degrades gracefully. Each
strategy registers itself with `@register_strategy`; importing this package registers them all.
"""

from client_trainer.selection import strategies
from client_trainer.selection.registry import (
    STRATEGIES,
    SelectionStrategy,
    Strategy,
    get_strategy,
    register_strategy,
    select,
)

__all__ = [
    "STRATEGIES",
    "SelectionStrategy",
    "Strategy",
    "get_strategy",
    "register_strategy",
    "select",
    "strategies",
]
