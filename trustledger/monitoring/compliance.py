"""The "compliant emissions" indicator: a subject's compliance rate of valid monitoring means.

Over the rulebook's evaluation period (ending the day before the assessment), every valid
hourly mean (daily mean, for daily averaging) of every limited pollutant at every point the
subject has under the rulebook is one measurement; the rate is the share within its limit.
Only valid data counts, judged exactly as exceedances are (`judge.judged_means`), and a
rate needs enough of it: at least `min_valid_hours` valid means and `min_coverage` % of the
periods from the point's first reading in the period to the period's end — a logger that
falls silent does not keep a good rate, it loses its rating. Without a rate the subject
gets no record and the point a data-quality notice: no data, no grade (never green).

The rate falls into one of the rulebook's bands (Huanfa [2013] No. 150: ≥ 90 %, 75–90 %,
50–75 %, < 50 %); the assessment is one record in that band's measured category, issued
through the normal intake with its evidence (counts, period, packets) digested, at most once
per `assess_every`. A measured record counts at once: it rests on valid data alone and
decides no violation (exceedance records still wait for a person's confirmation).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Collection
from datetime import date, datetime, timedelta
from typing import Any

from trustledger.intake import Intake
from trustledger.ledger.canonical import canonical_json
from trustledger.ledger.store import Store
from trustledger.monitoring.assessment import Assessment, Rate
from trustledger.monitoring.judge import JudgedMeans, judged_means, local_epoch
from trustledger.monitoring.store import MonitoringStore, Notice, Point
from trustledger.rulebook.schema import ComplianceBand, ComplianceDef, Rulebook

_ENDED = ("revoked", "ended", "repaired")


def indicator_points(compliance: ComplianceDef, rate: float) -> tuple[ComplianceBand, float]:
    """The band of a rate and the indicator's points, linear across the band (its bottom
    rate gives the bottom points, the next band's bottom the top points)."""
    band = compliance.band_of(rate)
    index = compliance.bands.index(band)
    top_rate = 100 if index == 0 else compliance.bands[index - 1].min_rate
    low, high = band.points
    share = (rate - band.min_rate) / (top_rate - band.min_rate) if top_rate > band.min_rate else 1
    return band, low + (high - low) * min(max(share, 0.0), 1.0)


def _midnight(day: date) -> int:
    return local_epoch(datetime.combine(day, datetime.min.time()).isoformat())


def measure(
    mstore: MonitoringStore, points: list[Point], rulebook: Rulebook, *, today: date
) -> Rate:
    """The counts over the period ending the day before ``today``, pooled over the points
    and their limited pollutants."""
    assert rulebook.monitoring is not None and rulebook.monitoring.compliance is not None
    compliance = rulebook.monitoring.compliance
    first_day = compliance.period.before(today)
    start_s, end_s = _midnight(first_day), _midnight(today)
    valid = compliant = expected = 0
    rows: list[dict[str, Any]] = []
    packets: set[str] = set()
    for point in points:
        limit_set = rulebook.monitoring.limit_set(point.limit_set)
        if limit_set is None:
            continue
        for means in judged_means(mstore, point, limit_set, start_s=start_s, end_s=end_s):
            row = _count(point, limit_set.id, means, end_s)
            valid, compliant, expected = (
                valid + row["valid"], compliant + row["compliant"], expected + row["expected"]
            )  # fmt: skip
            rows.append(row)
            packets |= means.packets
    return Rate(first_day, today - timedelta(days=1), valid, compliant, expected, tuple(rows),
                frozenset(packets))  # fmt: skip


