"""Per-key rate limits (requests and items per window), counted by our own Lua scripts.

One call per request: a script counts the request against every limit of its API key and
reads back what remains of each (for the X-RateLimit-* headers), all keys declared in KEYS.
With a `ScriptPipeliner` the call joins the ledger's and other requests' scripts of the same
event-loop turn in one round trip.

Three strategies, chosen by VENDOR_RATE_LIMIT_STRATEGY (each counts as the `limits` library's
strategy of the same name does):

- `sliding-window-counter` (the default): two counters per limit, the previous window's
  weighted by how much of it still overlaps; O(1) in Redis, approximate at window edges;
- `moving-window`: one timestamp per unit counted, exact; Redis' work grows with the cost;
- `fixed-window`: one counter per window, reset when it ends; refused requests count too.

Each limit is counted on its own: a request refused by its items limit still counts against
its requests limit when that one had room, as it would have with two separate checks.

Key names: `<prefix>{<key_id>}:rate:<strategy>:<kind>:<amount>/<seconds>s[:<window>]`. The
`{<key_id>}` hash tag puts every rate-limit key of one API key in one Redis Cluster slot, the
same slot as that key's ledger keys; the limit's amount and
window are in the name, so a changed setting starts counting afresh.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from shared import headers as h
from shared.redis_connection import AsyncRedis
from vendor_service.errors import RateLimited
from vendor_service.metering.script_pipeline import ScriptPipeliner, load_script, run_script

DEFAULT_STRATEGY = "sliding-window-counter"


@dataclass(frozen=True)
class Strategy:
    script: str  # scripts/<script>.lua
    windows: tuple[str, ...]  # the keys of one limit, in the order the script takes them


STRATEGIES: dict[str, Strategy] = {
    "sliding-window-counter": Strategy("rate_sliding_window", ("previous", "current")),
    "moving-window": Strategy("rate_moving_window", ("log",)),
    "fixed-window": Strategy("rate_fixed_window", ("count",)),
}

# `limits` notation: "<amount>/<unit>", "<amount> per <n> <units>" ("1000/second",
# "20000 per 10 minutes"); units as `limits` counts them (a month is 30 days, a year 360).
_UNITS = {"second": 1, "minute": 60, "hour": 3600, "day": 86_400, "month": 2_592_000,
          "year": 31_104_000}  # fmt: skip
_RATE = re.compile(r"^\s*([0-9]+)\s*(?:/|per)\s*([0-9]+)?\s*([a-z]+?)s?\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class RateLimit:
    amount: int  # units admitted per window
    seconds: int  # the window's length

    def __str__(self) -> str:
        return f"{self.amount}/{self.seconds}s"


def parse_rate(text: str) -> RateLimit:
    """ "1000/second", "100 per 10 minutes" -> RateLimit; ValueError saying what is wrong."""
    match = _RATE.match(text)
    unit = match and _UNITS.get(match.group(3).lower())
    if not match or not unit:
        raise ValueError(
            f"cannot read the rate {text!r}: write <amount>/<unit> or <amount> per <n> <units>, "
            f"e.g. 1000/second or 100 per 10 minutes (units: {', '.join(_UNITS)})"
        )
    multiples = int(match.group(2) or 1)
    if multiples < 1:
        raise ValueError(f"the rate {text!r} has a window of 0 {match.group(3)}")
    return RateLimit(int(match.group(1)), unit * multiples)


@dataclass(frozen=True)
class RateState:
    """What the X-RateLimit-* headers report after a request was admitted."""

    limit_requests: int
    remaining_requests: int
    limit_items: int
    remaining_items: int
    reset_seconds: float

    def headers(self) -> dict[str, str]:
        return {
            h.RATELIMIT_LIMIT_REQUESTS: str(self.limit_requests),
            h.RATELIMIT_REMAINING_REQUESTS: str(self.remaining_requests),
            h.RATELIMIT_LIMIT_ITEMS: str(self.limit_items),
            h.RATELIMIT_REMAINING_ITEMS: str(self.remaining_items),
            h.RATELIMIT_RESET: f"{self.reset_seconds:.3f}",
        }


@dataclass(frozen=True)
class _Count:
    """One limit's answer: counted or refused, what remains, seconds until the count drops."""

    allowed: bool
    remaining: int
    reset_seconds: float


class KeyRateLimiter:
    """`hit(key_id, items)`: count one request of `items` inputs, or raise RateLimited."""

    def __init__(
        self,
        client: AsyncRedis,
        prefix: str,
        requests: str,
        items: str,
        strategy: str = DEFAULT_STRATEGY,
        pipeliner: ScriptPipeliner | None = None,
    ) -> None:
        """`requests`/`items`: rates in `limits` notation, empty for none; `prefix` starts
        every key (the vendor's VENDOR_REDIS_PREFIX)."""
        self.prefix = prefix
        self.strategy = STRATEGIES[strategy]
        self.strategy_name = strategy
        self.limits = {
            kind: parse_rate(rate) for kind, rate in (("requests", requests), ("items", items))
            if rate
        }  # fmt: skip
        self.script = client.register_script(load_script(self.strategy.script))
        # Given: the call joins the other scripts of its turn in one round trip.
        self.pipeliner = pipeliner

    def keys(self, key_id: str, kind: str) -> list[str]:
        """The Redis keys of one limit of one API key, as its strategy's script takes them."""
        base = f"{self.prefix}{{{key_id}}}:rate:{self.strategy_name}:{kind}:{self.limits[kind]}"
        return [base if len(self.strategy.windows) == 1 else f"{base}:{window}"
                for window in self.strategy.windows]  # fmt: skip

    async def hit(self, key_id: str, items: int) -> RateState | None:
        """Count the request against every limit; RateLimited (Retry-After) if one refused."""
        if not self.limits:
            return None
        costs = {"requests": 1, "items": items}
        keys = [key for kind in self.limits for key in self.keys(key_id, kind)]
        args = [value for kind, limit in self.limits.items()
                for value in (limit.amount, limit.seconds, costs[kind])]  # fmt: skip
        reply = await run_script(self.script, keys, args, self.pipeliner)
        counts = dict(zip(self.limits, _counts(reply), strict=True))
        reset = max(count.reset_seconds for count in counts.values())
        if not all(count.allowed for count in counts.values()):
            raise RateLimited(
                "rate limit exceeded for this API key; slow down",
                retry_after=max(1, math.ceil(reset)),
            )
        requests, items_count = counts.get("requests"), counts.get("items")
        return RateState(
            limit_requests=self.limits["requests"].amount if requests else 0,
            remaining_requests=requests.remaining if requests else 0,
            limit_items=self.limits["items"].amount if items_count else 0,
            remaining_items=items_count.remaining if items_count else 0,
            reset_seconds=reset,
        )


def _counts(reply: list[Any]) -> list[_Count]:
    """The script's flat reply, three integers per limit, as one `_Count` per limit."""
    return [
        _Count(bool(reply[i]), int(reply[i + 1]), int(reply[i + 2]) / 1000)
        for i in range(0, len(reply), 3)
    ]
