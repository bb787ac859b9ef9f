"""The API's documentation pages (/docs, /redoc) in process: they reference only the
portal's own assets under /static/, every one of them is vendored and served with its
content type, and Swagger UI's online validator is off. (In a real browser, with the
network blocked: tests/browser/test_apidocs.py.)"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from trustledger.ledger.store import open_store
from trustledger.portal import apidocs
from trustledger.portal.server import create_server
from trustledger.settings import Settings

VENDOR = Path(__file__).parents[1] / "trustledger" / "portal" / "static" / "vendor"
# src/href attributes, url: '…' in the inline script, and any absolute URL at all
REFERENCE = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']""")
TYPES = {".js": "text/javascript", ".css": "text/css", ".png": "image/png"}


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    work = tmp_path_factory.mktemp("apidocs")
    url = f"sqlite:///{work / 'docs.db'}"
    store = open_store(url)
    store.init("0123456789abcdef")
    store.close()
    settings = Settings(db_url=url, person_key_file=work / "p.key")
    with TestClient(create_server(settings, reload_interval=0.0)) as c:
        yield c


@pytest.mark.parametrize("path", ["/docs", "/redoc", apidocs.OAUTH2_REDIRECT])
def test_docs_pages_reference_only_the_portals_own_assets(client: TestClient, path: str) -> None:
    answer = client.get(path)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    html = answer.text
    assert '<html lang="en' in html
    assert "cdn" not in html.lower()
    assert "fonts.googleapis" not in html
    for ref in REFERENCE.findall(html):
        assert ref.startswith("/static/"), f"{path} references {ref}"
    # no script or style sheet from anywhere else, however it is written
    assert not re.search(r"""<(script|link)[^>]+(src|href)\s*=\s*["']?(https?:)?//""", html)


def test_swagger_ui_loads_the_apps_document_with_the_validator_off(client: TestClient) -> None:
    html = client.get("/docs").text
    assert "url: '/openapi.json'" in html
    assert '"validatorUrl": null' in html  # the default is validator.swagger.io and its badge
    assert f"'{apidocs.OAUTH2_REDIRECT}'" in html
    redoc = client.get("/redoc").text
    assert 'Redoc.init("/openapi.json", {"theme": ' in redoc


def test_every_referenced_vendored_file_exists_and_is_served(client: TestClient) -> None:
    refs = {ref for path in ("/docs", "/redoc") for ref in REFERENCE.findall(client.get(path).text)}
    assert refs == {apidocs.SWAGGER_JS, apidocs.SWAGGER_CSS, apidocs.SWAGGER_FAVICON,
                    apidocs.REDOC_JS}  # fmt: skip
    for ref in sorted(refs):
        on_disk = VENDOR / ref.removeprefix("/static/vendor/")
        assert on_disk.is_file(), f"{ref} is not vendored ({on_disk})"
        answer = client.get(ref)
        assert answer.status_code == 200, ref
        assert answer.headers["content-type"].startswith(TYPES[on_disk.suffix]), (
            ref, answer.headers["content-type"])  # fmt: skip
        assert answer.content == on_disk.read_bytes()


def test_the_vendored_files_are_the_ones_listed_with_their_digests() -> None:
    """VENDORED.md (scripts/vendor-assets.sh) names every vendored file with its SHA-256."""
    listed = dict(
        re.findall(r"\| `([^`]+)` \| `([0-9a-f]{64})` \|", (VENDOR / "VENDORED.md").read_text())
    )
    present = {
        str(p.relative_to(VENDOR))
        for p in VENDOR.rglob("*")
        if p.is_file() and p.name != "VENDORED.md"
    }
    assert set(listed) == present
    for name, digest in listed.items():
        assert hashlib.sha256((VENDOR / name).read_bytes()).hexdigest() == digest, name
    # the charts' library where static/charts.js expects it, and axe for the browser tests
    assert {"echarts/echarts.min.js", "axe-core/axe.min.js"} <= present


def test_the_docs_pages_are_not_api_operations(client: TestClient) -> None:
    """/docs, /redoc and the OAuth2 redirect are pages: the OpenAPI document lists none."""
    doc = client.get("/openapi.json").json()
    assert not {"/docs", "/redoc", apidocs.OAUTH2_REDIRECT} & set(doc["paths"])
