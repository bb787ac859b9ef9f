"""The rulebook file format (docs/rulebooks.md) as pydantic models.

The schema checks shape: types, required fields, orderings, identifiers, and that every
condition parses and type-checks. Whether the rulebook is *lawful* (legal bases, publicity
bounds, prohibited grounds, measures on persons) is the lint's job (`lint.py`), because
those checks need the catalogue and must report every problem, not the first.
"""

from __future__ import annotations

import builtins
import datetime as dt
import functools
import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    PlainSerializer,
    PlainValidator,
    Tag,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from trustledger.domain import Domain, SubjectKind, Tier
from trustledger.legality import LegalBasis
from trustledger.pollutants import canonical, known
from trustledger.rulebook.condition import (
    POINTS_LIMIT,
    SCORE_BASE_LIMIT,
    Condition,
    ConditionError,
    parse_condition,
)
from trustledger.rulebook.durations import Duration, parse_duration

__all__ = [
    "MAX_CONDITION_CHARS",
    "Band",
    "BandedScore",
    "Effective",
    "GradeRule",
    "GradesScore",
    "ListDef",
    "MeasureDef",
    "NoScore",
    "ParsedCondition",
    "PercentScore",
    "PointsScore",
    "Publicity",
    "RemovalTriggers",
    "Rulebook",
    "Scope",
    "ScoreForm",
    "Selection",
    "Transitional",
    "Treatment",
    "compare_durations",
    "duration_span_days",
]

# The language's own limit (docs/rulebooks.md); checked here too so that a huge string is
# refused with one short message before any parser sees it.
MAX_CONDITION_CHARS = 4096

ID_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
ACTION_PATTERN = r"^[a-z][a-z0-9_]*$"


def _problem(kind: str, message: str) -> PydanticCustomError:
    # A custom error keeps the message as written; a ValueError would gain "Value error, ".
    return PydanticCustomError(kind, "{problem}", {"problem": message})


# ── Durations ───────────────────────────────────────────────────────────────────────────


def _to_duration(value: object) -> Duration:
    if isinstance(value, Duration):
        return value
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise _problem("duration", f"expected a duration such as 3m, 1y or 30d, got {value!r}")
    try:
        return parse_duration(str(value))
    except ValueError as exc:
        raise _problem("duration", f"invalid duration {str(value)[:40]!r}: {exc}") from exc


DurationField = Annotated[
    Duration,
    PlainValidator(_to_duration),
    PlainSerializer(lambda d: str(d), return_type=str),
    WithJsonSchema({"type": "string", "pattern": r"^[0-9]+[dmy]$"}),
]


@functools.cache
def _month_span_days(months: int) -> tuple[int, int]:
    # Month lengths repeat every 400 years, but 28 consecutive years already hold every
    # pattern of month lengths and leap days a span of a few years can meet.
    start, lo, hi = dt.date(2000, 1, 1), None, 0
    step = Duration(months, "m")
    for offset in range(28 * 366):
        day = start + dt.timedelta(days=offset)
        span = (step.after(day) - day).days
        lo = span if lo is None else min(lo, span)
        hi = max(hi, span)
    assert lo is not None
    return lo, hi


def duration_span_days(duration: Duration) -> tuple[int, int]:
    """The shortest and the longest number of days `duration` can cover."""
    if duration.unit == "d":
        return duration.count, duration.count
    months = duration.count * 12 if duration.unit == "y" else duration.count
    if months > 1200:
        # Beyond a century the exact calendar no longer matters to any bound we check.
        return months * 28, months * 31
    return _month_span_days(months)


def compare_durations(a: Duration, b: Duration) -> int:
    """-1 if `a` is never longer than `b`, 1 if it can be longer, 0 if they are equal.

    Months and years compare exactly; days against months compare against the calendar's
    shortest and longest months, so a bound is never passed on a lucky start date.
    """
    if (a.unit == "d") == (b.unit == "d"):
        size_a = a.count * (12 if a.unit == "y" else 1)
        size_b = b.count * (12 if b.unit == "y" else 1)
        return (size_a > size_b) - (size_a < size_b)
    a_hi = duration_span_days(a)[1]
    b_lo = duration_span_days(b)[0]
    return 1 if a_hi > b_lo else -1


# ── Conditions ──────────────────────────────────────────────────────────────────────────


