"""The store interface: one append-only ledger plus its projections, in SQLite or PostgreSQL.

All writes go through `Store.writer()`, an exclusive transaction: the writer reads the
projections (intake needs them to refuse duplicates and bad references), appends entries,
and on commit writes entries, projection rows and a new tree head together. Either all of
it lands or none of it does.
"""

from __future__ import annotations

import json
import secrets
from abc import ABC, abstractmethod
from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any

from trustledger.ledger import merkle, tabledigest, tiles
from trustledger.ledger.entry import GENESIS_PREV, Entry, envelope, make_entry, now_us
from trustledger.ledger.projection import TABLES, Projector
from trustledger.ledger.schema import (
    LIVE_STATE_PREFIX,
    NEXT_STATE_PREFIX,
    STATE_ALL,
    STATE_TABLES,
    state_ddl,
)

SCHEMA_VERSION = "6"
# the Alembic revision that brings a database to SCHEMA_VERSION (trustledger.ledger.migrate)
SCHEMA_REVISION = f"{int(SCHEMA_VERSION):04d}"


# one batch of `Store.chain_columns`: seqs, leaf inputs, prev hashes, hashes
ChainBatch = tuple[list[int], list[bytes | None], list[bytes], list[bytes]]


# rows of a table, in its column order
Rows = Sequence[tuple[Any, ...]]

class StoreError(RuntimeError):
    """The database cannot be used as asked (not initialised, wrong URL, wrong key)."""


@dataclass(frozen=True)
class TreeHead:
    size: int
    root: bytes
    time_us: int

    def to_json(self) -> dict[str, Any]:
        return {"size": self.size, "root": self.root.hex(), "time_us": self.time_us}


@dataclass(frozen=True)
class Head:
    """What a writer needs to append: the tree so far and the last entry's hash and time."""

    frontier: merkle.Frontier
    last_hash: bytes
    last_time_us: int


class Writer:
    """An open write transaction. Reads see the rows appended earlier in the same one."""

    def __init__(self, store: Store, head: Head) -> None:
        self._store = store
        self._frontier = head.frontier
        # leaf hashes appended since the frontier was last brought up to date: folding them
        # in at commit, in blocks, costs about one hash per leaf
        self._leaves: list[bytes] = []
        self._last_hash = head.last_hash
        self._last_time = head.last_time_us
        self.entries: list[Entry] = []
        # rows read in this transaction (None: known to be absent); the write lock makes
        # them stay true until commit
        self._read: dict[str, dict[str, Any]] = {t: {} for t in TABLES}
        self.projector = Projector(self._lookup)

    @property
    def size(self) -> int:
        return self._frontier.size + len(self._leaves)

    def _lookup(self, table: str, key: str) -> Any:
        cache = self._read[table]
        if key not in cache:
            cache[key] = self._store._lookup_row(table, key)
        return cache[key]

    def get(self, table: str, key: str) -> Any:
        """The current row: appended in this transaction, or stored."""
        return self.projector.get(table, key)

    def split_new(
        self, table: str, rows: dict[str, Any]
    ) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        """The changed rows, split into those known to be new and the rest."""
        read = self._read[table]
        new: list[tuple[Any, ...]] = []
        other: list[tuple[Any, ...]] = []
        for key, row in rows.items():
            # read as absent under the write lock: nobody else can have written it since
            (new if key in read and read[key] is None else other).append(row)
        return new, other

    def prefetch(self, table: str, keys: Iterable[str]) -> None:
        """Read many rows in one query, so that `get` on them needs no round trip."""
        cache = self._read[table]
        changed = self.projector.changed[table]
        missing = list({k for k in keys if k not in cache and k not in changed})
        if missing:
            found = self._store._fetch_rows(table, missing)
            for key in missing:
                cache[key] = found.get(key)

    def append(self, kind: str, payload: dict[str, Any], body: bytes | None = None) -> Entry:
        """Append an entry; ``body``, if given, must be ``canonical_json(payload)``."""
        # ledger time never runs backwards, whatever the wall clock does
        now = now_us()
        if now > self._last_time:
            self._last_time = now
        entry = make_entry(
            self._frontier.size + len(self._leaves),
            self._last_time,
            kind,
            self._last_hash,
            payload,
            body,
        )
        self.projector.apply(entry, payload)
        self._leaves.append(entry.hash)
        self._last_hash = entry.hash
        self.entries.append(entry)
        return entry

    def tree_head(self) -> tuple[TreeHead, bytes]:
        self._frontier.extend(self._leaves)
        self._leaves = []
        return (
            TreeHead(self.size, self._frontier.root(), self._last_time),
            self._frontier.to_bytes(),
        )


