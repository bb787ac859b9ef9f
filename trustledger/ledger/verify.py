"""Recompute the whole ledger: chain, Merkle tree heads and projections.

The report names the first bad sequence number and what differs there, so an operator can
see where the stored history stops being the history that was written. The chain and the
projections are independent checks over the same entries, so with a database URL that
another process can open they run side by side on two cores.
"""

from __future__ import annotations

import gc
import multiprocessing
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from hashlib import sha256
from typing import Any

import orjson

from trustledger.ledger import merkle
from trustledger.ledger.entry import GENESIS_PREV, Entry, envelope
from trustledger.ledger.projection import TABLES, ProjectionError, Projector
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


def _verify(store: Store, progress: Callable[[int], None] | None) -> VerifyReport:
    if store.url.startswith("sqlite:///:memory:") or multiprocessing.cpu_count() < 2:
        report = verify_chain(store, progress)
        if report.ok:
            report.merge(verify_projections(store))
        return report
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(1) as pool:
        pending = pool.apply_async(_projections_in_child, (store.url,))
        report = verify_chain(store, progress)
        projections = pending.get()
    if report.ok:
        # projections are only meaningful over an intact chain
        report.merge(projections)
    return report


def _projections_in_child(url: str) -> VerifyReport:
    with open_store(url) as store:
        return verify_projections(store)


def verify_chain(store: Store, progress: Callable[[int], None] | None = None) -> VerifyReport:
    """Entry hashes, links, sequence and every stored tree head."""
    report = VerifyReport()
    heads = {h.size: h.root for h in store.tree_heads()}
    claimed = max(heads, default=0)
    frontier = merkle.Frontier()
    pending: list[bytes] = []  # leaf hashes not yet folded into the frontier
    prev = GENESIS_PREV
    expected = 0
    for seq, time_us, kind, prev_hash, payload, stored_hash in store.iter_entries():
        if seq != expected:
            if seq > expected:
                report.flag(expected, f"entries {expected}…{seq - 1} are missing")
            else:
                report.flag(seq, f"entry {seq} appears again after entry {expected - 1}")
            break
        digest = sha256(b"\x00" + envelope(seq, time_us, kind, prev_hash, payload)).digest()
        if digest != stored_hash:
            report.flag(
                seq,
                f"entry {seq} was altered: stored hash {stored_hash.hex()[:16]}…, "
                f"its content hashes to {digest.hex()[:16]}…",
            )
            break
        if prev_hash != prev:
            report.flag(
                seq,
                f"entry {seq} links to {prev_hash.hex()[:16]}…, but entry "
                f"{seq - 1} hashes to {prev.hex()[:16]}…",
            )
            break
        prev = digest
        pending.append(digest)
        expected += 1
        if expected in heads:
            frontier.extend(pending)
            pending = []
            if heads[expected] != frontier.root():
                report.flag(
                    expected - 1,
                    f"tree head at size {expected} has root {heads[expected].hex()[:16]}…, "
                    f"the entries give {frontier.root().hex()[:16]}…",
                )
        if progress is not None and expected % 100_000 == 0:
            progress(expected)
    frontier.extend(pending)
    report.size = expected
    report.root = frontier.root()
    if report.ok and claimed > expected:
        report.flag(
            expected,
            f"the latest tree head claims {claimed} entries, but the ledger ends after {expected}",
        )
    return report


def verify_projections(store: Store) -> VerifyReport:
    """Replay the entries and compare every projection row with the stored one."""
    report = VerifyReport()
    # millions of rows held at once and no reference cycles among them: the cyclic
    # collector would only walk the growing heap again and again
    gc_was_on = gc.isenabled()
    gc.disable()
    try:
        projector = _replay(store.iter_entries(), report)
        if report.ok:
            _compare(store, projector, report)
    finally:
        if gc_was_on:
            gc.enable()
    return report


def _replay(entries: Iterable[Entry], report: VerifyReport) -> Projector:
    projector = Projector()
    apply = projector.apply
    loads = orjson.loads
    for entry in entries:
        try:
            apply(entry, loads(entry.payload))
        except (ProjectionError, KeyError, TypeError, orjson.JSONDecodeError) as exc:
            report.flag(entry.seq, f"entry {entry.seq} cannot be projected: {exc}")
            break
    return projector


def _compare(store: Store, projector: Projector, report: VerifyReport) -> None:
    for table in TABLES:
        want: dict[str, Any] = projector.changed[table]
        seq_of = _seq_field(table)
        make = TABLES[table]._make
        for raw in store.iter_rows(table):
            expected = want.pop(raw[0], None)
            # a row tuple equals its NamedTuple; build the named form only to explain a miss
            if expected is not None and expected == raw:
                continue
            stored = make(raw)
            if expected is None:
                report.flag(
                    getattr(stored, seq_of), f"{table} row {stored.id} has no entry behind it"
                )
            else:
                diff = [
                    f"{name}: stored {s!r}, ledger says {x!r}"
                    for name, s, x in zip(stored._fields, stored, expected, strict=True)
                    if s != x
                ]
                seq = getattr(expected, seq_of)
                report.flag(
                    seq, f"{table} row {stored.id} differs from entry {seq} ({'; '.join(diff)})"
                )
        for key, expected in want.items():
            seq = getattr(expected, seq_of)
            report.flag(seq, f"{table} row {key} is missing (written by entry {seq})")


def _seq_field(table: str) -> str:
    fields: tuple[str, ...] = TABLES[table]._fields
    return "last_seq" if "last_seq" in fields else "seq"