@dataclass(frozen=True, slots=True)
class ParsedCondition:
    """A condition's text (what the author wrote, what is published) and its typed tree."""

    text: str
    tree: Condition

    def __str__(self) -> str:
        return self.text


def _condition_validator(scope: Literal["list", "grade"]) -> PlainValidator:
    def parse(value: object) -> ParsedCondition:
        if isinstance(value, ParsedCondition):
            return value
        if isinstance(value, bool):
            # YAML reads `when: true` as a bool; the language spells it the same way.
            value = "true" if value else "false"
        if not isinstance(value, str):
            raise _problem("condition", f"a condition must be text, got {type(value).__name__}")
        if len(value) > MAX_CONDITION_CHARS:
            raise _problem(
                "condition",
                f"condition is {len(value):,} characters; at most {MAX_CONDITION_CHARS:,}",
            )
        try:
            tree = parse_condition(value, scope=scope)
        except ConditionError as exc:
            text = str(exc)
            column = getattr(exc, "column", None)
            if column is not None and not text.startswith("column "):
                text = f"column {column}: {text}"
            raise _problem("condition", text) from exc
        return ParsedCondition(value, tree)

    return PlainValidator(parse)


_ConditionSerializer = PlainSerializer(lambda c: c.text, return_type=str)
_ConditionSchema = WithJsonSchema({"type": "string", "maxLength": MAX_CONDITION_CHARS})
ListCondition = Annotated[
    ParsedCondition, _condition_validator("list"), _ConditionSerializer, _ConditionSchema
]
GradeCondition = Annotated[
    ParsedCondition, _condition_validator("grade"), _ConditionSerializer, _ConditionSchema
]


# ── Parts ───────────────────────────────────────────────────────────────────────────────


class _Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid", frozen=True, str_strip_whitespace=True, populate_by_name=True
    )


def _unique(value: list[Any], what: str) -> list[Any]:
    repeated = sorted({str(v) for v in value if value.count(v) > 1})
    if repeated:
        raise _problem("rulebook", f"repeated {what}: {', '.join(repeated)}")
    return value


class Effective(_Model):
    """When the rulebook applies; `until: null` means until replaced."""

    from_: dt.date = Field(alias="from")
    until: dt.date | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Effective:
        if self.until is not None and self.until <= self.from_:
            raise _problem("rulebook", f"until ({self.until}) must be after from ({self.from_})")
        return self


class Scope(_Model):
    """Territory: a prefix of the six-digit administrative division code; "" is national."""

    division_prefix: str = Field(default="", pattern=r"^(?:[0-9]{2}){0,3}$")

    @field_validator("division_prefix", mode="before")
    @classmethod
    def _prefix_as_text(cls, value: object) -> object:
        # An unquoted 371082 is an int in YAML; a division code is a label.
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        return value


class Selection(_Model):
    """Which categories a treatment applies to; every given criterion must hold."""

    codes: list[str] | None = Field(default=None, min_length=1)
    domain: Domain | None = None
    tier: Tier | None = None

    @model_validator(mode="after")
    def _something_selected(self) -> Selection:
        if self.codes is None and self.domain is None and self.tier is None:
            raise _problem("rulebook", "select needs at least one of codes, domain, tier")
        if self.codes is not None:
            _unique(self.codes, "codes")
        return self

    def describe(self) -> str:
        parts: list[str] = []
        if self.codes is not None:
            parts.append("codes " + ", ".join(self.codes))
        if self.domain is not None:
            parts.append(f"domain {self.domain}")
        if self.tier is not None:
            parts.append(f"tier {self.tier}")
        return "; ".join(parts)


PublicityClock = Literal["publication", "decision"]


class Publicity(_Model):
    """How long a record stays public: repair may be applied for after `min`; at `max` the
    record stops counting by itself (DESIGN principle 4). `max: null` is no fixed term —
    the record counts until an entry ends it — and only a treatment citing the law that
    gives no term may say so (`Treatment`)."""

    min: DurationField
    max: DurationField | None

    @model_validator(mode="after")
    def _min_not_after_max(self) -> Publicity:
        if self.max is not None and compare_durations(self.min, self.max) > 0:
            raise _problem("rulebook", f"min {self.min} may be longer than max {self.max}")
        return self


