"""The HTTP API (FastAPI, under /v1): a thin face over the check index and the ledger.

No domain rule lives here: subjects are resolved by ``resolve_subject`` (a resident ID
number is hashed on arrival and never logged or echoed), answers come from ``CheckIndex``
(fail closed: what cannot be answered is ``unknown``, never ``allow``), and every error is
an RFC 9457 problem document.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from datetime import date
from typing import Annotated, Any, TypeVar

import orjson
from fastapi import Depends, FastAPI, Header, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from pydantic import Field, TypeAdapter, ValidationError
from starlette.datastructures import QueryParams
from starlette.exceptions import HTTPException as StarletteHTTPException

from trustledger.access.keys import ApiKey
from trustledger.api.models import (
    MAX_BATCH,
    MAX_PAGE,
    BatchRequest,
    BatchResult,
    CheckResult,
    Health,
    ListPage,
    Pair,
    PointView,
    Problem,
    ScreenRequest,
    ScreenResult,
    SubjectPoints,
    SubjectProfiles,
)
from trustledger.api.service import ApiService
from trustledger.evaluate.service import UnknownRulebook, UnknownSubject, resolve_subject
from trustledger.rulebook.schema import ID_PATTERN
from trustledger.sanctions.check import CheckIndex, Decision
from trustledger.settings import Settings

__all__ = ["MAX_BATCH", "create_app"]

PERSON_FILE = "a person's file is not served to checkers"
PROBLEM_TYPE = "application/problem+json"
_T = TypeVar("_T")
_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    422: "Unprocessable Content",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


class ApiProblem(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def _problem(
    status: int, detail: str | None, headers: dict[str, str] | None = None
) -> JSONResponse:
    body = Problem(title=_TITLES.get(status, "Error"), status=status, detail=detail)
    return JSONResponse(
        body.model_dump(), status_code=status, media_type=PROBLEM_TYPE, headers=headers
    )


def _problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {s: {"model": Problem, "description": _TITLES[s]} for s in statuses}


def _result(subject_id: str, action: str, on: date, decision: Decision) -> dict[str, Any]:
    # plain dicts serialised by orjson: the response models describe them in the OpenAPI
    # document (and the Schemathesis test holds them to it), validating each again per
    # request would cost more than the check itself
    return {"subject": subject_id, "action": action, "on": on, **decision.to_json()}


def _results(
    ids: list[str], pairs: list[Pair], decisions: list[Decision], day: date
) -> list[dict[str, Any]]:
    # most answers in a batch are the index's one shared "allow": describe it once
    described: dict[int, dict[str, Any]] = {}
    out = []
    for sid, pair, decision in zip(ids, pairs, decisions, strict=True):
        body = described.get(id(decision))
        if body is None:
            body = described[id(decision)] = decision.to_json()
        out.append({"subject": sid, "action": pair.action, "on": day, **body})
    return out


def _json(value: Any) -> Response:
    return Response(orjson.dumps(value), media_type="application/json")


# --- dependencies --------------------------------------------------------------------
async def service(request: Request) -> ApiService:
    svc: ApiService = request.app.state.service
    return svc


async def caller(
    svc: Annotated[ApiService, Depends(service)],
    authorization: Annotated[str | None, Header()] = None,
    x_api_key: Annotated[str | None, Header()] = None,
) -> ApiKey:
    return authorize(svc, authorization, x_api_key)


def authorize(svc: ApiService, authorization: str | None, x_api_key: str | None) -> ApiKey:
    key = x_api_key
    if authorization is not None:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            key = token.strip()
    if not key:
        raise ApiProblem(401, "an API key is required (Authorization: Bearer <key>)")
    found = svc.authenticate(key)
    if found is None:
        raise ApiProblem(401, "unknown API key")
    if found.role != "checker":
        raise ApiProblem(403, "this key may not run checks")
    return found


# --- the single check, read by hand ---------------------------------------------------
# FastAPI's dependency and parameter machinery took two thirds of a single check's time in
# process, so GET /v1/check reads its request directly. What the declarations
#     subject: Query(min_length=1, max_length=64), action: Query(min_length=1, max_length=64),
#     on: Query(date | None), authorization: Header(str | None), x_api_key: Header(str | None)
# would publish is spelled out here, and checked with the same pydantic constraints so the
# answers (422 messages included) are the ones those declarations gave.
_SUBJECT_DOC = "USCC, resident ID number (hashed on arrival) or person id."
_ON_DOC = "Judge on this day (default today)."
_NULLABLE_STRING = {"anyOf": [{"type": "string"}, {"type": "null"}]}
CHECK_PARAMETERS: list[dict[str, Any]] = [
    {"name": "subject", "in": "query", "required": True, "description": _SUBJECT_DOC,
     "schema": {"type": "string", "minLength": 1, "maxLength": 64, "description": _SUBJECT_DOC,
                "title": "Subject"}},
    {"name": "action", "in": "query", "required": True,
     "schema": {"type": "string", "minLength": 1, "maxLength": 64, "title": "Action"}},
    {"name": "on", "in": "query", "required": False, "description": _ON_DOC,
     "schema": {"anyOf": [{"type": "string", "format": "date"}, {"type": "null"}],
                "description": _ON_DOC, "title": "On"}},
    {"name": "authorization", "in": "header", "required": False,
     "schema": {**_NULLABLE_STRING, "title": "Authorization"}},
    {"name": "x-api-key", "in": "header", "required": False,
     "schema": {**_NULLABLE_STRING, "title": "X-Api-Key"}},
]  # fmt: skip
_CHECK_TEXT: TypeAdapter[str] = TypeAdapter(Annotated[str, Field(min_length=1, max_length=64)])
_DATE: TypeAdapter[date] = TypeAdapter(date)


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


def check_query(params: QueryParams) -> tuple[str, str, date | None]:
    """(subject, action, on) of a single check, or RequestValidationError."""
    errors: list[dict[str, Any]] = []
    subject = _query(params, "subject", _CHECK_TEXT, errors)
    action = _query(params, "action", _CHECK_TEXT, errors)
    on = _query(params, "on", _DATE, errors, required=False)
    if errors or subject is None or action is None:
        raise RequestValidationError(errors)
    return subject, action, on


class _DirectRoute(APIRoute):
    """A route whose endpoint takes the Request and returns a Response itself: published
    like any other (its parameters from ``openapi_extra``), but per request nothing is
    solved, validated or serialised on its behalf. Errors still reach the app's handlers."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        endpoint: Callable[[Request], Coroutine[Any, Any, Response]] = self.endpoint
        return endpoint


