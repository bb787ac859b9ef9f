"""The legality lint: what makes a well-formed rulebook lawful (DESIGN principles 1, 2, 4, 5).

It runs over a parsed `Rulebook` and the `Catalogue` its treatments select from and
returns every problem it finds, each naming the place in the file (``measures[1]``) and
the item, so an author can fix them all in one pass.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from trustledger.catalogue import Catalogue, Category
from trustledger.domain import Polarity, SubjectKind, Tier
from trustledger.legality import (
    LegalBasis,
    legal_basis_problems,
    prohibited_ground_problems,
    text_fields,
)
from trustledger.rulebook.condition import (
    Aggregate,
    Arith,
    BoolLit,
    Compare,
    Condition,
    Expr,
    InList,
    Logic,
    Name,
    Neg,
    Not,
    TextLit,
    render,
)
from trustledger.rulebook.durations import Duration
from trustledger.rulebook.national import NationalList, cites_law, load_national_list
from trustledger.rulebook.schema import (
    BandedScore,
    ComplianceDef,
    GradesScore,
    ListDef,
    MeasureDef,
    MonitoringDef,
    Rulebook,
    Selection,
    Treatment,
    compare_durations,
)
from trustledger.rulebook.timeline import time_problems

__all__ = [
    "TIER_BOUNDS",
    "CountedCategories",
    "Problem",
    "counted_categories",
    "lint_rulebook",
    "selected_categories",
]

Loc = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class Problem:
    """One lint finding: where it is in the file, and what is wrong."""

    loc: Loc
    message: str

    @property
    def path(self) -> str:
        text = ""
        for part in self.loc:
            text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
        return text or "(top level)"

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


# Guobanfa [2025] No. 22 and NDRC Order No. 36 (from 2026-04-01, replacing Order No. 58,
# which had the same tiers): publicity of administrative-penalty information by tier, as
# (minimum, maximum); minor has no minimum ("in principle not published, at most 3 months").
TIER_BOUNDS: dict[Tier, tuple[Duration | None, Duration]] = {
    Tier.MINOR: (None, Duration(3, "m")),
    Tier.GENERAL: (Duration(3, "m"), Duration(1, "y")),
    Tier.SERIOUS: (Duration(1, "y"), Duration(3, "y")),
}


def _spoken(duration: Duration) -> str:
    unit = {"d": "day", "m": "month", "y": "year"}[duration.unit]
    return f"{duration.count} {unit}" + ("s" if duration.count != 1 else "")


def selected_categories(selection: Selection, catalogue: Catalogue) -> list[Category]:
    """Catalogue categories a treatment's selection matches (all criteria must hold)."""
    codes = set(selection.codes) if selection.codes is not None else None
    return [
        category
        for category in catalogue
        if (codes is None or category.code in codes)
        and (selection.domain is None or category.domain is selection.domain)
        and (selection.tier is None or category.default_tier is selection.tier)
    ]


def _legality(
    loc: Loc,
    item: str,
    legal_basis: Sequence[LegalBasis] | None,
    fields: Mapping[str, str | Iterable[str] | None],
    grounds: Iterable[str] = (),
) -> list[Problem]:
    messages = legal_basis_problems(item, legal_basis) + prohibited_ground_problems(
        item, fields, list(grounds)
    )
    return [Problem(loc, message) for message in messages]


# ── Publicity ───────────────────────────────────────────────────────────────────────────


