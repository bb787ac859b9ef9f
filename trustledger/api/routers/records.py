"""Records from issuers: one intake line at a time, in the issuer's own name."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends
from fastapi.responses import Response

from trustledger.api.deps import ServerState, json_response, require_role, server
from trustledger.api.models import RecordAccepted
from trustledger.api.problems import problems
from trustledger.app import access
from trustledger.app.keys import Principal

router = APIRouter(tags=["records"])


@router.post(
    "/v1/records",
    response_model=RecordAccepted,
    status_code=201,
    responses=problems(401, 403, 422, 500),
)
async def submit(
    state: Annotated[ServerState, Depends(server)],
    principal: Annotated[Principal, Depends(require_role(route="records"))],
    line: Annotated[dict[str, Any], Body(description="One intake line (docs/intake.md).")],
) -> Response:
    """Append one record (or a correction, revocation or end of one): only in the key's
    own authority's name, of a category its authority type may issue; the intake checks
    the rest. The subject is re-evaluated at once."""
    with state.lock:
        result = access.submit_record(state.ctx, principal, line)
    body = result.body
    if body["refreshed"]:
        state.checks.look_now()  # the very next check sees the change
    state.log.add(principal, "records.submit", subject_id=result.subject_id, purpose=None,
                  detail={"op": line.get("op") or "issue", "outcome": body["outcome"],
                          "ref": body["ref"]})  # fmt: skip
    response = json_response(body)
    response.status_code = 201 if body["outcome"] == "accepted" else 200
    return response
