"""Tables beside the ledger, committed to it: an updatable, order-independent digest.

Rows that are not projections of entries (monitoring packets, keys, the state an
evaluation wrote, …) are committed to the ledger by *digest*: every write transaction that
changes such a table appends, in the same transaction, one entry saying by how much each
table's digest and row count changed. The sum of those changes over the ledger is what
the live table must hash to; `verify` recomputes it, so a row changed, added or deleted
behind the application's back is found and its table named.

The digest is LtHash16 (Bellare and Micciancio's lattice hash with the parameters of Lewi
et al., "Securing Update Propagation with Homomorphic Hashing", 2019): a row is expanded by
SHAKE-256 to 1024 lanes of 16 bits and a multiset of rows hashes to the lane-wise sum
modulo 2¹⁶. Adding a row adds its lanes, removing one subtracts them, so an update costs
the rows it touches, not the table — the reason for a homomorphic hash rather than a
Merkle tree over sorted rows, which would have to be rebuilt on every write.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson
from numpy.typing import NDArray

from trustledger.domain import EntryKind

if TYPE_CHECKING:
    from trustledger.ledger.store import Store, Writer

LANES = 1024
_BYTES = 2 * LANES
_BLOCK = 4096  # rows expanded and summed at once (8 MiB of lanes)


def _value(v: Any) -> Any:
    # one encoding whatever the backend returns: SQLite gives a REAL column's integral value
    # back as a float, PostgreSQL gives BYTEA as memoryview
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, float) and v.is_integer():
        return int(v)
    if isinstance(v, memoryview | bytearray | bytes):
        return {"bytes": bytes(v).hex()}
    return v


def _binary(v: Any) -> Any:
    if isinstance(v, memoryview | bytearray | bytes):
        return {"bytes": bytes(v).hex()}
    raise TypeError(f"a table row holds a {type(v).__name__}")


_SLOW = frozenset({float, bool})


def row_bytes(row: Sequence[Any]) -> bytes:
    """The canonical bytes of one row (its columns in table order)."""
    if _SLOW.isdisjoint(map(type, row)):
        # text, integers, NULL and binary: orjson's own encoding is already canonical
        return orjson.dumps(tuple(row), default=_binary)
    return orjson.dumps([_value(v) for v in row])


class TableDigest:
    """The LtHash16 of a multiset of rows, with the number of rows."""

    __slots__ = ("count", "lanes")

    def __init__(self, lanes: NDArray[np.uint16] | None = None, count: int = 0) -> None:
        self.lanes: NDArray[np.uint16] = (
            np.zeros(LANES, dtype=np.uint16) if lanes is None else lanes.astype(np.uint16)
        )
        self.count = count

    @staticmethod
    def _sum(rows: Iterable[Sequence[Any]]) -> tuple[NDArray[np.uint16], int]:
        total = np.zeros(LANES, dtype=np.uint64)
        n = 0
        block: list[bytes] = []
        for row in rows:
            block.append(hashlib.shake_256(row_bytes(row)).digest(_BYTES))
            if len(block) == _BLOCK:
                total += (
                    np.frombuffer(b"".join(block), dtype="<u2")
                    .reshape(-1, LANES)
                    .sum(axis=0, dtype=np.uint64)
                )
                n += len(block)
                block = []
        if block:
            total += (
                np.frombuffer(b"".join(block), dtype="<u2")
                .reshape(-1, LANES)
                .sum(axis=0, dtype=np.uint64)
            )
            n += len(block)
        # the low 16 bits of the sum are the sum modulo 2¹⁶
        return (total & 0xFFFF).astype(np.uint16), n

    @classmethod
    def of(cls, rows: Iterable[Sequence[Any]]) -> TableDigest:
        lanes, n = cls._sum(rows)
        return cls(lanes, n)

    def add(self, rows: Iterable[Sequence[Any]]) -> None:
        lanes, n = self._sum(rows)
        self.lanes = self.lanes + lanes  # uint16 arithmetic wraps: modulo 2¹⁶
        self.count += n

    def remove(self, rows: Iterable[Sequence[Any]]) -> None:
        lanes, n = self._sum(rows)
        self.lanes = self.lanes - lanes
        self.count -= n

    def combine(self, other: TableDigest) -> None:
        self.lanes = self.lanes + other.lanes
        self.count += other.count

    def is_zero(self) -> bool:
        return self.count == 0 and not self.lanes.any()

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, TableDigest)
            and self.count == other.count
            and bool(np.array_equal(self.lanes, other.lanes))
        )

    def __hash__(self) -> int:
        return hash((self.count, self.lanes.tobytes()))

    def short(self) -> str:
        """A short fingerprint for messages: SHA-256 of the lanes."""
        return hashlib.sha256(self.lanes.astype("<u2").tobytes()).hexdigest()[:16]

    def to_json(self) -> dict[str, Any]:
        return {
            "rows": self.count,
            "lthash": base64.b64encode(self.lanes.astype("<u2").tobytes()).decode(),
        }

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> TableDigest:
        raw = base64.b64decode(obj["lthash"], validate=True)
        if len(raw) != _BYTES:
            raise ValueError(f"an LtHash16 digest has {_BYTES} bytes, not {len(raw)}")
        return cls(np.frombuffer(raw, dtype="<u2").copy(), int(obj["rows"]))


def table_rows(store: Store, table: str, where: str = "", params: Sequence[Any] = ()) -> Any:
    """Every column of the table's rows (as stored), optionally filtered."""
    return store.query(f"SELECT * FROM {table}{' WHERE ' + where if where else ''}", params)


