"""RFC 6962 / RFC 9162 Merkle tree over SHA-256.

Everything here works on *leaf hashes* (``leaf_hash(entry_bytes)``), because the
ledger already stores one per entry; re-hashing entry bodies to build a proof
would mean reading every entry back.

Trees of about a million leaves must stay interactive, so the tree hash is
computed level by level with one list comprehension per level rather than by
the recursive definition (which costs a Python call per node). Proofs hash only
the aligned subtrees they need, so one proof costs fewer than ``size`` hashes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "Frontier",
    "consistency_proof",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "root",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

# Domain-separation prefixes (RFC 6962 §2.1): without them an interior node
# could be passed off as a leaf, forging a second preimage.
_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"

_sha256 = hashlib.sha256


def leaf_hash(data: bytes) -> bytes:
    """MTH({d}) = SHA-256(0x00 || d)."""
    return _sha256(_LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right)."""
    return _sha256(_NODE_PREFIX + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly less than ``n`` (``n >= 2``): RFC 6962's k."""
    return 1 << ((n - 1).bit_length() - 1)


def _mth(leaves: Sequence[bytes], n: int) -> bytes:
    """Merkle Tree Hash of the ``n`` leaf hashes in ``leaves`` (exactly n of them), ``n >= 1``.

    Pairing neighbours and carrying an odd last node up unchanged gives the same
    tree as RFC 6962's split at the largest power of two below n: every left
    subtree of that split is perfect, so the pairwise levels never pair across
    it, and the carried node is exactly the ragged right edge. The tests check
    this against the recursive definition.
    """
    sha = _sha256
    prefix = _NODE_PREFIX
    # Only the first level reads the caller's sequence; zip over one shared
    # iterator takes the leaves two at a time without slicing copies. With an
    # odd count zip swallows the last leaf, so it is re-read by index.
    it = iter(leaves)
    level = [sha(prefix + a + b).digest() for a, b in zip(it, it, strict=False)]
    if n & 1:
        level.append(leaves[n - 1])
    n = len(level)
    while n > 1:
        it = iter(level)
        nxt = [sha(prefix + a + b).digest() for a, b in zip(it, it, strict=False)]
        if n & 1:
            nxt.append(level[-1])
        level = nxt
        n = len(level)
    return level[0]


def _range_root(leaves: Sequence[bytes], start: int, end: int) -> bytes:
    """MTH(D[start:end]) for ``start < end``."""
    if end - start == 1:
        return leaves[start]
    return _mth(leaves[start:end], end - start)


def root(leaves: Sequence[bytes]) -> bytes:
    """Merkle Tree Hash (RFC 6962 §2.1) of a sequence of 32-byte leaf hashes."""
    n = len(leaves)
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return leaves[0]
    return _mth(leaves, n)


def _check_tree_size(size: int, available: int, what: str = "size") -> None:
    if size < 0:
        raise ValueError(f"{what} must be non-negative, got {size}")
    if size > available:
        raise ValueError(f"{what} {size} exceeds the {available} leaves supplied")


def inclusion_proof(leaves: Sequence[bytes], index: int, size: int) -> list[bytes]:
    """PATH(index, D[0:size]) of RFC 9162 §2.1.3.1, ordered from the leaf upwards.

    ``leaves`` holds at least ``size`` leaf hashes; later ones are ignored so the
    proof can be made for any earlier tree head.
    """
    _check_tree_size(size, len(leaves))
    if not 0 <= index < size:
        raise ValueError(f"index {index} is outside a tree of size {size}")
    # The RFC recursion descends towards the leaf and appends each sibling
    # after the recursive result, so walk down and reverse at the end.
    path: list[bytes] = []
    lo, hi = 0, size
    while hi - lo > 1:
        k = _split(hi - lo)
        if index < lo + k:
            path.append(_range_root(leaves, lo + k, hi))
            hi = lo + k
        else:
            path.append(_range_root(leaves, lo, lo + k))
            lo += k
    path.reverse()
    return path


def consistency_proof(leaves: Sequence[bytes], old_size: int, new_size: int) -> list[bytes]:
    """PROOF(old_size, D[0:new_size]) of RFC 9162 §2.1.4.1.

    Trivial cases (``old_size`` 0 or equal to ``new_size``) get an empty proof,
    which ``verify_consistency`` accepts only together with the matching roots.
    """
    _check_tree_size(new_size, len(leaves), "new_size")
    if not 0 <= old_size <= new_size:
        raise ValueError(f"old_size {old_size} must be between 0 and new_size {new_size}")
    if old_size in (0, new_size):
        return []
    # Iterative SUBPROOF(m, D[lo:hi], b); ``b`` stays True while the old tree
    # is a left-aligned subtree whose root the verifier already has.
    path: list[bytes] = []
    lo, hi, b = 0, new_size, True
    while True:
        m = old_size - lo
        n = hi - lo
        if m == n:
            if not b:
                path.append(_range_root(leaves, lo, hi))
            break
        k = _split(n)
        if m <= k:
            path.append(_range_root(leaves, lo + k, hi))
            hi = lo + k
        else:
            path.append(_range_root(leaves, lo, lo + k))
            lo += k
            b = False
    path.reverse()
    return path


def _valid_hashes(*hashes: bytes) -> bool:
    return all(len(h) == HASH_SIZE for h in hashes)


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """RFC 9162 §2.1.3.2: does leaf hash ``leaf`` sit at ``index`` of the tree ``root``?

    Returns False rather than raising for any malformed input: a verifier is
    fed untrusted data and the only question is whether it checks out.
    """
    if not 0 <= index < size:
        return False
    if not _valid_hashes(leaf, root, *proof):
        return False
    fn, sn = index, size - 1
    r = leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                # Skip the levels where this node was carried up without a sibling.
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162 §2.1.4.2: is the tree ``old_root`` a prefix of the tree ``new_root``?

    RFC 9162 defines proofs only for ``0 < old_size < new_size``; the edge cases
    take an empty proof, and the roots must still be right, so that a claimed
    tree head is never accepted on size alone.
    """
    if not 0 <= old_size <= new_size:
        return False
    if not _valid_hashes(old_root, new_root, *proof):
        return False
    if old_size == 0:
        return not proof and old_root == EMPTY_ROOT and (new_size > 0 or new_root == EMPTY_ROOT)
    if old_size == new_size:
        return not proof and old_root == new_root
    if not proof:
        return False
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        # A power-of-two old tree is a whole subtree of the new one, so the
        # proof omits its root: the verifier already holds it.
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == old_root and sr == new_root


class Frontier:
    """The right edge of a growing tree: one perfect-subtree root per set bit of ``size``.

    This is all that is needed to append and to compute the current root, so a
    writer can keep the tree head up to date in O(log n) per entry without
    re-reading the ledger, and persist it in at most 8 + 64 * 32 bytes.
    """

    __slots__ = ("_nodes", "_size")

    def __init__(self) -> None:
        self._size = 0
        # Largest (leftmost) subtree first, matching the bit order of ``size``.
        self._nodes: list[bytes] = []

    @property
    def size(self) -> int:
        return self._size

    @property
    def nodes(self) -> tuple[bytes, ...]:
        return tuple(self._nodes)

    def __repr__(self) -> str:
        return f"Frontier(size={self._size}, root={self.root().hex()})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Frontier):
            return NotImplemented
        return self._size == other._size and self._nodes == other._nodes

    __hash__ = None  # type: ignore[assignment]  # mutable, so not hashable

    def _push(self, node: bytes, height: int) -> None:
        """Add the root of a perfect subtree of 2**height leaves.

        Callers guarantee ``size`` is a multiple of 2**height, so the new node
        merges with equal-height neighbours exactly like a carry in binary
        addition.
        """
        s = self._size >> height
        nodes = self._nodes
        while s & 1:
            node = node_hash(nodes.pop(), node)
            s >>= 1
        nodes.append(node)
        self._size += 1 << height

    def append(self, leaf: bytes) -> None:
        """Append one leaf hash."""
        if len(leaf) != HASH_SIZE:
            raise ValueError(f"a leaf hash is {HASH_SIZE} bytes, got {len(leaf)}")
        self._push(leaf, 0)

    def extend(self, leaves: Iterable[bytes]) -> None:
        """Append many leaf hashes.

        Whole aligned blocks are hashed level by level and pushed as single
        nodes, so a bulk load costs about one hash per leaf instead of a Python
        loop iteration per leaf and per merge.
        """
        batch = leaves if isinstance(leaves, Sequence) else list(leaves)
        for leaf in batch:
            if len(leaf) != HASH_SIZE:
                raise ValueError(f"a leaf hash is {HASH_SIZE} bytes, got {len(leaf)}")
        pos, remaining = 0, len(batch)
        while remaining:
            # The block must be aligned (its size divides the current size) and
            # fit in what is left; the largest such power of two keeps blocks few.
            height = remaining.bit_length() - 1
            if self._size:
                height = min(height, (self._size & -self._size).bit_length() - 1)
            block = 1 << height
            self._push(_range_root(batch, pos, pos + block), height)
            pos += block
            remaining -= block

    @classmethod
    def from_leaves(cls, leaves: Iterable[bytes]) -> Frontier:
        frontier = cls()
        frontier.extend(leaves)
        return frontier

    def root(self) -> bytes:
        """MTH of all leaves appended so far (RFC 6962 §2.1)."""
        if not self._nodes:
            return EMPTY_ROOT
        # MTH(D[n]) = H(perfect left subtree, MTH(rest)), so fold from the right.
        r = self._nodes[-1]
        for node in reversed(self._nodes[:-1]):
            r = node_hash(node, r)
        return r

    def copy(self) -> Frontier:
        other = Frontier()
        other._size = self._size
        other._nodes = list(self._nodes)
        return other

    def to_bytes(self) -> bytes:
        """Size as 8 bytes big-endian, then the subtree roots, largest first."""
        return self._size.to_bytes(8, "big") + b"".join(self._nodes)

    @classmethod
    def from_bytes(cls, data: bytes) -> Frontier:
        if len(data) < 8:
            raise ValueError(f"a serialised frontier is at least 8 bytes, got {len(data)}")
        size = int.from_bytes(data[:8], "big")
        count = size.bit_count()
        expected = 8 + count * HASH_SIZE
        if len(data) != expected:
            raise ValueError(
                f"a frontier of size {size} holds {count} hashes ({expected} bytes), "
                f"got {len(data)} bytes"
            )
        frontier = cls()
        frontier._size = size
        frontier._nodes = [
            bytes(data[8 + i * HASH_SIZE : 8 + (i + 1) * HASH_SIZE]) for i in range(count)
        ]
        return frontier
