"""Commendations of persons as use cases: the person's consent (given, withdrawn) and the
public list of the commendations consented to.

A commendation is a record about a person, so without consent it is in no public view
(portal, API, open data, reports). With consent it is on the public list only, showing
the name the person chose and the fields they chose; never their ID number, its keyed
hash or the record's id. Open data stays person-free: the list is not exported. A
commendation counts toward no list or score (no shipped rulebook treats these
categories), and nothing here scores anyone.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from trustledger.app.dueprocess import procedure_error

if TYPE_CHECKING:
    from trustledger.access.principals import Principal
    from trustledger.app.context import Context
    from trustledger.dueprocess.consent import PublishedCommendation
    from trustledger.ledger.projection import ConsentRow


def showable() -> tuple[str, ...]:
    """The record's fields a person may choose to show (besides name and category)."""
    from trustledger.dueprocess.consent import SHOWABLE

    return SHOWABLE


def _consent_json(row: ConsentRow) -> dict[str, Any]:
    import json

    # the subject's own answer: the record it concerns, never the keyed hash again
    return {"record": row.id, "status": row.status, "display_name": row.display_name,
            "shown": json.loads(row.shown), "given_date": row.given_date,
            "withdrawn_date": row.withdrawn_date}  # fmt: skip


def give_consent(
    ctx: Context, actor: Principal, *, record_id: str, display_name: str, shown: Sequence[str]
) -> dict[str, Any]:
    """The person consents to publish their commendation ``record_id``."""
    from trustledger.dueprocess import consent
    from trustledger.dueprocess.procedures import ProcedureError

    try:
        row = consent.give_consent(
            ctx.store, ctx.catalogue, actor, record_id=record_id, display_name=display_name,
            shown=shown, today=ctx.today(),
        )  # fmt: skip
    except ProcedureError as exc:
        raise procedure_error(exc) from None
    return _consent_json(row)


def withdraw_consent(ctx: Context, actor: Principal, *, record_id: str) -> dict[str, Any]:
    """The person withdraws consent: the next public view no longer has the commendation."""
    from trustledger.dueprocess import consent
    from trustledger.dueprocess.procedures import ProcedureError

    try:
        row = consent.withdraw_consent(
            ctx.store, ctx.catalogue, actor, record_id=record_id, today=ctx.today()
        )
    except ProcedureError as exc:
        raise procedure_error(exc) from None
    return _consent_json(row)


def published(ctx: Context) -> list[PublishedCommendation]:
    """The public list: every commendation its person consents to publish, as they chose."""
    from trustledger.dueprocess.consent import published_commendations

    return published_commendations(ctx.store, ctx.catalogue)


def subject_file_section(ctx: Context, subject_id: str) -> dict[str, Any]:
    """For the person's own file (``GET /v1/me``, the portal's /me): each commendation
    about them with its consent, so they can give or withdraw it."""
    from trustledger.dueprocess.consent import commendations_of

    out = []
    for record, row in commendations_of(ctx.store, ctx.catalogue, subject_id):
        category = ctx.catalogue.get(record.category)
        out.append({
            "record": record.id, "category": record.category,
            "category_title": None if category is None else category.title,
            "document_number": record.document_number, "decision_date": record.decision_date,
            "status": record.status,
            "consent": None if row is None else _consent_json(row),
        })  # fmt: skip
    return {"commendations": out}
