"""One subject under one rulebook on one day: the Python evaluation engine.

The profile holds every record with its standing and points, the score and grade, the
lists the subject is on (with the records that put it there, since when, and until when
if nothing new happens), the measures in force with their end dates, and a plain
explanation of each. Batch evaluation in SQL must agree with it.

Listings are exact intervals `[since, until)`: the list condition is evaluated on every
day the subject's standing can change — a publication, an end or revocation, a publicity
period running out, and the days time alone turns a condition (a `within` window closing,
an `age` or `days_since` threshold reached; rulebook/timeline.py) — and between two such
days nothing changes. The state stores every run, past and future as known now.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, NamedTuple

from trustledger.catalogue import Catalogue, Category
from trustledger.evaluate.inforce import Standing, publicity_ends, standing_until
from trustledger.ledger.projection import HoldRow, ObjectionRow, RecordRow, SubjectRow
from trustledger.rulebook.condition import Aggregate, aggregates, names, render
from trustledger.rulebook.durations import Duration
from trustledger.rulebook.lint import selected_categories
from trustledger.rulebook.pyeval import (
    Evaluator,
    RecordFacts,
    SubjectFacts,
    compile_condition,
    compile_matcher,
)
from trustledger.rulebook.schema import (
    BandedScore,
    GradesScore,
    ListDef,
    MeasureDef,
    NoScore,
    PublicityClock,
    Rulebook,
    Treatment,
)
from trustledger.rulebook.timeline import TimeUse, time_use

Matcher = Callable[[Sequence[RecordFacts], date], list[int]]
_TERMINAL = frozenset({"ended", "revoked", "repaired"})


@dataclass(frozen=True)
class _CompiledList:
    spec: ListDef
    holds: Evaluator
    matchers: list[tuple[Aggregate, Matcher]]
    # a list on `score` or `grade` rests on the records behind the score or grade
    reads_score: bool
    rendered: str  # the condition in canonical form, for explanations


@dataclass(frozen=True)
class _GradeRule:
    grade: str
    holds: Evaluator
    text: str
    matchers: list[Matcher]


class PublicityWindow(NamedTuple):
    """How long the records of one category decided in ``[decided_from, decided_until)``
    (None: unbounded) count: ``max`` (None: no fixed term) from the decision or the
    publication (``clock``), repair allowed after ``min`` from the same day. One window per
    category, unless a transitional rule keeps records decided under an earlier version on
    that version's window (``ref``)."""

    decided_from: date | None
    decided_until: date | None
    min: Duration
    max: Duration | None
    clock: PublicityClock
    ref: str


@dataclass(frozen=True)
class CompiledRulebook:
    """A rulebook ready to evaluate: treatments resolved per category, conditions compiled."""

    rulebook: Rulebook
    categories: dict[str, Category]
    treatment_of: dict[str, Treatment]
    lists: list[_CompiledList]
    grade_rules: list[_GradeRule]
    # the windows, ages and days_since the conditions read: the days time alone turns them
    time_use: TimeUse
    # category → its publicity windows by decision date, oldest first, covering every day
    windows: dict[str, tuple[PublicityWindow, ...]] = field(default_factory=dict)

    @property
    def ref(self) -> str:
        return f"{self.rulebook.id}@{self.rulebook.version}"

    def window_of(self, record: RecordRow) -> PublicityWindow | None:
        """The publicity window the record is judged by (None: its category is not
        treated here)."""
        windows = self.windows.get(record.category)
        if not windows:
            return None
        decided = date.fromisoformat(record.decision_date)
        for window in windows:
            if window.decided_until is None or decided < window.decided_until:
                return window
        return windows[-1]

    def repair_from(self, record: RecordRow) -> date | None:
        """The first day repair may be applied for under this rulebook: the publicity
        minimum after the day the window counts from (None: not treated here)."""
        window = self.window_of(record)
        if window is None:
            return None
        start = record.decision_date if window.clock == "decision" else record.publication_date
        return window.min.after(date.fromisoformat(start))

    def publicity_end(self, record: RecordRow) -> date | None:
        """The first day the record no longer counts by itself (None: no fixed term)."""
        window = self.window_of(record)
        return None if window is None else publicity_ends(record, window.max, window.clock)


