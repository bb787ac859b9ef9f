"""Judging a monitoring point: valid hourly means, exceedance episodes, notices, records.

For each registered point and each pollutant its limit set names: the stored minute data
(CN 2051; real-time data CN 2011 rolled up to minutes where a point sends no minute data)
becomes hourly means (≥ 45 valid minutes, flag N only), converted to the reference oxygen;
valid hours above the limit form episodes. An episode that reaches the rulebook's
threshold becomes one `record.issued` through the normal intake — resting on automated
data, so it counts toward nothing until a person confirms it. Faults of the instrument
(stuck values, gaps, jumps, negative values, runs of invalid flags, clocks far off) become
notices, never records: the readings inside a fault are left out before hours are formed
(`faults.exclude_faults`; a clock far off, by not trusting its readings), so no hour of a
broken sensor — the pollutant's or the O₂ it is converted with — can make an episode, and
each notice names the hours it removed.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
from numpy.typing import NDArray

from trustledger.intake import Intake
from trustledger.ledger.canonical import canonical_json
from trustledger.monitoring.aggregate import (
    CHINA_OFFSET_S,
    Episode,
    FlagMasks,
    classify_flags,
    daily_means,
    episodes_meeting,
    exceedance_episodes,
    hourly_means,
    judge_series,
    minute_rollup,
)
from trustledger.monitoring.assessment import Assessment
from trustledger.monitoring.faults import (
    ClockSkew,
    clock_skew,
    exclude_faults,
    with_removed_hours,
    zs_mismatch_notices,
)
from trustledger.monitoring.faults import Notice as FaultNotice
from trustledger.monitoring.store import MonitoringStore, Notice, Point, StoredPacket
from trustledger.pollutants import describe
from trustledger.rulebook.schema import LimitSet, MonitoringDef, Rulebook

OXYGEN = "a19001"
MINUTE_DATA = "2051"
REAL_TIME = "2011"
HOUR_S = 3600
WINDOW_DAYS = 7  # how far back each judging run looks
MAX_GAP_PERIODS = 24  # invalid or missing hours (days) in a row that close an episode
# data before a span that fault detection also reads: the longest run a detector needs
# (a flatline, 3 hours), so a stuck run that began before the span is still seen whole
FAULT_LOOKBACK_S = 3 * HOUR_S


class JudgeError(ValueError):
    """A point that cannot be judged as registered (no rulebook, no such limit set)."""


@dataclass
class Series:
    """One pollutant's readings at one point, in arrival order."""

    t: list[int] = field(default_factory=list)  # period start, epoch seconds
    value: list[float] = field(default_factory=list)
    zs: list[float] = field(default_factory=list)
    flag: list[str] = field(default_factory=list)
    received: list[int] = field(default_factory=list)  # epoch seconds
    dialect: list[str] = field(default_factory=list)
    digest: list[str] = field(default_factory=list)

    @functools.cached_property
    def flags(self) -> FlagMasks:
        """Flag meanings by each reading's own dialect (F means different things)."""
        flags = np.array(self.flag, dtype=object)
        dialects = np.array(self.dialect, dtype=object)
        masks = FlagMasks(*(np.zeros(len(self.flag), dtype=np.bool_) for _ in range(3)))
        for dialect in set(self.dialect):
            where = dialects == dialect
            for out, part in zip(masks, classify_flags(flags[where].astype(str), dialect),
                                 strict=True):  # fmt: skip
                out[where] = part
        return masks


@dataclass
class PointOutcome:
    mn: str
    hours_judged: int = 0
    episodes: int = 0
    records: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    # records corrected to cite the evidence of an episode that grew after they were issued
    corrected: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    notices: int = 0
    # the compliance assessments of the subject whose first point this is
    assessments: list[Assessment] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k != "assessments"}
        out["assessments"] = [a.to_json() for a in self.assessments]
        return out


def local_epoch(text: str, offset_s: int = CHINA_OFFSET_S) -> int:
    """Epoch seconds of a device-local ISO time (China Standard Time has no DST)."""
    moment = datetime.fromisoformat(text).replace(tzinfo=UTC)
    return int(moment.timestamp()) - offset_s


