"""A subject's file: its profiles under the published rulebooks, as known at an instant and
judged on a day, in the view the caller may see (``trustledger.app.access.file_view``):
whole for an operator, a reviewer and the subject itself; scoped to its actions for a
checker (organisations only); the published records and lists for the public (never
persons). ``GET /v1/me``: a subject key's whole file."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import Response

from trustledger.api.deps import (
    ServerState,
    admit,
    caller,
    json_response,
    require_role,
    server,
    subject_id,
    when,
)
from trustledger.api.models import (
    KNOWN_AT_DOC,
    ON_DOC,
    PURPOSE_DOC,
    PURPOSE_PATTERN,
    SUBJECT_PATTERN,
    SUBJECT_SCHEMA,
    Day,
    KnownAt,
    SubjectFile,
    SubjectProfiles,
)
from trustledger.api.problems import problems
from trustledger.app import access, profiles
from trustledger.app.keys import Principal
from trustledger.app.rulebooks import ID_PATTERN

router = APIRouter(tags=["subjects"])


@router.get(
    "/v1/subjects/{subject}/profile",
    response_model=SubjectProfiles,
    responses=problems(400, 401, 403, 404, 422, 500),
)
async def profile(
    state: Annotated[ServerState, Depends(server)],
    principal: Annotated[Principal | None, Depends(caller)],
    subject: Annotated[
        str,
        Path(
            min_length=1,
            max_length=64,
            pattern=SUBJECT_PATTERN,
            json_schema_extra=SUBJECT_SCHEMA,
            description="USCC or ledger id (a person's file: operators, reviewers and the "
            "person only).",
        ),
    ],
    rulebook: Annotated[
        str | None,
        Query(pattern=ID_PATTERN, max_length=80, description="Only this rulebook."),
    ] = None,
    known_at: Annotated[KnownAt | None, Query(description=KNOWN_AT_DOC)] = None,
    on: Annotated[Day | None, Query(description=ON_DOC)] = None,
    purpose: Annotated[
        str | None,
        Query(min_length=1, max_length=200, pattern=PURPOSE_PATTERN, description=PURPOSE_DOC),
    ] = None,
) -> Response:
    """The subject's profiles under the published rulebooks: records, score, grade, lists
    and measures, with the explanation, as far as the caller may see them."""
    admit(principal, "profile")
    sid = subject_id(state, subject, "subject")
    view = access.file_view(principal, sid)
    if principal is None or principal.subject != sid:
        purpose = access.require_purpose(sid, purpose)
    at = when(state, known_at, on)
    actions = frozenset() if principal is None else principal.actions
    with state.lock:
        row = access.subject(state.ctx, sid)
        found = profiles.profile(state.ctx, sid, at, rulebook_id=rulebook, log=False)
        store = state.ctx.store
        size = store.size() if at.at_us is None else store.size_at(at.at_us)
    if principal is not None:
        state.log.add(principal, "profile.read", subject_id=sid, purpose=purpose,
                      detail={"view": view, "rulebook": rulebook})  # fmt: skip
    return json_response(
        {
            "subject": sid,
            "kind": row.kind,
            "name": row.name,
            "known_at": at.known_at_text(),
            "on": at.on,
            "ledger_size": size,
            "profiles": profiles.view_of(found, view, actions),
        }
    )


@router.get("/v1/me", response_model=SubjectFile, responses=problems(401, 403, 422, 500))
async def me(
    state: Annotated[ServerState, Depends(server)],
    principal: Annotated[Principal, Depends(require_role(route="me"))],
    known_at: Annotated[KnownAt | None, Query(description=KNOWN_AT_DOC)] = None,
    on: Annotated[Day | None, Query(description=ON_DOC)] = None,
) -> Response:
    """A subject key's own file: its profiles, every record about it (unpublished ones
    too), who read its file (from the access log), and — as they are added — its
    objections, repairs and notices."""
    at = when(state, known_at, on)
    state.log.add(principal, "me.read", subject_id=principal.subject, purpose=None)
    state.log.flush()
    with state.lock:
        file = access.subject_file(state.ctx, principal, at)
    return json_response(file)
