"""Durations of rulebooks: `30d`, `18m`, `3y` (docs/rulebooks.md, "Durations").

Month and year steps land on the same day of the month, clamped to that month's last day,
because that is what PostgreSQL and DuckDB interval arithmetic do and the SQL compiler must
agree with the Python one to the day.
"""

from __future__ import annotations

import re
from calendar import monthrange
from dataclasses import dataclass
from datetime import MAXYEAR, MINYEAR, date, timedelta
from typing import Literal

__all__ = ["MAX_DURATION_DIGITS", "Duration", "DurationUnit", "parse_duration"]

DurationUnit = Literal["d", "m", "y"]

# Nine digits keeps every count inside timedelta's range and far from int-parsing limits;
# anything longer is a typo, not a publicity period.
MAX_DURATION_DIGITS = 9

# [0-9], not \d: \d also matches non-ASCII digits such as "٣", which SQL would not accept.
_DURATION_RE = re.compile(r"([0-9]+)([dmy])")
_UNITS: dict[str, DurationUnit] = {"d": "d", "m": "m", "y": "y"}


@dataclass(frozen=True, slots=True)
class Duration:
    """A positive number of days, months or years."""

    count: int
    unit: DurationUnit

    def __post_init__(self) -> None:
        # bool is an int subclass; Duration(True, "y") would silently mean one year.
        if type(self.count) is not int or self.count < 1:
            raise ValueError(f"duration count must be a positive integer, got {self.count!r}")
        if self.unit not in _UNITS:
            raise ValueError(f"duration unit must be 'd', 'm' or 'y', got {self.unit!r}")

    def __str__(self) -> str:
        return f"{self.count}{self.unit}"

    def before(self, t: date) -> date:
        """The date this duration before `t` (clamped to `date.min` rather than overflowing)."""
        return self._shift(t, -1)

    def after(self, t: date) -> date:
        """The date this duration after `t` (clamped to `date.max` rather than overflowing)."""
        return self._shift(t, 1)

    def _shift(self, t: date, sign: int) -> date:
        # Clamping at the ends of the calendar keeps "within='999999999y'" a valid (if
        # pointless) condition instead of an evaluation-time crash.
        limit = date.min if sign < 0 else date.max
        if self.unit == "d":
            try:
                return t + timedelta(days=sign * self.count)
            except OverflowError:
                return limit
        months = self.count * 12 if self.unit == "y" else self.count
        year, month0 = divmod(t.year * 12 + (t.month - 1) + sign * months, 12)
        if year < MINYEAR or year > MAXYEAR:
            return limit
        month = month0 + 1
        return date(year, month, min(t.day, monthrange(year, month)[1]))


def parse_duration(text: str) -> Duration:
    """Parse `Nd`, `Nm` or `Ny` (N a positive decimal integer); ValueError names the text."""
    if not isinstance(text, str):
        raise ValueError(f"invalid duration {text!r}: expected text such as '30d', '18m' or '3y'")
    match = _DURATION_RE.fullmatch(text)
    if match is None:
        raise ValueError(
            f"invalid duration {text!r}: expected a whole number followed by d, m or y, "
            "such as '30d', '18m' or '3y'"
        )
    digits, unit = match.groups()
    if len(digits.lstrip("0")) > MAX_DURATION_DIGITS:
        raise ValueError(
            f"invalid duration {text!r}: the number has more than {MAX_DURATION_DIGITS} digits"
        )
    # Stripped first so that a long run of leading zeros cannot hit int()'s digit limit.
    count = int(digits.lstrip("0") or "0")
    if count == 0:
        raise ValueError(f"invalid duration {text!r}: must be positive")
    return Duration(count, _UNITS[unit])
