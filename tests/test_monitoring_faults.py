"""Data-quality notices: one hand-made series per fault, and a clean series that raises none;
the readings inside a fault are not judged, and its notice names the hours that cost."""

from __future__ import annotations

import numpy as np

from trustledger.monitoring.aggregate import flag_codes
from trustledger.monitoring.faults import (
    FaultKind,
    Notice,
    clock_skew,
    detect_faults,
    exclude_faults,
    with_removed_hours,
    zs_mismatch_notices,
)

T0 = 1_471_968_000  # 2016-08-24 00:00 UTC+8
N = 600


def clean(seed: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    t = T0 + 60 * np.arange(N)
    x = np.round(30 + rng.normal(0, 2, N), 2)
    return t, x, np.ones(N, dtype=bool)


def kinds(notices: list[Notice]) -> list[FaultKind]:
    return [n.kind for n in notices]


def test_a_clean_series_raises_nothing() -> None:
    assert detect_faults(*clean(), expected_period_s=60) == []


def test_stuck_sensor_is_one_flatline() -> None:
    t, x, v = clean()
    x[:200] = 12.5
    x[100] = 12.5
    v[50] = False  # a maintenance flag inside does not split the run
    x[50] = 99.0
    (n,) = detect_faults(t, x, v, expected_period_s=60, name="SO2")
    assert n.kind is FaultKind.FLATLINE
    assert n.count == 199
    assert (n.start, n.end) == (T0, T0 + 200 * 60)
    assert n.detail == ("SO2 stuck at 12.50 for 199 consecutive readings (2016-08-24 00:00–03:20)")


def test_zeros_with_the_source_stopped_are_no_flatline() -> None:
    t, x, v = clean()
    x[:300] = 0.0
    stopped = np.zeros(N, dtype=bool)
    stopped[:300] = True
    v[:300] = False
    assert detect_faults(t, x, v, expected_period_s=60, source_stopped=stopped) == []
    # the same zeros flagged N are a stuck sensor
    v[:300] = True
    assert kinds(detect_faults(t, x, v, expected_period_s=60)) == [FaultKind.FLATLINE]


def test_gap() -> None:
    t, x, v = clean()
    keep = (np.arange(N) < 100) | (np.arange(N) >= 140)  # 40 minutes missing
    (n,) = detect_faults(t[keep], x[keep], v[keep], expected_period_s=60)
    assert n.kind is FaultKind.GAP
    assert (n.start, n.end, n.count) == (T0 + 100 * 60, T0 + 140 * 60, 40)
    short = (np.arange(N) < 100) | (np.arange(N) >= 110)  # 10 minutes: below 15
    assert detect_faults(t[short], x[short], v[short], expected_period_s=60) == []


def test_spike_is_one_jump_notice() -> None:
    t, x, v = clean()
    x[300] = 900.0
    (n,) = detect_faults(t, x, v, expected_period_s=60)
    assert n.kind is FaultKind.JUMP
    assert n.count == 2  # up and down
    assert (n.start, n.end) == (T0 + 299 * 60, T0 + 302 * 60)
    assert "to 900.00" in n.detail


def test_negative_values() -> None:
    t, x, v = clean()
    x = np.round(x / 10, 2)
    # a zero drifting below 0 and back, slowly enough not to be a jump
    x[:80] = np.round(np.concatenate([np.linspace(3, -0.5, 40), np.linspace(-0.5, 3, 40)]), 2)
    found = detect_faults(t, x, v, expected_period_s=60)
    assert kinds(found) == [FaultKind.NEGATIVE]
    assert found[0].count == 12
    assert "down to -0.50" in found[0].detail
    assert detect_faults(t, x, v, expected_period_s=60, allow_negative=True) == []


def test_run_of_d_flags_is_an_invalid_run() -> None:
    t, x, _ = clean()
    letters = ["N"] * N
    letters[100:190] = ["D"] * 90
    letters[150] = "M"
    flags = flag_codes(letters)
    (n,) = detect_faults(t, x, flags == ord("N"), expected_period_s=60, flags=flags)
    assert n.kind is FaultKind.INVALID_RUN
    assert n.count == 90
    assert "flags D×89, M×1" in n.detail
    shorter = flag_codes(["D" if 100 <= i < 159 else "N" for i in range(N)]) == ord("N")
    assert detect_faults(t, x, shorter, expected_period_s=60) == []


def test_unsorted_duplicates_do_not_make_faults() -> None:
    t, x, v = clean()
    order = np.random.default_rng(3).permutation(N)
    t2 = np.concatenate([t[order], t[:5]])
    x2 = np.concatenate([x[order], x[:5]])
    v2 = np.concatenate([v[order], v[:5]])
    assert detect_faults(t2, x2, v2, expected_period_s=60) == []


def test_clock_skew_year_2000() -> None:
    received = T0 + 60 * np.arange(10) + 30
    data = received - 30
    y2k = 946_656_000  # 2000-01-01 00:00 UTC+8
    data[4:7] = y2k + 60 * np.arange(3)
    data[9] = received[9] + 2 * 3600  # two hours in the future
    r = clock_skew(data, received, name="SO2")
    assert r.skewed.tolist() == [False] * 4 + [True] * 3 + [False] * 2 + [True]
    behind, ahead = r.notices
    assert (behind.kind, behind.count, behind.start) == (FaultKind.CLOCK_SKEW, 3, received[4])
    assert behind.detail.startswith("device clock 16.6 years behind the receive time")
    assert "data time 2000-01-01 00:00" in behind.detail
    assert ahead.count == 1
    assert "ahead of" in ahead.detail
    # a backlog resent after a week's outage is not skew
    assert not clock_skew(data[:4] - 7 * 86400, received[:4]).skewed.any()


def test_zs_mismatch_notices() -> None:
    hours = T0 + 3600 * np.arange(6)
    own = np.array([30.0, 30.0, 30.0, 30.0, 30.0, 30.0])
    zs = np.array([30.2, 40.0, 41.0, 30.0, 45.0, np.nan])
    a, b = zs_mismatch_notices(hours, own, zs, name="NOx")
    assert (a.kind, a.start, a.end, a.count) == (
        FaultKind.ZS_MISMATCH,
        T0 + 3600,
        T0 + 3 * 3600,
        2,
    )
    assert "40.00 vs 30.00" in a.detail
    assert b.count == 1


# --- faults make data invalid: which readings are not judged, which hours they cost ------


def hourly(t: np.ndarray, x: np.ndarray, valid: np.ndarray) -> list[bool]:
    from trustledger.monitoring.aggregate import hourly_means

    return hourly_means(t, x, valid).valid.tolist()


def test_a_flatline_excludes_its_stuck_readings_and_names_the_hours_it_removed() -> None:
    t, x, v = clean()
    x[50:250] = 80.0  # stuck from 00:50 to 04:10
    found = exclude_faults(t, x, v, expected_period_s=60, name="NOx")
    # stepping onto the stuck value and off it again are two jumps, changes of level
    up, (n,), down = [[f for f in found.notices if f.start // 60 == k // 60] for k in
                      (t[49], t[50], t[249])]  # fmt: skip
    assert kinds([*up, n, *down]) == [FaultKind.JUMP, FaultKind.FLATLINE, FaultKind.JUMP]
    assert up[0].removed_hours == down[0].removed_hours == ()
    assert np.flatnonzero(found.excluded).tolist() == list(range(50, 250))
    # hours 0 and 4 keep 50 valid minutes each (≥ 45): still valid; 1-3 have none left
    assert hourly(t, x, v & ~found.excluded) == [True, False, False, False, True, True,
                                                 True, True, True, True]  # fmt: skip
    assert n.removed_hours == (T0 + 3600, T0 + 2 * 3600, T0 + 3 * 3600)
    assert n.detail == (
        "NOx stuck at 80.00 for 200 consecutive readings (2016-08-24 00:50–04:10); "
        "not judged: 3 hours left without a valid mean (2016-08-24 01:00–04:00)"
    )
    # the notice itself is the one detect_faults gives, with the hours added
    (plain,) = [f for f in detect_faults(t, x, v, expected_period_s=60, name="NOx")
                if f.kind is FaultKind.FLATLINE]  # fmt: skip
    assert n.detail.startswith(plain.detail) and plain.removed_hours == ()


def test_a_fault_over_part_of_an_hour_follows_the_45_minute_rule() -> None:
    t, x, v = clean()
    x = np.round(x / 10 - 2, 2)  # around 1, so a short dip below 0 is no jump
    x[60:75] = -0.4  # 15 negative minutes in hour 1: 45 valid minutes stay
    x[120:136] = -0.4  # 16 in hour 2: 44 stay
    found = exclude_faults(t, x, v, expected_period_s=60, name="SO2")
    assert kinds(found.notices) == [FaultKind.NEGATIVE, FaultKind.NEGATIVE]
    assert np.flatnonzero(found.excluded).tolist() == [*range(60, 75), *range(120, 136)]
    assert hourly(t, x, v & ~found.excluded)[:4] == [True, True, False, True]
    first, second = found.notices
    assert first.removed_hours == () and "not judged" not in first.detail
    assert second.removed_hours == (T0 + 2 * 3600,)
    assert second.detail.endswith("not judged: 1 hour left without a valid mean "
                                  "(2016-08-24 02:00–03:00)")  # fmt: skip


def test_a_spike_excludes_the_spike_and_a_change_of_level_excludes_nothing() -> None:
    t, x, v = clean()
    x[300] = 900.0
    found = exclude_faults(t, x, v, expected_period_s=60)
    (n,) = found.notices
    assert n.kind is FaultKind.JUMP and np.flatnonzero(found.excluded).tolist() == [300]
    assert n.removed_hours == ()  # 59 valid minutes are left in hour 5
    # a level that changes and stays is a change of the plant, not of the instrument
    t, x, v = clean()
    x[500:] += 400.0
    found = exclude_faults(t, x, v, expected_period_s=60)
    assert kinds(found.notices) == [FaultKind.JUMP] and not found.excluded.any()


def test_an_invalid_run_excludes_nothing_more_and_names_the_hours_it_cost() -> None:
    t, x, _ = clean()
    letters = ["N"] * N
    letters[100:190] = ["D"] * 90  # 01:40–03:10
    flags = flag_codes(letters)
    found = exclude_faults(t, x, flags == ord("N"), expected_period_s=60, flags=flags)
    (n,) = found.notices
    assert n.kind is FaultKind.INVALID_RUN and not found.excluded.any()
    # hour 1 keeps 40 valid minutes, hour 2 none, hour 3 keeps 50
    assert n.removed_hours == (T0 + 3600, T0 + 2 * 3600)
    assert "not judged: 2 hours left without a valid mean (2016-08-24 01:00–03:00)" in n.detail


def test_gaps_exclude_nothing_and_remove_no_hours() -> None:
    t, x, v = clean()
    keep = (np.arange(N) < 100) | (np.arange(N) >= 140)
    found = exclude_faults(t[keep], x[keep], v[keep], expected_period_s=60)
    (n,) = found.notices
    assert n.kind is FaultKind.GAP and n.removed_hours == () and not found.excluded.any()


def test_the_excluded_readings_are_given_in_input_order() -> None:
    t, x, v = clean()
    x[50:250] = 80.0
    order = np.random.default_rng(5).permutation(N)
    found = exclude_faults(t[order], x[order], v[order], expected_period_s=60)
    assert FaultKind.FLATLINE in kinds(found.notices)
    assert found.excluded.tolist() == ((order >= 50) & (order < 250)).tolist()


def test_many_removed_spans_are_summed_up() -> None:
    notice = Notice(FaultKind.INVALID_RUN, T0, T0 + 3600, 1, "x")
    hours = [T0 + 2 * 3600 * i for i in range(8)]  # every other hour: eight spans
    named = with_removed_hours(notice, hours, 8 * 3600)
    assert named.removed_hours == tuple(hours)
    assert named.detail.startswith("x; not judged: 8 hours left without a valid mean (")
    assert named.detail.endswith(" and 2 more spans)") and named.detail.count("–") == 6
    assert with_removed_hours(notice, [], 8 * 3600) == notice


def test_clock_skew_names_each_notices_readings() -> None:
    received = T0 + 60 * np.arange(10) + 30
    data = received - 30
    data[4:7] = 946_656_000 + 60 * np.arange(3)
    data[9] = received[9] + 2 * 3600
    r = clock_skew(data, received, name="SO2")
    assert [m.tolist() for m in r.members] == [[4, 5, 6], [9]]
