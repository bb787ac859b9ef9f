"""The monitoring pages: the demo plants' points with their organisations, each point's
hourly series per pollutant (named, not coded) with the limit line and the exceedance
episode shaded, at local times, its data-quality notices and the record it led to (only
once a person has confirmed it); a point registered to a person is a 404 like an unknown one."""

from __future__ import annotations

import dataclasses
import html
import json
import re
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from portal_site import Site, check_structure, site

from trustledger.app import monitoring
from trustledger.app.context import Context
from trustledger.app.monitoring_pages import point_page, pollutant_name
from trustledger.monitoring.store import Point


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    yield from site(tmp_path_factory)


def plants(portal: Site) -> dict[str, tuple[str, str]]:
    found = portal.result.monitoring
    assert found is not None
    return {what: (mn, subject) for mn, subject, what in found.points}


def exceeding(portal: Site) -> tuple[str, str]:
    return next(v for k, v in plants(portal).items() if "above the limit" in k)


def stuck(portal: Site) -> tuple[str, str]:
    return next(v for k, v in plants(portal).items() if "stuck" in k)


def chart_options(page: str) -> list[dict[str, Any]]:
    return [json.loads(html.unescape(raw)) for raw in re.findall(r'data-option="([^"]*)"', page)]


def test_index_names_the_organisations(portal: Site) -> None:
    answer = portal.client.get("/monitoring")
    assert answer.status_code == 200
    check_structure(answer.text)
    with portal.context() as ctx:
        for mn, subject in plants(portal).values():
            assert f'href="/monitoring/{mn}"' in answer.text
            assert f'href="/entities/{subject}"' in answer.text
            name = ctx.store.get_row("subjects", subject).name
            assert name in answer.text
    assert "Sulphur dioxide (SO₂)" in answer.text
    assert "a21026" not in answer.text  # names, not codes


def test_a_point_with_an_exceedance(portal: Site) -> None:
    mn, subject = exceeding(portal)
    answer = portal.client.get(f"/monitoring/{mn}")
    assert answer.status_code == 200
    text = answer.text
    check_structure(text)
    assert f'href="/entities/{subject}"' in text
    assert '<h3 id="pollutant-a21026">Sulphur dioxide (SO₂)</h3>' in text
    assert "/static/vendor/echarts/echarts.min.js" in text and "/static/charts.js" in text
    with portal.context() as ctx:
        view = point_page(ctx, mn)
    so2 = next(s for s in view["series"] if s.code == "a21026")
    assert so2.episodes and so2.exceedance_hours >= 6
    options = chart_options(text)
    assert len(options) == len(view["series"])
    option = next(o for o in options if o["series"][0]["name"].startswith("Sulphur dioxide"))
    line = option["series"][0]
    assert line["type"] == "line"
    assert line["data"] == so2.values and any(v is not None for v in line["data"])
    assert option["xAxis"]["data"] == so2.hours
    # local time labels, not epoch seconds or UTC ISO strings
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d", h) for h in option["xAxis"]["data"])
    assert line["markLine"]["data"] == [{"yAxis": so2.limit, "name": "limit"}]
    episode = so2.episodes[0]
    area = line["markArea"]["data"][0]
    assert area[0]["xAxis"] == episode["first_hour"] and area[1]["xAxis"] == episode["last_hour"]
    assert area[0]["xAxis"] in so2.hours and area[1]["xAxis"] in so2.hours
    # the hours above the limit in the series are the episode's
    above = [h for h, v in zip(so2.hours, so2.values, strict=True) if v is not None and v > 35]
    assert above[0] == episode["first_hour"] and above[-1] == episode["last_hour"]
    # the record waits for a person: not published, so neither its id nor its text
    assert "awaiting a person&#39;s confirmation" in text or "awaiting a person's" in text
    assert not re.search(r"\bR[0-9a-f]{24}\b", text)


