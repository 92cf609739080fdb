"""Response bytes of `POST /v1/embeddings`, split around the one number only commit knows.

The body is `shared.schemas.EmbeddingResponse`; `usage.budget_remaining` is its last field,
so the bytes are `head + str(remaining) + tail` and commit.lua stores exactly what is sent.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson

from shared.codec import embedding_to_base64
from shared.schemas import EncodingFormat

_LAST_FIELD = b'"budget_remaining":'
_TAIL = b"}}"


def render_split(
    vectors: np.ndarray,
    model_id: str,
    encoding: EncodingFormat,
    images: int,
    texts: int,
    cost: int,
) -> tuple[bytes, bytes]:
    """(head, tail) of the response body; the caller puts the remaining budget between."""
    if encoding is EncodingFormat.BASE64:
        rows: list[Any] = [embedding_to_base64(row) for row in vectors]
    else:
        rows = list(vectors)
    body = {
        "object": "list",
        "data": [
            {"object": "embedding", "index": i, "embedding": row} for i, row in enumerate(rows)
        ],
        "model": model_id,
        "usage": {
            # One "token" per input: prices are per item, not per BPE token.
            "prompt_tokens": images + texts,
            "total_tokens": images + texts,
            "images": images,
            "texts": texts,
            "cost": cost,
            "budget_remaining": 0,
        },
    }
    raw = orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY)
    closing = _LAST_FIELD + b"0" + _TAIL
    if not raw.endswith(closing):  # the schema changed under us: fail loudly, charge nothing
        raise RuntimeError("budget_remaining is not the last field of the response")
    return raw[: -len(closing)] + _LAST_FIELD, _TAIL


def join(head: bytes, remaining: int, tail: bytes) -> bytes:
    return head + str(remaining).encode() + tail
