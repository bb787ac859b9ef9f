"""Legality checks shared by the record catalogue and the rulebook validator.

DESIGN principle 1 (legal basis or nothing) and principle 2 (prohibited grounds are
refused) are enforced here so that every place that defines a category, a list or a
measure refuses the same things with the same words.

The prohibited-ground scan looks for the wording a category, list or measure would have
to use to rest on a prohibited ground — the plain words and the usual paraphrases, in
Chinese and English — matched over words (Chinese cut by a segmenter, English reduced to
lemmas), with the lawful senses of the same words declared beside them ("infectious
disease control", "bankruptcy petition", 疾病预防控制): the lexicon is data,
``prohibited_grounds.yaml``, matched by ``lexicon``. It is measured on a labelled set of
titles (tests/data/prohibited_grounds); it is a lint that a person reviews, not a judge.
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
    "text_fields",
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


def _normalise(text: str) -> str:
    # NFKC folds full-width Latin letters (ｐｅｔｉｔｉｏｎ) into the ASCII the patterns expect.
    return unicodedata.normalize("NFKC", text)


def find_prohibited_grounds(text: str) -> list[tuple[ProhibitedGround, str]]:
    """Prohibited grounds whose wording appears in `text`, with the words as they stand.

    Results are in order of appearance, one per distinct (ground, words).
    """
    from trustledger.legality.lexicon import find

    seen: set[tuple[ProhibitedGround, str]] = set()
    found: list[tuple[ProhibitedGround, str]] = []
    for name, words in find(text):
        key = (ProhibitedGround(name), words.casefold())
        if key not in seen:
            seen.add(key)
            found.append((key[0], words))
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


def text_fields(model: BaseModel, skip: Iterable[str] = ("grounds",)) -> dict[str, str]:
    """Every text an item carries, by its path (``title``, ``legal_basis[0].note``,
    ``when``): a prohibited ground can be written into any of them, so all are checked.
    ``skip``: top-level fields checked another way (declared ``grounds``)."""
    found: dict[str, str] = {}

    def walk(value: object, path: str) -> None:
        if isinstance(value, str):
            found[path] = value
        elif isinstance(value, BaseModel):
            for name in type(value).model_fields:
                walk(getattr(value, name), f"{path}.{name}" if path else name)
        elif isinstance(value, list | tuple):
            for index, item in enumerate(value):
                walk(item, f"{path}[{index}]")
        elif isinstance(value, dict):
            for key, item in value.items():
                walk(item, f"{path}.{key}")
        elif isinstance(getattr(value, "text", None), str):
            found[path] = value.text  # type: ignore[attr-defined]  # a parsed condition

    skipped = set(skip)
    for name in type(model).model_fields:
        if name not in skipped:
            walk(getattr(model, name), name)
    return found


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
