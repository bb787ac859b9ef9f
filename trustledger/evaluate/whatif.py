"""What-if output: an evaluation known at another instant, or of a scenario, written to a
file of its own (a SQLite file with the state tables and what it reflects), never to the
live state. The file is written aside and renamed into place when complete, so a killed
run leaves no half file under the name asked for.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from trustledger.ledger.schema import LIVE_STATE_PREFIX, STATE_TABLES, state_ddl

__all__ = ["StateFile", "read_state_file"]


class StateFile:
    """One what-if evaluation being written."""

    def __init__(self, path: Path, partial: Path, conn: sqlite3.Connection) -> None:
        self.path, self.partial, self.conn = path, partial, conn

    @classmethod
    def create(cls, path: Path) -> StateFile:
        if path.is_dir():
            raise ValueError(f"what-if output {path} is a folder: name a file")
        partial = path.with_name(path.name + ".partial")
        partial.unlink(missing_ok=True)
        # created empty and private first: the file holds persons' standing (mode 0600)
        os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        os.chmod(partial, 0o600)
        conn = sqlite3.connect(partial, isolation_level=None)
        conn.execute("PRAGMA journal_mode=OFF")  # a scratch file until renamed
        for statement in state_ddl(LIVE_STATE_PREFIX, "0", "INTEGER"):
            conn.execute(statement)
        conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        return cls(path, partial, conn)

    def write(
        self,
        profiles: Sequence[tuple[Any, ...]],
        lists: Sequence[tuple[Any, ...]],
        measures: Sequence[tuple[Any, ...]],
    ) -> None:
        self.conn.execute("BEGIN")
        for table, rows in zip(STATE_TABLES, (profiles, lists, measures), strict=True):
            if rows:
                marks = ", ".join("?" for _ in rows[0])
                self.conn.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)
        self.conn.execute("COMMIT")

    def finish(self, meta: dict[str, str]) -> None:
        self.conn.executemany("INSERT INTO meta VALUES (?, ?)", list(meta.items()))
        self.conn.close()
        os.replace(self.partial, self.path)

    def abandon(self) -> None:
        self.conn.close()
        self.partial.unlink(missing_ok=True)


def read_state_file(path: Path, table: str) -> list[tuple[Any, ...]]:
    """The rows of one state table (or `meta`) of a what-if file, in key order."""
    if table not in (*STATE_TABLES, "meta"):
        raise ValueError(f"{table} is not a table of a what-if file")
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        order = "1" if table == "meta" else "1, 2, 3"
        return conn.execute(f"SELECT * FROM {table} ORDER BY {order}").fetchall()
    finally:
        conn.close()
