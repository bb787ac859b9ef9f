"""PostgreSQL at size: the demo grown to 10,000,000 records (about 12 M ledger entries)
taken into one PostgreSQL store, measured as it grows.

    python bench/pg_scale.py [--records 10000000] [--milestones 1000000,2000000,5000000]
                             [--engine duckdb] [--keep]

At each milestone of records taken in: the sequencer's appends/s over the last stretch
(ledger entries/s and records/s), the database's size on disk, and at the first milestone
and the end a ledger verify (entries/s). At the end: the changes feed, the shipped
rulebooks evaluated by ``--engine`` (seconds, peak memory), the check index loaded from the
state and checked in process (µs per check, p50/p99). The ratios are against the same run:
the last stretch's appends/s to the first's, the final verify rate to the first one's.

With ``--keep`` the schema stays (its URL is printed and saved) so that other engines can
evaluate the same store afterwards (``trustledger evaluate --engine spark --db URL``).
Mind the disk: the script says what is free before it starts and what the data took.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import resource
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from datetime import date
from pathlib import Path
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).parent))

from common import PG_URL, RESULTS, Timer, save

from trustledger.catalogue import national_catalogue
from trustledger.demo import write_demo_files
from trustledger.evaluate.queries import changed_subjects, state_signature
from trustledger.evaluate.state import Engine, evaluate_all
from trustledger.ids import PersonKeyer
from trustledger.intake import Intake, ingest_file
from trustledger.ledger.store import Store, open_store
from trustledger.ledger.verify import verify
from trustledger.rulebook.publish import publish_rulebook
from trustledger.sanctions.check import CheckIndex

ON = date(2026, 11, 26)
# the demo makes 5.8 to 6.1 records per subject: fewer subjects would miss the target
# (the records past it are left out)
RECORDS_PER_SUBJECT = 5.7
KEY = b"bench person key, 32 bytes long!"
ACTIONS = ("air_travel", "rail_travel", "public_procurement", "star_hotel")


def schema_bytes(url: str, schema: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relkind IN ('r', 'm')",
            (schema,),
        ).fetchone()
    return int(row[0]) if row else 0


def split(records: Path, milestones: list[int], work: Path) -> list[tuple[int, Path]]:
    """records.jsonl cut at the milestones: (records up to here, chunk file)."""
    chunks: list[tuple[int, Path]] = []
    bounds = iter(milestones)
    bound = next(bounds, None)
    n, out = 0, None
    with records.open("rb") as lines:
        for line in lines:
            if out is None:
                path = work / f"records-{len(chunks):02d}.jsonl"
                out = path.open("wb")
            out.write(line)
            n += 1
            if bound is not None and n == bound:
                out.close()
                chunks.append((n, path))
                out, bound = None, next(bounds, None)
                if bound is None:
                    break
    if out is not None:
        out.close()
        chunks.append((n, path))
    records.unlink()  # the chunks are the copy now: the disk holds one
    return chunks


def resident_gb() -> float:
    """This process's resident memory now (Linux), GB."""
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * resource.getpagesize() / 1e9


def look_ms(store: Store, repeat: int = 21) -> dict[str, Any]:
    """What a check server (a replica) reads at each look at the state: the signature and
    the subjects changed since it, nothing having changed (the common look), median ms."""
    sig, changed = [], []
    for _ in range(repeat):
        with Timer() as t:
            signature = state_signature(store)
        sig.append(t.seconds * 1000)
        with Timer() as t:
            changed_subjects(store, signature.ledger_size, signature.evaluated_to)
        changed.append(t.seconds * 1000)
    return {"state_signature_ms": round(statistics.median(sig), 2),
            "changed_subjects_ms": round(statistics.median(changed), 2)}  # fmt: skip


def rss_gb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024, 2)


def verify_rate(store: Store) -> dict[str, Any]:
    """The full verify (chain, tree, every projection row; the projections replayed in a
    second process, whose peak memory is reported: it stays flat as the store grows)."""
    with Timer() as t:
        report = verify(store)
    assert report.ok, report.problems[:5]
    child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024 / 1024
    return {"entries": report.size, "seconds": round(t.seconds, 1),
            "entries_per_s": round(report.size / t.seconds),
            "projection_process_peak_gb": round(child, 2)}  # fmt: skip