def in_scope(key: ApiKey, index: CheckIndex, action: str) -> None:
    # an action outside the catalogue is answered "unknown" (nothing to disclose);
    # a catalogued action outside the key's scope is refused
    if action in index.actions and not key.may(action):
        raise ApiProblem(403, f"this key may not check the action {action!r}")


def subject_id(svc: ApiService, text: str, where: str) -> str:
    # checkers ask about the same subjects again and again: remember valid organisation
    # ids (a resident ID number is never kept, not even in memory: it is hashed each time)
    known = svc.subjects.get(text)
    if known is not None:
        return known
    try:
        resolved = resolve_subject(text, svc.keyer)
    except ValueError:
        # never echo the input: it may be a resident ID number
        raise ApiProblem(
            400, f"{where} is not a valid USCC, resident ID number or person id"
        ) from None
    if resolved == text:  # a USCC or an internal id: nothing personal to keep
        if len(svc.subjects) >= 1_000_000:
            svc.subjects.clear()
        svc.subjects[text] = resolved
    return resolved


# --- the app -------------------------------------------------------------------------
def create_app(settings: Settings, *, reload_interval: float = 1.0) -> FastAPI:
    """The API over the ledger at ``settings.db_url``; the check index is loaded at startup
    and reloaded when the ledger or the evaluation state changes (checked at most once per
    ``reload_interval`` seconds)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.service = ApiService(settings, reload_interval)
        try:
            yield
        finally:
            app.state.service.close()

    app = FastAPI(
        title="trustledger",
        version="1",
        description="Public credit information: checks of measures in force, with reasons.",
        lifespan=lifespan,
    )

    @app.exception_handler(ApiProblem)
    async def api_problem(_: Request, exc: ApiProblem) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return _problem(exc.status, exc.detail, headers)

    @app.exception_handler(StarletteHTTPException)
    async def http_problem(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _problem(exc.status_code, str(exc.detail), dict(exc.headers or {}) or None)

    @app.exception_handler(RequestValidationError)
    async def validation_problem(_: Request, exc: RequestValidationError) -> JSONResponse:
        # location and message only: the offending input is never echoed
        parts = [
            f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', 'invalid')}"
            for e in exc.errors()[:10]
        ]
        return _problem(422, "; ".join(parts) or "invalid request")

    @app.exception_handler(Exception)
    async def server_problem(_: Request, exc: Exception) -> JSONResponse:
        return _problem(500, "internal error")

    @app.get("/v1/health", response_model=Health, responses=_problems(500), tags=["ledger"])
    def health(svc: Annotated[ApiService, Depends(service)]) -> Health:
        """The service is up: ledger size and root, and the position the check index reflects."""
        index = svc.current()
        size, root = svc.health()
        return Health(
            status="ok",
            ledger_size=size,
            root=root,
            index_ledger_size=index.ledger_size,
            stale=svc.stale,
            index_error=svc.index_error,
        )

    async def check(request: Request) -> Response:
        """May SUBJECT do ACTION on day ON? ``unknown`` is never an allow."""
        svc: ApiService = request.app.state.service
        headers = request.headers
        # the key first, as a dependency would: without one, nothing else is judged
        key = authorize(svc, headers.get("authorization"), headers.get("x-api-key"))
        subject, action, on = check_query(request.query_params)
        index = svc.current()
        in_scope(key, index, action)
        sid = subject_id(svc, subject, "subject")
        day = index.today() if on is None else on
        return _json(_result(sid, action, day, index.check(sid, action, day)))

    app.router.add_api_route(
        "/v1/check",
        check,
        methods=["GET"],
        response_model=CheckResult,
        responses=_problems(400, 401, 403, 422, 500),
        tags=["checks"],
        openapi_extra={"parameters": CHECK_PARAMETERS},
        route_class_override=_DirectRoute,
    )

    @app.post(
        "/v1/check/batch",
        response_model=BatchResult,
        responses=_problems(400, 401, 403, 422, 500),
        tags=["checks"],
    )
    async def check_batch(
        svc: Annotated[ApiService, Depends(service)],
        key: Annotated[ApiKey, Depends(caller)],
        body: BatchRequest,
    ) -> Response:
        """Many checks at once (at most 10,000 pairs), all judged on one day."""
        index = svc.current()
        for pair in body.pairs:
            in_scope(key, index, pair.action)
        ids = [subject_id(svc, p.subject, f"pairs[{i}].subject") for i, p in enumerate(body.pairs)]
        day = index.today() if body.on is None else body.on
        decisions = index.check_many(zip(ids, (p.action for p in body.pairs), strict=True), day)
        return _json(
            {
                "on": day,
                "results": _results(ids, body.pairs, decisions, day),
            }
        )

    @app.get(
        "/v1/subjects/{subject}/profile",
        response_model=SubjectProfiles,
        responses=_problems(400, 401, 403, 404, 422, 500),
        tags=["subjects"],
    )
    async def profile(
        svc: Annotated[ApiService, Depends(service)],
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
    ) -> Response:
        """The subject's profiles under the published rulebooks (today, local calendar):
        records, score, grade, lists and measures, with the explanation."""
        sid = subject_id(svc, subject, "subject")
        row = svc.subject(sid)
        if row is None:
            raise ApiProblem(404, "no such subject in the ledger")
        if row.kind == "person":
            # principle 6: a person's file needs its own role and an access log
            raise ApiProblem(403, PERSON_FILE)
        try:
            day, size, found = svc.profiles(sid, rulebook)
        except UnknownSubject:
            raise ApiProblem(404, "no such subject in the ledger") from None
        except UnknownRulebook:
            raise ApiProblem(404, "no such rulebook is published") from None
        return _json(
            {
                "subject": sid,
                "kind": row.kind,
                "name": row.name,
                "on": day,
                "ledger_size": size,
                "profiles": found,
            }
        )

    @app.get(
        "/v1/subjects/{subject}/monitoring-points",
        response_model=SubjectPoints,
        responses=_problems(400, 401, 404, 422, 500),
        tags=["monitoring"],
    )
    async def monitoring_points(
        svc: Annotated[ApiService, Depends(service)],
        key: Annotated[ApiKey, Depends(caller)],
        subject: Annotated[str, Path(min_length=1, max_length=64, description="USCC or id.")],
    ) -> Response:
        """The subject's registered monitoring points (HJ 212 loggers)."""
        sid = subject_id(svc, subject, "subject")
        if svc.subject(sid) is None:
            raise ApiProblem(404, "no such subject in the ledger")
        return _json({"subject": sid, "points": svc.subject_points(sid)})

    @app.get(
        "/v1/monitoring/points/{mn}",
        response_model=PointView,
        responses=_problems(401, 404, 422, 500),
        tags=["monitoring"],
    )
    async def monitoring_point(
        svc: Annotated[ApiService, Depends(service)],
        key: Annotated[ApiKey, Depends(caller)],
        mn: Annotated[str, Path(pattern=r"^[0-9A-Za-z_-]{1,64}$", description="The logger's MN.")],
        days: Annotated[int, Query(ge=1, le=31, description="Days of hourly values.")] = 7,
    ) -> Response:
        """A point's valid hourly means at the reference O₂ with its limits, its exceedance
        episodes (and the records they became) and its data-quality notices."""
        view = svc.point_view(mn, days)
        if view is None:
            raise ApiProblem(404, "no such monitoring point")
        return _json(view)

    @app.get(
        "/v1/lists/{rulebook}/{list_id}",
        response_model=ListPage,
        responses=_problems(401, 403, 404, 422, 500),
        tags=["lists"],
    )
    async def list_members(
        svc: Annotated[ApiService, Depends(service)],
        key: Annotated[ApiKey, Depends(caller)],
        rulebook: Annotated[str, Path(pattern=ID_PATTERN, max_length=80)],
        list_id: Annotated[str, Path(pattern=ID_PATTERN, max_length=80)],
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
        after: Annotated[
            str | None,
            Query(
                pattern=r"^[0-9A-Za-z]+$",
                max_length=64,
                description="The `next` of the previous page (a subject id).",
            ),
        ] = None,
    ) -> Response:
        """The organisations on a list, by subject id, a page at a time; persons are
        withheld and only counted."""
        rows, persons, known = svc.list_page(rulebook, list_id, after, limit)
        if not known:
            raise ApiProblem(404, "no such list under a published rulebook")
        members = [
            {
                "subject_id": r[0],
                "name": r[1],
                "kind": r[2],
                "since": r[3],
                "until": r[4],
                "records": orjson.loads(r[5]),
            }
            for r in rows[:limit]
        ]
        more = len(rows) > limit
        return _json(
            {
                "rulebook": rulebook,
                "list": list_id,
                "members": members,
                "persons_withheld": persons,
                "next": members[-1]["subject_id"] if more else None,
            }
        )

    @app.post(
        "/v1/screen",
        response_model=ScreenResult,
        responses=_problems(400, 401, 403, 422, 500),
        tags=["screening"],
    )
    async def screen(
        svc: Annotated[ApiService, Depends(service)],
        key: Annotated[ApiKey, Depends(caller)],
        body: ScreenRequest,
    ) -> Response:
        """Organisations that may be the one named, best first; every candidate is for a
        person to review (a name alone never clears or denies anyone)."""
        try:
            size, found = svc.screen(body.name, body.region, body.address, body.limit)
        except ValueError:
            raise ApiProblem(400, "region must be 2, 4 or 6 digits") from None
        return _json({"ledger_size": size, "candidates": found})

    app.openapi = _problem_openapi(app)  # type: ignore[method-assign]
    return app


def _problem_openapi(app: FastAPI) -> Callable[[], dict[str, Any]]:
    """The OpenAPI document, with error responses served as application/problem+json."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            for path in schema.get("paths", {}).values():
                for operation in path.values():
                    for status, response in operation.get("responses", {}).items():
                        content = response.get("content", {})
                        if status[0] in "45" and "application/json" in content:
                            content[PROBLEM_TYPE] = content.pop("application/json")
            app.openapi_schema = schema
        return app.openapi_schema

    return openapi


def create_app_from_env() -> FastAPI:
    """The app for `uvicorn --factory trustledger.api.app:create_app_from_env`."""
    return create_app(Settings.from_env())
