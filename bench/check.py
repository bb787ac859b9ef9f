"""One million checks against an index of one million subjects, against a bare dict lookup
of the same (subject, action) keys, in the same run.

    python bench/check.py

The index is built from synthetic state rows (CheckIndex takes rows directly), so no
database is needed: this measures the check, not the load.
"""

from __future__ import annotations

import gc
import random
import statistics
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from common import Timer, save

from trustledger.sanctions.check import CheckIndex

SUBJECTS = 1_000_000
CHECKS = 1_000_000
ON = date(2026, 11, 26)
ACTIONS = ["air_travel", "rail_g_series_seat", "public_procurement", "green_channel"]


def rows(rng: random.Random) -> tuple[list[str], list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Subjects, profiles and measures: 3 % on a black list, 2 % on a red list."""
    ids = [f"91440300MA{n:08d}" for n in range(SUBJECTS)]
    profiles = [("rb@1", s, None, None, "[]", "2026-11-01", 5_000_000) for s in ids]
    measures: list[tuple[Any, ...]] = []
    banned = '["air_travel", "rail_g_series_seat"]'
    for s in rng.sample(ids, SUBJECTS * 3 // 100):
        measures.append(
            (
                "rb@1",
                "no-air-travel",
                s,
                "restriction",
                "black",
                banned,
                "2025-01-01",
                None,
                "X",
                "{}",
            )
        )
    for s in rng.sample(ids, SUBJECTS * 2 // 100):
        measures.append(
            ("rb@1", "green", s, "incentive", "red", '["green_channel"]', "2026-01-01",
             "2027-01-01", "gov", "{}")
        )  # fmt: skip
    return ids, profiles, measures


def per_check_ns(run: Any, repeat: int = 7) -> list[float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter_ns()
        run()
        times.append((time.perf_counter_ns() - start) / CHECKS)
    return times


def rss_mb() -> float:
    """Resident memory of this process (Linux), MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    rng = random.Random(7)
    gc.collect()
    before = rss_mb()
    ids, profiles, measures = rows(rng)
    with Timer() as build:
        index = CheckIndex(subjects=ids, profiles=profiles, lists=[], measures=measures)
    n_measures = len(measures)
    # what stays is the index (the subject id strings included: the index holds them);
    # freed input rows may leave some heap behind, so this errs on the high side
    del profiles, measures
    gc.collect()
    index_mb = rss_mb() - before
    pairs = [(rng.choice(ids), rng.choice(ACTIONS)) for _ in range(CHECKS)]
    bare = {pair: True for pair in pairs}
    check = index.check
    get = bare.get

    def ours() -> None:
        for subject_id, action in pairs:
            check(subject_id, action, ON)

    def dict_lookup() -> None:
        for subject_id, action in pairs:
            get((subject_id, action))

    statuses: dict[str, int] = {}
    for d in index.check_many(pairs, ON):
        statuses[d.status] = statuses.get(d.status, 0) + 1
    ours_ns, bare_ns = [], []
    for _ in range(3):  # interleaved, so drift on the machine hits both alike
        ours_ns += per_check_ns(ours, 3)
        bare_ns += per_check_ns(dict_lookup, 3)
    median, baseline = statistics.median(ours_ns), statistics.median(bare_ns)
    save(
        "check",
        {
            "subjects": SUBJECTS,
            "checks": CHECKS,
            "measures": n_measures,
            "statuses": statuses,
            "build_seconds": round(build.seconds, 2),
            "median_ns_per_check": round(median, 1),
            "dict_lookup_median_ns": round(baseline, 1),
            "ratio_to_dict_lookup": round(median / baseline, 2),
            "target_ratio": 3.0,
            "index_memory_mb": round(index_mb, 1),
            "target_memory_mb": 500,
        },
    )


if __name__ == "__main__":
    main()
