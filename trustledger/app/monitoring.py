"""Third-party monitoring points: register one, list them, judge them, confirm a record
resting on their data, and show a subject's points or one point's series, episodes and
data-quality notices.

Receiving the loggers' traffic (listening, replaying captures) is ``app.receiving``.
A refusal of the monitoring domain (``PointError``) becomes a ``TrustledgerError`` here:
``BadInput`` for a registration refused, ``NotFound`` for a point or record that is not
there, ``ConfirmationRefused`` for a confirmation the intake rejected.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from trustledger.app.errors import BadInput, Conflict, Forbidden, NotFound

if TYPE_CHECKING:
    from collections.abc import Collection, Sequence

    from trustledger.app.context import Context
    from trustledger.intake.factory import Notes
    from trustledger.ledger.store import Store
    from trustledger.monitoring.judge import PointOutcome
    from trustledger.monitoring.store import MonitoringStore, Point

# one MonitoringStore per open store: making one creates the monitoring tables if missing
_STORES: weakref.WeakKeyDictionary[Store, MonitoringStore] = weakref.WeakKeyDictionary()


class ConfirmationRefused(Conflict):
    """The intake refused a confirmation (not the issuer's pending record, already revoked
    …): the CLI documents exit 1 for it, as for any refused request that was well formed."""

    exit_code = 1


def monitoring_store(ctx: Context) -> MonitoringStore:
    from trustledger.monitoring.store import MonitoringStore

    found = _STORES.get(ctx.store)
    if found is None:
        found = _STORES[ctx.store] = MonitoringStore(ctx.store)
    return found


def register(
    ctx: Context,
    *,
    mn: str,
    subject: str,
    outlet: str,
    authority: str,
    limit_set: str,
    rulebook: str = "cn-environmental-credit",
    pollutants: list[str] | None = None,
    flow_unit: str = "m3/s",
) -> Point:
    """Bind a logger's MN to a registered organisation, its monitoring authority and a limit
    set of a published rulebook (again: replace it); BadInput names why it is refused."""
    from trustledger.monitoring.points import PointError, register_point

    try:
        return register_point(
            ctx.store, monitoring_store(ctx), mn=mn, subject=subject, outlet=outlet,
            authority=authority, rulebook_id=rulebook, limit_set=limit_set,
            pollutants=pollutants, flow_unit=flow_unit, now_us=ctx.now_us(),
        )  # fmt: skip
    except PointError as exc:
        raise BadInput(str(exc)) from None


@dataclass(frozen=True)
class PointsListing:
    """Registered points (every field), and points that send data but are registered to
    no subject (MN → packets; only when no subject was asked for)."""

    registered: list[dict[str, Any]]
    unregistered: list[tuple[str, int]]

    def to_json(self) -> dict[str, Any]:
        silent = [{"mn": mn, "packets": n} for mn, n in self.unregistered]
        return {"points": self.registered, "unregistered": silent}


def points(ctx: Context, subject: str | None = None) -> PointsListing:
    """The registered points (of ``subject`` only, if given) and, for all subjects, the
    unregistered points that send data (kept, not judged)."""
    mstore = monitoring_store(ctx)
    registered = [p._asdict() for p in mstore.points(subject)]
    return PointsListing(registered, [] if subject else mstore.unregistered())


def judge(
    ctx: Context, notes: Notes | None = None, *, points: Collection[str] | None = None
) -> list[PointOutcome]:
    """Judge every registered point (``points``: only the registered points among those
    MNs; the others are ignored): valid hourly means → exceedance episodes → one pending
    record per episode that meets the threshold; faults → notices; then the compliance of
    the subjects of the points judged. The subjects that got records are re-evaluated if
    they had been."""
    from trustledger.app.ingest import make_intake
    from trustledger.monitoring.points import judge_all

    return judge_all(ctx.store, monitoring_store(ctx), make_intake(ctx, notes),
                     today=ctx.today(), now_us=ctx.now_us(), only=points)  # fmt: skip


def judge_points(
    ctx: Context, mns: Sequence[str], notes: Notes | None = None
) -> list[PointOutcome]:
    """``judge`` of these points only, as a person asks for them: NotFound naming every MN
    that is not a registered point, and then nothing is judged."""
    mstore = monitoring_store(ctx)
    missing = [mn for mn in dict.fromkeys(mns) if mstore.point(mn) is None]
    if missing:
        raise NotFound(f"no registered monitoring point {', '.join(missing)}: nothing judged")
    return judge(ctx, notes, points=mns)


def confirm(
    ctx: Context,
    record: str,
    *,
    reviewer: str,
    note: str = "evidence reviewed",
    document_number: str | None = None,
    notes: Notes | None = None,
) -> str:
    """A reviewer's confirmation of a record resting on automated data, through the
    intake: ``accepted`` or ``duplicate`` (already confirmed). ``reviewer`` is a reviewer
    principal's id (never a free-text name), of another authority than the record's.
    NotFound for no such record or principal, Forbidden for another role or the record's own
    authority, ConfirmationRefused with the intake's reason when it is refused."""
    from trustledger.app.dueprocess import principal
    from trustledger.app.ingest import make_intake
    from trustledger.monitoring.points import PointError, confirm_record

    row = ctx.store.get_row("records", record)
    if row is None:
        raise NotFound(f"no record {record}")
    actor = principal(ctx, reviewer)
    if actor.role != "reviewer":
        raise Forbidden(f"principal {actor.id} is a {actor.role}: only a reviewer confirms")
    if actor.authority == row.authority_id:
        raise Forbidden(
            f"reviewer {actor.id} belongs to {row.authority_id}, which issued record {record}: "
            "a reviewer never confirms its own authority's record"
        )
    try:
        result = confirm_record(
            ctx.store, make_intake(ctx, notes), record, reviewer=f"reviewer {actor.id}",
            note=note, document_number=document_number, today=ctx.today(),
        )  # fmt: skip
    except PointError as exc:
        raise NotFound(str(exc)) from None
    if result.outcome == "rejected":
        raise ConfirmationRefused(result.reason or "confirmation refused")
    return result.outcome


