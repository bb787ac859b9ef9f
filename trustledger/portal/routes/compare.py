"""``/compare``: the published rulebooks side by side on the same subjects, from the live
state — grade and score distributions, list sizes, and agreement between every pair of
rulebooks — as ECharts bar charts with tables of the same numbers.

Thin: ``app.compare_pages`` reads the figures (kept until the state moves); the charts'
options are drawn here from them."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from trustledger.api.deps import ServerState, server
from trustledger.app import compare_pages
from trustledger.app.compare_pages import ComparisonPage, PairAgreement, RulebookFigures
from trustledger.app.errors import BadInput
from trustledger.portal import render

router = APIRouter(include_in_schema=False)

INK = "#1b1f24"
KIND_COLOURS = {"black": "#8b1a1a", "red": "#0f6b3a"}
AGREEMENT = (("both", "#8b1a1a"), ("only_left", "#b35c00"), ("only_right", "#0b5cad"),
             ("neither", "#8a96a3"))  # fmt: skip
AGREEMENT_WORDS = {"both": "listed by both", "only_left": "only by the first",
                   "only_right": "only by the second", "neither": "by neither"}  # fmt: skip


def _axis(kind: str, **extra: Any) -> dict[str, Any]:
    return {"type": kind, "axisLabel": {"color": INK}, **extra}


def list_sizes_chart(page: ComparisonPage) -> dict[str, Any]:
    rows = [(f"{f.id}: {item['title']}", item) for f in page.rulebooks for item in f.lists]
    rows.reverse()  # ECharts draws the first category at the bottom
    return {
        "animation": False,
        "grid": {"left": 8, "right": 56, "top": 16, "bottom": 32, "containLabel": True},
        "tooltip": {"trigger": "axis", "axisPointer": {"type": "shadow"}},
        "xAxis": _axis("value", name="subjects", nameLocation="middle", nameGap=24, minInterval=1),
        "yAxis": _axis("category", data=[label for label, _ in rows]),
        "series": [{
            "type": "bar", "name": "in effect on the day",
            "data": [{"value": item["listed"], "itemStyle": {"color": KIND_COLOURS[item["kind"]]}}
                     for _, item in rows],
            "label": {"show": True, "position": "right", "color": INK},
        }],
    }  # fmt: skip


def grades_chart(figures: RulebookFigures) -> dict[str, Any]:
    return {
        "animation": False,
        "grid": {"left": 8, "right": 16, "top": 24, "bottom": 8, "containLabel": True},
        "tooltip": {"trigger": "axis", "axisPointer": {"type": "shadow"}},
        "xAxis": _axis("category", data=[g for g, _ in figures.grades], name="grade"),
        "yAxis": _axis("value", name="subjects", minInterval=1),
        "series": [{"type": "bar", "name": "subjects", "data": [n for _, n in figures.grades],
                    "itemStyle": {"color": "#0b5cad"},
                    "label": {"show": True, "position": "top", "color": INK}}],
    }  # fmt: skip


def scores_chart(figures: RulebookFigures) -> dict[str, Any]:
    return {
        "animation": False,
        "grid": {"left": 8, "right": 16, "top": 24, "bottom": 8, "containLabel": True},
        "tooltip": {"trigger": "axis", "axisPointer": {"type": "shadow"}},
        "xAxis": _axis("category", data=[b for b, _ in figures.scores], name="score"),
        "yAxis": _axis("value", name="subjects", minInterval=1),
        "series": [{"type": "bar", "name": "subjects", "data": [n for _, n in figures.scores],
                    "barCategoryGap": "10%", "itemStyle": {"color": "#4a5561"}}],
    }  # fmt: skip


def agreement_chart(pairs: list[PairAgreement]) -> dict[str, Any]:
    """Each pair's common subjects split four ways, as shares (pairs differ in size)."""
    shown = list(reversed(pairs))
    series = []
    for key, colour in AGREEMENT:
        series.append({
            "type": "bar", "stack": "subjects", "name": AGREEMENT_WORDS[key],
            "itemStyle": {"color": colour},
            "data": [round(100 * getattr(p, key) / p.common, 2) if p.common else 0
                     for p in shown],
        })  # fmt: skip
    return {
        "animation": False,
        "legend": {"top": 0, "textStyle": {"color": INK}},
        "grid": {"left": 8, "right": 24, "top": 40, "bottom": 32, "containLabel": True},
        "tooltip": {"trigger": "axis", "axisPointer": {"type": "shadow"}},
        "xAxis": _axis("value", max=100, name="% of the subjects evaluated under both",
                       nameLocation="middle", nameGap=24),
        "yAxis": _axis("category", data=[f"{p.left} × {p.right}" for p in shown]),
        "series": series,
    }  # fmt: skip


@router.get("/compare", response_class=HTMLResponse)
def compare_page(
    request: Request,
    state: Annotated[ServerState, Depends(server)],
    on: Annotated[str | None, Query(max_length=10)] = None,
) -> Response:
    day = None
    if on:
        try:
            day = date.fromisoformat(on)
        except ValueError:
            raise BadInput("on: a day as YYYY-MM-DD") from None
    # the lock is taken inside, only around reads on the shared connection
    page = compare_pages.comparison(state.ctx, day, lock=state.lock)
    charts = {
        "lists": list_sizes_chart(page),
        "agreement": agreement_chart(page.pairs),
        "grades": {f.id: grades_chart(f) for f in page.rulebooks if f.grades},
        "scores": {f.id: scores_chart(f) for f in page.rulebooks if f.scores},
    }
    list_rows = sum(len(f.lists) for f in page.rulebooks)
    return render.page(request, "compare.html", title="Compare rulebooks", page=page,
                       charts=charts, list_rows=list_rows)  # fmt: skip