class Treatment(_Model):
    """How the selected categories count under this rulebook."""

    select: Selection
    # bounded so that no sum of them can leave the 64-bit integers SQL computes in
    points: int = Field(default=0, ge=-POINTS_LIMIT, le=POINTS_LIMIT)
    tier: Tier | None = None
    publicity: Publicity
    publicity_override: LegalBasis | None = None
    # the day the publicity window counts from, where this treatment's law differs from
    # the rulebook's (None: the rulebook's `publicity_from`)
    publicity_from: PublicityClock | None = None
    legal_basis: list[LegalBasis] = Field(default_factory=list)

    @model_validator(mode="after")
    def _no_maximum_needs_its_law(self) -> Treatment:
        # Principle 4 gives every negative record a maximum; a record without one exists
        # only where a law sets no term (the SPC's ground 1 lasts until performance), and
        # the treatment must say which law that is.
        if self.publicity.max is None and self.publicity_override is None:
            raise PydanticCustomError(
                "publicity_no_maximum",
                "treatment ({select}): publicity max null (no fixed term) needs a "
                "publicity_override citing the law that gives no term",
                {"select": self.select.describe()},
            )
        return self


class Transitional(_Model):
    """A version's transitional rule: records decided before its `effective.from` keep the
    publicity window (maximum and clock) of the version in force on their decision day,
    where the law says so."""

    earlier_decisions_keep_prior_publicity: bool
    legal_basis: list[LegalBasis] = Field(default_factory=list)


class Band(_Model):
    grade: str = Field(min_length=1, max_length=40)
    min: int | None = Field(ge=-SCORE_BASE_LIMIT * 10, le=SCORE_BASE_LIMIT * 10)


class BandedScore(_Model):
    """A score from a base with grade bands, highest first; `min` is inclusive."""

    base: int = Field(ge=-SCORE_BASE_LIMIT, le=SCORE_BASE_LIMIT)
    floor: int | None = Field(default=None, ge=-SCORE_BASE_LIMIT, le=SCORE_BASE_LIMIT)
    ceiling: int | None = Field(default=None, ge=-SCORE_BASE_LIMIT, le=SCORE_BASE_LIMIT)
    bands: list[Band] = Field(min_length=1)

    @field_validator("bands")
    @classmethod
    def _bands_ordered(cls, bands: list[Band]) -> list[Band]:
        problems: list[str] = []
        _unique([band.grade for band in bands], "band grades")
        for index, band in enumerate(bands[:-1]):
            if band.min is None:
                problems.append(
                    f"bands[{index}] ({band.grade}): only the last band may have min null"
                )
        if bands[-1].min is not None:
            problems.append(
                f"bands[{len(bands) - 1}] ({bands[-1].grade}): the last band must have min null "
                "(everything below the band above it)"
            )
        mins = [(i, b) for i, b in enumerate(bands) if b.min is not None]
        for (_, upper), (index, lower) in itertools.pairwise(mins):
            assert upper.min is not None and lower.min is not None
            if lower.min >= upper.min:
                problems.append(
                    f"bands[{index}] ({lower.grade}): min {lower.min} must be below "
                    f"{upper.min} ({upper.grade}); bands are ordered highest first"
                )
        if problems:
            raise _problem("rulebook", "; ".join(problems))
        return bands

    @model_validator(mode="after")
    def _base_within_bounds(self) -> BandedScore:
        if self.floor is not None and self.ceiling is not None and self.floor > self.ceiling:
            raise _problem("rulebook", f"floor {self.floor} is above ceiling {self.ceiling}")
        if self.floor is not None and self.base < self.floor:
            raise _problem("rulebook", f"base {self.base} is below floor {self.floor}")
        if self.ceiling is not None and self.base > self.ceiling:
            raise _problem("rulebook", f"base {self.base} is above ceiling {self.ceiling}")
        return self


class NoScore(_Model):
    """Records and lists only: what most real pilots use."""

    form: Literal["none"]


class PointsScore(BandedScore):
    form: Literal["points"]


class PercentScore(BandedScore):
    form: Literal["percent"]
    base: int = 100
    floor: int | None = 0
    ceiling: int | None = 100

    @model_validator(mode="after")
    def _is_a_percentage(self) -> PercentScore:
        if (self.floor is not None and self.floor < 0) or (
            self.ceiling is not None and self.ceiling > 100
        ):
            raise _problem("rulebook", "a percent score stays within 0 and 100")
        return self


