"""Every SQL statement of the notice tables, over the store's public query interface
(``query``, ``execute``, ``transaction``, ``create_tables``).

One dialect for SQLite and PostgreSQL (``?`` placeholders, translated by the store).
Callers pass and get plain rows; :mod:`trustledger.dueprocess.notice_store` turns them into
notices. The tables: ``notices`` (one row per notice, its body as JSON, when and how it
was delivered), ``notice_attempts`` (every delivery attempt, failures with their error:
nothing is lost) and ``notice_addresses`` (where a subject's notices go).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from trustledger.ledger.store import Store
from trustledger.ledger.tabledigest import committed

Row = tuple[Any, ...]

DDL = """
CREATE TABLE IF NOT EXISTS notices (
    id TEXT PRIMARY KEY,
    subject_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    created TEXT NOT NULL,
    body TEXT NOT NULL,
    delivered_at TEXT,
    channel TEXT
);
CREATE INDEX IF NOT EXISTS notices_subject ON notices (subject_id, created);
CREATE INDEX IF NOT EXISTS notices_undelivered ON notices (delivered_at, created);
CREATE TABLE IF NOT EXISTS notice_attempts (
    notice_id TEXT NOT NULL,
    at TEXT NOT NULL,
    channel TEXT NOT NULL,
    ok BIGINT NOT NULL,
    error TEXT
);
CREATE INDEX IF NOT EXISTS notice_attempts_notice ON notice_attempts (notice_id, at);
CREATE TABLE IF NOT EXISTS notice_addresses (
    subject_id TEXT PRIMARY KEY,
    address TEXT NOT NULL
)
"""

_COLUMNS = "id, subject_id, kind, created, body, delivered_at, channel"
_CHUNK = 500
_ATTEMPT = "INSERT INTO notice_attempts (notice_id, at, channel, ok, error) VALUES (?, ?, ?, ?, ?)"


def create_tables(store: Store) -> None:
    store.create_tables([s.strip() for s in DDL.split(";") if s.strip()])


def existing_ids(store: Store, ids: Sequence[str]) -> set[str]:
    found: set[str] = set()
    unique = sorted(set(ids))
    for i in range(0, len(unique), _CHUNK):
        part = unique[i : i + _CHUNK]
        marks = ", ".join("?" for _ in part)
        rows = store.query(f"SELECT id FROM notices WHERE id IN ({marks})", part)
        found.update(r[0] for r in rows)
    return found


def insert_notices(store: Store, rows: Sequence[Row]) -> None:
    """(id, subject_id, kind, created, body JSON) rows, not yet delivered; a notice
    already stored under its id is kept as it is (SQLite and PostgreSQL alike)."""
    store.execute(
        "INSERT INTO notices (id, subject_id, kind, created, body) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT (id) DO NOTHING",
        rows,
    )


def notice(store: Store, notice_id: str) -> Row | None:
    rows = store.query(f"SELECT {_COLUMNS} FROM notices WHERE id = ?", (notice_id,))
    return rows[0] if rows else None


def for_subject(store: Store, subject_id: str) -> list[Row]:
    return store.query(
        f"SELECT {_COLUMNS} FROM notices WHERE subject_id = ? ORDER BY created, id", (subject_id,)
    )


def undelivered(store: Store, limit: int) -> list[Row]:
    return store.query(
        f"SELECT {_COLUMNS} FROM notices WHERE delivered_at IS NULL ORDER BY created, id LIMIT ?",
        (limit,),
    )


def mark_delivered(store: Store, notice_id: str, at: str, channel: str) -> None:
    """Delivered once: a notice already marked keeps its first delivery."""
    with (
        committed(store, "notice delivered") as commit,
        commit.touching("notices", "id = ?", (notice_id,)),
    ):
        store.execute(
            "UPDATE notices SET delivered_at = ?, channel = ? "
            "WHERE id = ? AND delivered_at IS NULL",
            [(at, channel, notice_id)],
        )
        store.execute(
            _ATTEMPT,
            [(notice_id, at, channel, 1, None)],
        )
        commit.added("notice_attempts", [(notice_id, at, channel, 1, None)])


def record_failure(store: Store, notice_id: str, at: str, channel: str, error: str) -> None:
    with committed(store, "notice delivery failed") as commit:
        store.execute(
            _ATTEMPT,
            [(notice_id, at, channel, 0, error)],
        )
        commit.added("notice_attempts", [(notice_id, at, channel, 0, error)])


def attempts(store: Store, notice_id: str) -> list[Row]:
    """(at, channel, ok, error) of every delivery attempt, oldest first."""
    return store.query(
        "SELECT at, channel, ok, error FROM notice_attempts WHERE notice_id = ? ORDER BY at",
        (notice_id,),
    )


def set_address(store: Store, subject_id: str, address: str) -> None:
    with (
        committed(store, "notice address set") as commit,
        commit.touching("notice_addresses", "subject_id = ?", (subject_id,)),
    ):
        store.execute("DELETE FROM notice_addresses WHERE subject_id = ?", [(subject_id,)])
        store.execute(
            "INSERT INTO notice_addresses (subject_id, address) VALUES (?, ?)",
            [(subject_id, address)],
        )


def addresses(store: Store) -> dict[str, str]:
    return {r[0]: r[1] for r in store.query("SELECT subject_id, address FROM notice_addresses")}
