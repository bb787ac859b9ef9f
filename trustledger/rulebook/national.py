"""The national basic list of dishonesty sanction measures, and what counts as a law.

Guobanfa [2020] No. 49 forbids adding or aggravating dishonesty sanctions at will: a
sanction must rest on a law, a regulation or a central policy document, and the NDRC and
PBOC's national basic list (全国失信惩戒措施基础清单) compiles the measures that do. The
list ships as data (``national_measures.yaml``, next to this module) with its source, each
item mapped to the platform's action codes; the legality lint uses it to refuse a
restriction outside the list unless the measure cites a law that provides it.

The list sits here rather than beside the action catalogue (``trustledger.sanctions``)
because the lint that reads it is in this package and ``sanctions`` already imports
``rulebook``; that every mapped action is catalogued is checked by the tests.
"""

from __future__ import annotations

import functools
import re
from datetime import date
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from trustledger.legality import LegalBasis
from trustledger.rulebook.schema import ACTION_PATTERN
from trustledger.yamlfile import YamlProblem, parse_model, read_policy_file

__all__ = [
    "NATIONAL_MEASURES_PATH",
    "NationalList",
    "NationalListError",
    "NationalMeasure",
    "NationalSource",
    "cites_law",
    "is_law",
    "load_national_list",
    "parse_national_list",
]

NATIONAL_MEASURES_PATH = Path(__file__).with_name("national_measures.yaml")


class NationalListError(ValueError):
    """The national list cannot be loaded; the message names the file, line and item."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class LaterEdition(_Model):
    edition: str = Field(min_length=1)
    note: str = Field(min_length=1)


class NationalSource(_Model):
    """Which edition of the list this is, who issued it, and where it was read."""

    title: str = Field(min_length=1)
    title_zh: str = Field(min_length=1)
    edition: str = Field(min_length=1)
    issued_by: tuple[str, ...] = Field(min_length=1)
    compiled_with: str | None = None
    parts: int | None = Field(default=None, ge=1, description="parts of the list, as issued")
    items: int | None = Field(default=None, ge=1, description="items of the list, as issued")
    issued: str = Field(min_length=1, description="YYYY-MM or YYYY-MM-DD")
    issued_unconfirmed: str | None = None
    implements: str = Field(min_length=1)
    purpose: str = Field(min_length=1)
    later_editions: tuple[LaterEdition, ...] = ()
    consulted: tuple[str, ...] = Field(min_length=1)

    @field_validator("issued", mode="before")
    @classmethod
    def _issued_as_text(cls, value: object) -> object:
        return value.isoformat() if isinstance(value, date) else value

    def describe(self) -> str:
        """How messages name the list: `the national basic list … (2021 edition)`."""
        return f"the national basic list of dishonesty sanction measures ({self.edition} edition)"


class NationalMeasure(_Model):
    """One item of the list: its text, the laws it rests on, the actions it covers."""

    number: str = Field(min_length=1)
    text_zh: str = Field(min_length=1)
    text: str = Field(min_length=1)
    laws: tuple[LegalBasis, ...] = Field(min_length=1)
    actions: tuple[str, ...] = ()
    unconfirmed: bool = False
    checked: str | None = Field(default=None, description="where a confirmed item was read")
    note: str | None = Field(default=None, description="how the platform maps its actions")

    @field_validator("actions")
    @classmethod
    def _actions(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for code in value:
            if not re.fullmatch(ACTION_PATTERN, code):
                raise ValueError(f"action code {code!r} is not of the form {ACTION_PATTERN}")
        if len(set(value)) != len(value):
            raise ValueError("actions are repeated")
        return value


class NationalList(_Model):
    version: str = Field(min_length=1)
    source: NationalSource
    measures: tuple[NationalMeasure, ...] = Field(min_length=1)

    @field_validator("measures")
    @classmethod
    def _numbers_unique(cls, value: tuple[NationalMeasure, ...]) -> tuple[NationalMeasure, ...]:
        numbers = [m.number for m in value]
        repeated = sorted({n for n in numbers if numbers.count(n) > 1})
        if repeated:
            raise ValueError(f"item number(s) repeated: {', '.join(repeated)}")
        for measure in value:
            if not measure.unconfirmed and not measure.checked:
                raise ValueError(
                    f"item {measure.number}: a confirmed item says where it was checked "
                    "(checked: …), or is marked unconfirmed: true"
                )
        return value

    @functools.cached_property
    def covering(self) -> dict[str, tuple[NationalMeasure, ...]]:
        """Action code → the items of the list that cover it."""
        out: dict[str, list[NationalMeasure]] = {}
        for measure in self.measures:
            for code in measure.actions:
                out.setdefault(code, []).append(measure)
        return {code: tuple(items) for code, items in out.items()}

    def covers(self, action: str) -> bool:
        return action in self.covering


def parse_national_list(text: str, source: str | Path = "<string>") -> NationalList:
    """Parse the list's YAML; every problem is reported as `source:line: where: what`."""
    return parse_model(text, NationalList, source, NationalListError)


