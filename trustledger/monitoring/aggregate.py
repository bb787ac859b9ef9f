"""Validity, hourly and daily means, reference-O₂ conversion and exceedance episodes.

Pure NumPy over plain arrays: one call handles one monitoring point and one pollutant (the
pipeline groups), so nothing here knows about packets or storage. The rules are those of
``shared/reference/monitoring.md``; where it is silent the choice is written at the function.

Conventions shared by every function:

- Time is int64 seconds since the Unix epoch of the reading's period start.
- Input may be unsorted and may repeat a timestamp; of repeated timestamps the one given
  LAST wins, because a logger that resends a period (HJ 212 supplementary upload) sends
  its corrected value after the original.
- A reading is usable only when its validity mask is true AND its value is finite; a NaN
  value flagged ``N`` is treated like an invalid reading rather than poisoning a mean.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "DIALECTS",
    "DailyMeans",
    "Episode",
    "FlagMasks",
    "HourlyMeans",
    "JudgedHours",
    "JudgedSeries",
    "MinuteRollup",
    "classify_flags",
    "convert_to_reference_o2",
    "daily_means",
    "episodes_meeting",
    "exceedance_episodes",
    "flag_codes",
    "hourly_means",
    "judge_series",
    "minute_rollup",
    "unique_order",
    "valid_mask",
    "zs_check",
]

HOUR_S = 3600
DAY_S = 86400
CHINA_OFFSET_S = 8 * HOUR_S
DIALECTS = frozenset({"2005", "2017", "2025"})

Int64s = NDArray[np.int64]
Floats = NDArray[np.float64]
Bools = NDArray[np.bool_]

_N, _F, _T = ord("N"), ord("F"), ord("T")


# --- flags -------------------------------------------------------------------------------


def flag_codes(flags: Sequence[str | None]) -> NDArray[np.uint8]:
    """ASCII code of each flag's first character, upper-cased; ``None`` or ``""`` → 0."""
    out = np.zeros(len(flags), dtype=np.uint8)
    for i, f in enumerate(flags):
        if f:
            code = ord(f[0].upper())
            # a non-ASCII flag is no flag HJ 212 defines, so it must not alias a real one
            out[i] = code if code < 128 else 0
    return out


def _codes(flags: ArrayLike) -> NDArray[np.uint8]:
    arr = np.asarray(flags)
    if arr.dtype == np.uint8:
        codes = arr
    elif arr.dtype.kind == "U":
        wide = arr.astype("U1").view(np.uint32)
        codes = np.where(wide < 128, wide, 0).astype(np.uint8)
    elif arr.dtype.kind == "S":
        codes = arr.astype("S1").view(np.uint8).copy()
    else:
        codes = flag_codes([None if f is None else str(f) for f in arr.tolist()])
    lower = (codes >= ord("a")) & (codes <= ord("z"))
    if lower.any():
        # devices are not consistent about case; the standard's letters are upper-case
        codes = np.where(lower, codes - 32, codes).astype(np.uint8)
    return codes


class FlagMasks(NamedTuple):
    """What the flags say about each reading."""

    valid: Bools  # counts for compliance: only ``N``
    source_stopped: Bools  # 2005 ``F``: the plant, not the instrument, was stopped
    review: Bools  # ``T``: above range, the true value is at least full scale


def classify_flags(flags: ArrayLike, dialect: str) -> FlagMasks:
    """Masks for single-character flags (str array or uint8 ASCII codes) of one dialect.

    ``F`` never counts: in 2017 it means the instrument stopped, in 2005 the emission
    source stopped. Only the 2005 meaning goes to ``source_stopped``, so hours with the
    plant off can be reported as such instead of as data gaps. The 2025 revision keeps the
    2017 flags.
    """
    if dialect not in DIALECTS:
        raise ValueError(f"unknown HJ 212 dialect {dialect!r}; expected one of {sorted(DIALECTS)}")
    codes = _codes(flags)
    stopped = codes == _F if dialect == "2005" else np.zeros(codes.shape, dtype=np.bool_)
    return FlagMasks(valid=codes == _N, source_stopped=stopped, review=codes == _T)


def valid_mask(flags: ArrayLike, dialect: str) -> Bools:
    """True where the reading counts for compliance (flag ``N``); see ``classify_flags``."""
    return classify_flags(flags, dialect).valid


# --- sorting and grouping ----------------------------------------------------------------


def unique_order(t: ArrayLike) -> NDArray[np.intp] | None:
    """Indices putting ``t`` in ascending order, keeping the last given of equal times.

    ``None`` when ``t`` is already strictly increasing, which is the common case from a
    logger and lets callers skip every gather.
    """
    ts = np.asarray(t)
    if ts.size < 2 or bool(np.all(ts[1:] > ts[:-1])):
        return None
    order = np.argsort(ts, kind="stable")
    s = ts[order]
    keep = np.ones(s.size, dtype=np.bool_)
    # stable sort keeps input order among equal times, so the last of each run is the
    # last one given
    keep[:-1] = s[1:] != s[:-1]
    return order[keep]


