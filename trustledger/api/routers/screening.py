"""Name screening: candidates for a person to review, never a clearance or a denial."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from trustledger.api.deps import ServerState, json_response, require_role, server
from trustledger.api.models import ScreenRequest, ScreenResult
from trustledger.api.problems import problems
from trustledger.app import screening
from trustledger.app.keys import Principal

router = APIRouter(tags=["screening"])


@router.post("/v1/screen", response_model=ScreenResult, responses=problems(400, 401, 403, 422, 500))
async def screen(
    state: Annotated[ServerState, Depends(server)],
    principal: Annotated[Principal, Depends(require_role(route="screen"))],
    body: ScreenRequest,
) -> Response:
    """Organisations that may be the one named, best first; every candidate is for a
    person to review (a name alone never clears or denies anyone)."""
    with state.lock:
        found = screening.screen(
            state.ctx, body.name, region=body.region, address=body.address, limit=body.limit
        )
        size = state.ctx.store.size()
    candidates = [
        {"subject_id": c.subject_id, "matched_name": c.matched_name, "name_form": c.name_form,
         "score": c.score, "features": c.features, "outcome": c.outcome}
        for c in found
    ]  # fmt: skip
    state.log.add(principal, "screen", subject_id=None, purpose=None,
                  detail={"candidates": [c.subject_id for c in found]})  # fmt: skip
    return json_response({"ledger_size": size, "candidates": candidates})