def _count(point: Point, limit_set: str, means: JudgedMeans, end_s: int) -> dict[str, Any]:
    n_valid = int(means.valid.sum())
    within = int((means.value[means.valid] <= means.limit).sum())
    # every period from the first reading to the period's end was due, read or not
    first = int(means.start.min()) if means.start.size else end_s
    due = max(0, -(-(end_s - first) // means.period_s))
    return {
        "point": point.mn,
        "pollutant": means.pollutant,
        "limit_set": limit_set,
        "limit_mg_m3": f"{means.limit:g}",
        "unit": "day" if means.period_s != 3600 else "hour",
        "valid": n_valid,
        "compliant": within,
        "expected": due,
    }


def assess_subject(
    store: Store,
    mstore: MonitoringStore,
    intake: Intake,
    subject: str,
    points: list[Point],
    rulebook: Rulebook,
    *,
    today: date,
    now_us: int,
) -> Assessment:
    """Measure the subject's rate and, when due and there is enough valid data, issue the
    assessment record of its band; otherwise say why not."""
    assert rulebook.monitoring is not None and rulebook.monitoring.compliance is not None
    compliance = rulebook.monitoring.compliance
    rate = measure(mstore, points, rulebook, today=today)
    found = Assessment(subject, rulebook.id, rate)
    if not rate.enough(compliance):
        found.detail = (
            f"too few valid means to rate emissions compliance from {rate.period_start} to "
            f"{rate.period_end}: {rate.valid} valid of {rate.expected} due "
            f"({rate.coverage:.1f} %; {compliance.min_valid_hours} and "
            f"{compliance.min_coverage} % needed); no grade rests on monitoring until there are"
        )
        found.notices = [
            Notice(p.mn, "", "unrated", _midnight(rate.period_start), _midnight(today), rate.valid,
                   found.detail)
            for p in points
        ]  # fmt: skip
        return found
    band, points_ = indicator_points(compliance, rate.rate)
    found.band, found.indicator_points = band, points_
    latest = _latest_assessment(store, subject, compliance)
    if latest is not None and compliance.assess_every.after(latest) > today:
        found.outcome = "not_due"
        found.detail = (
            f"assessed on {latest}; the next is due on {compliance.assess_every.after(latest)}"
        )
        return found
    evidence = {
        "subject": subject,
        "rulebook": f"{rulebook.id}@{rulebook.version}",
        "period": [rate.period_start.isoformat(), rate.period_end.isoformat()],
        # numbers as decimal text: canonical JSON (RFC 8785) in the ledger admits no floats
        "rate_percent": f"{rate.rate:.2f}",
        "coverage_percent": f"{rate.coverage:.2f}",
        "band": {"min_rate": band.min_rate, "category": band.category},
        "indicator_points": f"{points_:.1f}",
        "measurements": list(rate.by_pollutant),
        "legal_basis": [str(b) for b in compliance.legal_basis],
        "packets_sha256": hashlib.sha256("\n".join(sorted(rate.packets)).encode()).hexdigest(),
    }
    digest = "sha256:" + hashlib.sha256(canonical_json(evidence)).hexdigest()
    authority = min(points, key=lambda p: p.mn).authority
    unit = (
        "means"
        if len({r["unit"] for r in rate.by_pollutant}) > 1
        else ("daily means" if rate.by_pollutant[0]["unit"] == "day" else "hourly means")
    )
    title = (
        f"Emissions compliance rate {rate.rate:.1f} % ({rate.compliant:,} of {rate.valid:,} "
        f"valid {unit} within their limits) from {rate.period_start} to {rate.period_end}, "
        f"{len(points)} monitoring point{'s' if len(points) > 1 else ''}; "
        f"{points_:.0f} indicator points"
    )
    line = {
        "op": "issue",
        "authority": authority,
        "category": band.category,
        "subject": subject,
        "document_number": f"HJ212-RATE-{subject}-{today.strftime('%Y%m%d')}",
        "decision_type": "administrative_decision",
        "decision_date": today.isoformat(),
        "publication_date": today.isoformat(),
        "title": title,
        "evidence_digest": digest,
        "basis": "automated",
    }
    result = intake.submit(line)
    found.outcome = {"accepted": "issued"}.get(result.outcome, result.outcome)
    found.record = str(result.ref) if result.ref else None
    found.detail = result.reason or ""
    if result.outcome in ("accepted", "duplicate"):
        mstore.save_assessment(
            (digest, subject, rulebook.id, rate.period_start.isoformat(),
             rate.period_end.isoformat(), canonical_json(evidence).decode(), found.record,
             now_us)
        )  # fmt: skip
    return found


def _latest_assessment(store: Store, subject: str, compliance: ComplianceDef) -> date | None:
    """The publication day of the subject's latest assessment still standing."""
    codes = {band.category for band in compliance.bands}
    days = [
        date.fromisoformat(str(r.publication_date))
        for r in store.rows_where("records", "subject_id", [subject])
        if r.category in codes and r.status not in _ENDED
    ]
    return max(days, default=None)


def assess_all(
    store: Store,
    mstore: MonitoringStore,
    intake: Intake,
    rulebooks: dict[str, Rulebook],
    *,
    today: date,
    now_us: int,
    subjects: Collection[str] | None = None,
) -> list[Assessment]:
    """Assess every subject with points under a rulebook that defines the indicator (or
    only ``subjects``: each still with all its points there, since the rate pools them)."""
    grouped: dict[tuple[str, str], list[Point]] = defaultdict(list)
    if subjects is None:
        points_of = mstore.points()
    else:
        points_of = [point for subject in sorted(subjects) for point in mstore.points(subject)]
    for point in points_of:
        grouped[(point.subject, point.rulebook)].append(point)
    out: list[Assessment] = []
    for (subject, rulebook_id), points in sorted(grouped.items()):
        rulebook = rulebooks.get(rulebook_id)
        if rulebook is None or rulebook.monitoring is None:
            continue
        if rulebook.monitoring.compliance is None:
            continue
        found = assess_subject(store, mstore, intake, subject, points, rulebook, today=today,
                               now_us=now_us)  # fmt: skip
        mstore.save_notices(found.notices, now_us)
        out.append(found)
    return out
