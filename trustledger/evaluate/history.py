"""A subject's records as they stood at an instant of ledger time.

Evaluation as of T sees only entries appended at or before T (DESIGN.md "Time"). The
current projection cannot answer that (a later correction or end has overwritten it), so
the subject's record entries are replayed through the same Projector that maintains the
projection, stopping at T. The projection is used only to find which entries to read.
"""

from __future__ import annotations

from collections.abc import Iterable

from trustledger.ledger.projection import HoldRow, ObjectionRow, Projector, RecordRow
from trustledger.ledger.store import Store


def records_as_of(store: Store, subject_id: str, at_us: int | None = None) -> list[RecordRow]:
    """The subject's records (with corrections, revocations and ends) as of ledger time
    ``at_us`` (microseconds since the epoch; None: now), oldest first."""
    current = store.rows_where("records", "subject_id", [subject_id])
    events = store.rows_where("record_events", "record_id", [r.id for r in current])
    seqs = [r.issued_seq for r in current] + [e.seq for e in events]
    projector = Projector()
    for entry in store.entries_at(seqs):
        if at_us is not None and entry.time_us > at_us:
            break  # entries come in seq order, and ledger time never runs backwards
        projector.apply(entry)
    rows: list[RecordRow] = list(projector.changed["records"].values())
    return sorted(rows, key=lambda r: r.issued_seq)


def objections_as_of(
    store: Store, subject_ids: Iterable[str] | None, size: int
) -> dict[str, list[ObjectionRow]]:
    """Subject → its objections as the ledger of ``size`` entries knew them: filed within
    it, and still open if their decision came later."""
    rows = (
        [ObjectionRow._make(r) for r in store.iter_rows("objections")]
        if subject_ids is None
        else store.rows_where("objections", "subject_id", sorted(set(subject_ids)))
    )
    out: dict[str, list[ObjectionRow]] = {}
    for row in rows:
        if row.filed_seq >= size:
            continue
        if row.last_seq >= size:
            row = row._replace(status="open", decided_date=None, reviewer=None, reasons=None)
        out.setdefault(row.subject_id, []).append(row)
    return out


def holds_as_of(
    store: Store, subject_ids: Iterable[str] | None, size: int
) -> dict[str, list[HoldRow]]:
    """Subject → the holds of its listings as the ledger of ``size`` entries knew them."""
    rows = (
        [HoldRow._make(r) for r in store.iter_rows("holds")]
        if subject_ids is None
        else store.rows_where("holds", "subject_id", sorted(set(subject_ids)))
    )
    out: dict[str, list[HoldRow]] = {}
    for row in rows:
        if row.held_seq >= size:
            continue
        if row.last_seq >= size:
            row = row._replace(status="open", released_date=None, released_by=None)
        out.setdefault(row.subject_id, []).append(row)
    return out
