"""Commendations of persons over HTTP (``trustledger.app.commendations``).

``GET /v1/commendations`` is public: the commendations persons consent to publish, each
with only what its person chose to show. A subject key gives and withdraws consent on its
own commendations (``/v1/me/commendations/{record}/consent``); each is a ledger entry.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from trustledger.api.deps import ServerState, admit, caller, json_response, require_role, server
from trustledger.api.models import NO_NUL
from trustledger.api.problems import problems
from trustledger.app import commendations
from trustledger.app.keys import Principal

router = APIRouter(tags=["commendations"])

ShownField = Literal["authority", "document_number", "decision_date"]
RecordId = Annotated[
    str,
    Path(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="The commendation's record id (in `GET /v1/me`).",
    ),
]


class ConsentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    display_name: str = Field(
        min_length=1,
        max_length=60,
        pattern=NO_NUL,
        description="The name to be shown (it may be a pseudonym).",
    )
    shown: list[ShownField] = Field(
        default_factory=list,
        max_length=3,
        description="The record's fields to show besides the name and the category.",
    )


class ConsentOut(BaseModel):
    record: str
    status: Literal["given", "withdrawn"]
    display_name: str | None
    shown: list[ShownField]
    given_date: str
    withdrawn_date: str | None


class Commendation(BaseModel):
    display_name: str
    category: str
    category_title: str
    category_title_zh: str
    authority: str | None = Field(description="The authority's name, if its person shows it.")
    document_number: str | None
    decision_date: str | None


class Commendations(BaseModel):
    count: int
    commendations: list[Commendation]


@router.get("/v1/commendations", response_model=Commendations, responses=problems(401, 500))
async def published(
    state: Annotated[ServerState, Depends(server)],
    principal: Annotated[Principal | None, Depends(caller)],
) -> Response:
    """The commendations of persons (volunteer service, blood donation, charity) that their
    persons consent to publish, with only what each chose to show; no ID number, no
    person id."""
    admit(principal, "commendations")
    with state.lock:
        found = commendations.published(state.ctx)
    if principal is not None:
        state.log.add(principal, "commendations.read", subject_id=None, purpose=None)
    return json_response({"count": len(found), "commendations": [c.to_json() for c in found]})


@router.post(
    "/v1/me/commendations/{record}/consent",
    status_code=201,
    response_model=ConsentOut,
    responses=problems(401, 403, 404, 409, 422),
)
async def give_consent(
    state: Annotated[ServerState, Depends(server)],
    principal: Annotated[Principal, Depends(require_role(route="consent"))],
    record: RecordId,
    body: ConsentIn,
) -> Response:
    """Consent to publish one of your commendations under the name you give, showing the
    fields you choose (a new consent replaces the one in force)."""
    with state.lock:
        answer = commendations.give_consent(
            state.ctx, principal, record_id=record, display_name=body.display_name, shown=body.shown
        )
    response = json_response(answer)
    response.status_code = 201
    return response


@router.delete(
    "/v1/me/commendations/{record}/consent",
    response_model=ConsentOut,
    responses=problems(401, 403, 404, 409, 422),
)
async def withdraw_consent(
    state: Annotated[ServerState, Depends(server)],
    principal: Annotated[Principal, Depends(require_role(route="consent"))],
    record: RecordId,
) -> Response:
    """Withdraw your consent: the commendation is in no public view from now on."""
    with state.lock:
        answer = commendations.withdraw_consent(state.ctx, principal, record_id=record)
    return json_response(answer)
