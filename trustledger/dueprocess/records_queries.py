"""The objections' and repairs' queries, over the store's public query interface."""

from __future__ import annotations

from trustledger.ledger.projection import ObjectionRow, RepairRow
from trustledger.ledger.store import Store


def overdue(store: Store, day: str) -> list[ObjectionRow | RepairRow]:
    """Open objections and repair applications whose deadline is before ``day``."""
    late: list[ObjectionRow | RepairRow] = [
        ObjectionRow(*row)
        for row in store.query(
            "SELECT * FROM objections WHERE status = 'open' AND deadline < ? ORDER BY deadline",
            (day,),
        )
    ]
    late += [
        RepairRow(*row)
        for row in store.query(
            "SELECT * FROM repairs WHERE status = 'open' AND deadline < ? ORDER BY deadline",
            (day,),
        )
    ]
    return late


def of_subject(store: Store, subject_id: str) -> tuple[list[ObjectionRow], list[RepairRow]]:
    """A subject's objections and repair applications, oldest first."""
    objections = [
        ObjectionRow(*row)
        for row in store.query(
            "SELECT * FROM objections WHERE subject_id = ? ORDER BY filed_seq", (subject_id,)
        )
    ]
    repairs = [
        RepairRow(*row)
        for row in store.query(
            "SELECT * FROM repairs WHERE subject_id = ? ORDER BY applied_seq", (subject_id,)
        )
    ]
    return objections, repairs
