"""Every SQL statement of the access tables (API keys and the access log), over the store's
public query interface (``query``, ``execute``, ``transaction``).

The tables live beside the ledger's own tables but are not part of the ledger.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from trustledger.ledger.store import Store

# the key table as it was first shipped (key_hash, role, name, actions, created); the
# columns added later are added to an existing table by ``ensure_tables``
KEYS_DDL = """CREATE TABLE IF NOT EXISTS api_keys (
    key_hash TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    name TEXT NOT NULL,
    actions TEXT NOT NULL,
    created TEXT NOT NULL
)"""
KEY_COLUMNS_ADDED = ("principal_id", "authority", "subject", "expires", "revoked")
KEY_COLUMNS = "key_hash, role, name, actions, created, principal_id, authority, subject, " \
    "expires, revoked"  # fmt: skip

LOG_DDL = """CREATE TABLE IF NOT EXISTS access_log (
    seq BIGINT PRIMARY KEY,
    at TEXT NOT NULL,
    principal_id TEXT,
    role TEXT NOT NULL,
    action TEXT NOT NULL,
    subject_id TEXT,
    purpose TEXT,
    detail TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
)"""
LOG_INDEX = "CREATE INDEX IF NOT EXISTS access_log_subject ON access_log (subject_id, seq)"
LOG_COLUMNS = "seq, at, principal_id, role, action, subject_id, purpose, detail, prev_hash, hash"


def _has_columns(store: Store, table: str, columns: Sequence[str]) -> bool:
    try:
        store.query(f"SELECT {', '.join(columns)} FROM {table} WHERE 1 = 0")
    except Exception:
        return False
    return True


def ensure_tables(store: Store) -> None:
    """Both tables, created if missing; a key table of the first version gains its new
    columns (its keys keep working: each gets its principal id, see ``principals``)."""
    store.execute(KEYS_DDL)
    if not _has_columns(store, "api_keys", KEY_COLUMNS_ADDED):
        for column in KEY_COLUMNS_ADDED:
            if not _has_columns(store, "api_keys", [column]):
                kind = "INTEGER NOT NULL DEFAULT 0" if column == "revoked" else "TEXT"
                store.execute(f"ALTER TABLE api_keys ADD COLUMN {column} {kind}")
    store.execute(LOG_DDL)
    store.execute(LOG_INDEX)


def keys_without_principal(store: Store) -> list[str]:
    return [r[0] for r in store.query("SELECT key_hash FROM api_keys WHERE principal_id IS NULL")]


def set_principal_id(store: Store, key_hash: str, principal_id: str) -> None:
    store.execute(
        "UPDATE api_keys SET principal_id = ? WHERE key_hash = ? AND principal_id IS NULL",
        [(principal_id, key_hash)],
    )


def insert_key(store: Store, row: Sequence[Any]) -> None:
    """One key row, in the column order of ``KEY_COLUMNS``."""
    store.execute(
        f"INSERT INTO api_keys ({KEY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", [row]
    )


def key_row(store: Store, key_hash: str) -> tuple[Any, ...] | None:
    rows = store.query(f"SELECT {KEY_COLUMNS} FROM api_keys WHERE key_hash = ?", (key_hash,))
    return rows[0] if rows else None


def principal_row(store: Store, principal_id: str) -> tuple[Any, ...] | None:
    rows = store.query(
        f"SELECT {KEY_COLUMNS} FROM api_keys WHERE principal_id = ?", (principal_id,)
    )
    return rows[0] if rows else None


def key_rows(store: Store) -> list[tuple[Any, ...]]:
    return store.query(f"SELECT {KEY_COLUMNS} FROM api_keys ORDER BY created, principal_id")


def revoke(store: Store, principal_id: str) -> None:
    store.execute("UPDATE api_keys SET revoked = 1 WHERE principal_id = ?", [(principal_id,)])


# --- the access log: appended, never updated ----------------------------------------
def last_log_row(store: Store) -> tuple[int, str] | None:
    """(seq, hash) of the newest row, or None for an empty log."""
    rows = store.query("SELECT seq, hash FROM access_log ORDER BY seq DESC LIMIT 1")
    return (int(rows[0][0]), str(rows[0][1])) if rows else None


def insert_log_rows(store: Store, rows: Sequence[Sequence[Any]]) -> None:
    """Rows in the column order of ``LOG_COLUMNS``."""
    store.execute(f"INSERT INTO access_log ({LOG_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                  rows)  # fmt: skip


def log_rows(
    store: Store, *, subject_id: str | None, after: int | None, limit: int
) -> list[tuple[Any, ...]]:
    where, params = ["seq > ?"], [-1 if after is None else after]
    if subject_id is not None:
        where.append("subject_id = ?")
        params.append(subject_id)  # type: ignore[arg-type]
    return store.query(
        f"SELECT {LOG_COLUMNS} FROM access_log WHERE {' AND '.join(where)} ORDER BY seq LIMIT ?",
        (*params, limit),
    )


def all_log_rows(store: Store, after: int, batch: int) -> list[tuple[Any, ...]]:
    return store.query(
        f"SELECT {LOG_COLUMNS} FROM access_log WHERE seq > ? ORDER BY seq LIMIT ?", (after, batch)
    )
