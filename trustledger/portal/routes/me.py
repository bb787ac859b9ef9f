"""The subject's own file (``/me``): sign in with the subject key, read the file (records
unpublished ones included, standing, notices, who read it), object to a record or apply
for repair.

The key is kept in a cookie the page's scripts cannot read (HttpOnly), sent only to
``/me`` and only from this site (SameSite=Strict; a form posted from elsewhere is also
refused by its Origin). The documents a repair application rests on are hashed here and
only their SHA-256 goes on; the files themselves are not kept.
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from trustledger.api.deps import ServerState, server, when
from trustledger.app import access, dueprocess, entities, notices
from trustledger.app.errors import Forbidden, NotFound, TrustledgerError
from trustledger.app.keys import Principal
from trustledger.portal import render

router = APIRouter(include_in_schema=False)

COOKIE = "tl_subject_key"
GROUNDS = {
    "content": "the record's content is wrong",
    "publicity": "its publicity period is wrong",
    "listing": "a listing resting on it is wrong",
    "repair_decision": "a decision on my repair application is wrong",
}
# what a person may choose to show of a commendation, in the words of the form
SHOWABLE = {
    "authority": "the authority that commended me",
    "document_number": "the decision's document number",
    "decision_date": "the date of the decision",
}
MAX_REASONS = 4000
MAX_DOCUMENT = 20 * 1024 * 1024


def _signed_in(request: Request, state: ServerState) -> Principal | None:
    key = request.cookies.get(COOKIE)
    if not key:
        return None
    principal = state.authenticate(key)
    if principal is None or principal.role != "subject" or principal.subject is None:
        return None
    return principal


def same_site_only(request: Request) -> None:
    """A form posted from another site is refused (the cookie would not come with it
    anyway; this says so instead of failing obscurely)."""
    origin = request.headers.get("origin")
    if origin is not None and origin != "null":
        expected = f"{request.url.scheme}://{request.url.netloc}"
        if origin != expected:
            raise Forbidden("this form may only be sent from this site")


@router.get("/me", response_class=HTMLResponse)
def me(request: Request, state: Annotated[ServerState, Depends(server)]) -> Response:
    principal = _signed_in(request, state)
    if principal is None:
        return render.page(request, "me_login.html", title="My file", problem=None,
                           signed_out=request.query_params.get("signed_out") == "1")  # fmt: skip
    return file_page(request, state, principal)


@router.post("/me/login", response_class=HTMLResponse)
def login(
    request: Request,
    state: Annotated[ServerState, Depends(server)],
    key: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    same_site_only(request)
    principal = state.authenticate(key.strip()) if key.strip() else None
    problem = None
    if principal is None:
        problem = "This key is unknown, revoked or expired."
    elif principal.role != "subject" or principal.subject is None:
        problem = f"This is a {principal.role} key: only a subject key opens a file here."
    if problem is not None:
        return render.page(request, "me_login.html", title="My file", status=401,
                           problem=problem, signed_out=False)  # fmt: skip
    response = RedirectResponse("/me", status_code=303)
    response.set_cookie(COOKIE, key.strip(), httponly=True, samesite="strict", path="/me",
                        secure=request.url.scheme == "https")  # fmt: skip
    return response


@router.post("/me/logout")
def logout(request: Request) -> Response:
    same_site_only(request)
    response = RedirectResponse("/me?signed_out=1", status_code=303)
    response.delete_cookie(COOKIE, path="/me")
    return response


@router.post("/me/objections", response_class=HTMLResponse)
def file_objection(
    request: Request,
    state: Annotated[ServerState, Depends(server)],
    record: Annotated[str, Form(max_length=64)] = "",
    ground: Annotated[str, Form(max_length=40)] = "",
    reasons: Annotated[str, Form(max_length=2 * MAX_REASONS)] = "",
) -> Response:
    same_site_only(request)
    principal = signed_in_subject(request, state)
    values = {"record": record, "ground": ground, "reasons": reasons}
    errors: dict[str, str] = {}
    if not record:
        errors["record"] = "Choose the record you object to."
    if ground not in GROUNDS:
        errors["ground"] = "Choose what is wrong."
    text = reasons.strip()
    if not text:
        errors["reasons"] = "Say why: the reviewer decides on your reasons."
    elif len(text) > MAX_REASONS or "\x00" in text:
        errors["reasons"] = f"At most {MAX_REASONS} characters, and no NUL characters."
    if errors:
        return file_page(request, state, principal, objection=(values, errors, None), status=422)
    try:
        with state.lock:
            step = dueprocess.file_objection(state.ctx, principal, record_id=record,
                                             ground=ground, reasons=text)  # fmt: skip
    except TrustledgerError as exc:
        return file_page(request, state, principal, status=exc.http_status,
                          objection=(values, {}, exc.message))  # fmt: skip
    if step.reevaluated:
        state.checks.look_now()
    return RedirectResponse(f"/me?objection={step.row.id}#objections", status_code=303)


@router.post("/me/repairs", response_class=HTMLResponse)
async def apply_repair(
    request: Request,
    state: Annotated[ServerState, Depends(server)],
    record: Annotated[str, Form(max_length=64)] = "",
    correction: UploadFile | None = None,
    obligations: UploadFile | None = None,
    commitment: UploadFile | None = None,
) -> Response:
    same_site_only(request)
    principal = signed_in_subject(request, state)
    values = {"record": record}
    errors: dict[str, str] = {}
    if not record:
        errors["record"] = "Choose the record to repair."
    digests: dict[str, str] = {}
    for name, upload in (("correction", correction), ("obligations", obligations),
                         ("commitment", commitment)):  # fmt: skip
        digest = await _digest(upload)
        if digest is None:
            errors[name] = "Attach this document (PDF or image, at most 20 MB)."
        else:
            digests[name] = digest
    if errors:
        return file_page(request, state, principal, repair=(values, errors, None), status=422)
    try:
        with state.lock:
            step = dueprocess.apply_repair(state.ctx, principal, record_id=record, **digests)
    except TrustledgerError as exc:
        return file_page(request, state, principal, status=exc.http_status,
                          repair=(values, {}, exc.message))  # fmt: skip
    return RedirectResponse(f"/me?repair={step.row.id}#repairs", status_code=303)


async def _digest(upload: UploadFile | None) -> str | None:
    """SHA-256 of an uploaded document; None when none (or an empty one) was sent."""
    if upload is None or not upload.filename:
        return None
    sha = hashlib.sha256()
    size = 0
    while chunk := await upload.read(1 << 16):
        size += len(chunk)
        if size > MAX_DOCUMENT:
            return None
        sha.update(chunk)
    return sha.hexdigest() if size else None


def signed_in_subject(request: Request, state: ServerState) -> Principal:
    principal = _signed_in(request, state)
    if principal is None:
        raise Forbidden("sign in with your subject key first (My file)")
    return principal


_NO_FORM: tuple[dict[str, str], dict[str, str], str | None] = ({}, {}, None)


def file_page(
    request: Request,
    state: ServerState,
    principal: Principal,
    *,
    objection: tuple[dict[str, str], dict[str, str], str | None] = _NO_FORM,
    repair: tuple[dict[str, str], dict[str, str], str | None] = _NO_FORM,
    consent: tuple[dict[str, str], dict[str, str], str | None] = _NO_FORM,
    status: int = 200,
) -> Response:
    assert principal.subject is not None
    at = when(state, None, None)
    state.log.add(principal, "me.read", subject_id=principal.subject, purpose=None)
    with state.lock:
        whole = access.subject_file(state.ctx, principal, at)
        organisation: entities.EntityFile | None = None
        try:
            organisation = entities.entity_file(state.ctx, principal.subject, at, public=False)
        except NotFound:
            organisation = None  # a person: no organisation's file, the records below
        texts: dict[str, str] = {}
        for n in whole.get("notices", []):
            texts[n["id"]] = notices.rendered_text(state.ctx, n["id"])
    return render.page(
        request, "me.html", title="My file", status=status, whole=whole, file=organisation,
        notice_texts=texts, grounds=GROUNDS, objection=objection, repair=repair,
        consent=consent, showable=SHOWABLE, consented=request.query_params.get("consent"),
        filed=request.query_params.get("objection"), applied=request.query_params.get("repair"),
        records=_choices(whole, organisation),
    )  # fmt: skip


def _choices(whole: dict[str, Any], file: entities.EntityFile | None) -> list[tuple[str, str]]:
    """(record id, how the form names it) for every record about the subject."""
    if file is not None:
        return [(r.record_id, f"{r.document_number} — {r.category_title} ({r.status})")
                for r in file.records]  # fmt: skip
    return [(r["id"], f"{r['document_number']} — {r['category']}") for r in whole["records"]]