def compile_rulebook(
    rulebook: Rulebook, catalogue: Catalogue, earlier: Sequence[Rulebook] = ()
) -> CompiledRulebook:
    """Compile once; a published version and a catalogue never change, so it is cached.

    ``earlier``: the regime's versions before this one (``publish.regime_versions``), read
    only when this version's transitional rule keeps earlier decisions on their windows."""
    keep = rulebook.transitional is not None and (
        rulebook.transitional.earlier_decisions_keep_prior_publicity
    )
    start = rulebook.effective.from_
    prior = tuple(v for v in earlier if v.effective.from_ < start) if keep else ()
    key = (id(rulebook), id(catalogue), *(id(v) for v in prior))
    cached = _COMPILED.get(key)
    if (
        cached is None
        or cached[0] is not rulebook
        or cached[1] is not catalogue
        or any(a is not b for a, b in zip(cached[2], prior, strict=True))
    ):
        cached = (rulebook, catalogue, prior, _compile_rulebook(rulebook, catalogue, prior))
        if len(_COMPILED) > 64:
            _COMPILED.clear()
        _COMPILED[key] = cached
    return cached[3]


_COMPILED: dict[
    tuple[int, ...], tuple[Rulebook, Catalogue, tuple[Rulebook, ...], CompiledRulebook]
] = {}


def _treatments_of(rulebook: Rulebook, catalogue: Catalogue) -> dict[str, Treatment]:
    treatment_of: dict[str, Treatment] = {}
    for treatment in rulebook.treatments:  # the first matching treatment wins
        for category in selected_categories(treatment.select, catalogue):
            treatment_of.setdefault(category.code, treatment)
    return treatment_of


def _windows(
    rulebook: Rulebook,
    treatment_of: dict[str, Treatment],
    catalogue: Catalogue,
    prior: Sequence[Rulebook],
) -> dict[str, tuple[PublicityWindow, ...]]:
    """Each treated category's windows: this version's own for records decided from its
    start (or always, without a transitional rule), and before it, for each earlier
    version's span of decision days, that version's window for the category — this
    version's where the earlier one did not treat it. The first earlier version also
    judges records decided before it began, as `version_on` does."""
    ref = f"{rulebook.id}@{rulebook.version}"
    spans = [(v, v.effective.from_) for v in sorted(prior, key=lambda v: v.effective.from_)]
    earlier = [(v, _treatments_of(v, catalogue)) for v, _ in spans]
    out: dict[str, tuple[PublicityWindow, ...]] = {}
    for code, treatment in treatment_of.items():
        own = (treatment.publicity.min, treatment.publicity.max, rulebook.clock_of(treatment), ref)
        windows: list[PublicityWindow] = []
        starts: list[date | None] = [None, *(start for _, start in spans[1:])][: len(spans)]
        ends = [*(start for _, start in spans[1:]), rulebook.effective.from_][: len(spans)]
        for (version, treated), start, end in zip(earlier, starts, ends, strict=True):
            then = treated.get(code)
            kept = (
                own
                if then is None
                else (then.publicity.min, then.publicity.max, version.clock_of(then),
                      f"{version.id}@{version.version}")
            )  # fmt: skip
            windows.append(PublicityWindow(start, end, *kept))
        windows.append(PublicityWindow(rulebook.effective.from_ if spans else None, None, *own))
        out[code] = tuple(windows)
    return out


def _compile_rulebook(
    rulebook: Rulebook, catalogue: Catalogue, prior: Sequence[Rulebook] = ()
) -> CompiledRulebook:
    treatment_of = _treatments_of(rulebook, catalogue)
    lists = [
        _CompiledList(
            spec,
            compile_condition(spec.when.tree),
            [(agg, compile_matcher(agg)) for agg in aggregates(spec.when.tree)],
            bool(names(spec.when.tree) & {"score", "grade"}),
            render(spec.when.tree),
        )
        for spec in rulebook.lists
    ]
    grade_rules: list[_GradeRule] = []
    if isinstance(rulebook.score, GradesScore):
        grade_rules = [
            _GradeRule(
                rule.grade,
                compile_condition(rule.when.tree),
                rule.when.text,
                [compile_matcher(agg) for agg in aggregates(rule.when.tree)],
            )
            for rule in rulebook.score.rules
        ]
    trees = [spec.when.tree.root for spec in rulebook.lists]
    if isinstance(rulebook.score, GradesScore):
        trees += [rule.when.tree.root for rule in rulebook.score.rules]
    return CompiledRulebook(
        rulebook,
        {c.code: c for c in catalogue},
        treatment_of,
        lists,
        grade_rules,
        time_use(trees),
        _windows(rulebook, treatment_of, catalogue, prior),
    )


