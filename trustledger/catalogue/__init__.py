"""The record catalogue: which categories of record exist, who may issue them, on what law.

Intake refuses a record whose category is not in the catalogue or whose issuing authority
is not of a type the category allows, so the catalogue is where principles 1 and 2 are
first enforced: a category without a legal basis, or one that describes a prohibited
ground, cannot be loaded at all.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from trustledger.domain import (
    GOVERNMENT_BODIES,
    AuthorityType,
    Domain,
    Polarity,
    SubjectKind,
    Tier,
)
from trustledger.legality import (
    LegalBasis,
    legal_basis_problems,
    prohibited_ground_problems,
    text_fields,
)
from trustledger.yamlfile import (
    YamlProblem,
    format_loc,
    load_strict,
    node_line,
    read_policy_file,
)

__all__ = [
    "NATIONAL_CATALOGUE_PATH",
    "Catalogue",
    "CatalogueError",
    "Category",
    "load_catalogue",
    "national_catalogue",
    "parse_catalogue",
]

NATIONAL_CATALOGUE_PATH = Path(__file__).with_name("national.yaml")

CODE_PATTERN = r"^[A-Z0-9]+(?:-[A-Z0-9]+)*$"


def _problem(message: str) -> PydanticCustomError:
    # A custom error keeps the message exactly as written; a plain ValueError would be
    # prefixed with "Value error, " in every report.
    return PydanticCustomError("catalogue", "{problem}", {"problem": message})


# The code as written, for messages about other fields when the code itself is refused
# (SOC-PETITION fails its own check, yet its title's problem must still name it).
_RAW_CODE: ContextVar[object] = ContextVar("raw_category_code", default=None)


def _label(info: ValidationInfo) -> str:
    code = info.data.get("code", _RAW_CODE.get())
    return f"category {code}" if isinstance(code, str) else "category <no code>"


# fields whose own validators check them for prohibited grounds
_CHECKED_BY_FIELD = ("code", "title", "title_zh", "description", "grounds")


class Category(BaseModel):
    """One kind of record an authority may issue, with the law it rests on."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    # Field order matters: later validators read earlier fields through `info.data`.
    code: str = Field(pattern=CODE_PATTERN)
    title: str = Field(min_length=1)
    title_zh: str = Field(min_length=1)
    description: str = Field(min_length=1)
    domain: Domain
    polarity: Polarity
    default_tier: Tier
    subject_kinds: list[SubjectKind] = Field(min_length=1)
    authorities: list[AuthorityType] = Field(min_length=1)
    legal_basis: list[LegalBasis]
    grounds: list[str] = Field(default_factory=list)
    # Records of an automated category come from monitoring data, not from a decision.
    automated: bool = Field(default=False, validate_default=True)
    # An automated category that is a measurement (a compliance rate of valid data), not a
    # finding of a violation: it counts at once, and is reviewed on objection (principle 4).
    measured: bool = Field(default=False, validate_default=True)
    # A category the law keeps for adults: a record about a person under 18 on the
    # decision date is refused (the SPC's list: minors are not listed, art. 4).
    adults_only: bool = False
    # A category of commendations of persons (volunteer service, blood donation, charity):
    # the one kind of record about a person that rests on a commendation decision rather
    # than a judgment or a penalty; published only with the person's consent.
    commends_persons: bool = False

    @model_validator(mode="before")
    @classmethod
    def _remember_code(cls, data: object) -> object:
        _RAW_CODE.set(data.get("code") if isinstance(data, dict) else None)
        return data

    @field_validator("code")
    @classmethod
    def _code_is_lawful(cls, value: str, info: ValidationInfo) -> str:
        if not _checks_wording(info):
            return value
        problems = prohibited_ground_problems(f"category {value}", {"code": value})
        if problems:
            raise _problem("; ".join(problems))
        return value

    @field_validator("title", "title_zh", "description")
    @classmethod
    def _text_is_lawful(cls, value: str, info: ValidationInfo) -> str:
        assert info.field_name is not None
        if not _checks_wording(info):
            return value
        problems = prohibited_ground_problems(_label(info), {info.field_name: value})
        if problems:
            raise _problem("; ".join(problems))
        return value

    @field_validator("subject_kinds", "authorities")
    @classmethod
    def _no_repeats(cls, value: list[Any], info: ValidationInfo) -> list[Any]:
        repeated = sorted({str(v) for v in value if value.count(v) > 1})
        if repeated:
            raise _problem(f"{_label(info)}: repeated {', '.join(repeated)} in {info.field_name}")
        return value

    @field_validator("authorities")
    @classmethod
    def _persons_need_a_decision_maker(
        cls, value: list[AuthorityType], info: ValidationInfo
    ) -> list[AuthorityType]:
        # Principle 1: a person's record rests on a judgment or a penalty decision, and the
        # monitoring unit issues neither.
        kinds = info.data.get("subject_kinds") or []
        if SubjectKind.PERSON in kinds and all(a is AuthorityType.MONITORING for a in value):
            raise _problem(
                f"{_label(info)}: a category about persons needs a court or an authority "
                "that issues administrative penalties"
            )
        return value

    @field_validator("legal_basis")
    @classmethod
    def _has_legal_basis(cls, value: list[LegalBasis], info: ValidationInfo) -> list[LegalBasis]:
        problems = legal_basis_problems(_label(info), value)
        if problems:
            raise _problem("; ".join(problems))
        return value

    @field_validator("grounds")
    @classmethod
    def _grounds_are_lawful(cls, value: list[str], info: ValidationInfo) -> list[str]:
        if not _checks_wording(info):
            return value
        problems = prohibited_ground_problems(_label(info), {}, value)
        if problems:
            raise _problem("; ".join(problems))
        return value

    @field_validator("automated")
    @classmethod
    def _automation_is_bounded(cls, value: bool, info: ValidationInfo) -> bool:
        kinds = info.data.get("subject_kinds") or []
        authorities = info.data.get("authorities") or []
        problems: list[str] = []
        if value and SubjectKind.PERSON in kinds:
            # Principle 2: no surveillance-based records about people.
            problems.append(f"{_label(info)}: an automated category may not concern persons")
        if value and authorities and AuthorityType.MONITORING not in authorities:
            problems.append(
                f"{_label(info)}: an automated category must list the 'monitoring' authority"
            )
        if not value and AuthorityType.MONITORING in authorities:
            # Monitoring evidence may only enter through the automated, reviewable path.
            problems.append(
                f"{_label(info)}: authority 'monitoring' may issue only automated categories"
            )
        if problems:
            raise _problem("; ".join(problems))
        return value

    @model_validator(mode="after")
    def _cited_law_is_lawful(self, info: ValidationInfo) -> Category:
        # the texts the field validators above do not read: the legal basis cited
        if not _checks_wording(info):
            return self
        problems = prohibited_ground_problems(
            f"category {self.code}", text_fields(self, skip=_CHECKED_BY_FIELD)
        )
        if problems:
            raise _problem("; ".join(problems))
        return self

    @model_validator(mode="after")
    def _commendations_of_persons_are_bounded(self) -> Category:
        if not self.commends_persons:
            return self
        label = f"category {self.code}"
        problems: list[str] = []
        if self.polarity is not Polarity.POSITIVE:
            problems.append(f"{label}: a commendation of persons has positive polarity")
        if self.subject_kinds != [SubjectKind.PERSON]:
            # organisations' honours have their own category (HON-COMMENDATION)
            problems.append(f"{label}: a commendation of persons concerns persons only")
        others = sorted(a.value for a in self.authorities if a not in GOVERNMENT_BODIES)
        if others:
            problems.append(
                f"{label}: a commendation of persons is conferred by a government body, "
                f"not {', '.join(others)}"
            )
        if problems:
            raise _problem("; ".join(problems))
        return self

    @field_validator("measured")
    @classmethod
    def _measurement_is_automated(cls, value: bool, info: ValidationInfo) -> bool:
        if value and not info.data.get("automated"):
            raise _problem(f"{_label(info)}: a measured category must also be automated")
        return value

    @property
    def concerns_persons(self) -> bool:
        return SubjectKind.PERSON in self.subject_kinds


