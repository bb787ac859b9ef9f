"""The API's documentation pages: Swagger UI at ``/docs`` and ReDoc at ``/redoc``, with
every script, style sheet and icon served from the package (``/static/vendor/``,
``scripts/vendor-assets.sh``), so they render offline and load nothing from a CDN.

The API itself (``trustledger.api.create_app``) has ``docs_url`` and ``redoc_url`` off;
these routes replace FastAPI's, reading the OpenAPI document from the app they are mounted
in. Swagger UI's online validator is off (its badge would send the document to
validator.swagger.io), and ReDoc is given no Google Fonts.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse
from starlette.exceptions import HTTPException

VENDOR = "/static/vendor"
SWAGGER_JS = f"{VENDOR}/swagger-ui-dist/swagger-ui-bundle.js"
SWAGGER_CSS = f"{VENDOR}/swagger-ui-dist/swagger-ui.css"
SWAGGER_FAVICON = f"{VENDOR}/swagger-ui-dist/favicon-32x32.png"
REDOC_JS = f"{VENDOR}/redoc/redoc.standalone.js"
OAUTH2_REDIRECT = "/docs/oauth2-redirect"

SWAGGER_PARAMETERS = {
    "validatorUrl": None,  # no online validator and no badge: nothing leaves the portal
    "displayRequestDuration": True,
}

router = APIRouter(include_in_schema=False)


def _root(request: Request) -> str:
    return str(request.scope.get("root_path", "")).rstrip("/")


def _openapi_url(request: Request) -> str:
    url = request.app.openapi_url
    if not url:
        raise HTTPException(404, "this server publishes no OpenAPI document")
    return _root(request) + str(url)


def _with_lang(response: HTMLResponse) -> HTMLResponse:
    """FastAPI's pages have no ``lang``: the documentation is in English."""
    body = bytes(response.body).replace(b"<html>", b'<html lang="en">', 1)
    return HTMLResponse(body, status_code=response.status_code)


@router.get("/docs", response_class=HTMLResponse)
def swagger_ui(request: Request) -> HTMLResponse:
    """The API's operations, to read and try (Swagger UI)."""
    root = _root(request)
    return _with_lang(
        get_swagger_ui_html(
            openapi_url=_openapi_url(request),
            title=f"{request.app.title} API — Swagger UI",
            swagger_js_url=root + SWAGGER_JS,
            swagger_css_url=root + SWAGGER_CSS,
            swagger_favicon_url=root + SWAGGER_FAVICON,
            oauth2_redirect_url=root + OAUTH2_REDIRECT,
            swagger_ui_parameters=SWAGGER_PARAMETERS,
        )
    )


@router.get(OAUTH2_REDIRECT, response_class=HTMLResponse)
def swagger_ui_redirect() -> HTMLResponse:
    """Where Swagger UI's OAuth2 flows come back to (FastAPI's page, no external asset)."""
    return _with_lang(get_swagger_ui_oauth2_redirect_html())


@router.get("/redoc", response_class=HTMLResponse)
def redoc(request: Request) -> HTMLResponse:
    """The API's reference (ReDoc)."""
    root = _root(request)
    return _with_lang(
        get_redoc_html(
            openapi_url=_openapi_url(request),
            title=f"{request.app.title} API — ReDoc",
            redoc_js_url=root + REDOC_JS,
            redoc_favicon_url=root + SWAGGER_FAVICON,
            with_google_fonts=False,
        )
    )