@functools.cache
def load_national_list(path: Path = NATIONAL_MEASURES_PATH) -> NationalList:
    """The national list (the shipped one unless another file is named), read once."""
    try:
        text = read_policy_file(path)
    except (OSError, UnicodeDecodeError, YamlProblem) as exc:
        raise NationalListError(f"{path}: cannot read the national list: {exc}") from exc
    return parse_national_list(text, path)


# ── What counts as a law ────────────────────────────────────────────────────────────────
#
# A law (法律) is an act of the National People's Congress or its Standing Committee. By
# the drafting convention of the PRC its name is "中华人民共和国…法" and its English name
# "… Law (of the PRC / of the People's Republic of China)"; administrative regulations
# (条例), rules (办法, 规定), judicial interpretations (解释), opinions, notices, decisions
# and memoranda are not laws, even when their names contain one ("Regulations on the
# Implementation of the Government Procurement Law", 政府采购法实施条例).

_TRAILING_NOTE = re.compile(r"\s*[(（][^()（）]*[)）]\s*$")
_ZH_NOT_LAW = re.compile(r"条例|规定|规则|细则|解释|意见|通知|决定|备忘录|(?:办|方|做)法$")
_EN_LAW = re.compile(
    r"\bLaw(?:\s+of\s+(?:the\s+)?(?:PRC|People's\s+Republic\s+of\s+China|China))?$",
    re.IGNORECASE,
)
_EN_LAW_ON = re.compile(
    r"^(?:the\s+)?Law\s+of\s+the\s+(?:PRC|People's\s+Republic\s+of\s+China)\s+on\s", re.IGNORECASE
)
_EN_NOT_LAW = re.compile(
    r"\b(?:regulations?|rules?|provisions?|measures?|interpretations?|opinions?|notices?"
    r"|notifications?|implementing|implementation|decisions?|decrees?|orders?|guiding"
    r"|guidelines?|memorand(?:um|a)|circulars?|announcements?)\b",
    re.IGNORECASE,
)


def is_law(instrument: str) -> bool:
    """Whether `instrument` names a law of the NPC or its Standing Committee (see above).

    The name is read without 《》 and without a trailing parenthesised note such as
    "(2019 amendment)"; it must end in 法 (not 办法, 方法…) or in "Law", "Law of the PRC",
    "Law of the People's Republic of China" (or begin "Law of the PRC on …"), and name no
    lower kind of instrument.
    """
    name = instrument.strip().strip("《》").strip()
    while (stripped := _TRAILING_NOTE.sub("", name)) != name:
        name = stripped.strip("《》").strip()
    if not name:
        return False
    if name.endswith("法"):
        return _ZH_NOT_LAW.search(name) is None
    named = _EN_LAW.search(name) is not None or _EN_LAW_ON.search(name) is not None
    return named and _EN_NOT_LAW.search(name) is None


def cites_law(legal_basis: tuple[LegalBasis, ...] | list[LegalBasis]) -> bool:
    """Whether a legal basis cites a law, with the article that provides the measure."""
    return any(basis.article and is_law(basis.instrument) for basis in legal_basis)