class RecordView(NamedTuple):
    """One record as this rulebook sees it (a tuple: a profile may list many)."""

    record_id: str
    category: str
    tier: str
    points: int
    standing: str  # a Standing value, or "not covered by this rulebook"
    published: str
    publicity_ends: str | None
    counted: bool
    # an open objection to the record, as known at the evaluation instant (its id)
    under_objection: str | None = None
    # an ended record whose category the rulebook gives removal triggers: the trigger (the
    # end's reason) and the last day the deleting authority has (its `within`)
    removal_trigger: str | None = None
    delete_by: str | None = None


@dataclass(frozen=True)
class ListMembership:
    list_id: str
    kind: str
    title: str
    since: str
    until: str | None  # the day it ends by itself if nothing new happens; None: no such day
    records: list[str]
    condition: str
    # the day the listing takes effect, after the rulebook's notice period (until then it is
    # pending: not published, denying nothing); None: it ends before it would
    effective_from: str | None = None
    # the records behind it that an open objection contests: the listing is under objection
    under_objection: list[str] = field(default_factory=list)

    def status_on(self, day: str) -> str:
        return (
            "effective"
            if self.effective_from is not None and day >= self.effective_from
            else "pending"
        )


@dataclass(frozen=True)
class MeasureInForce:
    measure_id: str
    kind: str
    list_id: str
    actions: list[str]
    start: str
    end: str | None  # None: until the subject leaves the list
    agency: str
    legal_basis: list[str]
    # role → keyed ids of the persons the list's records name, whom the measure also reaches
    extends_to: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class Profile:
    subject_id: str
    rulebook: str
    on: str
    applicable: bool
    records: list[RecordView] = field(default_factory=list)
    score: int | None = None
    grade: str | None = None
    lists: list[ListMembership] = field(default_factory=list)
    measures: list[MeasureInForce] = field(default_factory=list)
    explanation: list[str] = field(default_factory=list)
    # every run of every list over the rulebook's effect, past and future (as known now),
    # and the measures each run triggers: what the state stores, so that a check on any
    # day is answered exactly
    history: list[ListMembership] = field(default_factory=list)
    measure_history: list[MeasureInForce] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        from dataclasses import asdict

        out = asdict(self)
        out["records"] = [r._asdict() for r in self.records]
        return out


def in_effect(rb: Rulebook, on: date) -> bool:
    return rb.effective.from_ <= on and (rb.effective.until is None or on <= rb.effective.until)


def _applicability(rb: Rulebook, subject: SubjectRow) -> str | None:
    """Why the rulebook does not apply to the subject at all; None if it does."""
    if subject.kind not in rb.subject_kinds:
        return f"it does not cover subjects of kind {subject.kind}"
    prefix = rb.scope.division_prefix
    if prefix and not (subject.division or "").startswith(prefix):
        return f"its scope is division {prefix}…, the subject's is {subject.division or 'unknown'}"
    return None


