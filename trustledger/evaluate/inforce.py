"""When a record counts: the publicity window and the entries that end it early.

A record is in force on day D (the calendar day of the evaluation instant) when it has
been published (publication date ≤ D), D is before the end of its publicity period
(the decision or the publication date, as the regime counts, + the rulebook's maximum for
it; no end where the law gives no term), and no revocation or issuer's end
takes effect on or before D. A record resting on automated data counts only once a person
has confirmed it (principle 4). A correction changes the record's content (the dates and
tier used here come already corrected), not whether it is in force.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from trustledger.domain import RecordStatus
from trustledger.ledger.projection import RecordRow
from trustledger.rulebook.durations import Duration
from trustledger.rulebook.schema import PublicityClock


class Standing(StrEnum):
    """Why a record does or does not count on a given day; explanations quote it."""

    IN_FORCE = "in force"
    NOT_YET_PUBLISHED = "not yet published"
    PUBLICITY_ENDED = "publicity period over"
    REVOKED = "revoked"
    ENDED = "ended by its issuer"
    REPAIRED = "repaired (credit repair granted)"
    UNCONFIRMED = "rests on automated data not yet confirmed by a person"


_ENDINGS = {
    RecordStatus.REVOKED: Standing.REVOKED,
    RecordStatus.ENDED: Standing.ENDED,
    RecordStatus.REPAIRED: Standing.REPAIRED,
}


def standing(record: RecordRow, on: date, publicity_max: Duration | None) -> Standing:
    """The record's standing on day ``on``; ``publicity_max`` None means no maximum."""
    return standing_until(record, on, publicity_ends(record, publicity_max))


def standing_until(record: RecordRow, on: date, publicity_end: date | None) -> Standing:
    """`standing`, given the first day after the publicity period (None: no maximum)."""
    if record.confirmation == "pending":
        return Standing.UNCONFIRMED
    published = date.fromisoformat(record.publication_date)
    if published > on:
        return Standing.NOT_YET_PUBLISHED
    if record.status in _ENDINGS:
        assert record.status_date is not None
        if date.fromisoformat(record.status_date) <= on:
            return _ENDINGS[RecordStatus(record.status)]
    if publicity_end is not None and on >= publicity_end:
        return Standing.PUBLICITY_ENDED
    return Standing.IN_FORCE


def publicity_ends(
    record: RecordRow, publicity_max: Duration | None, clock: PublicityClock = "publication"
) -> date | None:
    """The first day the record no longer counts by itself (None: no maximum), its window
    counted from the decision or from the publication as the regime says (``clock``)."""
    if publicity_max is None:
        return None
    start = record.decision_date if clock == "decision" else record.publication_date
    return publicity_max.after(date.fromisoformat(start))
