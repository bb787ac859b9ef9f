"""Several rulebooks on the same subjects: what each lists and grades, and how far they agree.

A policy analyst's question: run the regimes side by side on the same records. Each
rulebook's verdicts come from the same SQL evaluation as the state tables; agreement is
measured on the subjects both rulebooks cover, on the question both can answer — is the
subject on any black list?
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from itertools import combinations

import duckdb

from trustledger.catalogue import Catalogue
from trustledger.evaluate.batch import load_inputs, sql_outcomes
from trustledger.evaluate.profile import compile_rulebook
from trustledger.evaluate.state import subjects_and_records_as_of
from trustledger.ledger.store import Store
from trustledger.rulebook.publish import published_rulebooks


@dataclass
class RulebookFigures:
    rulebook: str
    subjects: int
    blacklisted: int
    redlisted: int
    grades: dict[str, int] = field(default_factory=dict)


@dataclass
class Agreement:
    left: str
    right: str
    common_subjects: int
    agree: float  # share of common subjects on which both say the same (black-listed or not)
    jaccard: float  # black-listed by both / black-listed by either (1.0 when neither lists any)


@dataclass
class Comparison:
    figures: list[RulebookFigures]
    agreements: list[Agreement]
    # on a red list of one rulebook and a black list of another (or the same) on the day:
    # the conflict rule withholds their incentives; an analyst wants to see who they are
    red_and_black: list[str] = field(default_factory=list)


class UnknownRulebooks(LookupError):
    pass


def compare(
    store: Store, catalogue: Catalogue, rulebook_ids: list[str], *, at_us: int | None, on: date
) -> Comparison:
    published = published_rulebooks(store, at_us)
    missing = [r for r in rulebook_ids if r not in published]
    if missing:
        known = ", ".join(sorted(published)) or "none"
        raise UnknownRulebooks(f"not published then: {', '.join(missing)} (published: {known})")
    subjects, records, _ = subjects_and_records_as_of(store, at_us)
    con = duckdb.connect()
    load_inputs(con, subjects, records)
    figures: list[RulebookFigures] = []
    all_red: set[str] = set()
    black: dict[str, set[str]] = {}
    covered: dict[str, set[str]] = {}
    for rid in rulebook_ids:
        cr = compile_rulebook(published[rid], catalogue)
        kinds = {spec.id: spec.kind for spec in cr.rulebook.lists}
        outcomes = sql_outcomes(con, cr, on)
        covered[rid] = {o.subject_id for o in outcomes}
        black[rid] = {o.subject_id for o in outcomes if any(kinds[x] == "black" for x in o.lists)}
        red = {o.subject_id for o in outcomes if any(kinds[x] == "red" for x in o.lists)}
        all_red |= red
        grades = Counter(o.grade for o in outcomes if o.grade)
        figures.append(RulebookFigures(cr.ref, len(outcomes), len(black[rid]), len(red),
                                       dict(sorted(grades.items()))))  # fmt: skip
    agreements = []
    for left, right in combinations(rulebook_ids, 2):
        common = covered[left] & covered[right]
        lb, rb = black[left] & common, black[right] & common
        same = len(common) - len(lb ^ rb)
        either = lb | rb
        agreements.append(Agreement(
            left, right, len(common),
            round(same / len(common), 4) if common else 1.0,
            round(len(lb & rb) / len(either), 4) if either else 1.0,
        ))  # fmt: skip
    all_black = set().union(*black.values())
    return Comparison(figures, agreements, sorted(all_red & all_black))
