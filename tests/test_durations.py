"""Durations of rulebooks: parsing and month-end-clamped calendar arithmetic."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trustledger.rulebook.durations import Duration, parse_duration


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30d", Duration(30, "d")),
        ("18m", Duration(18, "m")),
        ("3y", Duration(3, "y")),
        ("1d", Duration(1, "d")),
        ("007y", Duration(7, "y")),
        ("999999999d", Duration(999_999_999, "d")),
    ],
)
def test_parse(text: str, expected: Duration) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "expected a whole number followed by d, m or y"),
        ("3", "expected a whole number"),
        ("y", "expected a whole number"),
        ("3w", "expected a whole number"),
        ("3Y", "expected a whole number"),
        (" 3y", "expected a whole number"),
        ("3y ", "expected a whole number"),
        ("-3y", "expected a whole number"),
        ("+3y", "expected a whole number"),
        ("3.5y", "expected a whole number"),
        ("٣y", "expected a whole number"),  # Arabic-Indic three: not an ASCII digit
        ("0d", "must be positive"),
        ("000m", "must be positive"),
        ("1000000000d", "more than 9 digits"),
    ],
)
def test_parse_refuses(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason) as info:
        parse_duration(text)
    assert repr(text) in str(info.value)


def test_parse_refuses_long_zero_padding_cleanly() -> None:
    # int() refuses more than 4,300 digits; the leading zeros must not reach it.
    assert parse_duration("0" * 10_000 + "5d") == Duration(5, "d")


def test_parse_refuses_non_text() -> None:
    with pytest.raises(ValueError, match="invalid duration 3"):
        parse_duration(3)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("count", "unit"), [(0, "d"), (-1, "m"), (True, "y"), (1, "w"), (1.5, "d")]
)
def test_constructor_validates(count: object, unit: object) -> None:
    with pytest.raises(ValueError):
        Duration(count, unit)  # type: ignore[arg-type]


def test_str_round_trips() -> None:
    for text in ("30d", "18m", "3y"):
        assert str(parse_duration(text)) == text


@pytest.mark.parametrize(
    ("duration", "t", "before", "after"),
    [
        # The specification's example and its mirror image.
        (Duration(1, "y"), date(2024, 2, 29), date(2023, 2, 28), date(2025, 2, 28)),
        (Duration(4, "y"), date(2024, 2, 29), date(2020, 2, 29), date(2028, 2, 29)),
        (Duration(1, "m"), date(2024, 3, 31), date(2024, 2, 29), date(2024, 4, 30)),
        (Duration(1, "m"), date(2023, 3, 31), date(2023, 2, 28), date(2023, 4, 30)),
        (Duration(1, "m"), date(2024, 1, 31), date(2023, 12, 31), date(2024, 2, 29)),
        (Duration(18, "m"), date(2024, 8, 31), date(2023, 2, 28), date(2026, 2, 28)),
        (Duration(12, "m"), date(2024, 2, 29), date(2023, 2, 28), date(2025, 2, 28)),
        (Duration(3, "y"), date(2024, 6, 15), date(2021, 6, 15), date(2027, 6, 15)),
        (Duration(30, "d"), date(2024, 3, 1), date(2024, 1, 31), date(2024, 3, 31)),
        (Duration(1, "d"), date(2024, 3, 1), date(2024, 2, 29), date(2024, 3, 2)),
        (Duration(366, "d"), date(2024, 12, 31), date(2023, 12, 31), date(2026, 1, 1)),
    ],
)
def test_before_and_after(duration: Duration, t: date, before: date, after: date) -> None:
    assert duration.before(t) == before
    assert duration.after(t) == after


def test_clamps_at_the_ends_of_the_calendar() -> None:
    assert Duration(999_999_999, "y").before(date(2024, 1, 1)) == date.min
    assert Duration(999_999_999, "d").before(date(2024, 1, 1)) == date.min
    assert Duration(999_999_999, "m").after(date(2024, 1, 1)) == date.max
    assert Duration(999_999_999, "d").after(date(2024, 1, 1)) == date.max
    assert Duration(1, "d").before(date.min) == date.min


@given(
    t=st.dates(min_value=date(1900, 1, 1), max_value=date(2200, 12, 31)),
    count=st.integers(min_value=1, max_value=600),
    unit=st.sampled_from(["m", "y"]),
)
def test_month_steps_keep_the_day_or_clamp(t: date, count: int, unit: str) -> None:
    duration = parse_duration(f"{count}{unit}")
    months = count * 12 if unit == "y" else count
    for sign, shifted in ((-1, duration.before(t)), (1, duration.after(t))):
        assert (shifted.year * 12 + shifted.month) - (t.year * 12 + t.month) == sign * months
        next_month_first = (shifted.replace(day=28) + timedelta(days=4)).replace(day=1)
        last_day = (next_month_first - timedelta(days=1)).day
        assert shifted.day == min(t.day, last_day)


@given(
    t=st.dates(min_value=date(1900, 1, 1), max_value=date(2200, 12, 31)),
    count=st.integers(min_value=1, max_value=40_000),
)
def test_day_steps_are_calendar_days(t: date, count: int) -> None:
    duration = Duration(count, "d")
    assert (t - duration.before(t)).days == count
    assert (duration.after(t) - t).days == count
