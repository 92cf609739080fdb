"""Content hashing: what makes two queries "the same" on both sides of the wire.

Every field is length-prefixed before hashing, so no two different tuples share a digest by
concatenation (`("ab", "c")` vs `("a", "bc")`).
"""

from __future__ import annotations

import hashlib

import orjson


def _digest(*parts: bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(len(part).to_bytes(8, "big"))
        h.update(part)
    return h.hexdigest()


def content_key(model_id: str, modality: str, payload: bytes, preprocessing: str = "") -> str:
    """sha256 over (vendor model id, modality, exact bytes or UTF-8 text, preprocessing)."""
    return _digest(model_id.encode(), modality.encode(), payload, preprocessing.encode())


def text_content_key(model_id: str, text: str, preprocessing: str = "") -> str:
    return content_key(model_id, "text", text.encode("utf-8"), preprocessing)


def request_fingerprint(body: dict[str, object]) -> str:
    """Stable digest of a request body (sorted keys), to detect a reused Idempotency-Key."""
    return _digest(orjson.dumps(body, option=orjson.OPT_SORT_KEYS))