def _publicity_problems(
    loc: Loc, item: str, treatment: Treatment, categories: list[Category]
) -> list[Problem]:
    if treatment.publicity_override is not None:
        if treatment.publicity.max is None and not treatment.publicity_override.article:
            # "no fixed term" is read out of a provision: the reader must be able to find it
            return [
                Problem(
                    (*loc, "publicity_override"),
                    f"{item}: publicity max null (no fixed term) needs the article of the "
                    "law that gives no term in publicity_override",
                )
            ]
        return []
    # The tier bounds protect the subject of an adverse record; a positive record (an
    # honour, an A grade) harms no one by staying public, so only negative ones are held
    # to them.
    tiers: dict[Tier, list[str]] = {}
    for category in categories:
        if category.polarity is Polarity.NEGATIVE:
            tiers.setdefault(treatment.tier or category.default_tier, []).append(category.code)
    problems: list[Problem] = []
    publicity = treatment.publicity
    for tier, codes in tiers.items():
        floor, ceiling = TIER_BOUNDS[tier]
        whose = (
            f"{tier} records (tier override)"
            if treatment.tier
            else f"{tier} records (default tier of {', '.join(codes)})"
        )
        if publicity.max is not None and compare_durations(publicity.max, ceiling) > 0:
            problems.append(
                Problem(
                    (*loc, "publicity", "max"),
                    f"{item}: publicity max {publicity.max} exceeds the {_spoken(ceiling)} "
                    f"maximum for {whose} (NDRC Order No. 36); "
                    "cite publicity_override to go beyond it",
                )
            )
        if floor is not None and compare_durations(floor, publicity.min) > 0:
            problems.append(
                Problem(
                    (*loc, "publicity", "min"),
                    f"{item}: publicity min {publicity.min} is under the {_spoken(floor)} "
                    f"minimum for {whose} (NDRC Order No. 36); "
                    "cite publicity_override to go below it",
                )
            )
    return problems


def _treatment_problems(rulebook: Rulebook, catalogue: Catalogue) -> list[Problem]:
    problems: list[Problem] = []
    for index, treatment in enumerate(rulebook.treatments):
        loc: Loc = ("treatments", index)
        item = f"treatment ({treatment.select.describe()})"
        problems += _legality(loc, item, treatment.legal_basis, text_fields(treatment))
        selection = treatment.select
        if selection.codes is not None:
            unknown = [code for code in selection.codes if code not in catalogue]
            if unknown:
                problems.append(
                    Problem(
                        (*loc, "select", "codes"),
                        f"{item}: unknown category code(s) {', '.join(unknown)} "
                        f"(not in catalogue {catalogue.id})",
                    )
                )
        categories = selected_categories(selection, catalogue)
        if not categories:
            problems.append(
                Problem((*loc, "select"), f"{item}: selects no category of {catalogue.id}")
            )
        problems += _publicity_problems(loc, item, treatment, categories)
    return problems


# ── What a condition counts ─────────────────────────────────────────────────────────────
#
# The persons rule needs the categories a condition's aggregates can count: a walk over the
# parsed tree that follows category, domain and tier restrictions through `and`/`or`.
# Anything it does not recognise (`not`, `!=`, polarity, age…) counts as "no restriction",
# the safe side.

# None means "no restriction": every category the rulebook counts.
Restriction = frozenset[str] | None


@dataclass
class CountedCategories:
    """What a condition counts: the categories its aggregates can see."""

    codes: set[str] = field(default_factory=set)
    unrestricted: list[str] = field(default_factory=list)  # unrestricted aggregates, rendered
    counts_records: bool = False
    named_codes: list[str] = field(default_factory=list)  # literals compared with `category`


def _text_values(nodes: Iterable[Expr]) -> list[str] | None:
    values = [node.value for node in nodes if isinstance(node, TextLit)]
    return values if all(isinstance(node, TextLit) for node in nodes) else None


