"""Objections and credit repair: each step checked, then written as a ledger entry.

A subject objects to a record (its content, its publicity period, a listing resting on it,
or a repair decision about it); a reviewer — never one of the authority that issued the
record — upholds or dismisses it within the regime's deadline in working days. Upheld, the
record is withdrawn (a `record.revoked` entry citing the decision) or corrected, in the
same transaction, so every outcome resting on it changes at once.

A subject applies for repair of a record once its publicity minimum has passed (a minor
record: as soon as its obligations are met), with digests of the proof of correction, of
the obligations met and of a signed credit commitment; too early is refused with the first
day it becomes possible. Granted, a `record.repaired` entry stops the record counting from
the grant date. Repair is free and the same for everyone: nothing here depends on who the
subject is.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal, Protocol

from trustledger.domain import EntryKind, RecordStatus, Tier
from trustledger.dueprocess import records_queries
from trustledger.dueprocess.calendar import WorkingCalendar
from trustledger.ledger.projection import HoldRow, ObjectionRow, RecordRow, RepairRow
from trustledger.ledger.store import Store
from trustledger.rulebook.durations import Duration

__all__ = [
    "GROUNDS",
    "Actor",
    "Deadlines",
    "NotAllowed",
    "NotFoundError",
    "ProcedureError",
    "Refused",
    "apply_repair",
    "decide_objection",
    "decide_repair",
    "earliest_repair",
    "file_objection",
    "hold_listing",
    "overdue",
    "release_hold",
]

Ground = Literal["content", "publicity", "listing", "repair_decision"]
GROUNDS: tuple[Ground, ...] = ("content", "publicity", "listing", "repair_decision")
_DIGEST = re.compile(r"[0-9a-f]{64}")
_DONE = frozenset({RecordStatus.REVOKED, RecordStatus.ENDED, RecordStatus.REPAIRED})


class ProcedureError(ValueError):
    """A step that cannot be taken as asked (names what is wrong); nothing is written."""


class NotFoundError(ProcedureError):
    """No such record, objection or repair application."""


class Refused(ProcedureError):
    """The step cannot be taken now: too early, already decided, still open."""


class NotAllowed(Refused):
    """The principal may not take this step (wrong role, another subject, own authority)."""


class Actor(Protocol):
    """Who takes a step: a principal of the access layer."""

    @property
    def id(self) -> str: ...
    @property
    def role(self) -> str: ...
    @property
    def authority(self) -> str | None: ...
    @property
    def subject(self) -> str | None: ...


@dataclass(frozen=True)
class Deadlines:
    """The regime's deadlines in working days (regimes.md §1: objections 15, unconfirmed;
    repair decisions 10, from a secondary summary)."""

    objection: int = 15
    repair: int = 10


def _record(store: Store, record_id: str) -> RecordRow:
    record: RecordRow | None = store.get_row("records", record_id)
    if record is None:
        raise NotFoundError(f"no record {record_id}")
    return record


def _own(actor: Actor, record: RecordRow) -> None:
    """The subject itself (or the operator filing on its behalf)."""
    if actor.role == "subject" and actor.subject != record.subject_id:
        raise NotAllowed(f"record {record.id} is not about the subject this key belongs to")
    if actor.role not in ("subject", "operator"):
        raise NotAllowed(f"a {actor.role} cannot file for a subject (a subject or an operator can)")


def _reviewer(actor: Actor, record: RecordRow) -> None:
    if actor.role != "reviewer":
        raise NotAllowed(f"only a reviewer decides, not a {actor.role}")
    if actor.authority is not None and actor.authority == record.authority_id:
        raise NotAllowed(
            f"reviewer {actor.id} belongs to {record.authority_id}, which issued record "
            f"{record.id}: a reviewer never decides on its own authority's record"
        )


def _text(value: str, what: str) -> str:
    value = value.strip()
    if not value:
        raise ProcedureError(f"{what}: give the reasons in words")
    if any(ord(c) < 32 and c not in "\n\t" for c in value):
        raise ProcedureError(f"{what}: control characters are not text")
    if len(value) > 4000:
        raise ProcedureError(f"{what}: at most 4,000 characters")
    return value


def _digests(values: Iterable[str], what: str) -> list[str]:
    out = []
    for value in values:
        if _DIGEST.fullmatch(value) is None:
            raise ProcedureError(f"{what}: {value!r} is not a SHA-256 digest (64 hex digits)")
        out.append(value)
    return out


def _id(prefix: str, *parts: str) -> str:
    return prefix + hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:24]


def file_objection(
    store: Store,
    actor: Actor,
    *,
    record_id: str,
    ground: str,
    reasons: str,
    evidence: Iterable[str] = (),
    today: date,
    calendar: WorkingCalendar,
    deadlines: Deadlines = Deadlines(),
) -> ObjectionRow:
    """Object to a record; the record and what rests on it show `under objection`."""
    if ground not in GROUNDS:
        raise ProcedureError(f"ground: {ground!r} is not one of {', '.join(GROUNDS)}")
    record = _record(store, record_id)
    _own(actor, record)
    if record.status in _DONE:
        raise Refused(f"record {record.id} is already {record.status}: nothing to object to")
    text = _text(reasons, "reasons")
    digests = _digests(evidence, "evidence")
    open_ = [
        o for o in store.rows_where("objections", "record_id", [record.id])
        if o.status == "open" and o.ground == ground
    ]  # fmt: skip
    if open_:
        raise Refused(f"objection {open_[0].id} on the {ground} of this record is still open")
    objection_id = _id("O", record.id, ground, today.isoformat(), text)
    payload: dict[str, Any] = {
        "objection_id": objection_id,
        "record_id": record.id,
        "subject": record.subject_id,
        "ground": ground,
        "reasons": text,
        "evidence": digests,
        "filed_by": actor.id,
        "filed_date": today.isoformat(),
        "deadline": calendar.add_working_days(today, deadlines.objection).isoformat(),
        "calendar": calendar.source,
    }
    with store.writer() as w:
        w.append(EntryKind.OBJECTION_FILED.value, payload)
    row: ObjectionRow = store.get_row("objections", objection_id)
    return row


def decide_objection(
    store: Store,
    actor: Actor,
    *,
    objection_id: str,
    outcome: str,
    reasons: str,
    today: date,
    changes: dict[str, str] | None = None,
) -> ObjectionRow:
    """Uphold (the record is withdrawn, or corrected when ``changes`` are given) or dismiss."""
    objection: ObjectionRow | None = store.get_row("objections", objection_id)
    if objection is None:
        raise NotFoundError(f"no objection {objection_id}")
    if objection.status != "open":
        raise Refused(f"objection {objection_id} was already decided ({objection.status})")
    if outcome not in ("upheld", "dismissed"):
        raise ProcedureError(f"outcome: {outcome!r} is not upheld or dismissed")
    record = _record(store, objection.record_id)
    _reviewer(actor, record)
    text = _text(reasons, "reasons")
    decided = {
        "objection_id": objection_id,
        "record_id": record.id,
        "subject": record.subject_id,
        "outcome": outcome,
        "reasons": text,
        "reviewer": actor.id,
        "decided_date": today.isoformat(),
    }
    with store.writer() as w:
        w.append(EntryKind.OBJECTION_DECIDED.value, decided)
        if outcome == "upheld" and record.status not in _DONE:
            change: dict[str, Any] = {
                "record_id": record.id,
                "event_id": _id("E", objection_id, "upheld"),
                "authority": record.authority_id,
                "document_number": f"objection {objection_id}",
                # wrong content, or a listing that should never have rested on it: void
                # from the start; otherwise from the decision on
                "effective_date": record.decision_date
                if objection.ground in ("content", "listing")
                else max(today.isoformat(), record.decision_date),
                "reason": f"objection upheld: {text}",
            }
            if changes:
                w.append(EntryKind.RECORD_CORRECTED.value, {**change, "changes": changes})
            else:
                w.append(EntryKind.RECORD_REVOKED.value, change)
    row: ObjectionRow = store.get_row("objections", objection_id)
    return row


def earliest_repair(
    record: RecordRow, minimums: Iterable[Duration], earliest: Iterable[date] = ()
) -> date:
    """The first day repair may be applied for: the record's publicity minimum after its
    publication (the strictest of the rulebooks that treat it); a minor record at once.
    ``earliest``: first days already counted by a rulebook's own clock (a regime counting
    its publicity period from the decision, NDRC Order No. 36); never before publication."""
    published = date.fromisoformat(record.publication_date)
    if record.tier == Tier.MINOR:
        return published
    return max([published, *(m.after(published) for m in minimums), *earliest])


def apply_repair(
    store: Store,
    actor: Actor,
    *,
    record_id: str,
    correction: str,
    obligations: str,
    commitment: str,
    minimums: Iterable[Duration],
    today: date,
    calendar: WorkingCalendar,
    earliest: Iterable[date] = (),
    deadlines: Deadlines = Deadlines(),
) -> RepairRow:
    """Apply for credit repair with digests of the proof of correction, of the obligations
    met and of the signed credit commitment."""
    record = _record(store, record_id)
    _own(actor, record)
    if record.status in _DONE:
        raise Refused(f"record {record.id} is already {record.status}: nothing to repair")
    proof = _digests([correction, obligations, commitment], "proof")
    first = earliest_repair(record, minimums, earliest)
    if today < first:
        raise Refused(
            f"too early: repair of record {record.id} may be applied for from "
            f"{first.isoformat()} (its publicity minimum after the decision on "
            f"{record.decision_date} or the publication on {record.publication_date}, as "
            "each regime counts the publicity period)"
        )
    pending = [r for r in store.rows_where("repairs", "record_id", [record.id])
               if r.status == "open"]  # fmt: skip
    if pending:
        raise Refused(f"repair application {pending[0].id} for this record is still open")
    repair_id = _id("P", record.id, today.isoformat(), *proof)
    with store.writer() as w:
        w.append(EntryKind.REPAIR_APPLIED.value, {
            "repair_id": repair_id, "record_id": record.id, "subject": record.subject_id,
            "proof": {"correction": proof[0], "obligations": proof[1], "commitment": proof[2]},
            "applicant": actor.id, "applied_date": today.isoformat(),
            "deadline": calendar.add_working_days(today, deadlines.repair).isoformat(),
            "calendar": calendar.source,
        })  # fmt: skip
    row: RepairRow = store.get_row("repairs", repair_id)
    return row


def decide_repair(
    store: Store, actor: Actor, *, repair_id: str, outcome: str, reasons: str, today: date
) -> RepairRow:
    """Grant (the record stops counting from today) or refuse, with reasons."""
    repair: RepairRow | None = store.get_row("repairs", repair_id)
    if repair is None:
        raise NotFoundError(f"no repair application {repair_id}")
    if repair.status != "open":
        raise Refused(f"repair application {repair_id} was already decided ({repair.status})")
    if outcome not in ("granted", "refused"):
        raise ProcedureError(f"outcome: {outcome!r} is not granted or refused")
    record = _record(store, repair.record_id)
    _reviewer(actor, record)
    text = _text(reasons, "reasons")
    with store.writer() as w:
        w.append(EntryKind.REPAIR_DECIDED.value, {
            "repair_id": repair_id, "record_id": record.id, "subject": record.subject_id,
            "outcome": outcome, "reasons": text, "reviewer": actor.id,
            "decided_date": today.isoformat(),
        })  # fmt: skip
        if outcome == "granted" and record.status not in _DONE:
            w.append(EntryKind.RECORD_REPAIRED.value, {
                "record_id": record.id, "event_id": _id("E", repair_id, "granted"),
                "authority": record.authority_id, "document_number": f"repair {repair_id}",
                "effective_date": max(today.isoformat(), record.decision_date),
                "reason": f"credit repair granted: {text}",
            })  # fmt: skip
    row: RepairRow = store.get_row("repairs", repair_id)
    return row


def overdue(store: Store, today: date) -> list[ObjectionRow | RepairRow]:
    """Open objections and repair applications past their deadline, for operators."""
    return records_queries.overdue(store, today.isoformat())


def hold_listing(
    store: Store,
    actor: Actor,
    *,
    subject_id: str,
    rulebook_id: str,
    list_id: str,
    reasons: str,
    today: date,
) -> HoldRow:
    """Hold a subject's pending listing for human review: it stays pending (denying
    nothing, unpublished) until the hold is released. A listing already in effect is
    contested by objecting to a record behind it, not held."""
    if actor.role != "operator":
        raise NotAllowed(f"only an operator holds a listing, not a {actor.role}")
    text = _text(reasons, "reasons")
    day = today.isoformat()
    runs = [
        r for r in records_queries.list_runs(store, subject_id, rulebook_id, list_id)
        if r[4] <= day and (r[5] is None or day < r[5])
    ]  # fmt: skip
    if not runs:
        raise NotFoundError(f"{subject_id} is not on list {list_id} of {rulebook_id} today")
    if all(r[7] is not None and r[7] <= day for r in runs):
        raise Refused(
            f"the listing of {subject_id} on {list_id} is already in effect (since "
            f"{runs[0][7]}): contest it by objecting to a record behind it"
        )
    if any(h.status == "open" and h.rulebook_id == rulebook_id and h.list_id == list_id
           for h in store.rows_where("holds", "subject_id", [subject_id])):  # fmt: skip
        raise Refused(f"the listing of {subject_id} on {list_id} is already held")
    hold_id = _id("H", subject_id, rulebook_id, list_id, day)
    with store.writer() as w:
        w.append(EntryKind.LISTING_HELD.value, {
            "hold_id": hold_id, "subject": subject_id, "rulebook": rulebook_id,
            "list": list_id, "held_date": day, "held_by": actor.id, "reasons": text,
        })  # fmt: skip
    row: HoldRow = store.get_row("holds", hold_id)
    return row


def release_hold(store: Store, actor: Actor, *, hold_id: str, reasons: str, today: date) -> HoldRow:
    """Release a hold after review: the listing takes effect from today (or later, at the
    end of its notice period)."""
    if actor.role not in ("operator", "reviewer"):
        raise NotAllowed(f"only an operator or a reviewer releases a hold, not a {actor.role}")
    hold: HoldRow | None = store.get_row("holds", hold_id)
    if hold is None:
        raise NotFoundError(f"no hold {hold_id}")
    if hold.status != "open":
        raise Refused(f"hold {hold_id} was already released on {hold.released_date}")
    text = _text(reasons, "reasons")
    with store.writer() as w:
        w.append(EntryKind.LISTING_RELEASED.value, {
            "hold_id": hold_id, "subject": hold.subject_id, "released_date": today.isoformat(),
            "released_by": actor.id, "reasons": text,
        })  # fmt: skip
    row: HoldRow = store.get_row("holds", hold_id)
    return row
