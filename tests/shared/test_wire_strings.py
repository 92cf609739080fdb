import json

import pytest
from pydantic import ValidationError

from shared.schemas import CreateKeyRequest, EmbeddingRequest


@pytest.mark.parametrize(
    "raw",
    [
        '{"model": "m", "input": "a \\ud800 b"}',
        '{"model": "m", "input": ["ok", "\\udfff"]}',
        '{"model": "m\\ud800", "input": "ok"}',
        '{"model": "m", "input": "ok", "user": "\\ud83d"}',
    ],
)
def test_lone_surrogates_are_not_text(raw: str) -> None:
    with pytest.raises(ValidationError, match="lone surrogate"):
        EmbeddingRequest.model_validate(json.loads(raw))


def test_a_key_name_must_be_text() -> None:
    with pytest.raises(ValidationError, match=r"(?i)unicode"):
        CreateKeyRequest.model_validate(json.loads('{"name": "\\ud800", "budget": 1}'))


def test_surrogate_pairs_and_odd_unicode_are_text() -> None:
    body = json.loads('{"model": "m", "input": ["\\ud83e\\udd8a", "\\u0000", "\\u202e"]}')
    assert EmbeddingRequest.model_validate(body).inputs() == ["🦊", "\x00", "\u202e"]