def test_the_record_shows_once_a_person_confirms_it(portal: Site) -> None:
    mn, subject = exceeding(portal)
    reviewer = portal.result.reviewer
    assert reviewer is not None
    with portal.context() as ctx:
        episodes = [e for e in monitoring.point_view(ctx, mn)["episodes"] if e["record"]]
        assert episodes
        record = episodes[0]["record"]
        monitoring.confirm(ctx, record, reviewer=reviewer)
    text = portal.client.get(f"/monitoring/{mn}").text
    assert "Emission exceedance from automatic monitoring" in text
    assert f'<a href="/entities/{subject}">Emission exceedance' in text


def test_a_stuck_analyser_is_a_notice_not_a_record(portal: Site) -> None:
    mn, _ = stuck(portal)
    text = portal.client.get(f"/monitoring/{mn}").text
    notices = text.split('id="notices"')[1]
    assert "Nitrogen oxides (NOx)" in notices
    assert "the reading did not change (a stuck analyser)" in notices
    assert re.search(r"<td>\d{4}-\d\d-\d\d \d\d:\d\d</td>", notices)  # local times
    assert "No exceedance episode." in text


def test_a_persons_point_is_not_found(portal: Site) -> None:
    mn, _ = exceeding(portal)
    with portal.context() as ctx:
        person = ctx.store.query("SELECT id FROM subjects WHERE kind = 'person' LIMIT 1")[0][0]
        original = monitoring.monitoring_store(ctx).point(mn)
        assert original is not None
        # registration refuses persons; a row written around it must still never show
        monitoring.monitoring_store(ctx).register(
            Point(*original)._replace(mn="PERSONPOINT1", subject=person)
        )
    answer = portal.client.get("/monitoring/PERSONPOINT1")
    assert answer.status_code == 404
    assert answer.headers["content-type"].startswith("text/html")
    assert person not in answer.text
    index = portal.client.get("/monitoring").text
    assert "PERSONPOINT1" not in index and person not in index


def test_unknown_points_and_bad_days(portal: Site) -> None:
    mn, _ = exceeding(portal)
    cases = [
        ("/monitoring/NOSUCHPOINT", 404), ("/monitoring/bad%20mn", 404),
        (f"/monitoring/{mn}?days=0", 422), (f"/monitoring/{mn}?days=99", 422),
        (f"/monitoring/{mn}?days=x", 422), (f"/monitoring/{mn}?days=2", 200),
    ]  # fmt: skip
    for path, status in cases:
        answer = portal.client.get(path)
        assert answer.status_code == status, path
        assert answer.headers["content-type"].startswith("text/html"), path


def test_pollutants_are_named() -> None:
    assert pollutant_name("a21026") == "Sulphur dioxide (SO₂)"
    assert pollutant_name("02") == "SO2"  # a 2005 code: the vocabulary's name
    assert pollutant_name("zz999") == "zz999"  # unknown codes pass through


def test_hours_are_on_the_configured_calendar(portal: Site) -> None:
    mn, _ = exceeding(portal)
    with portal.context() as ctx:
        shanghai = point_page(ctx, mn)
        device = [
            h["hour"] for h in monitoring.point_view(ctx, mn)["pollutants"]["a21026"]["hours"]
        ]
    so2 = next(s for s in shanghai["series"] if s.code == "a21026")
    assert so2.hours == [h.replace("T", " ") for h in device]  # device time is Shanghai's
    with Context.open(dataclasses.replace(portal.settings, timezone="Europe/London")) as ctx:
        london = point_page(ctx, mn)
    cst = timezone(timedelta(hours=8))
    expected = [
        datetime.fromisoformat(h).replace(tzinfo=cst).astimezone(ZoneInfo("Europe/London"))
        .strftime("%Y-%m-%d %H:%M") for h in device
    ]  # fmt: skip
    so2_london = next(s for s in london["series"] if s.code == "a21026")
    assert so2_london.hours == expected and expected != so2.hours
    assert london["timezone"] == "Europe/London"
    assert so2_london.episodes[0]["first_hour"] in so2_london.hours
