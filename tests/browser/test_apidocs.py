"""The API's documentation in a real browser with the network blocked: Swagger UI at /docs
shows the operations, ReDoc at /redoc renders the reference, nothing is asked of anyone but
the portal, and neither page has serious or critical accessibility violations (axe-core)."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from .rig import Axe, BrowserLog, LiveServer


def _only_the_server(log: BrowserLog, live: LiveServer) -> None:
    assert log.blocked == []
    assert log.requests, "the page asked for nothing"
    assert all(url.startswith(live.url + "/") for url in log.requests), log.requests
    assert log.page_errors == []


def test_swagger_ui_renders_offline(page: Page, browser_log: BrowserLog,
                                    live_server: LiveServer, axe: Axe) -> None:  # fmt: skip
    page.goto("/docs")
    check = page.locator('.opblock-summary-path[data-path="/v1/check"]')
    expect(check.first).to_be_visible(timeout=15_000)
    expect(page.locator(".opblock").first).to_be_visible()
    assert page.locator(".opblock").count() > 10  # every operation, not one
    expect(page.locator(".info .title")).to_contain_text("trustledger")
    # no validator badge: Swagger UI would send the document to validator.swagger.io
    assert page.locator(".validator-badge, img[src*='validator']").count() == 0
    # opening an operation shows its parameters (the UI is working, not just painted)
    check.first.click()
    expect(page.locator(".opblock.is-open .parameters").first).to_be_visible()
    assert browser_log.console_errors == []
    _only_the_server(browser_log, live_server)
    assert any(u.endswith("/static/vendor/swagger-ui-dist/swagger-ui-bundle.js")
               for u in browser_log.requests)  # fmt: skip
    assert any(u.endswith("/openapi.json") for u in browser_log.requests)
    violations = axe(page)
    assert violations == [], axe.report(violations)


def test_redoc_renders_offline(page: Page, browser_log: BrowserLog,
                               live_server: LiveServer, axe: Axe) -> None:  # fmt: skip
    page.goto("/redoc")
    expect(page.locator("h1").first).to_contain_text("trustledger", timeout=15_000)
    # the operations are in the side menu and the middle panel
    expect(page.locator("[role=navigation], .menu-content").first).to_be_visible()
    expect(page.get_by_text("/v1/check", exact=False).first).to_be_attached()
    assert browser_log.console_errors == []
    _only_the_server(browser_log, live_server)
    assert any(u.endswith("/static/vendor/redoc/redoc.standalone.js")
               for u in browser_log.requests)  # fmt: skip
    violations = axe(page)
    assert violations == [], axe.report(violations)
    # a selected error tab turns white: its text must still read
    page.locator('[role="tab"].tab-error').first.click()
    violations = axe(page, context='[role="tab"][aria-selected="true"]')
    assert violations == [], axe.report(violations)


def test_a_cdn_request_is_blocked_and_recorded(page: Page, browser_log: BrowserLog) -> None:
    """The rig itself: a page that reaches for a CDN gets nothing (and the test would fail
    at teardown; this one empties the record after checking it)."""
    page.goto("/docs")
    loaded = page.evaluate(
        """() => new Promise(done => {
             const s = document.createElement("script");
             s.src = "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui-bundle.js";
             s.onload = () => done(true); s.onerror = () => done(false);
             document.head.appendChild(s);
           })"""
    )
    assert loaded is False
    assert browser_log.blocked == [
        "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui-bundle.js"
    ]
    browser_log.blocked.clear()
