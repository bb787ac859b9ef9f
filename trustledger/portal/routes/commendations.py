"""Commendations of persons: the public list (``/commendations``) of those their persons
consent to publish, and the person's consent forms on their own file (``/me``).

Thin: the application layer decides (``trustledger.app.commendations``). Without consent a
commendation is on no public page; the list shows only what each person chose.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from trustledger.api.deps import ServerState, server
from trustledger.app import commendations
from trustledger.app.errors import TrustledgerError
from trustledger.portal import render
from trustledger.portal.routes.me import SHOWABLE, file_page, same_site_only, signed_in_subject

router = APIRouter(include_in_schema=False)

MAX_DISPLAY_NAME = 60


@router.get("/commendations", response_class=HTMLResponse)
def published(request: Request, state: Annotated[ServerState, Depends(server)]) -> Response:
    with state.lock:
        found = commendations.published(state.ctx)
    return render.page(request, "commendations.html", title="Commendations of persons",
                       commendations=found)  # fmt: skip


@router.post("/me/commendations/consent", response_class=HTMLResponse)
def give_consent(
    request: Request,
    state: Annotated[ServerState, Depends(server)],
    record: Annotated[str, Form(max_length=64)] = "",
    display_name: Annotated[str, Form(max_length=4 * MAX_DISPLAY_NAME)] = "",
    shown: Annotated[list[str] | None, Form()] = None,
) -> Response:
    same_site_only(request)
    principal = signed_in_subject(request, state)
    fields = shown or []
    values = {"record": record, "display_name": display_name, "shown": " ".join(fields)}
    errors: dict[str, str] = {}
    if not record:
        errors["record"] = "Choose the commendation to publish."
    name = display_name.strip()
    if not name:
        errors["display_name"] = "Give the name to be shown (it may be a pseudonym)."
    elif len(name) > MAX_DISPLAY_NAME:
        errors["display_name"] = f"At most {MAX_DISPLAY_NAME} characters."
    if any(f not in SHOWABLE for f in fields):
        errors["shown"] = "Choose only among the fields offered."
    if errors:
        return file_page(request, state, principal, consent=(values, errors, None), status=422)
    try:
        with state.lock:
            commendations.give_consent(state.ctx, principal, record_id=record,
                                       display_name=name, shown=fields)  # fmt: skip
    except TrustledgerError as exc:
        return file_page(request, state, principal, status=exc.http_status,
                          consent=(values, {}, exc.message))  # fmt: skip
    return RedirectResponse("/me?consent=given#commendations", status_code=303)


@router.post("/me/commendations/withdraw", response_class=HTMLResponse)
def withdraw_consent(
    request: Request,
    state: Annotated[ServerState, Depends(server)],
    record: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    same_site_only(request)
    principal = signed_in_subject(request, state)
    try:
        with state.lock:
            commendations.withdraw_consent(state.ctx, principal, record_id=record)
    except TrustledgerError as exc:
        return file_page(request, state, principal, status=exc.http_status,
                          consent=({"record": record}, {}, exc.message))  # fmt: skip
    return RedirectResponse("/me?consent=withdrawn#commendations", status_code=303)