class _Analyser:
    def __init__(self, universe: Mapping[str, Tier], catalogue: Catalogue) -> None:
        self.universe = universe
        self.catalogue = catalogue
        self.found = CountedCategories()

    def _named(self, name: str, values: list[str]) -> Restriction:
        if name == "category":
            self.found.named_codes += values
            return frozenset(values)
        if name == "domain":
            return frozenset(
                code
                for code in self.universe
                if (category := self.catalogue.get(code)) and category.domain.value in values
            )
        if name == "tier":
            return frozenset(code for code, tier in self.universe.items() if tier in values)
        return None

    def restriction(self, node: Expr) -> Restriction:
        """Categories a record must have to satisfy filter `node`."""
        match node:
            case Logic(op="or"):
                left, right = self.restriction(node.left), self.restriction(node.right)
                return None if left is None or right is None else left | right
            case Logic(op="and"):
                left, right = self.restriction(node.left), self.restriction(node.right)
                if left is None or right is None:
                    return right if left is None else left
                return left & right
            case BoolLit(value=False):
                return frozenset()
            case Compare(op="=="):
                for name, value in ((node.left, node.right), (node.right, node.left)):
                    if isinstance(name, Name) and isinstance(value, TextLit):
                        return self._named(name.name, [value.value])
                return None
            case InList(negated=False) if isinstance(node.operand, Name):
                values = _text_values(node.values)
                return None if values is None else self._named(node.operand.name, values)
            case Not():
                self.restriction(node.operand)  # for the category codes it names
                return None
            case _:
                return None

    def scan(self, node: Expr, score_codes: Restriction) -> None:
        """Find aggregates (and `score`/`grade`) anywhere in a condition."""
        match node:
            case Aggregate():
                restriction = None if node.filter is None else self.restriction(node.filter)
                self._count(restriction, render(node))
            case Name(name="score" | "grade"):
                self._count(score_codes, node.name)
            case Not() | Neg():
                self.scan(node.operand, score_codes)
            case Logic() | Compare() | Arith():
                self.scan(node.left, score_codes)
                self.scan(node.right, score_codes)
            case InList():
                self.scan(node.operand, score_codes)
            case _:
                pass

    def _count(self, restriction: Restriction, text: str) -> None:
        self.found.counts_records = True
        if restriction is None:
            self.found.unrestricted.append(text)
        else:
            self.found.codes |= restriction


def _countable(rulebook: Rulebook, catalogue: Catalogue) -> dict[str, Tier]:
    """Categories this rulebook counts, with the tier their records carry under it.

    A record counts only through a treatment (it gives the publicity period), and the
    first matching treatment wins, so its tier override is the one that applies.
    """
    tiers: dict[str, Tier] = {}
    for treatment in rulebook.treatments:
        for category in selected_categories(treatment.select, catalogue):
            tiers.setdefault(category.code, treatment.tier or category.default_tier)
    return tiers


def _score_codes(rulebook: Rulebook, catalogue: Catalogue) -> Restriction:
    """Categories a subject's score or grade depends on; None if not confined to any."""
    universe = _countable(rulebook, catalogue)
    score = rulebook.score
    if isinstance(score, BandedScore):
        scored: set[str] = set()
        for treatment in rulebook.treatments:
            if treatment.points:
                scored |= {c.code for c in selected_categories(treatment.select, catalogue)}
        return frozenset(scored & set(universe))
    if isinstance(score, GradesScore):
        analyser = _Analyser(universe, catalogue)
        for rule in score.rules:
            analyser.scan(rule.when.tree.root, frozenset())
        return None if analyser.found.unrestricted else frozenset(analyser.found.codes)
    return frozenset()  # form none: score 0 and grade "" whatever the records


def counted_categories(
    condition: Condition, rulebook: Rulebook, catalogue: Catalogue
) -> CountedCategories:
    """The categories a condition of `rulebook` can count (see `CountedCategories`)."""
    analyser = _Analyser(_countable(rulebook, catalogue), catalogue)
    analyser.scan(condition.root, _score_codes(rulebook, catalogue))
    return analyser.found


# ── Lists and measures ──────────────────────────────────────────────────────────────────


def _unknown_codes(
    loc: Loc, item: str, condition: Condition, catalogue: Catalogue
) -> list[Problem]:
    analyser = _Analyser({}, catalogue)
    analyser.scan(condition.root, frozenset())
    unknown = sorted({code for code in analyser.found.named_codes if code not in catalogue})
    if not unknown:
        return []
    return [
        Problem(
            loc,
            f"{item}: condition names unknown category code(s) {', '.join(unknown)} "
            f"(not in catalogue {catalogue.id})",
        )
    ]


