"""API key format `vk-<key_id>-<secret>`: only a hash of the secret is ever stored.

The key id is public (it names the account in logs and admin routes); the secret is 32 random
bytes, url-safe base64, shown once at creation. Stored: HMAC-SHA256(pepper, secret).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

PREFIX = "vk"
KEY_ID_BYTES = 6  # 12 hex characters, never a dash
SECRET_BYTES = 32


@dataclass(frozen=True)
class ApiKey:
    key_id: str
    secret: str = ""

    @property
    def token(self) -> str:
        return f"{PREFIX}-{self.key_id}-{self.secret}"


def mint_api_key() -> ApiKey:
    return ApiKey(secrets.token_hex(KEY_ID_BYTES), secrets.token_urlsafe(SECRET_BYTES))


def parse_api_key(token: str) -> ApiKey | None:
    """`vk-<key_id>-<secret>` -> ApiKey, or None when it cannot be one of ours."""
    prefix, _, rest = token.partition("-")
    key_id, _, secret = rest.partition("-")
    if prefix != PREFIX or len(key_id) != 2 * KEY_ID_BYTES or not secret:
        return None
    if not all(c in "0123456789abcdef" for c in key_id):
        return None
    return ApiKey(key_id, secret)


def hash_secret(secret: str, pepper: str) -> str:
    return hmac.new(pepper.encode(), secret.encode(), hashlib.sha256).hexdigest()


def secret_matches(secret: str, stored_hash: str, pepper: str) -> bool:
    """Constant-time comparison of a presented secret with the stored hash."""
    return hmac.compare_digest(hash_secret(secret, pepper), stored_hash)
