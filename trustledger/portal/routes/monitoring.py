"""Third-party monitoring, for the public: ``/monitoring`` (the registered points of
organisations) and ``/monitoring/{MN}`` (a point's hourly series per pollutant with its limit
and exceedance episodes marked, its data-quality notices and the records issued).

Thin: ``app.monitoring_pages`` gathers the figures; the charts' ECharts options are drawn
here from them. A point registered to a person is a 404, like an unknown one."""

from __future__ import annotations

import math
import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, Response

from trustledger.api.deps import ServerState, server
from trustledger.app import monitoring_pages
from trustledger.app.errors import BadInput, NotFound
from trustledger.app.monitoring_pages import PollutantSeries
from trustledger.portal import render

router = APIRouter(include_in_schema=False)

_MN = re.compile(r"[0-9A-Za-z_-]{1,64}")
_LINE, _LIMIT, _EPISODE = "#0b5cad", "#8b1a1a", "rgba(139, 26, 26, 0.14)"


def series_chart(s: PollutantSeries) -> dict[str, Any]:
    """An ECharts option: the hourly means as a line (gaps where an hour is not valid), the
    limit as a mark line, each exceedance episode as a shaded area."""
    top = max([s.limit, *(v for v in s.values if v is not None)])
    return {
        "animation": False,
        "grid": {"left": 56, "right": 24, "top": 36, "bottom": 64},
        "tooltip": {"trigger": "axis"},
        "xAxis": {"type": "category", "data": s.hours, "boundaryGap": False,
                  "name": "local time", "nameLocation": "middle", "nameGap": 44,
                  "axisLabel": {"color": "#1b1f24"}},
        "yAxis": {"type": "value", "name": s.unit, "min": 0,
                  "max": math.ceil(top * 1.2) or 1, "axisLabel": {"color": "#1b1f24"}},
        "series": [{
            "type": "line", "name": f"{s.name}, valid hourly mean", "data": s.values,
            "connectNulls": False, "showSymbol": True, "symbolSize": 4,
            "lineStyle": {"color": _LINE, "width": 2}, "itemStyle": {"color": _LINE},
            "markLine": {"symbol": "none", "silent": True,
                         "lineStyle": {"color": _LIMIT, "type": "dashed", "width": 2},
                         "label": {"formatter": f"limit {s.limit:g}", "color": _LIMIT,
                                   "position": "insideEndTop"},
                         "data": [{"yAxis": s.limit, "name": "limit"}]},
            "markArea": {"silent": True, "itemStyle": {"color": _EPISODE},
                         "label": {"color": _LIMIT},
                         "data": [[{"xAxis": e["first_hour"], "name": "exceedance"},
                                   {"xAxis": e["last_hour"]}] for e in s.episodes]},
        }],
    }  # fmt: skip


def chart_label(s: PollutantSeries) -> str:
    episodes = len(s.episodes)
    marked = f"{episodes} exceedance episode{'s' if episodes != 1 else ''} shaded"
    return (
        f"{s.name}: valid hourly means ({s.unit}"
        + (f" at {s.reference_o2:g} % O₂" if s.reference_o2 is not None else "")
        + f"), the limit {s.limit:g} {s.unit} as a dashed line, {marked}"
    )


@router.get("/monitoring", response_class=HTMLResponse)
def monitoring_index(request: Request, state: Annotated[ServerState, Depends(server)]) -> Response:
    with state.lock:
        found = monitoring_pages.points_index(state.ctx)
    return render.page(request, "monitoring_index.html", title="Monitoring points", index=found)


@router.get("/monitoring/{mn}", response_class=HTMLResponse)
def monitoring_point(
    request: Request,
    state: Annotated[ServerState, Depends(server)],
    mn: Annotated[str, Path(max_length=64)],
    days: Annotated[str, Query(max_length=4)] = "7",
) -> Response:
    if not _MN.fullmatch(mn):
        raise NotFound(f"no monitoring point {mn[:64]}")
    if not days.isascii() or not days.isdigit() or not 1 <= int(days) <= 31:
        raise BadInput("days: a whole number of days from 1 to 31")
    with state.lock:
        found = monitoring_pages.point_page(state.ctx, mn, int(days))
    charts = [(s, series_chart(s), chart_label(s)) for s in found["series"]]
    return render.page(request, "monitoring.html", title=f"Monitoring point {mn}",
                       point=found, charts=charts)  # fmt: skip
