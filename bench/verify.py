"""`verify` over a ledger of 1,000,000 entries, against a bare read-and-hash of the same rows.

python bench/verify.py [--entries 1000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from hashlib import sha256
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from common import Timer, save

from trustledger.domain import EntryKind
from trustledger.ledger.store import open_store
from trustledger.ledger.verify import verify, verify_chain

COURT = "11440305000000010X"


def build(url: str, n: int) -> None:
    """Subjects and records in the proportions of the demo (about one subject per six)."""
    store = open_store(url)
    store.init()
    with store.writer() as w:
        w.append(
            EntryKind.AUTHORITY_REGISTERED,
            {
                "id": COURT,
                "name": "南山区人民法院",
                "authority_type": "court",
                "division": "440305",
            },
        )
    seq = 1
    while seq < n:
        with store.writer() as w:
            for _ in range(min(10_000, n - seq)):
                subject = f"91440305MA{seq // 6:07d}X"
                if seq % 6 == 1:
                    w.append(
                        EntryKind.SUBJECT_REGISTERED,
                        {
                            "id": subject,
                            "kind": "enterprise",
                            "name": f"深圳市测试{seq}有限公司",
                            "division": "440305",
                            "former_names": [],
                            "aliases": [],
                            "address": "深圳市南山区科技园",
                            "established": "2010-01-01",
                        },
                    )
                else:
                    w.append(
                        EntryKind.RECORD_ISSUED,
                        {
                            "record_id": f"R{seq:024x}",
                            "authority": COURT,
                            "category": "JUD-DEBTOR-G1",
                            "catalogue": "cn-national@2025.1",
                            "subject": subject,
                            "subject_kind": "enterprise",
                            "tier": "serious",
                            "decision_type": "court_judgment",
                            "document_number": f"(2024)粤0305执{seq}号",
                            "decision_date": "2024-03-01",
                            "publication_date": "2024-03-05",
                            "title": "有履行能力而拒不履行生效法律文书确定义务",
                        },
                    )
                seq += 1
    store.close()


def bare(url: str) -> float:
    """Read every entry row and SHA-256 it: the floor under any verification."""
    store = open_store(url)
    conn: Any = store.conn  # type: ignore[attr-defined]
    with Timer() as t:
        cur = conn.execute("SELECT seq, time_us, kind, prev_hash, payload, hash FROM entries")
        while rows := cur.fetchmany(20_000):
            for row in rows:
                sha256(row[4]).digest()
    store.close()
    return t.seconds


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--entries", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'ledger.db'}"
        with Timer() as built:
            build(url, args.entries)
        # each run: the full verify, the chain alone and the floor, in turn, so that each
        # ratio compares figures measured under the same load
        for _ in range(args.repeat):
            store = open_store(url)
            with Timer() as t:
                report = verify(store)
            with Timer() as chain_t:
                chain = verify_chain(store)
            store.close()
            assert chain.ok
            assert report.ok, report.problems
            floor = bare(url)
            runs.append(
                {
                    "verify_seconds": round(t.seconds, 2),
                    "entries_per_s": round(report.size / t.seconds),
                    "chain_and_tree_only_seconds": round(chain_t.seconds, 2),
                    "chain_and_tree_only_entries_per_s": round(report.size / chain_t.seconds),
                    "bare_read_and_hash_seconds": round(floor, 2),
                    "ratio_to_bare": round(floor / t.seconds, 3),
                }
            )
            print(runs[-1], flush=True)
    best = max(runs, key=lambda r: r["entries_per_s"])
    save(
        "verify",
        {
            "entries": report.size,
            "build_seconds": round(built.seconds, 1),
            **best,
            "target": "entries_per_s >= 300000",
            "runs": runs,
        },
    )


if __name__ == "__main__":
    main()
