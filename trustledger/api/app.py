"""The HTTP API (FastAPI, under /v1): a thin face over the check index and the ledger.

No domain rule lives here: subjects are resolved by ``resolve_subject`` (a resident ID
number is hashed on arrival and never logged or echoed), answers come from ``CheckIndex``
(fail closed: what cannot be answered is ``unknown``, never ``allow``), and every error is
an RFC 9457 problem document.
"""

from __future__ import annotations

import builtins
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from datetime import date
from typing import Annotated, Any, Literal, TypeVar

import orjson
from fastapi import Depends, FastAPI, Header, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError
from starlette.datastructures import QueryParams
from starlette.exceptions import HTTPException as StarletteHTTPException

from trustledger.access.keys import ApiKey, authenticate, ensure_table
from trustledger.catalogue import Catalogue, national_catalogue
from trustledger.evaluate.service import UnknownRulebook, UnknownSubject, resolve_subject
from trustledger.evaluate.service import subject_profiles as _subject_profiles
from trustledger.evaluate.state import (
    changed_subjects,
    latest_positions,
    list_members,
    state_signature,
)
from trustledger.ids import PersonKeyer
from trustledger.intake.factory import person_keyer
from trustledger.ledger.projection import SubjectRow
from trustledger.ledger.store import Store, open_store
from trustledger.monitoring.points import PointError, point_view, subject_points
from trustledger.monitoring.store import MonitoringStore
from trustledger.rulebook.publish import published_rulebooks
from trustledger.rulebook.schema import ID_PATTERN
from trustledger.sanctions.check import CheckIndex, Decision
from trustledger.sanctions.screening import ScreeningIndex
from trustledger.settings import Settings

__all__ = ["MAX_BATCH", "create_app"]

log = logging.getLogger(__name__)

MAX_BATCH = 10_000
MAX_PAGE = 1000
MAX_SCREEN = 50
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


