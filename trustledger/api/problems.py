"""Errors as RFC 9457 problem documents (``application/problem+json``).

Every error a use case raises is a ``TrustledgerError``; ``create_app`` maps it once, to its
``http_status`` with a problem body. The API's own refusals (no key, a key out of scope, an
identifier it will not echo) are TrustledgerErrors too.
"""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse

from trustledger.api.models import Problem
from trustledger.app.errors import BadInput, Forbidden, TrustledgerError

PROBLEM_TYPE = "application/problem+json"
TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    422: "Unprocessable Content",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


class Unauthorized(TrustledgerError):
    """No API key, or one that is not known."""

    http_status = 401


class BadIdentifier(BadInput):
    """A subject identifier that is not one: refused without echoing it (it may be a
    resident ID number)."""

    http_status = 400


class NotInScope(Forbidden):
    """The key may not do this."""


def problem(status: int, detail: str | None, headers: dict[str, str] | None = None) -> JSONResponse:
    body = Problem(title=TITLES.get(status, "Error"), status=status, detail=detail)
    return JSONResponse(
        body.model_dump(), status_code=status, media_type=PROBLEM_TYPE, headers=headers
    )


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The error responses of a route, for the OpenAPI document."""
    return {s: {"model": Problem, "description": TITLES[s]} for s in statuses}
