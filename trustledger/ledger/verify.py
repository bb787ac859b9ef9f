"""Recompute the whole ledger: chain, Merkle tree heads and projections.

The report names the first bad sequence number and what differs there, so an operator can
see where the stored history stops being the history that was written. The chain and the
projections are independent checks over the same entries, so with a database URL that
another process can open they run side by side on two cores.
"""

from __future__ import annotations

import gc
import heapq
import multiprocessing
from bisect import bisect_right
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from hashlib import sha256
from typing import Any

import orjson

from trustledger.ledger import merkle
from trustledger.ledger.entry import GENESIS_PREV
from trustledger.ledger.projection import TABLES, ProjectionError, Projector, kinds_writing
from trustledger.ledger.schema import columns, last_write_column
from trustledger.ledger.store import Store, open_store

MAX_PROBLEMS = 20


@dataclass
class VerifyReport:
    size: int = 0
    root: bytes = merkle.EMPTY_ROOT
    first_bad_seq: int | None = None
    problems: list[tuple[int, str]] = field(default_factory=list)
    # about the derived state (not part of what is verified, and no reason to fail)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.first_bad_seq is None

    def flag(self, seq: int, what: str) -> None:
        if self.first_bad_seq is None or seq < self.first_bad_seq:
            self.first_bad_seq = seq
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append((seq, what))

    def merge(self, other: VerifyReport) -> None:
        for seq, what in other.problems:
            self.flag(seq, what)

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "size": self.size,
            "root": self.root.hex(),
            "first_bad_seq": self.first_bad_seq,
            "problems": [{"seq": s, "problem": p} for s, p in sorted(self.problems)],
            "notes": self.notes,
        }


def verify(store: Store, progress: Callable[[int], None] | None = None) -> VerifyReport:
    """Check everything; the projection check runs in a second process when it can."""
    report = _verify(store, progress)
    report.notes = state_notes(store)
    return report


def state_notes(store: Store) -> list[str]:
    """What the live state reflects, and an evaluation that never swapped its state in."""
    meta = store.meta()
    notes = []
    if "state_ledger_size" in meta:
        notes.append(
            f"live state: the evaluation of ledger size {meta['state_ledger_size']}, judged on "
            f"{meta.get('state_on', '?')}; checked against the state.committed entries"
        )
    interrupted = store.interrupted_state_rebuild()
    if interrupted is not None:
        notes.append(
            f"an evaluation started {interrupted.get('started', 'at an unknown time')} did "
            "not finish: its partial output was never swapped in; the live state is the one "
            "before it (run `trustledger evaluate` again)"
        )
    return notes


class VerifyIncomplete(Exception):
    """The verification could not be carried to its end: nothing is claimed intact."""


def _verify(store: Store, progress: Callable[[int], None] | None) -> VerifyReport:
    if store.url.startswith("sqlite:///:memory:") or multiprocessing.cpu_count() < 2:
        report = verify_chain(store, progress)
        if report.ok:
            report.merge(verify_projections(store))
        return report
    # an executor, not a Pool: a Pool replaces a worker the system killed (out of memory,
    # say) and waits for its answer forever; an executor says the process is gone
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        pending = pool.submit(_projections_in_child, store.url)
        report = verify_chain(store, progress)
        # the chain takes this process less time than the records take the other: the
        # remaining tables fill the gap
        rest = verify_projections(store, _IN_PARENT) if report.ok else VerifyReport()
        try:
            projections = pending.result()
        except BrokenProcessPool:
            raise VerifyIncomplete(
                "the projection check's process died before it answered (killed by the "
                "system, most likely); the chain and tree "
                f"{'verified' if report.ok else 'did not verify'} "
                f"over {report.size:,} entries, the projections are NOT verified"
            ) from None
    if report.ok:
        # projections are only meaningful over an intact chain
        report.merge(projections)
        report.merge(rest)
    return report


# the tables most entries write, replayed in the second process while the first checks the
# chain and then replays the others: the two processes take about as long
_IN_CHILD = ("records", "record_events")
_IN_PARENT = tuple(t for t in TABLES if t not in _IN_CHILD)


def _projections_in_child(url: str) -> VerifyReport:
    with open_store(url) as store:
        return verify_projections(store, _IN_CHILD)