class Store(ABC):
    """A ledger database. Subclasses supply the SQL; the rules live here."""

    url: str

    # --- lifecycle -----------------------------------------------------------------
    @abstractmethod
    def init(self, person_key_fingerprint: str | None = None) -> None:
        """Create the schema if missing (idempotent)."""

    @abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- writing -------------------------------------------------------------------
    @contextmanager
    def writer(self) -> Iterator[Writer]:
        with self._transaction():
            w = Writer(self, self._read_head())
            yield w
            if w.entries:
                self._write(w)

    def append_one(self, kind: str, payload: dict[str, Any]) -> Entry:
        with self.writer() as w:
            return w.append(kind, payload)

    def _write(self, w: Writer) -> None:
        self._insert_entries(w.entries)
        # the tree's tiles, for O(log n) proofs: about one SHA-256 and 32 bytes per entry
        tiles.write(self, w.entries[0].seq, [e.hash for e in w.entries])
        for table, rows in w.projector.changed.items():
            new, changed = w.split_new(table, rows)
            if new:
                self._insert_rows(table, new)
            if changed:
                self._upsert_rows(table, changed)
        head, frontier = w.tree_head()
        self._insert_tree_head(head, frontier)

    # --- reading -------------------------------------------------------------------
    @abstractmethod
    def meta(self) -> dict[str, str]: ...

    @abstractmethod
    def size(self) -> int:
        """Number of entries, from the latest tree head."""

    @abstractmethod
    def tree_heads(self) -> list[TreeHead]: ...

    def head(self) -> TreeHead:
        heads = self.tree_heads()
        return heads[-1] if heads else TreeHead(0, merkle.EMPTY_ROOT, 0)

    @abstractmethod
    def iter_entries(
        self, start: int = 0, batch: int = 20_000, kinds: Collection[str] | None = None
    ) -> Iterator[Entry]:
        """Stored entries in seq order, as stored (verify decides whether they are sound);
        with ``kinds``, only the entries of those kinds."""

    @abstractmethod
    def iter_rows(self, table: str) -> Iterator[tuple[Any, ...]]: ...

    def chain_columns(self, batch: int = 50_000) -> Iterator[ChainBatch]:
        """The stored entries in seq order, a batch at a time, as the columns verify needs:
        seq, the leaf hash's input (0x00 || envelope, or None where a column is missing),
        prev_hash and hash. Backends that can build the envelope in SQL override this:
        verify then hashes in one tight loop instead of building each envelope in Python."""
        rows: list[Entry] = []
        for e in self.iter_entries(batch=batch):
            rows.append(e)
            if len(rows) >= batch:
                yield _chain_batch(rows)
                rows = []
        if rows:
            yield _chain_batch(rows)

    @abstractmethod
    def read_snapshot(self) -> AbstractContextManager[None]:
        """Context manager: the reads made inside it see one consistent state of the
        database (a read transaction), however many cursors they hold open at once."""

    @abstractmethod
    def rows_by_seq(self, table: str, batch: int = 20_000) -> Iterator[tuple[int, str, Any]]:
        """Each stored row of ``table`` as (the seq of the entry that last wrote it, id,
        the row) in that seq's order, streamed: only a batch is held. The row is either the
        column values as a tuple or, where the backend can build it, the row as a compact
        JSON array in column order (None where it cannot); either is only a fast way to
        find rows equal to a replay's, and verify compares any other row column by column.
        Several of these streams may share one `read_snapshot`; outside one, each stream
        is a snapshot of its own."""

    def entry(self, seq: int) -> Entry | None:
        for e in self.iter_entries(seq, batch=1):
            return e if e.seq == seq else None
        return None

    def leaf_hashes(self, size: int | None = None) -> list[bytes]:
        """The stored entry hashes of the first ``size`` entries (default: all), in order."""
        return self._hashes(self.size() if size is None else size)

    def rows_where(self, table: str, column: str, values: Sequence[str]) -> list[Any]:
        """Rows whose ``column`` is one of ``values`` (an indexed column: subject_id, record_id)."""
        if column not in TABLES[table]._fields:
            raise ValueError(f"{table} has no column {column!r}")
        if not values:
            return []
        make = TABLES[table]._make
        return [make(row) for row in self._select_where(table, column, values)]

    def entries_at(self, seqs: Sequence[int]) -> list[Entry]:
        """The entries with these sequence numbers, in seq order."""
        return sorted(self._entries_at(sorted(set(seqs)))) if seqs else []

    def get_row(self, table: str, key: str) -> Any:
        return self._lookup_row(table, key)

    # --- the public query interface: every query module outside ledger/ uses these ------
    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Rows of one query with `?` placeholders (translated for PostgreSQL)."""
        return self._query(sql, tuple(params))

    def execute(self, sql: str, rows: Sequence[Sequence[Any]] = ((),)) -> None:
        """A statement with `?` placeholders, once per row of parameters."""
        self._run(sql, [tuple(r) for r in rows])

    def transaction(self) -> Any:
        """Context manager: one exclusive write transaction, committed on success, rolled
        back on an exception; not nestable."""
        return self._transaction()

    # --- evaluation state ------------------------------------------------------------
    def replace_state(
        self,
        rulebook_id: str,
        subject_ids: Sequence[str],
        profiles: Sequence[tuple[Any, ...]],
        lists: Sequence[tuple[Any, ...]],
        measures: Sequence[tuple[Any, ...]],
        ledger_size: int,
        on: str | None = None,
    ) -> None:
        """Replace the live state rows of one rulebook (every version of it) for these
        subjects, and mark them evaluated to ``ledger_size``, in one transaction; ``on``
        is the day they were judged on (committed to the ledger with the rows)."""
        self.replace_states([(rulebook_id, profiles, lists, measures)], subject_ids,
                            ledger_size, on)  # fmt: skip

    def replace_states(
        self,
        rulebooks: Sequence[tuple[str, Rows, Rows, Rows]],
        subject_ids: Sequence[str],
        ledger_size: int,
        on: str | None = None,
    ) -> None:
        """``replace_state`` for several rulebooks (id, profiles, lists, measures) in one
        transaction: whoever reads the state — a check server following it — sees the
        subjects' rows of every rulebook change at once, never some rulebooks' alone."""
        with self.writer() as w:
            # the change is committed to the ledger with the rows (state.committed)
            tabledigest.baseline_state(self, w, STATE_ALL)
            for rulebook_id, profiles, lists, measures in rulebooks:
                like = rulebook_id + "@%"
                delta = tabledigest.StateDelta(self, STATE_ALL, subject_ids, like)
                for table in STATE_TABLES:
                    self._run(
                        f"DELETE FROM {table} WHERE subject_id = ? AND rulebook LIKE ?",
                        [(s, like) for s in subject_ids],
                    )
                self._insert_state(LIVE_STATE_PREFIX, profiles, lists, measures)
                self._mark_evaluated(LIVE_STATE_PREFIX, subject_ids, ledger_size)
                w.append(tabledigest.STATE_KIND, delta.payload(ledger_size, on))

    def _insert_state(
        self,
        prefix: str,
        profiles: Sequence[tuple[Any, ...]],
        lists: Sequence[tuple[Any, ...]],
        measures: Sequence[tuple[Any, ...]],
    ) -> None:
        for table, rows in zip(STATE_TABLES, (profiles, lists, measures), strict=True):
            if rows:
                marks = ", ".join("?" for _ in rows[0])
                name = prefix + table.removeprefix(LIVE_STATE_PREFIX)
                self._run(f"INSERT INTO {name} VALUES ({marks})", rows)

    def _mark_evaluated(self, prefix: str, subject_ids: Sequence[str], size: int) -> None:
        self._run(
            f"INSERT INTO {prefix}subjects (subject_id, ledger_size) VALUES (?, ?) "
            "ON CONFLICT (subject_id) DO UPDATE SET ledger_size = EXCLUDED.ledger_size",
            [(s, size) for s in subject_ids],
        )

    # A whole evaluation is written aside and swapped in at once: readers see the old
    # state or the new one, never a mix, and a run killed half-way leaves the old whole.
    def begin_state_rebuild(self, note: dict[str, Any], keep_except: str | None) -> None:
        """Fresh staging tables (a killed run's leftovers are dropped), with the live rows
        of every rulebook but ``keep_except`` copied in when only one rulebook is redone
        (None: the whole state is redone); ``note`` says what is being evaluated."""
        tag = secrets.token_hex(4)
        int_type = "INTEGER" if self.url.startswith("sqlite") else "BIGINT"
        with self._transaction():
            for table in STATE_ALL:
                self._run(f"DROP TABLE IF EXISTS {_next(table)}", [()])
            for statement in state_ddl(NEXT_STATE_PREFIX, tag, int_type):
                self._run(statement, [()])
            if keep_except is not None:
                like = keep_except + "@%"
                for table in STATE_TABLES:
                    self._run(
                        f"INSERT INTO {_next(table)} SELECT * FROM {table} "
                        "WHERE rulebook NOT LIKE ?",
                        [(like,)],
                    )
                self._run(
                    f"INSERT INTO {_next('state_subjects')} SELECT * FROM state_subjects", [()]
                )
            self._set_meta({"state_rebuild": json.dumps(note, sort_keys=True)})

    def stage_state(
        self,
        profiles: Sequence[tuple[Any, ...]],
        lists: Sequence[tuple[Any, ...]],
        measures: Sequence[tuple[Any, ...]],
        evaluated: Sequence[str],
        ledger_size: int,
    ) -> None:
        """Rows of the evaluation being built (see `begin_state_rebuild`)."""
        with self._transaction():
            self._insert_state(NEXT_STATE_PREFIX, profiles, lists, measures)
            self._mark_evaluated(NEXT_STATE_PREFIX, evaluated, ledger_size)

    def finish_state_rebuild(self, meta: dict[str, str]) -> None:
        """Swap the staged state in, with ``meta`` about it, in one transaction."""
        with self.writer() as w:
            if not self._query("SELECT value FROM meta WHERE key = 'state_rebuild'", ()):
                raise StoreError("no evaluation is being built: nothing to swap in")
            # the state swapped in is committed to the ledger in the same transaction
            found = self._query("SELECT value FROM meta WHERE key = 'state_generation'", ())
            generation = int(found[0][0]) + 1 if found else 1
            w.append(
                tabledigest.STATE_KIND,
                tabledigest.full_state_payload(
                    self, NEXT_STATE_PREFIX, STATE_ALL, meta, generation
                ),
            )
            tabledigest.mark_committed(self, [tabledigest.STATE_HINT])
            for table in STATE_ALL:
                self._run(f"DROP TABLE IF EXISTS {table}", [()])
                self._run(f"ALTER TABLE {_next(table)} RENAME TO {table}", [()])
            self._run("DELETE FROM meta WHERE key = 'state_rebuild'", [()])
            self._set_meta(meta)
            # a whole re-evaluation may change no row count and no ledger position;
            # readers of the state (the check index) watch this counter for it
            self._run(
                "INSERT INTO meta (key, value) VALUES ('state_generation', '1') "
                "ON CONFLICT (key) DO UPDATE SET "
                "value = CAST(CAST(meta.value AS INTEGER) + 1 AS TEXT)",
                [()],
            )

    def interrupted_state_rebuild(self) -> dict[str, Any] | None:
        """What an evaluation that never swapped its state in was building (it was killed
        or failed; the live state is the one before it), or None."""
        rows = self._query("SELECT value FROM meta WHERE key = 'state_rebuild'", ())
        return dict(json.loads(rows[0][0])) if rows else None

    def _set_meta(self, values: dict[str, str]) -> None:
        self._run(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
            list(values.items()),
        )

    def state_rows(self, table: str, subject_id: str | None = None) -> list[tuple[Any, ...]]:
        if table not in STATE_ALL:
            raise ValueError(f"{table} is not a state table")
        where, params = ("", ()) if subject_id is None else (" WHERE subject_id = ?", (subject_id,))
        order = _STATE_ORDER[table]  # the key's columns: a stable order for comparisons
        return self._query(f"SELECT * FROM {table}{where} ORDER BY {order}", params)

    def has_state(self) -> bool:
        """Whether a whole evaluation has been swapped in yet."""
        return bool(self._query("SELECT 1 FROM state_subjects LIMIT 1", ()))

    def size_at(self, at_us: int) -> int:
        """How many entries had been appended by ledger time ``at_us``."""
        rows = self._query("SELECT count(*) FROM entries WHERE time_us <= ?", (at_us,))
        return int(rows[0][0])

    # --- rebuild -------------------------------------------------------------------
    def rebuild(self) -> dict[str, int]:
        """Drop the projections and replay the ledger into them, in one transaction."""
        from trustledger.ledger.projection import replay

        projector = replay(self.iter_entries())
        with self._transaction():
            for table in TABLES:
                self._clear(table)
            for table, rows in projector.changed.items():
                if rows:
                    self._insert_rows(table, list(rows.values()))
        return {t: len(r) for t, r in projector.changed.items()}

    # --- backend hooks -------------------------------------------------------------
    @abstractmethod
    def _transaction(self) -> Any:
        """Context manager: an exclusive write transaction, committed on success."""

    @abstractmethod
    def _read_head(self) -> Head: ...

    @abstractmethod
    def _hashes(self, size: int) -> list[bytes]: ...

    @abstractmethod
    def _run(self, sql: str, rows: Sequence[tuple[Any, ...]]) -> None:
        """A statement (with `?` placeholders) once per row of parameters."""

    @abstractmethod
    def create_tables(self, statements: Sequence[str]) -> None:
        """Run ``CREATE … IF NOT EXISTS`` statements in one transaction."""

    @abstractmethod
    def _query(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        """A query with `?` placeholders."""

    @abstractmethod
    def _select_where(
        self, table: str, column: str, values: Sequence[str]
    ) -> Iterable[tuple[Any, ...]]: ...

    @abstractmethod
    def _entries_at(self, seqs: Sequence[int]) -> list[Entry]: ...

    @abstractmethod
    def _lookup_row(self, table: str, key: str) -> Any: ...

    @abstractmethod
    def _fetch_rows(self, table: str, keys: Sequence[str]) -> dict[str, Any]:
        """Rows by key, in as few queries as the backend allows; absent keys are left out."""

    @abstractmethod
    def _insert_entries(self, entries: Sequence[Entry]) -> None: ...

    @abstractmethod
    def _insert_rows(self, table: str, rows: Sequence[tuple[Any, ...]]) -> None:
        """Rows known not to exist yet (the cheap path: no conflict handling)."""

    @abstractmethod
    def _upsert_rows(self, table: str, rows: Sequence[tuple[Any, ...]]) -> None:
        """Rows that may exist: insert or replace."""

    @abstractmethod
    def _insert_tree_head(self, head: TreeHead, frontier: bytes) -> None: ...

    @abstractmethod
    def _clear(self, table: str) -> None: ...


_STATE_ORDER = {
    "state_profiles": "1, 2",
    "state_lists": "1, 2, 3, 5",
    "state_measures": "1, 2, 3, 7",
    "state_subjects": "1",
}


def _chain_batch(entries: Sequence[Entry]) -> ChainBatch:
    return (
        [e.seq for e in entries],
        [b"\x00" + envelope(*e[:5]) for e in entries],
        [e.prev_hash for e in entries],
        [e.hash for e in entries],
    )


def _next(table: str) -> str:
    return NEXT_STATE_PREFIX + table.removeprefix(LIVE_STATE_PREFIX)


def head_from(frontier_bytes: bytes | None, last: Entry | None) -> Head:
    if frontier_bytes is None or last is None:
        return Head(merkle.Frontier(), GENESIS_PREV, 0)
    return Head(merkle.Frontier.from_bytes(frontier_bytes), last.hash, last.time_us)


def checked_meta(url: str, meta: dict[str, str]) -> dict[str, str]:
    """``meta`` if the database's schema is the one this code writes; a clear error if not."""
    found = meta.get("schema_version", SCHEMA_VERSION)
    if found != SCHEMA_VERSION:
        if found.isdigit() and int(found) < int(SCHEMA_VERSION):
            hint = "upgrade it in place with `trustledger db upgrade`"
        else:
            hint = "it was made by a newer trustledger: upgrade trustledger"
        raise StoreError(
            f"{url} has database schema {found}; this version of trustledger reads schema "
            f"{SCHEMA_VERSION}: {hint}"
        )
    return meta


def open_store(url: str) -> Store:
    """A store for ``sqlite:///path`` or ``postgresql://…``."""
    if url.startswith("sqlite://"):
        from trustledger.ledger.sqlite import SqliteStore

        return SqliteStore(url)
    if url.startswith(("postgresql://", "postgres://")):
        from trustledger.ledger.postgres import PostgresStore

        return PostgresStore(url)
    raise StoreError(
        f"unsupported database URL {url!r}: use sqlite:///path/to/file.db or postgresql://…"
    )
