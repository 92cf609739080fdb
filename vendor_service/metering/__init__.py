"""The money: API keys, budgets and the reserve / commit / refund protocol, all in Redis."""

from vendor_service.metering.api_keys import ApiKey, hash_secret, mint_api_key, parse_api_key
from vendor_service.metering.ledger import Ledger, Replay, Reservation, Standing
from vendor_service.metering.reaper import run_reaper

__all__ = [
    "ApiKey",
    "Ledger",
    "Replay",
    "Reservation",
    "Standing",
    "hash_secret",
    "mint_api_key",
    "parse_api_key",
    "run_reaper",
]