class Catalogue(BaseModel):
    """A published set of categories, looked up by code."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]*$")
    title: str = Field(min_length=1)
    version: str = Field(min_length=1)
    categories: list[Category] = Field(min_length=1)

    _index: dict[str, Category] = PrivateAttr(default_factory=dict)

    @field_validator("version", mode="before")
    @classmethod
    def _version_as_text(cls, value: object) -> object:
        # `version: 2024.1` in YAML is a float; a version is a label.
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        return value

    @field_validator("categories")
    @classmethod
    def _codes_unique(cls, value: list[Category]) -> list[Category]:
        first: dict[str, int] = {}
        problems: list[str] = []
        for index, category in enumerate(value):
            if category.code in first:
                problems.append(
                    f"duplicate category code {category.code} "
                    f"(categories[{first[category.code]}] and categories[{index}])"
                )
            else:
                first[category.code] = index
        if problems:
            raise _problem("; ".join(problems))
        return value

    def model_post_init(self, context: Any, /) -> None:
        self._index = {category.code: category for category in self.categories}

    def get(self, code: str) -> Category | None:
        return self._index.get(code)

    def __contains__(self, code: object) -> bool:
        return code in self._index

    # BaseModel.__iter__ yields (field, value) pairs; a catalogue is a collection of
    # categories, and that is what callers iterate over.
    def __iter__(self) -> Iterator[Category]:  # type: ignore[override]
        return iter(self.categories)

    def __len__(self) -> int:
        return len(self.categories)

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(self._index)


class CatalogueError(ValueError):
    """A catalogue file that cannot be loaded; `problems` lists every reason found."""

    def __init__(self, source: str | Path, problems: list[str]) -> None:
        self.source = str(source)
        self.problems = problems
        super().__init__("\n".join(f"{self.source}: {p}" for p in problems))


def _describe(error: Any) -> str:
    kind = error["type"]
    loc = error["loc"]
    if kind == "extra_forbidden":
        return f"unknown field '{loc[-1]}'"
    if kind == "missing":
        return f"missing field '{loc[-1]}'"
    message = str(error["msg"])
    if kind == "catalogue":
        return message
    value = error.get("input")
    if isinstance(value, str | int | float | bool) or value is None:
        return f"{message} (got {value!r})"
    return message


def _checks_wording(info: ValidationInfo) -> bool:
    return not (isinstance(info.context, dict) and info.context.get("wording_checked"))


def parse_catalogue(
    text: str, source: str | Path = "<string>", *, wording_checked: bool = False
) -> Catalogue:
    """Parse and validate catalogue YAML; `source` names it in error messages.
    ``wording_checked``: the prohibited-ground scan of its texts is known to pass (the
    shipped catalogue, which the test suite scans), so it is not run again."""
    try:
        data, root = load_strict(text)
    except YamlProblem as exc:
        raise CatalogueError(source, [str(exc)]) from exc
    if not isinstance(data, dict):
        raise CatalogueError(source, ["(top level): a catalogue must be a YAML mapping"])
    try:
        return Catalogue.model_validate(data, context={"wording_checked": wording_checked})
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            loc = tuple(error["loc"])
            line = node_line(root, loc)
            where = format_loc(loc) + (f" (line {line})" if line is not None else "")
            problems.append(f"{where}: {_describe(error)}")
        raise CatalogueError(source, problems) from exc


def load_catalogue(path: Path | str, *, wording_checked: bool = False) -> Catalogue:
    """Load a catalogue file, raising `CatalogueError` with every problem found."""
    path = Path(path)
    try:
        text = read_policy_file(path)
    except YamlProblem as exc:
        raise CatalogueError(path, [str(exc)]) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise CatalogueError(path, [f"cannot read: {exc}"]) from exc
    return parse_catalogue(text, path, wording_checked=wording_checked)


@functools.cache
def national_catalogue() -> Catalogue:
    """The shipped national catalogue (loaded once per process). Its wording is scanned for
    prohibited grounds by the test suite (tests/test_catalogue.py) and by `trustledger
    catalogue validate`, not at every process start: the lexicon's segmenter and lemmatiser
    cost about half a second to load, which a check or a profile should not pay. Every
    other check of it (legal basis, authorities, automation, persons) still runs."""
    return load_catalogue(NATIONAL_CATALOGUE_PATH, wording_checked=True)
