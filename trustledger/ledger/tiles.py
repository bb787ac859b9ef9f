"""The Merkle tree stored as C2SP `tlog-tiles` tiles, and proofs read from them.

A tile at level ``L`` holds up to 256 consecutive hashes of tree level ``8 L``: level 0 the
leaf hashes (the ledger's ``entries.hash``), level ``L > 0`` the roots of the full tiles of
level ``L - 1``. Hash ``j`` of level ``8 L`` is MTH(D[j 256**L : (j + 1) 256**L]): the root
of a *complete* subtree, so once written it never changes. A partial tile is therefore a
prefix of every later, wider state of the same tile, and one row per (level, index), grown
in place until it is full, serves the partial tile of every tree size, old ones included:
``tile/L/N.p/W`` is the first ``W`` hashes of row (L, N).

Every node of the tree a proof needs is the root of a complete, aligned subtree of height
``h = 8 L + k`` (``0 <= k < 8``): ``2**k`` consecutive hashes of one tile, hashed together
(at most 127 hashes). An RFC 9162 proof needs one such node per tree level, so a proof costs
O(log n) tile reads and at most ``255 * ceil(log2(n) / 8)`` hashes, whatever the size.

The writer's hook (`write`) runs in the write transaction that appends the entries: it
reads the partial tiles the tree had (one row per level) and upserts the tiles the new
leaves touch, so tiles, entries and the tree head land together. A database whose tiles are
missing (made before tiles existed, then upgraded) is caught by that read: the tiles are
rebuilt from ``entries.hash`` in the same transaction (`backfill`) before the new leaves
go in; `backfill` is also run by the proof use cases and `trustledger ledger tiles`.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from trustledger.ledger import merkle

if TYPE_CHECKING:
    from trustledger.ledger.store import Store

__all__ = [
    "MAX_LEVEL",
    "TILE_HEIGHT",
    "TILE_WIDTH",
    "Tile",
    "TileError",
    "TileReader",
    "TilesMissing",
    "backfill",
    "build",
    "check",
    "extend",
    "parse_path",
    "reader",
    "width_in",
    "write",
]

TILE_HEIGHT = 8
TILE_WIDTH = 1 << TILE_HEIGHT  # hashes in a full tile
MAX_LEVEL = 63  # tlog-tiles: <L> is between 0 and 63
_H = merkle.HASH_SIZE
_FULL_BYTES = TILE_WIDTH * _H

UPSERT = (
    "INSERT INTO tiles (level, idx, hashes) VALUES (?, ?, ?) "
    "ON CONFLICT (level, idx) DO UPDATE SET hashes = EXCLUDED.hashes"
)
_SELECT = "SELECT hashes FROM tiles WHERE level = ? AND idx = ?"


class TileError(ValueError):
    """A tile path that is not one tlog-tiles allows."""


class TilesMissing(LookupError):
    """The stored tiles do not cover the tree asked about (a database whose tiles were
    never built): `backfill` builds them."""


# --- paths ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Tile:
    """A tile coordinate: ``width`` 256 is a full tile, 1..255 a partial one."""

    level: int
    index: int
    width: int = TILE_WIDTH

    @property
    def full(self) -> bool:
        return self.width == TILE_WIDTH

    def path(self) -> str:
        """``tile/<L>/<N>[.p/<W>]``, ``<N>`` in x-prefixed 3-digit path elements."""
        text = f"tile/{self.level}/{encode_index(self.index)}"
        return text if self.full else f"{text}.p/{self.width}"


def encode_index(n: int) -> str:
    """1234067 → ``x001/x234/067``: zero-padded 3-digit elements, all but the last x-led."""
    if n < 0:
        raise TileError(f"a tile index is non-negative, got {n}")
    groups = [f"{n % 1000:03d}"]
    n //= 1000
    while n:
        groups.append(f"x{n % 1000:03d}")
        n //= 1000
    return "/".join(reversed(groups))


_DECIMAL = re.compile(r"0|[1-9][0-9]*")
_PATH = re.compile(r"(?P<level>[^/]+)/(?P<index>(?:x[0-9]{3}/)*[0-9]{3})(?:\.p/(?P<width>[^/]+))?")


def parse_path(text: str) -> Tile:
    """``<L>/<N>[.p/<W>]`` (a leading ``tile/`` is allowed) in the one form tlog-tiles
    gives each tile; TileError naming what is wrong otherwise."""
    body = text.removeprefix("tile/")
    m = _PATH.fullmatch(body)
    if m is None:
        raise TileError(
            f"{text!r} is not a tile path: <L>/<N>[.p/<W>], <N> in 3-digit elements, all "
            "but the last led by x (index 1234067 is x001/x234/067)"
        )
    level_text, index_text, width_text = m["level"], m["index"], m["width"]
    if not _DECIMAL.fullmatch(level_text) or int(level_text) > MAX_LEVEL:
        raise TileError(
            f"tile level {level_text!r}: a decimal from 0 to {MAX_LEVEL} without leading zeros"
        )
    index = int(index_text.replace("x", "").replace("/", ""))
    if encode_index(index) != index_text:
        raise TileError(
            f"tile index {index_text!r} is not written the one way tlog-tiles allows "
            f"(no leading zero elements): {index} is {encode_index(index)}"
        )
    width = TILE_WIDTH
    if width_text is not None:
        if not _DECIMAL.fullmatch(width_text) or not 1 <= int(width_text) < TILE_WIDTH:
            raise TileError(
                f"partial tile width {width_text!r}: a decimal from 1 to {TILE_WIDTH - 1} "
                "without leading zeros (a full tile has no .p/ suffix)"
            )
        width = int(width_text)
    return Tile(int(level_text), index, width)


def width_in(level: int, index: int, size: int) -> int:
    """How many hashes tile (level, index) holds in the tree of ``size`` leaves: 0 (not
    begun), 1..255 (partial) or 256 (full)."""
    count = size >> (TILE_HEIGHT * level)  # hashes of tree level 8 * level
    return max(0, min(TILE_WIDTH, count - index * TILE_WIDTH))


def _partials(size: int) -> Iterator[tuple[int, int, int]]:
    """(level, index, width) of each partial tile of the tree of ``size`` leaves."""
    level = 0
    count = size
    while count:
        width = count & (TILE_WIDTH - 1)
        if width:
            yield level, count >> TILE_HEIGHT, width
        count >>= TILE_HEIGHT
        level += 1


# --- writing --------------------------------------------------------------------------
def extend(
    old_size: int, partials: Mapping[int, bytes], leaves: Sequence[bytes]
) -> list[tuple[int, int, bytes]]:
    """The tile rows (level, index, hashes) that change when ``leaves`` are appended to the
    tree of ``old_size`` leaves whose partial tiles are ``partials`` (level → hashes).

    Each level costs one join of the new hashes and, per tile it fills, one tree hash of
    256 hashes (255 SHA-256), whose root is the hash the level above gains: about one
    SHA-256 per leaf in all.
    """
    rows: list[tuple[int, int, bytes]] = []
    new: Sequence[bytes] = leaves
    level = 0
    while new:
        before = old_size >> (TILE_HEIGHT * level)
        first = before >> TILE_HEIGHT
        have = partials.get(level, b"")
        if len(have) != (before & (TILE_WIDTH - 1)) * _H:
            raise TilesMissing(
                f"tile {level}/{encode_index(first)} holds {len(have) // _H} hashes, the tree of "
                f"{old_size} leaves gives it {before & (TILE_WIDTH - 1)}"
            )
        data = have + b"".join(new)
        roots: list[bytes] = []
        for offset in range(0, len(data), _FULL_BYTES):
            part = data[offset : offset + _FULL_BYTES]
            rows.append((level, first + offset // _FULL_BYTES, part))
            if len(part) == _FULL_BYTES:
                roots.append(merkle.root(_split_hashes(part)))
        new = roots
        level += 1
    return rows


def _split_hashes(data: bytes) -> list[bytes]:
    return [data[i : i + _H] for i in range(0, len(data), _H)]


def write(store: Store, old_size: int, leaves: Sequence[bytes]) -> None:
    """The writer's hook, inside its transaction: add ``leaves`` (appended to a tree of
    ``old_size``) to the stored tiles; tiles never built are built first (`backfill`)."""
    partials = _read_partials(store, old_size)
    if partials is None:
        _rebuild(store, old_size)  # a database from before tiles: once, at its first write
        partials = _read_partials(store, old_size)
        assert partials is not None  # just written in this transaction
    store.execute(UPSERT, extend(old_size, partials, leaves))


def _read_partials(store: Store, size: int) -> dict[int, bytes] | None:
    """The partial tiles of the tree of ``size`` (level → hashes); None when one is not
    stored as that tree has it (tiles never built)."""
    partials = {}
    for level, index, width in _partials(size):
        found = store.query(_SELECT, (level, index))
        data = bytes(found[0][0]) if found else b""
        if len(data) != width * _H:
            return None
        partials[level] = data
    return partials


def build(
    leaves: Callable[[int, int], Sequence[bytes]],
    size: int,
    emit: Callable[[list[tuple[int, int, bytes]]], None],
    chunk: int = 1 << 16,
) -> None:
    """Tiles of the tree of ``size`` leaves, streamed: ``leaves(start, end)`` gives leaf
    hashes ``start..end-1``; ``emit`` is given rows as they are made (each full tile once,
    then the partial tiles of ``size``), holding about ``chunk`` leaves at a time."""
    partials: dict[int, bytes] = {}
    done = 0
    while done < size:
        end = min(size, done + chunk)
        rows = extend(done, partials, leaves(done, end))
        emit([r for r in rows if len(r[2]) == _FULL_BYTES])
        for level, _, data in rows:  # in order: the last row of a level is its right edge
            if len(data) == _FULL_BYTES:
                partials.pop(level, None)
            else:
                partials[level] = data
        done = end
    emit([(level, index, partials[level]) for level, index, _ in _partials(size)])


def _stored_leaves(store: Store) -> Callable[[int, int], list[bytes]]:
    def read(start: int, end: int) -> list[bytes]:
        rows = store.query(
            "SELECT hash FROM entries WHERE seq >= ? AND seq < ? ORDER BY seq", (start, end)
        )
        if len(rows) != end - start:
            raise TilesMissing(f"entries {start}..{end - 1}: {len(rows)} stored")
        return [bytes(r[0]) for r in rows]

    return read


def _rebuild(store: Store, size: int) -> int:
    """Every tile of the tree of ``size`` stored entries, from their hashes (in the caller's
    transaction): the rows written."""
    store.execute("DELETE FROM tiles")
    written = 0

    def emit(rows: list[tuple[int, int, bytes]]) -> None:
        nonlocal written
        if rows:
            store.execute(UPSERT, rows)
            written += len(rows)

    build(_stored_leaves(store), size, emit)
    return written


def backfill(store: Store) -> int:
    """Build the tiles of the whole ledger if they are not in step with it (a database made
    before tiles, upgraded): rows written, 0 when they already were. One transaction."""
    with store.transaction():
        size = store.size()
        if _read_partials(store, size) is not None:
            return 0
        return _rebuild(store, size)


def check(store: Store) -> list[str]:
    """Recompute every tile from the stored entry hashes and compare: the differences (an
    empty list when the tiles are exactly the tree of the ledger's latest tree head, or
    when none is stored yet: a cache never built, which the first write or proof builds
    from the entries, so an emptied table can mislead no one)."""
    if not store.query("SELECT 1 FROM tiles LIMIT 1"):
        return []
    size = store.size()
    want: dict[tuple[int, int], bytes] = {}

    def keep(rows: list[tuple[int, int, bytes]]) -> None:
        for level, index, data in rows:
            want[(level, index)] = data

    problems: list[str] = []
    try:
        build(_stored_leaves(store), size, keep)
    except TilesMissing as exc:
        return [f"the entries do not give a tree of {size}: {exc}"]
    for level, index, data in store.query("SELECT level, idx, hashes FROM tiles"):
        key = (int(level), int(index))
        expected = want.pop(key, None)
        name = f"tile {key[0]}/{encode_index(key[1])}"
        if expected is None:
            problems.append(f"{name}: a tile the tree of {size} entries does not have")
        elif bytes(data) != expected:
            problems.append(
                f"{name}: {len(data) // _H} stored hashes differ from the {len(expected) // _H} "
                "the entries give"
            )
    for level, index in sorted(want):
        problems.append(f"tile {level}/{encode_index(index)}: missing")
    return problems


# --- reading: nodes and proofs ---------------------------------------------------------
class TileReader:
    """Nodes and RFC 9162 proofs of the tree of ``size`` leaves, from tiles read by
    ``read(level, index)`` (the stored row, or None); each tile is read once."""

    def __init__(self, read: Callable[[int, int], bytes | None], size: int) -> None:
        self._read = read
        self.size = size
        self._tiles: dict[tuple[int, int], bytes] = {}
        self.reads = 0  # tiles read so far (the benchmark reports it)

    @property
    def tiles_read(self) -> list[tuple[int, int]]:
        """(level, index) of every tile read so far."""
        return list(self._tiles)

    def read_tile(self, level: int, index: int) -> bytes:
        """The stored hashes of tile (level, index), however many (b"" when none)."""
        key = (level, index)
        data = self._tiles.get(key)
        if data is None:
            found = self._read(level, index)
            self.reads += 1
            data = b"" if found is None else bytes(found)
            self._tiles[key] = data
        return data

    def _tile(self, level: int, index: int, need: int) -> bytes:
        data = self.read_tile(level, index)
        if len(data) < need * _H:
            raise TilesMissing(
                f"tile {level}/{encode_index(index)} holds {len(data) // _H} hashes, the "
                f"tree of {self.size} needs {need}"
            )
        return data

    def node(self, height: int, index: int) -> bytes:
        """MTH(D[index 2**height : (index + 1) 2**height]): a complete subtree."""
        if (index + 1) << height > self.size:
            raise ValueError(
                f"node {index} at height {height} is not complete in a tree of {self.size}"
            )
        level, k = divmod(height, TILE_HEIGHT)
        start = index << k  # first hash of tree level 8 * level under the node
        offset = start & (TILE_WIDTH - 1)
        data = self._tile(level, start >> TILE_HEIGHT, offset + (1 << k))
        if k == 0:
            return data[offset * _H : (offset + 1) * _H]
        return _tile_tree(data)[k][offset >> k]

    def subtree(self, start: int, end: int) -> bytes:
        """MTH(D[start:end]) for a range RFC 6962's recursion makes (``start`` a multiple
        of a power of two at least ``end - start``): the complete subtrees it splits into,
        largest first, folded from the right."""
        nodes: list[bytes] = []
        pos = start
        while pos < end:
            height = (end - pos).bit_length() - 1
            if pos:
                height = min(height, (pos & -pos).bit_length() - 1)
            nodes.append(self.node(height, pos >> height))
            pos += 1 << height
        r = nodes[-1]
        for n in reversed(nodes[:-1]):
            r = merkle.node_hash(n, r)
        return r

    def root(self) -> bytes:
        return self.subtree(0, self.size) if self.size else merkle.EMPTY_ROOT

    def leaf(self, index: int) -> bytes:
        return self.node(0, index)

    def inclusion_proof(self, index: int) -> list[bytes]:
        """PATH(index, D[0:size]) of RFC 9162 §2.1.3.1, leaf upwards."""
        if not 0 <= index < self.size:
            raise ValueError(f"index {index} is outside a tree of size {self.size}")
        path: list[bytes] = []
        lo, hi = 0, self.size
        while hi - lo > 1:
            k = 1 << ((hi - lo - 1).bit_length() - 1)
            if index < lo + k:
                path.append(self.subtree(lo + k, hi))
                hi = lo + k
            else:
                path.append(self.node(k.bit_length() - 1, lo // k))
                lo += k
        path.reverse()
        return path

    def consistency_proof(self, old_size: int) -> list[bytes]:
        """PROOF(old_size, D[0:size]) of RFC 9162 §2.1.4.1 (empty for 0 and size)."""
        if not 0 <= old_size <= self.size:
            raise ValueError(f"old_size {old_size} must be between 0 and {self.size}")
        if old_size in (0, self.size):
            return []
        path: list[bytes] = []
        lo, hi, whole = 0, self.size, True
        while True:
            m, n = old_size - lo, hi - lo
            if m == n:
                if not whole:
                    path.append(self.subtree(lo, hi))
                break
            k = 1 << ((n - 1).bit_length() - 1)
            if m <= k:
                path.append(self.subtree(lo + k, hi))
                hi = lo + k
            else:
                path.append(self.node(k.bit_length() - 1, lo // k))
                lo += k
                whole = False
        path.reverse()
        return path


@functools.lru_cache(maxsize=512)
def _tile_tree(data: bytes) -> tuple[tuple[bytes, ...], ...]:
    """Every complete subtree of a tile's hashes, by height within the tile (0: the
    hashes): 255 SHA-256 for a full tile. Memoised by the tile's bytes, so a hit can never
    be stale: the tiles near the top of the tree, which every proof passes through, are
    hashed once per process (at most 512 tiles, about 25 MB, are kept)."""
    level = tuple(data[i : i + _H] for i in range(0, len(data), _H))
    levels = [level]
    sha, prefix = hashlib.sha256, b"\x01"
    while len(level) > 1:
        it = iter(level)
        level = tuple(sha(prefix + a + b).digest() for a, b in zip(it, it, strict=False))
        levels.append(level)
    return tuple(levels)


def reader(store: Store, size: int) -> TileReader:
    """A `TileReader` over the tiles stored in ``store``."""

    def read(level: int, index: int) -> bytes | None:
        found = store.query(_SELECT, (level, index))
        return bytes(found[0][0]) if found else None

    return TileReader(read, size)


def root_from_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes]) -> bytes:
    """The root the inclusion proof of ``leaf`` at ``index`` leads to (RFC 9162 §2.1.3.2's
    fold, ``log2(size)`` hashes): the tree root without hashing the right edge again."""
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if fn & 1 or fn == sn:
            r = merkle.node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = merkle.node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return r
