"""What the home page shows of the whole register: how many organisations and records,
the ledger's size, and what each list holds today. Counted once per ledger head."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from trustledger.app.context import Context
    from trustledger.app.lists import Listing, PublishedList


@dataclass(frozen=True)
class Overview:
    organisations: int
    records: int
    ledger_size: int
    ledger_root: str
    lists: list[PublishedList]
    latest: list[Listing]


_CACHE: dict[tuple[object, ...], Overview] = {}


def overview(ctx: Context, state_version: tuple[object, ...] | None = None) -> Overview:
    """The register's figures, recounted only when the ledger, the state or the day
    changed. ``state_version``: the state's signature as the caller last read it (a
    server's check service reads it once a second); None: read it now."""
    from trustledger.app.ledger import head as ledger_head
    from trustledger.app.lists import latest_listings, published_lists
    from trustledger.evaluate.queries import organisation_counts, state_signature

    head = ledger_head(ctx)
    # the state changes without a ledger entry when an evaluation is written: its
    # signature is part of the key
    version = state_signature(ctx.store) if state_version is None else state_version
    key = (id(ctx.store), head.size, *version, ctx.today().isoformat())
    found = _CACHE.get(key)
    if found is None:
        organisations, records = organisation_counts(ctx.store)
        found = Overview(organisations, records, head.size, head.root.hex(),
                         published_lists(ctx, state_version=version),
                         latest_listings(ctx, 10))  # fmt: skip
        _CACHE.clear()
        _CACHE[key] = found
    return found
