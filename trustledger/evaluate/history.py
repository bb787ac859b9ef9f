"""A subject's records as they stood at an instant of ledger time.

Evaluation as of T sees only entries appended at or before T (DESIGN.md "Time"). The
current projection cannot answer that (a later correction or end has overwritten it), so
the subject's record entries are replayed through the same Projector that maintains the
projection, stopping at T. The projection is used only to find which entries to read.
"""

from __future__ import annotations

from trustledger.ledger.projection import Projector, RecordRow
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
