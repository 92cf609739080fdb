"""Reads a key's ledger straight from Redis (not through the vendor) and checks the invariant.

The vendor keeps, per key, the hash `<prefix>{<key_id>}:key` with budget, spent, reserved,
images, texts, requests; its reservations in flight are listed in the zset
`<prefix>{<key_id>}:leases`. The client may be of one Redis server or of a Redis Cluster.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import cast

from shared.redis_connection import SyncRedis

PRICE_PER_IMAGE = 10  # the vendor's default prices (settings.py); tests run with defaults
PRICE_PER_TEXT = 1


@dataclass(frozen=True)
class KeyLedger:
    budget: int
    spent: int
    reserved: int
    images: int
    texts: int
    requests: int

    @property
    def remaining(self) -> int:
        return self.budget - self.spent


def read_key(client: SyncRedis, prefix: str, key_id: str) -> KeyLedger:
    fields = ("budget", "spent", "reserved", "images", "texts", "requests")
    values = client.hmget(f"{prefix}{{{key_id}}}:key", list(fields))
    assert values[0] is not None, f"key {key_id} is not in the ledger"
    return KeyLedger(*(int(v or 0) for v in values))


def held_leases(client: SyncRedis, prefix: str, key_ids: list[str]) -> list[tuple[str, float]]:
    """(reservation id, lease deadline in epoch ms) of every reservation of `key_ids` held."""
    held = []
    for key_id in key_ids:
        # redis-py types replies as bytes | str; this client does not decode: members are bytes.
        raw = cast(
            "list[tuple[bytes, float]]",
            client.zrange(f"{prefix}{{{key_id}}}:leases", 0, -1, withscores=True),
        )
        held += [(member.decode(), score) for member, score in raw]
    return held


def wait_reserved_zero(client: SyncRedis, prefix: str, key_ids: list[str], timeout: float) -> float:
    """Seconds until no key holds a reservation; AssertionError after `timeout`."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if all(read_key(client, prefix, k).reserved == 0 for k in key_ids):
            return time.monotonic() - started
        time.sleep(0.1)
    held = {k: read_key(client, prefix, k).reserved for k in key_ids}
    raise AssertionError(f"reservations still held after {timeout}s: {held}")


def assert_exact(
    ledger: KeyLedger,
    budget: int,
    images: int,
    texts: int,
    requests: int | None = None,
    reported: dict[str, object] | None = None,
) -> None:
    """The ledger holds exactly what was delivered, and the vendor reports the same numbers.

    `budget` is what the test put on the key (creation + top-ups), `images`/`texts` what the
    clients received; `reported` is the vendor's own view (GET /v1/usage or the admin route).
    """
    assert ledger.budget == budget, (ledger, budget)
    assert ledger.images == images, (ledger, images)
    assert ledger.texts == texts, (ledger, texts)
    assert ledger.spent == PRICE_PER_IMAGE * images + PRICE_PER_TEXT * texts, ledger
    assert ledger.reserved == 0, ledger
    assert 0 <= ledger.remaining <= budget, ledger
    if requests is not None:
        assert ledger.requests == requests, (ledger, requests)
    if reported is not None:
        assert reported["budget"] == reported["spent"] + reported["remaining"], reported  # type: ignore[operator]
        assert (reported["budget"], reported["spent"]) == (ledger.budget, ledger.spent), reported
