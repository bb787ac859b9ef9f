"""The portal's routers, one per area; ``ROUTERS`` is the order they are included in."""

from __future__ import annotations

from fastapi import APIRouter

from trustledger.portal import apidocs
from trustledger.portal.routes import (
    commendations,
    compare,
    ledger,
    me,
    monitoring,
    open_data,
    public,
    reports,
    rulebooks,
)

ROUTERS: list[APIRouter] = [
    apidocs.router,
    public.router,
    me.router,  # /me: the subject's own file
    commendations.router,  # /commendations, and consent to them on /me
    reports.router,  # /entities/{USCC}/report.pdf, /verify
    rulebooks.router,  # /rulebooks, /rulebooks/{id}
    compare.router,  # /compare
    monitoring.router,  # /monitoring, /monitoring/{MN}
    ledger.router,  # /ledger, /ledger/entries/{seq}
    open_data.router,  # /open-data, /open-data/files/{name}
]
