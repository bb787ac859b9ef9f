"""Bulk ingest of the demo data into SQLite and PostgreSQL, against a bare insert of the
same rows (no validation, no hashing, no projection logic) measured in the same run.

    python bench/ingest.py [--subjects 50000] [--no-postgres]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from datetime import date
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from common import Timer, pg_schema, save

from trustledger.catalogue import national_catalogue
from trustledger.demo import write_demo_files
from trustledger.ids import PersonKeyer
from trustledger.intake import Intake, ingest_file
from trustledger.ledger.projection import TABLES
from trustledger.ledger.schema import ENTRY_COLUMNS, columns
from trustledger.ledger.store import Store, open_store

BATCH = 10_000


def ingest(url: str, files: list[Path], work: Path) -> tuple[float, int, Store]:
    keyer = PersonKeyer(b"bench person key, 32 bytes long!")
    store = open_store(url)
    store.init(keyer.fingerprint())
    intake = Intake(store, national_catalogue(), keyer, today=date(2026, 11, 26))
    records = 0
    with Timer() as t:
        for path in files:
            report = ingest_file(intake, path, work, batch=BATCH)
            if path.name in ("records.jsonl", "changes.jsonl"):
                records += report.counts.accepted
    return t.seconds, records, store


def stored_rows(store: Store) -> dict[str, list[tuple[Any, ...]]]:
    rows = {
        "entries": [
            (e.seq, e.time_us, e.kind, e.prev_hash, e.payload, e.hash) for e in store.iter_entries()
        ]
    }
    for table in TABLES:
        rows[table] = list(store.iter_rows(table))
    return rows


def bare_sqlite(url: str, rows: dict[str, list[tuple[Any, ...]]]) -> float:
    """executemany of the same rows, in the same batch size, into the same schema."""
    store = open_store(url)
    store.init()
    conn = store.conn  # type: ignore[attr-defined]
    cols = {"entries": ENTRY_COLUMNS, **{t: columns(t) for t in TABLES}}
    with Timer() as t:
        n = len(rows["entries"])
        for start in range(0, n, BATCH):
            conn.execute("BEGIN IMMEDIATE")
            for table, data in rows.items():
                part = (
                    data[start : start + BATCH]
                    if table == "entries"
                    else (data[start * len(data) // n : (start + BATCH) * len(data) // n])
                )
                conn.executemany(
                    f"INSERT INTO {table} ({', '.join(cols[table])}) "
                    f"VALUES ({', '.join('?' for _ in cols[table])})",
                    part,
                )
            conn.execute("COMMIT")
    store.close()
    return t.seconds


def bare_postgres(url: str, rows: dict[str, list[tuple[Any, ...]]]) -> float:
    store = open_store(url)
    store.init()
    conn = store.conn  # type: ignore[attr-defined]
    cols = {"entries": ENTRY_COLUMNS, **{t: columns(t) for t in TABLES}}
    with Timer() as t:
        n = len(rows["entries"])
        for start in range(0, n, BATCH):
            with conn.transaction(), conn.cursor() as cur:
                for table, data in rows.items():
                    part = (
                        data[start : start + BATCH]
                        if table == "entries"
                        else (data[start * len(data) // n : (start + BATCH) * len(data) // n])
                    )
                    with cur.copy(f"COPY {table} ({', '.join(cols[table])}) FROM STDIN") as cp:
                        for row in part:
                            cp.write_row(row)
    store.close()
    return t.seconds


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--subjects", type=int, default=50_000)
    ap.add_argument("--no-postgres", action="store_true")
    args = ap.parse_args()
    figures: dict[str, Any] = {"subjects": args.subjects}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        files = [
            p
            for p in write_demo_files(
                work / "data", seed=7, subjects=args.subjects, as_of=date(2026, 11, 1)
            )
            if p.suffix == ".jsonl"
        ]
        seconds, records, store = ingest(f"sqlite:///{work / 'ours.db'}", files, work)
        entries = store.size()
        # ours on PostgreSQL first, while this process is small (the reader process forks)
        if not args.no_postgres:
            with pg_schema() as ours_url:
                pg_seconds, pg_records, pg_store = ingest(ours_url, files, work)
                pg_store.close()
        rows = stored_rows(store)
        store.close()
        bare = bare_sqlite(f"sqlite:///{work / 'bare.db'}", rows)
        figures["sqlite"] = {
            "records": records,
            "entries": entries,
            "seconds": round(seconds, 2),
            "records_per_s": round(records / seconds),
            "bare_executemany_seconds": round(bare, 2),
            "bare_records_per_s": round(records / bare),
            "ratio_to_bare": round(bare / seconds, 3),
            "targets": "ratio >= 0.25 and records_per_s >= 50000",
        }
        if not args.no_postgres:
            with pg_schema() as bare_url:
                bare = bare_postgres(bare_url, rows)
            figures["postgres"] = {
                "records": pg_records,
                "seconds": round(pg_seconds, 2),
                "records_per_s": round(pg_records / pg_seconds),
                "bare_copy_seconds": round(bare, 2),
                "bare_records_per_s": round(pg_records / bare),
                "ratio_to_bare": round(bare / pg_seconds, 3),
                "target": "ratio >= 0.25",
            }
    save("ingest", figures)


if __name__ == "__main__":
    main()
