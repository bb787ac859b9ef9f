"""Pages from templates: one Jinja2 environment (autoescaped), the filters the templates
share, and the error page. Routes build plain values from the application layer and hand
them here; nothing here decides anything."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

_API_PREFIXES = ("/v1", "/openapi.json", "/static")


def is_page(request: Request) -> bool:
    """Whether the request is for a portal page (answered in HTML, errors included)."""
    return not request.url.path.startswith(_API_PREFIXES)


def _local_time(us: int | None, timezone: str = "Asia/Shanghai") -> str:
    if us is None:
        return ""
    moment = datetime.fromtimestamp(us / 1_000_000, tz=UTC).astimezone(ZoneInfo(timezone))
    return moment.strftime("%Y-%m-%d %H:%M")


def _json_attr(value: Any) -> Markup:
    """A value as JSON safe inside an HTML attribute (charts read their options from one)."""
    from markupsafe import escape

    return escape(json.dumps(value, ensure_ascii=False, separators=(",", ":")))


def _thousands(value: int | float | None) -> str:
    return "" if value is None else f"{value:,}"


ENV = Environment(
    loader=PackageLoader("trustledger.portal", "templates"),
    autoescape=select_autoescape(default=True),
    undefined=StrictUndefined,  # a missing value is a bug, not an empty cell
    trim_blocks=True,
    lstrip_blocks=True,
)
ENV.filters["local_time"] = _local_time
ENV.filters["json_attr"] = _json_attr
ENV.filters["thousands"] = _thousands

NAV = (
    ("/", "Search"),
    ("/lists", "Lists"),
    ("/commendations", "Commendations"),
    ("/rulebooks", "Rulebooks"),
    ("/compare", "Compare"),
    ("/ledger", "Ledger"),
    ("/verify", "Verify a report"),
    ("/open-data", "Open data"),
    ("/docs", "API"),
    ("/me", "My file"),
)


def page(
    request: Request, template: str, *, title: str, status: int = 200, **values: Any
) -> HTMLResponse:
    """``template`` rendered with ``values``, the navigation and the page title."""
    body = ENV.get_template(template).render(title=title, nav=NAV, path=request.url.path, **values)
    return HTMLResponse(body, status_code=status)


_HEADINGS = {400: "Bad request", 401: "Key needed", 403: "Not allowed", 404: "Not found",
             409: "Conflict", 422: "Cannot accept this", 503: "Unavailable"}  # fmt: skip


def error_page(request: Request, status: int, message: str) -> HTMLResponse:
    heading = _HEADINGS.get(status, "Error")
    return page(request, "error.html", title=heading, status=status, heading=heading,
                message=message)  # fmt: skip


def invalid_fields(exc: Any) -> str:
    """What was wrong with a request's parameters, by name; the input is never echoed."""
    parts = [
        f"{'.'.join(str(p) for p in e.get('loc', ())[1:]) or 'request'}: {e.get('msg', 'invalid')}"
        for e in exc.errors()[:10]
    ]
    return "; ".join(parts) or "invalid request"
