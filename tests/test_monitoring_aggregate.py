"""Validity, roll-ups, conversion and exceedance episodes: hand-computed cases, and property
tests against plain-Python reference implementations."""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trustledger.monitoring.aggregate import (
    Episode,
    classify_flags,
    convert_to_reference_o2,
    daily_means,
    episodes_meeting,
    exceedance_episodes,
    flag_codes,
    hourly_means,
    judge_series,
    minute_rollup,
    unique_order,
    valid_mask,
    zs_check,
)

H = 3600
T0 = 1_472_000_400  # 2016-08-24 01:00 UTC+8, an hour boundary
assert T0 % H == 0


# --- flags -------------------------------------------------------------------------------


def test_flag_codes() -> None:
    assert flag_codes(["N", None, "", "d", "T"]).tolist() == [78, 0, 0, 68, 84]


def test_valid_mask_only_n_counts_in_either_form() -> None:
    letters = ["N", "F", "M", "S", "D", "C", "T", "B", "P", "n"]
    expected = [True] + [False] * 8 + [True]
    assert valid_mask(np.array(letters), "2017").tolist() == expected
    assert valid_mask(flag_codes(letters), "2017").tolist() == expected
    assert valid_mask(np.array(letters, dtype="S1"), "2005").tolist() == expected


def test_f_is_source_stopped_only_in_2005() -> None:
    flags = np.array(["N", "F", "T"])
    old = classify_flags(flags, "2005")
    new = classify_flags(flags, "2017")
    assert old.source_stopped.tolist() == [False, True, False]
    assert new.source_stopped.tolist() == [False, False, False]
    assert old.valid.tolist() == new.valid.tolist() == [True, False, False]
    assert new.review.tolist() == [False, False, True]
    with pytest.raises(ValueError):
        classify_flags(flags, "2010")


# --- minute roll-up ----------------------------------------------------------------------


def test_minute_rollup_75_percent() -> None:
    # minute 0: 4 readings, 3 valid -> 75 % valid; minute 1: 4 readings, 2 valid -> not
    t = T0 + np.array([0, 15, 30, 45, 60, 75, 90, 105])
    x = np.array([1.0, 2.0, 3.0, 100.0, 4.0, 6.0, 50.0, 50.0])
    v = np.array([1, 1, 1, 0, 1, 1, 0, 0], dtype=bool)
    r = minute_rollup(t, x, v, 60)
    assert r.minute_start.tolist() == [T0, T0 + 60]
    assert r.mean.tolist() == [2.0, 5.0]
    assert r.valid.tolist() == [True, False]


# --- hourly and daily --------------------------------------------------------------------


