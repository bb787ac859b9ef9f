"""The ledger as the public checks it: the tree head, one entry with its RFC 6962 inclusion
proof, and whether the entry may be shown.

A proof needs the roots of about log₂(n) subtrees whose sizes add up to n, so computing it
from every leaf (``app.ledger.inclusion``) reads and hashes the whole ledger: half a second
at the demo's 360,000 entries. The ledger only grows, so the root of a complete, aligned
subtree never changes once its leaves exist: those of ``CHUNK`` leaves and more are kept per
database, and a proof then reads at most two chunks of leaves (the entry's own and the
ragged right edge). The root the proof leads to is compared with the stored tree head's
before it is shown; a mismatch (a ledger rewritten under a running server) drops the kept
subtrees and computes again from the leaves.

An entry about a person (a person's registration or record, or a change to a record about a
person) is never shown: only that it exists, its leaf hash and its proof. An entry about an
organisation that names a person (its legal representative, keyed-hashed) is shown with that
id withheld.
"""

from __future__ import annotations

import logging
import re
import threading
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from trustledger.app.errors import BadInput, NotFound

if TYPE_CHECKING:
    from trustledger.app.context import Context
    from trustledger.ledger.store import Store

log = logging.getLogger(__name__)

CHUNK = 1024  # leaves per kept subtree: ≤ 2 × CHUNK leaves read per proof
_PERSON_ID = re.compile(r"P[0-9a-f]{32}")
# payload keys that name a row whose subject decides whether the entry is about a person
_ROW_KEYS = {"record_id": "records", "objection_id": "objections", "repair_id": "repairs",
             "hold_id": "holds"}  # fmt: skip


class _Subtrees:
    """Roots of complete, aligned subtrees of ≥ CHUNK leaves of one database's ledger."""

    def __init__(self) -> None:
        self.roots: dict[tuple[int, int], bytes] = {}
        self.lock = threading.Lock()  # guards ``roots``
        self.filling = threading.Lock()  # held by whoever fills them from the whole ledger


# by database URL, so that a connection of its own fills them for the server's
_KEPT: dict[str, _Subtrees] = {}
_KEPT_LOCK = threading.Lock()


def _kept(store: Store) -> _Subtrees:
    with _KEPT_LOCK:
        found = _KEPT.get(store.url)
        if found is None:
            found = _KEPT[store.url] = _Subtrees()
        return found


def _filled(kept: _Subtrees, size: int) -> bool:
    # the left half of the root's split is kept once a fill has run over this size
    with kept.lock:
        return size < CHUNK or (0, 1 << (size.bit_length() - 1)) in kept.roots


