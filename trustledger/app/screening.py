"""Name screening: ranked candidates for a name, each only ever a reason for review.

The gram index is persisted in the database (``screen_grams``, one row per gram and
organisation) and brought up to date from the subjects changed since it was last built, so
one lookup reads the rows of the query's grams and the shortlisted subjects, not the whole
register. The shortlisted subjects are then scored by the same ``ScreeningIndex`` that
scores an in-memory register: the features and weights are the same either way.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from trustledger.app import queries
from trustledger.app.errors import BadInput, NotFound

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


# --- screening as people read it: who each candidate is and whether it is listed -------
# Whether it is listed is the state's answer about that subject, not about the name: the
# outcome stays "review" whatever the lists say, since the candidate may not be the one named.
LISTED = "listed"
NOT_LISTED = "not listed"
NOT_EVALUATED = "not evaluated"  # no live evaluation, or one older than its entries


@dataclass(frozen=True)
class Listing:
    rulebook: str  # id@version
    rulebook_title: str
    list_id: str
    list_title: str
    kind: str  # black, red
    since: str  # the run: from the day its condition held …
    until: str | None  # … to the day it ends by itself (None: no end date)
    effective_from: str  # after the notice period: from this day it is listed in effect


@dataclass(frozen=True)
class ScreenedCandidate:
    candidate: Candidate
    name: str  # the register's current name (the match may be a former name or an alias)
    division: str | None
    division_names: list[str]
    registering_authority: str | None
    standing: str  # LISTED, NOT_LISTED or NOT_EVALUATED, on ``Screening.on``
    listed: list[Listing] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The candidate's fields as `screen` has always given them, then who it is and
        its effective listings."""
        return {**asdict(self.candidate), "name": self.name, "division": self.division,
                "division_names": self.division_names,
                "registering_authority": self.registering_authority,
                "standing": self.standing,
                "listed": [asdict(m) for m in self.listed]}  # fmt: skip


@dataclass(frozen=True)
class Screening:
    on: str  # the day the listings are judged on (today, on the configured calendar)
    candidates: list[ScreenedCandidate]
    # feature → (weight, what it means): said once, not per candidate
    features: dict[str, tuple[float, str]]

    def to_json(self) -> list[dict[str, Any]]:
        return [c.to_json() for c in self.candidates]


def screen_file(
    ctx: Context,
    name: str,
    *,
    region: str | None = None,
    address: str | None = None,
    limit: int = 10,
) -> Screening:
    """`screen`, each candidate with its register identity and the lists it is on today
    in the live state (effective listings only: a pending one denies nothing)."""
    from trustledger.app.entities import identity_of
    from trustledger.evaluate.queries import latest_positions
    from trustledger.sanctions.screening import FEATURE_DESCRIPTIONS, WEIGHTS

    candidates = screen(ctx, name, region=region, address=address, limit=limit)
    ids = [c.subject_id for c in candidates]
    on = ctx.today().isoformat()
    listings: dict[str, list[tuple[str, str, str, str, str | None, str]]] = {}
    for row in queries.effective_listings(ctx.store, ids, on):
        listings.setdefault(row[0], []).append(row[1:])
    evaluated = queries.evaluated_positions(ctx.store, ids)
    latest = latest_positions(ctx.store, ids)
    titles = _list_titles(ctx) if listings else {}
    out: list[ScreenedCandidate] = []
    for c in candidates:
        try:
            identity = identity_of(ctx, c.subject_id)
        except NotFound:
            continue  # gone from the register since the index was read: nothing to show
        # as the check decides it: an evaluation older than the subject's newest entry
        # answers nothing, so neither "listed" nor "not listed" would be true
        current = latest.get(c.subject_id, -1) < evaluated.get(c.subject_id, -1)
        runs: list[Listing] = []
        for rulebook, list_id, kind, since, until, effective in (
            listings.get(c.subject_id, []) if current else []
        ):
            rulebook_title, list_title = titles.get((rulebook, list_id), (rulebook, list_id))
            runs.append(Listing(rulebook, rulebook_title, list_id, list_title, kind, since,
                                until, effective))  # fmt: skip
        standing = NOT_EVALUATED if not current else LISTED if runs else NOT_LISTED
        out.append(ScreenedCandidate(
            c, identity.name, identity.division, identity.division_names,
            identity.registering_authority, standing, runs,
        ))  # fmt: skip
    features = {k: (WEIGHTS[k], FEATURE_DESCRIPTIONS[k]) for k in WEIGHTS}
    return Screening(on, out, features)


def _list_titles(ctx: Context) -> dict[tuple[str, str], tuple[str, str]]:
    """(rulebook id@version, list id) → (rulebook title, list title), of the published
    rulebooks (the live state is evaluated under the latest versions)."""
    from trustledger.app.rulebooks import published

    return {(f"{rid}@{rb.version}", lst.id): (rb.title, lst.title)
            for rid, rb in published(ctx).items() for lst in rb.lists}  # fmt: skip
