"""The whole server `trustledger serve` runs: the HTTP API (/v1) with the portal's pages,
its static assets and the API's documentation, every byte of them served from the package.

The API's error handler answers problem documents (JSON); under the portal's pages an error
is a page (HTML) with the same status.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from importlib.resources import files
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from trustledger.api.app import create_app
from trustledger.app.errors import TrustledgerError
from trustledger.portal import render
from trustledger.portal.routes import ROUTERS
from trustledger.settings import Settings

STATIC = files("trustledger.portal") / "static"


def create_server(settings: Settings, **api_options: Any) -> FastAPI:
    """The API (``trustledger.api.create_app`` with ``api_options``) and the portal."""
    app = create_app(settings, **api_options)
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")
    for router in ROUTERS:
        app.include_router(router)
    # under a page, an error is a page; under the API, the API's problem document
    for error in (TrustledgerError, StarletteHTTPException, RequestValidationError):
        app.add_exception_handler(error, _page_or(app.exception_handlers[error]))
    return app


def _page_or(as_problem: Callable[..., Any]) -> Callable[[Request, Exception], Awaitable[Response]]:
    async def handler(request: Request, exc: Exception) -> Response:
        if render.is_page(request):
            if isinstance(exc, TrustledgerError):
                return render.error_page(request, exc.http_status, exc.message)
            if isinstance(exc, StarletteHTTPException):
                return render.error_page(request, exc.status_code, str(exc.detail))
            if isinstance(exc, RequestValidationError):
                return render.error_page(request, 422, render.invalid_fields(exc))
        answer = as_problem(request, exc)
        return await answer if inspect.isawaitable(answer) else answer  # type: ignore[no-any-return]

    return handler


def create_server_from_env() -> FastAPI:
    """For `uvicorn --factory trustledger.portal.server:create_server_from_env`."""
    return create_server(Settings.from_env())
