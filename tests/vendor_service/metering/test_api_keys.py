from vendor_service.metering.api_keys import (
    hash_secret,
    mint_api_key,
    parse_api_key,
    secret_matches,
)


def test_minted_keys_parse_back_and_are_unique() -> None:
    keys = {mint_api_key().token for _ in range(100)}
    assert len(keys) == 100
    key = mint_api_key()
    assert parse_api_key(key.token) == key
    assert len(key.secret) >= 43  # 32 random bytes


def test_malformed_tokens_are_rejected() -> None:
    for token in ("", "vk", "vk-", "xx-0123456789ab-s", "vk-0123456789ab-", "vk-XYZ-secret"):
        assert parse_api_key(token) is None


def test_secret_hash_depends_on_pepper() -> None:
    stored = hash_secret("s3cret", "pepper")
    assert secret_matches("s3cret", stored, "pepper")
    assert not secret_matches("s3cret", stored, "other")
    assert not secret_matches("s3cre", stored, "pepper")
    assert "s3cret" not in stored