def _list_problems(rulebook: Rulebook, catalogue: Catalogue) -> list[Problem]:
    problems: list[Problem] = []
    for index, item in enumerate(rulebook.lists):
        loc: Loc = ("lists", index)
        label = f"list {item.id}"
        problems += _legality(
            loc,
            label,
            item.legal_basis,
            text_fields(item),
            item.grounds,
        )
        problems += _unknown_codes((*loc, "when"), label, item.when.tree, catalogue)
        problems += _time_problems((*loc, "when"), label, item.when.tree)
        problems += _trigger_problems(loc, label, item, catalogue)
    if isinstance(rulebook.score, GradesScore):
        for index, rule in enumerate(rulebook.score.rules):
            loc = ("score", "rules", index)
            label = f"grade rule {rule.grade}"
            messages = prohibited_ground_problems(label, text_fields(rule))
            problems += [Problem(loc, message) for message in messages]
            problems += _unknown_codes((*loc, "when"), label, rule.when.tree, catalogue)
            problems += _time_problems((*loc, "when"), label, rule.when.tree)
    return problems


def _trigger_problems(loc: Loc, label: str, item: ListDef, catalogue: Catalogue) -> list[Problem]:
    """Removal triggers govern categories the list counts, and say which law sets them:
    an intake refuses an `end` whose reason they do not list, so they must be right."""
    triggers = item.removal_triggers
    if triggers is None:
        return []
    where: Loc = (*loc, "removal_triggers")
    analyser = _Analyser({}, catalogue)
    analyser.scan(item.when.tree.root, frozenset())
    counted = analyser.found.named_codes
    problems = []
    unknown = [code for code in triggers.categories if code not in catalogue]
    if unknown:
        problems.append(
            Problem((*where, "categories"), f"{label}: removal_triggers name unknown category "
                    f"code(s) {', '.join(unknown)} (not in catalogue {catalogue.id})")
        )  # fmt: skip
    uncounted = [c for c in triggers.categories if c in catalogue and c not in counted]
    if uncounted:
        problems.append(
            Problem((*where, "categories"), f"{label}: removal_triggers name "
                    f"{', '.join(uncounted)}, which the list's condition does not count")
        )  # fmt: skip
    if not any(basis.article for basis in triggers.legal_basis):
        problems.append(
            Problem((*where, "legal_basis"), f"{label}: removal_triggers need the article of "
                    "law that sets them in their legal_basis")
        )  # fmt: skip
    return problems


def _time_problems(loc: Loc, label: str, condition: Condition) -> list[Problem]:
    # standing is stored as exact intervals: every day a time term turns must be known
    return [Problem(loc, f"{label}: {message}") for message in time_problems(condition.root)]


def _person_measure_problems(
    index: int, measure: MeasureDef, listed: ListDef, rulebook: Rulebook, catalogue: Catalogue
) -> list[Problem]:
    # Principle 1: a person is listed, and restricted, only on the strength of final court
    # judgments or administrative penalties about that person: never on a count of "any
    # record", which would take in categories (monitoring, enterprise filings) that say
    # nothing about a person, and never on a condition that counts no record at all.
    loc: Loc = ("measures", index, "subject_kinds")
    label = f"measure {measure.id}"
    found = counted_categories(listed.when.tree, rulebook, catalogue)
    why = (
        "a measure on persons may only follow from a list whose condition counts records "
        "of categories that concern persons (court judgments or administrative penalties)"
    )
    problems: list[Problem] = []
    if found.unrestricted:
        problems.append(
            Problem(
                loc,
                f"{label}: applies to person, but list {listed.id} counts records without "
                f"restricting their category, domain or tier ({'; '.join(found.unrestricted)})"
                f"; {why}",
            )
        )
    elif not found.counts_records or not found.codes:
        problems.append(
            Problem(
                loc,
                f"{label}: applies to person, but the condition of list {listed.id} counts "
                f"no record; {why}",
            )
        )
    not_persons = sorted(
        code
        for code in found.codes
        if (category := catalogue.get(code)) is not None
        and SubjectKind.PERSON not in category.subject_kinds
    )
    if not_persons:
        problems.append(
            Problem(
                loc,
                f"{label}: applies to person, but list {listed.id} counts categories that do "
                f"not concern persons ({', '.join(not_persons)}); {why}",
            )
        )
    return problems