class GradeRule(_Model):
    grade: str = Field(min_length=1, max_length=40)
    when: GradeCondition


class GradesScore(_Model):
    """Grades by ordered rules: the first rule whose condition holds gives the grade."""

    form: Literal["grades"]
    rules: list[GradeRule] = Field(min_length=1)


def _form_of(value: Any) -> str | None:
    form = value.get("form") if isinstance(value, dict) else getattr(value, "form", None)
    return form if isinstance(form, str) else None


ScoreForm = Annotated[
    Annotated[NoScore, Tag("none")]
    | Annotated[PointsScore, Tag("points")]
    | Annotated[PercentScore, Tag("percent")]
    | Annotated[GradesScore, Tag("grades")],
    Discriminator(
        _form_of,
        custom_error_type="score_form",
        custom_error_message="form must be one of none, points, percent, grades",
    ),
]


# The reasons an `end` entry may give (trustledger.domain.EndReason, docs/intake.md).
EndReasonCode = Literal["performed", "settlement", "creditor_request", "case_closed"]
# Persons an organisation's records may name, to whom a measure can extend (SPC provisions
# on high consumption, art. 3 para. 2).
RestrictedRole = Literal[
    "legal_representative", "principal_manager", "directly_responsible", "actual_controller"
]
_WORKING_DAYS = re.compile(r"^([1-9][0-9]{0,2}) working days?$")


class RemovalTriggers(_Model):
    """The court's (or authority's) decisions that end a listing resting on these
    categories, and the working days it then has to delete the entry from the published
    list. A listing ends on the trigger's effective date; `within` is the deletion's
    deadline, shown on the subject's file."""

    categories: list[str] = Field(min_length=1)
    reasons: list[EndReasonCode] = Field(min_length=1)
    within: str = Field(description="e.g. '3 working days'")
    legal_basis: list[LegalBasis] = Field(default_factory=list)

    @field_validator("reasons")
    @classmethod
    def _reasons_unique(cls, value: list[EndReasonCode]) -> list[EndReasonCode]:
        return _unique(value, "removal_triggers.reasons")

    @field_validator("within")
    @classmethod
    def _within_working_days(cls, value: str) -> str:
        if not _WORKING_DAYS.match(value):
            raise _problem(
                "rulebook",
                f"removal_triggers.within: {value!r} is not a number of working days such "
                "as '3 working days'",
            )
        return value

    @property
    def working_days(self) -> int:
        match = _WORKING_DAYS.match(self.within)
        assert match is not None  # checked on load
        return int(match.group(1))

    def delete_by(self, effective: dt.date) -> dt.date:
        """The last day for deletion: ``within`` working days after ``effective``, the day
        itself not counted. Working days are Monday to Friday: public holidays and the
        weekend days worked in exchange are not modelled here (a rulebook is national and
        holiday calendars are a deployment's; dueprocess.calendar holds that one)."""
        day, left = effective, self.working_days
        while left:
            day += dt.timedelta(days=1)
            if day.weekday() < 5:
                left -= 1
        return day


class ListDef(_Model):
    """A red or black list: who is on it is decided by its condition."""

    id: str = Field(pattern=ID_PATTERN, max_length=80)
    kind: Literal["black", "red"]
    title: str = Field(min_length=1)
    when: ListCondition
    removal: str = Field(min_length=1, description="how a subject leaves the list")
    legal_basis: list[LegalBasis] = Field(default_factory=list)
    grounds: list[str] = Field(default_factory=list, description="declared ground tags")
    notice_period: DurationField | None = Field(
        default=None,
        description="a new listing is pending for this long, with a notice to the subject, "
        "before it takes effect (none: at once)",
    )
    removal_triggers: RemovalTriggers | None = None


