"""The ledger: every key's budget, spend and holds in Redis, changed only by Lua scripts.

Per key (hash `<prefix>{<key_id>}:key`): budget, spent, reserved, images, texts, requests,
name, revoked, secret_hash. Invariant at every moment: budget == spent + remaining, with
remaining = budget - spent; `reserved` is the part of remaining held by requests in flight,
and a new hold needs remaining - reserved >= cost. `spent` grows only in commit.lua, by the
cost of the items delivered.

Every key of one API key carries its id as a hash tag, `{<key_id>}`, so on a Redis Cluster
they all live in one slot and each script (which declares every key it touches in KEYS)
runs on one node:

    <prefix>{<key_id>}:key              hash: the account above
    <prefix>{<key_id>}:holds            hash: reservation id -> "<cost> <images> <texts> <idem>"
    <prefix>{<key_id>}:leases           zset: reservation id -> lease deadline (ms)
    <prefix>{<key_id>}:idem:<digest>    hash: an Idempotency-Key's record (state, response)
    <prefix>{<key_id>}:rate:...         the rate limits' counters (rate_limits.py)

Two keys are global: `<prefix>keys`, the set of every API key id, which the reaper walks to
find expired leases on whichever node they are, and `<prefix>reaper`, which names the one
process that reaps this round. A presented API key names its own id
(`vk-<key_id>-<secret>`), so authentication reads one tagged hash and needs no global index.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from shared.errors import ErrorCode
from shared.redis_connection import AsyncRedis
from shared.schemas import CreatedKey, UsageReport
from vendor_service.errors import AuthError, BudgetError, RequestRejected, Unavailable
from vendor_service.metering.api_keys import (
    hash_secret,
    mint_api_key,
    parse_api_key,
    secret_matches,
)
from vendor_service.metering.replication import ReplicaWait, node_name, queue_wait
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
        client: AsyncRedis,
        prefix: str,
        pepper: str = "",
        lease_seconds: float = 30.0,
        idempotency_ttl_seconds: int = 24 * 3600,
        auth_cache_seconds: float = 0.0,
        pipeliner: ScriptPipeliner | None = None,
        wait: ReplicaWait | None = None,
    ) -> None:
        check_prefix(prefix)
        self.client = client
        self.prefix = prefix
        self.pepper = pepper
        self.lease_ms = int(lease_seconds * 1000)
        self.idempotency_ttl = idempotency_ttl_seconds
        self._scripts = {name: client.register_script(load_script(name)) for name in _SCRIPTS}
        self.trusted = TrustedKeys(auth_cache_seconds, pepper)
        # Given: the sale's scripts join the other calls of their turn in one round trip.
        self.pipeliner = pipeliner
        # Given (replicas > 0): writes that acknowledge money wait for replicas to have them.
        self.wait = wait if wait is not None and wait.replicas > 0 else None

    # --- Redis key names ----------------------------------------------------------------------
    def key_hash(self, key_id: str) -> str:
        return f"{self.prefix}{{{key_id}}}:key"

    def holds(self, key_id: str) -> str:
        return f"{self.prefix}{{{key_id}}}:holds"

    def leases(self, key_id: str) -> str:
        return f"{self.prefix}{{{key_id}}}:leases"

    def idempotency_hash(self, key_id: str, idempotency_key: str) -> str:
        digest = hashlib.sha256(idempotency_key.encode()).hexdigest()[:32]
        return f"{self.prefix}{{{key_id}}}:idem:{digest}"

    @property
    def key_index(self) -> str:
        """Global (in no API key's slot): every API key id, for the reaper."""
        return f"{self.prefix}keys"

    def account_keys(self, key_id: str) -> list[str]:
        """KEYS of the scripts that move a key's money: its hash, holds and leases."""
        return [self.key_hash(key_id), self.holds(key_id), self.leases(key_id)]

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
        # Indexed first: a key can exist only once the reaper can find its leases.
        await self.client.sadd(self.key_index, key.key_id)
        await self._write(self.key_hash(key.key_id), lambda pipe: pipe.hset(
            self.key_hash(key.key_id), mapping=fields))  # fmt: skip
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
        found = await run_script(
            self._scripts["topup"], [self.key_hash(key_id)], [amount], wait=self.wait
        )
        if not found:
            raise RequestRejected(ErrorCode.NOT_FOUND, f"no API key with id {key_id!r}")
        return await self.usage(key_id)

    async def revoke(self, key_id: str) -> UsageReport:
        report = await self.usage(key_id)  # 404 for an unknown id
        key = self.key_hash(key_id)
        await self._write(key, lambda pipe: pipe.hset(key, "revoked", 1))
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
            [*self.account_keys(key_id), *([idem] if idem else [])],
            [cost, images, texts, self.lease_ms, res_id, fingerprint, self.idempotency_ttl],
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
            self._reservation_keys(reservation),
            [reservation.res_id, head, tail, self.idempotency_ttl],
            wait=self.wait,
        )
        if reply[0] == b"expired":
            raise Unavailable(
                ErrorCode.RESERVATION_EXPIRED,
                "the request outlived its reservation and was refunded; retry it",
            )
        return int(reply[1])

    async def refund(self, reservation: Reservation) -> bool:
        released = await self._run(
            "refund", self._reservation_keys(reservation), [reservation.res_id]
        )
        return bool(released)

    async def reap_key(self, key_id: str, max_count: int = 1000) -> int:
        """Refund the holds of one key whose lease has expired; returns how many. (Finding
        the keys that have one: `reaper.reap_expired`.)"""
        return int(await self._scripts["reap"](keys=self.account_keys(key_id), args=[max_count]))

    def _reservation_keys(self, reservation: Reservation) -> list[str]:
        idem = [reservation.idem_key] if reservation.idem_key else []
        return [*self.account_keys(reservation.key_id), *idem]

    async def _run(
        self, name: str, keys: list[Any], args: list[Any], wait: ReplicaWait | None = None
    ) -> Any:
        """One of the sale's scripts: alone, or with the other calls of this turn."""
        return await run_script(self._scripts[name], keys, args, self.pipeliner, wait)

    async def _write(self, key: str, queue: Callable[[Any], Any]) -> None:
        """An admin write to `key` (one pipeline), followed by WAIT when replicas are asked."""
        pipe = self.client.pipeline(transaction=False)
        queue(pipe)
        wait = self.wait
        node = node_name(self.client, key)
        if wait is None or not wait.worth_waiting(node):
            await pipe.execute()
            if wait is not None:
                wait.unreplicated()
            return
        await queue_wait(pipe, self.client, key, wait)
        replies = await pipe.execute()
        wait.check(replies[-1], node)


def check_prefix(prefix: str) -> None:
    """A key prefix with a brace would move the hash tag out of `{<key_id>}`: refused."""
    if "{" in prefix or "}" in prefix:
        raise ValueError(
            f"the Redis key prefix {prefix!r} must not contain '{{' or '}}': the ledger tags "
            "every key with {<key_id>} so one API key's keys share a Redis Cluster slot"
        )


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