def _minutes(n_valid: int, hour: int = T0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    t = hour + 60 * np.arange(60)
    x = np.full(60, 10.0)
    v = np.arange(60) < n_valid
    x[~v] = 1000.0  # invalid minutes must not leak into the mean
    return t, x, v


def test_45_valid_minutes_make_an_hour_44_do_not() -> None:
    ok = hourly_means(*_minutes(45))
    assert ok.valid.tolist() == [True]
    assert ok.valid_count.tolist() == [45]
    assert ok.mean.tolist() == [10.0]
    short = hourly_means(*_minutes(44))
    assert short.valid.tolist() == [False]
    assert short.valid_count.tolist() == [44]
    assert math.isnan(short.mean[0])


def test_five_minute_records_cover_five_minutes_each() -> None:
    t = T0 + 300 * np.arange(12)
    x = np.arange(12, dtype=float)
    v = np.arange(12) < 9  # 9 x 5 = 45 minutes
    r = hourly_means(t, x, v, period_s=300)
    assert r.valid_count.tolist() == [45]
    assert r.valid.tolist() == [True]
    assert r.mean.tolist() == [4.0]
    v[8] = False  # 40 minutes
    assert hourly_means(t, x, v, period_s=300).valid.tolist() == [False]


def test_unsorted_input_and_duplicates_keep_the_last_given() -> None:
    t, x, v = _minutes(60)
    x[:] = 5.0
    # resend minute 10 twice: the first copy says 1000, the last says 5
    t2 = np.concatenate([t[::-1], [T0 + 600, T0 + 600]])
    x2 = np.concatenate([x, [1000.0, 5.0]])
    v2 = np.concatenate([v, [True, True]])
    r = hourly_means(t2, x2, v2)
    assert r.valid_count.tolist() == [60]
    assert r.mean.tolist() == [5.0]
    # a last copy that is invalid wins too
    r = hourly_means(np.append(t, T0), np.append(x, 5.0), np.append(v, False))
    assert r.valid_count.tolist() == [59]


def test_unique_order() -> None:
    assert unique_order(np.array([1, 2, 3])) is None
    idx = unique_order(np.array([3, 1, 3, 2]))
    assert idx is not None
    assert idx.tolist() == [1, 3, 2]


def test_nan_values_flagged_n_do_not_count() -> None:
    t, x, v = _minutes(60)
    x[:16] = np.nan
    r = hourly_means(t, x, v)
    assert r.valid_count.tolist() == [44]
    assert r.valid.tolist() == [False]


def test_20_valid_hours_make_a_day_19_do_not() -> None:
    local_midnight = 1_471_968_000  # 2016-08-24 00:00 UTC+8
    hours = local_midnight + H * np.arange(24)
    means = np.arange(24, dtype=float)
    valid = np.arange(24) < 20
    d = daily_means(hours, means, valid)
    assert d.day_start.tolist() == [local_midnight]
    assert d.valid_count.tolist() == [20]
    assert d.valid.tolist() == [True]
    assert d.mean.tolist() == [9.5]
    valid[19] = False
    d = daily_means(hours, means, valid)
    assert d.valid.tolist() == [False]
    assert math.isnan(d.mean[0])


def test_days_follow_the_local_calendar() -> None:
    local_midnight = 1_471_968_000
    hours = np.array([local_midnight - H, local_midnight])  # 23:00 and 00:00 local
    d = daily_means(hours, np.array([1.0, 2.0]), np.array([True, True]), min_valid=1)
    assert d.day_start.tolist() == [local_midnight - 86400, local_midnight]


# --- conversion --------------------------------------------------------------------------


def test_conversion_to_reference_o2() -> None:
    assert convert_to_reference_o2(30.0, 9.0, 6.0) == pytest.approx(37.5)  # 30 × 15 / 12
    out = convert_to_reference_o2(
        np.array([30.0, 30.0, 30.0, 30.0]), np.array([21.0, 25.0, -1.0, np.nan]), 6.0
    )
    assert np.isnan(out).all()
    assert convert_to_reference_o2(np.array([30.0]), np.array([9.0]), None).tolist() == [30.0]
    with pytest.raises(ValueError):
        convert_to_reference_o2(30.0, 9.0, 21.0)


def test_zs_check() -> None:
    own = np.array([100.0, 100.0, 2.0, 50.0, np.nan])
    zs = np.array([104.0, 106.0, 2.4, np.nan, 50.0])
    assert zs_check(own, zs).tolist() == [False, True, False, False, False]


# --- episodes ----------------------------------------------------------------------------


def _hours(values: list[float | None]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """None is an invalid hour."""
    h = T0 + H * np.arange(len(values))
    m = np.array([np.nan if x is None else x for x in values])
    return h, m, np.array([x is not None for x in values])


def test_five_exceedance_hours_are_one_episode() -> None:
    (e,) = exceedance_episodes(*_hours([40, 60, 70, 80, 55, 51, 30]), limit=50)
    assert (e.first_hour, e.last_hour, e.hours, e.max_value) == (T0 + H, T0 + 5 * H, 5, 80.0)
    assert e.values[0] == (T0 + H, 60.0)


def test_an_invalid_hour_neither_counts_nor_closes() -> None:
    (e,) = exceedance_episodes(*_hours([60, 70, None, 80, 55, 51]), limit=50)
    assert e.hours == 5
    assert (e.first_hour, e.last_hour) == (T0, T0 + 5 * H)
    assert [h for h, _ in e.values] == [T0, T0 + H, T0 + 3 * H, T0 + 4 * H, T0 + 5 * H]


def test_a_missing_hour_neither_counts_nor_closes() -> None:
    h, m, v = _hours([60, 70, 80])
    h[2] += H  # the hour between is absent
    (e,) = exceedance_episodes(h, m, v, limit=50)
    assert e.hours == 3


def test_a_valid_compliant_hour_splits() -> None:
    a, b = exceedance_episodes(*_hours([60, 70, 40, 80]), limit=50)
    assert (a.hours, b.hours) == (2, 1)
    assert b.first_hour == T0 + 3 * H


def test_at_the_limit_is_not_an_exceedance() -> None:
    a, b = exceedance_episodes(*_hours([60, 50, 60]), limit=50)
    assert a.hours == b.hours == 1


def test_invalid_hours_produce_no_exceedance() -> None:
    h, m, _ = _hours([900, 900, 900])
    flags = np.array(["M", "D", "D"])
    assert exceedance_episodes(h, m, valid_mask(flags, "2017"), limit=50) == []


def test_a_long_gap_closes() -> None:
    h, m, v = _hours([60, 60])
    h[1] = h[0] + 26 * H  # 25 missing hours
    assert len(exceedance_episodes(h, m, v, limit=50)) == 2
    assert len(exceedance_episodes(h, m, v, limit=50, max_gap_hours=25)) == 1


def test_episodes_unsorted_with_duplicates() -> None:
    h, m, v = _hours([60, 70, 40, 80])
    # the compliant hour resent as an exceedance: the last copy wins and the split goes
    h2 = np.concatenate([h[::-1], [T0 + 2 * H]])
    m2 = np.concatenate([m[::-1], [90.0]])
    v2 = np.concatenate([v[::-1], [True]])
    (e,) = exceedance_episodes(h2, m2, v2, limit=50)
    assert e.hours == 4
    assert e.max_value == 90.0


def test_episodes_meeting() -> None:
    eps = exceedance_episodes(*_hours([60, 70, 40, 80]), limit=50)
    assert [e.hours for e in episodes_meeting(eps, 2)] == [2]


# --- judge_series ------------------------------------------------------------------------


def test_judge_series_converts_and_finds_episodes() -> None:
    t = T0 + 60 * np.arange(4 * 60)
    x = np.full(t.size, 30.0)
    x[60:180] = 45.0  # hours 1 and 2: 45 × 15 / 12 = 56.25 > 50
    o2 = np.full(t.size, 9.0)
    v = np.ones(t.size, dtype=bool)
    v[180:200] = False  # hour 3 invalid: 40 valid minutes
    r = judge_series(t, x, v, o2, o2_ref=6.0, limit=50.0)
    assert r.hours.hour_start.tolist() == [T0 + k * H for k in range(4)]
    assert r.hours.converted[:3].tolist() == [37.5, 56.25, 56.25]
    assert r.hours.valid.tolist() == [True, True, True, False]
    assert r.episodes == [
        Episode(T0 + H, T0 + 2 * H, 2, 56.25, ((T0 + H, 56.25), (T0 + 2 * H, 56.25)))
    ]


def test_judge_series_o2_hour_must_be_valid_too() -> None:
    t = T0 + 60 * np.arange(60)
    x = np.full(60, 100.0)
    o2 = np.full(60, 9.0)
    o2_valid = np.arange(60) < 44
    r = judge_series(t, x, np.ones(60, bool), o2, o2_ref=6.0, limit=50.0, o2_valid=o2_valid)
    assert r.hours.valid.tolist() == [False]
    assert r.episodes == []
    none = judge_series(t, x, np.ones(60, bool), None, o2_ref=None, limit=50.0)
    assert none.hours.converted.tolist() == [100.0]
    assert len(none.episodes) == 1


# --- property tests against plain-Python references --------------------------------------


def reference_hourly(
    t: list[int], x: list[float], v: list[bool], min_valid: int, period_s: int
) -> dict[int, tuple[float, int, bool]]:
    last: dict[int, tuple[float, bool]] = {}
    for ti, xi, vi in zip(t, x, v, strict=True):
        last[ti] = (xi, vi)
    groups: dict[int, list[float]] = defaultdict(list)
    seen: set[int] = set()
    for ti, (xi, vi) in last.items():
        hour = ti - ti % H
        seen.add(hour)
        if vi and math.isfinite(xi):
            groups[hour].append(xi)
    out = {}
    for hour in seen:
        vals = groups[hour]
        minutes = min(len(vals) * period_s // 60, 60)
        ok = minutes >= min_valid
        out[hour] = (sum(vals) / len(vals) if ok else math.nan, minutes, ok)
    return out


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 4 * 60 - 1),
            st.one_of(st.floats(-100, 1000), st.just(math.nan)),
            st.booleans(),
        ),
        max_size=300,
    ),
    st.sampled_from([60, 300, 600]),
    st.integers(1, 60),
)
def test_hourly_means_matches_reference(
    rows: list[tuple[int, float, bool]], period_s: int, min_valid: int
) -> None:
    t = [T0 + 60 * r[0] for r in rows]
    x = [r[1] for r in rows]
    v = [r[2] for r in rows]
    got = hourly_means(
        np.array(t, dtype=np.int64),
        np.array(x),
        np.array(v, dtype=bool),
        min_valid=min_valid,
        period_s=period_s,
    )
    want = reference_hourly(t, x, v, min_valid, period_s)
    assert got.hour_start.tolist() == sorted(want)
    for h, mean, n, ok in zip(
        got.hour_start.tolist(), got.mean, got.valid_count, got.valid, strict=True
    ):
        w_mean, w_n, w_ok = want[h]
        assert (int(n), bool(ok)) == (w_n, w_ok)
        if w_ok:
            assert mean == pytest.approx(w_mean, rel=1e-9, abs=1e-9)
        else:
            assert math.isnan(mean)


