"""A broken sensor gives a notice, never a record — as the demo and its portal page show it:
the demo's second plant has a NOx analyser stuck at 80 mg/m³ (above the limit) for 12
hours; its page names the hours removed, shades no episode, and the plant is still rated on
its other valid hours."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from portal_site import Site, site

from trustledger.app.monitoring_pages import point_page

NOX = "a21002"


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    yield from site(tmp_path_factory)


def stuck(portal: Site) -> tuple[str, str]:
    found = portal.result.monitoring
    assert found is not None
    (point,) = [(mn, subject) for mn, subject, what in found.points if "stuck" in what]
    return point


def test_the_stuck_hours_are_named_and_not_judged(portal: Site) -> None:
    mn, _ = stuck(portal)
    text = portal.client.get(f"/monitoring/{mn}").text
    notices = text.split('id="notices"')[1]
    assert "NOx stuck at 80.00 for 720 consecutive readings" in notices
    assert "not judged: 12 hours left without a valid mean" in notices
    assert "No exceedance episode." in text
    with portal.context() as ctx:
        view = point_page(ctx, mn)
    nox = next(s for s in view["series"] if s.code == NOX)
    # 80 mg/m³ is above the limit, yet no hour of it is judged, so none exceeds
    assert nox.valid_hours == 12 and nox.exceedance_hours == 0 and nox.episodes == []
    stuck_hours = [h for h, v in zip(nox.hours, nox.values, strict=True) if v is None]
    assert [h[11:] for h in stuck_hours] == [f"{h:02d}:00" for h in range(6, 18)]


def test_the_plant_is_rated_on_its_other_valid_hours(portal: Site) -> None:
    found = portal.result.monitoring
    assert found is not None
    _, subject = stuck(portal)
    (rating,) = [r for r in found.ratings if r.startswith(subject)]
    # SO₂ and dust 24 hours each, NOx the 12 it was not stuck: 60 of 72 due, all within
    assert "100.0 % of 60 valid means" in rating
    with portal.context() as ctx:
        categories = {r.category for r in ctx.store.rows_where("records", "subject_id", [subject])}
    assert "ENV-EMISSIONS-RATE-HIGH" in categories
    assert "ENV-EXCEEDANCE-AUTOMATED" not in categories  # the stuck hours made none
