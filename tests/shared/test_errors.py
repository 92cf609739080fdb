from shared.errors import ERROR_TABLE, ErrorBody, ErrorCode, status_of


def test_every_code_has_a_status_and_type() -> None:
    assert set(ERROR_TABLE) == set(ErrorCode)
    assert all(400 <= status < 600 for status, _ in ERROR_TABLE.values())
    # 500 is reserved for our own bugs, and only one code carries it
    assert [c for c, (status, _) in ERROR_TABLE.items() if status == 500] == [
        ErrorCode.INTERNAL_ERROR
    ]


def test_error_body_shape() -> None:
    body = ErrorBody.of(ErrorCode.INSUFFICIENT_BUDGET, "not enough credits").model_dump(mode="json")
    assert body == {
        "error": {
            "message": "not enough credits",
            "type": "billing_error",
            "code": "insufficient_budget",
        }
    }
    assert status_of(ErrorCode.INSUFFICIENT_BUDGET) == 402