def reference_episodes(
    hours: list[int], means: list[float], valid: list[bool], limit: float, max_gap: int
) -> list[tuple[int, int, int, float]]:
    last: dict[int, tuple[float, bool]] = {}
    for h, m, v in zip(hours, means, valid, strict=True):
        last[h] = (m, v)
    episodes = []
    current: list[tuple[int, float]] = []
    last_valid: int | None = None
    for h in sorted(last):
        m, v = last[h]
        if not v or not math.isfinite(m):
            continue
        gap = 0 if last_valid is None else (h - last_valid) // H - 1
        if current and gap > max_gap:
            episodes.append(current)
            current = []
        if m > limit:
            current.append((h, m))
        elif current:
            episodes.append(current)
            current = []
        last_valid = h
    if current:
        episodes.append(current)
    return [(e[0][0], e[-1][0], len(e), max(m for _, m in e)) for e in episodes]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 200), st.sampled_from([10.0, 50.0, 60.0, 90.0]), st.booleans()),
        max_size=120,
    ),
    st.integers(0, 5),
)
def test_exceedance_episodes_matches_reference(
    rows: list[tuple[int, float, bool]], max_gap: int
) -> None:
    hours = [T0 + H * r[0] for r in rows]
    means = [r[1] for r in rows]
    valid = [r[2] for r in rows]
    got = exceedance_episodes(
        np.array(hours, dtype=np.int64),
        np.array(means),
        np.array(valid, dtype=bool),
        50.0,
        max_gap_hours=max_gap,
    )
    want = reference_episodes(hours, means, valid, 50.0, max_gap)
    assert [(e.first_hour, e.last_hour, e.hours, e.max_value) for e in got] == want
    assert all(len(e.values) == e.hours for e in got)
