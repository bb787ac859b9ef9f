"""Canonical JSON agrees with an independent RFC 8785 implementation."""

from __future__ import annotations

from typing import Any

import pytest
import rfc8785
from hypothesis import given
from hypothesis import strategies as st

from trustledger.ledger.canonical import (
    MAX_SAFE_INTEGER,
    CanonicalJSONError,
    canonical_json,
    parse_json,
)

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-MAX_SAFE_INTEGER, max_value=MAX_SAFE_INTEGER)
    | st.text(alphabet=st.characters(blacklist_categories=("Cs",)))
)
values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(
            st.text(st.characters(blacklist_categories=("Cs",)), max_size=8), children, max_size=5
        )
    ),
    max_leaves=30,
)


@given(values)
def test_matches_rfc8785(value: Any) -> None:
    assert canonical_json(value) == rfc8785.dumps(value)


@given(values)
def test_round_trip_is_stable(value: Any) -> None:
    once = canonical_json(value)
    assert canonical_json(parse_json(once)) == once


@given(
    st.dictionaries(
        st.text(
            alphabet=st.characters(min_codepoint=0xD000, blacklist_categories=("Cs",)), max_size=3
        ),
        st.integers(0, 9),
        min_size=2,
        max_size=6,
    )
)
def test_key_order_is_utf16_for_astral_keys(value: dict[str, int]) -> None:
    assert canonical_json(value) == rfc8785.dumps(value)


def test_key_order_example() -> None:
    # U+E000 sorts after U+1F600 in UTF-16 (0xE000 > 0xD83D) but before it by code point
    assert canonical_json({"\U0001f600": 1, "\ue000": 2}) == rfc8785.dumps(
        {"\U0001f600": 1, "\ue000": 2}
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (1.5, "floats are not allowed"),
        ({"a": [2**53]}, r"\$\.a\[0\]: integer 9007199254740992 is outside"),
        ({1: "x"}, "object key 1 is not a string"),
        ({"when": object()}, "object has no JSON form"),
        ({"name": "\ud800"}, "not valid Unicode"),
        ({"\ud800\U0001f600": 1}, "not valid Unicode"),
    ],
)
def test_refused(value: Any, message: str) -> None:
    with pytest.raises(CanonicalJSONError, match=message):
        canonical_json(value)