def _prepare(t: ArrayLike, values: ArrayLike, valid: ArrayLike) -> tuple[Int64s, Floats, Bools]:
    ts = np.asarray(t, dtype=np.int64)
    xs = np.asarray(values, dtype=np.float64)
    vs = np.asarray(valid, dtype=np.bool_)
    if not (ts.shape == xs.shape == vs.shape) or ts.ndim != 1:
        raise ValueError(
            f"t, values and valid must be 1-D of one length, got {ts.shape}, {xs.shape}, {vs.shape}"
        )
    idx = unique_order(ts)
    if idx is not None:
        ts, xs, vs = ts[idx], xs[idx], vs[idx]
    return ts, xs, vs & np.isfinite(xs)


def _group_starts(keys: Int64s) -> NDArray[np.intp]:
    """Start index of each run of equal keys in a sorted array."""
    if keys.size == 0:
        return np.zeros(0, dtype=np.intp)
    brk = np.flatnonzero(keys[1:] != keys[:-1]) + 1
    return np.concatenate((np.zeros(1, dtype=np.intp), brk.astype(np.intp)))


def _sums(xs: Floats, vs: Bools, starts: NDArray[np.intp]) -> tuple[Floats, Int64s]:
    if starts.size == 0:
        return np.zeros(0, dtype=np.float64), np.zeros(0, dtype=np.int64)
    sums = np.add.reduceat(np.where(vs, xs, 0.0), starts)
    counts = np.add.reduceat(vs, starts, dtype=np.int64)
    return sums, counts


def _divide(sums: Floats, counts: Int64s, ok: Bools) -> Floats:
    out = np.full(sums.shape, np.nan, dtype=np.float64)
    np.divide(sums, counts, out=out, where=ok & (counts > 0))
    return out


# --- roll-ups ----------------------------------------------------------------------------


class MinuteRollup(NamedTuple):
    minute_start: Int64s  # start of each interval that has at least one reading
    mean: Floats  # mean of the valid readings; NaN when there are none
    valid: Bools  # at least 75 % of the interval's readings are valid