class _Situation:
    """The subject's records under the rulebook, evaluable on any day."""

    def __init__(self, cr: CompiledRulebook, subject: SubjectRow, records: list[RecordRow]):
        self.cr = cr
        self.subject = subject
        self.covered: list[tuple[RecordRow, Treatment, RecordFacts]] = []
        self.uncovered: list[RecordRow] = []
        # (facts, first day out of force or None): in_force() runs for every change day
        self._windows: list[tuple[RecordRow, RecordFacts, date | None]] = []
        self.publicity_end: dict[str, date | None] = {}
        self._on: dict[date, tuple[SubjectFacts, list[RecordFacts]]] = {}
        form = cr.rulebook.score
        self._form = form.form
        # plain tuples: the score is recomputed for every change day
        self._banding: tuple[int, int | None, int | None, list[tuple[str, int | None]]] = (
            (form.base, form.floor, form.ceiling, [(b.grade, b.min) for b in form.bands])
            if isinstance(form, BandedScore)
            else (0, None, None, [])
        )
        for record in records:
            treatment = cr.treatment_of.get(record.category)
            category = cr.categories.get(record.category)
            if treatment is None or category is None:
                self.uncovered.append(record)
                continue
            facts = RecordFacts(
                record.category,
                category.domain.value,
                (treatment.tier or record.tier),
                category.polarity.value,
                record.decision_type,
                treatment.points,
                date.fromisoformat(record.publication_date),
            )
            self.covered.append((record, treatment, facts))
            out = self.publicity_end[record.id] = cr.publicity_end(record)
            if record.status in _TERMINAL and record.status_date is not None:
                stop = date.fromisoformat(record.status_date)
                out = stop if out is None else min(out, stop)
            if record.confirmation != "pending":  # unconfirmed automated data counts never
                self._windows.append((record, facts, out))

    def standing_on(self, record: RecordRow, on: date) -> Standing:
        return standing_until(record, on, self.publicity_end[record.id])

    def in_force(self, on: date) -> list[tuple[RecordRow, RecordFacts]]:
        # the same rule as inforce.standing(), on precomputed dates
        return [
            (record, facts)
            for record, facts, out in self._windows
            if facts.published <= on and (out is None or on < out)
        ]

    def score_and_grade(self, facts: Sequence[RecordFacts], on: date) -> tuple[int, str]:
        if self._form == "none":
            return 0, ""
        if self._form == "grades":
            rule = self.grade_rule(facts, on)
            return 0, "" if rule is None else rule.grade
        base, floor, ceiling, bands = self._banding
        score = base + sum([f.points for f in facts])
        if floor is not None and score < floor:
            score = floor
        if ceiling is not None and score > ceiling:
            score = ceiling
        for grade, minimum in bands:
            if minimum is None or score >= minimum:
                return score, grade
        return score, ""

    def grade_rule(self, facts: Sequence[RecordFacts], on: date) -> _GradeRule | None:
        subject = SubjectFacts(0, "", self.subject.kind, self.subject.division or "")
        for rule in self.cr.grade_rules:
            if rule.holds(subject, facts, on):
                return rule
        return None

    def behind_score(self, facts: Sequence[RecordFacts], on: date) -> set[int]:
        """Positions of the records the score or grade rests on."""
        if isinstance(self.cr.rulebook.score, GradesScore):
            rule = self.grade_rule(facts, on)
            return {i for m in (rule.matchers if rule else []) for i in m(facts, on)}
        return {i for i, f in enumerate(facts) if f.points}

    def facts_on(self, on: date) -> tuple[SubjectFacts, list[RecordFacts]]:
        known = self._on.get(on)
        if known is None:
            facts = [
                f for _, f, out in self._windows if f.published <= on and (out is None or on < out)
            ]
            score, grade = self.score_and_grade(facts, on)
            subject = SubjectFacts(score, grade, self.subject.kind, self.subject.division or "")
            known = self._on[on] = (subject, facts)
        return known

    def change_days(self, use: TimeUse) -> list[date]:
        """Every day on which the subject's standing can change: a record is published or
        stops counting, or time alone turns a condition (a window, an age, a days_since)."""
        days: set[date] = set()
        for record, facts, out in self._windows:
            days.add(facts.published)
            if out is not None:
                days.add(out)
            end = self.publicity_end[record.id]
            if end is not None:
                days.add(end)
            days.update(use.change_days(facts.published))
        return sorted(days)

    def runs(
        self, holds: Evaluator, days: list[date], start: date, end: date | None
    ) -> list[tuple[date, date | None]]:
        """The runs `[since, until)` of days in `[start, end)` on which `holds` holds;
        `days` are the change days, between which nothing changes."""
        out: list[tuple[date, date | None]] = []
        since: date | None = None
        for day in [start, *(d for d in days if start < d and (end is None or d < end))]:
            subject, facts = self.facts_on(day)
            if holds(subject, facts, day):
                if since is None:
                    since = day
            elif since is not None:
                out.append((since, day))
                since = None
        if since is not None:
            out.append((since, end))
        return out


