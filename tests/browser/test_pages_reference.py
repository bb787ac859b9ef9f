"""The reference pages in a real browser (rulebooks, compare, monitoring, ledger), with the
network outside the live server blocked: the comparison and monitoring charts render with
data points (ECharts' SVG has paths), the ledger's inclusion proof is checked by the
browser's own verifier and says "verified", and none of the pages has serious or critical
accessibility violations (axe-core)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from .rig import Axe, BrowserLog, DemoSite, LiveServer


def _clean(log: BrowserLog, live: LiveServer) -> None:
    assert log.blocked == []
    assert all(url.startswith(live.url + "/") for url in log.requests), log.requests
    assert log.page_errors == [], log.page_errors
    assert log.console_errors == [], log.console_errors


def _charts_have_data(page: Page, at_least: int) -> None:
    charts = page.locator(".chart[data-option]")
    expect(charts.first).to_have_attribute("data-rendered", "true", timeout=15_000)
    assert charts.count() >= at_least
    for index in range(charts.count()):
        chart = charts.nth(index)
        expect(chart).to_have_attribute("data-rendered", "true")
        # ECharts' SVG renderer draws bars and lines as <path> elements
        assert chart.locator("svg path").count() > 3, f"chart {index} drew nothing"


def test_rulebook_pages(page: Page, browser_log: BrowserLog, live_server: LiveServer,
                        axe: Axe) -> None:  # fmt: skip
    page.goto("/rulebooks")
    expect(page.locator("h1")).to_have_text("Rulebooks")
    page.get_by_role("link", name="List of dishonest judgment debtors").first.click()
    expect(page.locator("h1")).to_contain_text("dishonest judgment debtors")
    words = page.locator(".condition-words").first
    expect(words).to_contain_text("At least 1 record in force that is of the category")
    expect(words).to_contain_text("published within the last 2 years")
    expect(page.get_by_text("As written").first).to_be_visible()
    violations = axe(page)
    assert violations == [], axe.report(violations)
    page.goto("/rulebooks/cn-rongcheng-points")
    expect(page.get_by_role("cell", name="960 to 1,029")).to_be_visible()
    violations = axe(page)
    assert violations == [], axe.report(violations)
    _clean(browser_log, live_server)


def test_compare_charts_render(page: Page, browser_log: BrowserLog, live_server: LiveServer,
                               axe: Axe) -> None:  # fmt: skip
    page.goto("/compare")
    expect(page.locator("h1")).to_have_text("Compare rulebooks")
    _charts_have_data(page, at_least=3)
    expect(page.locator("#agreement ~ div table").first).to_contain_text("cn-spc-dishonest-debtors")
    violations = axe(page)
    assert violations == [], axe.report(violations)
    _clean(browser_log, live_server)


def test_monitoring_charts_render(page: Page, browser_log: BrowserLog, live_server: LiveServer,
                                  demo_site: DemoSite, axe: Axe) -> None:  # fmt: skip
    page.goto("/monitoring")
    violations = axe(page)
    assert violations == [], axe.report(violations)
    mn = demo_site.monitoring_points[0]
    page.get_by_role("link", name=mn).click()
    expect(page.locator("h1")).to_contain_text(mn)
    _charts_have_data(page, at_least=3)
    expect(page.get_by_role("heading", name="Sulphur dioxide (SO₂)")).to_be_visible()
    violations = axe(page)
    assert violations == [], axe.report(violations)
    _clean(browser_log, live_server)


@pytest.mark.parametrize("which", ["first", "middle", "last"])
def test_ledger_proof_verified_in_the_browser(page: Page, browser_log: BrowserLog,
                                              live_server: LiveServer, demo_site: DemoSite,
                                              axe: Axe, which: str) -> None:  # fmt: skip
    with demo_site.context() as ctx:
        size = ctx.store.size()
    seq = {"first": 0, "middle": size // 2, "last": size - 1}[which]
    page.goto("/ledger")
    page.get_by_label("Sequence number").fill(str(seq))
    page.get_by_role("button", name="Show entry and proof").click()
    expect(page.locator("h1")).to_contain_text("Ledger entry")
    result = page.locator("#verify-result")
    expect(result).to_have_attribute("data-state", "verified", timeout=15_000)
    expect(result).to_contain_text("verified")
    expect(page.locator("#verify-steps li").first).to_contain_text("✓")
    violations = axe(page)
    assert violations == [], axe.report(violations)
    _clean(browser_log, live_server)


def test_ledger_proof_of_a_person_verified_without_its_text(
    page: Page, browser_log: BrowserLog, live_server: LiveServer, demo_site: DemoSite
) -> None:
    with demo_site.context() as ctx:
        rows = ctx.store.query(
            "SELECT issued_seq FROM records WHERE subject_id = ? LIMIT 1", (demo_site.person_id,)
        )
    seq = int(rows[0][0])
    page.goto(f"/ledger/entries/{seq}")
    expect(page.get_by_text("This entry concerns a person")).to_be_visible()
    assert page.locator("#entry-json").count() == 0
    expect(page.locator("#verify-result")).to_have_attribute("data-state", "verified",
                                                             timeout=15_000)  # fmt: skip
    body = page.content()
    assert demo_site.person_id not in body and demo_site.person_number not in body
    _clean(browser_log, live_server)


def test_a_tampered_proof_fails_in_the_browser(page: Page, live_server: LiveServer) -> None:
    page.goto("/ledger/entries/1")
    expect(page.locator("#verify-result")).to_have_attribute("data-state", "verified",
                                                             timeout=15_000)  # fmt: skip
    # the same page with one hex digit of the root changed: the verifier must not agree
    html = page.content()
    root = page.locator("#ledger-verify").get_attribute("data-root")
    assert root
    bad = ("1" if root[0] == "0" else "0") + root[1:]
    page.route(f"{live_server.url}/ledger/entries/1",
               lambda route: route.fulfill(status=200, content_type="text/html",
                                           body=html.replace(root, bad)))  # fmt: skip
    page.goto("/ledger/entries/1")
    expect(page.locator("#verify-result")).to_have_attribute("data-state", "failed",
                                                             timeout=15_000)  # fmt: skip


@pytest.mark.parametrize(
    "path",
    ["/rulebooks", "/rulebooks/cn-market-abnormal-operations", "/compare", "/monitoring",
     "/monitoring/DEMO0000000000000001", "/ledger/entries/2"],
)  # fmt: skip
def test_readable_on_a_phone(page: Page, path: str) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(path)
    expect(page.locator("h1")).to_be_visible()
    if page.locator(".chart[data-option]").count():
        expect(page.locator(".chart[data-option]").first).to_have_attribute("data-rendered", "true")
    # wide tables scroll inside their own box; the page itself never scrolls sideways
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"{path} is {width}px wide on a 390px screen"
