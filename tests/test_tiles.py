"""Tests for trustledger.ledger.tiles: the tree stored as C2SP tlog-tiles tiles, proofs read
from them, the tile routes, and the writer's hook, on SQLite and PostgreSQL.

Proofs from tiles are held to three things that share nothing with the code under test
beyond the RFC: the published RFC 6962 vectors (tests/test_merkle.py holds them), a
verifier written here from RFC 9162's recursive definitions, and merkle.py's leaf-list
proofs (the reference implementation).
"""

from __future__ import annotations

import base64
import hashlib
import itertools
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from ledger_data import fill
from test_merkle import CT_CONSISTENCY, CT_INCLUSION, CT_INPUTS, CT_ROOTS

from trustledger.api import create_app
from trustledger.app import ledger as app_ledger
from trustledger.app.context import Clock, Context
from trustledger.app.errors import BadInput, ConfigError, NotFound
from trustledger.ledger import merkle, tiles
from trustledger.ledger.store import Store, open_store
from trustledger.settings import Settings

# --- an independent verifier, from RFC 9162 §2.1.3 / §2.1.4 recursion --------------------


def h_leaf(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def h_node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def split(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def root_from_path(leaf: bytes, m: int, n: int, path: Sequence[bytes]) -> bytes | None:
    """Undo PATH(m, D[n]) = PATH(m, D[0:k]) : MTH(D[k:n]) (or the mirror): the root the path
    gives, None when the path is the wrong length for (m, n)."""
    if n == 1:
        return leaf if not path else None
    if not path:
        return None
    k = split(n)
    if m < k:
        inner = root_from_path(leaf, m, k, path[:-1])
        return None if inner is None else h_node(inner, path[-1])
    inner = root_from_path(leaf, m - k, n - k, path[:-1])
    return None if inner is None else h_node(path[-1], inner)


def roots_from_consistency(
    m: int, n: int, proof: Sequence[bytes], old_root: bytes, whole: bool = True
) -> tuple[bytes, bytes] | None:
    """Undo SUBPROOF(m, D[n], b): the (old, new) roots the proof gives, or None."""
    if m == n:
        if whole:
            return (old_root, old_root) if not proof else None
        return (proof[0], proof[0]) if len(proof) == 1 else None
    if not proof:
        return None
    k = split(n)
    if m <= k:
        inner = roots_from_consistency(m, k, proof[:-1], old_root, whole)
        return None if inner is None else (inner[0], h_node(inner[1], proof[-1]))
    inner = roots_from_consistency(m - k, n - k, proof[:-1], old_root, False)
    if inner is None:
        return None
    return h_node(proof[-1], inner[0]), h_node(proof[-1], inner[1])


def verifies_inclusion(leaf: bytes, m: int, n: int, path: Sequence[bytes], root: bytes) -> bool:
    return root_from_path(leaf, m, n, path) == root


def verifies_consistency(
    m: int, n: int, proof: Sequence[bytes], old_root: bytes, new_root: bytes
) -> bool:
    return roots_from_consistency(m, n, proof, old_root) == (old_root, new_root)


# --- tiles in memory ---------------------------------------------------------------------


def leaves_of(n: int, salt: bytes = b"") -> list[bytes]:
    return [h_leaf(salt + i.to_bytes(8, "big")) for i in range(n)]


def tiles_of(leaves: Sequence[bytes], chunk: int = 1 << 16) -> dict[tuple[int, int], bytes]:
    out: dict[tuple[int, int], bytes] = {}

    def emit(rows: list[tuple[int, int, bytes]]) -> None:
        for level, index, data in rows:
            out[(level, index)] = data

    tiles.build(lambda a, b: leaves[a:b], len(leaves), emit, chunk)
    return out


def reader(stored: dict[tuple[int, int], bytes], size: int) -> tiles.TileReader:
    return tiles.TileReader(lambda level, index: stored.get((level, index)), size)


BIG = leaves_of(70_000)
BIG_TILES = tiles_of(BIG, chunk=5_000)


def test_tiles_of_70000_leaves_are_the_ones_the_spec_lists() -> None:
    # tlog-tiles: 273 full level-0 tiles, one partial of width 112, one full level-1 tile,
    # one partial level-1 tile of width 17 and one partial level-2 tile of width 1
    widths = {key: len(data) // 32 for key, data in BIG_TILES.items()}
    assert sorted(k for k, w in widths.items() if w == 256 and k[0] == 0) == [
        (0, i) for i in range(273)
    ]
    assert widths[(0, 273)] == 112 and widths[(1, 0)] == 256
    assert widths[(1, 1)] == 17 and widths[(2, 0)] == 1 and len(widths) == 277
    # level 0 is the leaf hashes; level L's hashes are the roots of level L-1's full tiles
    assert BIG_TILES[(0, 5)] == b"".join(BIG[5 * 256 : 6 * 256])
    assert BIG_TILES[(1, 1)][32:64] == merkle.root(BIG[257 * 256 : 258 * 256])
    assert BIG_TILES[(2, 0)] == merkle.root(BIG[:65536])
    for level, index, width in [(0, 273, 112), (1, 1, 17), (2, 0, 1), (0, 274, 0), (3, 0, 0)]:
        assert tiles.width_in(level, index, 70_000) == width


def test_a_tree_of_256_is_one_full_tile_and_a_partial_one_above() -> None:
    assert set(tiles_of(leaves_of(256))) == {(0, 0), (1, 0)}
    assert tiles.width_in(1, 0, 256) == 1


def test_proofs_from_tiles_give_the_rfc_6962_vectors() -> None:
    leaves = [h_leaf(d) for d in CT_INPUTS]
    stored = tiles_of(leaves)
    for size in range(1, 9):
        assert reader(stored, size).root().hex() == CT_ROOTS[size - 1]
    for index, size, proof in CT_INCLUSION:
        got = reader(stored, size).inclusion_proof(index)
        assert [p.hex() for p in got] == proof
        root = bytes.fromhex(CT_ROOTS[size - 1])
        assert verifies_inclusion(leaves[index], index, size, got, root)
        assert tiles.root_from_inclusion(leaves[index], index, size, got) == root
    for old, new, proof in CT_CONSISTENCY:
        got = reader(stored, new).consistency_proof(old)
        assert [p.hex() for p in got] == proof
        old_root, new_root = (bytes.fromhex(CT_ROOTS[s - 1]) for s in (old, new))
        assert verifies_consistency(old, new, got, old_root, new_root)


def test_the_independent_verifier_rejects_what_it_should() -> None:
    leaves = BIG[:1000]
    r = reader(BIG_TILES, 1000)
    root = r.root()
    proof = r.inclusion_proof(300)
    assert verifies_inclusion(leaves[300], 300, 1000, proof, root)
    assert not verifies_inclusion(leaves[301], 300, 1000, proof, root)
    assert not verifies_inclusion(leaves[300], 301, 1000, proof, root)
    assert not verifies_inclusion(leaves[300], 300, 1000, proof[:-1], root)
    cons = r.consistency_proof(300)
    old_root = reader(BIG_TILES, 300).root()
    assert verifies_consistency(300, 1000, cons, old_root, root)
    assert not verifies_consistency(300, 1000, cons, root, root)
    assert not verifies_consistency(299, 1000, cons, old_root, root)


@pytest.mark.parametrize(
    "size", [1, 2, 255, 256, 257, 511, 512, 65_535, 65_536, 65_537, 69_999, 70_000]
)
def test_roots_and_edge_proofs_at_tile_boundaries(size: int) -> None:
    r = reader(BIG_TILES, size)
    root = merkle.root(BIG[:size])
    assert r.root() == root
    for index in {0, size // 2, size - 1, max(0, size - 256)}:
        proof = r.inclusion_proof(index)
        assert proof == merkle.inclusion_proof(BIG, index, size)
        assert verifies_inclusion(BIG[index], index, size, proof, root)
    for old in {1, size // 2 or 1, size - 1 or 1, size}:
        proof = r.consistency_proof(old)
        assert proof == merkle.consistency_proof(BIG, old, size)
        assert verifies_consistency(old, size, proof, merkle.root(BIG[:old]), root)


@settings(max_examples=60, deadline=None)
@given(data=st.data(), size=st.integers(min_value=1, max_value=20_000))
def test_tile_proofs_equal_the_reference_proofs(data: st.DataObject, size: int) -> None:
    index = data.draw(st.integers(min_value=0, max_value=size - 1))
    old = data.draw(st.integers(min_value=1, max_value=size))
    r = reader(BIG_TILES, size)
    assert r.inclusion_proof(index) == merkle.inclusion_proof(BIG, index, size)
    assert r.consistency_proof(old) == merkle.consistency_proof(BIG, old, size)


def test_a_proof_reads_few_tiles_even_in_a_deep_tree() -> None:
    # O(log n): one tile per level for the path, one more per level for the right edge
    r = reader(BIG_TILES, 70_000)
    r.inclusion_proof(12_345)
    assert r.reads <= 2 * 3
    c = reader(BIG_TILES, 70_000)
    c.consistency_proof(33_333)
    assert c.reads <= 2 * 3


@settings(max_examples=40, deadline=None)
@given(batches=st.lists(st.integers(min_value=1, max_value=700), min_size=1, max_size=12))
def test_growing_tiles_in_random_batches_gives_the_built_ones(batches: list[int]) -> None:
    stored: dict[tuple[int, int], bytes] = {}
    size = 0
    for n in batches:
        partials = {lvl: stored[(lvl, idx)] for lvl, idx, _ in tiles._partials(size)}
        for level, index, data in tiles.extend(size, partials, BIG[size : size + n]):
            stored[(level, index)] = data
        size += n
    assert stored == tiles_of(BIG[:size], chunk=300)


def test_extend_refuses_partials_that_are_not_the_trees() -> None:
    with pytest.raises(tiles.TilesMissing, match="tile 0/000 holds 0 hashes"):
        tiles.extend(10, {}, BIG[10:20])


def test_a_node_must_be_complete_and_its_tile_stored() -> None:
    r = reader(BIG_TILES, 1000)
    with pytest.raises(ValueError, match="not complete"):
        r.node(10, 0)  # 1024 leaves in a tree of 1000
    missing = reader({}, 1000)
    with pytest.raises(
        tiles.TilesMissing, match="tile 1/000 holds 0 hashes, the tree of 1000 needs 2"
    ):
        missing.inclusion_proof(999)
    with pytest.raises(ValueError, match="outside a tree of size 1000"):
        r.inclusion_proof(1000)
    with pytest.raises(ValueError, match="between 0 and 1000"):
        r.consistency_proof(1001)


# --- paths -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "tile"),
    [
        ("0/000", tiles.Tile(0, 0)),
        ("tile/0/x001/x234/067", tiles.Tile(0, 1_234_067)),
        ("1/x001/x234/067.p/12", tiles.Tile(1, 1_234_067, 12)),
        ("63/999.p/255", tiles.Tile(63, 999, 255)),
        ("2/x001/000.p/1", tiles.Tile(2, 1000, 1)),
    ],
)
def test_tile_paths_round_trip(text: str, tile: tiles.Tile) -> None:
    assert tiles.parse_path(text) == tile
    assert tile.path() == "tile/" + text.removeprefix("tile/")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0/1", "not a tile path"),
        ("0/0001", "not a tile path"),
        ("0/x001", "not a tile path"),
        ("0/001/002", "not a tile path"),
        ("0/000/", "not a tile path"),
        ("", "not a tile path"),
        ("01/000", "tile level '01'"),
        ("64/000", "tile level '64'"),
        ("-1/000", "tile level '-1'"),
        ("a/000", "tile level 'a'"),
        ("0/x000/001", "no leading zero elements"),
        ("0/000.p/0", "partial tile width '0'"),
        ("0/000.p/256", "partial tile width '256'"),
        ("0/000.p/012", "partial tile width '012'"),
        ("0/000.p/", "not a tile path"),
        ("0/000.p/x", "partial tile width 'x'"),
    ],
)
def test_malformed_tile_paths_are_refused_by_name(text: str, message: str) -> None:
    with pytest.raises(tiles.TileError, match=message):
        tiles.parse_path(text)


def test_a_negative_index_has_no_path() -> None:
    with pytest.raises(tiles.TileError, match="non-negative"):
        tiles.encode_index(-1)


# --- in the store: the writer's hook, backfill, check ----------------------------------


def stored_tiles(store: Store) -> dict[tuple[int, int], bytes]:
    rows = store.query("SELECT level, idx, hashes FROM tiles")
    return {(int(level), int(idx)): bytes(data) for level, idx, data in rows}


def grow(store: Store, n: int) -> None:
    """``n`` more records in transactions of 1, 7 and 300 entries (fill's own, then bulk)."""
    fill(store, records=n)


@pytest.fixture
def filled(store: Store) -> Store:
    grow(store, 600)  # 600 records and 4 other entries: two full level-0 tiles
    with store.writer() as w:  # and one transaction of several hundred entries
        from ledger_data import record_payload

        from trustledger.domain import EntryKind

        for n in range(1000, 1300):
            w.append(EntryKind.RECORD_ISSUED, record_payload(n))
    return store


def context_of(store: Store) -> Context:
    return Context(Settings(db_url=store.url), store, Clock("Asia/Shanghai"))


def test_the_writer_keeps_the_tiles_of_the_ledger(filled: Store) -> None:
    size = filled.size()
    leaves = filled.leaf_hashes()
    assert size == len(leaves) > 512
    assert stored_tiles(filled) == tiles_of(leaves)
    assert tiles.check(filled) == []
    r = tiles.reader(filled, size)
    assert r.root() == filled.head().root == merkle.root(leaves)
    # every stored tree head's root from the tiles: old sizes are served by the same rows
    for head in filled.tree_heads():
        assert tiles.reader(filled, head.size).root() == head.root


def test_proofs_from_the_store_for_old_and_new_sizes(filled: Store) -> None:
    ctx = context_of(filled)
    leaves = filled.leaf_hashes()
    size = len(leaves)
    for tree_size in (1, 255, 256, 257, 600, size):
        root = merkle.root(leaves[:tree_size])
        for seq in {0, tree_size // 3, tree_size - 1}:
            found = app_ledger.inclusion(ctx, seq, tree_size)
            proof = [bytes.fromhex(p) for p in found["proof"]]
            assert proof == merkle.inclusion_proof(leaves, seq, tree_size)
            assert found["root"] == root.hex() and found["leaf_hash"] == leaves[seq].hex()
            assert verifies_inclusion(leaves[seq], seq, tree_size, proof, root)
        for old in {1, tree_size // 2 or 1, tree_size}:
            found = app_ledger.consistency(ctx, old, tree_size)
            proof = [bytes.fromhex(p) for p in found["proof"]]
            assert proof == merkle.consistency_proof(leaves, old, tree_size)
            assert found["old_root"] == merkle.root(leaves[:old]).hex()
            assert found["new_root"] == root.hex()
            assert verifies_consistency(old, tree_size, proof, merkle.root(leaves[:old]), root)


def test_proof_requests_out_of_range_are_refused(filled: Store) -> None:
    ctx = context_of(filled)
    size = filled.size()
    with pytest.raises(NotFound, match=f"no entry {size} in a tree of size {size}"):
        app_ledger.inclusion(ctx, size)
    with pytest.raises(NotFound, match="no entry 10 in a tree of size 10"):
        app_ledger.inclusion(ctx, 10, 10)
    # a size the ledger has not reached names no tree (404, as Schemathesis's positive
    # data check demands of a schema-valid request), nor a proof from a larger tree
    with pytest.raises(NotFound, match=f"no tree of size {size + 1}: the ledger holds {size}"):
        app_ledger.inclusion(ctx, 0, size + 1)
    with pytest.raises(NotFound, match=r"from size 5 to .* need 0 < old size ≤ new size"):
        app_ledger.consistency(ctx, 5, size + 1)
    with pytest.raises(NotFound, match=r"from size 11 to 10: need 0 < old size ≤ new size"):
        app_ledger.consistency(ctx, 11, 10)


def test_tiles_by_path_and_the_refusals(filled: Store) -> None:
    ctx = context_of(filled)
    leaves = filled.leaf_hashes()
    size = len(leaves)
    data, full = app_ledger.tile(ctx, "0/000")
    assert full and data == b"".join(leaves[:256])
    edge = size % 256
    data, full = app_ledger.tile(ctx, f"0/{size // 256:03d}.p/{edge}")
    assert not full and data == b"".join(leaves[size - edge :])
    # a narrower partial tile of an earlier tree, and of a tile that is full by now
    assert app_ledger.tile(ctx, "0/000.p/3")[0] == b"".join(leaves[:3])
    level1, _ = app_ledger.tile(ctx, f"1/000.p/{size // 256}")
    assert level1[:32] == merkle.root(leaves[:256])
    with pytest.raises(NotFound, match=rf"tile/0/00{size // 256}: .* holds {edge} hashes"):
        app_ledger.tile(ctx, f"0/{size // 256:03d}")
    with pytest.raises(NotFound, match="holds"):
        app_ledger.tile(ctx, f"0/{size // 256:03d}.p/{edge + 1}")
    with pytest.raises(NotFound, match="has no such tile"):
        app_ledger.tile(ctx, "0/x001/000")
    with pytest.raises(NotFound, match="has no such tile"):
        app_ledger.tile(ctx, "2/000.p/1")
    with pytest.raises(BadInput, match="partial tile width '0'"):
        app_ledger.tile(ctx, "0/000.p/0")
    with pytest.raises(BadInput, match="not a tile path"):
        app_ledger.tile(ctx, "0/1")


def test_an_upgraded_database_gets_its_tiles_from_its_entries(filled: Store) -> None:
    ctx = context_of(filled)
    want = stored_tiles(filled)
    filled.execute("DELETE FROM tiles")
    assert tiles.check(filled) == []  # a cache never built: nothing to be wrong yet
    # a proof builds them once
    leaves = filled.leaf_hashes()
    found = app_ledger.inclusion(ctx, 7)
    assert found["root"] == merkle.root(leaves).hex()
    assert stored_tiles(filled) == want
    assert app_ledger.build_tiles(ctx) == {"tiles_written": 0, "size": len(leaves)}
    # and so does the first write, in its own transaction
    filled.execute("DELETE FROM tiles")
    grow(filled, 3)
    assert stored_tiles(filled) == tiles_of(filled.leaf_hashes())
    # and the command's use case
    filled.execute("DELETE FROM tiles")
    assert app_ledger.build_tiles(ctx)["tiles_written"] == len(stored_tiles(filled)) > 0
    assert tiles.check(filled) == []


def test_tampered_tiles_are_found_and_never_served_as_proof(filled: Store) -> None:
    ctx = context_of(filled)
    original = stored_tiles(filled)[(0, 1)]
    forged = bytes(32) + original[32:]
    filled.execute("UPDATE tiles SET hashes = ? WHERE level = 0 AND idx = 1", [(forged,)])
    assert tiles.check(filled) == ["tile 0/001: 256 stored hashes differ from the 256 the "
                                   "entries give"]  # fmt: skip
    with pytest.raises(ConfigError, match="disagrees with the entry's hash"):
        app_ledger.inclusion(ctx, 256)
    filled.execute("INSERT INTO tiles (level, idx, hashes) VALUES (5, 0, ?)", [(bytes(32),)])
    assert "tile 5/000: a tile the tree of" in tiles.check(filled)[1]
    filled.execute("DELETE FROM tiles WHERE level = 0 AND idx = 0")
    assert "tile 0/000: missing" in tiles.check(filled)


# --- over HTTP: a client rebuilding the checkpoint's root from tiles alone ---------------


@pytest.fixture
def client(filled: Store, tmp_path: Path) -> Iterator[TestClient]:
    (tmp_path / "person.key").write_text(bytes(range(32)).hex() + "\n")
    settings = Settings(
        db_url=filled.url,
        person_key_file=tmp_path / "person.key",
        log_key_file=tmp_path / "log.key",
    )
    with TestClient(create_app(settings, reload_interval=0.0)) as c:
        yield c


def fetch_root(get: Callable[[str], bytes], size: int) -> bytes:
    """The root of the tree of ``size`` from tiles alone (as a tlog-tiles client does):
    each level's tiles, checking every full tile against the hash the level above holds."""
    levels: list[list[bytes]] = []
    level = 0
    while size >> (8 * level):
        count = size >> (8 * level)
        hashes: list[bytes] = []
        for index in range((count + 255) // 256):
            width = min(256, count - index * 256)
            path = f"{level}/{tiles.encode_index(index)}" + ("" if width == 256 else f".p/{width}")
            data = get(path)
            assert len(data) == width * 32
            hashes += [data[i : i + 32] for i in range(0, len(data), 32)]
        levels.append(hashes)
        level += 1
    for below, above in itertools.pairwise(levels):
        for j, h in enumerate(above):  # a level's hash is the root of a full tile below
            assert h == merkle_root_ref(below[j * 256 : (j + 1) * 256])
    # MTH of the whole tree: the complete subtrees of each level's right edge (one per set
    # bit of the size, largest first), folded from the right
    pieces: list[bytes] = []
    for level, hashes in reversed(list(enumerate(levels))):
        tail = len(hashes) % 256 if level + 1 < len(levels) else len(hashes)
        pos = len(hashes) - tail
        for bit in reversed(range(8)):
            if tail >> bit & 1:
                pieces.append(merkle_root_ref(hashes[pos : pos + (1 << bit)]))
                pos += 1 << bit
    r = pieces[-1]
    for p in reversed(pieces[:-1]):
        r = h_node(p, r)
    return r


def merkle_root_ref(hashes: Sequence[bytes]) -> bytes:
    if len(hashes) == 1:
        return hashes[0]
    k = split(len(hashes))
    return h_node(merkle_root_ref(hashes[:k]), merkle_root_ref(hashes[k:]))


def test_served_tiles_rehash_to_the_checkpoint_root(client: TestClient, filled: Store) -> None:
    note = client.get("/v1/ledger/checkpoint")
    assert note.status_code == 200, note.text
    _origin, size_line, root_line = note.text.split("\n")[:3]
    size, root = int(size_line), base64.b64decode(root_line)

    def get(path: str) -> bytes:
        response = client.get(f"/v1/ledger/tile/{path}")
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/octet-stream"
        assert "immutable" in response.headers["cache-control"]
        data: bytes = response.content
        return data

    assert fetch_root(get, size) == root == filled.head().root


def test_proof_routes_keep_their_contract(client: TestClient, filled: Store) -> None:
    leaves = filled.leaf_hashes()
    size = len(leaves)
    body = client.get("/v1/ledger/proof/inclusion", params={"seq": 300, "size": 400}).json()
    assert set(body) == {"seq", "tree_size", "root", "leaf_hash", "entry", "withheld", "proof"}
    proof = [bytes.fromhex(p) for p in body["proof"]]
    assert verifies_inclusion(leaves[300], 300, 400, proof, merkle.root(leaves[:400]))
    body = client.get("/v1/ledger/proof/consistency", params={"old": 257, "new": size}).json()
    proof = [bytes.fromhex(p) for p in body["proof"]]
    assert verifies_consistency(257, size, proof, merkle.root(leaves[:257]), filled.head().root)


@pytest.mark.parametrize(
    ("path", "status", "message"),
    [
        ("0/1", 422, "not a tile path"),
        ("00/000", 422, "tile level '00'"),
        ("64/000", 422, "tile level '64'"),
        ("0/000.p/0", 422, "partial tile width '0'"),
        ("0/000.p/256", 422, "partial tile width '256'"),
        ("0/x000/000", 422, "no leading zero elements"),
        ("0/999", 404, "has no such tile"),
        ("0/003", 404, "holds"),
        ("0/003.p/255", 404, "holds"),
        ("9/000.p/1", 404, "has no such tile"),
    ],
)
def test_tile_route_refusals(client: TestClient, path: str, status: int, message: str) -> None:
    response = client.get(f"/v1/ledger/tile/{path}")
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert message in response.json()["detail"]
    assert "cache-control" not in response.headers


def test_the_tiles_command_builds_missing_tiles(filled: Store, db_url: str) -> None:
    from typer.testing import CliRunner

    from trustledger.cli import app

    rows = len(stored_tiles(filled))
    filled.execute("DELETE FROM tiles")
    result = CliRunner().invoke(app, ["ledger", "tiles", "--db", db_url, "--json"])
    assert result.exit_code == 0, result.output
    assert f'"tiles_written": {rows}' in result.output
    assert tiles.check(filled) == []
    again = CliRunner().invoke(app, ["ledger", "tiles", "--db", db_url, "--json"])
    assert '"tiles_written": 0' in again.output


def test_open_store_has_the_tiles_table(tmp_path: Path) -> None:
    with open_store(f"sqlite:///{tmp_path / 'x.db'}") as s:
        s.init()
        assert s.query("SELECT count(*) FROM tiles") == [(0,)]
