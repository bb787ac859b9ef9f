"""Worked cases of the publicity window and early ends (regimes.md §1 and §2)."""

from __future__ import annotations

from datetime import date

from trustledger.evaluate.inforce import Standing, publicity_ends, standing
from trustledger.ledger.projection import RecordRow
from trustledger.rulebook.durations import parse_duration


def record(published: str, status: str = "issued", status_date: str | None = None) -> RecordRow:
    return RecordRow(
        "R" + "0" * 24, "914403001922038216", "11440305000000010X", "MKT-PENALTY-SERIOUS",
        "serious", "administrative_penalty", "深市监罚〔2023〕1号", published, published,
        None, None, None, status, status_date, None, 1, 1,
    )  # fmt: skip


THREE_YEARS = parse_duration("3y")


def test_serious_penalty_counts_at_14_months_not_at_37() -> None:
    r = record("2023-01-15")
    assert standing(r, date(2024, 3, 15), THREE_YEARS) is Standing.IN_FORCE  # 14 months on
    assert standing(r, date(2026, 2, 15), THREE_YEARS) is Standing.PUBLICITY_ENDED  # 37 months
    assert publicity_ends(r, THREE_YEARS) == date(2026, 1, 15)
    assert standing(r, date(2026, 1, 14), THREE_YEARS) is Standing.IN_FORCE
    assert standing(r, date(2026, 1, 15), THREE_YEARS) is Standing.PUBLICITY_ENDED


def test_not_yet_published() -> None:
    assert standing(record("2024-05-01"), date(2024, 4, 30), THREE_YEARS) is (
        Standing.NOT_YET_PUBLISHED
    )


def test_ended_by_performance_counts_until_the_day_before() -> None:
    two_years = parse_duration("2y")
    r = record("2024-01-10", status="ended", status_date="2024-09-01")
    assert standing(r, date(2024, 8, 31), two_years) is Standing.IN_FORCE
    assert standing(r, date(2024, 9, 1), two_years) is Standing.ENDED
    assert standing(r, date(2024, 9, 2), two_years) is Standing.ENDED


def test_revoked_and_no_maximum() -> None:
    r = record("2020-01-01", status="revoked", status_date="2021-01-01")
    assert standing(r, date(2020, 6, 1), None) is Standing.IN_FORCE
    assert standing(r, date(2021, 1, 1), None) is Standing.REVOKED
    assert publicity_ends(r, None) is None


def test_leap_day_publication() -> None:
    r = record("2024-02-29")
    assert publicity_ends(r, parse_duration("1y")) == date(2025, 2, 28)


def test_a_record_on_automated_data_counts_only_once_confirmed() -> None:
    pending = record("2024-05-01")._replace(confirmation="pending")
    assert standing(pending, date(2024, 6, 1), THREE_YEARS) is Standing.UNCONFIRMED
    confirmed = pending._replace(confirmation="confirmed")
    assert standing(confirmed, date(2024, 6, 1), THREE_YEARS) is Standing.IN_FORCE
