"""The HTTP API (FastAPI, under /v1): a thin face over the application layer.

The routers (``trustledger.api.routers``, one per area) parse a request, call the
application layer and render its answer; the request and response models
(``trustledger.api.models``) are the published contract. Every error is an RFC 9457 problem
document: a ``TrustledgerError`` from any use case is mapped here, once, to its
``http_status``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from trustledger.api.deps import ServerState
from trustledger.api.limits import ReadsOnly, RequestLimits
from trustledger.api.models import MAX_BATCH
from trustledger.api.problems import PROBLEM_TYPE, problem
from trustledger.api.routers import (
    access_log as access_log_routes,
)
from trustledger.api.routers import (
    checks,
    commendations,
    dueprocess,
    ledger,
    lists,
    monitoring,
    records,
    screening,
    subjects,
    tiles,
)
from trustledger.app.errors import TrustledgerError
from trustledger.settings import Settings

__all__ = ["MAX_BATCH", "create_app"]


def create_app(
    settings: Settings,
    *,
    reload_interval: float = 1.0,
    access_log: bool = True,
    log_interval: float = 0.2,
    replica: bool = False,
    snapshot: Path | None = None,
) -> FastAPI:
    """The API over the ledger at ``settings.db_url``; the check index is loaded at startup
    and follows the ledger and the evaluation state (looked at at most once per
    ``reload_interval`` seconds). Every call is in the access log, written every
    ``log_interval`` seconds (0: before each answer); ``access_log`` False logs nothing
    (benchmarks only). ``replica``: reads only, following the writer's database;
    ``snapshot``: the check index starts from a state snapshot (`trustledger.app.replicas`)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state = ServerState(settings, reload_interval, access_log=access_log,
                            log_interval=log_interval, replica=replica,
                            snapshot=snapshot)  # fmt: skip
        app.state.server = state
        # the check service, as tests and operators look at it
        app.state.service = state.checks
        try:
            yield
        finally:
            state.close()

    app = FastAPI(
        title="trustledger",
        version="1",
        description="Public credit information: checks of measures in force, with reasons.",
        lifespan=lifespan,
        # the documentation pages are the portal's (trustledger.portal.apidocs): served
        # with their scripts from the package, never from a CDN
        docs_url=None,
        redoc_url=None,
    )

    @app.exception_handler(TrustledgerError)
    async def trustledger_problem(_: Request, exc: TrustledgerError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.http_status == 401 else None
        return problem(exc.http_status, exc.message, headers)

    @app.exception_handler(StarletteHTTPException)
    async def http_problem(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem(exc.status_code, str(exc.detail), dict(exc.headers or {}) or None)

    @app.exception_handler(RequestValidationError)
    async def validation_problem(_: Request, exc: RequestValidationError) -> JSONResponse:
        # location and message only: the offending input is never echoed
        parts = [
            f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', 'invalid')}"
            for e in exc.errors()[:10]
        ]
        return problem(422, "; ".join(parts) or "invalid request")

    @app.exception_handler(Exception)
    async def server_problem(_: Request, exc: Exception) -> JSONResponse:
        return problem(500, "internal error")

    for router in (
        ledger,
        checks,
        subjects,
        monitoring,
        lists,
        screening,
        access_log_routes,
        records,
        dueprocess,
        commendations,
        tiles,
    ):
        app.include_router(router.router)
    # a bounded body, and a key checked before it is read
    app.add_middleware(RequestLimits)
    if replica:
        app.add_middleware(ReadsOnly)
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
                        if status[0] not in "45":
                            continue
                        # a route serving text (a signed note) still answers errors as
                        # problem documents: FastAPI files them under its text type
                        for media in ("application/json", "text/plain"):
                            ref = content.get(media, {}).get("schema", {}).get("$ref", "")
                            if media in content and (
                                media == "application/json" or ref.endswith("/Problem")
                            ):
                                content[PROBLEM_TYPE] = content.pop(media)
            app.openapi_schema = schema
        return app.openapi_schema

    return openapi


def create_app_from_env() -> FastAPI:
    """The app for `uvicorn --factory trustledger.api.app:create_app_from_env`."""
    return create_app(Settings.from_env())