# --- response and request models ------------------------------------------------------
class Problem(BaseModel):
    """An RFC 9457 problem document."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None


class Health(BaseModel):
    status: Literal["ok"]
    ledger_size: int = Field(description="Entries in the ledger.")
    root: str = Field(description="Merkle root of the ledger (hex).")
    index_ledger_size: int = Field(description="The ledger position the check index reflects.")
    stale: bool = Field(
        description="The check index lags the evaluation state: a rebuild is under way or the"
        " last one failed. The previous index keeps answering meanwhile."
    )
    index_error: str | None = Field(description="Why the last rebuild failed, if it did.")


class Reason(BaseModel):
    measure: str
    kind: str
    list: str
    rulebook: str
    start: str | None
    end: str | None
    agency: str | None
    records: builtins.list[str]  # `list` is a field name here


class CheckResult(BaseModel):
    subject: str = Field(description="The subject's ledger id (a keyed hash for a person).")
    action: str
    on: date
    status: Literal["allow", "deny", "allow_with_incentives", "unknown"]
    why: str | None = Field(description="Why the answer is unknown, if it is.")
    ledger_size: int
    reasons: list[Reason]


class Pair(BaseModel):
    model_config = ConfigDict(extra="forbid")
    subject: str = Field(min_length=1, max_length=64)
    action: str = Field(min_length=1, max_length=64)


class BatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    pairs: list[Pair] = Field(max_length=MAX_BATCH)
    on: date | None = None


class BatchResult(BaseModel):
    on: date
    results: list[CheckResult]


class RecordViewOut(BaseModel):
    record_id: str
    category: str
    tier: str
    points: int
    standing: str
    published: str
    publicity_ends: str | None
    counted: bool


class ListMembershipOut(BaseModel):
    list_id: str
    kind: str
    title: str
    since: str
    until: str | None
    records: builtins.list[str]
    condition: str


class MeasureOut(BaseModel):
    measure_id: str
    kind: str
    list_id: str
    actions: builtins.list[str]
    start: str
    end: str | None
    agency: str
    legal_basis: builtins.list[str]


class ProfileOut(BaseModel):
    subject_id: str
    rulebook: str = Field(description="The rulebook version (id@version).")
    on: str
    applicable: bool
    records: list[RecordViewOut]
    score: int | None
    grade: str | None
    lists: list[ListMembershipOut]
    measures: list[MeasureOut]
    explanation: list[str]


class SubjectProfiles(BaseModel):
    subject: str = Field(description="The subject's ledger id.")
    kind: str
    name: str
    on: date
    ledger_size: int
    profiles: list[ProfileOut]


class ListMember(BaseModel):
    subject_id: str
    name: str
    kind: str = Field(description="The list's kind (black or red).")
    since: str
    until: str | None
    records: list[str]


class ListPage(BaseModel):
    rulebook: str
    list: str
    members: builtins.list[ListMember]
    persons_withheld: int = Field(
        description="Persons on the list, left out of every page (principle 6)."
    )
    next: str | None = Field(description="Pass as `after` for the next page; null at the end.")


class ScreenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    region: str | None = Field(
        default=None, pattern=r"^[0-9]{2}(?:[0-9]{2}){0,2}$", description="2, 4 or 6 digits."
    )
    address: str | None = Field(default=None, max_length=500)
    limit: int = Field(default=10, ge=1, le=MAX_SCREEN)


class CandidateOut(BaseModel):
    subject_id: str
    matched_name: str
    name_form: Literal["name", "former_name", "alias"]
    score: float
    features: dict[str, float]
    outcome: Literal["review"]


class ScreenResult(BaseModel):
    ledger_size: int
    candidates: builtins.list[CandidateOut]


class HourOut(BaseModel):
    hour: str = Field(description="Start of the hour, local time (YYYY-MM-DDTHH:MM).")
    converted: float | None = Field(description="Valid hourly mean at the reference O₂.")
    valid: bool = Field(description="≥ 45 valid minutes (flag N), O₂ valid where needed.")


class PollutantSeries(BaseModel):
    name: str
    limit: float
    limit_set: str
    reference_o2: float | None
    hours: builtins.list[HourOut]


class EpisodeOut(BaseModel):
    key: str
    pollutant: str
    limit_set: str
    limit: float
    first_hour: str
    last_hour: str
    hours: int
    max: float
    record: str | None = Field(description="The record issued, once the threshold was met.")


class NoticeOut(BaseModel):
    mn: str
    pollutant: str
    kind: str
    start_s: int
    end_s: int
    count: int
    detail: str


class PointView(BaseModel):
    mn: str
    subject: str
    outlet: str
    pollutants: dict[str, PollutantSeries]
    episodes: builtins.list[EpisodeOut]
    notices: builtins.list[NoticeOut] = Field(
        description="Data-quality notices: faults of the instrument, never penalties."
    )


class PointSummary(BaseModel):
    mn: str
    outlet: str
    limit_set: str
    rulebook: str
    pollutants: builtins.list[str]


class SubjectPoints(BaseModel):
    subject: str
    points: builtins.list[PointSummary]


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


# --- the index holder -----------------------------------------------------------------
class _Service:
    """The store, the person keyer and the check index, reloaded when the ledger moves.

    A full rebuild runs in a worker thread on a connection of its own while the previous
    index keeps answering; the finished index replaces it in one reference assignment.
    """

    # beyond this many changed subjects a fresh load is cheaper than patching
    FOLLOW_LIMIT = 5000
    # a failed rebuild is tried again after this many seconds, not at every interval
    RETRY_AFTER = 30.0

    def __init__(self, settings: Settings, reload_interval: float) -> None:
        self.settings = settings
        self.reload_interval = reload_interval
        self.lock = threading.Lock()
        self.store: Store = open_store(settings.db_url)
        ensure_table(self.store)
        self.keyer: PersonKeyer | None = person_keyer(settings)
        self.signature, self.index = self._load(self.store)
        self.checked = time.monotonic()
        self.rebuilder: threading.Thread | None = None
        self.index_error: str | None = None
        self.retry_at = 0.0
        # keys found, by the key itself: a check must not cost a database read; the cache is
        # emptied whenever the ledger or the state is looked at again (once per interval)
        self.keys: dict[str, ApiKey] = {}
        self.subjects: dict[str, str] = {}  # valid organisation ids seen (never persons)
        self.catalogue: Catalogue = national_catalogue()
        # built on first use, rebuilt when the ledger grows (under the lock)
        self.screening: ScreeningIndex | None = None
        self.screening_size = -1
        self._mstore: MonitoringStore | None = None

    def _load(self, store: Store) -> tuple[tuple[Any, ...], CheckIndex]:
        # the signature is read before the rows: whatever is written during the load shows
        # as a difference at the next look and is patched in then, never skipped
        signature = state_signature(store)
        return signature, CheckIndex.load(store, timezone=self.settings.timezone)

    @property
    def stale(self) -> bool:
        """The index is known to lag the state: a rebuild is under way or failed."""
        return self.rebuilder is not None or self.index_error is not None

    def current(self) -> CheckIndex:
        # the common case takes no lock: the reference is only ever replaced whole
        if time.monotonic() - self.checked < self.reload_interval:
            return self.index
        with self.lock:
            now = time.monotonic()
            if now - self.checked >= self.reload_interval:
                self.checked = now
                self.keys = {}
                signature = state_signature(self.store)
                if signature != self.signature:
                    self._follow(signature)
            return self.index

    def _follow(self, signature: tuple[Any, ...]) -> None:
        """Bring the index up to the current state: patch just the subjects whose state
        rows are newer than what the index holds (an ingest re-evaluates only the subjects
        it touched); rebuild whole, in the background, when many changed (a batch
        evaluation). Called under the lock."""
        if self.rebuilder is not None or time.monotonic() < self.retry_at:
            # the change since the index's signature includes the big one, so there is no
            # small patch to apply; the rebuild reads every later change, and what lands
            # after its rows were read is patched in at the look that follows the swap
            return
        old_size, old_rows, old_state, old_generation = self.signature
        changed = changed_subjects(self.store, old_size, old_state)
        if (
            len(changed) > self.FOLLOW_LIMIT
            or signature[1] < (old_rows or 0)
            or signature[3] != old_generation  # a whole re-evaluation: any row may differ
        ):
            if signature[1] <= self.FOLLOW_LIMIT:
                # a state this small loads faster than a patch is worked out
                self.signature, self.index = self._load(self.store)
                return
            self.rebuilder = threading.Thread(
                target=self._rebuild, name="check-index-rebuild", daemon=True
            )
            self.rebuilder.start()
            return
        rows = {t: [r for sid in sorted(changed) for r in self.store.state_rows(t, sid)]
                for t in ("state_profiles", "state_lists", "state_measures")}  # fmt: skip
        self.index.replace_subjects(
            changed, rows["state_profiles"], rows["state_lists"], rows["state_measures"],
            latest_positions(self.store, changed),
        )  # fmt: skip
        self.signature = signature

    def _rebuild(self) -> None:
        """The worker thread: load a fresh index on a connection of its own (the shared one
        and the lock stay free for requests), then swap it in."""
        try:
            store = open_store(self.settings.db_url)
            try:
                signature, index = self._load(store)
            finally:
                store.close()
        except Exception as exc:
            log.exception("rebuilding the check index failed; the previous index keeps serving")
            with self.lock:
                self.index_error = f"the last rebuild failed ({type(exc).__name__})"
                self.retry_at = time.monotonic() + self.RETRY_AFTER
                self.rebuilder = None
            return
        with self.lock:
            self.index = index
            self.signature = signature
            self.index_error = None
            self.rebuilder = None
            # look at the state again at the next request: subjects patched while the load
            # ran are newer than the rows it read
            self.checked = float("-inf")

    def close(self) -> None:
        rebuilder = self.rebuilder
        if rebuilder is not None:
            rebuilder.join(timeout=10.0)
        self.store.close()

    def authenticate(self, key: str) -> ApiKey | None:
        found = self.keys.get(key)
        if found is None:
            with self.lock:
                found = authenticate(self.store, key)
            if found is not None:
                self.keys[key] = found
        return found

    def health(self) -> tuple[int, str]:
        with self.lock:
            head = self.store.head()
            return head.size, head.root.hex()

    def subject(self, subject_id: str) -> SubjectRow | None:
        with self.lock:
            row = self.store.get_row("subjects", subject_id)
        return None if row is None else SubjectRow._make(row)

    def profiles(
        self, subject_id: str, rulebook_id: str | None
    ) -> tuple[date, int, builtins.list[dict[str, Any]]]:
        day = self.settings.today()
        with self.lock:
            size = self.store.size()
            found = _subject_profiles(
                self.store, self.catalogue, subject_id, at_us=None, on=day, rulebook_id=rulebook_id
            )
        return day, size, [p.to_json() for p in found]

    def _monitoring(self) -> MonitoringStore:
        if self._mstore is None:
            self._mstore = MonitoringStore(self.store)
        return self._mstore

    def point_view(self, mn: str, days: int) -> dict[str, Any] | None:
        with self.lock:
            try:
                return point_view(self.store, self._monitoring(), mn, days)
            except PointError:
                return None

    def subject_points(self, subject_id: str) -> builtins.list[dict[str, Any]]:
        with self.lock:
            return subject_points(self._monitoring(), subject_id)

    def list_page(
        self, rulebook_id: str, list_id: str, after: str | None, limit: int
    ) -> tuple[builtins.list[tuple[Any, ...]], int, bool]:
        """(up to limit + 1 organisation members after ``after``, persons on the list,
        whether the rulebook publishes that list)."""
        with self.lock:
            rows, persons = list_members(self.store, rulebook_id, list_id, after, limit + 1)
            published = False
            if not rows and not persons:
                rulebook = published_rulebooks(self.store).get(rulebook_id)
                published = rulebook is not None and any(d.id == list_id for d in rulebook.lists)
        return rows, persons, published or bool(rows) or bool(persons)

    def screen(
        self, name: str, region: str | None, address: str | None, limit: int
    ) -> tuple[int, builtins.list[dict[str, Any]]]:
        with self.lock:
            size = self.store.size()
            if self.screening is None or size != self.screening_size:
                rows = (SubjectRow._make(r) for r in self.store.iter_rows("subjects"))
                self.screening = ScreeningIndex.build(rows)
                self.screening_size = size
            found = self.screening.screen(name, region=region, address=address, limit=limit)
        return size, [
            {
                "subject_id": c.subject_id,
                "matched_name": c.matched_name,
                "name_form": c.name_form,
                "score": c.score,
                "features": c.features,
                "outcome": c.outcome,
            }
            for c in found
        ]


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
async def service(request: Request) -> _Service:
    svc: _Service = request.app.state.service
    return svc


async def caller(
    svc: Annotated[_Service, Depends(service)],
    authorization: Annotated[str | None, Header()] = None,
    x_api_key: Annotated[str | None, Header()] = None,
) -> ApiKey:
    return authorize(svc, authorization, x_api_key)


def authorize(svc: _Service, authorization: str | None, x_api_key: str | None) -> ApiKey:
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


def subject_id(svc: _Service, text: str, where: str) -> str:
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
        app.state.service = _Service(settings, reload_interval)
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
    def health(svc: Annotated[_Service, Depends(service)]) -> Health:
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
        svc: _Service = request.app.state.service
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
        svc: Annotated[_Service, Depends(service)],
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
        svc: Annotated[_Service, Depends(service)],
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
        svc: Annotated[_Service, Depends(service)],
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
        svc: Annotated[_Service, Depends(service)],
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
        svc: Annotated[_Service, Depends(service)],
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
        svc: Annotated[_Service, Depends(service)],
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
