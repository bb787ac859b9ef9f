"""The public search: one box for a name, a former name, a romanised name or a USCC.

A valid USCC goes straight to its organisation; anything else goes through name screening
(organisations only: persons are never in the screening index), each candidate shown with
its division and the lists it is on today. A fuzzy match is a lead to look at, never a
finding (DESIGN.md, Screening).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from trustledger.app.errors import BadInput
from trustledger.ids import check_uscc

if TYPE_CHECKING:
    from trustledger.app.context import Context

MAX_QUERY = 200


@dataclass(frozen=True)
class Hit:
    subject_id: str
    name: str
    matched_name: str
    name_form: str  # name, former_name or alias
    score: float
    division: str | None
    listed: list[tuple[str, str, str]] = field(default_factory=list)  # (rulebook, list, kind)


@dataclass(frozen=True)
class SearchResult:
    query: str
    exact: str | None  # a USCC the ledger knows: the page to go to
    hits: list[Hit]


def search(ctx: Context, query: str, *, limit: int = 20) -> SearchResult:
    from trustledger.app.queries import effective_listings
    from trustledger.app.screening import screen

    text = query.strip()
    if not text:
        raise BadInput("type a name or a USCC to search for")
    if len(text) > MAX_QUERY:
        raise BadInput(f"the search text is longer than {MAX_QUERY} characters")
    code = text.upper()
    if len(code) == 18 and check_uscc(code).valid:
        known = ctx.store.get_row("subjects", code) is not None
        return SearchResult(text, code if known else None, [])
    candidates = screen(ctx, text, limit=limit)
    rows = {}
    for c in candidates:
        row = ctx.store.get_row("subjects", c.subject_id)
        if row is not None and row.kind != "person":
            rows[c.subject_id] = row
    listed: dict[str, list[tuple[str, str, str]]] = {}
    for subject, rulebook, list_id, kind, *_ in effective_listings(
        ctx.store, list(rows), ctx.today().isoformat()
    ):
        listed.setdefault(subject, []).append((rulebook, list_id, kind))
    hits = [
        Hit(c.subject_id, rows[c.subject_id].name, c.matched_name, c.name_form, c.score,
            rows[c.subject_id].division, listed.get(c.subject_id, []))
        for c in candidates if c.subject_id in rows
    ]  # fmt: skip
    return SearchResult(text, None, hits)
