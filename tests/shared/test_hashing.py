from shared.hashing import content_key, request_fingerprint, text_content_key


def test_fields_are_length_prefixed() -> None:
    assert content_key("ab", "c", b"") != content_key("a", "bc", b"")
    assert content_key("m", "image", b"x", "p1") != content_key("m", "image", b"xp", "1")


def test_every_field_changes_the_key() -> None:
    base = content_key("m", "image", b"bytes", "clean")
    assert (
        len(
            {
                base,
                content_key("m2", "image", b"bytes", "clean"),
                content_key("m", "text", b"bytes", "clean"),
                content_key("m", "image", b"bytes2", "clean"),
                content_key("m", "image", b"bytes", "aug:1"),
            }
        )
        == 5
    )


def test_text_key_matches_utf8_bytes() -> None:
    assert text_content_key("m", "café") == content_key("m", "text", "café".encode())


def test_fingerprint_ignores_key_order() -> None:
    assert request_fingerprint({"a": 1, "b": [2]}) == request_fingerprint({"b": [2], "a": 1})
    assert request_fingerprint({"a": 1}) != request_fingerprint({"a": 2})
