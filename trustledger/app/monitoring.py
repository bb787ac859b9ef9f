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


def judge(ctx: Context, notes: Notes | None = None) -> list[PointOutcome]:
    """Judge every registered point: valid hourly means → exceedance episodes → one
    pending record per episode that meets the threshold; faults → notices. The subjects
    that got records are re-evaluated if they had been."""
    from trustledger.app.ingest import make_intake
    from trustledger.monitoring.points import judge_all

    return judge_all(ctx.store, monitoring_store(ctx), make_intake(ctx, notes),
                     today=ctx.today(), now_us=ctx.now_us())  # fmt: skip


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
