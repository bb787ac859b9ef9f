"""Objections and credit repair as use cases: resolve who acts, take the step, then bring
every outcome resting on the record up to date at once (checks see it within a second)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from trustledger.app.errors import BadInput, Conflict, Forbidden, NotFound, TrustledgerError

if TYPE_CHECKING:
    from trustledger.access.principals import Principal
    from trustledger.app.context import Context
    from trustledger.dueprocess.calendar import WorkingCalendar
    from trustledger.ledger.projection import HoldRow, ObjectionRow, RepairRow


@dataclass(frozen=True)
class Step:
    """What a due-process step left: the objection or repair, how many subjects were
    re-evaluated because of it, and the notices it produced (ids)."""

    row: ObjectionRow | RepairRow | HoldRow
    reevaluated: int
    notices: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {**self.row._asdict(), "reevaluated": self.reevaluated,
                "notices": list(self.notices)}  # fmt: skip


def principal(ctx: Context, principal_id: str) -> Principal:
    """The registered principal acting (a key's id, never a free-text name)."""
    from trustledger.access.principals import get_principal

    found = get_principal(ctx.store, principal_id)
    if found is None:
        raise NotFound(f"no principal {principal_id} (see `trustledger keys list`)")
    if found.revoked:
        raise Forbidden(f"principal {principal_id} is revoked")
    return found


def _calendar(ctx: Context) -> WorkingCalendar:
    from trustledger.dueprocess.calendar import CalendarError, load_calendar

    try:
        return load_calendar(ctx.settings.holidays)
    except CalendarError as exc:
        raise BadInput(str(exc)) from None


def procedure_error(exc: Exception) -> TrustledgerError:
    """A due-process refusal as the application layer's error (one mapping for every use
    case of the procedures: objections, repairs, consents)."""
    from trustledger.dueprocess.procedures import NotAllowed, NotFoundError, Refused

    if isinstance(exc, NotFoundError):
        return NotFound(str(exc))
    if isinstance(exc, NotAllowed):
        return Forbidden(str(exc))
    if isinstance(exc, Refused):
        return Conflict(str(exc))
    return BadInput(str(exc))


def _refresh(ctx: Context, subject_id: str) -> int:
    from trustledger.evaluate.state import refresh_if_evaluated

    return refresh_if_evaluated(ctx.store, ctx.catalogue, {subject_id}, on=ctx.today())


def _decided(
    ctx: Context, actor: Principal, row: ObjectionRow | RepairRow, kind: str, before_us: int
) -> tuple[str, ...]:
    """The decision's notice to the subject, and the notices of what changed because of it
    (a listing ended, a measure stopped), all stored once."""
    from trustledger.app.notices import log_notices, notify_changes
    from trustledger.dueprocess import notice_store
    from trustledger.dueprocess.notices import NoticeKind, RecordRef, decision_notice

    record = ctx.store.get_row("records", row.record_id)
    ref = RecordRef(record.id, record.category, document_number=record.document_number,
                    tier=record.tier, published=record.publication_date)  # fmt: skip
    notice = decision_notice(
        row.subject_id, NoticeKind(kind), decision_ref=row.id, outcome=row.status,
        created=ctx.clock.now().isoformat(timespec="seconds"), reasons=row.reasons,
        records=[ref],
    )  # fmt: skip
    notice_store.save(ctx.store, [notice])
    changed = notify_changes(ctx, row.subject_id, before_at_us=before_us)
    sent = (notice, *changed)
    log_notices(ctx, actor, row.subject_id, sent, cause=row.id)
    return tuple(n.id for n in sent)


def file_objection(
    ctx: Context,
    actor: Principal,
    *,
    record_id: str,
    ground: str,
    reasons: str,
    evidence: Sequence[str] = (),
) -> Step:
    from trustledger.dueprocess import procedures

    try:
        row = procedures.file_objection(
            ctx.store, actor, record_id=record_id, ground=ground, reasons=reasons,
            evidence=evidence, today=ctx.today(), calendar=_calendar(ctx),
        )  # fmt: skip
    except procedures.ProcedureError as exc:
        raise procedure_error(exc) from None
    return Step(row, _refresh(ctx, row.subject_id))


def decide_objection(
    ctx: Context,
    actor: Principal,
    *,
    objection_id: str,
    outcome: str,
    reasons: str,
    changes: dict[str, str] | None = None,
) -> Step:
    from trustledger.dueprocess import procedures

    before = ctx.store.head().time_us
    try:
        row = procedures.decide_objection(
            ctx.store, actor, objection_id=objection_id, outcome=outcome, reasons=reasons,
            today=ctx.today(), changes=changes,
        )  # fmt: skip
    except procedures.ProcedureError as exc:
        raise procedure_error(exc) from None
    refreshed = _refresh(ctx, row.subject_id)
    return Step(row, refreshed, _decided(ctx, actor, row, "objection_decided", before))


def apply_repair(
    ctx: Context,
    actor: Principal,
    *,
    record_id: str,
    correction: str,
    obligations: str,
    commitment: str,
) -> Step:
    from trustledger.dueprocess import procedures

    try:
        row = procedures.apply_repair(
            ctx.store, actor, record_id=record_id, correction=correction,
            obligations=obligations, commitment=commitment,
            minimums=(), earliest=_repair_from(ctx, record_id), today=ctx.today(),
            calendar=_calendar(ctx),
        )  # fmt: skip
    except procedures.ProcedureError as exc:
        raise procedure_error(exc) from None
    return Step(row, 0)


def decide_repair(
    ctx: Context, actor: Principal, *, repair_id: str, outcome: str, reasons: str
) -> Step:
    from trustledger.dueprocess import procedures

    before = ctx.store.head().time_us
    try:
        row = procedures.decide_repair(
            ctx.store, actor, repair_id=repair_id, outcome=outcome, reasons=reasons,
            today=ctx.today(),
        )  # fmt: skip
    except procedures.ProcedureError as exc:
        raise procedure_error(exc) from None
    refreshed = _refresh(ctx, row.subject_id)
    return Step(row, refreshed, _decided(ctx, actor, row, "repair_decided", before))


def overdue(ctx: Context) -> list[ObjectionRow | RepairRow]:
    """Open objections and repair applications past their deadline (for operators)."""
    from trustledger.dueprocess.procedures import overdue as late

    return late(ctx.store, ctx.today())


def of_subject(ctx: Context, subject_id: str) -> tuple[list[ObjectionRow], list[RepairRow]]:
    """A subject's objections and repair applications (its own file)."""
    from trustledger.dueprocess.records_queries import of_subject as rows

    return rows(ctx.store, subject_id)


def _repair_from(ctx: Context, record_id: str) -> list[Any]:
    """The first day each regime lets the record be repaired: its publicity minimum after
    the day the regime counts the window from, under the version in force today (with its
    transitional rule for earlier decisions)."""
    from trustledger.evaluate.profile import compile_rulebook
    from trustledger.ledger.projection import RecordRow
    from trustledger.rulebook.publish import regime_versions, version_on

    record: RecordRow | None = ctx.store.get_row("records", record_id)
    if record is None:
        return []
    days = []
    for versions in regime_versions(ctx.store).values():
        rulebook = version_on(versions, ctx.today())
        day = compile_rulebook(rulebook, ctx.catalogue, versions).repair_from(record)
        if day is not None:
            days.append(day)
    return days


def hold_listing(
    ctx: Context, actor: Principal, *, subject_id: str, rulebook_id: str, list_id: str,
    reasons: str,
) -> Step:  # fmt: skip
    """An operator holds a pending listing for human review (it stays pending)."""
    from trustledger.dueprocess import procedures

    try:
        row = procedures.hold_listing(
            ctx.store, actor, subject_id=subject_id, rulebook_id=rulebook_id, list_id=list_id,
            reasons=reasons, today=ctx.today(),
        )  # fmt: skip
    except procedures.ProcedureError as exc:
        raise procedure_error(exc) from None
    return Step(row, _refresh(ctx, subject_id))


def release_hold(ctx: Context, actor: Principal, *, hold_id: str, reasons: str) -> Step:
    """Release a hold after review: the listing takes effect (from today at the earliest)."""
    from trustledger.dueprocess import procedures

    try:
        row = procedures.release_hold(
            ctx.store, actor, hold_id=hold_id, reasons=reasons, today=ctx.today()
        )
    except procedures.ProcedureError as exc:
        raise procedure_error(exc) from None
    return Step(row, _refresh(ctx, row.subject_id))


def subject_file_section(ctx: Context, subject_id: str) -> dict[str, Any]:
    """The subject's due process for its own file (`GET /v1/me`): every objection and
    repair application with its status and decision, the holds of its listings, and the
    objections that are open (what rests on those records is `under objection`)."""
    from trustledger.ledger.projection import HoldRow

    objections, repairs = of_subject(ctx, subject_id)
    holds = [HoldRow._make(r) for r in ctx.store.rows_where("holds", "subject_id", [subject_id])]
    return {
        "objections": [o._asdict() for o in objections],
        "under_objection": sorted({o.record_id for o in objections if o.status == "open"}),
        "repairs": [r._asdict() for r in repairs],
        "holds": [h._asdict() for h in holds],
    }