def verify_chain(store: Store, progress: Callable[[int], None] | None = None) -> VerifyReport:
    """Entry hashes, links, sequence and every stored tree head.

    A batch is checked whole first: its leaf hashes in one comprehension, then the lists
    of seqs, hashes and links compared at C speed. Only a batch that fails is walked
    entry by entry, to name the first bad one.
    """
    report = VerifyReport()
    heads = {h.size: h.root for h in store.tree_heads()}
    claimed = max(heads, default=0)
    sizes = sorted(heads)
    frontier = merkle.Frontier()
    prev = GENESIS_PREV
    expected = 0
    for seqs, leaves, prevs, hashes in store.chain_columns():
        n = len(seqs)
        end = expected + n
        try:
            digests = [sha256(leaf).digest() for leaf in leaves]  # type: ignore[arg-type]
        except TypeError:
            digests = []  # a NULL column: the walk below names the entry
        if not (
            len(digests) == n
            and seqs == list(range(expected, end))
            and digests == hashes
            and prevs[0] == prev
            and prevs[1:] == digests[:-1]
        ):
            good = _first_bad(report, expected, prev, seqs, leaves, prevs, hashes)
            _fold(report, frontier, heads, sizes, expected, good)
            return _finish(report, frontier, expected + len(good), claimed)
        _fold(report, frontier, heads, sizes, expected, digests)
        if progress is not None and end // 100_000 > expected // 100_000:
            progress(end // 100_000 * 100_000)
        prev = digests[-1]
        expected = end
    return _finish(report, frontier, expected, claimed)


def _fold(
    report: VerifyReport,
    frontier: merkle.Frontier,
    heads: dict[int, bytes],
    sizes: list[int],
    start: int,
    digests: list[bytes],
) -> None:
    """Fold leaf hashes from ``start`` on into the tree, checking each stored tree head
    they reach."""
    at = start
    for size in sizes[bisect_right(sizes, start) : bisect_right(sizes, start + len(digests))]:
        frontier.extend(digests[at - start : size - start])
        at = size
        if heads[size] != frontier.root():
            report.flag(
                size - 1,
                f"tree head at size {size} has root {heads[size].hex()[:16]}…, "
                f"the entries give {frontier.root().hex()[:16]}…",
            )
    frontier.extend(digests[at - start :])


def _first_bad(
    report: VerifyReport,
    expected: int,
    prev: bytes,
    seqs: list[int],
    leaves: list[bytes | None],
    prevs: list[bytes],
    hashes: list[bytes],
) -> list[bytes]:
    """Flag the first entry of a batch that breaks the chain, and where it breaks it;
    the leaf hashes of the entries before it."""
    good: list[bytes] = []
    for seq, leaf, prev_hash, stored_hash in zip(seqs, leaves, prevs, hashes, strict=True):
        if seq != expected:
            if seq > expected:
                report.flag(expected, f"entries {expected}…{seq - 1} are missing")
            else:
                report.flag(seq, f"entry {seq} appears again after entry {expected - 1}")
            return good
        if leaf is None or not isinstance(stored_hash, bytes):
            report.flag(seq, f"entry {seq} has a missing or malformed column")
            return good
        digest = sha256(leaf).digest()
        if digest != stored_hash:
            report.flag(
                seq,
                f"entry {seq} was altered: stored hash {stored_hash.hex()[:16]}…, "
                f"its content hashes to {digest.hex()[:16]}…",
            )
            return good
        if prev_hash != prev:
            report.flag(
                seq,
                f"entry {seq} links to {bytes(prev_hash).hex()[:16]}…, but entry "
                f"{seq - 1} hashes to {prev.hex()[:16]}…",
            )
            return good
        prev = digest
        good.append(digest)
        expected += 1
    return good


def _finish(
    report: VerifyReport, frontier: merkle.Frontier, expected: int, claimed: int
) -> VerifyReport:
    report.size = expected
    report.root = frontier.root()
    if report.ok and claimed > expected:
        report.flag(
            expected,
            f"the latest tree head claims {claimed} entries, but the ledger ends after {expected}",
        )
    return report


def verify_projections(store: Store, tables: Sequence[str] = tuple(TABLES)) -> VerifyReport:
    """Replay the entries and compare every projection row of ``tables`` (default: all)
    with the stored one; only the entries whose kinds write those tables are read.

    The stored rows are read in the order of the entry that last wrote each (``last_seq``
    or ``seq``), beside the entries: once the replay has applied entry ``s``, every stored
    row that claims ``s`` as its last write is compared and dropped from the replay. The
    replay so holds only rows a later entry will still change, not the whole ledger's
    rows, and its memory does not grow with the ledger. A stored row that claims too early
    a last write is still caught: it differs from the replay there, or the later entry
    finds no row to change, or writes a row the table lacks.
    """
    report = VerifyReport()
    # rows are dropped as soon as they are compared, and none holds a reference cycle:
    # the cyclic collector would only walk the replay's dicts again and again
    gc_was_on = gc.isenabled()
    gc.disable()
    try:
        with store.read_snapshot():
            _replay_and_compare(store, tuple(tables), report)
    finally:
        if gc_was_on:
            gc.enable()
    return report


def _stored_rows(store: Store, names: Sequence[str]) -> Iterator[tuple[int, int, str, Any]]:
    """The rows of ``names`` as (last write, the table's index, id, row), in that order."""

    def tagged(index: int, table: str) -> Iterator[tuple[int, int, str, Any]]:
        for seq, key, row in store.rows_by_seq(table):
            yield seq, index, key, row

    # (seq, index, id) is unique (an id is a table's key), so the rows never get compared
    return heapq.merge(*(tagged(i, t) for i, t in enumerate(names)))


def _replay_and_compare(store: Store, names: tuple[str, ...], report: VerifyReport) -> None:
    unknown = [t for t in names if t not in TABLES]
    if unknown:
        raise ValueError(f"not projection tables: {', '.join(unknown)}")
    projector = Projector()
    apply = projector.apply
    loads = orjson.loads
    dumps = orjson.dumps
    live = [projector.changed[t] for t in names]
    stored = _stored_rows(store, names)
    pending = next(stored, None)
    for entry in store.iter_entries(kinds=kinds_writing(names)):
        try:
            apply(entry, loads(entry.payload))
        except (ProjectionError, KeyError, TypeError, orjson.JSONDecodeError) as exc:
            # a row compared too early (its stored last write before this entry) leaves
            # the replay without it: say so where a differing row was already named
            why = " (a consequence of the row named above)" if not report.ok else ""
            report.flag(entry.seq, f"entry {entry.seq} cannot be projected: {exc}{why}")
            return
        seq = entry.seq
        while pending is not None and pending[0] <= seq:
            _, index, key, row = pending
            expected = live[index].pop(key, None)
            # equal JSON means equal values and a row tuple equals its NamedTuple: a row
            # equal to the replay's passes at one comparison; any other is explained
            if expected is None or not (
                row == dumps(tuple(expected)) if type(row) is bytes else row == expected
            ):
                _explain(store, names[index], key, pending[0], expected, report)
            pending = next(stored, None)
    # rows claiming entries past the last one of their kinds: none has an entry behind it
    while pending is not None:
        _, index, key, _row = pending
        _explain(store, names[index], key, pending[0], live[index].pop(key, None), report)
        pending = next(stored, None)
    for index, table in enumerate(names):
        seq_of = last_write_column(table)
        for key, expected in live[index].items():
            seq = getattr(expected, seq_of)
            report.flag(seq, f"{table} row {key} is missing (written by entry {seq})")


def _explain(
    store: Store, table: str, key: str, claimed: int, expected: Any, report: VerifyReport
) -> None:
    """Flag a stored row that is not the replay's, naming the columns that differ."""
    if expected is None:
        report.flag(claimed, f"{table} row {key} has no entry behind it")
        return
    cols = columns(table)
    found = store.query(f"SELECT {', '.join(cols)} FROM {table} WHERE id = ?", (key,))
    stored = TABLES[table]._make(found[0])
    if stored == expected:
        return  # the fast comparison's form differed, the values do not
    diff = [
        f"{name}: stored {s!r}, ledger says {x!r}"
        for name, s, x in zip(stored._fields, stored, expected, strict=True)
        if s != x
    ]
    seq = getattr(expected, last_write_column(table))
    report.flag(seq, f"{table} row {key} differs from entry {seq} ({'; '.join(diff)})")
