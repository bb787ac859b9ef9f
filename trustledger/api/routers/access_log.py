"""The access log, for auditors: who read or checked what about whom, when and why."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from trustledger.api.deps import ServerState, json_response, require_role, server, subject_id
from trustledger.api.models import MAX_PAGE, SUBJECT_PATTERN, SUBJECT_SCHEMA, AccessLogPage
from trustledger.api.problems import problems
from trustledger.app import access
from trustledger.app.keys import Principal

router = APIRouter(tags=["access"])


@router.get(
    "/v1/access-log", response_model=AccessLogPage, responses=problems(400, 401, 403, 422, 500)
)
async def access_log(
    state: Annotated[ServerState, Depends(server)],
    principal: Annotated[Principal, Depends(require_role(route="access_log"))],
    subject: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=64,
            pattern=SUBJECT_PATTERN,
            json_schema_extra=SUBJECT_SCHEMA,
            description="Only accesses about this subject (USCC, resident ID number — "
            "hashed on arrival — or person id).",
        ),
    ] = None,
    after: Annotated[
        int | None, Query(ge=0, description="The `next` of the previous page (a row's seq).")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
) -> Response:
    """A page of the access log, oldest first, each row with the hash chaining it to the
    one before (``trustledger.access.log``)."""
    sid = None if subject is None else subject_id(state, subject, "subject")
    state.log.add(principal, "access_log.read", subject_id=sid, purpose=None)
    state.log.flush()
    with state.lock:
        page = access.read_log(state.ctx, subject_id=sid, after=after, limit=limit)
    return json_response(page.to_json())
