"""The ledger: every key's budget, spend and holds in Redis, changed only by Lua scripts.

Per key (hash `<prefix>key:<key_id>`): budget, spent, reserved, images, texts, requests,
name, revoked, secret_hash. Invariant at every moment: budget == spent + remaining, with
remaining = budget - spent; `reserved` is the part of remaining held by requests in flight,
and a new hold needs remaining - reserved >= cost. `spent` grows only in commit.lua, by the
cost of the items delivered.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis

from shared.errors import ErrorCode
from shared.schemas import CreatedKey, UsageReport
from vendor_service.errors import AuthError, BudgetError, RequestRejected, Unavailable
from vendor_service.metering.api_keys import (
    hash_secret,
    mint_api_key,
    parse_api_key,
    secret_matches,
)
from vendor_service.metering.script_pipeline import ScriptPipeliner, load_script, run_script
from vendor_service.metering.trust import TrustedKeys

_COUNTERS = ("budget", "spent", "reserved", "images", "texts", "requests")
_SCRIPTS = ("reserve", "commit", "refund", "reap", "topup")
_AVAILABLE = ("budget", "spent", "reserved")  # available = budget - spent - reserved


@dataclass(frozen=True)
class Standing:
    """An authenticated key and the credits it had free (remaining - reserved) when read."""

    key_id: str
    available: int


@dataclass(frozen=True)
class Reservation:
    """A hold on `cost` credits of `key_id`, released by commit or refund (or its lease)."""

    res_id: str
    key_id: str
    cost: int
    idem_key: str  # Redis key of the idempotency record, "" when the request had none
    available_after: int  # remaining - reserved right after this hold


@dataclass(frozen=True)
class Replay:
    """The stored response of an earlier request with the same Idempotency-Key and body."""

    body: bytes


class Ledger:
    def __init__(
        self,
        client: aioredis.Redis,
        prefix: str,
        pepper: str = "",
        lease_seconds: float = 30.0,
        idempotency_ttl_seconds: int = 24 * 3600,
        auth_cache_seconds: float = 0.0,
        pipeliner: ScriptPipeliner | None = None,
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.pepper = pepper
        self.lease_ms = int(lease_seconds * 1000)
        self.idempotency_ttl = idempotency_ttl_seconds
        self._scripts = {name: client.register_script(load_script(name)) for name in _SCRIPTS}
        self.trusted = TrustedKeys(auth_cache_seconds, pepper)
        # Given: the sale's scripts join the other calls of their turn in one round trip.
        self.pipeliner = pipeliner

    # --- Redis key names ----------------------------------------------------------------------
    def key_hash(self, key_id: str) -> str:
        return f"{self.prefix}key:{key_id}"

    def reservation_hash(self, res_id: str) -> str:
        return f"{self.prefix}res:{res_id}"

    @property
    def leases(self) -> str:
        return f"{self.prefix}leases"

    def idempotency_hash(self, key_id: str, idempotency_key: str) -> str:
        digest = hashlib.sha256(idempotency_key.encode()).hexdigest()[:32]
        return f"{self.prefix}idem:{key_id}:{digest}"

    # --- keys (admin) -------------------------------------------------------------------------
    async def create_key(self, name: str, budget: int) -> CreatedKey:
        key = mint_api_key()
        fields: dict[str | bytes, Any] = {counter: 0 for counter in _COUNTERS}
        fields.update(
            budget=budget,
            name=name,
            revoked=0,
            secret_hash=hash_secret(key.secret, self.pepper),
        )
        await self.client.hset(self.key_hash(key.key_id), mapping=fields)  # type: ignore[arg-type]
        return CreatedKey(key_id=key.key_id, api_key=key.token, name=name, budget=budget)

    async def usage(self, key_id: str) -> UsageReport:
        raw = await self.client.hgetall(self.key_hash(key_id))
        if not raw:
            raise RequestRejected(ErrorCode.NOT_FOUND, f"no API key with id {key_id!r}")
        fields = {_text(k): _text(v) for k, v in raw.items()}
        counts = {counter: int(fields.get(counter, 0)) for counter in _COUNTERS}
        return UsageReport(
            key_id=key_id,
            name=fields.get("name", ""),
            remaining=counts["budget"] - counts["spent"],
            revoked=fields.get("revoked") == "1",
            **counts,
        )

    async def remaining(self, key_id: str) -> int:
        budget, spent = await self.client.hmget(self.key_hash(key_id), ["budget", "spent"])
        return int(budget or 0) - int(spent or 0)

    async def topup(self, key_id: str, amount: int) -> UsageReport:
        found = await self._scripts["topup"](keys=[self.key_hash(key_id)], args=[amount])
        if not found:
            raise RequestRejected(ErrorCode.NOT_FOUND, f"no API key with id {key_id!r}")
        return await self.usage(key_id)

    async def revoke(self, key_id: str) -> UsageReport:
        report = await self.usage(key_id)  # 404 for an unknown id
        await self.client.hset(self.key_hash(key_id), "revoked", 1)
        self.trusted.forget(key_id)
        return report.model_copy(update={"revoked": True})

    # --- callers ------------------------------------------------------------------------------
    async def authenticate(self, token: str) -> str:
        """API key -> key_id, or AuthError (401). Compares the secret in constant time."""
        return (await self.authenticate_standing(token)).key_id

    async def authenticate_standing(self, token: str) -> Standing:
        """Authenticate, and read what the key can afford in the same round trip (none when
        this process verified the key within `auth_cache_seconds`: see `trust.py`)."""
        key = parse_api_key(token)
        if key is None:
            raise AuthError(ErrorCode.INVALID_API_KEY, "invalid API key")
        if (available := self.trusted.standing(key)) is not None:
            return Standing(key.key_id, available)
        stored, revoked, *counts = await self.client.hmget(
            self.key_hash(key.key_id), ["secret_hash", "revoked", *_AVAILABLE]
        )
        if stored is None or not secret_matches(key.secret, _text(stored), self.pepper):
            raise AuthError(ErrorCode.INVALID_API_KEY, "invalid API key")
        if revoked == b"1":
            raise AuthError(ErrorCode.REVOKED_API_KEY, "this API key has been revoked")
        standing = Standing(key.key_id, _available(counts))
        self.trusted.remember(key.key_id, _text(stored), standing.available)
        return standing

    async def precheck(
        self, key_id: str, cost: int, idempotency_key: str | None, seen: Standing | None = None
    ) -> None:
        """An early 402, so an unfunded key cannot make us decode for free.

        Advisory only: reserve.lua stays the authority (budgets may move in between). `seen`,
        read at authentication a moment ago, passes an affordable request without a round
        trip; otherwise one round trip reads the key again. A request whose Idempotency-Key
        already has a record passes: it may be a free replay.
        """
        if seen is not None and seen.key_id == key_id and seen.available >= cost:
            return
        pipe = self.client.pipeline(transaction=False)
        pipe.hmget(self.key_hash(key_id), list(_AVAILABLE))
        if idempotency_key:
            pipe.exists(self.idempotency_hash(key_id, idempotency_key))
        counts, *known = await pipe.execute()
        available = _available(counts)
        if available < cost and not any(known):
            raise BudgetError(
                ErrorCode.INSUFFICIENT_BUDGET,
                f"this request costs {cost} credits but only {available} are available",
            )

    # --- reserve / commit / refund ------------------------------------------------------------
    async def reserve(
        self,
        key_id: str,
        cost: int,
        images: int,
        texts: int,
        idempotency_key: str | None = None,
        fingerprint: str = "",
    ) -> Reservation | Replay:
        """Hold `cost` credits before inference, or replay, or raise why not (nothing held)."""
        res_id = secrets.token_hex(12)
        idem = self.idempotency_hash(key_id, idempotency_key) if idempotency_key else ""
        reply = await self._run(
            "reserve",
            [self.key_hash(key_id), self.leases, self.reservation_hash(res_id), idem or "-"],
            [
                cost,
                images,
                texts,
                self.lease_ms,
                key_id,
                res_id,
                "1" if idem else "0",
                fingerprint,
                self.idempotency_ttl,
            ],
        )
        status = reply[0].decode()
        if status == "ok":
            self.trusted.update(key_id, int(reply[1]))
            return Reservation(res_id, key_id, cost, idem, int(reply[1]))
        if status == "replay":
            return Replay(bytes(reply[1]))
        if status in ("missing", "revoked", "insufficient"):
            self.trusted.forget(key_id)  # read it again next time: an early 401 or 402
        raise _reserve_error(status, cost, reply)

    async def commit(self, reservation: Reservation, head: bytes, tail: bytes) -> int:
        """Charge a reservation and, under an Idempotency-Key, store `head + remaining + tail`
        for replays; returns remaining."""
        if not reservation.idem_key:  # nothing to store: the body need not cross to Redis
            head = tail = b""
        reply = await self._run(
            "commit",
            [
                self.key_hash(reservation.key_id),
                self.leases,
                self.reservation_hash(reservation.res_id),
                reservation.idem_key or "-",
            ],
            [reservation.res_id, head, tail, self.idempotency_ttl],
        )
        if reply[0] == b"expired":
            raise Unavailable(
                ErrorCode.RESERVATION_EXPIRED,
                "the request outlived its reservation and was refunded; retry it",
            )
        return int(reply[1])

    async def refund(self, reservation: Reservation) -> bool:
        released = await self._run(
            "refund",
            [
                self.key_hash(reservation.key_id),
                self.leases,
                self.reservation_hash(reservation.res_id),
            ],
            [reservation.res_id],
        )
        return bool(released)

    async def reap(self, max_count: int = 1000) -> int:
        """Refund every reservation whose lease has expired; returns how many."""
        reaped = await self._scripts["reap"](keys=[self.leases], args=[self.prefix, max_count])
        return int(reaped)

    async def _run(self, name: str, keys: list[Any], args: list[Any]) -> Any:
        """One of the sale's scripts: alone, or with the other calls of this turn."""
        return await run_script(self._scripts[name], keys, args, self.pipeliner)


def _reserve_error(status: str, cost: int, reply: list[Any]) -> Exception:
    if status == "missing":
        return AuthError(ErrorCode.INVALID_API_KEY, "invalid API key")
    if status == "revoked":
        return AuthError(ErrorCode.REVOKED_API_KEY, "this API key has been revoked")
    if status == "reused":
        return RequestRejected(
            ErrorCode.IDEMPOTENCY_KEY_REUSED,
            "this Idempotency-Key was already used with a different request body",
        )
    if status == "in_progress":
        return RequestRejected(
            ErrorCode.IDEMPOTENCY_KEY_IN_PROGRESS,
            "a request with this Idempotency-Key is still in progress; retry shortly",
            retry_after=1.0,
        )
    if status == "insufficient":
        return BudgetError(
            ErrorCode.INSUFFICIENT_BUDGET,
            f"this request costs {cost} credits but only {int(reply[1])} are available",
        )
    return RuntimeError(f"unexpected ledger reply {status!r}")


def _available(counts: list[Any]) -> int:
    budget, spent, reserved = (int(v or 0) for v in counts)
    return budget - spent - reserved


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
