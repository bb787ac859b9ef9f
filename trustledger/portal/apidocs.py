"""The API's documentation pages: Swagger UI at ``/docs`` and ReDoc at ``/redoc``, with
every script, style sheet and icon served from the package (``/static/vendor/``,
``scripts/vendor-assets.sh``), so they render offline and load nothing from a CDN.

The API itself (``trustledger.api.create_app``) has ``docs_url`` and ``redoc_url`` off;
these routes replace FastAPI's, reading the OpenAPI document from the app they are mounted
in. Swagger UI's online validator is off (its badge would send the document to
validator.swagger.io), and ReDoc is given no Google Fonts.
"""

from __future__ import annotations

import json
from html import escape

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
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
    # no deep links: Swagger UI puts each one, a link, inside the operation's toggle
    # button (axe-core: nested-interactive, serious), which keyboards and screen readers
    # cannot reach or announce as separate controls
    "deepLinking": False,
    "displayRequestDuration": True,
}

# after the vendored swagger-ui.css: its colours where they fall below WCAG 2 AA contrast
# (4.5:1 for text; axe-core, tests/browser/test_apidocs.py), darker shades of the same hues
SWAGGER_CONTRAST = """<style>
.swagger-ui .opblock.opblock-get .opblock-summary-method { background: #1565c0; }
.swagger-ui .opblock.opblock-post .opblock-summary-method { background: #1b7a4c; }
.swagger-ui .opblock.opblock-put .opblock-summary-method { background: #a35800; }
.swagger-ui .opblock.opblock-delete .opblock-summary-method { background: #c62828; }
.swagger-ui .opblock.opblock-patch .opblock-summary-method { background: #0d7463; }
.swagger-ui .opblock.opblock-head .opblock-summary-method { background: #7b0fd6; }
.swagger-ui .info .title small.version-stamp { background-color: #4a6b00; }
.swagger-ui .info a, .swagger-ui .info .url { color: #1a5fb4; }
.swagger-ui .parameter__extension, .swagger-ui .parameter__in { color: #595959; }
.swagger-ui .json-schema-2020-12-expand-deep-button { color: #505050; }
</style>
"""

# ReDoc where its colours fall below WCAG 2 AA contrast (axe-core): inline code (its
# theme), and, as a style sheet, the parameter group headings and the response tabs (light
# text on the dark right panel, dark text once a tab is selected and turns white)
REDOC_THEME = {"typography": {"code": {"color": "#b71c1c"}}}
REDOC_CONTRAST = """<style>
[id^="operation/"] h5 { color: #5f6b70 !important; }
[role="tab"].tab-success[aria-selected="false"] { color: #4caf50 !important; }
[role="tab"].tab-error[aria-selected="false"] { color: #ff7a75 !important; }
[role="tab"].tab-error[aria-selected="true"] { color: #c62828 !important; }
[role="tab"].tab-redirect[aria-selected="true"] { color: #8a5a00 !important; }
[role="tab"].tab-info[aria-selected="true"] { color: #1565c0 !important; }
</style>
"""

router = APIRouter(include_in_schema=False)


def _root(request: Request) -> str:
    return str(request.scope.get("root_path", "")).rstrip("/")


def _openapi_url(request: Request) -> str:
    url = request.app.openapi_url
    if not url:
        raise HTTPException(404, "this server publishes no OpenAPI document")
    return _root(request) + str(url)


def _with_lang(response: HTMLResponse, head: str = "") -> HTMLResponse:
    """FastAPI's pages have no ``lang`` (the documentation is in English); ``head`` goes
    at the end of the page's head."""
    body = bytes(response.body).replace(b"<html>", b'<html lang="en">', 1)
    if head:
        body = body.replace(b"</head>", head.encode() + b"</head>", 1)
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
        ),
        head=SWAGGER_CONTRAST,
    )


@router.get(OAUTH2_REDIRECT, response_class=HTMLResponse)
def swagger_ui_redirect() -> HTMLResponse:
    """Where Swagger UI's OAuth2 flows come back to (FastAPI's page, no external asset)."""
    return _with_lang(get_swagger_ui_oauth2_redirect_html())


@router.get("/redoc", response_class=HTMLResponse)
def redoc(request: Request) -> HTMLResponse:
    """The API's reference (ReDoc 2, started with ``Redoc.init`` so it takes a theme)."""
    root = _root(request)
    title = escape(f"{request.app.title} API — ReDoc")
    spec = json.dumps(_openapi_url(request)).replace("</", "<\\/")
    theme = json.dumps({"theme": REDOC_THEME})
    return HTMLResponse(f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="icon" href="{escape(root + SWAGGER_FAVICON)}">
<style>body {{ margin: 0; padding: 0; }}</style>
{REDOC_CONTRAST}</head>
<body>
<noscript>The API reference needs JavaScript; the OpenAPI document itself is at
{escape(_openapi_url(request))}.</noscript>
<div id="redoc"></div>
<script src="{escape(root + REDOC_JS)}"></script>
<script>Redoc.init({spec}, {theme}, document.getElementById("redoc"));</script>
</body>
</html>
""")
