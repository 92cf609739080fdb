"""Buying teacher embeddings: the budget tracker (cache, cap, spend record), the queries and
their content keys, the run's teacher session, and the bundle a method needs.

Submodules are imported by name (`client_trainer.purchase.tracker`, ...): the tracker alone
stays free of torch for the processes that only read the cache."""
