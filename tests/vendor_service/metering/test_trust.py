"""TrustedKeys: a key verified a moment ago, still checked against its secret every time."""

from __future__ import annotations

import time

from vendor_service.metering.api_keys import ApiKey, hash_secret
from vendor_service.metering.trust import TrustedKeys

KEY = ApiKey("0123456789ab", "the-secret")


def remembered(seconds: float = 60.0, **kwargs: int) -> TrustedKeys:
    trusted = TrustedKeys(seconds, pepper="p", **kwargs)
    trusted.remember(KEY.key_id, hash_secret(KEY.secret, "p"), available=40)
    return trusted


def test_a_remembered_key_gives_what_it_had_free() -> None:
    assert remembered().standing(KEY) == 40


def test_the_presented_secret_is_still_checked() -> None:
    assert remembered().standing(ApiKey(KEY.key_id, "not-the-secret")) is None
    assert remembered().standing(ApiKey("ba9876543210", KEY.secret)) is None


def test_trust_ends_after_its_period() -> None:
    trusted = remembered(seconds=0.02)
    time.sleep(0.05)
    assert trusted.standing(KEY) is None


def test_zero_seconds_remembers_nothing() -> None:
    assert remembered(seconds=0).standing(KEY) is None


def test_update_and_forget() -> None:
    trusted = remembered()
    trusted.update(KEY.key_id, 7)
    assert trusted.standing(KEY) == 7
    trusted.update("ffffffffffff", 5)  # a key it does not hold stays unheld
    assert trusted.standing(ApiKey("ffffffffffff", "x")) is None
    trusted.forget(KEY.key_id)
    assert trusted.standing(KEY) is None


def test_the_oldest_key_goes_first_when_full() -> None:
    trusted = TrustedKeys(60, pepper="", max_keys=2)
    keys = [ApiKey(f"{i:012x}", f"s{i}") for i in range(3)]
    for key in keys:
        trusted.remember(key.key_id, hash_secret(key.secret, ""), available=1)
    assert [trusted.standing(key) for key in keys] == [None, 1, 1]
