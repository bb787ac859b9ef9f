"""PostgreSQL store: the production system of record (psycopg 3, COPY for bulk writes)."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg

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
    Head,
    Store,
    StoreError,
    TreeHead,
    checked_meta,
    head_from,
)

_PAGE = 20_000


class PostgresStore(Store):
    def __init__(self, url: str) -> None:
        self.url = url
        try:
            self.conn = psycopg.connect(url, autocommit=True)
        except psycopg.OperationalError as exc:
            raise StoreError(f"cannot connect to {url}: {exc}".strip()) from exc
        self._upsert_sql = {t: self._upsert_statement(t) for t in TABLES}

    @staticmethod
    def _upsert_statement(table: str) -> str:
        cols = columns(table)
        updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in cols if c != "id")
        return (
            f"INSERT INTO {table} ({', '.join(cols)}) SELECT {', '.join(cols)} FROM stage_{table} "
            f"ON CONFLICT (id) DO UPDATE SET {updates}"
        )

    def close(self) -> None:
        self.conn.close()

    def init(self, person_key_fingerprint: str | None = None) -> None:
        with self._transaction():
            row = self.conn.execute("SELECT to_regclass('meta')").fetchone()
            if row is not None and row[0] is not None:
                # an earlier schema is upgraded by migrations, never patched by new DDL here
                rows = self.conn.execute("SELECT key, value FROM meta").fetchall()
                checked_meta(self.url, {k: v for k, v in rows})
            for stmt in ddl("BIGINT", "BYTEA"):
                self.conn.execute(stmt)
            self.conn.execute(
                "INSERT INTO meta (key, value) VALUES ('schema_version', %s) "
                "ON CONFLICT (key) DO NOTHING",
                (SCHEMA_VERSION,),
            )
            self.conn.execute(VERSION_DDL)
            self.conn.execute(
                f"INSERT INTO {VERSION_TABLE} (version_num) SELECT %s "
                f"WHERE NOT EXISTS (SELECT 1 FROM {VERSION_TABLE})",
                (SCHEMA_REVISION,),
            )
            if person_key_fingerprint:
                self.conn.execute(
                    "INSERT INTO meta (key, value) VALUES ('person_key_fingerprint', %s) "
                    "ON CONFLICT (key) DO NOTHING",
                    (person_key_fingerprint,),
                )

    def meta(self) -> dict[str, str]:
        try:
            rows = self.conn.execute("SELECT key, value FROM meta").fetchall()
        except psycopg.errors.UndefinedTable as exc:
            raise StoreError(
                f"{self.url} is not a trustledger database (run `trustledger init`)"
            ) from exc
        return checked_meta(self.url, {k: v for k, v in rows})

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        with self.conn.transaction():
            # one sequencer per schema: concurrent writers queue here instead of forking the chain
            self.conn.execute(
                "SELECT pg_advisory_xact_lock(hashtext(current_schema() || '/trustledger'))"
            )
            yield

    def _read_head(self) -> Head:
        row = self.conn.execute(
            "SELECT size, frontier FROM tree_heads ORDER BY size DESC LIMIT 1"
        ).fetchone()
        if row is None:
            return head_from(None, None)
        return head_from(bytes(row[1]), self.entry(row[0] - 1))

    def size(self) -> int:
        row = self.conn.execute("SELECT max(size) FROM tree_heads").fetchone()
        return int(row[0] or 0) if row else 0

    def tree_heads(self) -> list[TreeHead]:
        rows = self.conn.execute("SELECT size, root, time_us FROM tree_heads ORDER BY size")
        return [TreeHead(s, bytes(r), t) for s, r, t in rows]

    def iter_entries(
        self, start: int = 0, batch: int = 20_000, kinds: Collection[str] | None = None
    ) -> Iterator[Entry]:
        # keyset pages rather than a server-side cursor: works inside or outside a transaction
        only = "" if kinds is None else " AND kind = ANY(%s)"
        sql = (
            f"SELECT {', '.join(ENTRY_COLUMNS)} FROM entries WHERE seq >= %s{only} "
            f"ORDER BY seq LIMIT {int(batch)}"
        )
        nxt = start
        while True:
            params = (nxt,) if kinds is None else (nxt, list(kinds))
            rows = self.conn.execute(sql, params).fetchall()
            for seq, t, kind, prev, payload, h in rows:
                yield Entry(seq, t, kind, bytes(prev), bytes(payload), bytes(h))
            if len(rows) < batch:
                return
            nxt = rows[-1][0] + 1

    def iter_rows(self, table: str) -> Iterator[tuple[Any, ...]]:
        # keyset pages by id, as iter_entries pages by seq: a plain cursor's driver would
        # hold the whole result (gigabytes at ten million records), and a server-side one
        # would need a transaction the caller may not want around its own statements
        cols = ", ".join(columns(table))
        first = f"SELECT {cols} FROM {table} ORDER BY id LIMIT {_PAGE}"
        after = f"SELECT {cols} FROM {table} WHERE id > %s ORDER BY id LIMIT {_PAGE}"
        rows = self.conn.execute(first).fetchall()
        while rows:
            yield from rows
            if len(rows) < _PAGE:
                return
            rows = self.conn.execute(after, (rows[-1][0],)).fetchall()

    @contextmanager
    def read_snapshot(self) -> Iterator[None]:
        with self.conn.transaction(force_rollback=True):
            self.conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            yield

    def rows_by_seq(self, table: str, batch: int = 20_000) -> Iterator[tuple[int, str, Any]]:
        # a server-side cursor: the client holds a batch, not the table, and several such
        # streams share the snapshot's transaction; one lives only inside a transaction
        if self.conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE:
            with self.read_snapshot():
                yield from self.rows_by_seq(table, batch)
            return
        cols = columns(table)
        seq = last_write_column(table)
        at = cols.index(seq)
        with self.conn.cursor(name=f"rows_by_seq_{table}") as cur:
            cur.itersize = batch
            cur.execute(f"SELECT {', '.join(cols)} FROM {table} ORDER BY {seq}")
            for row in cur:
                yield row[at], row[0], row

    def _hashes(self, size: int) -> list[bytes]:
        rows = self.conn.execute("SELECT hash FROM entries WHERE seq < %s ORDER BY seq", (size,))
        return [bytes(r[0]) for r in rows]

    def _run(self, sql: str, rows: Sequence[tuple[Any, ...]]) -> None:
        with self.conn.cursor() as cur:
            cur.executemany(sql.replace("?", "%s"), rows)

    def create_tables(self, statements: Sequence[str]) -> None:
        """Tables of another part of the platform (monitoring) in this database."""
        with self._transaction():
            for statement in statements:
                self.conn.execute(statement)

    def _query(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        return self.conn.execute(sql.replace("?", "%s"), params).fetchall()

    def _select_where(
        self, table: str, column: str, values: Sequence[str]
    ) -> Iterable[tuple[Any, ...]]:
        return self.conn.execute(
            f"SELECT {', '.join(columns(table))} FROM {table} WHERE {column} = ANY(%s)",
            (list(values),),
        ).fetchall()

    def _entries_at(self, seqs: Sequence[int]) -> list[Entry]:
        rows = self.conn.execute(
            f"SELECT {', '.join(ENTRY_COLUMNS)} FROM entries WHERE seq = ANY(%s)", (list(seqs),)
        )
        return [Entry(s, t, k, bytes(p), bytes(b), bytes(h)) for s, t, k, p, b, h in rows]

    def _lookup_row(self, table: str, key: str) -> Any:
        row = self.conn.execute(
            f"SELECT {', '.join(columns(table))} FROM {table} WHERE id = %s", (key,)
        ).fetchone()
        return None if row is None else TABLES[table]._make(row)

    def _fetch_rows(self, table: str, keys: Sequence[str]) -> dict[str, Any]:
        make = TABLES[table]._make
        rows = self.conn.execute(
            f"SELECT {', '.join(columns(table))} FROM {table} WHERE id = ANY(%s)", (list(keys),)
        )
        return {row[0]: make(row) for row in rows}

    def _insert_entries(self, entries: Sequence[Entry]) -> None:
        with (
            self.conn.cursor() as cur,
            cur.copy(f"COPY entries ({', '.join(ENTRY_COLUMNS)}) FROM STDIN") as copy,
        ):
            for e in entries:
                copy.write_row(e)

    def _insert_rows(self, table: str, rows: Sequence[tuple[Any, ...]]) -> None:
        with (
            self.conn.cursor() as cur,
            cur.copy(f"COPY {table} ({', '.join(columns(table))}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)

    def _upsert_rows(self, table: str, rows: Sequence[tuple[Any, ...]]) -> None:
        cols = columns(table)
        self.conn.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS stage_{table} "
            f"(LIKE {table} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
        )
        with self.conn.cursor() as cur:
            with cur.copy(f"COPY stage_{table} ({', '.join(cols)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            cur.execute(self._upsert_sql[table])
            cur.execute(f"DELETE FROM stage_{table}")

    def _insert_tree_head(self, head: TreeHead, frontier: bytes) -> None:
        self.conn.execute(
            "INSERT INTO tree_heads (size, root, time_us, frontier) VALUES (%s, %s, %s, %s)",
            (head.size, head.root, head.time_us, frontier),
        )

    def _clear(self, table: str) -> None:
        self.conn.execute(f"DELETE FROM {table}")
