"""A person's consent to publish a commendation about them, and its withdrawal.

Records about persons are never public (DESIGN principle 6). A commendation of a person
(a category marked ``commends_persons``: volunteer service, blood donation, charity) is
the one exception, and only while the person consents: they give the name to be shown
under and choose which of the record's fields are shown; they may withdraw at any time,
and the next public view no longer has it. Each step is a ledger entry
(``consent.given``, ``consent.withdrawn``) naming the principal, so the history of what
was published, and on whose word, is in the ledger like every other fact.

Only the person, with their own subject key, consents: no operator may do it for them.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from trustledger.catalogue import Catalogue
from trustledger.domain import EntryKind, RecordStatus
from trustledger.dueprocess.procedures import (
    Actor,
    NotAllowed,
    NotFoundError,
    ProcedureError,
    Refused,
)
from trustledger.ids import mask_personal_numbers
from trustledger.ledger.projection import ConsentRow, RecordRow
from trustledger.ledger.store import Store

__all__ = [
    "SHOWABLE",
    "PublishedCommendation",
    "commendations_of",
    "give_consent",
    "published_commendations",
    "withdraw_consent",
]

# the record's fields a person may choose to show beside their display name and the
# category; never the subject (its keyed hash), the record id or the title
SHOWABLE: tuple[str, ...] = ("authority", "document_number", "decision_date")
MAX_DISPLAY_NAME = 60
_LIVE = (RecordStatus.ISSUED.value, RecordStatus.CORRECTED.value)


def _commendation(store: Store, catalogue: Catalogue, actor: Actor, record_id: str) -> RecordRow:
    """The record, if it is a live commendation of the actor (a subject key, on its own)."""
    if actor.role != "subject" or actor.subject is None:
        raise NotAllowed(
            f"only the person commended consents, with their own subject key (not a {actor.role})"
        )
    record: RecordRow | None = store.get_row("records", record_id)
    if record is None or record.subject_id != actor.subject:
        # the same answer for a record that does not exist and one about someone else
        raise NotFoundError(f"no record {record_id} about the subject this key belongs to")
    category = catalogue.get(record.category)
    if category is None or not category.commends_persons:
        raise Refused(
            f"record {record.id} is not a commendation of a person ({record.category}): "
            "only a commendation may be published, and only with consent"
        )
    if record.status not in _LIVE:
        raise Refused(f"record {record.id} is {record.status}: it cannot be published")
    return record


def _display_name(text: str) -> str:
    name = unicodedata.normalize("NFC", text).strip()
    if not name:
        raise ProcedureError("display_name: give the name to be shown (it may be a pseudonym)")
    if len(name) > MAX_DISPLAY_NAME:
        raise ProcedureError(f"display_name: at most {MAX_DISPLAY_NAME} characters")
    if any(unicodedata.category(c).startswith("C") for c in name):
        raise ProcedureError("display_name: control and format characters are not a name")
    if mask_personal_numbers(name) != name:
        # principle 6: an ID number is never published, not even when its owner types it
        raise ProcedureError(
            "display_name: it holds what is or may be a resident ID number; that is never shown"
        )
    return name


def _shown(fields: Iterable[str]) -> list[str]:
    chosen = list(dict.fromkeys(fields))
    unknown = [f for f in chosen if f not in SHOWABLE]
    if unknown:
        raise ProcedureError(
            f"shown: {', '.join(unknown)} may not be shown (choose from {', '.join(SHOWABLE)})"
        )
    return [f for f in SHOWABLE if f in chosen]  # a fixed order: the same choice, one entry


def give_consent(
    store: Store,
    catalogue: Catalogue,
    actor: Actor,
    *,
    record_id: str,
    display_name: str,
    shown: Iterable[str],
    today: date,
) -> ConsentRow:
    """Consent to publish a commendation under ``display_name`` with the ``shown`` fields
    (a new consent replaces the one in force; the very same one again is refused)."""
    record = _commendation(store, catalogue, actor, record_id)
    name = _display_name(display_name)
    fields = _shown(shown)
    with store.writer() as w:
        current: ConsentRow | None = w.get("consents", record.id)
        if (
            current is not None
            and current.status == "given"
            and (current.display_name, json.loads(current.shown)) == (name, fields)
        ):
            raise Refused(f"consent to publish record {record.id} is already given as asked")
        payload: dict[str, Any] = {
            "record_id": record.id,
            "subject": record.subject_id,
            "display_name": name,
            "shown": fields,
            "given_by": actor.id,
            "date": today.isoformat(),
        }
        w.append(EntryKind.CONSENT_GIVEN.value, payload)
    row: ConsentRow = store.get_row("consents", record.id)
    return row


def withdraw_consent(
    store: Store, catalogue: Catalogue, actor: Actor, *, record_id: str, today: date
) -> ConsentRow:
    """Withdraw consent: the commendation is in no public view from now on. A withdrawal
    needs no live record: a revoked commendation's consent may be withdrawn too."""
    if actor.role != "subject" or actor.subject is None:
        raise NotAllowed(
            f"only the person commended withdraws consent, with their own subject key "
            f"(not a {actor.role})"
        )
    with store.writer() as w:
        current: ConsentRow | None = w.get("consents", record_id)
        if current is None or current.subject_id != actor.subject:
            raise NotFoundError(f"no consent about the subject this key belongs to on {record_id}")
        if current.status != "given":
            raise Refused(f"consent to publish record {record_id} is not given")
        w.append(
            EntryKind.CONSENT_WITHDRAWN.value,
            {
                "record_id": record_id,
                "subject": current.subject_id,
                "withdrawn_by": actor.id,
                "date": today.isoformat(),
            },
        )
    row: ConsentRow = store.get_row("consents", record_id)
    return row


