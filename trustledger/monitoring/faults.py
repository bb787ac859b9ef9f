"""Data-quality notices for one point's pollutant series: evidence to show, never penalties.

Every detector is run-length encoding over NumPy arrays, so the cost is a few passes over
the series whatever the number of notices. Input follows ``aggregate``'s conventions: int64
epoch seconds of the period start, unsorted allowed, of repeated timestamps the last given
wins. A notice's ``start``/``end`` are a half-open span ``[start, end)`` in epoch seconds
(a reading covers ``[t, t + expected_period_s)``), except for clock skew, where they are
the receive times of the first and last skewed reading. The ``detail`` names the evidence
in plain English with local times (UTC+8 unless told otherwise), so it can be shown to an
operator as it is.

A broken sensor gives a notice, never a record: ``exclude_faults`` returns which valid
readings lie inside a fault (a stuck value, an impossible spike, a negative concentration)
so the judge leaves them out before hours are formed, and names in each notice the hours
it cost their valid mean.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from enum import StrEnum
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

from trustledger.monitoring.aggregate import (
    CHINA_OFFSET_S,
    HOUR_S,
    _codes,  # one parser for str and uint8 flags
    hourly_means,
    unique_order,
    zs_check,
)

__all__ = [
    "EXCLUDING",
    "ClockSkew",
    "FaultKind",
    "Faults",
    "Notice",
    "clock_skew",
    "detect_faults",
    "exclude_faults",
    "with_removed_hours",
    "zs_mismatch_notices",
]

Bools = NDArray[np.bool_]
Ints = NDArray[np.intp]

# the scale factor that makes the median absolute deviation estimate a normal sigma
_MAD_SIGMA = 1.4826
# fewer valid readings than this give no meaningful robust spread, so no jump notices
_JUMP_MIN_READINGS = 10


class FaultKind(StrEnum):
    FLATLINE = "flatline"
    GAP = "gap"
    JUMP = "jump"
    NEGATIVE = "negative"
    INVALID_RUN = "invalid_run"
    ZS_MISMATCH = "zs_mismatch"
    CLOCK_SKEW = "clock_skew"


class Notice(NamedTuple):
    kind: FaultKind
    start: int
    end: int
    # readings (flatline, negative, invalid_run, clock_skew), missing periods (gap), jumps
    # (jump) or hours (zs_mismatch); the field shadows tuple.count by design of the contract
    count: int  # type: ignore[assignment]
    detail: str
    # hour starts the fault left without a valid mean (see ``exclude_faults``), ascending
    removed_hours: tuple[int, ...] = ()


# the faults whose readings are not judged: the value itself is wrong. A gap has no
# readings; a Zs mismatch is about the logger's conversion, and the judge converts itself
EXCLUDING = frozenset({FaultKind.FLATLINE, FaultKind.JUMP, FaultKind.NEGATIVE,
                       FaultKind.INVALID_RUN})  # fmt: skip
# more spans than this in one notice's detail are summed up, not listed
_SPANS_SHOWN = 6


# --- formatting --------------------------------------------------------------------------


def _when(s: int, tz_offset_s: int) -> datetime | None:
    try:
        return datetime.fromtimestamp(s, timezone(timedelta(seconds=tz_offset_s)))
    except (OverflowError, OSError, ValueError):
        return None


def _stamp(s: int, tz_offset_s: int) -> str:
    d = _when(s, tz_offset_s)
    return f"t={s}" if d is None else d.strftime("%Y-%m-%d %H:%M")


def _span(start: int, end: int, tz_offset_s: int) -> str:
    a, b = _when(start, tz_offset_s), _when(end, tz_offset_s)
    if a is None or b is None:
        return f"t={start}–{end}"
    if a.date() == b.date():
        return f"{a:%Y-%m-%d %H:%M}–{b:%H:%M}"
    return f"{a:%Y-%m-%d %H:%M}–{b:%Y-%m-%d %H:%M}"


def _duration(seconds: float) -> str:
    s = abs(seconds)
    if s >= 365 * 86400:
        return f"{s / (365.25 * 86400):.1f} years"
    if s >= 2 * 86400:
        return f"{s / 86400:.1f} days"
    if s >= 2 * 3600:
        return f"{s / 3600:.1f} h"
    return f"{s / 60:.0f} min"


def _runs(mask: Bools, breaks: Bools | None = None) -> tuple[Ints, Ints]:
    """First and last index (inclusive) of each run of True; ``breaks[i]`` starts a new run."""
    if mask.size == 0:
        empty = np.zeros(0, dtype=np.intp)
        return empty, empty
    cont = mask[:-1] & mask[1:]  # cont[i]: the run goes on from i to i + 1
    if breaks is not None:
        cont &= ~breaks[1:]
    first = mask.copy()
    first[1:] &= ~cont
    last = mask.copy()
    last[:-1] &= ~cont
    return np.flatnonzero(first), np.flatnonzero(last)


def _flag_summary(codes: NDArray[np.uint8]) -> str:
    counts = np.bincount(codes, minlength=256)
    order = np.argsort(-counts, kind="stable")
    parts = [f"{chr(c) if c else '?'}×{counts[c]}" for c in order[:3].tolist() if counts[c] > 0]
    return ", ".join(parts)


# --- detectors ---------------------------------------------------------------------------


def detect_faults(
    t: ArrayLike,
    values: ArrayLike,
    flags_valid: ArrayLike,
    *,
    expected_period_s: int,
    flatline_min_run: int | None = None,
    jump_factor: float = 10.0,
    max_gap_s: int | None = None,
    invalid_run_min: int | None = None,
    source_stopped: ArrayLike | None = None,
    allow_negative: bool = False,
    flags: ArrayLike | None = None,
    name: str = "value",
    tz_offset_s: int = CHINA_OFFSET_S,
) -> list[Notice]:
    """Flatlines, gaps, jumps, negative values and invalid-flag runs, ordered by start.

    - flatline: ≥ ``flatline_min_run`` consecutive readings carrying a value (valid, or
      taken with the source stopped) with the identical value; default three hours of
      readings, at least 6. Readings taken with the source stopped read what a stopped
      plant reads (zero concentrations, ambient O₂ of 20.9 %): they never form a flatline
      and split one.
      Invalid readings in between neither count nor split: a stuck sensor stays stuck
      through a maintenance flag.
    - gap: more than ``max_gap_s`` without any reading, measured from the end of one
      reading's period to the next reading; default max(15 min, 3 periods), because 15
      missing minutes are enough to cost an hour its 45 valid minutes. Time before the
      first and after the last reading is unknown here and not reported.
    - jump: between consecutive valid readings not separated by a gap, a change larger
      than ``jump_factor`` × the series' robust spread (1.4826 × the median absolute
      deviation of the valid values, floored at 1 % of max(|median|, 1) so a nearly
      constant series does not turn every change into a jump); needs ≥ 10 valid readings.
      Back-to-back jumps (a spike up and down) make one notice.
    - negative: valid readings below 0, unless ``allow_negative`` (a concentration cannot
      be negative; readings already flagged invalid are covered by invalid_run instead).
    - invalid_run: ≥ ``invalid_run_min`` consecutive readings that do not count (flag not
      ``N`` or value not finite), not counting readings with the source stopped; default
      one hour of readings, at least 3. ``flags`` (str or uint8 codes), when given, lets
      the detail name the flags seen.
    """
    found = _detect(
        t, values, flags_valid, expected_period_s=expected_period_s,
        flatline_min_run=flatline_min_run, jump_factor=jump_factor, max_gap_s=max_gap_s,
        invalid_run_min=invalid_run_min, source_stopped=source_stopped,
        allow_negative=allow_negative, flags=flags, name=name, tz_offset_s=tz_offset_s,
    )  # fmt: skip
    return [n for n, _ in found.notices]


# each notice with the indices (into the sorted series) of the readings it is about
_Found = list[tuple[Notice, Ints]]


class _Detected(NamedTuple):
    ts: NDArray[np.int64]  # sorted, unique
    xs: NDArray[np.float64]
    usable: Bools  # flag valid and finite
    idx: Ints | None  # the sorting of the input (see ``unique_order``)
    notices: _Found


def _detect(
    t: ArrayLike,
    values: ArrayLike,
    flags_valid: ArrayLike,
    *,
    expected_period_s: int,
    flatline_min_run: int | None,
    jump_factor: float,
    max_gap_s: int | None,
    invalid_run_min: int | None,
    source_stopped: ArrayLike | None,
    allow_negative: bool,
    flags: ArrayLike | None,
    name: str,
    tz_offset_s: int,
) -> _Detected:
    if expected_period_s <= 0:
        raise ValueError("expected_period_s must be positive")
    period = int(expected_period_s)
    min_flat = flatline_min_run if flatline_min_run is not None else max(6, 3 * HOUR_S // period)
    min_invalid = invalid_run_min if invalid_run_min is not None else max(3, HOUR_S // period)
    gap_s = max_gap_s if max_gap_s is not None else max(900, 3 * period)

    ts = np.asarray(t, dtype=np.int64)
    xs = np.asarray(values, dtype=np.float64)
    vs = np.asarray(flags_valid, dtype=np.bool_)
    stopped = (
        np.zeros(ts.shape, dtype=np.bool_)
        if source_stopped is None
        else np.asarray(source_stopped, dtype=np.bool_)
    )
    codes = None if flags is None else _codes(flags)
    if not (ts.shape == xs.shape == vs.shape == stopped.shape) or ts.ndim != 1:
        raise ValueError("t, values, flags_valid and source_stopped must be 1-D of one length")
    if codes is not None and codes.shape != ts.shape:
        raise ValueError("flags must have the shape of t")
    idx = unique_order(ts)
    if idx is not None:
        ts, xs, vs, stopped = ts[idx], xs[idx], vs[idx], stopped[idx]
        codes = None if codes is None else codes[idx]
    finite = np.isfinite(xs)
    vs = vs & finite

    notices: _Found = []
    notices += _flatlines(
        ts, xs, vs | (stopped & finite), stopped, min_flat, period, name, tz_offset_s
    )
    notices += _gaps(ts, gap_s, period, name, tz_offset_s)
    notices += _jumps(ts, xs, vs, jump_factor, gap_s, period, name, tz_offset_s)
    if not allow_negative:
        notices += _negatives(ts, xs, vs, period, name, tz_offset_s)
    notices += _invalid_runs(ts, ~vs & ~stopped, codes, min_invalid, period, name, tz_offset_s)
    notices.sort(key=lambda found: (found[0].start, found[0].kind))
    return _Detected(ts, xs, vs, idx, notices)


def _flatlines(
    ts: NDArray[np.int64],
    xs: NDArray[np.float64],
    carries: Bools,
    stopped: Bools,
    min_run: int,
    period: int,
    name: str,
    tz: int,
) -> _Found:
    ci = np.flatnonzero(carries)
    if ci.size < min_run:
        return []
    cx = xs[ci]
    excluded = stopped[ci]
    new = np.ones(ci.size, dtype=np.bool_)
    new[1:] = (cx[1:] != cx[:-1]) | excluded[1:] | excluded[:-1]
    starts = np.flatnonzero(new)
    lengths = np.diff(np.append(starts, ci.size))
    pick = (lengths >= min_run) & ~excluded[starts]
    out: _Found = []
    for s, n in zip(starts[pick].tolist(), lengths[pick].tolist(), strict=True):
        a, b = int(ts[ci[s]]), int(ts[ci[s + n - 1]]) + period
        notice = Notice(
            FaultKind.FLATLINE,
            a,
            b,
            n,
            f"{name} stuck at {cx[s]:.2f} for {n} consecutive readings ({_span(a, b, tz)})",
        )
        out.append((notice, ci[s : s + n]))  # the stuck readings, not the invalid between
    return out


def _gaps(ts: NDArray[np.int64], gap_s: int, period: int, name: str, tz: int) -> _Found:
    if ts.size < 2:
        return []
    silent = np.diff(ts) - period
    none = np.zeros(0, dtype=np.intp)
    out: _Found = []
    for i in np.flatnonzero(silent > gap_s).tolist():
        a, b = int(ts[i]) + period, int(ts[i + 1])
        missing = (b - a) // period
        notice = Notice(
            FaultKind.GAP,
            a,
            b,
            missing,
            f"no {name} data for {_duration(b - a)} ({_span(a, b, tz)}): "
            f"{missing} readings of {period} s missing",
        )
        out.append((notice, none))
    return out


def _jumps(
    ts: NDArray[np.int64],
    xs: NDArray[np.float64],
    vs: Bools,
    factor: float,
    gap_s: int,
    period: int,
    name: str,
    tz: int,
) -> _Found:
    vi = np.flatnonzero(vs)
    if vi.size < _JUMP_MIN_READINGS:
        return []
    vx, vt = xs[vi], ts[vi]
    med = float(np.median(vx))
    spread = _MAD_SIGMA * float(np.median(np.abs(vx - med)))
    scale = max(spread, 0.01 * max(abs(med), 1.0))
    bound = factor * scale
    dx = np.diff(vx)
    joined = np.diff(vt) - period <= gap_s
    jump = (np.abs(dx) > bound) & joined
    firsts, lasts = _runs(jump)  # adjacent jumps share a reading
    out: _Found = []
    for a_i, b_i in zip(firsts.tolist(), lasts.tolist(), strict=True):
        n = b_i - a_i + 1
        a, b = int(vt[a_i]), int(vt[b_i + 1]) + period
        more = f"; {n} jumps in a row" if n > 1 else ""
        notice = Notice(
            FaultKind.JUMP,
            a,
            b,
            n,
            f"{name} jumped from {vx[a_i]:.2f} to {vx[a_i + 1]:.2f} ({_span(a, b, tz)}), "
            f"beyond {bound:.2f} = {factor:g} × robust spread {scale:.2f}{more}",
        )
        # the readings jumped to and away from again (a spike): a single jump is a change
        # of level, whose both sides are real readings as far as the series can tell
        out.append((notice, vi[a_i + 1 : b_i + 1]))
    return out


def _negatives(
    ts: NDArray[np.int64],
    xs: NDArray[np.float64],
    vs: Bools,
    period: int,
    name: str,
    tz: int,
) -> _Found:
    firsts, lasts = _runs(vs & (xs < 0.0))
    out: _Found = []
    for f, la in zip(firsts.tolist(), lasts.tolist(), strict=True):
        n = la - f + 1
        a, b = int(ts[f]), int(ts[la]) + period
        low = float(xs[f : la + 1].min())
        notice = Notice(
            FaultKind.NEGATIVE,
            a,
            b,
            n,
            f"{name} negative for {n} consecutive valid readings, down to {low:.2f} "
            f"({_span(a, b, tz)})",
        )
        out.append((notice, np.arange(f, la + 1, dtype=np.intp)))
    return out


def _invalid_runs(
    ts: NDArray[np.int64],
    invalid: Bools,
    codes: NDArray[np.uint8] | None,
    min_run: int,
    period: int,
    name: str,
    tz: int,
) -> _Found:
    firsts, lasts = _runs(invalid)
    n_all = lasts - firsts + 1
    pick = n_all >= min_run
    out: _Found = []
    for f, la in zip(firsts[pick].tolist(), lasts[pick].tolist(), strict=True):
        n = la - f + 1
        a, b = int(ts[f]), int(ts[la]) + period
        seen = "" if codes is None else f", flags {_flag_summary(codes[f : la + 1])}"
        notice = Notice(
            FaultKind.INVALID_RUN,
            a,
            b,
            n,
            f"{name} not valid for {n} consecutive readings{seen} ({_span(a, b, tz)})",
        )
        out.append((notice, np.arange(f, la + 1, dtype=np.intp)))
    return out


# --- faults make data invalid ------------------------------------------------------------


class Faults(NamedTuple):
    notices: list[Notice]  # as ``detect_faults``, each naming the hours it removed
    excluded: Bools  # in input order: readings inside a fault, not to be judged


def exclude_faults(
    t: ArrayLike,
    values: ArrayLike,
    flags_valid: ArrayLike,
    *,
    expected_period_s: int,
    min_valid: int = 45,
    flatline_min_run: int | None = None,
    jump_factor: float = 10.0,
    max_gap_s: int | None = None,
    invalid_run_min: int | None = None,
    source_stopped: ArrayLike | None = None,
    allow_negative: bool = False,
    flags: ArrayLike | None = None,
    name: str = "value",
    tz_offset_s: int = CHINA_OFFSET_S,
) -> Faults:
    """``detect_faults``, and which readings must not be judged because of them.

    Excluded are the readings a fault is about: the stuck readings of a flatline, the
    readings of a spike (jumped to and away from again; a single jump is a change of
    level and excludes nothing), the negative readings. An invalid-flag run's readings
    never counted. What is left is judged by the usual rule, so a fault covering part of
    an hour leaves the hour valid while it keeps ``min_valid`` valid minutes.

    Each notice of these kinds names in ``removed_hours`` (and its detail) the hours it
    touches that are not valid now but would be if the faults' readings counted — what
    the fault cost the judging, told to the operator.
    """
    found = _detect(
        t, values, flags_valid, expected_period_s=expected_period_s,
        flatline_min_run=flatline_min_run, jump_factor=jump_factor, max_gap_s=max_gap_s,
        invalid_run_min=invalid_run_min, source_stopped=source_stopped,
        allow_negative=allow_negative, flags=flags, name=name, tz_offset_s=tz_offset_s,
    )  # fmt: skip
    ts, xs = found.ts, found.xs
    faulty = np.zeros(ts.shape, dtype=np.bool_)
    for notice, members in found.notices:
        if notice.kind in EXCLUDING:
            faulty[members] = True
    kept = found.usable & ~faulty
    period = int(expected_period_s)
    # what the faults cost: hours valid with their readings counted, not valid without
    before = hourly_means(ts, xs, found.usable | faulty, min_valid=min_valid, period_s=period)
    after = hourly_means(ts, xs, kept, min_valid=min_valid, period_s=period)
    lost = before.hour_start[before.valid & ~after.valid]
    notices = []
    for notice, members in found.notices:
        if notice.kind not in EXCLUDING:
            notices.append(notice)
            continue
        touched = np.unique((ts[members] // HOUR_S) * HOUR_S)
        notices.append(
            with_removed_hours(notice, np.intersect1d(touched, lost).tolist(), tz_offset_s)
        )
    excluded = faulty & found.usable
    if found.idx is not None:
        # back to input order; a reading superseded by a later one of its time goes with it
        excluded = excluded[np.searchsorted(ts, np.asarray(t, dtype=np.int64))]
    return Faults(notices, excluded)


def with_removed_hours(notice: Notice, hours: Iterable[int], tz_offset_s: int) -> Notice:
    """The notice naming the hours (starts, epoch seconds) it left without a valid mean."""
    removed = tuple(sorted({int(h) for h in hours}))
    if not removed:
        return notice._replace(removed_hours=())
    spans: list[tuple[int, int]] = []
    for h in removed:
        if spans and spans[-1][1] == h:
            spans[-1] = (spans[-1][0], h + HOUR_S)
        else:
            spans.append((h, h + HOUR_S))
    shown = ", ".join(_span(a, b, tz_offset_s) for a, b in spans[:_SPANS_SHOWN])
    if len(spans) > _SPANS_SHOWN:
        shown += f" and {len(spans) - _SPANS_SHOWN} more spans"
    n = len(removed)
    detail = (
        f"{notice.detail}; not judged: {n} hour{'s' if n > 1 else ''} left without a valid "
        f"mean ({shown})"
    )
    return notice._replace(detail=detail, removed_hours=removed)


def zs_mismatch_notices(
    hour_start: ArrayLike,
    own: ArrayLike,
    zs: ArrayLike,
    *,
    rel_tol: float = 0.05,
    abs_tol: float = 0.5,
    name: str = "value",
    tz_offset_s: int = CHINA_OFFSET_S,
) -> list[Notice]:
    """One notice per run of consecutive hours where the logger's ``Zs`` value disagrees
    with the platform's own conversion (see ``aggregate.zs_check`` for the tolerance)."""
    hs = np.asarray(hour_start, dtype=np.int64)
    a_own = np.asarray(own, dtype=np.float64)
    a_zs = np.asarray(zs, dtype=np.float64)
    idx = unique_order(hs)
    if idx is not None:
        hs, a_own, a_zs = hs[idx], a_own[idx], a_zs[idx]
    bad = zs_check(a_own, a_zs, rel_tol, abs_tol)
    brk = np.ones(hs.shape, dtype=np.bool_)
    brk[1:] = np.diff(hs) != HOUR_S
    firsts, lasts = _runs(bad, brk)
    out = []
    for f, la in zip(firsts.tolist(), lasts.tolist(), strict=True):
        n = la - f + 1
        a, b = int(hs[f]), int(hs[la]) + HOUR_S
        out.append(
            Notice(
                FaultKind.ZS_MISMATCH,
                a,
                b,
                n,
                f"{name} converted value reported by the logger differs from ours for {n} "
                f"hours, e.g. {a_zs[f]:.2f} vs {a_own[f]:.2f} at "
                f"{_stamp(a, tz_offset_s)} ({_span(a, b, tz_offset_s)})",
            )
        )
    return out