def _national_list_problems(
    index: int, measure: MeasureDef, national: NationalList
) -> list[Problem]:
    """Guobanfa [2020] No. 49: no dishonesty sanction beyond law. A restriction's actions
    must each be covered by the national basic list of dishonesty sanction measures, or the
    measure must cite a law (an act of the NPC, with its article) that provides it.
    Incentives are not sanctions and are not held to the list."""
    if measure.kind != "restriction" or cites_law(measure.legal_basis):
        return []
    return [
        Problem(
            ("measures", index, "actions", position),
            f"measure {measure.id}: action {action} is not on {national.source.describe()} "
            "and the measure cites no law that provides it (Guobanfa [2020] No. 49 forbids "
            "sanctions beyond law); cite the law and its article in legal_basis, or drop "
            "the action",
        )
        for position, action in enumerate(measure.actions)
        if not national.covers(action)
    ]


def _measure_problems(
    rulebook: Rulebook, catalogue: Catalogue, national: NationalList
) -> list[Problem]:
    problems: list[Problem] = []
    kinds = set(rulebook.subject_kinds)
    for index, measure in enumerate(rulebook.measures):
        loc: Loc = ("measures", index)
        label = f"measure {measure.id}"
        problems += _legality(
            loc,
            label,
            measure.legal_basis,
            text_fields(measure),
            measure.grounds,
        )
        listed = rulebook.list_by_id(measure.list)
        if listed is None:
            problems.append(Problem((*loc, "list"), f"{label}: list {measure.list} is not defined"))
        if measure.duration is None and not measure.until_removed:
            problems.append(
                Problem(
                    loc,
                    f"{label}: has no end; give a duration (e.g. 3y) or until_removed: true "
                    "(measures are bounded in time, principle 5)",
                )
            )
        if measure.until_removed and listed is not None and not listed.removal.strip():
            problems.append(
                Problem(
                    (*loc, "until_removed"),
                    f"{label}: lasts until removal from list {listed.id}, "
                    "which has no removal rule",
                )
            )
        outside = [kind.value for kind in measure.subject_kinds if kind not in kinds]
        if outside:
            problems.append(
                Problem(
                    (*loc, "subject_kinds"),
                    f"{label}: subject kind(s) {', '.join(outside)} not covered by the "
                    "rulebook's subject_kinds",
                )
            )
        if SubjectKind.PERSON in measure.subject_kinds and listed is not None:
            problems += _person_measure_problems(index, measure, listed, rulebook, catalogue)
        if measure.extends_to:
            problems += _extension_problems(loc, label, measure)
        problems += _national_list_problems(index, measure, national)
    return problems


def _extension_problems(loc: Loc, label: str, measure: MeasureDef) -> list[Problem]:
    """A measure reaches the persons an organisation's records name only as a restriction
    the law itself extends, on an organisation's listing, with the article cited."""
    where: Loc = (*loc, "extends_to")
    problems = []
    if measure.kind != "restriction":
        problems.append(Problem(where, f"{label}: only a restriction may extend to persons"))
    if not any(kind is not SubjectKind.PERSON for kind in measure.subject_kinds):
        problems.append(
            Problem(where, f"{label}: extends to the persons of an organisation, but applies "
                    "to no organisation kind")
        )  # fmt: skip
    if not any(basis.article for basis in measure.legal_basis):
        problems.append(
            Problem(where, f"{label}: extending a measure to persons needs the article of "
                    "law that does so in its legal_basis")
        )  # fmt: skip
    return problems


