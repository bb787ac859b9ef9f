"""Registering monitoring points and judging them against published rulebooks."""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import asdict
from datetime import date
from typing import Any

from trustledger.catalogue import national_catalogue
from trustledger.domain import AuthorityType, SubjectKind
from trustledger.evaluate.state import refresh_if_evaluated
from trustledger.ids import check_uscc
from trustledger.intake import Intake, Result
from trustledger.ledger.store import Store
from trustledger.monitoring.compliance import assess_all
from trustledger.monitoring.judge import JudgeError, PointOutcome, judge_point, series_view
from trustledger.monitoring.store import MonitoringStore, Point
from trustledger.pollutants import canonical, known
from trustledger.rulebook.publish import published_rulebooks
from trustledger.rulebook.schema import Rulebook

_MN = re.compile(r"^[0-9A-Za-z_-]{1,64}$")
FLOW_UNITS = ("m3/s", "m3/h", "L/s")


class PointError(ValueError):
    """A registration refused, with the reason."""


def monitoring_rulebook(store: Store, rulebook_id: str) -> Rulebook:
    rulebook = published_rulebooks(store).get(rulebook_id)
    if rulebook is None:
        raise PointError(f"rulebook {rulebook_id} is not published")
    if rulebook.monitoring is None:
        raise PointError(f"rulebook {rulebook_id} has no monitoring section (no limit sets)")
    return rulebook


def register_point(
    store: Store,
    mstore: MonitoringStore,
    *,
    mn: str,
    subject: str,
    outlet: str,
    authority: str,
    rulebook_id: str,
    limit_set: str,
    pollutants: list[str] | None = None,
    flow_unit: str = "m3/s",
    now_us: int,
) -> Point:
    """Bind a logger's MN to a registered organisation, its outlet and a limit set."""
    if not _MN.match(mn):
        raise PointError(f"mn: {mn[:80]!r} is not a monitoring point id (letters, digits, - _)")
    check = check_uscc(subject)
    if not check.valid:
        raise PointError(f"subject: USCC {subject} is invalid: {'; '.join(check.errors)}")
    if store.get_row("subjects", check.code) is None:
        raise PointError(f"subject: {check.code} is not registered in the ledger")
    if check.kind is SubjectKind.PERSON:
        raise PointError("subject: a monitoring point belongs to an organisation")
    issuer = store.get_row("authorities", authority)
    if issuer is None or issuer.authority_type != AuthorityType.MONITORING.value:
        raise PointError(f"authority: {authority} is not a registered monitoring authority")
    rulebook = monitoring_rulebook(store, rulebook_id)
    assert rulebook.monitoring is not None
    limits = rulebook.monitoring.limit_set(limit_set)
    if limits is None:
        named = ", ".join(s.id for s in rulebook.monitoring.limit_sets)
        raise PointError(f"limit_set: {limit_set!r} is not in {rulebook_id} (known: {named})")
    if flow_unit not in FLOW_UNITS:
        raise PointError(f"flow_unit: {flow_unit!r} is not one of {', '.join(FLOW_UNITS)}")
    codes = [canonical(c) for c in (pollutants or list(limits.limits))]
    unknown = [c for c in codes if not known(c)]
    if unknown:
        raise PointError(f"pollutants: unknown code(s) {', '.join(unknown)}")
    if not outlet.strip():
        raise PointError("outlet: missing (e.g. 'boiler 1 stack')")
    point = Point(mn, check.code, outlet.strip(), authority, rulebook_id, limit_set, codes,
                  flow_unit, now_us)  # fmt: skip
    mstore.register(point)
    return point


def judge_all(
    store: Store,
    mstore: MonitoringStore,
    intake: Intake,
    *,
    today: date,
    now_us: int,
    only: Collection[str] | None = None,
) -> list[PointOutcome]:
    """Judge every registered point (``only``: just the registered points of those MNs),
    then assess the compliance of the subjects of the points judged; unregistered points'
    packets are kept, not judged."""
    outcomes = []
    rulebooks = published_rulebooks(store)
    judged = _points(mstore, only)
    for point in judged:
        rulebook = rulebooks.get(point.rulebook)
        if rulebook is None or rulebook.monitoring is None:
            outcome = PointOutcome(point.mn)
            outcome.rejected.append(f"rulebook {point.rulebook} is not published")
            outcomes.append(outcome)
            continue
        try:
            outcome = judge_point(mstore, intake, point, rulebook, today=today, now_us=now_us)
        except JudgeError as exc:  # e.g. a new rulebook version dropped the point's set
            outcome = PointOutcome(point.mn)
            outcome.rejected.append(str(exc))
        outcomes.append(outcome)
    issued = {p.subject for p in judged if _issued(p.mn, outcomes)}
    # judging some points: only their subjects are assessed again
    subjects = None if only is None else {p.subject for p in judged}
    assessed = assess_all(store, mstore, intake, rulebooks, today=today, now_us=now_us,
                          subjects=subjects)  # fmt: skip
    issued |= {a.subject for a in assessed if a.outcome == "issued"}
    # a subject's assessment is shown with the first of its points judged in this run
    first_point = {p.subject: p.mn for p in sorted(judged, key=lambda p: p.mn, reverse=True)}
    for a in assessed:
        for outcome in outcomes:
            if outcome.mn == first_point.get(a.subject):
                outcome.assessments.append(a)
    refresh_if_evaluated(store, national_catalogue(), issued, on=today)
    return outcomes


def _points(mstore: MonitoringStore, only: Collection[str] | None) -> list[Point]:
    """The registered points to judge, by MN; looked up one by one when restricted, so the
    cost follows the MNs asked for, not every point registered."""
    if only is None:
        return mstore.points()
    found = (mstore.point(mn) for mn in sorted(set(only)))
    return [p for p in found if p is not None]


def _issued(mn: str, outcomes: list[PointOutcome]) -> bool:
    return any(o.mn == mn and (o.records or o.corrected) for o in outcomes)


def confirm_record(
    store: Store, intake: Intake, record_id: str, *, reviewer: str, note: str,
    document_number: str | None, today: date,
) -> Result:  # fmt: skip
    """A person's confirmation of a record resting on automated data, through the intake
    (the issuer confirms; only a pending record, once)."""
    row = store.get_row("records", record_id)
    if row is None:
        raise PointError(f"no record {record_id}")
    result = intake.submit(
        {"op": "confirm", "authority": row.authority_id, "record": record_id,
         "document_number": document_number or f"CONFIRM-{record_id}",
         "effective_date": today.isoformat(), "reason": f"confirmed by {reviewer}: {note}"}
    )  # fmt: skip
    if result.outcome == "accepted":
        refresh_if_evaluated(store, national_catalogue(), {row.subject_id}, on=today)
    return result


def point_view(store: Store, mstore: MonitoringStore, mn: str, days: int = 7) -> dict[str, Any]:
    point = mstore.point(mn)
    if point is None:
        raise PointError(f"no monitoring point {mn}")
    view = series_view(mstore, point, monitoring_rulebook(store, point.rulebook), days=days)
    view["outlet"] = point.outlet
    view["notices"] = [asdict(n) for n in mstore.notices(mn)]
    return view


def subject_points(mstore: MonitoringStore, subject: str) -> list[dict[str, Any]]:
    return [
        {"mn": p.mn, "outlet": p.outlet, "limit_set": p.limit_set, "rulebook": p.rulebook,
         "pollutants": p.pollutants}
        for p in mstore.points(subject)
    ]  # fmt: skip
