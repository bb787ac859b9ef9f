"""What a face shows of third-party monitoring: a subject's points, one point's series,
episodes and data-quality notices."""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Any

from trustledger.app.errors import NotFound

if TYPE_CHECKING:
    from trustledger.app.context import Context
    from trustledger.ledger.store import Store
    from trustledger.monitoring.store import MonitoringStore

# one MonitoringStore per open store: making one creates the monitoring tables if missing
_STORES: weakref.WeakKeyDictionary[Store, MonitoringStore] = weakref.WeakKeyDictionary()


def monitoring_store(ctx: Context) -> MonitoringStore:
    from trustledger.monitoring.store import MonitoringStore

    found = _STORES.get(ctx.store)
    if found is None:
        found = _STORES[ctx.store] = MonitoringStore(ctx.store)
    return found


def point_view(ctx: Context, mn: str, days: int = 7) -> dict[str, Any]:
    """A point's valid hourly means at the reference O₂ with its limits, its episodes and
    its notices; NotFound when no such point is registered (or its rulebook is gone)."""
    from trustledger.monitoring.points import PointError
    from trustledger.monitoring.points import point_view as view

    try:
        return view(ctx.store, monitoring_store(ctx), mn, days)
    except PointError:
        raise NotFound("no such monitoring point") from None


def subject_points(ctx: Context, subject_id: str) -> list[dict[str, Any]]:
    """The subject's registered monitoring points."""
    from trustledger.monitoring.points import subject_points as points

    return points(monitoring_store(ctx), subject_id)
