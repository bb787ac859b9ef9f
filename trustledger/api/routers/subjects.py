"""A subject's file: its profiles under the published rulebooks, as known at an instant and
judged on a day (an organisation's only: a person's file is not served to checkers)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import Response

from trustledger.api.deps import ServerState, caller, json_response, server, subject_id, when
from trustledger.api.models import KNOWN_AT_DOC, ON_DOC, KnownAt, SubjectProfiles
from trustledger.api.problems import problems
from trustledger.app import access, profiles
from trustledger.app.keys import ApiKey
from trustledger.app.rulebooks import ID_PATTERN

router = APIRouter(tags=["subjects"])


@router.get(
    "/v1/subjects/{subject}/profile",
    response_model=SubjectProfiles,
    responses=problems(400, 401, 403, 404, 422, 500),
)
async def profile(
    state: Annotated[ServerState, Depends(server)],
    key: Annotated[ApiKey, Depends(caller)],
    subject: Annotated[
        str,
        Path(
            min_length=1,
            max_length=64,
            description="USCC or ledger id of an organisation (a person's file is refused).",
        ),
    ],
    rulebook: Annotated[
        str | None,
        Query(pattern=ID_PATTERN, max_length=80, description="Only this rulebook."),
    ] = None,
    known_at: Annotated[KnownAt | None, Query(description=KNOWN_AT_DOC)] = None,
    on: Annotated[date | None, Query(description=ON_DOC)] = None,
) -> Response:
    """The subject's profiles under the published rulebooks: records, score, grade, lists
    and measures, with the explanation."""
    sid = subject_id(state, subject, "subject")
    at = when(state, known_at, on)
    with state.lock:
        row = access.organisation_for_checker(state.ctx, sid)
        found = profiles.profile(state.ctx, sid, at, rulebook_id=rulebook)
        store = state.ctx.store
        size = store.size() if at.at_us is None else store.size_at(at.at_us)
    return json_response(
        {
            "subject": sid,
            "kind": row.kind,
            "name": row.name,
            "known_at": at.known_at_text(),
            "on": at.on,
            "ledger_size": size,
            "profiles": [p.to_json() for p in found.profiles],
        }
    )
