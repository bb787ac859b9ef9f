"""Batch evaluation on Spark (local mode) against DuckDB, in the same run, on the same inputs:
bench/batch.py's points rulebook with three lists, score and grade on the evaluation day
and every run of every list (`sql_timelines`). The inputs are generated once in DuckDB and
given to Spark as Parquet files (what an export from the store would be); the two engines
must agree subject by subject before their times mean anything. Spark's session start is
reported apart (it is paid once per process, not per evaluation).

    python bench/spark_batch.py [--subjects 100000] [--records 1000000] [--master local[2]]
                                [--driver-memory 8g]

It runs at 1,000,000 subjects / 10,000,000 records too (--subjects 1000000 --records
10000000; give the driver memory to match, e.g. --driver-memory 12g).
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import resource
import sys
import tempfile
import time
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).parent))

from batch import CATEGORIES, ON, RULEBOOK
from common import save

from trustledger.catalogue import national_catalogue
from trustledger.evaluate.batch import Timeline, sql_timelines
from trustledger.evaluate.profile import compile_rulebook
from trustledger.evaluate.spark import SparkConnection, session
from trustledger.rulebook.load import parse_rulebook


def generate(con: duckdb.DuckDBPyConnection, subjects: int, records: int) -> None:
    """bench/batch.py's inputs, with the decision day batch evaluation now reads (0 to 60
    days before publication)."""
    cats = ", ".join(f"'{c}'" for c in CATEGORIES)
    con.execute(f"""
        CREATE OR REPLACE TABLE subjects_input AS
        SELECT printf('S%08d', i) AS subject_id,
               (['enterprise', 'individual_business', 'person'])
                   [1 + CAST(hash(i, 'kind') % 3 AS INTEGER)] AS kind,
               '440305' AS division
        FROM range({subjects}) r(i)""")
    con.execute(f"""
        CREATE OR REPLACE TABLE records_input AS
        SELECT subject_id, category, tier, decision_type,
               CAST(published - CAST(hash(j, 'd') % 60 AS INTEGER) AS DATE) AS decided,
               published, status, status_date
        FROM (
          SELECT j, printf('S%08d', CAST(hash(j, 's') % {subjects} AS BIGINT)) AS subject_id,
                 ([{cats}])[1 + CAST(hash(j, 'c') % {len(CATEGORIES)} AS INTEGER)] AS category,
                 (['minor', 'general', 'serious'])[1 + CAST(hash(j, 't') % 3 AS INTEGER)] AS tier,
                 'administrative_penalty' AS decision_type,
                 CAST(DATE '{ON}' - CAST(hash(j, 'p') % 1500 AS INTEGER) AS DATE) AS published,
                 CASE WHEN hash(j, 'e') % 20 = 0 THEN 'ended' ELSE 'issued' END AS status,
                 CASE WHEN hash(j, 'e') % 20 = 0
                      THEN CAST(DATE '{ON}' - CAST(hash(j, 'q') % 400 AS INTEGER) AS DATE)
                 END AS status_date
          FROM range({records}) r(j))""")


def _digest(outcomes: list[Timeline]) -> tuple[int, int, str]:
    """Subjects, runs and an order-free digest of every subject's score, grade and runs: the
    two engines' results are compared by this, so that only one of them is ever held (at
    10 M subjects one result is gigabytes of Python objects)."""
    total = 0
    runs = 0
    for o in outcomes:
        canonical = repr(
            (o.subject_id, o.score, o.grade, sorted((k, sorted(v)) for k, v in o.runs.items()))
        )
        total = (
            total + int.from_bytes(hashlib.blake2b(canonical.encode(), digest_size=16).digest())
        ) % (1 << 128)
        runs += sum(len(v) for v in o.runs.values())
    return len(outcomes), runs, f"{total:032x}"


def _peak_rss_gb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2, 2)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--subjects", type=int, default=100_000)
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--master", default="local[2]")
    ap.add_argument("--driver-memory", default="6g", help="spark.driver.memory (local mode)")
    ap.add_argument(
        "--duckdb-memory", default="6GB", help="DuckDB's memory_limit; beyond it DuckDB spills"
    )
    args = ap.parse_args()
    cr = compile_rulebook(parse_rulebook(RULEBOOK), national_catalogue())
    with tempfile.TemporaryDirectory(prefix="bench-spark-") as tmp:
        # DuckDB keeps its tables in a file and spills past its limit, so that the inputs
        # at 100 M records and Spark's driver fit in the machine together
        duck = duckdb.connect(str(Path(tmp) / "inputs.duckdb"))
        duck.execute(f"SET memory_limit = '{args.duckdb_memory}'")
        duck.execute(f"SET temp_directory = '{Path(tmp) / 'duckdb-spill'}'")
        t0 = time.perf_counter()
        generate(duck, args.subjects, args.records)
        generated = time.perf_counter() - t0
        files = {
            name: Path(tmp) / f"{name}.parquet" for name in ("subjects_input", "records_input")
        }
        t0 = time.perf_counter()
        for name, path in files.items():
            duck.execute(f"COPY {name} TO '{path}' (FORMAT parquet)")
        exported = time.perf_counter() - t0
        t0 = time.perf_counter()
        by_duckdb = sql_timelines(duck, cr, ON)
        duckdb_seconds = time.perf_counter() - t0
        duck.close()
        duckdb_digest = _digest(by_duckdb)
        del by_duckdb
        gc.collect()
        duckdb_peak = _peak_rss_gb()
        t0 = time.perf_counter()
        spark = session(args.master, {"spark.driver.memory": args.driver_memory})
        started = time.perf_counter() - t0
        con = SparkConnection(spark)
        try:
            for name, path in files.items():
                con.register_parquet(name, path)
            t0 = time.perf_counter()
            by_spark = sql_timelines(con, cr, ON)
            spark_seconds = time.perf_counter() - t0
        finally:
            con.close()
        spark_digest = _digest(by_spark)
        del by_spark
    # the two must agree before their times mean anything
    if spark_digest != duckdb_digest:
        raise SystemExit(
            f"Spark and DuckDB disagree: (subjects, runs, digest) {spark_digest} vs {duckdb_digest}"
        )
    subjects_evaluated, runs, _ = duckdb_digest
    save(
        "spark_batch",
        {
            "subjects": args.subjects,
            "records": args.records,
            "master": args.master,
            "driver_memory": args.driver_memory,
            "subjects_evaluated": subjects_evaluated,
            "runs": runs,
            "generate_seconds": round(generated, 2),
            "parquet_export_seconds": round(exported, 2),
            "spark_session_start_seconds": round(started, 2),
            "duckdb_seconds": round(duckdb_seconds, 2),
            "spark_seconds": round(spark_seconds, 2),
            "ratio_spark_to_duckdb": round(spark_seconds / duckdb_seconds, 2),
            "python_peak_rss_gb_after_duckdb": duckdb_peak,
            "python_peak_rss_gb": _peak_rss_gb(),
        },
    )
    print(
        f"{args.subjects:,} subjects / {args.records:,} records: DuckDB {duckdb_seconds:.1f} s, "
        f"Spark {args.master} {spark_seconds:.1f} s, ratio {spark_seconds / duckdb_seconds:.2f}"
    )


if __name__ == "__main__":
    main()
