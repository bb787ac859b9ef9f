"""Working days for due-process deadlines (objection replies, repair decisions, removals).

Deadlines in the regimes count working days: Monday to Friday, less public holidays, plus
the weekend days officially worked in exchange for a holiday (调休). No official calendar
ships with the platform — the State Council publishes each year's late in the year before
— so a deployment names its own file (`holidays` in settings): YAML with two lists,

    holidays: [2026-01-01, 2026-02-16, …]
    workdays: [2026-02-14, …]   # weekend days worked in exchange

Without one, only weekends are non-working days, and the notices say so.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import yaml

__all__ = ["CalendarError", "WorkingCalendar", "load_calendar"]


class CalendarError(ValueError):
    """A holiday file that cannot be read as a calendar (the problem is named)."""


@dataclass(frozen=True)
class WorkingCalendar:
    holidays: frozenset[date] = field(default_factory=frozenset)
    workdays: frozenset[date] = field(default_factory=frozenset)
    source: str = "weekends only (no holiday file configured)"

    def is_working_day(self, day: date) -> bool:
        if day in self.workdays:
            return True
        return day.weekday() < 5 and day not in self.holidays

    def add_working_days(self, start: date, n: int) -> date:
        """The day ``n`` working days after ``start`` (the start day itself not counted)."""
        if n < 0:
            raise ValueError(f"a deadline of {n} working days")
        day = start
        while n > 0:
            day += timedelta(days=1)
            if self.is_working_day(day):
                n -= 1
        return day


def load_calendar(path: Path | None) -> WorkingCalendar:
    if path is None:
        return WorkingCalendar()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise CalendarError(f"holiday file {path}: {exc}") from None
    if not isinstance(data, dict) or set(data) - {"holidays", "workdays"}:
        raise CalendarError(f"holiday file {path}: expected the keys holidays and workdays")
    return WorkingCalendar(
        _days(path, "holidays", data.get("holidays")),
        _days(path, "workdays", data.get("workdays")),
        str(path),
    )


def _days(path: Path, key: str, values: object) -> frozenset[date]:
    if values is None:
        return frozenset()
    if not isinstance(values, list):
        raise CalendarError(f"holiday file {path}: {key} must be a list of dates")
    out: set[date] = set()
    for value in _iter(values):
        if isinstance(value, date):
            out.add(value)
            continue
        try:
            out.add(date.fromisoformat(str(value)))
        except ValueError:
            raise CalendarError(f"holiday file {path}: {key}: {value!r} is not a date") from None
    return frozenset(out)


def _iter(values: list[object]) -> Iterable[object]:
    yield from values