def _fill(ctx: Context, kept: _Subtrees) -> None:
    """Fill the kept subtrees on a connection of its own (the server's stays free); waits
    for a fill already running instead of doing the work twice."""
    from trustledger.app.context import Context as Opened

    with kept.filling, Opened.open(ctx.settings, must_exist=False) as own:
        size = own.store.size()
        if not _filled(kept, size):
            tree = _Tree(own.store, size, kept)
            # every leaf is needed once: one read instead of a query per chunk
            leaves = own.store.leaf_hashes(size)
            for index in range(0, size, CHUNK):
                tree.chunks[index // CHUNK] = leaves[index : index + CHUNK]
            tree.root(0, size)


def prepare(ctx: Context) -> None:
    """Fill the kept subtrees in the background if they are not yet: the first proof after
    a start then costs milliseconds, not the whole ledger. Called by the ledger page before
    anyone has asked for an entry."""
    kept = _kept(ctx.store)
    if _filled(kept, ctx.store.size()) or kept.filling.locked():
        return

    def fill() -> None:
        try:
            _fill(ctx, kept)
        except Exception:  # a warm-up that fails leaves the first proof to do the work
            log.exception("filling the ledger's kept subtrees failed")

    threading.Thread(target=fill, name="ledger-subtrees", daemon=True).start()


class _Tree:
    """MTH over the ledger's first ``size`` leaves, reading leaves a chunk at a time."""

    def __init__(self, store: Store, size: int, kept: _Subtrees) -> None:
        self.store = store
        self.size = size
        self.kept = kept
        self.chunks: dict[int, list[bytes]] = {}
        self.leaves_read = 0

    def _chunk(self, index: int) -> list[bytes]:
        found = self.chunks.get(index)
        if found is None:
            lo, hi = index * CHUNK, min((index + 1) * CHUNK, self.size)
            rows = self.store.query(
                "SELECT hash FROM entries WHERE seq >= ? AND seq < ? ORDER BY seq", (lo, hi)
            )
            found = self.chunks[index] = [bytes(r[0]) for r in rows]
            if len(found) != hi - lo:
                raise NotFound(f"the ledger holds fewer than {hi} entries")
            self.leaves_read += len(found)
        return found

    def leaves(self, lo: int, hi: int) -> list[bytes]:
        out: list[bytes] = []
        while lo < hi:
            index = lo // CHUNK
            end = min(hi, (index + 1) * CHUNK)
            out += self._chunk(index)[lo - index * CHUNK : end - index * CHUNK]
            lo = end
        return out

    def root(self, lo: int, hi: int) -> bytes:
        """MTH(D[lo:hi]); every range RFC 6962's split produces starts aligned to its
        left part, so complete ranges of ≥ CHUNK leaves can be kept."""
        from trustledger.ledger import merkle

        n = hi - lo
        complete = n >= CHUNK and n & (n - 1) == 0 and lo % n == 0
        if complete:
            with self.kept.lock:
                found = self.kept.roots.get((lo, n))
            if found is not None:
                return found
        if n <= CHUNK:
            value = merkle.root(self.leaves(lo, hi))
        else:
            k = 1 << ((n - 1).bit_length() - 1)
            value = merkle.node_hash(self.root(lo, lo + k), self.root(lo + k, hi))
        if complete:
            with self.kept.lock:
                self.kept.roots[(lo, n)] = value
        return value

    def path(self, index: int) -> list[bytes]:
        """PATH(index, D[0:size]) (RFC 9162 §2.1.3.1), from the leaf upwards."""
        out: list[bytes] = []
        lo, hi = 0, self.size
        while hi - lo > 1:
            k = 1 << ((hi - lo - 1).bit_length() - 1)
            if index < lo + k:
                out.append(self.root(lo + k, hi))
                hi = lo + k
            else:
                out.append(self.root(lo, lo + k))
                lo += k
        out.reverse()
        return out


def head(ctx: Context) -> dict[str, Any]:
    """The latest tree head: size, root (hex) and its time (µs)."""
    found = ctx.store.head()
    return {"size": found.size, "root": found.root.hex(), "time_us": found.time_us}


def proof(ctx: Context, seq: int) -> dict[str, Any]:
    """The inclusion proof of entry ``seq`` in the tree of the latest head, its root
    checked against the head's (``root_matches_head``)."""
    store = ctx.store
    tree_head = store.head()
    size = tree_head.size
    if not 0 <= seq < size:
        raise NotFound(
            f"no entry {seq}: the ledger holds {size:,} entries (0 to {max(size - 1, 0):,})"
        )
    kept = _kept(store)
    tree = _Tree(store, size, kept)
    root = tree.root(0, size)
    if root != tree_head.root:
        # kept subtrees from another ledger (rewritten or restored under a running server)
        with kept.lock:
            kept.roots.clear()
        tree = _Tree(store, size, kept)
        root = tree.root(0, size)
    path = tree.path(seq)
    leaf = tree.leaves(seq, seq + 1)[0]
    return {
        "seq": seq,
        "tree_size": size,
        "root": root.hex(),
        "head_root": tree_head.root.hex(),
        "root_matches_head": root == tree_head.root,
        "head_time_us": tree_head.time_us,
        "leaf_hash": leaf.hex(),
        "proof": [p.hex() for p in path],
    }


def names_person(value: Any) -> bool:
    if isinstance(value, str):
        return _PERSON_ID.fullmatch(value) is not None
    if isinstance(value, dict):
        return any(names_person(v) for v in value.values())
    if isinstance(value, list):
        return any(names_person(v) for v in value)
    return False


def about_person(ctx: Context, payload: dict[str, Any]) -> bool:
    """Whether an entry is about a person: it registers a person, is a record about one, or
    changes a record (or an objection, repair or hold) whose subject is a person."""
    if payload.get("kind") == "person" or payload.get("subject_kind") == "person":
        return True
    for key in ("id", "subject", "subject_id"):
        value = payload.get(key)
        if isinstance(value, str) and _PERSON_ID.fullmatch(value):
            return True
    for key, table in _ROW_KEYS.items():
        found = payload.get(key)
        if isinstance(found, str):
            row = ctx.store.get_row(table, found)
            if row is not None and str(getattr(row, "subject_id", "")).startswith("P"):
                return True
    return False


_QUOTED_PERSON_ID = re.compile(r'"P[0-9a-f]{32}"')
WITHHELD_ID = "(a person's id, withheld)"


@dataclass(frozen=True)
class EntryPage:
    seq: int
    withheld: bool  # about a person: only that it exists, its leaf hash and its proof
    kind: str | None
    time_us: int | None
    # the canonical JSON the leaf hash is computed over; with ``masked``, the same with
    # the ids of the persons it names (an organisation's legal representative) withheld,
    # which then no longer hashes to the leaf
    entry: str | None
    proof: dict[str, Any]
    masked: bool = False


def entry_page(
    ctx: Context, seq: int, *, lock: AbstractContextManager[Any] | None = None
) -> EntryPage:
    """Entry ``seq`` with its inclusion proof; NotFound outside the ledger. ``lock``
    guards ``ctx.store`` (a server's shared connection): given, the kept subtrees are
    filled first on a connection of their own, outside it, and only the proof's few reads
    hold it."""
    if seq < 0:
        raise BadInput("a sequence number is 0 or more")
    if lock is None:
        return _entry_page(ctx, seq)
    with lock:
        kept, size = _kept(ctx.store), ctx.store.size()
    if not _filled(kept, size):
        _fill(ctx, kept)
    with lock:
        return _entry_page(ctx, seq)


def _entry_page(ctx: Context, seq: int) -> EntryPage:
    checked = proof(ctx, seq)
    entry = ctx.store.entry(seq)
    if entry is None:
        raise NotFound(f"no entry {seq}")
    text = entry.envelope().decode()
    payload = orjson.loads(text).get("payload") or {}
    payload = payload if isinstance(payload, dict) else {}
    if about_person(ctx, payload):
        return EntryPage(seq, True, None, None, None, checked)
    if names_person(payload):
        shown = _QUOTED_PERSON_ID.sub(f'"{WITHHELD_ID}"', text)
        return EntryPage(seq, False, entry.kind, entry.time_us, shown, checked, masked=True)
    return EntryPage(seq, False, entry.kind, entry.time_us, text, checked)
