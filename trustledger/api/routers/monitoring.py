"""Third-party monitoring: a subject's points, one point's valid hourly means, episodes and
data-quality notices. For operators, reviewers and a subject on its own points. Persons
never have points: any person id is answered alike, known or not (no existence oracle)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import Response

from trustledger.api.deps import ServerState, json_response, require_role, server, subject_id
from trustledger.api.models import SUBJECT_PATTERN, SUBJECT_SCHEMA, PointView, SubjectPoints
from trustledger.api.problems import NotInScope, problems
from trustledger.app import access, monitoring
from trustledger.app.keys import Principal

router = APIRouter(tags=["monitoring"])


@router.get(
    "/v1/subjects/{subject}/monitoring-points",
    response_model=SubjectPoints,
    responses=problems(400, 401, 403, 404, 422, 500),
)
async def monitoring_points(
    state: Annotated[ServerState, Depends(server)],
    principal: Annotated[Principal, Depends(require_role(route="monitoring"))],
    subject: Annotated[
        str,
        Path(min_length=1, max_length=64, pattern=SUBJECT_PATTERN,
             json_schema_extra=SUBJECT_SCHEMA, description="USCC or id."),
    ],
) -> Response:
    """The subject's registered monitoring points (HJ 212 loggers)."""
    sid = subject_id(state, subject, "subject")
    if principal.role == "subject" and principal.subject != sid:
        raise NotInScope("a subject key reads its own file only")
    state.log.add(principal, "monitoring.points", subject_id=sid, purpose=None)
    if access.is_person(sid):
        # decided by the id's form alone: the same answer for every person id
        return json_response({"subject": sid, "points": []})
    with state.lock:
        access.subject(state.ctx, sid)
        points = monitoring.subject_points(state.ctx, sid)
    return json_response({"subject": sid, "points": points})


@router.get(
    "/v1/monitoring/points/{mn}",
    response_model=PointView,
    responses=problems(401, 403, 404, 422, 500),
)
async def monitoring_point(
    state: Annotated[ServerState, Depends(server)],
    principal: Annotated[Principal, Depends(require_role(route="monitoring"))],
    mn: Annotated[str, Path(pattern=r"^[0-9A-Za-z_-]{1,64}$", description="The logger's MN.")],
    days: Annotated[int, Query(ge=1, le=31, description="Days of hourly values.")] = 7,
) -> Response:
    """A point's valid hourly means at the reference O₂ with its limits, its exceedance
    episodes (and the records they became) and its data-quality notices."""
    with state.lock:
        view = monitoring.point_view(state.ctx, mn, days)
    if principal.role == "subject" and principal.subject != view["subject"]:
        raise NotInScope("a subject key reads its own file only")
    state.log.add(principal, "monitoring.point", subject_id=view["subject"], purpose=None,
                  detail={"mn": mn, "days": days})  # fmt: skip
    return json_response(view)
