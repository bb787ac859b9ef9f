"""Tests for trustledger.ledger.merkle.

The reference model at the top of this module is written from the RFC 6962
§2.1 definitions alone and uses nothing from the code under test, so that a
shared misunderstanding cannot make both sides agree.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trustledger.ledger import merkle

# --------------------------------------------------------------------------
# Independent reference model (RFC 6962 §2.1, recursive, deliberately naive)
# --------------------------------------------------------------------------


def ref_leaf(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def ref_node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def ref_k(n: int) -> int:
    """Largest power of two strictly less than n, found by counting up."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def ref_mth(d: Sequence[bytes]) -> bytes:
    """MTH(D[n]) over leaf hashes, straight from the recursive definition."""
    n = len(d)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return d[0]
    k = ref_k(n)
    return ref_node(ref_mth(d[:k]), ref_mth(d[k:]))


def ref_path(m: int, d: Sequence[bytes]) -> list[bytes]:
    """PATH(m, D[n]) from RFC 6962 §2.1.1."""
    n = len(d)
    if n == 1:
        return []
    k = ref_k(n)
    if m < k:
        return [*ref_path(m, d[:k]), ref_mth(d[k:])]
    return [*ref_path(m - k, d[k:]), ref_mth(d[:k])]


def ref_subproof(m: int, d: Sequence[bytes], b: bool) -> list[bytes]:
    """SUBPROOF(m, D[n], b) from RFC 6962 §2.1.2."""
    n = len(d)
    if m == n:
        return [] if b else [ref_mth(d)]
    k = ref_k(n)
    if m <= k:
        return [*ref_subproof(m, d[:k], b), ref_mth(d[k:])]
    return [*ref_subproof(m - k, d[k:], False), ref_mth(d[:k])]


def ref_proof(m: int, d: Sequence[bytes]) -> list[bytes]:
    return ref_subproof(m, d, True)


def _ref_root_from_path(leaf: bytes, m: int, n: int, path: list[bytes]) -> bytes | None:
    """Rebuild MTH by walking PATH's recursion backwards: the last element is the top sibling."""
    if n == 1:
        return leaf if not path else None
    if not path:
        return None
    k = ref_k(n)
    sibling, rest = path[-1], path[:-1]
    if m < k:
        left = _ref_root_from_path(leaf, m, k, rest)
        return None if left is None else ref_node(left, sibling)
    right = _ref_root_from_path(leaf, m - k, n - k, rest)
    return None if right is None else ref_node(sibling, right)


def ref_verify_inclusion(
    leaf: bytes, index: int, size: int, path: Sequence[bytes], root: bytes
) -> bool:
    if not 0 <= index < size:
        return False
    return _ref_root_from_path(leaf, index, size, list(path)) == root


def _ref_roots_from_subproof(
    m: int, n: int, b: bool, proof: list[bytes], old_root: bytes
) -> tuple[bytes, bytes] | None:
    """Rebuild (old subtree root, new subtree root) by undoing SUBPROOF."""
    if m == n:
        if b:
            # This subtree *is* the old tree, whose root the verifier holds.
            return (old_root, old_root) if not proof else None
        return (proof[0], proof[0]) if len(proof) == 1 else None
    if not proof:
        return None
    k = ref_k(n)
    sibling, rest = proof[-1], proof[:-1]
    if m <= k:
        sub = _ref_roots_from_subproof(m, k, b, rest, old_root)
        return None if sub is None else (sub[0], ref_node(sub[1], sibling))
    sub = _ref_roots_from_subproof(m - k, n - k, False, rest, old_root)
    if sub is None:
        return None
    return ref_node(sibling, sub[0]), ref_node(sibling, sub[1])


