"""Inclusion and consistency proofs at 10,000,000 entries from the stored tiles (SQLite),
against two baselines measured in the same run: the bare reads of the same tile rows (the
floor: what a proof cannot avoid), and today's leaf-list proof (every leaf hash read, then
merkle.inclusion_proof) at the same size.

The tiles table is built directly from 10 M synthetic leaf hashes, not through the intake
(which would take far longer than the benchmark is worth): a proof reads only tiles, so
this is the table a ledger of 10 M entries holds. The leaf-list baseline reads the leaf
hashes from the level-0 tiles (the same 320 MB a `SELECT hash FROM entries` reads).

    python bench/proofs.py [--size 10000000] [--proofs 2000] [--no-baseline]
"""

from __future__ import annotations

import argparse
import hashlib
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from common import Timer, save

from trustledger.ledger import merkle, tiles
from trustledger.ledger.store import open_store


def synthetic(start: int, end: int) -> list[bytes]:
    sha = hashlib.sha256
    return [sha(b"\x00" + i.to_bytes(8, "big")).digest() for i in range(start, end)]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=10_000_000)
    ap.add_argument("--proofs", type=int, default=2000)
    ap.add_argument("--no-baseline", action="store_true", help="skip the leaf-list proof")
    args = ap.parse_args()
    size: int = args.size
    figures: dict[str, Any] = {
        "size": size,
        "note": "tiles table built directly from synthetic leaf hashes (not through the "
        "intake); a proof reads only tiles",
    }
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(f"sqlite:///{Path(tmp) / 'tiles.db'}")
        store.init()
        frontier = merkle.Frontier()  # the root, computed apart from the tiles
        rows = 0
        started = time.perf_counter()

        def leaves(a: int, b: int) -> list[bytes]:
            batch = synthetic(a, b)
            frontier.extend(batch)
            if a // 1_000_000 != b // 1_000_000:
                print(f"  {b:,} leaves hashed and tiled ({time.perf_counter() - started:.0f} s)",
                      flush=True)  # fmt: skip
            return batch

        def emit(batch: list[tuple[int, int, bytes]]) -> None:
            nonlocal rows
            store.execute(tiles.UPSERT, batch)
            rows += len(batch)

        print(f"building the tiles of {size:,} synthetic leaves …", flush=True)
        with Timer() as build, store.transaction():
            tiles.build(leaves, size, emit, chunk=1 << 18)
        root = frontier.root()
        figures["build"] = {"tile_rows": rows, "seconds": round(build.seconds, 1)}
        print(f"  {rows:,} tile rows in {build.seconds:.1f} s", flush=True)

        rng = random.Random(13)
        indices = [rng.randrange(size) for _ in range(args.proofs)]
        # warm the page cache the way a serving process would be
        for i in indices[:50]:
            tiles.reader(store, size).inclusion_proof(i)

        reads: list[list[tuple[int, int]]] = []
        hashes = 0
        with Timer() as t:
            for i in indices:
                r = tiles.reader(store, size)
                leaf = r.leaf(i)
                proof = r.inclusion_proof(i)
                found = tiles.root_from_inclusion(leaf, i, size, proof)
                hashes += len(proof)
                if found != root:
                    raise SystemExit(f"proof of {i} does not lead to the root")
                reads.append(r.tiles_read)
        per_proof_us = t.seconds / len(indices) * 1e6
        for i in indices[:100]:  # and by the library's own verifier
            r = tiles.reader(store, size)
            assert merkle.verify_inclusion(r.leaf(i), i, size, r.inclusion_proof(i), root)

        conn = store.conn  # type: ignore[attr-defined]
        sql = "SELECT hashes FROM tiles WHERE level = ? AND idx = ?"
        with Timer() as bare:
            for keys in reads:
                for key in keys:
                    conn.execute(sql, key).fetchone()
        bare_us = bare.seconds / len(indices) * 1e6
        tile_reads = sum(len(k) for k in reads) / len(reads)

        # cold: no tile tree memoised (a process's first proof): every tile hashed again
        with Timer() as cold:
            for i in indices[:200]:
                tiles._tile_tree.cache_clear()
                tiles.reader(store, size).inclusion_proof(i)
        cold_us = cold.seconds / 200 * 1e6

        old_sizes = [rng.randrange(1, size) for _ in range(200)]
        with Timer() as c:
            for old in old_sizes:
                tiles.reader(store, size).consistency_proof(old)
        consistency_us = c.seconds / len(old_sizes) * 1e6

        figures["inclusion"] = {
            "proofs": len(indices),
            "us_per_proof": round(per_proof_us, 1),
            "target_us": 1000,
            "tile_reads_per_proof": round(tile_reads, 2),
            "path_length": round(hashes / len(indices), 2),
            "cold_us_per_proof": round(cold_us, 1),
            "memo": "tile trees memoised by their bytes (512 tiles): the top of the tree, "
            "which every proof passes through, is hashed once per process",
            "bare_tile_reads_us": round(bare_us, 1),
            "ratio_to_bare_reads": round(per_proof_us / bare_us, 2),
        }
        figures["consistency"] = {"proofs": len(old_sizes), "us_per_proof": round(consistency_us)}
        print(f"inclusion from tiles: {per_proof_us:.0f} µs per proof ({tile_reads:.1f} tile "
              f"reads; the bare reads alone {bare_us:.0f} µs; cold {cold_us:.0f} µs); consistency "
              f"{consistency_us:.0f} µs", flush=True)  # fmt: skip

        if not args.no_baseline:
            print("baseline: today's leaf-list proof (every leaf hash read) …", flush=True)
            with Timer() as lb:
                rows_0 = conn.execute(
                    "SELECT hashes FROM tiles WHERE level = 0 ORDER BY idx"
                ).fetchall()
                all_leaves = [
                    data[j : j + 32] for (data,) in rows_0 for j in range(0, len(data), 32)
                ]
                proof = merkle.inclusion_proof(all_leaves, indices[0], size)
            assert merkle.verify_inclusion(all_leaves[indices[0]], indices[0], size, proof, root)
            assert proof == tiles.reader(store, size).inclusion_proof(indices[0])
            figures["leaf_list_baseline"] = {
                "seconds_per_proof": round(lb.seconds, 2),
                "speedup_of_tiles": round(lb.seconds * 1e6 / per_proof_us),
            }
            print(f"  {lb.seconds:.1f} s per proof: tiles are "
                  f"{lb.seconds * 1e6 / per_proof_us:,.0f}× faster", flush=True)  # fmt: skip
        store.close()
    save("proofs", figures)


if __name__ == "__main__":
    main()
