"""The comparison page: figures read from the live state agree with a fresh evaluation of
every rulebook (``app.evaluation.compare``); Cohen's kappa where it means something; bar
charts with the same numbers as the tables; figures kept until the state moves, then read
again in the background while the previous ones are answered, marked stale."""

from __future__ import annotations

import html
import json
import re
import time
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from portal_site import Site, check_structure, site

from trustledger.app import compare_pages, evaluation
from trustledger.app.compare_pages import kappa
from trustledger.app.context import Context
from trustledger.app.time import When, when


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    yield from site(tmp_path_factory)


@pytest.fixture
def ctx(portal: Site) -> Iterator[Context]:
    with portal.context() as opened:
        yield opened


def now(ctx: Context) -> When:
    return when(None, None, timezone=ctx.settings.timezone, now_us=ctx.now_us(), today=ctx.today())


def chart_options(page: str) -> list[dict[str, Any]]:
    return [json.loads(html.unescape(raw)) for raw in re.findall(r'data-option="([^"]*)"', page)]


def test_kappa() -> None:
    # 100 subjects: 20 both, 5 only the first, 10 only the second, 65 neither
    value, note = kappa(20, 5, 10, 65)
    assert value == 0.625 and note == "substantial agreement beyond chance"
    assert kappa(10, 0, 0, 90) == (1.0, "almost perfect agreement beyond chance")
    assert kappa(3, 2, 1, 10)[0] is None  # 16 subjects: too few
    assert kappa(0, 0, 40, 60) == (
        None, "one rulebook lists all or none of them: agreement is by construction",
    )  # fmt: skip
    assert kappa(2, 1, 30, 67)[0] is None  # the first lists only 3
    low, words = kappa(5, 45, 45, 5)
    assert low is not None and low < 0 and words == "less than chance"


def test_figures_agree_with_a_fresh_evaluation(ctx: Context) -> None:
    page = compare_pages.comparison(ctx, wait=True)
    refs = [f.id for f in page.rulebooks]
    fresh = evaluation.compare(ctx, refs, now(ctx)).comparison
    theirs = {f.rulebook.partition("@")[0]: f for f in fresh.figures}
    pending = {f.id: sum(item["pending"] for item in f.lists) for f in page.rulebooks}
    for figures in page.rulebooks:
        other = theirs[figures.id]
        assert figures.subjects == other.subjects, figures.id
        assert dict(figures.grades) == {**dict.fromkeys(dict(figures.grades), 0), **other.grades}
        assert figures.redlisted == other.redlisted
        if pending[figures.id] == 0:
            assert figures.blacklisted == other.blacklisted, figures.id
        else:  # a fresh evaluation counts pending listings too; the page does not
            assert figures.blacklisted < other.blacklisted, figures.id
        # a grades regime may leave a subject ungraded: cn-tax-credit and cn-customs-credit
        # grade only subjects with a grade decision in force (no record, no grade)
        assert sum(n for _, n in figures.grades) <= figures.subjects
        if figures.scores:
            assert sum(n for _, n in figures.scores) == figures.subjects
    agreements = {(a.left, a.right): a for a in fresh.agreements}
    assert len(page.pairs) == len(agreements) == len(refs) * (len(refs) - 1) // 2
    for pair in page.pairs:
        other = agreements[(pair.left, pair.right)]
        assert pair.common == other.common_subjects
        assert pair.both + pair.only_left + pair.only_right + pair.neither == pair.common
        if pending[pair.left] == pending[pair.right] == 0:
            assert pair.agree == other.agree, (pair.left, pair.right)


def test_the_page(portal: Site, ctx: Context) -> None:
    answer = portal.client.get("/compare")
    assert answer.status_code == 200
    text = answer.text
    check_structure(text)
    page = compare_pages.comparison(ctx, wait=True)
    options = chart_options(text)
    graded = [f for f in page.rulebooks if f.grades]
    scored = [f for f in page.rulebooks if f.scores]
    assert len(options) == 2 + len(graded) + len(scored)
    assert all(s["type"] == "bar" for o in options for s in o["series"])
    lists = options[0]["series"][0]["data"]
    assert [d["value"] for d in reversed(lists)] == [
        item["listed"] for f in page.rulebooks for item in f.lists
    ]
    agreement = next(o for o in options if o["series"][0].get("stack") == "subjects")
    assert len(agreement["yAxis"]["data"]) == len(page.pairs)
    for row in zip(*(s["data"] for s in agreement["series"]), strict=True):
        assert sum(row) == pytest.approx(100, abs=0.05) or sum(row) == 0
    for f in graded:
        option = next(o for o in options if o["xAxis"].get("name") == "grade"
                      and o["xAxis"]["data"] == [g for g, _ in f.grades])  # fmt: skip
        assert option["series"][0]["data"] == [n for _, n in f.grades]
    for pair in page.pairs:
        assert f"<td>{pair.common:,}</td><td>{pair.both:,}</td>" in text
        if pair.kappa is not None:
            assert f"{pair.kappa:.3f}" in text
    assert "/static/vendor/echarts/echarts.min.js" in text
    assert not re.search(r"P[0-9a-f]{32}", text)  # counts only: no person's id


def test_a_bad_day_is_a_422_page(portal: Site) -> None:
    answer = portal.client.get("/compare?on=tomorrow")
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("text/html")
    assert portal.client.get("/compare?on=2025-01-01").status_code == 200


def test_figures_are_kept_until_the_state_moves(
    ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = compare_pages.comparison(ctx, wait=True)
    assert compare_pages.comparison(ctx) is first  # kept: nothing moved
    monkeypatch.setattr(compare_pages, "LOOK_INTERVAL", 0.0)
    assert compare_pages.comparison(ctx) is first  # looked again: still the same state
    evaluation.evaluate(ctx, now(ctx))  # a whole re-evaluation rewrites the state
    stale = compare_pages.comparison(ctx)
    assert stale.stale and stale.ledger_size == first.ledger_size
    deadline = time.monotonic() + 30
    while True:
        found = compare_pages.comparison(ctx)
        if not found.stale:
            break
        assert time.monotonic() < deadline, "the figures were never read again"
        time.sleep(0.05)
    assert found is not first
    assert [f.subjects for f in found.rulebooks] == [f.subjects for f in first.rulebooks]


def test_another_day_does_not_drop_todays_figures(ctx: Context) -> None:
    today = compare_pages.comparison(ctx, wait=True)
    other = compare_pages.comparison(ctx, date(2025, 1, 1))
    assert other.on == "2025-01-01" and other is not today
    assert compare_pages.comparison(ctx) is today


def test_with_the_servers_lock_the_figures_are_read_outside_it(ctx: Context) -> None:
    held: list[str] = []

    class Watched:
        def __enter__(self) -> None:
            held.append("enter")

        def __exit__(self, *exc: object) -> None:
            held.append("exit")

    mine = compare_pages.comparison(ctx, wait=True, lock=Watched())
    plain = compare_pages.comparison(ctx, wait=True)
    assert held == []  # read now: wholly on a connection of its own
    assert [(f.ref, f.subjects, f.grades, f.lists) for f in mine.rulebooks] == [
        (f.ref, f.subjects, f.grades, f.lists) for f in plain.rulebooks
    ]
    assert mine.pairs == plain.pairs
