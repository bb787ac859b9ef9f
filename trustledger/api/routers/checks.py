"""Checks: may SUBJECT do ACTION, as known at an instant, judged on a day? Single and batch.

The live answer (``known_at`` now) comes from the in-memory index the check service keeps
up to date; an answer as known at an earlier instant evaluates the subject on the ledger
as it stood then (slower; the live state is never touched). ``unknown`` is never an allow.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from datetime import date, datetime
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.routing import APIRoute
from pydantic import Field, TypeAdapter, ValidationError
from starlette.datastructures import QueryParams

from trustledger.api.deps import (
    ServerState,
    admit,
    in_scope,
    json_response,
    require_role,
    resolve,
    server,
    subject_id,
    when,
)
from trustledger.api.models import (
    KNOWN_AT_DOC,
    MAX_POSITION,
    MIN_POSITION_DOC,
    ON_DOC,
    PURPOSE_DOC,
    PURPOSE_PATTERN,
    SUBJECT_FORMAT,
    SUBJECT_PATTERN,
    BatchRequest,
    BatchResult,
    CheckResult,
    Day,
    KnownAt,
)
from trustledger.api.problems import problems
from trustledger.app import access, checks
from trustledger.app.keys import Principal
from trustledger.app.time import When

router = APIRouter(tags=["checks"])
_T = TypeVar("_T")

# --- the single check, read by hand ---------------------------------------------------
# FastAPI's dependency and parameter machinery took two thirds of a single check's time in
# process, so GET /v1/check reads its request directly. What the declarations
#     subject: Query(min_length=1, max_length=64), action: Query(min_length=1, max_length=64),
#     known_at: Query(datetime | None), on: Query(date | None),
#     purpose: Query(str | None, min_length=1, max_length=200, pattern=PURPOSE_PATTERN),
#     authorization: Header(str | None), x_api_key: Header(str | None)
# would publish is spelled out here, and checked with the same pydantic constraints so the
# answers (422 messages included) are the ones those declarations give.
_SUBJECT_DOC = "USCC, resident ID number (hashed on arrival) or person id."
_NULLABLE_STRING = {"anyOf": [{"type": "string"}, {"type": "null"}]}
CHECK_PARAMETERS: list[dict[str, Any]] = [
    {"name": "subject", "in": "query", "required": True, "description": _SUBJECT_DOC,
     "schema": {"type": "string", "minLength": 1, "maxLength": 64, "pattern": SUBJECT_PATTERN,
                "format": SUBJECT_FORMAT, "description": _SUBJECT_DOC, "title": "Subject"}},
    {"name": "action", "in": "query", "required": True,
     "schema": {"type": "string", "minLength": 1, "maxLength": 64, "title": "Action"}},
    {"name": "known_at", "in": "query", "required": False, "description": KNOWN_AT_DOC,
     "schema": {"anyOf": [{"type": "string", "format": "date-time"}, {"type": "null"}],
                "description": KNOWN_AT_DOC, "title": "Known At"}},
    {"name": "on", "in": "query", "required": False, "description": ON_DOC,
     "schema": {"anyOf": [{"type": "string", "format": "date"}, {"type": "null"}],
                "description": ON_DOC, "title": "On"}},
    {"name": "purpose", "in": "query", "required": False, "description": PURPOSE_DOC,
     "schema": {"anyOf": [{"type": "string", "minLength": 1, "maxLength": 200,
                           "pattern": PURPOSE_PATTERN},
                          {"type": "null"}], "description": PURPOSE_DOC, "title": "Purpose"}},
    {"name": "min_position", "in": "query", "required": False, "description": MIN_POSITION_DOC,
     "schema": {"anyOf": [{"type": "integer", "minimum": 0, "maximum": MAX_POSITION},
                          {"type": "null"}], "description": MIN_POSITION_DOC,
                "title": "Min Position"}},
    {"name": "authorization", "in": "header", "required": False,
     "schema": {**_NULLABLE_STRING, "title": "Authorization"}},
    {"name": "x-api-key", "in": "header", "required": False,
     "schema": {**_NULLABLE_STRING, "title": "X-Api-Key"}},
]  # fmt: skip
_CHECK_TEXT: TypeAdapter[str] = TypeAdapter(Annotated[str, Field(min_length=1, max_length=64)])
_SUBJECT: TypeAdapter[str] = TypeAdapter(
    Annotated[str, Field(min_length=1, max_length=64, pattern=SUBJECT_PATTERN)]
)
_KNOWN_AT: TypeAdapter[datetime] = TypeAdapter(KnownAt)
_POSITION: TypeAdapter[int] = TypeAdapter(Annotated[int, Field(ge=0, le=MAX_POSITION)])
_DATE: TypeAdapter[date] = TypeAdapter(Day)
_PURPOSE: TypeAdapter[str] = TypeAdapter(
    Annotated[str, Field(min_length=1, max_length=200, pattern=PURPOSE_PATTERN)]
)


def _query(
    params: QueryParams,
    name: str,
    adapter: TypeAdapter[_T],
    errors: list[dict[str, Any]],
    *,
    required: bool = True,
) -> _T | None:
    """The validated value of one query parameter, or None with its errors recorded in the
    shape pydantic gives them (so the 422 problem reads as it always has)."""
    text = params.get(name)
    if text is None:
        if required:
            errors.append(
                {"type": "missing", "loc": ("query", name), "msg": "Field required", "input": None}
            )
        return None
    try:
        return adapter.validate_python(text)
    except ValidationError as exc:
        errors.extend(
            {**e, "loc": ("query", name, *e["loc"])} for e in exc.errors(include_url=False)
        )
        return None


def check_query(
    params: QueryParams,
) -> tuple[str, str, datetime | None, date | None, str | None, int | None]:
    """(subject, action, known_at, on, purpose, min_position) of a single check, or
    RequestValidationError."""
    errors: list[dict[str, Any]] = []
    subject = _query(params, "subject", _SUBJECT, errors)
    action = _query(params, "action", _CHECK_TEXT, errors)
    known_at = _query(params, "known_at", _KNOWN_AT, errors, required=False)
    on = _query(params, "on", _DATE, errors, required=False)
    purpose = _query(params, "purpose", _PURPOSE, errors, required=False)
    position = _query(params, "min_position", _POSITION, errors, required=False)
    if errors or subject is None or action is None:
        raise RequestValidationError(errors)
    return subject, action, known_at, on, purpose, position


class _DirectRoute(APIRoute):
    """A route whose endpoint takes the Request and returns a Response itself: published
    like any other (its parameters from ``openapi_extra``), but per request nothing is
    solved, validated or serialised on its behalf. Errors still reach the app's handlers."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        endpoint: Callable[[Request], Coroutine[Any, Any, Response]] = self.endpoint
        return endpoint


