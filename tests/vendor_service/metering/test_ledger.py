"""The ledger against a real Redis: reserve / commit / refund / reap keep the books exact."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from shared.redis_connection import connect_async
from vendor_service.errors import AuthError, BudgetError, RequestRejected, Unavailable
from vendor_service.metering import (
    Ledger,
    Replay,
    Reservation,
    Standing,
    claim_round,
    reap_expired,
)
from vendor_service.metering.script_pipeline import ScriptPipeliner


@pytest.fixture(params=[False, True], ids=["alone", "pipelined"])
async def ledger(
    request: pytest.FixtureRequest, each_redis_url: str, each_redis_prefix: str
) -> AsyncIterator[Ledger]:
    """Every test four times: each script sent on its own, and the calls of a turn pipelined;
    on one Redis server and on a Redis Cluster."""
    client = connect_async(each_redis_url)
    pipeliner = ScriptPipeliner(client) if request.param else None
    yield Ledger(client, each_redis_prefix, lease_seconds=30, pipeliner=pipeliner)
    await client.aclose()


def short_lease(ledger: Ledger, seconds: float) -> Ledger:
    return Ledger(ledger.client, ledger.prefix, lease_seconds=seconds, pipeliner=ledger.pipeliner)


async def books(ledger: Ledger, key_id: str) -> tuple[int, int, int, int]:
    usage = await ledger.usage(key_id)
    assert usage.budget == usage.spent + usage.remaining
    return usage.budget, usage.spent, usage.reserved, usage.remaining


async def test_reserve_commit_moves_hold_into_spend(ledger: Ledger) -> None:
    key = await ledger.create_key("a", 100)
    held = await ledger.reserve(key.key_id, 30, images=3, texts=0)
    assert isinstance(held, Reservation)
    assert held.available_after == 70
    assert await books(ledger, key.key_id) == (100, 0, 30, 100)
    remaining = await ledger.commit(held, b"head", b"tail")
    assert remaining == 70
    assert await books(ledger, key.key_id) == (100, 30, 0, 70)
    usage = await ledger.usage(key.key_id)
    assert (usage.images, usage.texts, usage.requests) == (3, 0, 1)


async def test_only_a_commit_under_an_idempotency_key_sends_the_body(ledger: Ledger) -> None:
    # Without a key nothing is stored for replay, so a 32-image body need not cross to Redis.
    sent: list[list[Any]] = []
    script = ledger._scripts["commit"]

    async def recording(keys: list[str], args: list[Any]) -> Any:
        sent.append(args[1:3])
        return await script(keys=keys, args=args)

    ledger._scripts["commit"] = recording  # type: ignore[assignment]
    key = await ledger.create_key("a", 100)
    for idempotency_key in (None, "idem-1"):
        held = await ledger.reserve(key.key_id, 10, 1, 0, idempotency_key, "fp")
        assert isinstance(held, Reservation)
        assert await ledger.commit(held, b"head", b"tail") in (90, 80)
    assert sent == [[b"", b""], [b"head", b"tail"]]
    assert await ledger.reserve(key.key_id, 10, 1, 0, "idem-1", "fp") == Replay(b"head80tail")


async def test_refund_releases_the_hold(ledger: Ledger) -> None:
    key = await ledger.create_key("a", 100)
    held = await ledger.reserve(key.key_id, 40, images=4, texts=0)
    assert isinstance(held, Reservation)
    assert await ledger.refund(held)
    assert not await ledger.refund(held)  # idempotent
    assert await books(ledger, key.key_id) == (100, 0, 0, 100)
    with pytest.raises(Unavailable):
        await ledger.commit(held, b"", b"")  # a refunded reservation never becomes spend
    assert await books(ledger, key.key_id) == (100, 0, 0, 100)


async def test_holds_count_against_what_is_available(ledger: Ledger) -> None:
    key = await ledger.create_key("a", 50)
    assert isinstance(await ledger.reserve(key.key_id, 30, 3, 0), Reservation)
    with pytest.raises(BudgetError):
        await ledger.reserve(key.key_id, 30, 3, 0)
    assert await books(ledger, key.key_id) == (50, 0, 30, 50)


async def test_unknown_and_revoked_keys(ledger: Ledger) -> None:
    with pytest.raises(AuthError):
        await ledger.reserve("000000000000", 1, 0, 1)
    key = await ledger.create_key("a", 50)
    await ledger.revoke(key.key_id)
    with pytest.raises(AuthError) as caught:
        await ledger.reserve(key.key_id, 1, 0, 1)
    assert caught.value.code == "revoked_api_key"
    with pytest.raises(AuthError):
        await ledger.authenticate(key.api_key)


async def test_authenticate_compares_the_secret(ledger: Ledger) -> None:
    key = await ledger.create_key("a", 1)
    assert await ledger.authenticate(key.api_key) == key.key_id
    with pytest.raises(AuthError):
        await ledger.authenticate(key.api_key[:-1] + ("A" if key.api_key[-1] != "A" else "B"))
    stored = await ledger.client.hget(ledger.key_hash(key.key_id), "secret_hash")
    assert stored is not None and key.api_key.split("-", 2)[2].encode() not in stored


async def test_authentication_reads_what_the_key_has_free(ledger: Ledger) -> None:
    key = await ledger.create_key("a", 100)
    held = await ledger.reserve(key.key_id, 30, images=3, texts=0)
    assert isinstance(held, Reservation)
    await ledger.commit(held, b"", b"")
    assert isinstance(await ledger.reserve(key.key_id, 20, images=2, texts=0), Reservation)
    assert await ledger.authenticate_standing(key.api_key) == Standing(key.key_id, 50)


class _NoRoundTrips:
    """A Redis client that fails any call: proves a code path never reached Redis."""

    def register_script(self, script: str) -> None:
        return None

    def pipeline(self, *args: object, **kwargs: object) -> None:
        raise AssertionError("precheck made a round trip")

    async def hmget(self, *args: object, **kwargs: object) -> None:
        raise AssertionError("authentication made a round trip")


async def test_precheck_passes_an_affordable_request_without_a_round_trip(
    ledger: Ledger,
) -> None:
    key = await ledger.create_key("a", 100)
    seen = await ledger.authenticate_standing(key.api_key)
    offline = Ledger(_NoRoundTrips(), ledger.prefix)  # type: ignore[arg-type]
    await offline.precheck(key.key_id, 100, None, seen=seen)
    with pytest.raises(AssertionError, match="round trip"):
        await offline.precheck(key.key_id, 101, None, seen=seen)  # unaffordable: reads again


async def test_precheck_reads_again_when_what_it_saw_was_not_enough(ledger: Ledger) -> None:
    key = await ledger.create_key("a", 10)
    seen = await ledger.authenticate_standing(key.api_key)
    with pytest.raises(BudgetError) as refused:
        await ledger.precheck(key.key_id, 30, None, seen=seen)
    assert refused.value.code == "insufficient_budget"
    await ledger.topup(key.key_id, 20)  # funds arrived after authentication: not refused
    await ledger.precheck(key.key_id, 30, None, seen=seen)
    assert await books(ledger, key.key_id) == (30, 0, 0, 30)  # a precheck holds nothing


async def test_idempotency_replay_in_progress_and_reuse(ledger: Ledger) -> None:
    key = await ledger.create_key("a", 100)
    held = await ledger.reserve(key.key_id, 10, 1, 0, "idem-1", "fp-A")
    assert isinstance(held, Reservation)
    with pytest.raises(RequestRejected) as pending:
        await ledger.reserve(key.key_id, 10, 1, 0, "idem-1", "fp-A")
    assert pending.value.code == "idempotency_key_in_progress"
    assert pending.value.retry_after
    await ledger.commit(held, b'{"remaining":', b"}")
    replay = await ledger.reserve(key.key_id, 10, 1, 0, "idem-1", "fp-A")
    assert replay == Replay(b'{"remaining":90}')
    with pytest.raises(RequestRejected) as reused:
        await ledger.reserve(key.key_id, 10, 1, 0, "idem-1", "fp-B")
    assert reused.value.code == "idempotency_key_reused"
    assert await books(ledger, key.key_id) == (100, 10, 0, 90)
    # The same Idempotency-Key from another API key is another request.
    other = await ledger.create_key("b", 100)
    assert isinstance(await ledger.reserve(other.key_id, 10, 1, 0, "idem-1", "fp-B"), Reservation)


async def test_refund_frees_the_idempotency_key(ledger: Ledger) -> None:
    key = await ledger.create_key("a", 100)
    held = await ledger.reserve(key.key_id, 10, 1, 0, "idem-2", "fp")
    assert isinstance(held, Reservation)
    await ledger.refund(held)
    assert isinstance(await ledger.reserve(key.key_id, 10, 1, 0, "idem-2", "fp"), Reservation)


async def test_expired_lease_is_reaped_and_cannot_commit(ledger: Ledger) -> None:
    short = short_lease(ledger, 0.2)
    key = await short.create_key("a", 100)
    dead = await short.reserve(key.key_id, 40, 4, 0, "idem-3", "fp")  # its process "died"
    alive = await ledger.reserve(key.key_id, 10, 1, 0)  # 30 s lease: not due
    assert isinstance(dead, Reservation) and isinstance(alive, Reservation)
    assert await reap_expired(short) == 0
    await asyncio.sleep(0.35)
    assert await reap_expired(short) == 1
    assert await books(ledger, key.key_id) == (100, 0, 10, 100)
    with pytest.raises(Unavailable) as expired:
        await short.commit(dead, b"", b"")
    assert expired.value.code == "reservation_expired"
    # The idempotency key of the dead request is free again.
    assert isinstance(await short.reserve(key.key_id, 40, 4, 0, "idem-3", "fp"), Reservation)


async def test_the_reaper_refunds_expired_holds_of_every_key_wherever_they_live(
    ledger: Ledger,
) -> None:
    """Twelve keys (on the cluster: spread over its three masters), each with a dead hold."""
    short = short_lease(ledger, 0.1)
    keys = [await short.create_key(f"k{i}", 100) for i in range(12)]
    for key in keys:
        assert isinstance(await short.reserve(key.key_id, 10, 1, 0), Reservation)
    await asyncio.sleep(0.25)
    assert await reap_expired(ledger) == len(keys)
    for key in keys:
        assert await books(ledger, key.key_id) == (100, 0, 0, 100)
    assert await reap_expired(ledger) == 0


async def test_one_process_reaps_per_round(ledger: Ledger) -> None:
    other = Ledger(ledger.client, ledger.prefix)
    assert await claim_round(ledger, 30)
    assert not await claim_round(other, 30)
    assert not await claim_round(ledger, 30)


def test_a_prefix_with_a_brace_is_refused(ledger: Ledger) -> None:
    with pytest.raises(ValueError, match="must not contain"):
        Ledger(ledger.client, "vendor{x}:")


async def test_topup_and_unknown_key(ledger: Ledger) -> None:
    key = await ledger.create_key("a", 5)
    assert (await ledger.topup(key.key_id, 7)).budget == 12
    with pytest.raises(RequestRejected):
        await ledger.topup("ffffffffffff", 1)
    with pytest.raises(RequestRejected):
        await ledger.usage("ffffffffffff")


async def test_concurrent_reservations_never_overdraw(ledger: Ledger) -> None:
    key = await ledger.create_key("a", 105)
    outcomes = await asyncio.gather(
        *(ledger.reserve(key.key_id, 10, 1, 0) for _ in range(60)), return_exceptions=True
    )
    held = [o for o in outcomes if isinstance(o, Reservation)]
    assert len(held) == 10
    assert all(isinstance(o, BudgetError) for o in outcomes if not isinstance(o, Reservation))
    await asyncio.gather(*(ledger.commit(r, b"", b"") for r in held))
    assert await books(ledger, key.key_id) == (105, 100, 0, 5)


async def test_a_key_verified_a_moment_ago_is_not_read_again(ledger: Ledger) -> None:
    trusting = Ledger(ledger.client, ledger.prefix, auth_cache_seconds=60)
    key = await trusting.create_key("a", 100)
    assert await trusting.authenticate_standing(key.api_key) == Standing(key.key_id, 100)
    held = await trusting.reserve(key.key_id, 30, images=3, texts=0)
    assert isinstance(held, Reservation)
    trusting.client = _NoRoundTrips()  # type: ignore[assignment]
    assert await trusting.authenticate_standing(key.api_key) == Standing(key.key_id, 70)
    wrong = key.api_key[:-2] + ("xy" if not key.api_key.endswith("xy") else "zz")
    with pytest.raises(AssertionError, match="round trip"):  # a wrong secret is read, not trusted
        await trusting.authenticate_standing(wrong)


async def test_a_revocation_elsewhere_stops_the_next_sale_at_once(ledger: Ledger) -> None:
    """Another worker revokes: this one still trusts the key, but reserve.lua refuses the
    sale, and the key is read again from then on."""
    trusting = Ledger(ledger.client, ledger.prefix, auth_cache_seconds=60)
    key = await trusting.create_key("a", 100)
    await trusting.authenticate_standing(key.api_key)
    await ledger.revoke(key.key_id)
    assert (await trusting.authenticate_standing(key.api_key)).key_id == key.key_id
    with pytest.raises(AuthError) as refused:
        await trusting.reserve(key.key_id, 10, images=1, texts=0)
    assert refused.value.code == "revoked_api_key"
    with pytest.raises(AuthError) as caught:
        await trusting.authenticate_standing(key.api_key)
    assert caught.value.code == "revoked_api_key"
    assert await books(ledger, key.key_id) == (100, 0, 0, 100)


async def test_trust_ends_after_auth_cache_seconds(ledger: Ledger) -> None:
    trusting = Ledger(ledger.client, ledger.prefix, auth_cache_seconds=0.05)
    key = await trusting.create_key("a", 100)
    await trusting.authenticate_standing(key.api_key)
    await ledger.revoke(key.key_id)
    await asyncio.sleep(0.1)
    with pytest.raises(AuthError):
        await trusting.authenticate_standing(key.api_key)
