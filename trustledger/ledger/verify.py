"""Recompute the whole ledger: chain, Merkle tree heads and projections.

The report names the first bad sequence number and what differs there, so an operator can
see where the stored history stops being the history that was written.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from hashlib import sha256
from typing import Any

import orjson

from trustledger.ledger import merkle
from trustledger.ledger.entry import GENESIS_PREV, envelope
from trustledger.ledger.projection import TABLES, ProjectionError, Projector
from trustledger.ledger.store import Store

MAX_PROBLEMS = 20


@dataclass
class VerifyReport:
    size: int = 0
    root: bytes = merkle.EMPTY_ROOT
    first_bad_seq: int | None = None
    problems: list[tuple[int, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.first_bad_seq is None

    def flag(self, seq: int, what: str) -> None:
        if self.first_bad_seq is None or seq < self.first_bad_seq:
            self.first_bad_seq = seq
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append((seq, what))

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "size": self.size,
            "root": self.root.hex(),
            "first_bad_seq": self.first_bad_seq,
            "problems": [{"seq": s, "problem": p} for s, p in sorted(self.problems)],
        }


def verify(store: Store, progress: Callable[[int], None] | None = None) -> VerifyReport:
    report = VerifyReport()
    heads = {h.size: h.root for h in store.tree_heads()}
    claimed = max(heads, default=0)
    frontier = merkle.Frontier()
    projector = Projector()
    apply = projector.apply
    loads = orjson.loads
    prev = GENESIS_PREV
    expected = 0
    for e in store.iter_entries():
        if e.seq != expected:
            if e.seq > expected:
                report.flag(expected, f"entries {expected}…{e.seq - 1} are missing")
            else:
                report.flag(e.seq, f"entry {e.seq} appears again after entry {expected - 1}")
            break
        computed = sha256(b"\x00" + envelope(e.seq, e.time_us, e.kind, e.prev_hash, e.payload))
        digest = computed.digest()
        if digest != e.hash:
            report.flag(
                e.seq,
                f"entry {e.seq} was altered: stored hash {e.hash.hex()[:16]}…, "
                f"its content hashes to {digest.hex()[:16]}…",
            )
            break
        if e.prev_hash != prev:
            report.flag(
                e.seq,
                f"entry {e.seq} links to {e.prev_hash.hex()[:16]}…, but entry "
                f"{e.seq - 1} hashes to {prev.hex()[:16]}…",
            )
            break
        try:
            apply(e, loads(e.payload))
        except (ProjectionError, KeyError, TypeError, orjson.JSONDecodeError) as exc:
            report.flag(e.seq, f"entry {e.seq} cannot be projected: {exc}")
            break
        prev = digest
        frontier.append(digest)
        expected += 1
        root = heads.get(expected)
        if root is not None and root != frontier.root():
            report.flag(
                expected - 1,
                f"tree head at size {expected} has root {root.hex()[:16]}…, "
                f"the entries give {frontier.root().hex()[:16]}…",
            )
        if progress is not None and expected % 50_000 == 0:
            progress(expected)
    report.size = expected
    report.root = frontier.root()
    if report.ok and claimed > expected:
        report.flag(
            expected,
            f"the latest tree head claims {claimed} entries, but the ledger ends after {expected}",
        )
    if report.ok:
        _compare_projections(store, projector, report)
    return report


def _compare_projections(store: Store, projector: Projector, report: VerifyReport) -> None:
    for table in TABLES:
        want: dict[str, Any] = dict(projector.changed[table])
        seq_of = _seq_field(table)
        for raw in store.iter_rows(table):
            stored = TABLES[table]._make(raw)
            expected = want.pop(stored.id, None)
            if expected is None:
                report.flag(
                    getattr(stored, seq_of), f"{table} row {stored.id} has no entry behind it"
                )
            elif tuple(expected) != tuple(stored):
                diff = [
                    f"{name}: stored {s!r}, ledger says {x!r}"
                    for name, s, x in zip(stored._fields, stored, expected, strict=True)
                    if s != x
                ]
                report.flag(
                    getattr(expected, seq_of),
                    f"{table} row {stored.id} differs from entry "
                    f"{getattr(expected, seq_of)} ({'; '.join(diff)})",
                )
        for key, expected in want.items():
            report.flag(
                getattr(expected, seq_of),
                f"{table} row {key} is missing (written by entry {getattr(expected, seq_of)})",
            )


def _seq_field(table: str) -> str:
    fields: tuple[str, ...] = TABLES[table]._fields
    return "last_seq" if "last_seq" in fields else "seq"