def minute_rollup(
    t: ArrayLike, values: ArrayLike, valid: ArrayLike, interval_s: int = 60
) -> MinuteRollup:
    """Roll real-time values up to intervals by the 2017 Appendix C rule (≥ 75 % ``N``).

    The mean of the valid readings is returned even for an invalid interval, as the
    logger does when it flags the minute ``D``; hourly means ignore it through ``valid``.
    The 75 % is over the readings received, since the standard counts real-time values,
    not expected sampling instants.
    """
    if interval_s <= 0:
        raise ValueError("interval_s must be positive")
    ts, xs, vs = _prepare(t, values, valid)
    keys = (ts // interval_s) * interval_s
    starts = _group_starts(keys)
    sums, n_valid = _sums(xs, vs, starts)
    n_all = np.diff(np.append(starts, ts.size)).astype(np.int64)
    ok = n_valid * 4 >= n_all * 3  # integer form of ≥ 75 %, free of rounding
    return MinuteRollup(keys[starts], _divide(sums, n_valid, n_valid > 0), ok)


class HourlyMeans(NamedTuple):
    hour_start: Int64s  # hours that have at least one record, ascending
    mean: Floats  # mean of the valid records; NaN when the hour is not valid
    valid_count: Int64s  # valid minutes covered (records × period_s / 60, at most 60)
    valid: Bools  # valid_count ≥ min_valid


def _hourly_sorted(
    ts: Int64s, xs: Floats, vs: Bools, starts: NDArray[np.intp], min_valid: int, period_s: int
) -> tuple[Floats, Int64s, Bools]:
    sums, n = _sums(xs, vs, starts)
    minutes = np.minimum(n * period_s // 60, 60)
    ok = minutes >= min_valid
    return _divide(sums, n, ok), minutes, ok


def hourly_means(
    t: ArrayLike,
    values: ArrayLike,
    valid: ArrayLike,
    *,
    min_valid: int = 45,
    period_s: int = 60,
) -> HourlyMeans:
    """Hourly means of minute data; an hour is valid with ≥ ``min_valid`` valid minutes.

    Records with an interval of ``period_s`` (HJ 212 allows 1-30 min) each cover
    ``period_s / 60`` minutes, so a valid 5-minute record counts as 5 minutes; the total
    is floored to whole minutes and capped at 60 (off-grid timestamps cannot make an hour
    longer than it is). The mean is unweighted over records because all share one
    interval. A record belongs to the hour in which its period starts.
    """
    if period_s <= 0:
        raise ValueError("period_s must be positive")
    ts, xs, vs = _prepare(t, values, valid)
    hours = (ts // HOUR_S) * HOUR_S
    starts = _group_starts(hours)
    mean, minutes, ok = _hourly_sorted(ts, xs, vs, starts, min_valid, period_s)
    return HourlyMeans(hours[starts], mean, minutes, ok)


class DailyMeans(NamedTuple):
    day_start: Int64s  # epoch seconds of local midnight
    mean: Floats  # mean of the valid hourly means; NaN when the day is not valid
    valid_count: Int64s  # valid hours in the local day
    valid: Bools  # valid_count ≥ min_valid


def daily_means(
    hour_start: ArrayLike,
    mean: ArrayLike,
    valid: ArrayLike,
    *,
    min_valid: int = 20,
    tz_offset_s: int = CHINA_OFFSET_S,
) -> DailyMeans:
    """Daily means over local calendar days (fixed offset, UTC+8 for China).

    A day is valid with ≥ ``min_valid`` valid hours; its mean is the plain mean of those
    hourly means, as HJ 75 computes it.
    """
    ts, xs, vs = _prepare(hour_start, mean, valid)
    days = ((ts + tz_offset_s) // DAY_S) * DAY_S - tz_offset_s
    starts = _group_starts(days)
    sums, n = _sums(xs, vs, starts)
    ok = n >= min_valid
    return DailyMeans(days[starts], _divide(sums, n, ok), n, ok)


# --- conversion --------------------------------------------------------------------------


def convert_to_reference_o2(c: ArrayLike, o2: ArrayLike, o2_ref: float | None) -> Floats:
    """C × (21 − O₂ref) / (21 − O₂); NaN where O₂ is NaN, negative or ≥ 21.

    Such O₂ cannot be converted, and a NaN makes the hour invalid for compliance rather
    than inventing a figure. ``o2_ref=None`` (a standard without reference O₂) returns the
    measured concentration unchanged.
    """
    cs = np.asarray(c, dtype=np.float64)
    if o2_ref is None:
        return cs.copy()
    if not 0.0 <= o2_ref < 21.0:
        raise ValueError(f"reference O2 must be in [0, 21), got {o2_ref}")
    o2s = np.asarray(o2, dtype=np.float64)
    ok = (o2s >= 0.0) & (o2s < 21.0)
    denom = np.where(ok, 21.0 - o2s, np.nan)
    result: Floats = cs * (21.0 - o2_ref) / denom
    return result


def zs_check(own: ArrayLike, zs: ArrayLike, rel_tol: float = 0.05, abs_tol: float = 0.5) -> Bools:
    """True where the logger's converted value (``Zs…``) disagrees with our conversion.

    Disagreement is ``|own − zs| > max(abs_tol, rel_tol × |own|)``; the absolute floor
    (0.5 mg/m³) keeps rounding of small values from raising notices. Compared only where
    both are finite: a missing ``Zs`` is common and not evidence of anything. Compliance
    is always judged on the platform's own conversion, from the measured concentration
    and O₂, because a logger's conversion can hide a wrong reference O₂ or a wrong
    formula; a mismatch is a data-quality notice, never a penalty.
    """
    a = np.asarray(own, dtype=np.float64)
    b = np.asarray(zs, dtype=np.float64)
    both = np.isfinite(a) & np.isfinite(b)
    with np.errstate(invalid="ignore"):
        far = np.abs(a - b) > np.maximum(abs_tol, rel_tol * np.abs(a))
    result: Bools = both & far
    return result


# --- episodes ----------------------------------------------------------------------------


class Episode(NamedTuple):
    first_hour: int  # hour start of the first exceedance hour
    last_hour: int  # hour start of the last exceedance hour
    hours: int  # number of exceedance hours (invalid hours inside are not counted)
    max_value: float
    values: tuple[tuple[int, float], ...]  # (hour_start, mean) of each exceedance hour


def exceedance_episodes(
    hour_start: ArrayLike,
    mean: ArrayLike,
    valid: ArrayLike,
    limit: float,
    *,
    max_gap_hours: int = 24,
) -> list[Episode]:
    """Exceedance episodes of one point, pollutant and limit set.

    An exceedance hour is a valid hour whose (converted) mean is strictly above ``limit``.
    Exceedance hours separated only by invalid or missing hours form one episode, and
    only the exceedance hours are counted; a valid compliant hour closes the episode, and
    so does a run of more than ``max_gap_hours`` consecutive invalid or missing hours
    (default 24: a day without data says nothing about whether the excess continued).
    """
    hs, xs, vs = _prepare(hour_start, mean, valid)
    hs, xs = hs[vs], xs[vs]  # only valid hours decide anything
    if hs.size == 0:
        return []
    exceed = xs > limit
    # hours without a valid value between consecutive valid hours
    joined = np.diff(hs) - HOUR_S <= max_gap_hours * HOUR_S
    cont = exceed[:-1] & exceed[1:] & joined  # hour i+1 continues the episode of hour i
    first = exceed.copy()
    first[1:] &= ~cont
    last = exceed.copy()
    last[:-1] &= ~cont
    firsts, lasts = np.flatnonzero(first), np.flatnonzero(last)
    hour_list: list[int] = hs.tolist()
    value_list: list[float] = xs.tolist()
    episodes = []
    for a, b in zip(firsts.tolist(), lasts.tolist(), strict=True):
        vals = value_list[a : b + 1]
        episodes.append(
            Episode(
                first_hour=hour_list[a],
                last_hour=hour_list[b],
                hours=b - a + 1,
                max_value=max(vals),
                values=tuple(zip(hour_list[a : b + 1], vals, strict=True)),
            )
        )
    return episodes


def episodes_meeting(episodes: Sequence[Episode], min_hours: int) -> list[Episode]:
    """Episodes of at least ``min_hours`` exceedance hours (a rulebook parameter)."""
    return [e for e in episodes if e.hours >= min_hours]


# --- the hot path ------------------------------------------------------------------------


class JudgedHours(NamedTuple):
    hour_start: Int64s
    mean: Floats  # measured hourly mean (NaN when the concentration hour is not valid)
    o2: Floats  # hourly O₂ mean (NaN when not valid or not used)
    converted: Floats  # at reference O₂; NaN when it cannot be judged
    valid_count: Int64s  # valid minutes of the concentration
    valid: Bools  # concentration valid, O₂ valid when needed, conversion possible


class JudgedSeries(NamedTuple):
    hours: JudgedHours
    episodes: list[Episode]


def judge_series(
    t: ArrayLike,
    values: ArrayLike,
    flags_valid: ArrayLike,
    o2: ArrayLike | None,
    *,
    o2_ref: float | None,
    limit: float,
    min_valid: int = 45,
    period_s: int = 60,
    o2_valid: ArrayLike | None = None,
    max_gap_hours: int = 24,
) -> JudgedSeries:
    """Hourly means of concentration and O₂, conversion, and exceedance episodes.

    ``o2`` holds the O₂ readings at the same timestamps as ``values``; ``o2_valid`` their
    own flag validity (default: every finite O₂ reading). The O₂ hour needs the same
    ``min_valid`` minutes as the concentration, since the converted value is only as good
    as its O₂. With ``o2_ref=None`` O₂ is ignored and may be ``None``.
    """
    if period_s <= 0:
        raise ValueError("period_s must be positive")
    ts = np.asarray(t, dtype=np.int64)
    xs = np.asarray(values, dtype=np.float64)
    vs = np.asarray(flags_valid, dtype=np.bool_)
    use_o2 = o2_ref is not None
    if use_o2:
        if o2 is None:
            raise ValueError("o2 readings are needed when o2_ref is set")
        os_ = np.asarray(o2, dtype=np.float64)
        ovs = (
            np.ones(os_.shape, dtype=np.bool_)
            if o2_valid is None
            else np.asarray(o2_valid, dtype=np.bool_)
        )
        if os_.shape != ts.shape or ovs.shape != ts.shape:
            raise ValueError("o2 and o2_valid must have the shape of t")
    if not (ts.shape == xs.shape == vs.shape) or ts.ndim != 1:
        raise ValueError("t, values and flags_valid must be 1-D of one length")
    idx = unique_order(ts)
    if idx is not None:
        ts, xs, vs = ts[idx], xs[idx], vs[idx]
    vs = vs & np.isfinite(xs)
    hours = (ts // HOUR_S) * HOUR_S
    starts = _group_starts(hours)
    hour_start = hours[starts]
    mean, minutes, ok = _hourly_sorted(ts, xs, vs, starts, min_valid, period_s)
    if use_o2:
        if idx is not None:
            os_, ovs = os_[idx], ovs[idx]
        ovs = ovs & np.isfinite(os_)
        o2_mean, _, o2_ok = _hourly_sorted(ts, os_, ovs, starts, min_valid, period_s)
        converted = convert_to_reference_o2(mean, o2_mean, o2_ref)
        ok = ok & o2_ok & np.isfinite(converted)
    else:
        o2_mean = np.full(mean.shape, np.nan, dtype=np.float64)
        converted = mean.copy()
    converted[~ok] = np.nan
    hours_out = JudgedHours(hour_start, mean, o2_mean, converted, minutes, ok)
    episodes = exceedance_episodes(hour_start, converted, ok, limit, max_gap_hours=max_gap_hours)
    return JudgedSeries(hours_out, episodes)
