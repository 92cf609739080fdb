"""The money, all in Redis: API keys, budgets and the reserve / commit / refund protocol
(`ledger`, its `scripts/*.lua`, `trust`, `reaper`, `accounts`), the per-key rate limits
(`rate_limits`), and the pipeliner that sends their scripts of one event-loop turn together."""

from vendor_service.metering.api_keys import ApiKey, hash_secret, mint_api_key, parse_api_key
from vendor_service.metering.ledger import Ledger, Replay, Reservation, Standing
from vendor_service.metering.reaper import claim_round, reap_expired, run_reaper

__all__ = [
    "ApiKey",
    "Ledger",
    "Replay",
    "Reservation",
    "Standing",
    "claim_round",
    "hash_secret",
    "mint_api_key",
    "parse_api_key",
    "reap_expired",
    "run_reaper",
]