def evaluate_subject(
    cr: CompiledRulebook,
    subject: SubjectRow,
    records: list[RecordRow],
    on: date,
    objections: Sequence[ObjectionRow] = (),
    holds: Sequence[HoldRow] = (),
) -> Profile:
    """``objections`` and ``holds``: the subject's, as known at the evaluation instant; an
    objection filed against a record behind a pending listing, or an operator's hold of it,
    keeps it pending until decided or released."""
    rb = cr.rulebook
    profile = Profile(subject.id, cr.ref, on.isoformat(), applicable=True)
    reason = _applicability(rb, subject)
    if reason is not None:
        profile.applicable = False
        profile.explanation.append(f"{rb.title} ({cr.ref}) does not apply: {reason}.")
        return profile

    situation = _Situation(cr, subject, records)
    in_force = situation.in_force(on)
    counted = {r.id for r, _ in in_force}
    contested = {o.record_id: o.id for o in objections if o.decided_date is None}
    for record, _, record_facts in situation.covered:
        ends = situation.publicity_end[record.id]
        trigger, delete_by = _removal(rb, record)
        profile.records.append(
            RecordView(
                record.id,
                record.category,
                record_facts.tier,
                record_facts.points,
                situation.standing_on(record, on).value,
                record.publication_date,
                ends.isoformat() if ends else None,
                record.id in counted,
                contested.get(record.id),
                trigger,
                delete_by,
            )
        )
        if delete_by is not None:
            profile.explanation.append(
                f"Record {record.id} ended on {record.status_date} ({trigger}): the listing "
                f"resting on it ends that day, and the entry must be deleted from the "
                f"published list by {delete_by}."
            )
    for record in situation.uncovered:
        profile.records.append(
            RecordView(
                record.id, record.category, record.tier, 0, "not covered by this rulebook",
                record.publication_date, None, False, contested.get(record.id),
            )
        )  # fmt: skip

    applies_on = in_effect(rb, on)
    if not applies_on:
        profile.explanation.append(
            f"{rb.title} ({cr.ref}) is not in effect on {on.isoformat()} (in effect "
            f"{rb.effective.from_}…{rb.effective.until or ''}): no score, grade, list or "
            "measure that day."
        )
    subject_facts, facts = situation.facts_on(on)
    form = rb.score
    if applies_on and not isinstance(form, NoScore):
        profile.score = subject_facts.score if not isinstance(form, GradesScore) else None
        profile.grade = subject_facts.grade
    if applies_on:
        profile.explanation.append(
            f"{rb.title} ({cr.ref}) as of {on.isoformat()}: {len(in_force)} of "
            f"{len(records)} records count."
        )
        profile.explanation.extend(_score_lines(cr, situation, facts, subject_facts, on))

    # the day asked about is judged directly too, whatever the change days say
    days = sorted({*situation.change_days(cr.time_use), on})
    start = rb.effective.from_
    end = None if rb.effective.until is None else rb.effective.until + timedelta(days=1)
    for cl in cr.lists:

        def contributing_at(day: date, cl: _CompiledList = cl) -> set[str]:
            _, day_facts = situation.facts_on(day)
            in_force = situation.in_force(day)
            found = situation.behind_score(day_facts, day) if cl.reads_score else set()
            for _, match in cl.matchers:
                found.update(match(day_facts, day))
            return {in_force[i][0].id for i in found}

        for since, until in situation.runs(cl.holds, days, start, end):
            current = since <= on and (until is None or on < until)
            # a notice period first: the listing is pending, then takes effect
            notice = cl.spec.notice_period
            effective: date | None = since if notice is None else notice.after(since)
            if notice is not None and effective is not None:
                effective = _after_objections(effective, contributing_at(since), objections)
            if effective is not None:
                effective = _after_holds(effective, since, rb.id, cl.spec.id, holds)
            if effective is not None and until is not None and effective >= until:
                effective = None
            # the records behind a run: those counting on the day asked about, or on the
            # run's first day for a run in the past or the future
            day = on if current else since
            _, day_facts = situation.facts_on(day)
            day_in_force = situation.in_force(day)
            contributing: set[int] = (
                situation.behind_score(day_facts, day) if cl.reads_score else set()
            )
            for _, match in cl.matchers:
                contributing.update(match(day_facts, day))
            record_ids = [day_in_force[i][0].id for i in sorted(contributing)]
            membership = ListMembership(
                cl.spec.id,
                cl.spec.kind,
                cl.spec.title,
                since.isoformat(),
                until.isoformat() if until else None,
                record_ids,
                cl.spec.when.text,
                effective.isoformat() if effective is not None else None,
                [r for r in record_ids if r in contested],
            )
            profile.history.append(membership)
            persons = _named_persons(day_in_force[i][0] for i in contributing)
            measures = [
                m
                for measure in rb.measures
                if effective is not None and measure.list == cl.spec.id
                and subject.kind in measure.subject_kinds
                and (m := _measure(measure, effective, until, persons)) is not None
            ]  # fmt: skip
            profile.measure_history.extend(measures)
            if current:
                profile.lists.append(membership)
                pending = effective is None or on < effective
                profile.explanation.append(
                    (
                        f"Pending (notice period) on the {cl.spec.kind} list {cl.spec.title} "
                        f"({cl.spec.id}) since {since}, "
                        + (f"effective from {effective}" if effective else "never effective")
                        if pending
                        else f"On the {cl.spec.kind} list {cl.spec.title} ({cl.spec.id}) since "
                        f"{effective}"
                    )
                    + (f", until {until} unless new records arrive" if until else "")
                    + f", because {cl.rendered} holds; records: "
                    + (", ".join(record_ids) or "none")
                    + f". Removal: {cl.spec.removal}"
                )
                for m in measures:  # in force on the day: started, not yet ended
                    if date.fromisoformat(m.start) <= on and (
                        m.end is None or on < date.fromisoformat(m.end)
                    ):
                        profile.measures.append(m)
                        profile.explanation.append(_measure_line(m))
            else:
                tense = "Was" if until is not None and until <= on else "Will be"
                profile.explanation.append(
                    f"{tense} on the {cl.spec.kind} list {cl.spec.title} ({cl.spec.id}) from "
                    f"{since}" + (f" until {until}" if until else "")
                    + f", because {cl.rendered} holds then; records: "
                    + (", ".join(record_ids) or "none") + "."
                )  # fmt: skip
    if not profile.lists and applies_on:
        profile.explanation.append("On no list of this rulebook.")
    return profile


