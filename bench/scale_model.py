"""The national-scale model (docs/scale.md): run the benchmarks that feed it, then write
their figures, the model computed from them and the plots of the measured curves into the
document.

    python bench/scale_model.py              # every benchmark below, then the document
    python bench/scale_model.py --quick      # the same at small sizes (minutes, not hours)
    python bench/scale_model.py --render     # the document from bench/results/*.json only
    python bench/scale_model.py --only replica_follow,pg_scale

docs/scale.md is prose written by hand with generated blocks between
``<!-- scale:NAME -->`` and ``<!-- /scale:NAME -->``: only those are rewritten, so the
reasoning stays where an editor can read it and the numbers always come from a run.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
RESULTS = HERE / "results"
DOC = HERE.parent / "docs" / "scale.md"
PLOTS = HERE.parent / "docs" / "scale"

# The national load the model sizes for. Each is a stated assumption, not a measurement:
# the document says where it comes from.
ENTITIES = 180_000_000
RECORDS = 2_000_000_000
RECORDS_PER_DAY = 2_000_000
POINTS = 50_000
PACKETS_PER_POINT_S = 1 / 60 * 1.05  # a minute packet each, plus the hourly and daily ones
PEAK_CHECKS_S = 50_000
NIGHTLY_WINDOW_S = 2 * 3600
REPLICA_MEMORY_GB = 64  # what one check replica may hold before its shard is cut smaller


@dataclass(frozen=True)
class Run:
    name: str  # the results file it writes (bench/results/NAME.json)
    script: str
    full: tuple[str, ...]
    quick: tuple[str, ...]
    keep_as: str = ""  # copied to this results name, so that runs at several sizes stay


SPARK_SIZES = ("spark_batch_small", "spark_batch_large", "spark_batch_xl", "spark_batch_national")
RUNS: tuple[Run, ...] = (
    Run("check", "check.py", (), ()),
    Run("http_check", "http_check.py", ("--subjects", "20000"), ("--seconds", "5")),
    Run("ingest", "ingest.py", ("--repeat", "2"), ("--subjects", "10000")),
    Run("verify", "verify.py", (), ("--entries", "200000")),
    Run("replica_follow", "replica_follow.py", (), ("--subjects", "2000", "--writes", "20")),
    Run("hj212_receiver", "hj212_receiver.py", (), ("--seconds", "5")),
    Run("hj212_jetstream", "hj212_jetstream.py", (), ()),
    Run(
        "spark_batch",
        "spark_batch.py",
        ("--subjects", "100000", "--records", "1000000"),
        ("--subjects", "10000", "--records", "100000"),
        "spark_batch_small",
    ),
    Run(
        "spark_batch",
        "spark_batch.py",
        ("--subjects", "1000000", "--records", "10000000", "--driver-memory", "12g"),
        ("--subjects", "30000", "--records", "300000"),
        "spark_batch_large",
    ),
    Run(
        "spark_batch",
        "spark_batch.py",
        ("--subjects", "3000000", "--records", "30000000", "--driver-memory", "16g"),
        ("--subjects", "60000", "--records", "600000"),
        "spark_batch_xl",
    ),
    Run(
        "spark_batch",
        "spark_batch.py",
        ("--subjects", "10000000", "--records", "100000000", "--driver-memory", "12g"),
        ("--subjects", "100000", "--records", "1000000"),
        "spark_batch_national",
    ),
    Run(
        "pg_scale_10000000",
        "pg_scale.py",
        (),
        ("--records", "300000", "--milestones", "100000,200000"),
        "pg_scale",
    ),
)


def run(runs: list[Run], quick: bool) -> None:
    for r in runs:
        args = list(r.quick if quick else r.full)
        name = r.name
        if r.script == "pg_scale.py" and quick:
            name = "pg_scale_300000"
        print(f"== {r.script} {' '.join(args)}", flush=True)
        subprocess.run([sys.executable, str(HERE / r.script), *args], check=True)
        if r.keep_as:
            shutil.copy(RESULTS / f"{name}.json", RESULTS / f"{r.keep_as}.json")


def load(name: str) -> dict[str, Any] | None:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def num(value: float, digits: int = 0) -> str:
    if value >= 100 or digits == 0:
        return f"{value:,.0f}"
    return f"{value:,.{digits}f}"


def duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:,.0f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:,.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:,.1f} h"
    return f"{seconds / 86400:,.1f} days"


def table(head: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def missing(name: str) -> str:
    return f"_not measured yet: run `python bench/scale_model.py --only {name}`_"


# ---- the measured figures ----------------------------------------------------------------


def measured() -> str:
    rows: list[list[str]] = []
    if ingest := load("ingest"):
        for backend in ("sqlite", "postgres"):
            if b := ingest.get(backend):
                base = "executemany" if backend == "sqlite" else "COPY"
                rows.append(
                    [
                        f"bulk ingest, {backend}",
                        f"{num(b['records_per_s'])} records/s",
                        f"{b['ratio_to_bare']} of bare {base}",
                    ]
                )
    if pg := load("pg_scale"):
        last = pg["curve"][-1]
        rows.append(
            [
                f"sequencer appends at {num(last['ledger_entries'])} entries, PostgreSQL",
                f"{num(last['stretch_entries_per_s'])} entries/s",
                f"{pg['appends_ratio_last_to_first']} of the first stretch",
            ]
        )
        first = pg["curve"][0]["verify"]
        v_end = pg["verify"]
        what = "chain and tree" if "projections" in v_end else "chain, tree, projections"
        rows.append(
            [
                f"verify ({what}) at {num(v_end['entries'])} entries, PostgreSQL",
                f"{num(v_end['entries_per_s'])} entries/s",
                f"the full verify at {num(first['entries'])} entries: "
                f"{num(first['entries_per_s'])} entries/s",
            ]
        )
    if v := load("verify"):
        rows.append(
            [
                f"verify of {num(v['entries'])} entries, SQLite",
                f"{num(v['entries_per_s'])} entries/s",
                f"{v.get('ratio_to_bare', '–')} of read + SHA-256",
            ]
        )
    if c := load("check"):
        rows.append(
            [
                f"check in process, {num(c['subjects'])} subjects",
                f"{c['median_ns_per_check']} ns",
                f"{c['ratio_to_dict_lookup']}× a dict lookup",
            ]
        )
    if h := load("http_check"):
        s, b = h["single_check"], h["batch_1000_pairs"]
        rows.append(
            [
                "check over HTTP, one per request",
                f"{num(s['requests_per_s'])} /s, p99 {s['p99_ms']} ms",
                f"{h['single_ratio_to_bare']} of a bare endpoint",
            ]
        )
        rows.append(
            [
                "checks over HTTP, batches of 1,000",
                f"{num(h['batch_checks_per_s'])} checks/s",
                f"p99 {b['p99_ms']} ms per batch",
            ]
        )
    if f := load("replica_follow"):
        rows.append(
            [
                f"replica follow ({f['replicas']} replicas)",
                f"median {f['follow_ms']['median']} ms, p99 {f['follow_ms']['p99']} ms",
                f"bare NOTIFY median {f['notify_ms']['median']} ms",
            ]
        )
    if r := load("hj212_receiver"):
        d = r["durable"]
        rows.append(
            [
                "HJ 212 receiver, stored (SQLite)",
                f"{num(d['packets_per_second'])} packets/s",
                f"{r['throughput_ratio_bare_to_durable']}× slower than no storage",
            ]
        )
    if j := load("hj212_jetstream"):
        rows.append(["HJ 212 through JetStream", _jetstream_cell(j), _jetstream_ratio(j)])
    for name in SPARK_SIZES:
        if s := load(name):
            rows.append([f"batch evaluation, {_size(s)}", _spark_cell(s), _spark_ratio(s)])
    if not rows:
        return missing("all")
    return table(["component", "measured", "against the same run's baseline"], rows)


def _jetstream_cell(j: dict[str, Any]) -> str:
    js = j["jetstream_file_storage"]
    return f"{num(js['packets_per_second'])} packets/s, ack p99 {js['ack_p99_ms']} ms"


def _jetstream_ratio(j: dict[str, Any]) -> str:
    direct = j["direct_sqlite_spool"]
    return (
        f"direct receiver (SQLite, spool): {num(direct['packets_per_second'])} packets/s, "
        f"ack p99 {direct['ack_p99_ms']} ms; one consumer stores "
        f"{num(j['consumer']['frames_per_second'])} frames/s"
    )


def _size(s: dict[str, Any]) -> str:
    return f"{num(s.get('subjects', 0))} subjects / {num(s.get('records', 0))} records"


def _seconds(s: dict[str, Any], engine: str) -> float:
    return float(s[f"{engine}_seconds"])


def _spark_cell(s: dict[str, Any]) -> str:
    return f"Spark local {_seconds(s, 'spark'):.1f} s, DuckDB {_seconds(s, 'duckdb'):.1f} s"


def _spark_ratio(s: dict[str, Any]) -> str:
    duck, spark = _seconds(s, "duckdb"), _seconds(s, "spark")
    return f"Spark / DuckDB = {spark / duck:.2f}" if duck else "–"


# ---- the national model ------------------------------------------------------------------


def model() -> str:
    rows: list[list[str]] = []
    pg = load("pg_scale")
    if pg:
        per_record = pg["bytes_per_record"]
        appends = pg["curve"][-1]["stretch_entries_per_s"]
        verify = pg["verify"]["entries_per_s"]
        entries = RECORDS + ENTITIES
        rows.append(
            [
                "store on disk (PostgreSQL, indexes included)",
                f"{per_record:,} B per record measured at {num(pg['records_target'])}",
                f"{per_record * RECORDS / 1e12:,.1f} TB for {RECORDS / 1e9:.0f} billion records",
            ]
        )
        rows.append(
            [
                "first load through one sequencer",
                f"{num(appends)} entries/s",
                duration(entries / appends),
            ]
        )
        rows.append(
            [
                "daily flow through one sequencer",
                f"{num(RECORDS_PER_DAY)} records/day = {RECORDS_PER_DAY / 86400:,.0f}/s",
                f"{RECORDS_PER_DAY / 86400 / appends:.1%} of its capacity",
            ]
        )
        verified = "chain and tree" if "projections" in pg["verify"] else "full verify"
        rows.append(
            [f"verify ({verified}), one process", f"{num(verify)} entries/s",
             duration(entries / verify)]
        )  # fmt: skip
        if ev := pg.get("evaluate"):
            rate = pg["records_target"] / ev["seconds"]
            rows.append(
                [
                    f"whole evaluation of every shipped regime ({ev['engine']}, the listed "
                    "subjects' histories in Python), one process",
                    f"{num(rate)} records/s ({duration(ev['seconds'])} for "
                    f"{num(pg['records_target'])})",
                    f"{duration(RECORDS / rate)} in one process: the per-subject part must run "
                    "in partitions by subject (not built)",
                ]
            )
        checks = pg.get("checks") or {}
        if "killed_at_gb" in checks:
            per_subject = checks["killed_at_gb"] * 1e9 / checks["subjects"]
            shards = math.ceil(per_subject * ENTITIES / 1e9 / REPLICA_MEMORY_GB)
            rows.append(
                [
                    "check index of the real state (10 regime versions)",
                    f"more than {per_subject / 1e3:,.0f} kB per subject (killed at "
                    f"{checks['killed_at_gb']} GB building {num(checks['subjects'])})",
                    f"more than {per_subject * ENTITIES / 1e12:,.1f} TB for every entity: "
                    f"at least {shards} shards at ≤ {REPLICA_MEMORY_GB} GB — or a compact index",
                ]
            )
        if "index_memory_gb" in checks:
            per_subject = checks["index_bytes_per_evaluated_subject"]
            whole = per_subject * ENTITIES / 1e9
            shards = max(1, math.ceil(whole / REPLICA_MEMORY_GB))
            rows.append(
                [
                    "check index of the real state (10 regime versions)",
                    f"{num(per_subject)} B per subject ({checks['index_memory_gb']} GB for "
                    f"{num(checks['subjects'])}; {num(checks['index_bytes_per_state_row'])} B "
                    "a state row)",
                    f"{whole / 1e3:,.1f} TB for every entity: {shards} shards by subject hash "
                    f"at ≤ {REPLICA_MEMORY_GB} GB a replica",
                ]
            )
        if look := pg.get("replica_look"):
            ms = round(look["state_signature_ms"] + look["changed_subjects_ms"], 1)
            rows.append(
                [
                    "a replica's look at the state (per notification)",
                    f"{ms:,} ms at {num(pg['records_target'])} records",
                    "index probes: a look grows with log n"
                    if ms < 50
                    else f"about {duration(ms / 1000 * RECORDS / pg['records_target'])} at "
                    "national size if it grew with the store (it scans)",
                ]
            )
        if look := pg.get("replica_look_ms"):
            ms = look["state_signature"] + look["changed_subjects"]
            rows.append(
                [
                    "a replica's look at the state (per notification)",
                    f"{ms:,} ms at {num(pg['records_target'])} records (it scans)",
                    f"about {duration(ms / 1000 * RECORDS / pg['records_target'])} at national "
                    "size: the scans must become index lookups first",
                ]
            )
        if "index_load_seconds" in checks:
            per_subject_s = checks["index_load_seconds"] / checks["subjects"]
            rows.append(
                [
                    "check index built from the state, one process",
                    f"{per_subject_s * 1e6:,.0f} µs per subject",
                    duration(per_subject_s * ENTITIES) + " for every entity",
                ]
            )
    c, h = load("check"), load("http_check")
    if c:
        per_subject = c["index_memory_mb"] * 1e6 / c["subjects"]
        whole = per_subject * ENTITIES / 1e9
        shards = max(1, math.ceil(whole / REPLICA_MEMORY_GB))
        rows.append(
            [
                "check index in memory (synthetic state: 3 % black-listed, 2 % red)",
                f"{per_subject:,.0f} B per subject",
                f"{whole:,.0f} GB for every entity: "
                + (
                    f"one replica holds it (≤ {REPLICA_MEMORY_GB} GB)"
                    if shards == 1
                    else f"{shards} shards by subject hash at ≤ {REPLICA_MEMORY_GB} GB a replica"
                ),
            ]
        )
    if h:
        single = h["single_check"]["requests_per_s"]
        batch = h["batch_checks_per_s"]
        rows.append(
            [
                "peak checks, one per request",
                f"{num(single)} /s per replica core",
                f"{math.ceil(PEAK_CHECKS_S / single)} replica cores for {num(PEAK_CHECKS_S)}/s "
                "(+1 per shard for a failure)",
            ]
        )
        rows.append(
            [
                "peak checks, batched by the checker",
                f"{num(batch)} /s per replica core",
                f"{math.ceil(PEAK_CHECKS_S / batch)} replica cores",
            ]
        )
    r, j = load("hj212_receiver"), load("hj212_jetstream")
    need = POINTS * PACKETS_PER_POINT_S
    if r:
        rate = r["durable"]["packets_per_second"]
        rows.append(
            [
                "monitoring packets",
                f"{num(rate)} packets/s per receiver (stored)",
                f"{num(need)} packets/s from {num(POINTS)} points: "
                f"{need / rate:.0%} of one receiver",
            ]
        )
    if j:
        rate = float(j["jetstream_file_storage"]["packets_per_second"])
        if rate:
            rows.append(
                [
                    "monitoring packets through JetStream",
                    f"{num(rate)} packets/s",
                    f"{math.ceil(need / rate)} receiver and consumer pair, a second for a failure"
                    if math.ceil(need / rate) == 1
                    else f"{math.ceil(need / rate)} receivers, one more for a failure",
                ]
            )
    measured_sizes = [s for s in (load(n) for n in SPARK_SIZES) if s]
    if measured_sizes:
        s = max(measured_sizes, key=lambda m: m["records"])
        spark = _seconds(s, "spark")
        if spark:
            per_core = s["records"] / spark / 2  # local[2]
            cores = math.ceil(RECORDS / per_core / NIGHTLY_WINDOW_S)
            rows.append(
                [
                    "nightly re-evaluation of every record (Spark)",
                    f"{num(per_core)} records/s per core (local[2])",
                    f"{cores} cores for {duration(NIGHTLY_WINDOW_S)}, "
                    "if it scales linearly (stated, not measured here)",
                ]
            )
    if not rows:
        return missing("all")
    return table(["what", "measured here", "national need"], rows)


def pg_curve() -> str:
    pg = load("pg_scale")
    if not pg:
        return missing("pg_scale")
    rows = [
        [
            num(p["records"]),
            num(p["ledger_entries"]),
            num(p["stretch_entries_per_s"]),
            f"{p['schema_gb']:.2f}",
        ]
        for p in pg["curve"]
    ]
    out = table(["records", "ledger entries", "appends/s over the stretch", "schema GB"], rows)
    ev, ch, v = pg.get("evaluate", {}), pg.get("checks", {}), pg["verify"]
    rate = f"{num(v['entries_per_s'])} entries/s ({duration(v['seconds'])}"
    verified = (f"verify of the chain and tree {rate}; projections {v['projections']})"
                if "projections" in v else f"verify {rate})")  # fmt: skip
    if "index_load_seconds" in ch:
        checked = (f"the check index built from {num(ch['subjects'])} subjects in "
                   f"{duration(ch['index_load_seconds'])}, checks p50 {ch['p50_us']} µs, "
                   f"p99 {ch['p99_us']} µs")  # fmt: skip
        if "index_memory_gb" in ch:
            checked += (f", holding {ch['index_memory_gb']} GB "
                        f"({num(ch['index_bytes_per_state_row'])} bytes a state row)")  # fmt: skip
        if look := pg.get("replica_look"):
            checked += (f"; a replica's look at the state {look['state_signature_ms']} ms "
                        f"(signature) + {look['changed_subjects_ms']} ms (changed "
                        "subjects)")  # fmt: skip
    else:
        checked = f"the check index {ch.get('index', 'not measured')}"
    out += (
        f"\n\nAt {num(pg['records_target'])} records: {verified}; evaluation of every "
        f"shipped regime by {ev.get('engine')} {duration(ev.get('seconds', 0))} (peak "
        f"{ev.get('peak_rss_gb')} GB resident); {checked}; {pg['schema_gb']} GB on disk, "
        "the state included."
    )
    if rows := pg.get("state_rows"):
        out += " State rows: " + ", ".join(f"{k} {num(n)}" for k, n in rows.items()) + "."
    return out + "\n\n![appends and size as the store grows](scale/pg_growth.svg)"


def spark_curve() -> str:
    runs = [s for s in (load(n) for n in SPARK_SIZES) if s]
    if not runs:
        return missing("spark_batch")
    rows = [
        [_size(s), f"{_seconds(s, 'duckdb'):.1f}", f"{_seconds(s, 'spark'):.1f}", _spark_ratio(s)]
        for s in runs
    ]
    out = table(["size", "DuckDB s", "Spark local[2] s", "ratio"], rows)
    return out + "\n\n![batch evaluation time as the records grow](scale/batch_growth.svg)"


# ---- plots --------------------------------------------------------------------------------


def plots() -> None:
    import matplotlib

    matplotlib.use("svg")
    import matplotlib.pyplot as plt

    PLOTS.mkdir(parents=True, exist_ok=True)
    plt.rcParams["svg.hashsalt"] = "trustledger"  # the same figures give the same file
    plt.rcParams["svg.fonttype"] = "none"  # text stays text: small files, searchable
    if pg := load("pg_scale"):
        xs = [p["records"] / 1e6 for p in pg["curve"]]
        fig, (rate, size) = plt.subplots(1, 2, figsize=(9, 3.4))
        rate.plot(xs, [p["stretch_entries_per_s"] for p in pg["curve"]], marker="o")
        rate.set(
            xlabel="records in the store (millions)",
            ylabel="appends/s",
            title="sequencer appends, PostgreSQL",
            ylim=(0, None),
        )
        size.plot(xs, [p["schema_gb"] for p in pg["curve"]], marker="o", color="tab:orange")
        size.set(
            xlabel="records in the store (millions)",
            ylabel="GB",
            title="store on disk",
            ylim=(0, None),
        )
        fig.tight_layout()
        fig.savefig(PLOTS / "pg_growth.svg", metadata={"Date": None})
        plt.close(fig)
    runs = [s for s in (load(n) for n in SPARK_SIZES) if s]
    if runs:
        fig, ax = plt.subplots(figsize=(5, 3.4))
        xs = [s["records"] / 1e6 for s in runs]
        ax.plot(xs, [_seconds(s, "duckdb") for s in runs], marker="o", label="DuckDB")
        ax.plot(xs, [_seconds(s, "spark") for s in runs], marker="s", label="Spark local[2]")
        ax.set(
            xscale="log",
            yscale="log",
            xlabel="records (millions)",
            ylabel="seconds",
            title="batch evaluation",
        )
        ax.legend()
        fig.tight_layout()
        fig.savefig(PLOTS / "batch_growth.svg", metadata={"Date": None})
        plt.close(fig)


# ---- the document -------------------------------------------------------------------------

BLOCKS: dict[str, Callable[[], str]] = {
    "measured": measured,
    "model": model,
    "pg_curve": pg_curve,
    "spark_curve": spark_curve,
}


def _between(body: str) -> Callable[[re.Match[str]], str]:
    return lambda m: m[1] + body + m[2]


def render() -> None:
    text = DOC.read_text()
    for name, block in BLOCKS.items():
        pattern = re.compile(rf"(<!-- scale:{name} -->\n).*?(\n<!-- /scale:{name} -->)", re.S)
        if not pattern.search(text):
            raise SystemExit(f"{DOC} has no block <!-- scale:{name} --> … <!-- /scale:{name} -->")
        text = pattern.sub(_between(block()), text)
    DOC.write_text(text)
    plots()
    print(f"wrote {DOC} and {PLOTS}/")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--render", action="store_true", help="only write the document")
    ap.add_argument("--quick", action="store_true", help="small sizes")
    ap.add_argument("--only", default="", help="comma-separated benchmark names")
    args = ap.parse_args()
    if not args.render:
        wanted = {n for n in args.only.split(",") if n}
        runs = [
            r
            for r in RUNS
            if not wanted
            or r.name in wanted
            or r.keep_as in wanted
            or r.script.removesuffix(".py") in wanted
        ]
        if wanted and not runs:
            raise SystemExit(f"no benchmark named {args.only!r}")
        run(runs, args.quick)
    render()


if __name__ == "__main__":
    main()