class ClockSkew(NamedTuple):
    skewed: Bools  # in input order: readings whose time cannot be trusted for compliance
    notices: list[Notice]
    # per notice, the input indices of its readings (to name the hours they cost)
    members: tuple[Ints, ...] = ()


def clock_skew(
    data_time_s: ArrayLike,
    receive_time_s: ArrayLike,
    *,
    max_skew_s: int = 3600,
    max_backlog_s: int = 30 * 86400,
    name: str = "value",
    tz_offset_s: int = CHINA_OFFSET_S,
) -> ClockSkew:
    """Readings whose device time is far from the time the platform received them.

    Ahead of receipt by more than ``max_skew_s`` is always a wrong clock. Behind is
    normal up to a point, since a period is sent after it ends and loggers resend
    backlogs after an outage, so only more than ``max_backlog_s`` (30 days) behind counts;
    that still catches loggers reporting the year 2000. One notice per run of consecutive
    skewed readings in receive order, per direction.
    """
    dt = np.asarray(data_time_s, dtype=np.int64)
    rt = np.asarray(receive_time_s, dtype=np.int64)
    if dt.shape != rt.shape or dt.ndim != 1:
        raise ValueError("data_time_s and receive_time_s must be 1-D of one length")
    offset = dt - rt
    ahead = offset > max_skew_s
    behind = offset < -max_backlog_s
    order = np.argsort(rt, kind="stable")
    notices: list[tuple[Notice, Ints]] = []
    for mask, word in ((ahead[order], "ahead of"), (behind[order], "behind")):
        firsts, lasts = _runs(mask)
        for f, la in zip(firsts.tolist(), lasts.tolist(), strict=True):
            rows = order[f : la + 1]
            n = la - f + 1
            first = int(rows[0])
            typical = float(np.median(offset[rows]))
            a, b = int(rt[rows[0]]), int(rt[rows[-1]])
            notice = Notice(
                FaultKind.CLOCK_SKEW,
                a,
                b,
                n,
                f"device clock {_duration(typical)} {word} the receive time for {n} "
                f"{name} readings, e.g. data time {_stamp(int(dt[first]), tz_offset_s)} "
                f"received {_stamp(int(rt[first]), tz_offset_s)}",
            )
            notices.append((notice, rows.astype(np.intp)))
    notices.sort(key=lambda x: x[0].start)
    return ClockSkew(ahead | behind, [n for n, _ in notices], tuple(rows for _, rows in notices))
