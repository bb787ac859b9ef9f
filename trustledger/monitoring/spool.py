"""The receiver's spool: a SQLite file of its own where an accepted packet is made durable
before its acknowledgement leaves, so no transaction of the ledger's database (a bulk
ingest's batch, the re-evaluation after it, which held the write lock for 10.7 s in one
transaction in bench/hj212_ack_delay.py's measurement) can hold an acknowledgement back.

Spooled packets are moved into ``monitor_packets`` (and committed to the ledger there) by
the receiver as soon as the ledger's database takes a write, and by whoever opens the
monitoring store next after a crash; a packet is deleted from the spool only once the
ledger's transaction holding it committed. The spool holds rows in ``monitor_packets``'s
shape; its SQL is here because it is a database of its own, not the ledger's.

Only a SQLite ledger has a spool: PostgreSQL's writers lock rows, not the database.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any

from trustledger.ledger.sqlite import create_private, sqlite_path

Row = tuple[Any, ...]

_DDL = """CREATE TABLE IF NOT EXISTS spool_packets (
    digest TEXT PRIMARY KEY,
    received_us INTEGER NOT NULL,
    peer TEXT NOT NULL,
    mn TEXT NOT NULL,
    cn TEXT NOT NULL,
    st TEXT NOT NULL,
    dialect TEXT NOT NULL,
    data_time TEXT,
    readings TEXT NOT NULL,
    raw TEXT NOT NULL
)"""
_CHUNK = 500


def spool_path(url: str) -> str | None:
    """The spool beside a SQLite ledger's file (``<file>-hj212-spool``); None for another
    database or one in memory."""
    if not url.startswith("sqlite:///"):
        return None
    path = sqlite_path(url)
    return None if path == ":memory:" else f"{path}-hj212-spool"


class Spool:
    """One connection to the spool (each thread that uses it opens its own)."""

    def __init__(self, path: str) -> None:
        create_private(path)
        self.path = path
        self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.conn.execute("PRAGMA journal_mode=WAL")
        # FULL: an acknowledgement means the packet survives power loss, as in the ledger
        self.conn.execute("PRAGMA synchronous=FULL")
        self.conn.execute("PRAGMA busy_timeout=30000")
        self.conn.execute(_DDL)

    def close(self) -> None:
        self.conn.close()

    def known(self, digests: Iterable[str]) -> set[str]:
        found: set[str] = set()
        unique = sorted(set(digests))
        for i in range(0, len(unique), _CHUNK):
            part = unique[i : i + _CHUNK]
            marks = ", ".join("?" for _ in part)
            rows = self.conn.execute(
                f"SELECT digest FROM spool_packets WHERE digest IN ({marks})", part
            )
            found.update(r[0] for r in rows)
        return found

    def add(self, rows: Sequence[Row]) -> set[str]:
        """Insert rows (``monitor_packets``'s columns) durably; the digests of those that
        were spooled already."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            there = self.known(r[0] for r in rows)
            self.conn.executemany(
                "INSERT INTO spool_packets VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [r for r in rows if r[0] not in there],
            )
        except BaseException:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")
        return there

    def oldest(self, limit: int) -> list[Row]:
        return self.conn.execute(
            "SELECT * FROM spool_packets ORDER BY received_us LIMIT ?", (limit,)
        ).fetchall()

    def remove(self, digests: Sequence[str]) -> None:
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            self.conn.executemany(
                "DELETE FROM spool_packets WHERE digest = ?", [(d,) for d in digests]
            )
        except BaseException:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    def digests(self) -> list[str]:
        return [r[0] for r in self.conn.execute("SELECT digest FROM spool_packets")]

    def count(self) -> int:
        return int(self.conn.execute("SELECT count(*) FROM spool_packets").fetchone()[0])
