"""Import path of the budget tracker kept for tests/reliability and benchmarks/bench_memory.py;
the tracker itself is `client_trainer.purchase.tracker`."""