def _as_known_then(
    state: ServerState, pairs: list[tuple[str, str]], at: When
) -> list[dict[str, Any]]:
    """Decisions (as JSON) for pairs as known at an earlier instant: each subject evaluated
    on the ledger as it stood then, once per distinct pair."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    with state.lock:
        for pair in pairs:
            if pair not in out:
                out[pair] = checks.check_subject(state.ctx, *pair, at, log=False).decision.to_json()
    return [out[pair] for pair in pairs]


def _shown(principal: Principal, sid: str, body: dict[str, Any], evaluated: bool) -> dict[str, Any]:
    """The answer as this principal may see it: a checker learns nothing that identifies
    or profiles a person (``trustledger.app.access.for_checker``)."""
    if principal.role == "checker" and access.is_person(sid):
        return access.for_checker(body, evaluated)
    return body


async def check(request: Request) -> Response:
    """May SUBJECT do ACTION on day ON, as known at KNOWN_AT? ``unknown`` is never an allow.
    A check on a person needs its ``purpose``; every check is in the access log."""
    state: ServerState = request.app.state.server
    headers = request.headers
    # the key first, as a dependency would: without one, nothing else is judged
    principal = resolve(state, headers.get("authorization"), headers.get("x-api-key"))
    admit(principal, "check")
    assert principal is not None
    subject, action, known_at, on, purpose, position = check_query(request.query_params)
    index = state.checks.current() if position is None else state.checks.at_least(position)
    in_scope(principal, index.actions, action)
    sid = subject_id(state, subject, "subject")
    purpose = access.require_purpose(sid, purpose)
    at = when(state, known_at, on)
    if at.live:
        decision = index.check(sid, action, at.on).to_json()
    else:
        (decision,) = _as_known_then(state, [(sid, action)], at)
    body = _shown(principal, sid, {"subject": sid, "action": action,
                                   "known_at": at.known_at_text(), "on": at.on, **decision},
                  index.ledger_size > 0)  # fmt: skip
    state.log.add(principal, "check", subject_id=sid, purpose=purpose,
                  detail={"action": action, "status": body["status"]})  # fmt: skip
    return json_response(body)


router.add_api_route(
    "/v1/check",
    check,
    methods=["GET"],
    response_model=CheckResult,
    responses=problems(400, 401, 403, 422, 500, 503),
    openapi_extra={"parameters": CHECK_PARAMETERS},
    route_class_override=_DirectRoute,
)


@router.post(
    "/v1/check/batch",
    response_model=BatchResult,
    responses=problems(400, 401, 403, 422, 500, 503),
)
async def check_batch(
    state: Annotated[ServerState, Depends(server)],
    key: Annotated[Principal, Depends(require_role(route="check"))],
    body: BatchRequest,
) -> Response:
    """Many checks at once (at most 10,000 pairs), all as known at one instant and judged
    on one day; ``purpose`` is needed when any pair is about a person. Every subject asked
    about is in the access log."""
    position = body.min_position
    index = state.checks.current() if position is None else state.checks.at_least(position)
    for pair in body.pairs:
        in_scope(key, index.actions, pair.action)
    ids = [subject_id(state, p.subject, f"pairs[{i}].subject") for i, p in enumerate(body.pairs)]
    purpose = None
    for sid in ids:
        purpose = access.require_purpose(sid, body.purpose)
    at = when(state, body.known_at, body.on)
    pairs = list(zip(ids, (p.action for p in body.pairs), strict=True))
    if at.live:
        # most answers in a batch are the index's one shared "allow": describe it once
        described: dict[int, dict[str, Any]] = {}
        decisions = []
        for decision in index.check_many(pairs, at.on):
            body_json = described.get(id(decision))
            if body_json is None:
                body_json = described[id(decision)] = decision.to_json()
            decisions.append(body_json)
    else:
        decisions = _as_known_then(state, pairs, at)
    known_at = at.known_at_text()
    evaluated = index.ledger_size > 0
    results = [
        _shown(key, sid, {"subject": sid, "action": action, "known_at": known_at, "on": at.on,
                          **d}, evaluated)
        for (sid, action), d in zip(pairs, decisions, strict=True)
    ]  # fmt: skip
    asked: dict[str, list[str]] = {}
    for sid, action in pairs:
        asked.setdefault(sid, []).append(action)
    for sid, actions in asked.items():
        state.log.add(key, "check.batch", subject_id=sid, purpose=purpose,
                      detail={"actions": sorted(set(actions))})  # fmt: skip
    return json_response({"known_at": known_at, "on": at.on, "results": results})