# a rulebook's parts with a check of their own: scanned there, each under its own name
_CHECKED_APART = (
    "grounds",
    "treatments",
    "score",
    "lists",
    "measures",
    "monitoring",
    "transitional",
)


def lint_rulebook(
    rulebook: Rulebook, catalogue: Catalogue, national: NationalList | None = None
) -> list[Problem]:
    """Every legality problem of `rulebook` against `catalogue` and the national list of
    sanction measures (the shipped one unless another is given); empty if it is lawful."""
    problems = _legality(
        (),
        f"rulebook {rulebook.id}",
        rulebook.legal_basis,
        text_fields(rulebook, skip=_CHECKED_APART),
        rulebook.grounds,
    )
    if not rulebook.sources:
        problems.append(Problem(("sources",), f"rulebook {rulebook.id}: no sources cited"))
    problems += _treatment_problems(rulebook, catalogue)
    problems += _list_problems(rulebook, catalogue)
    problems += _measure_problems(
        rulebook, catalogue, national if national is not None else load_national_list()
    )
    if rulebook.monitoring is not None:
        problems += _monitoring_problems(rulebook.monitoring, catalogue)
    if rulebook.transitional is not None:
        # judging a record by a repealed version's rules is the law's choice, never ours
        problems += _legality(
            ("transitional",),
            "transitional rule",
            rulebook.transitional.legal_basis,
            text_fields(rulebook.transitional),
        )
    return problems


def _monitoring_problems(monitoring: MonitoringDef, catalogue: Catalogue) -> list[Problem]:
    """Records from monitoring data rest on an automated category and cited law; each
    limit set cites the standard it comes from."""
    problems = _legality(
        ("monitoring",), "monitoring", monitoring.legal_basis, text_fields(monitoring), []
    )
    category = next((c for c in catalogue if c.code == monitoring.category), None)
    if category is None:
        problems.append(
            Problem(("monitoring", "category"),
                    f"monitoring: unknown category {monitoring.category}")
        )  # fmt: skip
    elif not category.automated:
        problems.append(
            Problem(("monitoring", "category"),
                    f"monitoring: category {category.code} is not an automated category "
                    "(records from monitoring data wait for a person's confirmation)")
        )  # fmt: skip
    elif category.measured:
        problems.append(
            Problem(("monitoring", "category"),
                    f"monitoring: category {category.code} is a measured category: "
                    "exceedance records must wait for a person's confirmation")
        )  # fmt: skip
    for index, limit_set in enumerate(monitoring.limit_sets):
        problems += _legality(
            ("monitoring", "limit_sets", index),
            f"limit set {limit_set.id}",
            limit_set.legal_basis,
            {"id": limit_set.id, "title": limit_set.title},
            [],
        )
    if monitoring.compliance is not None:
        problems += _compliance_problems(monitoring.compliance, catalogue)
    return problems


def _compliance_problems(compliance: ComplianceDef, catalogue: Catalogue) -> list[Problem]:
    """The compliance indicator cites its law; every band rests on a measured category."""
    loc: Loc = ("monitoring", "compliance")
    problems = _legality(loc, "monitoring compliance", compliance.legal_basis, {}, [])
    for index, band in enumerate(compliance.bands):
        category = catalogue.get(band.category)
        where = (*loc, "bands", index, "category")
        if category is None:
            problems.append(Problem(where, f"compliance band: unknown category {band.category}"))
        elif not category.measured:
            problems.append(
                Problem(where,
                        f"compliance band: category {band.category} is not a measured category "
                        "(a compliance rate is a measurement, not a finding of a violation)")
            )  # fmt: skip
    return problems