def point_view(ctx: Context, mn: str, days: int = 7) -> dict[str, Any]:
    """A point's valid hourly means at the reference O₂ with its limits, its episodes and
    its notices; NotFound (naming what is missing) when no such point is registered or its
    rulebook is gone."""
    from trustledger.monitoring.points import PointError
    from trustledger.monitoring.points import point_view as view

    try:
        return view(ctx.store, monitoring_store(ctx), mn, days)
    except PointError as exc:
        raise NotFound(str(exc)) from None


def subject_points(ctx: Context, subject_id: str) -> list[dict[str, Any]]:
    """The subject's registered monitoring points."""
    from trustledger.monitoring.points import subject_points as listed

    return listed(monitoring_store(ctx), subject_id)


# --- a point's series as people read it ------------------------------------------------


@dataclass(frozen=True)
class PollutantColumn:
    code: str
    name: str  # "SO2", not "a21026"
    unit: str
    limit: float
    limit_set: str
    reference_o2: float | None


@dataclass(frozen=True)
class HourCell:
    value: float | None  # the hourly mean converted to the reference O₂; None: no mean
    valid: bool  # enough valid minutes (≥ 45) to be judged at all
    exceeded: bool  # a valid mean strictly above the limit: an exceedance hour


@dataclass(frozen=True)
class PointTable:
    """`point_view` for people: local times on the configured calendar, pollutant names
    and units, exceedance hours marked, and what the episodes became."""

    mn: str
    subject: str
    subject_name: str | None
    outlet: str
    timezone: str
    pollutants: list[PollutantColumn]
    hours: list[tuple[str, dict[str, HourCell]]]  # (local hour "YYYY-MM-DD HH:MM", code → cell)
    episodes: list[dict[str, Any]]
    notices: list[dict[str, Any]]
    records: list[dict[str, Any]]  # the records the episodes became, with their state


def point_table(ctx: Context, mn: str, days: int = 7) -> PointTable:
    """The point's hourly means per pollutant over the last ``days`` days with their
    limit, its episodes, its data-quality notices and the records it led to; NotFound as
    `point_view`."""
    from datetime import UTC, datetime, timedelta, timezone
    from zoneinfo import ZoneInfo

    from trustledger.monitoring.aggregate import CHINA_OFFSET_S
    from trustledger.pollutants import describe

    view = point_view(ctx, mn, days)
    zone = ZoneInfo(ctx.settings.timezone)
    # the series' hours are the loggers' device time: China Standard Time, no DST
    device = timezone(timedelta(seconds=CHINA_OFFSET_S))

    def local(device_text: str, later: timedelta = timedelta(0)) -> str:
        moment = datetime.fromisoformat(device_text).replace(tzinfo=device) + later
        return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M")

    def instant(epoch_s: int) -> str:
        return datetime.fromtimestamp(epoch_s, UTC).astimezone(zone).strftime("%Y-%m-%d %H:%M")

    def named(code: str) -> str:
        pollutant = describe(code)
        return pollutant.name if pollutant is not None else code

    columns: list[PollutantColumn] = []
    by_hour: dict[str, dict[str, HourCell]] = {}
    for code, series in view["pollutants"].items():
        pollutant = describe(code)
        limit = float(series["limit"])
        columns.append(PollutantColumn(
            code, named(code), pollutant.unit.replace("m3", "m³") if pollutant else "", limit,
            series["limit_set"], series.get("reference_o2"),
        ))  # fmt: skip
        for h in series["hours"]:
            value, valid = h["converted"], bool(h["valid"])
            exceeded = valid and value is not None and value > limit
            by_hour.setdefault(h["hour"], {})[code] = HourCell(value, valid, exceeded)
    hours = [(local(hour), cells) for hour, cells in sorted(by_hour.items())]
    episodes = [
        {**e, "pollutant_name": named(e["pollutant"]), "first_hour": local(e["first_hour"]),
         "last_hour": local(e["last_hour"]),
         # hours are named by their start: the episode ends when its last hour does
         "until": local(e["last_hour"], timedelta(hours=1))}
        for e in view["episodes"]
    ]  # fmt: skip
    notices = [
        {**n, "pollutant_name": named(n["pollutant"]), "start": instant(n["start_s"]),
         "end": instant(n["end_s"])}
        for n in view["notices"]
    ]  # fmt: skip
    records: list[dict[str, Any]] = []
    for record_id in dict.fromkeys(e["record"] for e in view["episodes"] if e.get("record")):
        row = ctx.store.get_row("records", record_id)
        if row is None:
            continue
        if row.confirmation == "pending":
            state = "awaiting a person's confirmation (counts toward nothing until then)"
        elif row.status in ("issued", "corrected"):
            state = "confirmed by a person" if row.confirmation == "confirmed" else row.status
        else:
            state = f"{row.status} on {row.status_date}"
        records.append({"record_id": row.id, "document_number": row.document_number,
                        "decision_date": row.decision_date, "state": state})  # fmt: skip
    subject = ctx.store.get_row("subjects", view["subject"])
    return PointTable(
        mn=view["mn"], subject=view["subject"], subject_name=subject.name if subject else None,
        outlet=view.get("outlet", ""), timezone=ctx.settings.timezone, pollutants=columns,
        hours=hours, episodes=episodes, notices=notices, records=records,
    )  # fmt: skip