class MeasureDef(_Model):
    """What agencies do to (or for) the subjects on a list, for how long."""

    id: str = Field(pattern=ID_PATTERN, max_length=80)
    kind: Literal["restriction", "incentive"]
    list: str = Field(pattern=ID_PATTERN)
    actions: builtins.list[Annotated[str, Field(pattern=ACTION_PATTERN)]] = Field(min_length=1)
    subject_kinds: builtins.list[SubjectKind] = Field(min_length=1)
    duration: DurationField | None = None
    until_removed: bool = False
    legal_basis: builtins.list[LegalBasis] = Field(default_factory=builtins.list)
    agency: str = Field(min_length=1)
    grounds: builtins.list[str] = Field(
        default_factory=builtins.list, description="declared ground tags"
    )
    # Persons a listed organisation's records name, to whom the measure also applies. Only
    # where the law says so (the SPC's consumption restriction reaches the legal
    # representative, principal manager, directly responsible persons and actual
    # controller of a debtor organisation, art. 3 para. 2); the lint checks the rest.
    extends_to: builtins.list[RestrictedRole] = Field(default_factory=builtins.list)

    @field_validator("actions")
    @classmethod
    def _actions_unique(cls, value: builtins.list[str]) -> builtins.list[str]:
        return _unique(value, "actions")

    @field_validator("subject_kinds")
    @classmethod
    def _kinds_unique(cls, value: builtins.list[SubjectKind]) -> builtins.list[SubjectKind]:
        return _unique(value, "subject_kinds")

    @model_validator(mode="after")
    def _one_end(self) -> MeasureDef:
        # Two ends would leave readers guessing which one applies; no end at all is a
        # legality problem (principle 5) and is reported by the lint with the others.
        if self.duration is not None and self.until_removed:
            raise _problem(
                "rulebook",
                f"measure {self.id}: give either a duration or until_removed: true, not both",
            )
        return self


# ── Monitoring: limits and the episode threshold ───────────────────────────────────────


class LimitSet(_Model):
    """Emission limits (mg/m³ at the reference oxygen) a monitoring point is judged by."""

    id: str = Field(pattern=ID_PATTERN, max_length=80)
    title: str = Field(min_length=1)
    reference_o2: float | None = Field(
        default=None, ge=0, lt=21, description="% O₂; none: judge measured concentrations"
    )
    averaging: Literal["hourly", "daily"] = "hourly"  # daily for waste incineration
    limits: dict[str, float] = Field(min_length=1, description="pollutant code → limit")
    legal_basis: builtins.list[LegalBasis] = Field(default_factory=builtins.list)

    @field_validator("limits")
    @classmethod
    def _known_codes(cls, value: dict[str, float]) -> dict[str, float]:
        out: dict[str, float] = {}
        for code, limit in value.items():
            if not known(code):
                raise ValueError(f"limits: {code!r} is not a pollutant code of the vocabulary")
            if limit <= 0:
                raise ValueError(f"limits: {code} must be above 0, not {limit}")
            if canonical(code) in out:
                raise ValueError(f"limits: {canonical(code)} is given twice ({code} is the same)")
            out[canonical(code)] = limit
        return out


class ComplianceBand(_Model):
    """A band of the emissions compliance rate: from `min_rate` % (inclusive) up to the next
    band's, one catalogue category, and the indicator's points across the band."""

    min_rate: int = Field(ge=0, le=100, description="lowest compliance rate (%) of the band")
    category: str = Field(min_length=1, description="a measured catalogue category")
    points: tuple[int, int] = Field(description="indicator points at the band's bottom and top")

    @field_validator("points")
    @classmethod
    def _points_rise(cls, value: tuple[int, int]) -> tuple[int, int]:
        low, high = value
        if not 0 <= low <= high <= 100:
            raise ValueError(f"points: need 0 <= bottom <= top <= 100, not {low}, {high}")
        return value


class ComplianceDef(_Model):
    """The "compliant emissions" indicator: the share of valid hourly (daily) means within
    their limits over the evaluation period, assessed as one record in the band's category."""

    period: DurationField = Field(description="the evaluation period ending the day before")
    assess_every: DurationField = Field(
        description="how often a new assessment is issued; each counts for this long"
    )
    min_valid_hours: int = Field(
        ge=1, description="valid hourly (daily) means needed at all for a rate"
    )
    min_coverage: int = Field(
        ge=1, le=100,
        description="valid means as % of the periods from the first reading to the period's end",
    )  # fmt: skip
    bands: builtins.list[ComplianceBand] = Field(min_length=1)
    legal_basis: builtins.list[LegalBasis] = Field(default_factory=builtins.list)

    @field_validator("bands")
    @classmethod
    def _bands_cover(cls, value: builtins.list[ComplianceBand]) -> builtins.list[ComplianceBand]:
        rates = [band.min_rate for band in value]
        if any(a <= b for a, b in itertools.pairwise(rates)):
            raise ValueError(f"bands: min_rate must fall from band to band, not {rates}")
        if rates[-1] != 0:
            raise ValueError(f"bands: the last band must start at 0 %, not {rates[-1]} %")
        _unique([band.category for band in value], "band categories")
        return value

    def band_of(self, rate: float) -> ComplianceBand:
        """The band a rate (in %) falls in."""
        return next(band for band in self.bands if rate >= band.min_rate)


