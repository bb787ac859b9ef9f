"""Bulk ingest of the demo data into SQLite and PostgreSQL, against a bare insert of the
same rows (no validation, no hashing, no projection logic) measured in the same run.

    python bench/ingest.py [--subjects 50000] [--no-postgres] [--repeat 3]

Every table ours writes (entries, projections, tree heads and whatever else a commit
stores) is inserted again by the bare baseline, table by table in the same batches. With
--repeat N each figure and its baseline are measured N times in turn (on a shared machine
the best of each is the least disturbed); all runs are printed, the best is reported.
"""

from __future__ import annotations

import argparse
import json
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


# bookkeeping of the schema, not rows an ingest writes
_SKIPPED = ("meta", "alembic_version")


def stored_rows(store: Store) -> dict[str, list[tuple[Any, ...]]]:
    """Every row ours stored, by table (entries first: batches are cut along them)."""
    names = [
        r[0]
        for r in store.query("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        if r[0] not in _SKIPPED
    ]
    names.sort(key=lambda n: n != "entries")
    rows = {n: store.query(f"SELECT * FROM {n}") for n in names}
    return {n: r for n, r in rows.items() if r}


def table_ddl(store: Store) -> dict[str, str]:
    return dict(store.query("SELECT name, sql FROM sqlite_master WHERE type = 'table'"))


def _part(rows: dict[str, list[tuple[Any, ...]]], table: str, start: int) -> list[tuple[Any, ...]]:
    """The rows of ``table`` that go with entries start…start+BATCH (in proportion)."""
    data, n = rows[table], len(rows["entries"])
    if table == "entries":
        return data[start : start + BATCH]
    return data[start * len(data) // n : (start + BATCH) * len(data) // n]


def bare_sqlite(url: str, rows: dict[str, list[tuple[Any, ...]]], ddl: dict[str, str]) -> float:
    """executemany of the same rows, in the same batch size, into the same schema."""
    store = open_store(url)
    store.init()
    conn = store.conn  # type: ignore[attr-defined]
    present = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    with conn:
        for table in rows:
            if table not in present:  # a table ours creates lazily: the same DDL, untimed
                conn.execute(ddl[table])
    with Timer() as t:
        for start in range(0, len(rows["entries"]), BATCH):
            conn.execute("BEGIN IMMEDIATE")
            for table, data in rows.items():
                marks = ", ".join("?" for _ in data[0])
                conn.executemany(f"INSERT INTO {table} VALUES ({marks})", _part(rows, table, start))
            conn.execute("COMMIT")
    store.close()
    return t.seconds


def bare_postgres(url: str, rows: dict[str, list[tuple[Any, ...]]]) -> float:
    store = open_store(url)
    store.init()
    conn = store.conn  # type: ignore[attr-defined]
    present = [t for t in rows if conn.execute("SELECT to_regclass(%s)", (t,)).fetchone()[0]]
    with Timer() as t:
        for start in range(0, len(rows["entries"]), BATCH):
            with conn.transaction(), conn.cursor() as cur:
                for table in present:
                    with cur.copy(f"COPY {table} FROM STDIN") as cp:
                        for row in _part(rows, table, start):
                            cp.write_row(row)
    store.close()
    return t.seconds


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--subjects", type=int, default=50_000)
    ap.add_argument("--no-postgres", action="store_true")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    figures: dict[str, Any] = {"subjects": args.subjects, "repeat": args.repeat}
    runs: dict[str, list[dict[str, Any]]] = {"sqlite": [], "postgres": []}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        files = [
            p
            for p in write_demo_files(
                work / "data", seed=7, subjects=args.subjects, as_of=date(2026, 11, 1)
            )
            if p.suffix == ".jsonl"
        ]
        rows: dict[str, list[tuple[Any, ...]]] | None = None
        for i in range(args.repeat):
            seconds, records, store = ingest(f"sqlite:///{work / f'ours{i}.db'}", files, work)
            entries = store.size()
            if rows is None:
                rows, ddl = stored_rows(store), table_ddl(store)
            store.close()
            if not args.no_postgres:
                with pg_schema() as ours_url:
                    pg_seconds, pg_records, pg_store = ingest(ours_url, files, work)
                    pg_store.close()
            bare = bare_sqlite(f"sqlite:///{work / f'bare{i}.db'}", rows, ddl)
            runs["sqlite"].append(
                {
                    "records": records,
                    "entries": entries,
                    "seconds": round(seconds, 2),
                    "records_per_s": round(records / seconds),
                    "bare_executemany_seconds": round(bare, 2),
                    "bare_records_per_s": round(records / bare),
                    "ratio_to_bare": round(bare / seconds, 3),
                }
            )
            if not args.no_postgres:
                with pg_schema() as bare_url:
                    bare = bare_postgres(bare_url, rows)
                runs["postgres"].append(
                    {
                        "records": pg_records,
                        "seconds": round(pg_seconds, 2),
                        "records_per_s": round(pg_records / pg_seconds),
                        "bare_copy_seconds": round(bare, 2),
                        "bare_records_per_s": round(pg_records / bare),
                        "ratio_to_bare": round(bare / pg_seconds, 3),
                    }
                )
            print(json.dumps({k: v[-1] for k, v in runs.items() if v}), flush=True)
    for backend, target in (
        ("sqlite", "ratio >= 0.5 and records_per_s >= 50000"),
        ("postgres", "ratio reported (target set for SQLite)"),
    ):
        if runs[backend]:
            best = max(runs[backend], key=lambda r: r["records_per_s"])
            figures[backend] = {**best, "target": target, "runs": runs[backend]}
    save("ingest", figures)


if __name__ == "__main__":
    main()
