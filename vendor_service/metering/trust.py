"""Keys this process verified a moment ago, so a busy key is not read from Redis per request.

An entry holds the key's stored secret hash (the presented secret is still hashed and
compared in constant time on every request), until when it is trusted, and the credits the
key had free when last seen (advisory: reserve.lua decides). Only successful checks are
remembered, so wrong secrets cannot fill it.

What this costs in freshness, and why it is safe for money: reserve.lua reads the key
itself and refuses a revoked or unknown key, so no sale happens after a revocation; a
refusal there also forgets the key here, so its next request is read again. GET /v1/usage
reads the key anyway and refuses a revoked one. What a revoked key can still get for up to
the trust period, per worker: a rate-limit hit and its images decoded before that 401.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from vendor_service.metering.api_keys import ApiKey, secret_matches


@dataclass
class _Verified:
    secret_hash: str
    until: float  # time.monotonic() deadline
    available: int


class TrustedKeys:
    def __init__(self, seconds: float, pepper: str, max_keys: int = 65_536) -> None:
        self.seconds = seconds
        self.pepper = pepper
        self.max_keys = max_keys
        self._keys: dict[str, _Verified] = {}

    def standing(self, key: ApiKey) -> int | None:
        """Credits free when last seen, if `key` was verified within the trust period."""
        entry = self._keys.get(key.key_id)
        if entry is None:
            return None
        if entry.until < time.monotonic():
            del self._keys[key.key_id]
            return None
        if not secret_matches(key.secret, entry.secret_hash, self.pepper):
            return None
        return entry.available

    def remember(self, key_id: str, secret_hash: str, available: int) -> None:
        if self.seconds <= 0:
            return
        self._keys.pop(key_id, None)  # re-inserted last: the oldest entry goes first when full
        if len(self._keys) >= self.max_keys:
            del self._keys[next(iter(self._keys))]
        self._keys[key_id] = _Verified(secret_hash, time.monotonic() + self.seconds, available)

    def update(self, key_id: str, available: int) -> None:
        """What the ledger just reported free for a key (after a hold), if it is remembered."""
        if entry := self._keys.get(key_id):
            entry.available = available

    def forget(self, key_id: str) -> None:
        self._keys.pop(key_id, None)
