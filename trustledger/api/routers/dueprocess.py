"""Due process over HTTP: objections and credit repair (``trustledger.app.dueprocess``).

A subject key (or an operator filing on the subject's behalf) objects and applies; a
reviewer key decides — never on a record its own authority issued. Each answer is the
objection or application as it now stands, with how many subjects were re-evaluated: the
check index follows the ledger within a second.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from trustledger.api.deps import ServerState, json_response, require_role, server, subject_id
from trustledger.api.models import NO_NUL, SUBJECT_PATTERN, SUBJECT_SCHEMA
from trustledger.api.problems import problems
from trustledger.app import dueprocess, notices
from trustledger.app.keys import Principal

router = APIRouter(tags=["due process"])

Digest = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$", description="SHA-256, hex")]
# no NUL: PostgreSQL text cannot hold one
Reasons = Annotated[str, Field(min_length=1, max_length=4000, pattern=NO_NUL)]
RecordId = Annotated[
    str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$", description="A record id.")
]
ItemId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ObjectionIn(_Body):
    record: RecordId = Field(description="The record objected to.")
    ground: Literal["content", "publicity", "listing", "repair_decision"]
    reasons: Reasons
    evidence: list[Digest] = Field(default_factory=list, max_length=50)


class ObjectionDecisionIn(_Body):
    outcome: Literal["upheld", "dismissed"]
    reasons: Reasons


class RepairIn(_Body):
    record: RecordId = Field(description="The record to repair.")
    correction: Digest
    obligations: Digest
    commitment: Digest


class RepairDecisionIn(_Body):
    outcome: Literal["granted", "refused"]
    reasons: Reasons


def _step(state: ServerState, step: dueprocess.Step, status: int = 200) -> Response:
    if step.reevaluated:
        state.checks.look_now()  # its effect shows in the very next check
    response = json_response(step.to_json())
    response.status_code = status
    return response


_FILERS: tuple[Any, ...] = ("subject", "operator")


@router.post("/v1/objections", status_code=201, responses=problems(401, 403, 404, 409, 422))
async def file_objection(
    state: Annotated[ServerState, Depends(server)],
    principal: Annotated[Principal, Depends(require_role(*_FILERS))],
    body: ObjectionIn,
) -> Response:
    """Object to a record; it and what rests on it are under objection until decided."""
    with state.lock:
        step = dueprocess.file_objection(
            state.ctx, principal, record_id=body.record, ground=body.ground,
            reasons=body.reasons, evidence=body.evidence,
        )  # fmt: skip
    return _step(state, step, 201)


@router.post("/v1/objections/{objection}/decision", responses=problems(401, 403, 404, 409, 422))
async def decide_objection(
    state: Annotated[ServerState, Depends(server)],
    principal: Annotated[Principal, Depends(require_role("reviewer"))],
    objection: ItemId,
    body: ObjectionDecisionIn,
) -> Response:
    """A reviewer upholds (the record is withdrawn) or dismisses, with reasons."""
    with state.lock:
        step = dueprocess.decide_objection(
            state.ctx, principal, objection_id=objection, outcome=body.outcome,
            reasons=body.reasons,
        )  # fmt: skip
    return _step(state, step)


@router.post("/v1/repairs", status_code=201, responses=problems(401, 403, 404, 409, 422))
async def apply_repair(
    state: Annotated[ServerState, Depends(server)],
    principal: Annotated[Principal, Depends(require_role(*_FILERS))],
    body: RepairIn,
) -> Response:
    """Apply for credit repair (409 before the record's publicity minimum, with the date)."""
    with state.lock:
        step = dueprocess.apply_repair(
            state.ctx, principal, record_id=body.record, correction=body.correction,
            obligations=body.obligations, commitment=body.commitment,
        )  # fmt: skip
    return _step(state, step, 201)


@router.post("/v1/repairs/{repair}/decision", responses=problems(401, 403, 404, 409, 422))
async def decide_repair(
    state: Annotated[ServerState, Depends(server)],
    principal: Annotated[Principal, Depends(require_role("reviewer"))],
    repair: ItemId,
    body: RepairDecisionIn,
) -> Response:
    """A reviewer grants (the record stops counting from today) or refuses, with reasons."""
    with state.lock:
        step = dueprocess.decide_repair(
            state.ctx, principal, repair_id=repair, outcome=body.outcome, reasons=body.reasons
        )
    return _step(state, step)


@router.get("/v1/due-process/overdue", responses=problems(401, 403))
async def overdue(
    state: Annotated[ServerState, Depends(server)],
    principal: Annotated[Principal, Depends(require_role("operator", "auditor"))],
) -> Response:
    """Open objections and repair applications past their deadline (for operators)."""
    with state.lock:
        late = dueprocess.overdue(state.ctx)
    return json_response([row._asdict() for row in late])


@router.get("/v1/notices", responses=problems(400, 401, 403, 404, 422))
async def list_notices(
    state: Annotated[ServerState, Depends(server)],
    principal: Annotated[Principal, Depends(require_role("subject", "operator", "reviewer"))],
    subject: Annotated[
        str | None,
        Query(min_length=1, max_length=64, pattern=SUBJECT_PATTERN,
              json_schema_extra=SUBJECT_SCHEMA,
              description="Whose notices (operators and reviewers; a subject key reads its "
              "own and may omit it)."),
    ] = None,
) -> Response:  # fmt: skip
    """The adverse-action notices sent to a subject, oldest first, with their delivery."""
    asked = None if subject is None else subject_id(state, subject, "subject")
    with state.lock:
        found = notices.notices_for(state.ctx, principal, asked)
    state.log.add(principal, "notices.read", subject_id=found.subject_id, purpose=None)
    return json_response(found.to_json())