def _removal(rb: Rulebook, record: RecordRow) -> tuple[str | None, str | None]:
    """The removal trigger of an ended record and the day its deletion is due, where a list
    of the rulebook gives its category removal triggers (SPC art. 10); else (None, None)."""
    if record.status != "ended" or record.status_date is None or record.status_reason is None:
        return None, None
    for spec in rb.lists:
        triggers = spec.removal_triggers
        if triggers is not None and record.category in triggers.categories:
            due = triggers.delete_by(date.fromisoformat(record.status_date))
            return record.status_reason, due.isoformat()
    return None, None


def _after_objections(
    effective: date, records: set[str], objections: Sequence[ObjectionRow]
) -> date | None:
    """A pending listing takes effect at the end of its notice period, or once the last
    objection filed before then against a record behind it is decided (None: one is
    still open, so it stays pending)."""
    for objection in objections:
        if objection.record_id not in records or objection.filed_date >= effective.isoformat():
            continue
        if objection.decided_date is None:
            return None
        effective = max(effective, date.fromisoformat(objection.decided_date))
    return effective


def _after_holds(
    effective: date, since: date, rulebook_id: str, list_id: str, holds: Sequence[HoldRow]
) -> date | None:
    """A hold placed while the listing was pending keeps it pending until released."""
    for hold in holds:
        if (hold.rulebook_id, hold.list_id) != (rulebook_id, list_id):
            continue
        if not since.isoformat() <= hold.held_date < effective.isoformat():
            continue
        if hold.released_date is None:
            return None
        effective = max(effective, date.fromisoformat(hold.released_date))
    return effective


