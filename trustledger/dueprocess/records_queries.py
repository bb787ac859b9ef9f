"""The objections' and repairs' queries, over the store's public query interface."""

from __future__ import annotations

from typing import Any

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


def list_runs(
    store: Store, subject_id: str, rulebook_id: str, list_id: str
) -> list[tuple[Any, ...]]:
    """A subject's runs on one list of a rulebook (any version) in the live state."""
    return store.query(
        "SELECT * FROM state_lists WHERE subject_id = ? AND rulebook LIKE ? AND list_id = ? "
        "ORDER BY since",
        (subject_id, rulebook_id + "@%", list_id),
    )
