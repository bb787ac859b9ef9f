"""Every SQL statement of the API key table, over the store's public query interface.

The table lives beside the ledger's own tables but is not part of the ledger.
"""

from __future__ import annotations

from typing import Any

from trustledger.ledger.store import Store

DDL = """CREATE TABLE IF NOT EXISTS api_keys (
    key_hash TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    name TEXT NOT NULL,
    actions TEXT NOT NULL,
    created TEXT NOT NULL
)"""


def ensure_table(store: Store) -> None:
    store.execute(DDL)


def insert_key(
    store: Store, key_hash: str, role: str, name: str, actions_json: str, created: str
) -> None:
    store.execute(
        "INSERT INTO api_keys (key_hash, role, name, actions, created) VALUES (?, ?, ?, ?, ?)",
        [(key_hash, role, name, actions_json, created)],
    )


def key_row(store: Store, key_hash: str) -> tuple[Any, ...] | None:
    """(key_hash, role, name, actions, created) of the key with this hash, or None."""
    rows = store.query(
        "SELECT key_hash, role, name, actions, created FROM api_keys WHERE key_hash = ?",
        (key_hash,),
    )
    return rows[0] if rows else None
