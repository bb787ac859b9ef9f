"""Monitoring points as the public reads them: the portal's ``/monitoring`` pages.

A point belongs to an organisation (a person never has one: any point registered to a
person's id is answered as if it did not exist). Each pollutant's valid hourly means come
with the limit and the exceedance episodes, named as people name pollutants, at local
times; data-quality notices are the instrument's faults, never penalties; a record an
episode became is shown only once it is published (confirmed by a person), as on the
organisation's own page.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from datetime import timezone as dt_timezone
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from trustledger.app.errors import NotFound

if TYPE_CHECKING:
    from trustledger.app.context import Context
    from trustledger.ledger.store import Store
    from trustledger.monitoring.store import Point

# how people name what the loggers measure (the vocabulary's names are short labels)
_NAMES = {
    "a34013": "Particulate matter (dust)",
    "a21026": "Sulphur dioxide (SO₂)",
    "a21002": "Nitrogen oxides (NOx)",
    "a21005": "Carbon monoxide (CO)",
    "a21024": "Hydrogen chloride (HCl)",
    "a21028": "Hydrogen sulphide (H₂S)",
    "a19001": "Oxygen (O₂)",
    "a00000": "Flue-gas flow",
    "w01018": "Chemical oxygen demand (COD)",
    "w21003": "Ammonia nitrogen (NH₃-N)",
    "w21011": "Total phosphorus (TP)",
    "w21001": "Total nitrogen (TN)",
    "w01001": "pH",
    "w00000": "Wastewater flow",
}
_UNITS = {"mg/m3": "mg/m³", "m3/s": "m³/s"}
_FAULTS = {
    "flatline": "the reading did not change (a stuck analyser)",
    "gap": "data missing",
    "jump": "impossible jumps between readings",
    "negative": "negative readings",
    "invalid_run": "a run of readings flagged invalid by the logger",
    "zs_mismatch": "converted and measured values disagree",
    "clock_skew": "the logger's clock is far off",
}


def pollutant_name(code: str) -> str:
    from trustledger.pollutants import describe

    if code in _NAMES:
        return _NAMES[code]
    found = describe(code)
    return found.name if found is not None else code


def pollutant_unit(code: str) -> str:
    from trustledger.pollutants import describe

    found = describe(code)
    return _UNITS.get(found.unit, found.unit) if found is not None else ""


def _is_person(subject_id: str) -> bool:
    return subject_id.startswith("P")


def _local(epoch_s: int, timezone: str) -> str:
    moment = datetime.fromtimestamp(epoch_s, tz=UTC).astimezone(ZoneInfo(timezone))
    return moment.strftime("%Y-%m-%d %H:%M")


def _hour_label(device_text: str, timezone: str) -> str:
    """A series hour ("2026-12-01T09:00", the loggers' device time: China Standard Time,
    HJ 212) on the configured calendar, as people read it ("2026-12-01 09:00")."""
    from trustledger.monitoring.aggregate import CHINA_OFFSET_S

    device = dt_timezone(timedelta(seconds=CHINA_OFFSET_S))
    moment = datetime.fromisoformat(device_text).replace(tzinfo=device)
    return moment.astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M")


def _names(ctx: Context, subject_ids: list[str]) -> dict[str, str]:
    rows = ctx.store.rows_where("subjects", "id", sorted(set(subject_ids)))
    return {row.id: row.name for row in rows}


def _limit_titles(ctx: Context) -> dict[tuple[str, str], str]:
    from trustledger.app.rulebook_pages import published_latest

    out: dict[tuple[str, str], str] = {}
    for rid, rulebook in published_latest(ctx).items():
        if rulebook.monitoring is not None:
            for ls in rulebook.monitoring.limit_sets:
                out[(rid, ls.id)] = ls.title
    return out


def points_index(ctx: Context) -> dict[str, Any]:
    """Registered points of organisations, by MN, with the organisation's name; and how
    many points send data without being registered (kept, not judged)."""
    from trustledger.app.monitoring import points

    listing = points(ctx)
    registered = [p for p in listing.registered if not _is_person(str(p["subject"]))]
    names = _names(ctx, [str(p["subject"]) for p in registered])
    titles = _limit_titles(ctx)
    rows = [
        {"mn": p["mn"], "subject": p["subject"], "name": names.get(p["subject"], p["subject"]),
         "outlet": p["outlet"], "rulebook": p["rulebook"], "limit_set": p["limit_set"],
         "limit_title": titles.get((p["rulebook"], p["limit_set"]), p["limit_set"]),
         "pollutants": [pollutant_name(c) for c in p["pollutants"]]}
        for p in sorted(registered, key=lambda p: str(p["mn"]))
    ]  # fmt: skip
    return {"points": rows, "unregistered": len(listing.unregistered)}


@dataclass
class PollutantSeries:
    code: str
    name: str
    unit: str
    limit: float
    reference_o2: float | None
    hours: list[str]  # local hour starts, "YYYY-MM-DD HH:MM"
    values: list[float | None]  # valid hourly means at the reference O₂; None: not valid
    valid_hours: int
    exceedance_hours: int
    highest: float | None
    episodes: list[dict[str, Any]] = field(default_factory=list)


def _record(ctx: Context, record_id: str | None) -> dict[str, Any] | None:
    """What the public may know of the record an episode became: the record itself once
    published (confirmed by a person), otherwise only that one is waiting."""
    if record_id is None:
        return None
    row = ctx.store.get_row("records", record_id)
    if row is None:
        return None
    published = row.confirmation in (None, "confirmed") and row.publication_date <= (
        ctx.today().isoformat()
    )
    if not published:
        return {"published": False, "status": "awaiting a person's confirmation"}
    category = ctx.catalogue.get(row.category)
    return {"published": True, "id": row.id, "status": row.status,
            "title": category.title if category else row.category,
            "document_number": row.document_number, "publication_date": row.publication_date,
            "subject": row.subject_id}  # fmt: skip


# per open store: (mn, days) → (what the page was read from, the page). A page reads and
# aggregates a week of minute packets (tens of thousands of objects, 20-50 ms); it changes
# only when packets, notices, episodes, the ledger (records, confirmations), the point's
# registration or the day do, which a few indexed counts tell.
_KEPT: weakref.WeakKeyDictionary[Store, dict[tuple[str, int], tuple[tuple[Any, ...], Any]]] = (
    weakref.WeakKeyDictionary()
)
_KEPT_LOCK = threading.Lock()
_KEEP_AT_MOST = 256


def _signature(ctx: Context, mn: str, registered_us: int) -> tuple[Any, ...]:
    q = ctx.store.query
    packets = q("SELECT count(*), max(data_time) FROM monitor_packets WHERE mn = ?", (mn,))
    notices = q("SELECT count(*), max(created_us) FROM monitor_notices WHERE mn = ?", (mn,))
    episodes = q("SELECT count(*), max(judged_us) FROM monitor_episodes WHERE mn = ?", (mn,))
    return (ctx.store.size(), registered_us, ctx.today(), *packets[0], *notices[0],
            *episodes[0])  # fmt: skip


def point_page(ctx: Context, mn: str, days: int = 7) -> dict[str, Any]:
    """One organisation's point: its series per pollutant with limit and episodes, its
    notices and the records issued; NotFound for an unknown point or a person's."""
    from trustledger.app.monitoring import monitoring_store

    point = monitoring_store(ctx).point(mn)
    if point is None or _is_person(point.subject):
        raise NotFound(f"no monitoring point {mn}")
    key = _signature(ctx, mn, point.registered_us)
    with _KEPT_LOCK:
        kept = _KEPT.setdefault(ctx.store, {})
        found = kept.get((mn, days))
    if found is not None and found[0] == key:
        page: dict[str, Any] = found[1]
        return page
    page = _point_page(ctx, point, days)
    with _KEPT_LOCK:
        if len(kept) >= _KEEP_AT_MOST:
            kept.clear()
        kept[(mn, days)] = (key, page)
    return page