def live_digest(store: Store, table: str) -> TableDigest:
    return TableDigest.of(table_rows(store, table))


class Commit:
    """The changes of one write transaction to committed tables (see `committed`)."""

    def __init__(self, store: Store, writer: Writer) -> None:
        self.store = store
        self.writer = writer
        self.deltas: dict[str, TableDigest] = {}

    def _delta(self, table: str) -> TableDigest:
        return self.deltas.setdefault(table, TableDigest())

    def added(self, table: str, rows: Sequence[Sequence[Any]]) -> None:
        """Rows just inserted, every column in table order, as they read back."""
        self._delta(table).add(rows)

    def removed(self, table: str, rows: Sequence[Sequence[Any]]) -> None:
        self._delta(table).remove(rows)

    @contextmanager
    def touching(self, table: str, where: str, params: Sequence[Any]) -> Iterator[None]:
        """The rows matching ``where`` before and after the statements run inside: what an
        update, a delete or an upsert changed is read back, not assumed."""
        before = table_rows(self.store, table, where, params)
        yield
        after = table_rows(self.store, table, where, params)
        self.removed(table, before)
        self.added(table, after)


def commit_payload(what: str, deltas: dict[str, TableDigest]) -> dict[str, Any]:
    return {
        "what": what,
        "tables": {t: d.to_json() for t, d in sorted(deltas.items()) if not d.is_zero()},
    }


@contextmanager
def committed(store: Store, what: str) -> Iterator[Commit]:
    """One write transaction whose changes to committed tables are appended to the ledger
    as one ``tables.committed`` entry (none if nothing changed); ``what`` says what wrote
    them. Rows and entry land together or not at all.

    The first write to a table no entry has committed yet (a database an earlier release
    wrote) commits the whole table as it then is, marked ``baseline``: the rows that
    release left are taken as found, once, and every change after is committed as made."""
    with store.writer() as w:
        commit = Commit(store, w)
        yield commit
        fresh = never_committed(store, list(commit.deltas))
        for table in fresh:
            commit.deltas[table] = live_digest(store, table)
        payload = commit_payload(what, commit.deltas)
        if payload["tables"]:
            if fresh:
                payload["baseline"] = sorted(fresh & set(payload["tables"]))
            w.append(EntryKind.TABLES_COMMITTED.value, payload)
            mark_committed(store, payload["tables"])


# Which tables some entry has committed, kept in meta as a hint so that a write need not
# scan the ledger: when the hint names a table, no baseline is taken (a forged name only
# makes verify fail, never hides a row); when it does not, the ledger itself is asked.
HINT_KEY = "committed_tables"


def hinted(store: Store) -> set[str]:
    rows = store.query("SELECT value FROM meta WHERE key = ?", [HINT_KEY])
    return set(orjson.loads(rows[0][0])) if rows else set()


def never_committed(store: Store, tables: Sequence[str]) -> set[str]:
    """Of ``tables``, those no ``tables.committed`` entry names (asks the ledger only about
    tables the hint does not name)."""
    unknown = set(tables) - hinted(store)
    if not unknown:
        return set()
    folded = fold(store)
    return {t for t in unknown if t not in folded}


def mark_committed(store: Store, tables: Iterable[str]) -> None:
    known = hinted(store)
    if set(tables) <= known:
        return
    value = orjson.dumps(sorted(known | set(tables))).decode()
    store.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?) "
        "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
        [(HINT_KEY, value)],
    )


def fold(store: Store, kind: str = EntryKind.TABLES_COMMITTED.value) -> dict[str, TableDigest]:
    """Per table, the sum of the changes every entry of ``kind`` committed."""
    out: dict[str, TableDigest] = {}
    rows = store.query("SELECT payload FROM entries WHERE kind = ? ORDER BY seq", [kind])
    for (payload,) in rows:
        for table, obj in orjson.loads(bytes(payload))["tables"].items():
            out.setdefault(table, TableDigest()).combine(TableDigest.from_json(obj))
    return out


# --- the live state an evaluation wrote -------------------------------------------------
STATE_KIND = EntryKind.STATE_COMMITTED.value
_CHUNK = 500


def state_digests(store: Store, prefix: str, tables: Sequence[str]) -> dict[str, TableDigest]:
    """The digest of each whole state table under ``prefix`` (``tables`` are live names)."""
    return {t: live_digest(store, prefix + t.removeprefix("state_")) for t in tables}


