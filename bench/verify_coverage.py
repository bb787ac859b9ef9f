"""What covering every table costs: the full verify of a demo database (ledger, then every
other table) against the ledger's own verify in the same run; and the LtHash16 row digest
against a bare SHA-256 of the same rows.

python bench/verify_coverage.py [--subjects 3000] [--rows 200000]
"""

from __future__ import annotations

import argparse
import hashlib
import multiprocessing
import tempfile
import time
from pathlib import Path

from trustledger.app import demo
from trustledger.app.context import Context
from trustledger.app.verification import verify_all
from trustledger.ledger.tabledigest import TableDigest, row_bytes
from trustledger.ledger.verify import verify
from trustledger.settings import Settings


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--subjects", type=int, default=3000)
    parser.add_argument("--rows", type=int, default=200_000)
    args = parser.parse_args()
    rows = [
        (f"{i:024x}", i, "PLANT0000000001", "2051", '{"a21026": 32.5}') for i in range(args.rows)
    ]
    t = time.perf_counter()
    TableDigest.of(rows)
    lthash = time.perf_counter() - t
    t = time.perf_counter()
    for row in rows:
        hashlib.sha256(row_bytes(row)).digest()
    bare = time.perf_counter() - t
    print(f"LtHash16: {args.rows / lthash:,.0f} rows/s; SHA-256 of the same bytes "
          f"{args.rows / bare:,.0f} rows/s; ratio {bare / lthash:.2f}")  # fmt: skip
    multiprocessing.cpu_count = lambda: 1  # both in one process
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        settings = Settings(db_url=f"sqlite:///{work / 'd.db'}", person_key_file=work / "p.key")
        with Context.open(settings, must_exist=False) as ctx:
            demo.run(ctx, directory=work / "demo", subjects=args.subjects)
            t = time.perf_counter()
            ledger_only = verify(ctx.store)
            base = time.perf_counter() - t
            t = time.perf_counter()
            full = verify_all(ctx)
            every = time.perf_counter() - t
            assert ledger_only.ok and full.ok, full.problems
            ((packets,),) = ctx.store.query("SELECT count(*) FROM monitor_packets")
            print(f"demo of {args.subjects:,} subjects: {full.size:,} entries, {packets:,} "
                  f"packets; ledger verify {base:.2f} s, every table {every:.2f} s; "
                  f"ratio {every / base:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
