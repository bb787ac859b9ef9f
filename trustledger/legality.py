"""Legality checks shared by the record catalogue and the rulebook validator.

DESIGN principle 1 (legal basis or nothing) and principle 2 (prohibited grounds are
refused) are enforced here so that every place that defines a category, a list or a
measure refuses the same things with the same words.

The prohibited-ground scan is a lint, not a classifier: it looks for the vocabulary a
rulebook would have to use to score or list on a prohibited ground, in English and
Chinese. Phrases that contain such words but mean something lawful and routine
("infectious disease control", "bankruptcy petition", "demonstration enterprise") are
masked first so that the shipped catalogue's ordinary vocabulary passes.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "LegalBasis",
    "LegalityError",
    "ProhibitedGround",
    "declared_prohibited_grounds",
    "ensure_legal",
    "find_prohibited_grounds",
    "legal_basis_problems",
    "prohibited_ground_problems",
]


class LegalBasis(BaseModel):
    """A citation of the legal instrument (and article) something rests on."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    instrument: str = Field(min_length=1, description='e.g. "NDRC Order No. 58 (2023)"')
    article: str | None = None
    note: str | None = None

    @field_validator("article", mode="before")
    @classmethod
    def _article_as_text(cls, value: object) -> object:
        # YAML reads `article: 48` as an int; an article number is a label, not a quantity.
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        return value

    def __str__(self) -> str:
        text = self.instrument
        if self.article:
            text += f", art. {self.article}"
        return text


class ProhibitedGround(StrEnum):
    """Grounds no category, list or measure may rest on (DESIGN principle 2)."""

    POLITICAL_OPINION = "political_opinion"
    PROTEST_ASSEMBLY = "protest_assembly"
    PETITIONING = "petitioning"
    RELIGION = "religion"
    ETHNICITY = "ethnicity"
    UNION_MEMBERSHIP = "union_membership"
    HEALTH = "health"
    SEXUAL_ORIENTATION = "sexual_orientation"
    RELATIVES_CONDUCT = "relatives_conduct"


