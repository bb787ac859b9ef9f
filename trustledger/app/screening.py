"""Name screening: ranked candidates for a name, each only ever a reason for review.

The gram index is persisted in the database (``screen_grams``, one row per gram and
organisation) and brought up to date from the subjects changed since it was last built, so
one lookup reads the rows of the query's grams and the shortlisted subjects, not the whole
register. The shortlisted subjects are then scored by the same ``ScreeningIndex`` that
scores an in-memory register: the features and weights are the same either way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from trustledger.app import queries
from trustledger.app.errors import BadInput

if TYPE_CHECKING:
    from trustledger.app.context import Context
    from trustledger.sanctions.screening import Candidate

# as in ScreeningIndex: a gram in more subjects than this selects nothing
GRAM_CAP = 10_000
# subjects (by gram hits) handed to the scorer
SHORTLIST = 300


def update_index(ctx: Context) -> int:
    """Index the organisations registered or changed since the last update; how many."""
    from trustledger.ledger.projection import SubjectRow
    from trustledger.sanctions.screening import subject_grams

    store = ctx.store
    queries.screen_tables(store)
    indexed_to = queries.screen_indexed_seq(store)
    size = store.size()
    if indexed_to >= size:
        return 0
    changed = [SubjectRow._make(r) for r in queries.subjects_changed_since(store, indexed_to)]
    return queries.replace_screen_grams(
        store, ((row.id, subject_grams(row)) for row in changed), size
    )


def screen(
    ctx: Context,
    name: str,
    *,
    region: str | None = None,
    address: str | None = None,
    limit: int = 10,
) -> list[Candidate]:
    from trustledger.ledger.projection import SubjectRow
    from trustledger.sanctions.screening import ScreeningIndex, query_grams

    if not name.strip():
        raise BadInput("give a name to screen")
    if limit < 1:
        raise BadInput("--limit must be at least 1")
    if region is not None and not (region.isdigit() and len(region) in (2, 4, 6)):
        raise BadInput(f"--region {region!r} is not a division code of 2, 4 or 6 digits")
    update_index(ctx)
    hits = queries.gram_hits(ctx.store, sorted(query_grams(name)), GRAM_CAP)
    shortlist = sorted(hits, key=lambda sid: (-hits[sid], sid))[:SHORTLIST]
    rows = [SubjectRow._make(r) for r in queries.subjects_by_id(ctx.store, shortlist)]
    # every name form of the shortlisted subjects is scored
    index = ScreeningIndex.build(rows, gram_cap=GRAM_CAP, shortlist=10 * SHORTLIST)
    return index.screen(name, region=region, address=address, limit=limit)