def local_text(epoch_s: int, offset_s: int = CHINA_OFFSET_S) -> str:
    moment = datetime.fromtimestamp(epoch_s + offset_s, UTC).replace(tzinfo=None)
    return moment.isoformat(timespec="minutes")


def collect(packets: Sequence[StoredPacket], field_name: str, zs_name: str) -> dict[str, Series]:
    """Per pollutant: the readings of one command's packets."""
    series: dict[str, Series] = defaultdict(Series)
    for p in packets:
        if p.data_time is None:
            continue
        t = local_epoch(p.data_time)
        for code, reading in p.readings.items():
            value = reading["values"].get(field_name)
            if value is None:
                continue
            s = series[code]
            s.t.append(t)
            s.value.append(float(value))
            s.zs.append(float(reading["values"].get(zs_name, np.nan)))
            s.flag.append(reading.get("flag") or "")
            s.received.append(p.received_us // 1_000_000)
            s.dialect.append(p.dialect)
            s.digest.append(p.digest)
    return series


def _name(code: str) -> str:
    pollutant = describe(code)
    return pollutant.name if pollutant is not None else code


def _minutes(
    store: MonitoringStore, mn: str, since: tuple[str, int] | None = None
) -> tuple[dict[str, Series], int]:
    """Minute data where the point sends it; otherwise real-time data rolled to minutes.
    Returns the series and their period in seconds."""
    minute = collect(store.packets(mn, [MINUTE_DATA], since), "Avg", "ZsAvg")
    if minute:
        return minute, _period(minute)
    realtime = collect(store.packets(mn, [REAL_TIME], since), "Rtd", "ZsRtd")
    return realtime, 0  # 0: roll up first


def _period(series: dict[str, Series]) -> int:
    """The minute-data interval (1–30 min): the commonest step between readings."""
    steps: list[int] = []
    for s in series.values():
        ts = np.unique(np.asarray(s.t, dtype=np.int64))
        if ts.size > 1:
            steps.extend(np.diff(ts).tolist())
    if not steps:
        return 60
    values, counts = np.unique(np.asarray(steps), return_counts=True)
    step = int(values[np.argmax(counts)])
    return min(max(step, 60), 1800)


@dataclass
class _Prepared:
    t: NDArray[np.int64]
    value: NDArray[np.float64]
    zs: NDArray[np.float64]
    valid: NDArray[np.bool_]
    stopped: NDArray[np.bool_]  # the source, not the instrument, was stopped (2005 flag F)
    digests: list[tuple[str, ...]]  # the packets behind each row
    period_s: int


def _prepare(s: Series, period_s: int, trusted: NDArray[np.bool_]) -> _Prepared:
    """Readings whose clock is trusted, as minute-or-longer periods."""
    t = np.asarray(s.t, dtype=np.int64)[trusted]
    value = np.asarray(s.value, dtype=np.float64)[trusted]
    zs = np.asarray(s.zs, dtype=np.float64)[trusted]
    masks = s.flags
    valid, stopped = masks.valid[trusted], masks.source_stopped[trusted]
    digests = [d for d, ok in zip(s.digest, trusted.tolist(), strict=True) if ok]
    if period_s:
        return _Prepared(t, value, zs, valid, stopped, [(d,) for d in digests], period_s)
    rolled = minute_rollup(t, value, valid, 60)
    zs_rolled = minute_rollup(t, zs, valid & np.isfinite(zs), 60)
    # a minute counts as stopped when most of its readings say so (the 75 % rule)
    stopped_rolled = minute_rollup(t, stopped.astype(np.float64), stopped, 60)
    minutes = rolled.minute_start.tolist()
    zs_by_minute = dict(zip(zs_rolled.minute_start.tolist(), zs_rolled.mean.tolist(), strict=True))
    stopped_by_minute = dict(
        zip(stopped_rolled.minute_start.tolist(), stopped_rolled.valid.tolist(), strict=True)
    )
    behind: dict[int, list[str]] = defaultdict(list)
    for moment, digest in zip(((t // 60) * 60).tolist(), digests, strict=True):
        behind[moment].append(digest)
    return _Prepared(
        rolled.minute_start, rolled.mean,
        np.array([zs_by_minute.get(m, np.nan) for m in minutes]), rolled.valid,
        np.array([stopped_by_minute.get(m, False) for m in minutes], dtype=np.bool_),
        [tuple(behind[m]) for m in minutes], 60,
    )  # fmt: skip


def _fault_free(
    p: _Prepared, code: str, context: _Prepared | None = None
) -> tuple[_Prepared, list[FaultNotice]]:
    """The readings with those inside a detected fault no longer valid, and the notices;
    faults are looked for in ``context`` (``p`` and the readings just before it) if given."""
    basis = p if context is None else context
    pollutant = describe(code)
    concentration = pollutant is not None and pollutant.kind == "concentration"
    found = exclude_faults(
        basis.t, basis.value, basis.valid, expected_period_s=basis.period_s, name=_name(code),
        allow_negative=not concentration, source_stopped=basis.stopped,
    )  # fmt: skip
    if not found.excluded.any():
        return p, found.notices
    excluded = found.excluded if context is None else np.isin(p.t, basis.t[found.excluded])
    return dataclasses.replace(p, valid=p.valid & ~excluded), found.notices


def _within(s: Series, start_s: int) -> Series:
    """The readings for periods from ``start_s`` or received since then (as
    `MonitoringStore.packets` selects them), of a series read from earlier."""
    rows = [i for i, (t, r) in enumerate(zip(s.t, s.received, strict=True))
            if t >= start_s or r >= start_s]  # fmt: skip
    if len(rows) == len(s.t):
        return s
    return Series([s.t[i] for i in rows], [s.value[i] for i in rows], [s.zs[i] for i in rows],
                  [s.flag[i] for i in rows], [s.received[i] for i in rows],
                  [s.dialect[i] for i in rows], [s.digest[i] for i in rows])  # fmt: skip


def _trusted(s: Series, period_s: int) -> _Prepared:
    """The series' readings whose clock is trusted, prepared."""
    ts, received = np.asarray(s.t, dtype=np.int64), np.asarray(s.received, dtype=np.int64)
    return _prepare(s, period_s, ~clock_skew(ts, received).skewed)


def _valid_hours(p: _Prepared) -> set[int]:
    """The hours with enough valid minutes of this one series (the 45-minute rule)."""
    hours = hourly_means(p.t, p.value, p.valid, period_s=p.period_s)
    return set(hours.hour_start[hours.valid].tolist())


def _skew_notices(s: Series, period_s: int, skew: ClockSkew, kept: _Prepared) -> list[FaultNotice]:
    """The clock-skew notices naming the (device-time) hours their readings would have
    made valid, had their time been trusted."""
    if not skew.notices:
        return []
    everything = _prepare(s, period_s, np.ones(len(s.t), dtype=np.bool_))
    lost = _valid_hours(everything) - _valid_hours(kept)
    t = np.asarray(s.t, dtype=np.int64)
    return [
        with_removed_hours(n, lost & set(((t[rows] // HOUR_S) * HOUR_S).tolist()),
                           CHINA_OFFSET_S)
        for n, rows in zip(skew.notices, skew.members, strict=True)
    ]  # fmt: skip


def judge_point(
    store: MonitoringStore,
    intake: Intake,
    point: Point,
    rulebook: Rulebook,
    *,
    today: date,
    now_us: int,
    window_start: datetime | None = None,
) -> PointOutcome:
    """Judge the point's data from ``window_start`` (device-local; default
    `WINDOW_DAYS` before today). An episode running at the window's start continues the
    stored one it extends, so a window never splits one exceedance into two records."""
    monitoring = rulebook.monitoring
    if monitoring is None:
        raise JudgeError(f"rulebook {rulebook.id} has no monitoring section")
    limit_set = monitoring.limit_set(point.limit_set)
    if limit_set is None:
        raise JudgeError(f"rulebook {rulebook.id} has no limit set {point.limit_set}")
    outcome = PointOutcome(point.mn)
    if window_start is None:
        window_start = datetime.combine(today - timedelta(days=WINDOW_DAYS), datetime.min.time())
    start_s = local_epoch(window_start.isoformat())
    # also what arrived since the window's start, whatever its device time: a clock far
    # off is still seen and reported
    received_since = start_s * 1_000_000
    looked_back = window_start - timedelta(seconds=FAULT_LOOKBACK_S)
    wider, period_s = _minutes(
        store, point.mn, (looked_back.isoformat(timespec="seconds"), received_since)
    )
    notices: list[Notice] = []
    prepared: dict[str, _Prepared] = {}
    for code, w in wider.items():
        s = _within(w, start_s)  # the readings the window holds, judged
        if not s.t:
            continue
        skew = clock_skew(
            np.asarray(s.t, dtype=np.int64),
            np.asarray(s.received, dtype=np.int64),
            name=_name(code),
        )
        kept = _prepare(s, period_s, ~skew.skewed)
        notices += [_notice(point.mn, code, n) for n in _skew_notices(s, period_s, skew, kept)]
        # every series first, O₂ included: a pollutant is converted with the O₂ as judged
        prepared[code], faults = _fault_free(kept, code, _trusted(w, period_s) if w is not s
                                             else None)  # fmt: skip
        # a fault wholly before the window is no news of this window's data
        notices += [_notice(point.mn, code, n) for n in faults if n.end > start_s]
        review = s.flags.review
        if review.any():
            ts = np.asarray(s.t, dtype=np.int64)[review]
            notices.append(
                Notice(point.mn, code, "above_range", int(ts.min()), int(ts.max()),
                       int(review.sum()),
                       f"{_name(code)} above the instrument's range (flag T) in "
                       f"{int(review.sum())} readings: to review, not judged as a number")
            )  # fmt: skip
    o2 = prepared.get(OXYGEN)
    for code, p in prepared.items():
        limit = limit_set.limits.get(code)
        if limit is None:
            continue
        outcome_hours, episodes = _judge(p, o2, limit_set, limit)
        outcome.hours_judged += int(outcome_hours["valid"].sum())
        if np.isfinite(p.zs).any():
            notices += [
                _notice(point.mn, code, n)
                for n in zs_mismatch_notices(
                    outcome_hours["hour_start"], outcome_hours["converted"],
                    outcome_hours["zs"], name=_name(code),
                )
            ]  # fmt: skip
        for found in episodes:
            episode, carried = _continued(store, point.mn, code, limit_set, found, start_s)
            outcome.episodes += 1
            _record_episode(
                store, intake, point, rulebook, monitoring, limit_set, code, limit, episode,
                p, today=today, now_us=now_us, outcome=outcome, carried=carried,
            )  # fmt: skip
    outcome.notices = store.save_notices(notices, now_us)
    return outcome


@dataclass(frozen=True)
class JudgedMeans:
    """One pollutant's means at one point over a span, as the judge sees them: the hour
    (day) starts, which are valid, their values at the reference O₂, the limit."""

    pollutant: str
    start: NDArray[np.int64]
    valid: NDArray[np.bool_]
    value: NDArray[np.float64]
    limit: float
    period_s: int
    packets: frozenset[str]  # the packets behind the valid means


def judged_means(
    store: MonitoringStore, point: Point, limit_set: LimitSet, *, start_s: int, end_s: int
) -> list[JudgedMeans]:
    """Every limited pollutant's hourly (daily, for daily averaging) means with their
    validity over ``[start_s, end_s)``, judged exactly as `judge_point` judges them:
    readings with a clock far off untrusted, flags per dialect, the readings inside a
    fault left out, 45 valid minutes an hour, the reference-oxygen conversion, 20 valid
    hours a day."""
    since = (local_text(start_s - FAULT_LOOKBACK_S), start_s * 1_000_000)
    series, period_s = _minutes(store, point.mn, since)
    prepared: dict[str, _Prepared] = {}
    for code, s in series.items():
        # faults are found as the judge finds them, over the data around the span too: a
        # stuck run crossing its start or its end is no shorter for it
        kept, _ = _fault_free(_trusted(s, period_s), code)
        prepared[code] = _between(kept, start_s, end_s)
    o2 = prepared.get(OXYGEN)
    out: list[JudgedMeans] = []
    for code, p in prepared.items():
        limit = limit_set.limits.get(code)
        if limit is None:
            continue
        hours, _ = _judge(p, o2, limit_set, limit)
        starts, valid, value = hours["hour_start"], hours["valid"], hours["converted"]
        period = HOUR_S
        if limit_set.averaging == "daily":
            days = daily_means(starts, value, valid)
            starts, valid, value, period = days.day_start, days.valid, days.mean, 86400
        # the packets whose readings fall in a valid mean's hour (day)
        bucket = (p.t // HOUR_S) * HOUR_S
        if period != HOUR_S:
            bucket = ((p.t + CHINA_OFFSET_S) // period) * period - CHINA_OFFSET_S
        used = np.isin(bucket, starts[valid]) & p.valid
        packets = frozenset(
            d for ds, ok in zip(p.digests, used.tolist(), strict=True) if ok for d in ds
        )
        out.append(JudgedMeans(code, starts, valid, value, limit, period, packets))
    return out


def _between(p: _Prepared, start_s: int, end_s: int) -> _Prepared:
    keep = (p.t >= start_s) & (p.t < end_s)
    if keep.all():
        return p
    digests = [d for d, ok in zip(p.digests, keep.tolist(), strict=True) if ok]
    return _Prepared(p.t[keep], p.value[keep], p.zs[keep], p.valid[keep], p.stopped[keep],
                     digests, p.period_s)  # fmt: skip


def _judge(
    p: _Prepared, o2: _Prepared | None, limit_set: LimitSet, limit: float
) -> tuple[dict[str, NDArray[Any]], list[Episode]]:
    o2_values: NDArray[np.float64] | None = None
    o2_valid: NDArray[np.bool_] | None = None
    if limit_set.reference_o2 is not None:
        # O₂ at the concentration's timestamps; a missing O₂ reading makes the minute unjudgeable
        o2_values = np.full(p.t.shape, np.nan)
        o2_valid = np.zeros(p.t.shape, dtype=np.bool_)
        if o2 is not None:
            index = {t: i for i, t in enumerate(o2.t.tolist())}
            for i, t in enumerate(p.t.tolist()):
                j = index.get(t)
                if j is not None:
                    o2_values[i] = o2.value[j]
                    o2_valid[i] = o2.valid[j]
    judged = judge_series(
        p.t, p.value, p.valid, o2_values, o2_ref=limit_set.reference_o2, limit=limit,
        period_s=p.period_s, o2_valid=o2_valid,
    )  # fmt: skip
    hours = judged.hours
    zs_hourly = _hourly_zs(p, hours.hour_start)
    out: dict[str, NDArray[Any]] = {
        "hour_start": hours.hour_start,
        "converted": hours.converted,
        "valid": hours.valid,
        "zs": zs_hourly,
    }
    if limit_set.averaging == "daily":
        days = daily_means(hours.hour_start, hours.converted, hours.valid)
        episodes = exceedance_episodes(days.day_start, days.mean, days.valid, limit,
                                       max_gap_hours=MAX_GAP_PERIODS * 24)  # fmt: skip
        return out, episodes
    return out, judged.episodes


def _hourly_zs(p: _Prepared, hour_start: NDArray[np.int64]) -> NDArray[np.float64]:
    """The logger's own converted values, averaged per hour over the valid minutes."""
    zs = hourly_means(p.t, p.zs, p.valid & np.isfinite(p.zs), min_valid=1, period_s=p.period_s)
    by_hour = dict(zip(zs.hour_start.tolist(), zs.mean.tolist(), strict=True))
    return np.array([by_hour.get(h, np.nan) for h in hour_start.tolist()], dtype=np.float64)


def _notice(mn: str, code: str, n: Any) -> Notice:
    return Notice(mn, code, str(n.kind), int(n.start), int(n.end), int(n.count), n.detail)


def _continued(
    store: MonitoringStore, mn: str, code: str, limit_set: LimitSet, found: Episode, start_s: int
) -> tuple[Episode, list[str]]:
    """``found`` joined to the stored episode it continues across the window's start, with
    the packet digests of the hours before the window; or ``found`` as it is."""
    period = HOUR_S if limit_set.averaging == "hourly" else 86400
    gap = MAX_GAP_PERIODS * period
    if found.first_hour > start_s + gap:
        return found, []  # begins well inside the window: nothing before it can join
    row = store.episode_reaching(mn, code, limit_set.id, start_s, found.first_hour - gap - period)
    if row is None:
        return found, []
    evidence = json.loads(row[9])
    before = [
        (local_epoch(text), float(value))
        for text, value in evidence["values"]
        if local_epoch(text) < found.first_hour
    ]
    values = (*before, *found.values)
    joined = Episode(
        int(row[5]), found.last_hour, len(values), max(v for _, v in values), tuple(values)
    )
    return joined, list(evidence["packets"])


def episode_key(mn: str, code: str, limit_set: str, first_hour: int) -> str:
    """Point, pollutant, limit set and first hour: a replay finds the same episode."""
    text = f"{mn}|{code}|{limit_set}|{first_hour}"
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def _record_episode(
    store: MonitoringStore,
    intake: Intake,
    point: Point,
    rulebook: Rulebook,
    monitoring: MonitoringDef,
    limit_set: LimitSet,
    code: str,
    limit: float,
    episode: Episode,
    p: _Prepared,
    *,
    today: date,
    now_us: int,
    outcome: PointOutcome,
    carried: Sequence[str] = (),
) -> None:
    key = episode_key(point.mn, code, limit_set.id, episode.first_hour)
    period = HOUR_S if limit_set.averaging == "hourly" else 86400
    # the packets whose readings made the exceedance hours (or days)
    starts = np.asarray([h for h, _ in episode.values], dtype=np.int64)
    bucket = (p.t // period) * period
    if limit_set.averaging == "daily":
        bucket = ((p.t + CHINA_OFFSET_S) // period) * period - CHINA_OFFSET_S
    used = np.isin(bucket, starts) & p.valid
    digests = sorted(
        {d for ds, ok in zip(p.digests, used.tolist(), strict=True) if ok for d in ds}
        | set(carried)
    )
    unit = "day" if limit_set.averaging == "daily" else "hour"
    evidence = {
        "point": point.mn,
        "subject": point.subject,
        "outlet": point.outlet,
        "pollutant": code,
        "rulebook": f"{rulebook.id}@{rulebook.version}",
        "limit_set": limit_set.id,
        # numbers as decimal text: canonical JSON (RFC 8785) in the ledger admits no floats
        "limit_mg_m3": f"{limit:g}",
        "reference_o2": None if limit_set.reference_o2 is None else f"{limit_set.reference_o2:g}",
        "averaging": limit_set.averaging,
        "threshold": monitoring.episode_min_hours,
        "legal_basis": [str(b) for b in (*monitoring.legal_basis, *limit_set.legal_basis)],
        "values": [[local_text(h), f"{v:.3f}"] for h, v in episode.values],
        "packets": digests,
    }
    digest = "sha256:" + hashlib.sha256(canonical_json(evidence)).hexdigest()
    name = _name(code)
    first = local_text(episode.first_hour)
    last = local_text(episode.last_hour + period)
    title = (
        f"{name} above {limit:g} mg/m³ ({limit_set.title}"
        + (f", {limit_set.reference_o2:g}% O₂" if limit_set.reference_o2 is not None else "")
        + f") for {episode.hours} valid {unit}{'s' if episode.hours > 1 else ''}, "
        f"{first} to {last}, monitoring point {point.mn} ({point.outlet}); "
        f"max {episode.max_value:.1f} mg/m³"
    )
    record_id: str | None = None
    meets = bool(episodes_meeting([episode], monitoring.episode_min_hours))
    if meets:
        line = {
            "op": "issue",
            "authority": point.authority,
            "category": monitoring.category,
            "subject": point.subject,
            "document_number": f"HJ212-{point.mn}-{code}-{limit_set.id}-"
            f"{first.replace('-', '').replace(':', '').replace('T', '')}",
            "decision_type": "administrative_decision",
            "decision_date": today.isoformat(),
            "publication_date": today.isoformat(),
            "title": title[:2000],
            "evidence_digest": digest,
            "basis": "automated",
        }
        result = intake.submit(line)
        if result.outcome == "accepted":
            outcome.records.append(str(result.ref))
        elif result.outcome == "duplicate":
            outcome.duplicates.append(str(result.ref))
            _correct_if_grown(store, intake, point, str(result.ref), digest, title[:2000],
                              line["document_number"], today=today, outcome=outcome)  # fmt: skip
        else:
            outcome.rejected.append(f"{key}: {result.reason}")
        record_id = str(result.ref) if result.ref else None
    store.save_episode(
        (key, point.mn, code, limit_set.id, limit, episode.first_hour, episode.last_hour,
         episode.hours, episode.max_value, canonical_json(evidence).decode(), record_id,
         now_us)
    )  # fmt: skip


def _correct_if_grown(
    store: MonitoringStore, intake: Intake, point: Point, record_id: str, digest: str,
    title: str, document_number: str, *, today: date, outcome: PointOutcome,
) -> None:  # fmt: skip
    """An episode that grew after its record was issued: the record is corrected in the
    ledger to cite the new evidence (its digest and title), never left citing evidence
    the episode's row no longer holds."""
    record = store.store.get_row("records", record_id)
    if record is None or record.evidence_digest == digest:
        return
    result = intake.submit(
        {"op": "correct", "authority": point.authority, "record": record_id,
         # one correction per evidence version: a replay finds it a duplicate
         "document_number": f"{document_number}-E{digest.removeprefix('sha256:')[:16]}",
         "effective_date": today.isoformat(),
         "reason": "the exceedance continued after the record was issued: new evidence",
         "changes": {"evidence_digest": digest, "title": title}}
    )  # fmt: skip
    if result.outcome == "rejected":
        outcome.rejected.append(f"{record_id}: correcting its evidence: {result.reason}")
    elif result.outcome == "accepted":
        outcome.corrected.append(record_id)


def evidence_of(store: MonitoringStore, key: str) -> dict[str, Any] | None:
    row = store.episode(key)
    return None if row is None else dict(json.loads(row[9]))


def series_view(
    store: MonitoringStore, point: Point, rulebook: Rulebook, *, days: int = 7
) -> dict[str, Any]:
    """Hourly series per pollutant of the last ``days`` days (device time), with the
    limit, validity and the point's episodes."""
    monitoring = rulebook.monitoring
    limit_set = monitoring.limit_set(point.limit_set) if monitoring else None
    since = datetime.combine(today_in() - timedelta(days=days), datetime.min.time())
    # by device time only: this shows the series, it does not look for skewed clocks
    series, period_s = _minutes(store, point.mn, (since.isoformat(timespec="seconds"), 2**62))
    # the hours a fault removed are shown as not valid, as they were judged
    prepared = {
        code: _fault_free(_prepare(s, period_s, np.ones(len(s.t), dtype=np.bool_)), code)[0]
        for code, s in series.items()
        if code == OXYGEN or (limit_set is not None and code in limit_set.limits)
    }
    o2 = prepared.get(OXYGEN)
    out: dict[str, Any] = {"mn": point.mn, "subject": point.subject, "pollutants": {}}
    for code, p in sorted(prepared.items()):
        if limit_set is None or code not in limit_set.limits:
            continue
        hours, _ = _judge(p, o2, limit_set, limit_set.limits[code])
        start = hours["hour_start"]
        keep = start >= (start.max() - days * 86400) if start.size else start >= 0
        out["pollutants"][code] = {
            "name": _name(code),
            "limit": limit_set.limits[code],
            "limit_set": limit_set.id,
            "reference_o2": limit_set.reference_o2,
            "hours": [
                {"hour": local_text(int(h)), "converted": None if not np.isfinite(c) else round(
                    float(c), 3), "valid": bool(v)}
                for h, c, v in zip(start[keep].tolist(), hours["converted"][keep].tolist(),
                                   hours["valid"][keep].tolist(), strict=True)
            ],
        }  # fmt: skip
    out["episodes"] = [
        {"key": r[0], "pollutant": r[2], "limit_set": r[3], "limit": r[4],
         "first_hour": local_text(int(r[5])), "last_hour": local_text(int(r[6])),
         "hours": int(r[7]), "max": r[8], "record": r[10]}
        for r in store.episodes(point.mn)
    ]  # fmt: skip
    return out


def today_in(offset_s: int = CHINA_OFFSET_S) -> date:
    return (datetime.now(UTC) + timedelta(seconds=offset_s)).date()
