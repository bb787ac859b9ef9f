"""Ingest one record, then re-evaluate just its subject: how long until the state tables
show it (median and p95 over 50 records), against the ingest alone, in the same run.

    python bench/incremental.py [--subjects 5000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from common import save

from trustledger.catalogue import national_catalogue
from trustledger.demo import write_demo_files
from trustledger.evaluate.state import evaluate_all, refresh_subjects
from trustledger.ids import PersonKeyer
from trustledger.intake import Intake, ingest_file
from trustledger.ledger.store import open_store
from trustledger.rulebook.publish import publish_rulebook

ON = date(2026, 11, 26)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--subjects", type=int, default=5_000)
    args = ap.parse_args()
    root = Path(__file__).parent.parent
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        files = [p for p in write_demo_files(work, seed=7, subjects=args.subjects, as_of=ON)
                 if p.suffix == ".jsonl"]  # fmt: skip
        keyer = PersonKeyer(b"bench person key, 32 bytes long!")
        store = open_store(f"sqlite:///{work / 'i.db'}")
        store.init(keyer.fingerprint())
        intake = Intake(store, national_catalogue(), keyer, today=ON)
        for path in files:
            ingest_file(intake, path, work)
        for path in sorted((root / "trustledger" / "rulebooks_shipped").glob("*.yaml")):
            publish_rulebook(store, path, national_catalogue())
        evaluate_all(store, national_catalogue(), at_us=None, on=ON)
        court = next(r[0] for r in store.iter_rows("authorities") if r[2] == "court")
        firms = [r[0] for r in store.iter_rows("subjects") if r[1] == "enterprise"][:100]

        def record(n: int) -> dict[str, str]:
            return {"authority": court, "category": "JUD-DEBTOR-G2", "subject": firms[n],
                    "document_number": f"(2026)基准执{n}号", "decision_type": "court_judgment",
                    "decision_date": "2026-11-20", "publication_date": "2026-11-21"}  # fmt: skip

        ingest_only, ingest_and_refresh = [], []
        for n in range(50):
            t0 = time.perf_counter()
            (result,) = intake.submit_many([record(n)])
            ingest_only.append(time.perf_counter() - t0)
            refresh_subjects(store, national_catalogue(), [result.subject or ""], on=ON)
            ingest_and_refresh.append(time.perf_counter() - t0)
            listed = {r[2] for r in store.state_rows("state_lists", firms[n])
                      if r[1] == "dishonest-judgment-debtors"}  # fmt: skip
            assert listed == {firms[n]}, "the new record must show in the state at once"
        for n in range(50, 100):  # the ingest alone, for the ratio
            t0 = time.perf_counter()
            intake.submit_many([record(n)])
            ingest_only.append(time.perf_counter() - t0)
        store.close()
    q = statistics.quantiles(ingest_and_refresh, n=20)
    save("incremental", {
        "subjects": args.subjects,
        "median_ms": round(statistics.median(ingest_and_refresh) * 1000, 1),
        "p95_ms": round(q[-1] * 1000, 1),
        "ingest_alone_median_ms": round(statistics.median(ingest_only) * 1000, 1),
        "ratio_to_ingest_alone": round(
            statistics.median(ingest_and_refresh) / statistics.median(ingest_only), 1),
        "target": "median_ms <= 50",
    })  # fmt: skip


if __name__ == "__main__":
    main()