def _subject_rows(
    store: Store, table: str, subject_ids: Sequence[str], like: str | None
) -> list[tuple[Any, ...]]:
    out: list[tuple[Any, ...]] = []
    for i in range(0, len(subject_ids), _CHUNK):
        part = list(subject_ids[i : i + _CHUNK])
        where = f"subject_id IN ({', '.join('?' for _ in part)})"
        params: list[Any] = part
        if like is not None:
            where += " AND rulebook LIKE ?"
            params = [*part, like]
        out.extend(table_rows(store, table, where, params))
    return out


class StateDelta:
    """What a partial re-evaluation (some subjects, one regime) changes in the live state:
    the rows it replaces are read before, the rows it wrote after."""

    def __init__(
        self, store: Store, tables: Sequence[str], subject_ids: Sequence[str], like: str
    ) -> None:
        self.store, self.tables, self.ids, self.like = store, tables, list(subject_ids), like
        self.deltas = {t: TableDigest() for t in tables}
        for t in tables:
            self.deltas[t].remove(_subject_rows(store, t, self.ids, self._like(t)))

    def _like(self, table: str) -> str | None:
        return None if table == "state_subjects" else self.like

    def payload(self, ledger_size: int, on: str | None) -> dict[str, Any]:
        rulebooks: set[str] = set()
        for t in self.tables:
            rows = _subject_rows(self.store, t, self.ids, self._like(t))
            if t != "state_subjects":
                rulebooks.update(str(r[0]) for r in rows)
            self.deltas[t].add(rows)
        return {
            "full": False,
            "ledger_size": ledger_size,
            "on": on,
            "rulebooks": sorted(rulebooks),
            "subjects": len(self.ids),
            "tables": {t: d.to_json() for t, d in self.deltas.items()},
        }


def full_state_payload(
    store: Store, prefix: str, tables: Sequence[str], meta: dict[str, str], generation: int
) -> dict[str, Any]:
    """The ``state.committed`` payload of a whole evaluation staged under ``prefix``: the
    absolute digest of each state table, the ledger size it reflects, the judging day, the
    rulebook versions its rows came from and the meta written with it."""
    digests = state_digests(store, prefix, tables)
    rulebooks = {
        str(r[0])
        for t in tables
        if t != "state_subjects"
        for r in store.query(f"SELECT DISTINCT rulebook FROM {prefix}{t.removeprefix('state_')}")
    }
    return {
        "full": True,
        "ledger_size": int(meta.get("state_ledger_size", "0") or 0),
        "on": meta.get("state_on"),
        "rulebooks": sorted(rulebooks),
        "meta": {**meta, "state_generation": str(generation)},
        "tables": {t: d.to_json() for t, d in digests.items()},
    }


STATE_HINT = "state"


def baseline_state(store: Store, writer: Writer, tables: Sequence[str]) -> None:
    """Before a partial re-evaluation changes a live state no ``state.committed`` entry
    commits (an earlier release swapped it in), commit it as found, with its meta."""
    if STATE_HINT in hinted(store):
        return
    if fold_state(store)[0] is None and store.has_state():
        state_keys = ("state_on", "state_known_at_us", "state_ledger_size", "state_rulebook",
                      "state_generation")  # fmt: skip
        meta = {k: v for k, v in store.meta().items() if k in state_keys}
        payload = full_state_payload(store, "state_", tables, meta, 0)
        payload["meta"] = meta  # exactly the keys the earlier release wrote
        payload["baseline"] = True
        writer.append(STATE_KIND, payload)
    mark_committed(store, [STATE_HINT])


def fold_state(store: Store) -> tuple[dict[str, TableDigest] | None, dict[str, Any] | None, int]:
    """What the state.committed entries say the live state hashes to: the latest whole
    evaluation plus the partial ones after it; with the latest whole payload and the seq of
    the latest entry (None, None, -1 if no evaluation was ever committed)."""
    state: dict[str, TableDigest] | None = None
    full: dict[str, Any] | None = None
    last = -1
    rows = store.query("SELECT seq, payload FROM entries WHERE kind = ? ORDER BY seq", [STATE_KIND])
    for seq, raw in rows:
        payload = orjson.loads(bytes(raw))
        digests = {t: TableDigest.from_json(o) for t, o in payload["tables"].items()}
        if payload["full"] or state is None:
            state = digests
            if payload["full"]:
                full = payload
        else:
            for t, d in digests.items():
                state.setdefault(t, TableDigest()).combine(d)
        last = int(seq)
    return state, full, last


COMMIT_KINDS = frozenset({EntryKind.TABLES_COMMITTED.value, STATE_KIND})
_PAGE = 256


def facts_size(store: Store) -> int:
    """The ledger size up to and including its last entry that is a fact, not a commit of
    rows beside the ledger: what an evaluation reflects. Committing the state it wrote
    (or a batch of packets) changes no subject's facts, so evaluating again afterwards
    reflects the same size and writes the same state."""
    pos = store.size()
    while pos > 0:
        rows = store.query(
            "SELECT seq, kind FROM entries WHERE seq < ? AND seq >= ? ORDER BY seq DESC",
            (pos, max(0, pos - _PAGE)),
        )
        for seq, kind in rows:
            if kind not in COMMIT_KINDS:
                return int(seq) + 1
        pos -= _PAGE
    return 0