def _point_page(ctx: Context, point: Point, days: int) -> dict[str, Any]:
    from trustledger.app.monitoring import point_view

    mn = point.mn
    view = point_view(ctx, mn, days)
    timezone = ctx.settings.timezone
    subject = str(view["subject"])
    names = _names(ctx, [subject])
    authority = ctx.store.get_row("authorities", point.authority)
    titles = _limit_titles(ctx)
    series: list[PollutantSeries] = []
    for code, found in view["pollutants"].items():
        values = [h["converted"] if h["valid"] else None for h in found["hours"]]
        valid = [v for v in values if v is not None]
        limit = float(found["limit"])
        series.append(PollutantSeries(
            code=code, name=pollutant_name(code), unit=pollutant_unit(code) or "mg/m³",
            limit=limit, reference_o2=found["reference_o2"],
            hours=[_hour_label(h["hour"], timezone) for h in found["hours"]], values=values,
            valid_hours=len(valid), exceedance_hours=sum(1 for v in valid if v > limit),
            highest=max(valid) if valid else None,
        ))  # fmt: skip
    by_code = {s.code: s for s in series}
    episodes = []
    for episode in view["episodes"]:
        shown = {
            "pollutant": pollutant_name(episode["pollutant"]),
            "code": episode["pollutant"],
            "first_hour": _hour_label(episode["first_hour"], timezone),
            "last_hour": _hour_label(episode["last_hour"], timezone),
            "hours": episode["hours"],
            "highest": round(float(episode["max"]), 3),
            "limit": episode["limit"],
            "record": _record(ctx, episode.get("record")),
        }
        episodes.append(shown)
        if episode["pollutant"] in by_code:
            by_code[episode["pollutant"]].episodes.append(shown)
    notices = [
        {"pollutant": pollutant_name(n["pollutant"]), "kind": n["kind"],
         "what": _FAULTS.get(n["kind"], n["kind"].replace("_", " ")),
         "from": _local(int(n["start_s"]), timezone), "to": _local(int(n["end_s"]), timezone),
         "count": n["count"], "detail": n["detail"]}
        for n in view["notices"]
    ]  # fmt: skip
    return {
        "mn": mn,
        "subject": subject,
        "name": names.get(subject, subject),
        "outlet": point.outlet,
        "authority": authority.name if authority is not None else point.authority,
        "rulebook": point.rulebook,
        "limit_set": point.limit_set,
        "limit_title": titles.get((point.rulebook, point.limit_set), point.limit_set),
        "days": days,
        "timezone": timezone,
        "series": series,
        "episodes": episodes,
        "notices": notices,
    }
