"""The demo's SQL: what it picks from the ledger's projections to show things on, over the
store's public query interface."""

from __future__ import annotations

from trustledger.ledger.store import Store


def first_authority(store: Store, authority_type: str) -> str | None:
    """The first authority of this type, by id."""
    rows = store.query(
        "SELECT id FROM authorities WHERE authority_type = ? ORDER BY id LIMIT 1",
        (authority_type,),
    )
    return str(rows[0][0]) if rows else None


def first_subjects(store: Store, kind: str, limit: int) -> list[str]:
    """The first ``limit`` subjects of this kind, by id."""
    rows = store.query("SELECT id FROM subjects WHERE kind = ? ORDER BY id LIMIT ?", (kind, limit))
    return [str(r[0]) for r in rows]