class MonitoringDef(_Model):
    """How monitoring data becomes records under this rulebook."""

    category: str = Field(min_length=1, description="an automated catalogue category")
    episode_min_hours: int = Field(
        ge=1, description="exceedance hours (days, for daily averaging) that make a record"
    )
    legal_basis: builtins.list[LegalBasis] = Field(default_factory=builtins.list)
    limit_sets: builtins.list[LimitSet] = Field(min_length=1)
    compliance: ComplianceDef | None = None

    @field_validator("limit_sets")
    @classmethod
    def _ids_unique(cls, value: builtins.list[LimitSet]) -> builtins.list[LimitSet]:
        _unique([item.id for item in value], "limit set ids")
        return value

    def limit_set(self, limit_set_id: str) -> LimitSet | None:
        return next((item for item in self.limit_sets if item.id == limit_set_id), None)


# ── The rulebook ────────────────────────────────────────────────────────────────────────


class Rulebook(_Model):
    """One jurisdiction's regime: treatments, score form, lists and measures."""

    id: str = Field(pattern=ID_PATTERN, max_length=80)
    version: str = Field(min_length=1)
    title: str = Field(min_length=1)
    authority: str = Field(min_length=1)
    legal_basis: list[LegalBasis] = Field(default_factory=list)
    sources: list[str] = Field(default_factory=list)
    effective: Effective
    scope: Scope = Field(default_factory=Scope)
    subject_kinds: list[SubjectKind] = Field(min_length=1)
    grounds: list[str] = Field(default_factory=list, description="declared ground tags")
    treatments: list[Treatment] = Field(default_factory=list)
    score: ScoreForm = Field(default_factory=lambda: NoScore(form="none"))
    lists: list[ListDef] = Field(default_factory=list)
    measures: list[MeasureDef] = Field(default_factory=list)
    monitoring: MonitoringDef | None = None
    # the day every publicity window counts from: the regime decides (NDRC Order No. 36
    # counts from the decision taking effect, SAMR Order No. 45 art. 13 from publication)
    publicity_from: PublicityClock = "publication"
    transitional: Transitional | None = None

    @field_validator("version", mode="before")
    @classmethod
    def _version_as_text(cls, value: object) -> object:
        # `version: 2024.1` in YAML is a float; a version is a label.
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        return value

    @field_validator("subject_kinds")
    @classmethod
    def _kinds_unique(cls, value: list[SubjectKind]) -> list[SubjectKind]:
        return _unique(value, "subject_kinds")

    @field_validator("lists")
    @classmethod
    def _list_ids_unique(cls, value: list[ListDef]) -> list[ListDef]:
        _unique([item.id for item in value], "list ids")
        return value

    @field_validator("measures")
    @classmethod
    def _measure_ids_unique(cls, value: list[MeasureDef]) -> list[MeasureDef]:
        _unique([item.id for item in value], "measure ids")
        return value

    @model_validator(mode="after")
    def _points_only_with_points(self) -> Rulebook:
        if isinstance(self.score, PointsScore | PercentScore):
            return self
        scored = [i for i, t in enumerate(self.treatments) if t.points != 0]
        if scored:
            where = ", ".join(f"treatments[{i}]" for i in scored)
            raise _problem(
                "rulebook",
                f"{where}: points must be 0 when the score form is '{self.score.form}'",
            )
        return self

    def clock_of(self, treatment: Treatment) -> PublicityClock:
        """The day the treatment's publicity window counts from."""
        return treatment.publicity_from or self.publicity_from

    def list_by_id(self, list_id: str) -> ListDef | None:
        return next((item for item in self.lists if item.id == list_id), None)

    def conditions(self) -> Iterator[tuple[tuple[str | int, ...], ParsedCondition]]:
        """Every condition with its path in the file."""
        for index, item in enumerate(self.lists):
            yield ("lists", index, "when"), item.when
        if isinstance(self.score, GradesScore):
            for index, rule in enumerate(self.score.rules):
                yield ("score", "rules", index, "when"), rule.when