def ref_verify_consistency(
    m: int, n: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    if not 0 < m < n:
        raise AssertionError("the reference verifier only covers 0 < m < n")
    roots = _ref_roots_from_subproof(m, n, True, list(proof), old_root)
    return roots is not None and roots == (old_root, new_root)


def leaves_for(n: int, salt: bytes = b"") -> list[bytes]:
    return [ref_leaf(salt + i.to_bytes(4, "big")) for i in range(n)]


def flip(h: bytes, bit: int = 0) -> bytes:
    return bytes([h[0] ^ (1 << bit)]) + h[1:]


# --------------------------------------------------------------------------
# RFC 6962 reference vectors
#
# Published values, copied from the transparency-dev/merkle Go test suite
# (proof/verify_test.go, Apache-2.0; the same vectors as the original
# google/certificate-transparency C++ merkle_tree_test.cc). Not derived here.
# In that file inclusion vectors use 1-based leaf numbers; they are converted
# to 0-based indexes below.
# --------------------------------------------------------------------------

CT_INPUTS = [
    bytes.fromhex(h)
    for h in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]
CT_EMPTY_ROOT = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
CT_ROOTS = [  # CT_ROOTS[i] is the root of the first i + 1 inputs
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
CT_INCLUSION = [  # (0-based index, tree size, proof)
    (
        0,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        1,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (0, 1, []),
]
CT_CONSISTENCY = [  # (old size, new size, proof)
    (1, 1, []),
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        6,
        7,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
]

CT_LEAVES = [ref_leaf(d) for d in CT_INPUTS]


def hexes(hashes: Sequence[bytes]) -> list[str]:
    return [h.hex() for h in hashes]


class TestReferenceVectors:
    def test_the_reference_model_reproduces_the_published_roots(self) -> None:
        # Guards the guard: the model everything else is compared with is right.
        assert ref_mth([]).hex() == CT_EMPTY_ROOT
        for size in range(1, 9):
            assert ref_mth(CT_LEAVES[:size]).hex() == CT_ROOTS[size - 1]

    def test_hash_primitives(self) -> None:
        assert merkle.EMPTY_ROOT.hex() == CT_EMPTY_ROOT
        assert merkle.leaf_hash(b"").hex() == CT_ROOTS[0]
        assert merkle.node_hash(CT_LEAVES[0], CT_LEAVES[1]).hex() == CT_ROOTS[1]
        assert [merkle.leaf_hash(d) for d in CT_INPUTS] == CT_LEAVES

    @pytest.mark.parametrize("size", range(9))
    def test_roots(self, size: int) -> None:
        expected = CT_EMPTY_ROOT if size == 0 else CT_ROOTS[size - 1]
        assert merkle.root(CT_LEAVES[:size]).hex() == expected
        assert merkle.Frontier.from_leaves(CT_LEAVES[:size]).root().hex() == expected

    @pytest.mark.parametrize(("index", "size", "proof"), CT_INCLUSION)
    def test_inclusion_proofs(self, index: int, size: int, proof: list[str]) -> None:
        assert hexes(merkle.inclusion_proof(CT_LEAVES, index, size)) == proof
        root = bytes.fromhex(CT_ROOTS[size - 1])
        path = [bytes.fromhex(p) for p in proof]
        assert merkle.verify_inclusion(CT_LEAVES[index], index, size, path, root)
        assert ref_verify_inclusion(CT_LEAVES[index], index, size, path, root)

    @pytest.mark.parametrize(("old", "new", "proof"), CT_CONSISTENCY)
    def test_consistency_proofs(self, old: int, new: int, proof: list[str]) -> None:
        assert hexes(merkle.consistency_proof(CT_LEAVES, old, new)) == proof
        old_root = bytes.fromhex(CT_ROOTS[old - 1])
        new_root = bytes.fromhex(CT_ROOTS[new - 1])
        path = [bytes.fromhex(p) for p in proof]
        assert merkle.verify_consistency(old, new, old_root, new_root, path)
        if old < new:
            assert ref_verify_consistency(old, new, old_root, new_root, path)


# --------------------------------------------------------------------------
# Exhaustive comparison with the reference model on small trees
# --------------------------------------------------------------------------

LEAVES_70 = leaves_for(70)
REF_ROOTS_70 = [ref_mth(LEAVES_70[:n]) for n in range(71)]


def test_root_matches_recursive_definition_for_every_size_up_to_300() -> None:
    leaves = leaves_for(300)
    for n in range(301):
        assert merkle.root(leaves[:n]) == ref_mth(leaves[:n]), n


def test_root_accepts_any_sequence() -> None:
    assert merkle.root(tuple(LEAVES_70[:37])) == REF_ROOTS_70[37]


def test_every_inclusion_proof_up_to_70_leaves() -> None:
    for size in range(1, 71):
        d = LEAVES_70[:size]
        root = REF_ROOTS_70[size]
        for index in range(size):
            proof = merkle.inclusion_proof(LEAVES_70, index, size)
            assert proof == ref_path(index, d), (index, size)
            assert ref_verify_inclusion(LEAVES_70[index], index, size, proof, root)
            assert merkle.verify_inclusion(LEAVES_70[index], index, size, proof, root)


def test_every_consistency_proof_up_to_40_leaves() -> None:
    leaves = LEAVES_70[:40]
    for new in range(41):
        new_root = REF_ROOTS_70[new]
        for old in range(new + 1):
            old_root = REF_ROOTS_70[old]
            proof = merkle.consistency_proof(leaves, old, new)
            assert merkle.verify_consistency(old, new, old_root, new_root, proof), (old, new)
            if 0 < old < new:
                assert proof == ref_proof(old, leaves[:new]), (old, new)
                assert ref_verify_consistency(old, new, old_root, new_root, proof), (old, new)
            else:
                assert proof == []


# --------------------------------------------------------------------------
# Tampering
# --------------------------------------------------------------------------


def test_inclusion_tampering_fails_for_every_index_up_to_40() -> None:
    for size in range(1, 41):
        root = REF_ROOTS_70[size]
        for index in range(size):
            leaf = LEAVES_70[index]
            proof = merkle.inclusion_proof(LEAVES_70, index, size)
            bad: list[tuple[bytes, int, int, list[bytes], bytes]] = [
                (flip(leaf), index, size, proof, root),  # changed leaf
                (LEAVES_70[size], index, size, proof, root),  # another real leaf
                (leaf, index, size, proof, flip(root)),  # wrong root
                (leaf, index, size, [*proof, root], root),  # extended
                (leaf, index, size, [root, *proof], root),  # garbage in front
                (leaf, index, size + 1, proof, REF_ROOTS_70[size + 1]),  # wrong size
                (leaf, index, size, [*proof, b""], root),  # malformed element
            ]
            if size > 1:
                bad.append((leaf, index, size * 2, proof, root))
            if index > 0:
                bad.append((leaf, index - 1, size, proof, root))
            if index + 1 < size:
                bad.append((leaf, index + 1, size, proof, root))
            if index ^ 2 < size and index ^ 2 != index:
                bad.append((leaf, index ^ 2, size, proof, root))
            if proof:
                bad.append((leaf, index, size, proof[:-1], root))  # truncated
                bad.append((leaf, index, size, proof[1:], root))  # truncated at the front
            for i in range(len(proof)):
                corrupted = list(proof)
                corrupted[i] = flip(corrupted[i], 3)
                bad.append((leaf, index, size, corrupted, root))
            for args in bad:
                assert not merkle.verify_inclusion(*args), (index, size, args[1:3])
                assert not ref_verify_inclusion(*args), (index, size, args[1:3])


def test_wrong_index_that_lands_on_the_same_path_shape_still_fails() -> None:
    # Index 0 and 2 in a tree of 4 take the same direction at every level but
    # one; only the order of hashing differs, and that must be enough.
    proof = merkle.inclusion_proof(LEAVES_70, 0, 4)
    assert not merkle.verify_inclusion(LEAVES_70[0], 2, 4, proof, REF_ROOTS_70[4])


def test_consistency_tampering_fails_up_to_24_leaves() -> None:
    leaves = LEAVES_70
    for new in range(2, 25):
        new_root = REF_ROOTS_70[new]
        for old in range(1, new):
            old_root = REF_ROOTS_70[old]
            proof = merkle.consistency_proof(leaves, old, new)
            other_leaves = list(leaves[:new])
            other_leaves[old - 1] = flip(other_leaves[old - 1])  # history rewritten
            bad: list[tuple[int, int, bytes, bytes, list[bytes]]] = [
                (old, new, flip(old_root), new_root, proof),
                (old, new, old_root, flip(new_root), proof),
                (old, new, new_root, old_root, proof),
                (old, new, old_root, new_root, []),
                (old, new, old_root, new_root, proof[:-1]),  # truncated
                (old, new, old_root, new_root, [*proof, old_root]),  # extended
                (old, new, old_root, new_root, [*proof, new_root]),
                (old, new, old_root, new_root, [proof[0], *proof]),
                (old, new, old_root, new_root, [*proof, b""]),
                (old, new, old_root, ref_mth(other_leaves), proof),
                (old, new * 2, old_root, new_root, proof),
                (old, new // 2, old_root, new_root, proof),
                (new, old, new_root, old_root, proof),
            ]
            if old > 1:
                bad.append((old - 1, new, old_root, new_root, proof))
            if old + 1 < new:
                bad.append((old + 1, new, old_root, new_root, proof))
            for i in range(len(proof)):
                corrupted = list(proof)
                corrupted[i] = flip(corrupted[i], 4)
                bad.append((old, new, old_root, new_root, corrupted))
            for args in bad:
                assert not merkle.verify_consistency(*args), (old, new, args[:2])
                if 0 < args[0] < args[1]:
                    assert not ref_verify_consistency(*args), (old, new, args[:2])


def test_consistency_edge_cases() -> None:
    r3, r5 = REF_ROOTS_70[3], REF_ROOTS_70[5]
    empty = merkle.EMPTY_ROOT
    assert merkle.verify_consistency(0, 0, empty, empty, [])
    assert merkle.verify_consistency(0, 5, empty, r5, [])
    assert merkle.verify_consistency(5, 5, r5, r5, [])
    assert not merkle.verify_consistency(0, 5, r3, r5, [])  # "empty" tree with a root
    assert not merkle.verify_consistency(0, 0, empty, r5, [])
    assert not merkle.verify_consistency(5, 5, r3, r5, [])
    assert not merkle.verify_consistency(5, 5, r5, r5, [r5])
    assert not merkle.verify_consistency(0, 5, empty, r5, [r5])
    assert not merkle.verify_consistency(5, 3, r5, r3, [])
    assert not merkle.verify_consistency(-1, 3, empty, r3, [])


def test_inclusion_edge_cases() -> None:
    leaf = LEAVES_70[0]
    assert merkle.verify_inclusion(leaf, 0, 1, [], leaf)
    assert not merkle.verify_inclusion(leaf, 0, 0, [], merkle.EMPTY_ROOT)
    assert not merkle.verify_inclusion(leaf, 1, 1, [], leaf)
    assert not merkle.verify_inclusion(leaf, -1, 1, [], leaf)
    assert not merkle.verify_inclusion(b"", 0, 1, [], b"")  # not hashes at all


@pytest.mark.parametrize(
    ("index", "size", "message"),
    [
        (0, 0, "outside a tree of size 0"),
        (5, 5, "outside a tree of size 5"),
        (-1, 5, "outside"),
        (0, 71, "exceeds the 70 leaves"),
        (0, -1, "non-negative"),
    ],
)
def test_inclusion_proof_rejects_out_of_range(index: int, size: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        merkle.inclusion_proof(LEAVES_70, index, size)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (6, 5, "between 0 and new_size 5"),
        (-1, 5, "between 0 and"),
        (3, 71, "exceeds the 70 leaves"),
        (0, -1, "non-negative"),
    ],
)
def test_consistency_proof_rejects_out_of_range(old: int, new: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        merkle.consistency_proof(LEAVES_70, old, new)


def test_proofs_ignore_leaves_beyond_the_requested_size() -> None:
    longer = [*LEAVES_70, *leaves_for(30, b"later")]
    assert merkle.inclusion_proof(longer, 3, 20) == ref_path(3, LEAVES_70[:20])
    assert merkle.consistency_proof(longer, 7, 20) == ref_proof(7, LEAVES_70[:20])


# --------------------------------------------------------------------------
# Frontier
# --------------------------------------------------------------------------


def test_frontier_root_at_every_size_up_to_300() -> None:
    leaves = leaves_for(300, b"frontier")
    frontier = merkle.Frontier()
    assert frontier.size == 0
    assert frontier.root() == merkle.EMPTY_ROOT
    for n, leaf in enumerate(leaves, start=1):
        frontier.append(leaf)
        assert frontier.size == n
        expected = ref_mth(leaves[:n])
        assert frontier.root() == expected == merkle.root(leaves[:n]), n
        assert len(frontier.nodes) == n.bit_count()


def test_frontier_serialisation_round_trips() -> None:
    leaves = leaves_for(130)
    for n in range(131):
        frontier = merkle.Frontier.from_leaves(leaves[:n])
        data = frontier.to_bytes()
        assert len(data) == 8 + 32 * n.bit_count()
        assert data[:8] == n.to_bytes(8, "big")
        again = merkle.Frontier.from_bytes(data)
        assert again == frontier
        assert again.size == n
        assert again.root() == frontier.root() == ref_mth(leaves[:n])
        # A restored frontier keeps growing correctly.
        again.extend(leaves[n:])
        assert again.root() == ref_mth(leaves)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x00" * 7,
        (3).to_bytes(8, "big") + b"\x00" * 32,  # size 3 needs two hashes
        (1).to_bytes(8, "big") + b"\x00" * 33,
        (0).to_bytes(8, "big") + b"\x00" * 32,
    ],
)
def test_frontier_from_bytes_rejects_bad_lengths(data: bytes) -> None:
    with pytest.raises(ValueError, match="frontier"):
        merkle.Frontier.from_bytes(data)


def test_frontier_append_rejects_non_hash() -> None:
    frontier = merkle.Frontier()
    with pytest.raises(ValueError, match="32 bytes"):
        frontier.append(b"short")
    with pytest.raises(ValueError, match="32 bytes"):
        frontier.extend([LEAVES_70[0], b"short"])
    assert frontier.size == 0


def test_frontier_extend_in_uneven_chunks_matches_append() -> None:
    leaves = leaves_for(300, b"chunks")
    chunks = [1, 2, 3, 5, 8, 13, 21, 34, 55, 0, 89, 69]
    assert sum(chunks) == len(leaves)
    one_by_one = merkle.Frontier()
    chunked = merkle.Frontier()
    pos = 0
    for c in chunks:
        for leaf in leaves[pos : pos + c]:
            one_by_one.append(leaf)
        chunked.extend(iter(leaves[pos : pos + c]))  # any iterable, not only sequences
        pos += c
        assert chunked == one_by_one
        assert chunked.root() == ref_mth(leaves[:pos])


def test_frontier_copy_is_independent() -> None:
    frontier = merkle.Frontier.from_leaves(LEAVES_70[:10])
    snapshot = frontier.copy()
    frontier.append(LEAVES_70[10])
    assert snapshot.size == 10
    assert snapshot.root() == REF_ROOTS_70[10]
    assert frontier.root() == REF_ROOTS_70[11]


# --------------------------------------------------------------------------
# Property tests over random tree sizes
# --------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(data=st.data(), n=st.integers(min_value=1, max_value=1500))
def test_random_trees(data: st.DataObject, n: int) -> None:
    leaves = leaves_for(n, b"hyp")
    expected = ref_mth(leaves)
    assert merkle.root(leaves) == expected
    assert merkle.Frontier.from_leaves(leaves).root() == expected

    index = data.draw(st.integers(min_value=0, max_value=n - 1), label="index")
    proof = merkle.inclusion_proof(leaves, index, n)
    assert ref_verify_inclusion(leaves[index], index, n, proof, expected)
    assert merkle.verify_inclusion(leaves[index], index, n, proof, expected)
    assert not merkle.verify_inclusion(flip(leaves[index]), index, n, proof, expected)

    old = data.draw(st.integers(min_value=0, max_value=n), label="old")
    old_root = ref_mth(leaves[:old])
    cproof = merkle.consistency_proof(leaves, old, n)
    assert merkle.verify_consistency(old, n, old_root, expected, cproof)
    if 0 < old < n:
        assert ref_verify_consistency(old, n, old_root, expected, cproof)
        assert not merkle.verify_consistency(old, n, old_root, expected, cproof[:-1])
        assert not merkle.verify_consistency(old, n, flip(old_root), expected, cproof)


@settings(max_examples=40, deadline=None)
@given(sizes=st.lists(st.integers(min_value=0, max_value=200), min_size=1, max_size=6))
def test_frontier_growth_in_random_batches(sizes: list[int]) -> None:
    leaves = leaves_for(sum(sizes), b"batch")
    frontier = merkle.Frontier()
    pos = 0
    for s in sizes:
        frontier = merkle.Frontier.from_bytes(frontier.to_bytes())
        frontier.extend(leaves[pos : pos + s])
        pos += s
        assert frontier.root() == merkle.root(leaves[:pos])