def _named_persons(records: Iterable[RecordRow]) -> dict[str, list[str]]:
    """Role → keyed ids of the persons of the organisation its records name (the legal
    representative, and those in ``restricted_persons``), each sorted."""
    roles: dict[str, set[str]] = {}
    for record in records:
        if record.legal_representative:
            roles.setdefault("legal_representative", set()).add(record.legal_representative)
        if record.restricted_persons:
            for role, ids in json.loads(record.restricted_persons).items():
                roles.setdefault(role, set()).update(ids)
    return {role: sorted(ids) for role, ids in roles.items()}


def _measure(
    measure: MeasureDef, since: date, until: date | None, persons: dict[str, list[str]]
) -> MeasureInForce | None:
    """The measure a list run triggers: from the run's start for the measure's duration,
    ending earlier if the run does; None if that leaves no day."""
    if measure.duration is not None:
        end: date | None = measure.duration.after(since)
        if until is not None and end is not None:
            end = min(end, until)
    else:
        end = until
    if end is not None and end <= since:
        return None
    return MeasureInForce(
        measure.id,
        measure.kind,
        measure.list,
        list(measure.actions),
        since.isoformat(),
        end.isoformat() if end else None,
        measure.agency,
        [str(b) for b in measure.legal_basis],
        {role: persons[role] for role in measure.extends_to if persons.get(role)},
    )


_ROLE_WORDS = {"directly_responsible": "directly responsible persons"}


def _measure_line(m: MeasureInForce) -> str:
    until = f"until {m.end}" if m.end else "until the subject leaves the list"
    return (
        f"{m.kind.capitalize()} {m.measure_id}: {', '.join(m.actions)} from {m.start} {until}; "
        f"applied by {m.agency}; legal basis: {'; '.join(m.legal_basis) or 'none cited'}."
        + "".join(
            f" It also applies to the {_ROLE_WORDS.get(role, role.replace('_', ' '))} the"
            " records name"
            f" ({len(ids)} person{'s' if len(ids) > 1 else ''})."
            for role, ids in m.extends_to.items()
        )
    )


def _score_lines(
    cr: CompiledRulebook,
    situation: _Situation,
    facts: Sequence[RecordFacts],
    subject: SubjectFacts,
    on: date,
) -> list[str]:
    form = cr.rulebook.score
    if isinstance(form, NoScore):
        return ["This rulebook keeps records only: no score or grade."]
    if isinstance(form, GradesScore):
        rule = situation.grade_rule(facts, on)
        if rule is None:
            return ["No grade rule holds."]
        return [f"Grade {rule.grade}: the first grade rule that holds is {rule.text}."]
    moved = sum(f.points for f in facts)
    parts = [f"Score {subject.score} = base {form.base} {'+' if moved >= 0 else '−'} {abs(moved)}"]
    parts.append(f" from {sum(1 for f in facts if f.points)} records with points")
    raw = form.base + moved
    if raw != subject.score:
        parts.append(f" (clamped from {raw})")
    return ["".join(parts) + f"; grade {subject.grade}."]


def standing_history(
    cr: CompiledRulebook, subject: SubjectRow, records: list[RecordRow], until: date
) -> list[tuple[str, int | None, str | None]]:
    """(day, score, grade) on every day up to ``until`` on which the score or grade can
    change, while the rulebook is in effect: a history chart is drawn from these steps.
    Empty when the rulebook keeps no score, or does not apply to the subject."""
    rb = cr.rulebook
    if isinstance(rb.score, NoScore) or _applicability(rb, subject) is not None:
        return []
    situation = _Situation(cr, subject, records)
    grades_only = isinstance(rb.score, GradesScore)
    out: list[tuple[str, int | None, str | None]] = []
    # from the day the rulebook took effect, so that a standing no record changed is still
    # drawn as the line it is
    for day in sorted({rb.effective.from_, *situation.change_days(cr.time_use), until}):
        if day > until or not in_effect(rb, day):
            continue
        facts, _ = situation.facts_on(day)
        point = (day.isoformat(), None if grades_only else facts.score, facts.grade or None)
        if not out or out[-1][1:] != point[1:]:
            out.append(point)
    if out and out[-1][0] != until.isoformat():
        out.append((until.isoformat(), *out[-1][1:]))  # the line reaches the day asked about
    return out
