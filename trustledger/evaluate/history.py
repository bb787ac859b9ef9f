"""A subject's records as they stood at an instant of ledger time.

Evaluation as of T sees only entries appended at or before T (DESIGN.md "Time"). The
current projection cannot answer that (a later correction or end has overwritten it), so
the subject's record entries are replayed through the same Projector that maintains the
projection, stopping at T. The projection is used only to find which entries to read.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from trustledger.ledger.projection import TABLES, HoldRow, ObjectionRow, Projector, RecordRow
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
    undecided = {"status": "open", "decided_date": None, "reviewer": None, "reasons": None}
    return _as_of(store, "objections", subject_ids, size, undecided)


def holds_as_of(
    store: Store, subject_ids: Iterable[str] | None, size: int
) -> dict[str, list[HoldRow]]:
    """Subject → the holds of its listings as the ledger of ``size`` entries knew them."""
    unreleased = {"status": "open", "released_date": None, "released_by": None}
    return _as_of(store, "holds", subject_ids, size, unreleased)


def _as_of(
    store: Store, table: str, subject_ids: Iterable[str] | None, size: int, open_: dict[str, Any]
) -> dict[str, list[Any]]:
    """Due-process rows (their first entry's seq second to last, their latest last) as of a
    ledger of ``size`` entries: those begun within it, reopened if they were closed later."""
    rows = (
        [TABLES[table]._make(r) for r in store.iter_rows(table)]
        if subject_ids is None
        else store.rows_where(table, "subject_id", sorted(set(subject_ids)))
    )
    out: dict[str, list[Any]] = {}
    for row in rows:
        if row[-2] >= size:  # begun after the instant
            continue
        if row[-1] >= size:  # closed after it: still open then
            row = row._replace(**open_)
        out.setdefault(row.subject_id, []).append(row)
    return out
