"""The public pages and the subject's own file in a real browser: search by part of a
name and by USCC, a black-listed enterprise's list, measure, end date and records, the
standing chart drawn with data points, an objection filed as the subject showing
`under objection`, a person's URL a 404, and no serious or critical axe violation."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from trustledger.app.entities import entity_file
from trustledger.app.time import when

from .rig import Axe, BrowserLog, DemoSite


def _name_of(site: DemoSite, subject: str) -> str:
    with site.context() as ctx:
        row = ctx.store.get_row("subjects", subject)
        assert row is not None
        return str(row.name)


def _file(site: DemoSite, subject: str):  # type: ignore[no-untyped-def]
    with site.context() as ctx:
        at = when(None, None, timezone=ctx.settings.timezone, now_us=ctx.now_us(),
                  today=ctx.today())  # fmt: skip
        return entity_file(ctx, subject, at, public=True)


def _no_errors(log: BrowserLog, *refused: str) -> None:
    """No script error; no console error but the browser's note of the statuses the test
    asked for (a 401 for a wrong key, a 422 for a form sent empty, a 404)."""
    assert log.page_errors == [], log
    unexpected = [
        m
        for m in log.console_errors
        if not (m.startswith("Failed to load resource") and any(p in m for p in refused))
    ]
    assert unexpected == [], log
    assert log.blocked == []


def test_search_by_part_of_a_name_finds_the_firm(
    page: Page, demo_site: DemoSite, browser_log: BrowserLog, axe: Axe
) -> None:
    firm = demo_site.tries.denied
    assert firm is not None
    name = _name_of(demo_site, firm)
    partial = name[2:8]  # without the place prefix and the legal form
    page.goto("/")
    assert axe(page) == [], axe.report(axe(page))
    page.get_by_role("searchbox").fill(partial)
    page.get_by_role("button", name="Search").click()
    expect(page).to_have_url(re.compile(r"/search\?q="))
    row = page.locator("table.results tr", has_text=firm)
    expect(row).to_have_count(1)
    violations = axe(page)
    assert violations == [], axe.report(violations)
    row.get_by_role("link").first.click()
    expect(page).to_have_url(re.compile(f"/entities/{firm}$"))
    expect(page.locator("h1")).to_have_text(name)
    _no_errors(browser_log)


def test_search_by_uscc_opens_the_organisation(page: Page, demo_site: DemoSite,
                                               browser_log: BrowserLog) -> None:  # fmt: skip
    firm = demo_site.tries.profiled
    assert firm is not None
    page.goto("/")
    page.get_by_role("searchbox").fill(firm.lower())  # typed in lower case, as people do
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(f"/entities/{firm}$"))
    expect(page.locator("dl.facts").first).to_contain_text(firm)
    _no_errors(browser_log)


def test_a_black_listed_enterprise_shows_list_measure_end_and_records(
    page: Page, demo_site: DemoSite, browser_log: BrowserLog, axe: Axe
) -> None:
    firm = demo_site.tries.denied
    assert firm is not None
    file = _file(demo_site, firm)
    listed = [(s, m) for s in file.standings for m in s.lists
              if m["kind"] == "black" and m["status"] == "effective"]  # fmt: skip
    assert listed, "the denied firm is on no black list"
    standing, membership = listed[0]
    measures = [m for m in standing.measures if m["list_id"] == membership["list_id"]]
    assert measures, "no measure rests on its black list"
    page.goto(f"/entities/{firm}")
    block = page.locator(f'.listing[data-list="{membership["list_id"]}"]').first
    expect(block).to_contain_text(membership["title"])
    expect(block).to_contain_text("black list")
    expect(block.locator(".measure").first).to_contain_text("Measure")
    end = measures[0]["end"]
    if end is not None:
        expect(block.locator(".measure-end").first).to_have_text(end)
    else:
        expect(block.locator(".measure").first).to_contain_text("until the organisation leaves")
    # the records behind the listing are linked and shown in the timeline with their facts
    for record_id in membership["records"]:
        expect(block.locator(f'a[href="#{record_id}"]')).to_have_count(1)
        record = page.locator(f"li.record[id='{record_id}']")
        expect(record).to_be_visible()
        (line,) = [r for r in file.records if r.record_id == record_id]
        expect(record).to_contain_text(line.document_number)
        expect(record).to_contain_text(line.authority)
    violations = axe(page)
    assert violations == [], axe.report(violations)
    _no_errors(browser_log)


def _charted_firm(site: DemoSite) -> str:
    """An organisation whose standing has a history to draw (a score or a grade)."""
    with site.context() as ctx:
        rows = ctx.store.query(
            "SELECT p.subject_id FROM state_profiles p JOIN subjects s ON s.id = p.subject_id"
            " WHERE s.kind <> 'person' AND (p.score IS NOT NULL OR p.grade IS NOT NULL)"
            " ORDER BY p.subject_id LIMIT 20", ())  # fmt: skip
    for (subject,) in rows:
        if any(s.history for s in _file(site, subject).standings):
            return str(subject)
    pytest.fail("no organisation in the demo has a score or grade history")


def test_the_standing_chart_has_data_points(page: Page, demo_site: DemoSite,
                                            browser_log: BrowserLog) -> None:  # fmt: skip
    firm = _charted_firm(demo_site)
    page.goto(f"/entities/{firm}")
    chart = page.locator(".chart").first
    expect(chart).to_have_attribute("data-rendered", "true")
    # ECharts drew it as SVG: the line and a symbol per point
    expect(chart.locator("svg path").first).to_be_attached()
    points = page.evaluate(
        "() => echarts.getInstanceByDom(document.querySelector('.chart'))"
        ".getOption().series[0].data.length"
    )
    assert points >= 1
    _no_errors(browser_log)


def test_an_objection_filed_as_the_subject_shows_under_objection(
    page: Page, demo_site: DemoSite, browser_log: BrowserLog, axe: Axe
) -> None:
    firm = demo_site.tries.profiled
    assert firm is not None
    key = demo_site.make_key("subject", "the firm itself", subject=firm)
    page.goto("/me")
    page.get_by_label("Subject key").fill("tlk_not_a_key")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#key-error")).to_contain_text("unknown")
    page.get_by_label("Subject key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("h1")).to_contain_text("My file")
    violations = axe(page)
    assert violations == [], axe.report(violations)
    # sent empty, the form says what is missing, field by field
    page.get_by_role("button", name="File the objection").click()
    expect(page.locator("#record-error")).to_be_visible()
    expect(page.locator("#reasons-error")).to_be_visible()
    options = page.locator("#obj-record option").all()
    record_id = next(o.get_attribute("value") for o in options if o.get_attribute("value"))
    assert record_id
    page.locator("#obj-record").select_option(record_id)
    page.get_by_label("the record's content is wrong").check()
    page.get_by_label("Your reasons").fill("The decision was annulled on appeal.")
    page.get_by_role("button", name="File the objection").click()
    expect(page.locator("p.notice[role=status]")).to_contain_text("is filed")
    expect(page.locator(f'tr[data-record="{record_id}"] .record-status')).to_contain_text(
        "under objection"
    )
    # and the public page says so too
    page.goto(f"/entities/{firm}")
    expect(page.locator(f"li.record[id='{record_id}']")).to_contain_text("under objection")
    _no_errors(browser_log, "/me/login", "/me/objections")


def test_a_persons_url_is_not_found(page: Page, demo_site: DemoSite,
                                    browser_log: BrowserLog) -> None:  # fmt: skip
    for path in (f"/entities/{demo_site.person_id}", f"/entities/{demo_site.person_number}"):
        response = page.goto(path)
        assert response is not None and response.status == 404, path
        expect(page.locator("h1")).to_have_text("Not found")
        assert demo_site.person_number not in page.content()
    _no_errors(browser_log, "/entities/")


def test_lists_pages_are_accessible_and_page_most_recent_first(
    page: Page, demo_site: DemoSite, browser_log: BrowserLog, axe: Axe
) -> None:
    page.goto("/lists")
    violations = axe(page)
    assert violations == [], axe.report(violations)
    link = page.locator("table a[href^='/lists/']").first
    link.click()
    expect(page.locator("h1")).to_be_visible()
    days = page.locator("tbody tr td:nth-child(4)").all_inner_texts()
    assert days == sorted(days, reverse=True)
    violations = axe(page)
    assert violations == [], axe.report(violations)
    _no_errors(browser_log)


@pytest.mark.parametrize("which", ["home", "search", "entity", "lists", "list", "me", "verify"])
def test_readable_on_a_phone(page: Page, demo_site: DemoSite, which: str) -> None:
    firm = demo_site.tries.denied
    assert firm is not None and demo_site.tries.screen_name is not None
    path = {
        "home": "/",
        "search": f"/search?q={demo_site.tries.screen_name[2:6]}",
        "entity": f"/entities/{firm}",
        "lists": "/lists",
        "list": "/lists/cn-spc-dishonest-debtors/dishonest-judgment-debtors",
        "me": "/me",
        "verify": "/verify",
    }[which]
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(path)
    expect(page.locator("h1")).to_be_visible()
    # wide tables scroll inside their own box; the page itself never scrolls sideways
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"{path} is {width}px wide on a 390px screen"
