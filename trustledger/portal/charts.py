"""ECharts options built from the application layer's figures (the browser only draws
them: static/charts.js hands each option to ECharts as it is)."""

from __future__ import annotations

from typing import Any

from trustledger.app.entities import Standing


def standing_history(standing: Standing) -> dict[str, Any]:
    """A step line of the score (or the grade, for rulebooks that only grade) over time."""
    points = standing.history
    grades_only = all(score is None for _, score, _ in points)
    if grades_only:
        order = sorted({g for _, _, g in points if g is not None})
        data: list[list[Any]] = [[day, grade] for day, _, grade in points if grade is not None]
        y_axis: dict[str, Any] = {"type": "category", "data": order, "name": "grade"}
    else:
        data = [[day, score] for day, score, _ in points]
        y_axis = {"type": "value", "name": "score", "scale": True}
    return {
        "animation": False,
        "aria": {"enabled": True},
        "grid": {"left": 60, "right": 20, "top": 30, "bottom": 40},
        "tooltip": {"trigger": "axis"},
        "xAxis": {"type": "time"},
        "yAxis": y_axis,
        "series": [{
            "type": "line", "step": "end", "name": standing.title, "data": data,
            "symbolSize": 6, "showSymbol": True,
        }],
    }  # fmt: skip