class LegalityError(ValueError):
    """One or more legality problems; each message names the item and the problem."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems: list[str] = list(problems)
        super().__init__("\n".join(self.problems))


# English terms are regular expressions matched case-insensitively as whole words;
# a bare word that is ordinary regulatory English ("health", "union", "faith",
# "opinion", "assembly", "strike") is deliberately absent, only its prohibited senses are
# listed. `[a-z]*` rather than `\w*` so that a suffix never swallows adjacent CJK text.
_ENGLISH_TERMS: dict[ProhibitedGround, tuple[str, ...]] = {
    ProhibitedGround.POLITICAL_OPINION: (
        r"politic[a-z]*",
        r"dissiden[a-z]*",
        r"freedom\s+of\s+(?:speech|expression)",
        r"anti[\s-]*(?:government|party|state)",
        r"critici[sz][a-z]*\s+(?:of\s+)?(?:the\s+)?(?:government|party|state|officials?|leaders?)",
        r"party\s+(?:membership|affiliation)",
    ),
    ProhibitedGround.PROTEST_ASSEMBLY: (
        r"protest(?:s|ed|ers?|ing|ors?)?",
        # "demonstration enterprise/zone/project" is the usual rendering of 示范 (a model).
        r"demonstrat(?:ions?|ors?)(?!\s+(?:enterprises?|projects?|zones?|bases?|units?"
        r"|sites?|programmes?|programs?|areas?|parks?)\b)",
        r"(?:public|unlawful|illegal|mass)\s+(?:assembl(?:y|ies)|gatherings?)",
        r"freedom\s+of\s+assembly",
        r"rall(?:y|ies)",
        r"sit[\s-]*ins?",
        r"strike\s+action",
        r"(?:go|goes|went|going|gone)\s+on\s+strike",
    ),
    ProhibitedGround.PETITIONING: (r"petition[a-z]*",),
    ProhibitedGround.RELIGION: (
        r"religio[a-z]*",
        r"worship[a-z]*",
        r"church(?:es)?",
        r"mosques?",
        r"temples?",
        r"clergy",
        r"spiritual\s+(?:practices?|beliefs?|movements?)",
    ),
    ProhibitedGround.ETHNICITY: (
        r"ethnic[a-z]*",
        r"racial[a-z]*",
        r"race\s+or\s+(?:origin|descent)",
        r"u[iy]g?hurs?",
        r"tibetans?",
    ),
    ProhibitedGround.UNION_MEMBERSHIP: (
        r"trade[\s-]+union[a-z]*",
        r"labou?r[\s-]+union[a-z]*",
        r"union\s+(?:member[a-z]*|activit[a-z]*|organi[sz][a-z]*|leaders?|dues)",
        r"unioni[sz][a-z]*",
    ),
    ProhibitedGround.HEALTH: (
        r"health\s+status",
        r"state\s+of\s+health",
        r"mental\s+health",
        r"medical\s+(?:conditions?|history|histories)",
        r"illness(?:es)?",
        r"diseases?",
        r"disabilit(?:y|ies)",
        r"disabled\s+(?:persons?|people)",  # bare "disabled" describes monitoring equipment
        r"psychiatric",
        r"hepatitis",
        r"(?-i:HIV|AIDS)",  # upper case only: "aids" is an ordinary verb
    ),
    ProhibitedGround.SEXUAL_ORIENTATION: (
        r"sexual\s+orientation",
        r"homosexual[a-z]*",
        r"bisexual[a-z]*",
        r"gay",
        r"lesbian[a-z]*",
        r"transgender[a-z]*",
        r"lgbt[a-z]*",
        r"gender\s+identity",
        r"same[\s-]+sex",
    ),
    ProhibitedGround.RELATIVES_CONDUCT: (
        # "relative to", "relative humidity" and "relatively" are ordinary technical English.
        r"relatives?(?:'s?)?(?![a-z])(?!\s+(?:to|humidity|error|deviation|density|terms)\b)",
        r"family\s+members?",
        r"next\s+of\s+kin",
        r"kin(?:ship|sfolk|sman|smen)?",
        r"guilt\s+by\s+association",
        r"(?:spouse|sibling|child|children)(?:'s?|s'?)?\s+(?:conduct|behaviou?r|records?|debts?"
        r"|offen[cs]es?)",
    ),
}

# Chinese terms are literals; whitespace between characters is tolerated so that
# "上 访" does not slip past. Characters shared with lawful words (子女 for the SPC's
# school-fee restriction, 配偶 in enforcement, 病 in 职业病) are not listed.
_CHINESE_TERMS: dict[ProhibitedGround, tuple[str, ...]] = {
    ProhibitedGround.POLITICAL_OPINION: ("政治", "政见", "言论", "异见", "反政府", "妄议"),
    ProhibitedGround.PROTEST_ASSEMBLY: (
        "集会",
        "游行",
        "示威",
        "静坐",
        "聚众",
        "罢工",
        "抗议",
        "群体性事件",
    ),
    ProhibitedGround.PETITIONING: ("信访", "上访", "缠访", "闹访"),
    ProhibitedGround.RELIGION: ("宗教", "信仰", "教会", "教徒", "清真寺", "寺庙", "礼拜", "传教"),
    ProhibitedGround.ETHNICITY: ("民族", "种族", "维吾尔", "藏族"),
    ProhibitedGround.UNION_MEMBERSHIP: ("工会",),
    ProhibitedGround.HEALTH: (
        "健康状况",
        "患病",
        "疾病",
        "病史",
        "残疾",
        "精神病",
        "艾滋病",
        "乙肝",
        "病毒携带",
    ),
    ProhibitedGround.SEXUAL_ORIENTATION: ("性取向", "同性恋", "双性恋", "跨性别", "性少数"),
    ProhibitedGround.RELATIVES_CONDUCT: ("亲属", "家属", "亲戚", "近亲", "家庭成员", "连坐"),
}

# Lawful phrases that contain a term above; a match inside one of these is not reported.
_BENIGN_ENGLISH: tuple[str, ...] = (
    r"(?:infectious|communicable|occupational|epidemic|endemic|animal|plant|zoonotic)"
    r"\s+diseases?",
    r"diseases?\s+(?:prevention|control|surveillance)",
    r"(?:bankruptcy|insolvency|liquidation|winding[\s-]+up)\s+petitions?",
    r"petitions?\s+for\s+(?:bankruptcy|insolvency|liquidation|winding[\s-]+up|retrial)",
    r"protest(?:ed)?\s+(?:bills?|notes?|cheques?|checks?|drafts?)",
    r"(?:bills?|notes?|cheques?|drafts?)\s+protest[a-z]*",
    r"protest\s+of\s+(?:an?\s+)?(?:bills?|notes?|cheques?|drafts?)",
)
# Chinese is written without spaces, so a term can also appear across a word boundary:
# 旅游|行政 contains 游行, 行政|治理 contains 政治, 职工|会议 contains 工会.
_BENIGN_CHINESE: tuple[str, ...] = (
    # Whole words only: a short mask such as 上访问 would also hide 上访问题.
    "疾病预防控制",
    "疾病预防",
    "疾病防控",
    "旅游行政",
    "旅游行业",
    "旅游行程",
    "旅游行为",
    "行政治理",
    "行政治安",
    "收集会计",
    "职工会议",
    "员工会议",
    "线上访问",
    "国家属地",
)


def _english(pattern: str) -> str:
    return rf"(?<![a-z])(?:{pattern})(?![a-z])"


def _chinese(term: str) -> str:
    return r"\s*".join(re.escape(char) for char in term)


_TERM_PATTERNS: tuple[tuple[ProhibitedGround, re.Pattern[str]], ...] = tuple(
    (ground, re.compile(_english(p), re.IGNORECASE))
    for ground, ps in _ENGLISH_TERMS.items()
    for p in ps
) + tuple((ground, re.compile(_chinese(t))) for ground, ts in _CHINESE_TERMS.items() for t in ts)
_BENIGN_PATTERNS: tuple[re.Pattern[str], ...] = tuple(
    re.compile(_english(p), re.IGNORECASE) for p in _BENIGN_ENGLISH
) + tuple(re.compile(_chinese(t)) for t in _BENIGN_CHINESE)


def _normalise(text: str) -> str:
    # NFKC folds full-width Latin letters (ｐｅｔｉｔｉｏｎ) into the ASCII the patterns expect.
    return unicodedata.normalize("NFKC", text)


def find_prohibited_grounds(text: str) -> list[tuple[ProhibitedGround, str]]:
    """Prohibited grounds whose vocabulary appears in `text`, with the matched term.

    Results are in order of appearance, one per distinct (ground, term).
    """
    text = _normalise(text)
    benign = [m.span() for p in _BENIGN_PATTERNS for m in p.finditer(text)]
    hits: list[tuple[int, ProhibitedGround, str]] = []
    for ground, pattern in _TERM_PATTERNS:
        for match in pattern.finditer(text):
            start, end = match.span()
            if any(start < b_end and b_start < end for b_start, b_end in benign):
                continue
            hits.append((start, ground, match.group(0)))
    hits.sort(key=lambda hit: hit[0])
    seen: set[tuple[ProhibitedGround, str]] = set()
    found: list[tuple[ProhibitedGround, str]] = []
    for _, ground, term in hits:
        key = (ground, term.casefold())
        if key not in seen:
            seen.add(key)
            found.append((ground, term))
    return found


def _tag_key(tag: str) -> str:
    return re.sub(r"[\s\-]+", "_", _normalise(tag).strip().casefold())


def declared_prohibited_grounds(tags: Iterable[str]) -> list[tuple[ProhibitedGround, str]]:
    """Tags in a `grounds: [...]` declaration that name a prohibited ground outright.

    Spelling variants ("Petitioning", "relatives-conduct") count: the declaration is what
    the author meant, not a string to be matched byte for byte.
    """
    values = {ground.value: ground for ground in ProhibitedGround}
    return [(values[_tag_key(tag)], tag) for tag in tags if _tag_key(tag) in values]


FieldText = str | Iterable[str] | None


def prohibited_ground_problems(
    item: str,
    fields: Mapping[str, FieldText],
    grounds: Iterable[str] = (),
) -> list[str]:
    """Problem messages for `item` (e.g. ``"category SOC-PETITION"``).

    `fields` maps a field name to its text (or several texts); `grounds` is the item's
    declared ground tags, checked both as declarations and as text.
    """
    problems: list[str] = []
    for name, value in fields.items():
        texts = [value] if isinstance(value, str) else list(value or ())
        for text in texts:
            for ground, term in find_prohibited_grounds(text):
                problems.append(
                    f"{item}: prohibited ground '{ground}' (matched '{term}' in {name})"
                )
    declared = {tag for _, tag in declared_prohibited_grounds(grounds)}
    for ground, tag in declared_prohibited_grounds(grounds):
        problems.append(f"{item}: prohibited ground '{ground}' (declared as '{tag}' in grounds)")
    for tag in grounds:
        if tag in declared:
            continue
        for ground, term in find_prohibited_grounds(tag):
            problems.append(f"{item}: prohibited ground '{ground}' (matched '{term}' in grounds)")
    return problems


def legal_basis_problems(item: str, legal_basis: Sequence[LegalBasis] | None) -> list[str]:
    """Principle 1: an item without a cited legal basis is refused."""
    if not legal_basis:
        return [f"{item}: no legal basis"]
    return []


def ensure_legal(
    item: str,
    *,
    legal_basis: Sequence[LegalBasis] | None,
    fields: Mapping[str, FieldText],
    grounds: Iterable[str] = (),
) -> None:
    """Raise `LegalityError` listing every legal-basis and prohibited-ground problem."""
    grounds = list(grounds)
    problems = legal_basis_problems(item, legal_basis) + prohibited_ground_problems(
        item, fields, grounds
    )
    if problems:
        raise LegalityError(problems)
