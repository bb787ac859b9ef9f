"""Open data export of the default demo (50,000 subjects): Parquet and FollowTheMoney, each
alone, then all four formats in one pass; against bare writers of the same rows measured in
the same run (pyarrow's own write of the same tables; orjson dumps of the same entities).

    python bench/export.py [--db PATH]   (default: a copy of /work/demo/trustledger.db, or
                                          a default demo made first where there is none)

The database is copied first: the export only reads, but the demo's file is not ours.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import orjson
import pyarrow.parquet as pq
from common import Timer, save

from trustledger.app.context import Context
from trustledger.app.exports import export
from trustledger.exports.opendata import DATASETS, FTM_FILE
from trustledger.settings import Settings

DEMO_DB = Path("/work/demo/trustledger.db")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", type=Path, default=DEMO_DB)
    parser.add_argument("--skip-all", action="store_true", help="skip the four-format pass")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-export-") as tmp:
        work = Path(tmp)
        db = work / "demo.db"
        if not args.db.exists():  # no demo here: make the default one (about a minute)
            from trustledger.app import demo

            with Context.open(Settings(db_url=f"sqlite:///{db}", person_key_file=work / "p.key"),
                              must_exist=False) as made:  # fmt: skip
                demo.run(made, directory=work / "demo-data")
            args.db = db
        with Timer() as copy:
            if args.db != db:
                shutil.copyfile(args.db, db)
            for suffix in ("-wal", "-shm"):
                side = args.db.with_name(args.db.name + suffix)
                if side.exists() and args.db != db:
                    shutil.copyfile(side, db.with_name(db.name + suffix))
        ctx = Context.open(Settings(db_url=f"sqlite:///{db}"))
        try:
            export(ctx, "csv", work / "warm")  # the page cache holds the tables for every run
            shutil.rmtree(work / "warm")
            with Timer() as parquet_t:
                parquet = export(ctx, "parquet", work / "parquet")
            with Timer() as ftm_t:
                ftm = export(ctx, "ftm", work / "ftm")
            all_t = Timer()
            if not args.skip_all:
                with all_t:
                    every = export(ctx, None, work / "all")
            peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        finally:
            ctx.close()
        rows = sum(parquet.rows[d] for d in DATASETS)
        entities = sum(f.rows for f in ftm.files)

        # baselines: the same rows, already in memory, written by the bare library
        tables = {d: pq.read_table(work / "parquet" / f"{d}.parquet") for d in DATASETS}
        with Timer() as bare_parquet:
            for name, table in tables.items():
                pq.write_table(table, work / f"bare-{name}.parquet", compression="zstd",
                               row_group_size=10_000)  # fmt: skip
        lines = [orjson.loads(line) for line in (work / "ftm" / FTM_FILE).read_bytes().splitlines()]
        with Timer() as bare_json, (work / "bare.ftm.json").open("wb") as out:
            for entity in lines:
                out.write(orjson.dumps(entity) + b"\n")

    figures = {
        "database": str(args.db),
        "tree_size": parquet.head.size,
        "on": parquet.on.isoformat(),
        "rows": dict(parquet.rows),
        "withheld": dict(parquet.withheld),
        "copy_db_s": round(copy.seconds, 2),
        "parquet_s": round(parquet_t.seconds, 2),
        "parquet_rows_per_s": round(rows / parquet_t.seconds),
        "parquet_bytes": sum(f.bytes for f in parquet.files),
        "bare_pyarrow_write_same_tables_s": round(bare_parquet.seconds, 3),
        "parquet_ratio_to_bare_write": round(parquet_t.seconds / bare_parquet.seconds, 1),
        "ftm_s": round(ftm_t.seconds, 2),
        "ftm_entities": entities,
        "ftm_entities_per_s": round(entities / ftm_t.seconds),
        "ftm_bytes": sum(f.bytes for f in ftm.files),
        "bare_orjson_dumps_same_entities_s": round(bare_json.seconds, 3),
        "ftm_ratio_to_bare_dumps": round(ftm_t.seconds / bare_json.seconds, 1),
        "peak_rss_mb": round(peak_mb),
        "target": "full FtM and Parquet export of the default demo: seconds and rows/s",
    }
    if not args.skip_all:
        files = sum(f.rows for f in every.files)
        figures["all_formats_s"] = round(all_t.seconds, 2)
        figures["all_formats_file_rows"] = files
        figures["all_formats_file_rows_per_s"] = round(files / all_t.seconds)
    save("export", figures)


if __name__ == "__main__":
    main()
