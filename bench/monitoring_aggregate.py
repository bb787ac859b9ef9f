"""Ten million minute readings judged for compliance (hourly means of the pollutant and of O₂,
conversion to reference O₂, exceedance episodes), against a bare NumPy rolling mean over
the same array, in the same run; then the data-quality detectors over the same data.

    python bench/monitoring_aggregate.py

The data are 1,000 point-pollutant series of 10,000 minutes (about a week each), the shape
the pipeline hands over after grouping: SO₂-like levels of 15-45 mg/m³ with noise, O₂ of
6-10 %, 2 % scattered invalid flags, an instrument-fault run in one series in ten and
load bursts that exceed the 50 mg/m³ limit at 6 % reference O₂. No database is involved:
this measures the arithmetic, not the load.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

sys.path.insert(0, str(Path(__file__).parent))

from common import save

from trustledger.monitoring.aggregate import judge_series
from trustledger.monitoring.faults import detect_faults

SERIES = 1_000
MINUTES = 10_000
READINGS = SERIES * MINUTES
T0 = 1_767_196_800  # 2026-01-01 00:00 UTC+8
O2_REF = 6.0
LIMIT = 50.0
TARGET_READINGS_PER_S = 5_000_000


def data(
    rng: np.random.Generator,
) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.bool_], NDArray[np.float64]]:
    t = T0 + 60 * np.arange(MINUTES, dtype=np.int64)
    level = rng.uniform(15, 45, (SERIES, 1))
    x = level * (1 + 0.08 * rng.standard_normal((SERIES, MINUTES)))
    for s in rng.choice(SERIES, SERIES // 5, replace=False).tolist():
        for _ in range(3):
            a = int(rng.integers(0, MINUTES - 600))
            x[s, a : a + int(rng.integers(120, 600))] *= 1.8
    x = np.round(x, 2)
    o2 = np.round(rng.uniform(6, 10, (SERIES, 1)) + 0.3 * rng.standard_normal(x.shape), 2)
    valid = rng.random(x.shape) > 0.02
    for s in range(0, SERIES, 10):
        a = int(rng.integers(0, MINUTES - 90))
        valid[s, a : a + 90] = False
    return t, x, valid, o2


def timed(run: Callable[[], object], repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    t, x, valid, o2 = data(np.random.default_rng(7))
    flat = x.ravel()
    found = {"valid_hours": 0, "hours": 0, "episodes": 0, "exceedance_hours": 0}

    def judge() -> None:
        for s in range(SERIES):
            r = judge_series(t, x[s], valid[s], o2[s], o2_ref=O2_REF, limit=LIMIT)
            found["hours"] += r.hours.hour_start.size
            found["valid_hours"] += int(r.hours.valid.sum())
            found["episodes"] += len(r.episodes)
            found["exceedance_hours"] += sum(e.hours for e in r.episodes)

    def rolling_mean() -> None:
        c = np.cumsum(flat)
        (c[60:] - c[:-60]) / 60.0

    notices: dict[str, int] = {}

    def faults() -> None:
        notices.clear()
        for s in range(SERIES):
            for n in detect_faults(t, x[s], valid[s], expected_period_s=60, name="SO2"):
                notices[n.kind.value] = notices.get(n.kind.value, 0) + 1

    ours_s: list[float] = []
    bare_s: list[float] = []
    for _ in range(3):  # interleaved, so drift on the machine hits both alike
        for key in found:
            found[key] = 0
        ours_s += timed(judge, 1)
        bare_s += timed(rolling_mean, 1)
    faults_s = timed(faults, 3)

    # the same readings arriving in shuffled order, to price the sort and de-duplication
    perm = np.random.default_rng(8).permutation(MINUTES)
    t_sh, x_sh, v_sh, o2_sh = t[perm], x[:, perm], valid[:, perm], o2[:, perm]

    def judge_unsorted() -> None:
        for s in range(SERIES):
            judge_series(t_sh, x_sh[s], v_sh[s], o2_sh[s], o2_ref=O2_REF, limit=LIMIT)

    unsorted = statistics.median(timed(judge_unsorted, 3))
    ours, bare, fault = (statistics.median(v) for v in (ours_s, bare_s, faults_s))
    save(
        "monitoring_aggregate",
        {
            "series": SERIES,
            "readings": READINGS,
            "hours": found["hours"],
            "valid_hours": found["valid_hours"],
            "episodes": found["episodes"],
            "exceedance_hours": found["exceedance_hours"],
            "judge_median_seconds": round(ours, 3),
            "judge_readings_per_second": round(READINGS / ours),
            "target_readings_per_second": TARGET_READINGS_PER_S,
            "judge_unsorted_median_seconds": round(unsorted, 3),
            "judge_unsorted_readings_per_second": round(READINGS / unsorted),
            "rolling_mean_median_seconds": round(bare, 3),
            "rolling_mean_readings_per_second": round(READINGS / bare),
            "ratio_to_rolling_mean": round(ours / bare, 2),
            "detect_faults_median_seconds": round(fault, 3),
            "detect_faults_readings_per_second": round(READINGS / fault),
            "notices": notices,
        },
    )


if __name__ == "__main__":
    main()
