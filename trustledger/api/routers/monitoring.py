"""Third-party monitoring: a subject's points, one point's valid hourly means, episodes and
data-quality notices."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import Response

from trustledger.api.deps import ServerState, caller, json_response, server, subject_id
from trustledger.api.models import PointView, SubjectPoints
from trustledger.api.problems import problems
from trustledger.app import access, monitoring
from trustledger.app.keys import ApiKey

router = APIRouter(tags=["monitoring"])


@router.get(
    "/v1/subjects/{subject}/monitoring-points",
    response_model=SubjectPoints,
    responses=problems(400, 401, 404, 422, 500),
)
async def monitoring_points(
    state: Annotated[ServerState, Depends(server)],
    key: Annotated[ApiKey, Depends(caller)],
    subject: Annotated[str, Path(min_length=1, max_length=64, description="USCC or id.")],
) -> Response:
    """The subject's registered monitoring points (HJ 212 loggers)."""
    sid = subject_id(state, subject, "subject")
    with state.lock:
        access.subject(state.ctx, sid)
        points = monitoring.subject_points(state.ctx, sid)
    return json_response({"subject": sid, "points": points})


@router.get(
    "/v1/monitoring/points/{mn}",
    response_model=PointView,
    responses=problems(401, 404, 422, 500),
)
async def monitoring_point(
    state: Annotated[ServerState, Depends(server)],
    key: Annotated[ApiKey, Depends(caller)],
    mn: Annotated[str, Path(pattern=r"^[0-9A-Za-z_-]{1,64}$", description="The logger's MN.")],
    days: Annotated[int, Query(ge=1, le=31, description="Days of hourly values.")] = 7,
) -> Response:
    """A point's valid hourly means at the reference O₂ with its limits, its exceedance
    episodes (and the records they became) and its data-quality notices."""
    with state.lock:
        view = monitoring.point_view(state.ctx, mn, days)
    return json_response(view)
