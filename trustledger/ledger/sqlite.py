"""SQLite store: the embedded default (one file, WAL)."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from trustledger.ledger.entry import Entry
from trustledger.ledger.projection import TABLES
from trustledger.ledger.schema import (
    ENTRY_COLUMNS,
    VERSION_DDL,
    VERSION_TABLE,
    columns,
    ddl,
    last_write_column,
)
from trustledger.ledger.store import (
    SCHEMA_REVISION,
    SCHEMA_VERSION,
    ChainBatch,
    Head,
    Store,
    StoreError,
    TreeHead,
    checked_meta,
    head_from,
)


def sqlite_path(url: str) -> str:
    """``sqlite:///rel.db`` → ``rel.db``; ``sqlite:////abs/x.db`` → ``/abs/x.db``."""
    if not url.startswith("sqlite:///"):
        raise StoreError(f"SQLite URL {url!r} must look like sqlite:///path/to/file.db")
    path = url[len("sqlite:///") :]
    if not path:
        raise StoreError(f"SQLite URL {url!r} names no file")
    return path


def create_private(path: str) -> None:
    """Create the database file, empty, readable and writable by its owner only, unless it
    exists. SQLite gives its -wal and -shm files the database file's mode, so they are
    private too. An existing file keeps the mode its operator gave it."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    try:
        os.fchmod(fd, 0o600)  # the umask may narrow the mode asked for; make it exactly this
    finally:
        os.close(fd)


_CHAIN_SQL = (
    "SELECT seq, CAST(x'00' || '{\"kind\":\"' || kind || '\",\"payload\":' || payload || "
    '\',"prev":"\' || lower(hex(prev_hash)) || \'","seq":\' || seq || '
    "',\"time_us\":' || time_us || '}' AS BLOB), prev_hash, hash FROM entries ORDER BY seq"
)


class SqliteStore(Store):
    def __init__(self, url: str) -> None:
        self.url = url
        self.path = sqlite_path(url)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            create_private(self.path)
        # autocommit off at the driver level: transactions are begun explicitly below
        self.conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self.conn.execute("PRAGMA journal_mode=WAL")
        # FULL: a commit reported to the user survives power loss, not only a crash
        self.conn.execute("PRAGMA synchronous=FULL")
        self.conn.execute("PRAGMA busy_timeout=30000")
        self.conn.execute("PRAGMA cache_size=-65536")
        self.conn.execute("PRAGMA wal_autocheckpoint=20000")
        self._insert_sql = {
            t: f"INSERT INTO {t} ({', '.join(columns(t))}) "
            f"VALUES ({', '.join('?' for _ in columns(t))})"
            for t in TABLES
        }
        self._upsert_sql = {
            t: sql.replace("INSERT INTO", "INSERT OR REPLACE INTO", 1)
            for t, sql in self._insert_sql.items()
        }

    def close(self) -> None:
        self.conn.close()

    def init(self, person_key_fingerprint: str | None = None) -> None:
        with self._transaction():
            has_meta = self.conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'"
            ).fetchone()
            if has_meta:
                # an earlier schema is upgraded by migrations, never patched by new DDL here
                checked_meta(self.url, dict(self.conn.execute("SELECT key, value FROM meta")))
            for stmt in ddl("INTEGER", "BLOB"):
                self.conn.execute(stmt)
            self.conn.execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)",
                (SCHEMA_VERSION,),
            )
            self.conn.execute(VERSION_DDL)
            self.conn.execute(
                f"INSERT INTO {VERSION_TABLE} (version_num) SELECT ? "
                f"WHERE NOT EXISTS (SELECT 1 FROM {VERSION_TABLE})",
                (SCHEMA_REVISION,),
            )
            if person_key_fingerprint:
                self.conn.execute(
                    "INSERT OR IGNORE INTO meta (key, value) VALUES ('person_key_fingerprint', ?)",
                    (person_key_fingerprint,),
                )

    def meta(self) -> dict[str, str]:
        try:
            meta = dict(self.conn.execute("SELECT key, value FROM meta").fetchall())
        except sqlite3.OperationalError as exc:
            raise StoreError(
                f"{self.url} is not a trustledger database (run `trustledger init`): {exc}"
            ) from exc
        return checked_meta(self.url, meta)

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        # IMMEDIATE takes the write lock up front: reads made for validation cannot go stale
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            # SQLite may already have rolled back itself (a full disk, an I/O error): a
            # second ROLLBACK would fail and hide the error that matters
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise
        try:
            self.conn.execute("COMMIT")
        except sqlite3.Error:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise

    def _read_head(self) -> Head:
        row = self.conn.execute(
            "SELECT size, frontier FROM tree_heads ORDER BY size DESC LIMIT 1"
        ).fetchone()
        if row is None:
            return head_from(None, None)
        return head_from(row[1], self.entry(row[0] - 1))

    def size(self) -> int:
        row = self.conn.execute("SELECT max(size) FROM tree_heads").fetchone()
        return int(row[0] or 0)

    def tree_heads(self) -> list[TreeHead]:
        rows = self.conn.execute("SELECT size, root, time_us FROM tree_heads ORDER BY size")
        return [TreeHead(s, bytes(r), t) for s, r, t in rows]

    def iter_entries(
        self, start: int = 0, batch: int = 20_000, kinds: Collection[str] | None = None
    ) -> Iterator[Entry]:
        only = "" if kinds is None else f" AND kind IN ({', '.join('?' for _ in kinds)})"
        cur = self.conn.execute(
            f"SELECT {', '.join(ENTRY_COLUMNS)} FROM entries WHERE seq >= ?{only} ORDER BY seq",
            (start, *(kinds or ())),
        )
        while True:
            rows = cur.fetchmany(batch)
            if not rows:
                return
            yield from map(Entry._make, rows)

    def iter_rows(self, table: str) -> Iterator[tuple[Any, ...]]:
        # table order, not key order: a sequential scan, and callers match rows by id
        cur = self.conn.execute(f"SELECT {', '.join(columns(table))} FROM {table}")
        while rows := cur.fetchmany(20_000):
            yield from rows

    def chain_columns(self, batch: int = 50_000) -> Iterator[ChainBatch]:
        # SQLite concatenates the envelope byte for byte as entry.envelope does (integers
        # print exactly, hex() of the hash lower-cased); a NULL column gives a NULL input
        cur = self.conn.execute(_CHAIN_SQL)
        while rows := cur.fetchmany(batch):
            seqs, leaves, prevs, hashes = map(list, zip(*rows, strict=True))
            yield seqs, leaves, prevs, hashes

    @contextmanager
    def read_snapshot(self) -> Iterator[None]:
        # a deferred BEGIN takes its snapshot at the first read; writers (WAL) go on
        self.conn.execute("BEGIN")
        try:
            yield
        finally:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")

    def rows_by_seq(self, table: str, batch: int = 20_000) -> Iterator[tuple[int, str, Any]]:
        cols = columns(table)
        seq = last_write_column(table)
        # json_array refuses BLOBs (no text column holds one unless tampered with): such a
        # row gets NULL and is compared column by column. SQLite sorts in its own temporary
        # storage, so the order costs no memory here
        blob = " OR ".join(f"typeof({c}) = 'blob'" for c in cols)
        cur = self.conn.execute(
            f"SELECT {seq}, id, CASE WHEN {blob} THEN NULL "
            f"ELSE CAST(json_array({', '.join(cols)}) AS BLOB) END FROM {table} ORDER BY {seq}"
        )
        while rows := cur.fetchmany(batch):
            yield from rows

    def _hashes(self, size: int) -> list[bytes]:
        rows = self.conn.execute("SELECT hash FROM entries WHERE seq < ? ORDER BY seq", (size,))
        return [r[0] for r in rows]

    def _run(self, sql: str, rows: Sequence[tuple[Any, ...]]) -> None:
        self.conn.executemany(sql, rows)

    def create_tables(self, statements: Sequence[str]) -> None:
        """Tables of another part of the platform (monitoring) in this database."""
        with self._transaction():
            for statement in statements:
                self.conn.execute(statement)

    def _query(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        return self.conn.execute(sql, params).fetchall()

    def _select_where(
        self, table: str, column: str, values: Sequence[str]
    ) -> Iterable[tuple[Any, ...]]:
        cols = ", ".join(columns(table))
        out: list[tuple[Any, ...]] = []
        for i in range(0, len(values), 900):
            chunk = values[i : i + 900]
            marks = ", ".join("?" for _ in chunk)
            sql = f"SELECT {cols} FROM {table} WHERE {column} IN ({marks})"
            out.extend(self.conn.execute(sql, chunk))
        return out

    def _entries_at(self, seqs: Sequence[int]) -> list[Entry]:
        out: list[Entry] = []
        for i in range(0, len(seqs), 900):
            chunk = seqs[i : i + 900]
            marks = ", ".join("?" for _ in chunk)
            sql = f"SELECT {', '.join(ENTRY_COLUMNS)} FROM entries WHERE seq IN ({marks})"
            out.extend(map(Entry._make, self.conn.execute(sql, chunk)))
        return out

    def _lookup_row(self, table: str, key: str) -> Any:
        row = self.conn.execute(
            f"SELECT {', '.join(columns(table))} FROM {table} WHERE id = ?", (key,)
        ).fetchone()
        return None if row is None else TABLES[table]._make(row)

    def _fetch_rows(self, table: str, keys: Sequence[str]) -> dict[str, Any]:
        make = TABLES[table]._make
        cols = ", ".join(columns(table))
        found: dict[str, Any] = {}
        for i in range(0, len(keys), 900):  # stay under SQLite's bound-parameter limit
            chunk = keys[i : i + 900]
            sql = f"SELECT {cols} FROM {table} WHERE id IN ({', '.join('?' for _ in chunk)})"
            for row in self.conn.execute(sql, chunk):
                found[row[0]] = make(row)
        return found

    def _insert_entries(self, entries: Sequence[Entry]) -> None:
        self.conn.executemany(
            "INSERT INTO entries (seq, time_us, kind, prev_hash, payload, hash) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            entries,  # an Entry is a tuple in column order
        )

    def _insert_rows(self, table: str, rows: Sequence[tuple[Any, ...]]) -> None:
        self.conn.executemany(self._insert_sql[table], rows)

    def _upsert_rows(self, table: str, rows: Sequence[tuple[Any, ...]]) -> None:
        self.conn.executemany(self._upsert_sql[table], rows)

    def _insert_tree_head(self, head: TreeHead, frontier: bytes) -> None:
        self.conn.execute(
            "INSERT INTO tree_heads (size, root, time_us, frontier) VALUES (?, ?, ?, ?)",
            (head.size, head.root, head.time_us, frontier),
        )

    def _clear(self, table: str) -> None:
        self.conn.execute(f"DELETE FROM {table}")