def available_gb() -> float:
    with open("/proc/meminfo") as info:
        fields = dict(line.split(":", 1) for line in info)
    return int(fields["MemAvailable"].split()[0]) / 1024 / 1024


# the compact index held 498 bytes a state row (resident) at 2 M records (4.06 M state
# rows): the guard keeps a margin over that for the allocator's slack
INDEX_BYTES_PER_STATE_ROW = 700


def check_latency(store: Store, n: int) -> dict[str, Any]:
    rows = sum(int(store.query(f"SELECT count(*) FROM {t}")[0][0])
               for t in ("state_profiles", "state_lists", "state_measures"))  # fmt: skip
    need = rows * INDEX_BYTES_PER_STATE_ROW / 1e9
    if need > 0.8 * available_gb():
        return {"index": f"not built: {rows:,} state rows need more than {need:.0f} GB, "
                f"{available_gb():.0f} GB available", "state_rows_total": rows}  # fmt: skip
    gc.collect()
    before = resident_gb()
    with Timer() as load:
        index = CheckIndex.load(store)
    gc.collect()
    held = resident_gb() - before
    rng = random.Random(5)
    subjects = [r[0] for r in store.query("SELECT id FROM subjects")]
    pairs = [(rng.choice(subjects), rng.choice(ACTIONS)) for _ in range(n)]
    times = []
    for subject, action in pairs:
        started = time.perf_counter_ns()
        index.check(subject, action, ON)
        times.append(time.perf_counter_ns() - started)
    times.sort()
    return {"index_load_seconds": round(load.seconds, 1), "subjects": len(subjects),
            "state_rows_total": rows, "index_memory_gb": round(held, 2),
            "index_bytes_per_state_row": round(held * 1e9 / max(rows, 1)),
            "index_bytes_per_evaluated_subject": round(
                held * 1e9 / max(index.subjects_evaluated, 1)),
            "checks": n, "p50_us": round(times[n // 2] / 1000, 2),
            "p99_us": round(times[n * 99 // 100] / 1000, 2),
            "mean_us": round(statistics.fmean(times) / 1000, 2)}  # fmt: skip


def generate_and_ingest(
    args: argparse.Namespace, url: str, work: Path, figures: dict[str, Any], partial: Path
) -> tuple[Store, Path]:
    """The demo at the size asked, taken in stretch by stretch (each stretch's figures
    saved as they come, so that a run stopped later keeps them)."""
    milestones = sorted({int(m) for m in args.milestones.split(",") if m} | {args.records})
    subjects = int(args.records / RECORDS_PER_SUBJECT)
    with Timer() as gen:
        files = {p.name: p for p in write_demo_files(work, seed=7, subjects=subjects, as_of=ON)}
    chunks = split(files["records.jsonl"], milestones, work)
    print(f"generated {subjects:,} subjects in {gen.seconds:.0f} s", flush=True)
    keyer = PersonKeyer(KEY)
    store = open_store(url)
    store.init(keyer.fingerprint())
    intake = Intake(store, national_catalogue(), keyer, today=ON)
    with Timer() as t:
        for name in ("authorities.jsonl", "subjects.jsonl"):
            ingest_file(intake, files[name], work)
    figures["subjects"] = {"count": subjects, "seconds": round(t.seconds, 1),
                           "per_s": round(subjects / t.seconds)}  # fmt: skip
    curve: list[dict[str, Any]] = figures.setdefault("curve", [])
    for done, chunk in chunks:
        before = store.size()
        with Timer() as t:
            report = ingest_file(intake, chunk, work)
        chunk.unlink()
        entries = store.size() - before
        point: dict[str, Any] = {
            "records": done, "ledger_entries": store.size(),
            "stretch_records_per_s": round(report.counts.accepted / t.seconds),
            "stretch_entries_per_s": round(entries / t.seconds),
            "schema_gb": round(schema_bytes(url, figures["schema"]) / 1e9, 2),
            "rss_gb": rss_gb(),
        }  # fmt: skip
        if not curve:
            point["verify"] = verify_rate(store)
        curve.append(point)
        print(point, flush=True)
        partial.write_text(json.dumps(figures, indent=2))
    return store, files["changes.jsonl"]


def finish(
    args: argparse.Namespace, store: Store, changes: Path, work: Path, figures: dict[str, Any]
) -> None:
    """The changes feed, the final verify, the evaluation and the checks."""
    root = Path(__file__).parent.parent
    intake = Intake(store, national_catalogue(), PersonKeyer(KEY), today=ON)
    with Timer() as t:
        ingest_file(intake, changes, work)
    figures["changes_seconds"] = round(t.seconds, 1)
    curve = figures["curve"]
    figures["verify"] = verify_rate(store)
    print("verify", figures["verify"], flush=True)
    for path in sorted((root / "trustledger" / "rulebooks_shipped").glob("*.yaml")):
        publish_rulebook(store, path, national_catalogue())
    engine: Engine = args.engine
    with Timer() as t:
        evaluate_all(store, national_catalogue(), at_us=None, on=ON, engine=engine)
    figures["evaluate"] = {"engine": engine, "seconds": round(t.seconds, 1),
                           "peak_rss_gb": rss_gb()}  # fmt: skip
    print("evaluate", figures["evaluate"], flush=True)
    figures["checks"] = check_latency(store, args.checks)
    figures["replica_look"] = look_ms(store)
    print("checks", figures["checks"], "look", figures["replica_look"], flush=True)
    figures["schema_gb"] = round(schema_bytes(store.url, figures["schema"]) / 1e9, 2)
    first, last = curve[0], curve[-1]
    figures["appends_ratio_last_to_first"] = round(
        last["stretch_entries_per_s"] / first["stretch_entries_per_s"], 2
    )
    figures["verify_ratio_end_to_first"] = round(
        figures["verify"]["entries_per_s"] / first["verify"]["entries_per_s"], 2
    )
    figures["bytes_per_record"] = round(figures["schema_gb"] * 1e9 / args.records)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=10_000_000)
    ap.add_argument("--milestones", default="1000000,2000000,5000000")
    ap.add_argument("--engine", default="duckdb", choices=["duckdb", "postgres", "python", "spark"])
    ap.add_argument("--checks", type=int, default=200_000)
    ap.add_argument("--keep", action="store_true", help="keep the schema afterwards")
    ap.add_argument(
        "--resume",
        metavar="SCHEMA",
        help="finish a run whose ingest is done "
        "(its figures from bench/results/pg_scale_N.partial.json; --changes)",
    )
    ap.add_argument("--changes", type=Path, help="with --resume: the run's changes.jsonl")
    args = ap.parse_args()
    partial = RESULTS / f"pg_scale_{args.records}.partial.json"
    free = shutil.disk_usage(tempfile.gettempdir()).free
    print(f"disk free before: {free / 1e9:.1f} GB", flush=True)
    if args.resume:
        if args.changes is None or not partial.exists():
            raise SystemExit(f"--resume needs --changes and {partial}")
        figures = json.loads(partial.read_text())
        if figures["schema"] != args.resume:
            raise SystemExit(f"{partial} is the run of schema {figures['schema']}")
        schema = args.resume
    else:
        schema = f"scale_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")
        figures = {"records_target": args.records, "schema": schema,
                   "disk_free_before_gb": round(free / 1e9, 1)}  # fmt: skip
    url = f"{PG_URL}?options=-csearch_path%3D{schema}"
    RESULTS.mkdir(exist_ok=True)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            if args.resume:
                store = open_store(url)
                changes = args.changes
            else:
                store, changes = generate_and_ingest(args, url, work, figures, partial)
            finish(args, store, changes, work, figures)
            store.close()
    finally:
        if args.keep or args.resume:
            figures["kept_url"] = url
            print(f"kept: {url}", flush=True)
        else:
            with psycopg.connect(PG_URL, autocommit=True) as conn:
                conn.execute(f"DROP SCHEMA {schema} CASCADE")
        save(f"pg_scale_{args.records}", figures)
        partial.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