def commendations_of(
    store: Store, catalogue: Catalogue, subject_id: str
) -> list[tuple[RecordRow, ConsentRow | None]]:
    """A subject's commendation records, each with its consent (None if never asked)."""
    records = [RecordRow._make(r) for r in store.rows_where("records", "subject_id", [subject_id])]
    out = []
    for record in records:
        category = catalogue.get(record.category)
        if category is not None and category.commends_persons:
            consent: ConsentRow | None = store.get_row("consents", record.id)
            out.append((record, consent))
    return sorted(out, key=lambda pair: (pair[0].decision_date, pair[0].id), reverse=True)


@dataclass(frozen=True)
class PublishedCommendation:
    """One commendation as the public sees it: the display name, the category and only
    the fields its person chose (None otherwise)."""

    display_name: str
    category: str
    category_title: str
    category_title_zh: str
    authority: str | None  # the authority's name
    document_number: str | None
    decision_date: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "display_name": self.display_name,
            "category": self.category,
            "category_title": self.category_title,
            "category_title_zh": self.category_title_zh,
            "authority": self.authority,
            "document_number": self.document_number,
            "decision_date": self.decision_date,
        }


_PUBLISHED = """
SELECT c.display_name, c.shown, r.category, r.document_number, r.decision_date, a.name
FROM consents c
JOIN records r ON r.id = c.id AND r.subject_id = c.subject_id
LEFT JOIN authorities a ON a.id = r.authority_id
WHERE c.status = 'given' AND r.status IN (?, ?)
"""


def published_commendations(store: Store, catalogue: Catalogue) -> list[PublishedCommendation]:
    """Every commendation its person consents to publish, on a live record, newest decision
    first; nothing identifies the person but the name they chose."""
    out = []
    for name, shown_text, code, document, decided, authority in store.query(_PUBLISHED, _LIVE):
        category = catalogue.get(code)
        if category is None or not category.commends_persons or name is None:
            continue
        shown = set(json.loads(shown_text))
        out.append(
            PublishedCommendation(
                name,
                code,
                category.title,
                category.title_zh,
                authority if "authority" in shown else None,
                document if "document_number" in shown else None,
                decided if "decision_date" in shown else None,
            )
        )
    # ordered by what is shown only: a hidden decision date must not show through the order
    return sorted(
        out, key=lambda c: (c.decision_date or "", c.category, c.display_name), reverse=True
    )
