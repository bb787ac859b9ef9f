"""The two time axes, parsed once for every face (DESIGN.md, "Time").

- ``known_at``: ledger time, an instant — what the platform knew then. ``None`` means now
  (the live state). A bare date means the end of that day on the configured calendar; a
  date-time without a zone is local time.
- ``on``: the legal day on which standing is judged, a date on the configured calendar.
  Default: today.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from trustledger.app.errors import BadInput

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def parse_known_at(text: str | None, timezone: str) -> int | None:
    """``--known-at`` → ledger µs, or None for now."""
    if text is None or text.strip().lower() in ("", "now"):
        return None
    zone = ZoneInfo(timezone)
    text = text.strip()
    try:
        if len(text) == 10:
            moment = datetime.combine(date.fromisoformat(text), time.max, zone)
        else:
            moment = datetime.fromisoformat(text)
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=zone)
    except ValueError:
        raise BadInput(
            f"--known-at {text!r} is not a date (YYYY-MM-DD) or an ISO date-time"
        ) from None
    return (moment - _EPOCH) // timedelta(microseconds=1)


def parse_on(text: str | None, today: date) -> date:
    """``--on`` → the legal day; ``today`` when not given."""
    if text is None or text.strip().lower() in ("", "today"):
        return today
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise BadInput(f"--on {text!r} is not a day (YYYY-MM-DD)") from None


def instant_text(at_us: int, timezone: str) -> str:
    """An instant in µs as an ISO date-time on the configured calendar."""
    moment = _EPOCH + timedelta(microseconds=at_us)
    return moment.astimezone(ZoneInfo(timezone)).isoformat()


@dataclass(frozen=True)
class When:
    """Both axes of one question: ``at_us`` None is now (the live state)."""

    at_us: int | None
    on: date
    # the instant "now" stood for, so an answer says when it was given
    now_us: int
    timezone: str

    @property
    def live(self) -> bool:
        return self.at_us is None

    @property
    def known_at_us(self) -> int:
        return self.now_us if self.at_us is None else self.at_us

    def known_at_text(self) -> str:
        return instant_text(self.known_at_us, self.timezone)

    def to_json(self) -> dict[str, Any]:
        return {"known_at": self.known_at_text(), "on": self.on.isoformat()}

    def line(self) -> str:
        live = " (now)" if self.live else ""
        return f"known at {self.known_at_text()}{live}, on {self.on.isoformat()}"


def when(known_at: str | None, on: str | None, *, timezone: str, now_us: int, today: date) -> When:
    """Both flags parsed together, with the defaults (now, today) filled in."""
    at_us = parse_known_at(known_at, timezone)
    if at_us is not None and at_us >= now_us:
        # the ledger cannot know more later than it knows now: a future instant is now
        at_us = None
    return When(at_us, parse_on(on, today), now_us, timezone)
