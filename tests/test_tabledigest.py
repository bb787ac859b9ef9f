"""LtHash16 table digests: order-independent, updatable, and the same whatever the backend
returns for a value."""

from __future__ import annotations

import pytest

from trustledger.ledger.tabledigest import TableDigest, row_bytes

ROWS = [("a", 1, None), ("b", 2, "x"), ("c", 3, b"\x00\xff")]


def test_order_does_not_matter_and_removal_undoes_addition() -> None:
    forward = TableDigest.of(ROWS)
    backward = TableDigest.of(list(reversed(ROWS)))
    assert forward == backward and forward.count == 3
    grown = TableDigest.of(ROWS[:1])
    grown.add(ROWS[1:])
    assert grown == forward
    grown.remove(ROWS[1:2])
    assert grown == TableDigest.of([ROWS[0], ROWS[2]])
    grown.remove([ROWS[0], ROWS[2]])
    assert grown.is_zero()


def test_a_changed_value_a_missing_row_and_a_duplicated_row_all_differ() -> None:
    base = TableDigest.of(ROWS)
    assert TableDigest.of([("a", 1, None), ("b", 2, "y"), ROWS[2]]) != base
    assert TableDigest.of(ROWS[:2]) != base
    assert TableDigest.of([*ROWS, ROWS[0]]) != base


def test_backend_types_encode_alike() -> None:
    # SQLite returns a REAL column's integral value as a float; PostgreSQL BYTEA as memoryview
    assert row_bytes((35.0, memoryview(b"ab"), True)) == row_bytes((35, b"ab", 1))
    assert row_bytes((35.5,)) != row_bytes((35,))


def test_the_json_form_round_trips_and_refuses_a_wrong_length() -> None:
    digest = TableDigest.of(ROWS)
    assert TableDigest.from_json(digest.to_json()) == digest
    with pytest.raises(ValueError, match="2048 bytes"):
        TableDigest.from_json({"rows": 1, "lthash": "AAAA"})
