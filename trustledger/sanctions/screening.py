"""Name screening: a checker who has only a name gets ranked candidate subjects.

A name is weak evidence: two firms may share a trade name, a typo may turn one name into
another. So every candidate carries the outcome ``"review"`` and nothing else; a name match
alone never clears or denies anyone. The score only orders the candidates, and the
features behind it are returned so the reviewer can see why a candidate ranks where it does.

Persons are never screened by name here (principle 6): only organisations are indexed.

Pipeline
--------
1. ``parse_name`` splits a name into its *distinctive part* (trade name and business words),
   its *places* (a bracketed city such as ``（深圳）`` or a leading region such as
   ``深圳市``) and its *legal form* (有限公司, 有限责任公司, 股份有限公司, Co., Ltd., …, all
   folded into one canonical token), after NFKC and case folding.
2. ``ScreeningIndex`` keeps an inverted index from grams of the distinctive part to name
   forms: for Chinese, adjacent character pairs and pairs one character apart (so a single
   replaced, dropped or inserted character still leaves shared grams); for romanised names,
   whole words and character trigrams. Grams found in more than ``gram_cap`` (10,000 by
   default) name forms (科技, 贸易, ``technology``) are dropped at build time: they select
   nothing and would make every lookup scan a large share of the register.
3. A lookup counts gram hits, keeps the ``shortlist`` forms with most hits, and scores
   those with rapidfuzz and the other features below.

Features and weights (fixed; see ``WEIGHTS``)
----------------------------------------------
========================  ======  ==========================================================
feature                   weight  meaning
========================  ======  ==========================================================
``name_similarity``       0.70    rapidfuzz similarity (0–1) of the distinctive parts: the
                                  best of ``ratio`` on the distinctive part with and without
                                  a leading region, and ``token_set_ratio`` for romanised
                                  names (word order and extra words matter less)
``place_match``           0.10    1 when query and candidate name share a place, 0 when both
                                  name places and none is shared, 0.5 when either names none
``legal_form_match``      0.05    1 when both carry the same canonical legal form or both
                                  none, 0.5 otherwise
``region_match``          0.10    only when a region is given: the share of the requested
                                  levels (province, prefecture, county; from 2, 4 or 6
                                  digits) on which the candidate's division code agrees
``address_similarity``    0.05    only when an address is given: rapidfuzz ``ratio`` of the
                                  normalised addresses (0 when the subject has none)
``former_name``           −0.03   1 when the match is on a former name: a current name that
                                  matches as well ranks first
``alias``                 0       1 when the match is on an alias (e.g. romanised); shown,
                                  not weighted
========================  ======  ==========================================================

``score = Σ wᵢ·vᵢ / Σ wᵢ`` over the positively weighted features present, plus the flag
terms, clipped to [0, 1]. Features that do not apply (no region, no address) are left out of
both sums rather than counted as zero, so the score does not fall just because the checker
knew less.
"""

from __future__ import annotations

import csv
import heapq
import re
import sys
import unicodedata
from array import array
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Literal

import orjson
from rapidfuzz import fuzz

from trustledger.ledger.projection import SubjectRow

NameForm = Literal["name", "former_name", "alias"]
Outcome = Literal["review"]

WEIGHTS: dict[str, float] = {
    "name_similarity": 0.70,
    "place_match": 0.10,
    "legal_form_match": 0.05,
    "region_match": 0.10,
    "address_similarity": 0.05,
    "former_name": -0.03,
    "alias": 0.0,
}

FEATURE_DESCRIPTIONS: dict[str, str] = {
    "name_similarity": "rapidfuzz similarity of the distinctive parts of the names (0-1)",
    "place_match": "1 shared place in the names, 0 different places, 0.5 unknown",
    "legal_form_match": "1 same canonical legal form (or both none), 0.5 otherwise",
    "region_match": "share of requested division levels the candidate agrees on",
    "address_similarity": "rapidfuzz ratio of the normalised addresses (0-1)",
    "former_name": "1 when the matched name is a former name",
    "alias": "1 when the matched name is an alias (e.g. romanised)",
}

LEGAL_FORM_TOKEN = "ltd"
_ORDERLESS_DISCOUNT = 0.9

# Longest first, so 股份有限公司 is not read as 股份 + 有限公司.
_CJK_LEGAL_FORMS = ("股份有限公司", "有限责任公司", "有限公司", "有限", "公司")
_LATIN_LEGAL_WORDS = frozenset(
    {"co", "ltd", "limited", "company", "corp", "corporation", "inc", "incorporated", "llc"}
)
_BRACKETED = re.compile(r"\(([^()]*)\)")
# NFKC has already turned full-width punctuation into ASCII; what is left of CJK
# punctuation (、。·《》…) is removed by category below.
_SPACES = re.compile(r"\s+")


def _is_cjk(ch: str) -> bool:
    return "\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff"


def _strip_punctuation(text: str) -> str:
    # Punctuation and symbols become spaces so "co.,ltd." still splits into words.
    return "".join(" " if unicodedata.category(ch)[0] in "PS" else ch for ch in text)


def _join_words(text: str) -> str:
    """Single spaces between Latin words; none next to a CJK character."""
    words = text.split()
    out = ""
    for word in words:
        if out and not (_is_cjk(out[-1]) or _is_cjk(word[0])):
            out += " "
        out += word
    return out


@lru_cache(maxsize=1)
def _region_names() -> tuple[dict[str, str], int]:
    """Full division names (and short province names) mapped to their short place token."""
    text = resources.files("trustledger.data").joinpath("divisions.csv").read_text("utf-8")
    table: dict[str, str] = {}
    for row in csv.DictReader(text.splitlines()):
        name = row["name"]
        short = _short_place(name)
        table[name] = short
        # Registered names use short province names as a prefix (广东华韵…); short city and
        # county names are too often also trade characters (东方, 长安) to strip blindly.
        if row["code"].endswith("0000"):
            table[short] = short
    return table, max(len(k) for k in table)


def _short_place(name: str) -> str:
    if name.endswith("自治区"):
        return "内蒙古" if name.startswith("内蒙古") else name[:2]
    if len(name) > 2 and name[-1] in "省市区县":
        return name[:-1]
    return name


def _strip_regions(text: str) -> tuple[str, list[str]]:
    table, longest = _region_names()
    places: list[str] = []
    stripped = True
    while stripped:
        stripped = False
        # Keep at least three characters: in 云南商会 the province is the distinctive part.
        for size in range(min(longest, len(text) - 3), 1, -1):
            head = text[:size]
            if head in table:
                places.append(table[head])
                text = text[size:]
                stripped = True
                break
    return text, places


@dataclass(frozen=True, slots=True)
class ParsedName:
    """A name split into the parts screening compares separately."""

    distinctive: str  # region prefix removed: what tells this organisation apart
    full: str  # distinctive part with any leading region kept, for a second comparison
    places: tuple[str, ...]
    legal_form: str  # LEGAL_FORM_TOKEN or ""
    latin: bool


def _normalise_place(text: str) -> str:
    text = _SPACES.sub("", _strip_punctuation(text))
    return _short_place(text) if any(_is_cjk(c) for c in text) else text


@lru_cache(maxsize=65536)
def parse_name(text: str) -> ParsedName:
    """Split a name into distinctive part, places and canonical legal form."""
    text = unicodedata.normalize("NFKC", text).casefold()
    places = [p for p in (_normalise_place(m) for m in _BRACKETED.findall(text)) if p]
    text = _BRACKETED.sub(" ", text)
    text = _join_words(_strip_punctuation(text))
    legal = ""
    latin = not any(_is_cjk(c) for c in text)
    if latin:
        words = text.split()
        while words and words[-1] in _LATIN_LEGAL_WORDS:
            words.pop()
            legal = LEGAL_FORM_TOKEN
        text = " ".join(words)
        full = distinctive = text
    else:
        for form in _CJK_LEGAL_FORMS:
            if text.endswith(form) and len(text) > len(form):
                text = text[: -len(form)]
                legal = LEGAL_FORM_TOKEN
                break
        full = text
        distinctive, lead = _strip_regions(text)
        places = lead + places
    unique_places = tuple(dict.fromkeys(sys.intern(p) for p in places))
    return ParsedName(distinctive, full, unique_places, legal, latin)


def normalise_name(text: str) -> str:
    """Canonical text of a name: distinctive part, then places, then the legal-form token.

    ``华韵科技（深圳）有限公司``, ``华韵科技(深圳)有限责任公司`` and ``深圳市华韵科技有限公司``
    all give ``"华韵科技 深圳 ltd"``; ``Huayun Technology Co., Ltd.`` and
    ``ＨＵＡＹＵＮ TECHNOLOGY COMPANY LIMITED`` give ``"huayun technology ltd"``.
    """
    parsed = parse_name(text)
    return " ".join(p for p in (parsed.distinctive, *parsed.places, parsed.legal_form) if p)


def _normalise_address(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold()
    return _SPACES.sub("", _strip_punctuation(text))


def _grams(distinctive: str, latin: bool) -> set[str]:
    """Index keys of a distinctive part (see the module docstring)."""
    if latin:
        keys: set[str] = set()
        for word in distinctive.split():
            keys.add("w" + word)
            padded = f"#{word}#"
            keys.update("t" + padded[i : i + 3] for i in range(len(padded) - 2))
        return keys
    chars = distinctive.replace(" ", "")
    if len(chars) < 2:
        return {"u" + chars} if chars else set()
    keys = {"b" + chars[i : i + 2] for i in range(len(chars) - 1)}
    keys.update("s" + chars[i] + chars[i + 2] for i in range(len(chars) - 2))
    return keys


def _query_grams(distinctive: str, latin: bool) -> set[str]:
    keys = _grams(distinctive, latin)
    if latin:
        return keys
    # A query pair may be the indexed name's skip pair with the middle character dropped
    # in the query, and a query skip pair may be an indexed pair with a character
    # inserted in the query; looking both up tolerates one deletion or insertion.
    extra = {("s" if k[0] == "b" else "b") + k[1:] for k in keys if k[0] in "bs"}
    return keys | extra


def subject_grams(row: SubjectRow) -> set[str]:
    """The index grams of every name form of an organisation (none for a person): what a
    persisted index stores per subject, the same keys ``ScreeningIndex`` posts."""
    if row.kind == "person":
        return set()
    keys: set[str] = set()
    for name in (row.name, *_json_list(row.former_names), *_json_list(row.aliases)):
        parsed = parse_name(name)
        keys |= _grams(parsed.distinctive, parsed.latin)
    return keys


def query_grams(name: str) -> set[str]:
    """The grams a lookup of ``name`` reads (one deletion or insertion tolerated)."""
    parsed = parse_name(name)
    return _query_grams(parsed.distinctive, parsed.latin)


def _region_digits(region: str) -> str:
    region = region.strip()
    if not region.isdigit() or len(region) not in (2, 4, 6):
        raise ValueError(f"region must be 2, 4 or 6 digits, got {region!r}")
    # 440000 and 440300 are how province and prefecture codes are usually written.
    while len(region) > 2 and region.endswith("00"):
        region = region[:-2]
    return region


def _region_match(region: str, division: str | None) -> float:
    if not division:
        return 0.0
    levels = len(region) // 2
    agreed = 0
    for level in range(1, levels + 1):
        if division[: 2 * level] != region[: 2 * level]:
            break
        agreed += 1
    return agreed / levels


@dataclass(frozen=True, slots=True)
class Candidate:
    """One subject that may be the one named; always to be reviewed by a person."""

    subject_id: str
    matched_name: str
    name_form: NameForm
    score: float
    features: dict[str, float] = field(default_factory=dict)
    outcome: Outcome = "review"

    def explain(self) -> list[str]:
        """One line per feature: value, weight and what it means."""
        return [
            f"{name}={value:.3f} (weight {WEIGHTS[name]:+.2f}): {FEATURE_DESCRIPTIONS[name]}"
            for name, value in self.features.items()
        ]


_FORM_KINDS: tuple[NameForm, ...] = ("name", "former_name", "alias")


class ScreeningIndex:
    """Inverted gram index over every name form of every organisation subject."""

    def __init__(self, gram_cap: int = 10000, shortlist: int = 300) -> None:
        self.gram_cap = gram_cap
        self.shortlist = shortlist
        # Parallel arrays rather than one object per name form: a million subjects would
        # otherwise cost several hundred bytes of object headers each.
        self._subject_ids: list[str] = []
        self._divisions: list[str | None] = []
        self._addresses: list[str | None] = []
        self._form_subject = array("i")
        self._form_kind = array("b")
        self._form_names: list[str] = []
        self._postings: dict[str, array[int]] = {}
        self.stop_grams: set[str] = set()

    @classmethod
    def build(
        cls, subjects: Iterable[SubjectRow], gram_cap: int = 10000, shortlist: int = 300
    ) -> ScreeningIndex:
        index = cls(gram_cap, shortlist)
        for row in subjects:
            index._add(row)
        index._cap()
        return index

    def __len__(self) -> int:
        return len(self._subject_ids)

    @property
    def name_forms(self) -> int:
        return len(self._form_names)

    def _add(self, row: SubjectRow) -> None:
        if row.kind == "person":
            return
        subject = len(self._subject_ids)
        self._subject_ids.append(row.id)
        self._divisions.append(sys.intern(row.division) if row.division else None)
        self._addresses.append(_normalise_address(row.address) if row.address else None)
        forms: list[tuple[str, int]] = [(row.name, 0)]
        forms += [(n, 1) for n in _json_list(row.former_names)]
        forms += [(n, 2) for n in _json_list(row.aliases)]
        postings = self._postings
        for name, kind in forms:
            form = len(self._form_names)
            self._form_names.append(name)
            self._form_subject.append(subject)
            self._form_kind.append(kind)
            parsed = parse_name(name)
            for key in _grams(parsed.distinctive, parsed.latin):
                posting = postings.get(key)
                if posting is None:
                    postings[key] = array("i", (form,))
                else:
                    posting.append(form)

    def _cap(self) -> None:
        for key in [k for k, v in self._postings.items() if len(v) > self.gram_cap]:
            del self._postings[key]
            self.stop_grams.add(key)
        # parse_name's cache only helped when names repeat; keep it from pinning memory.
        parse_name.cache_clear()

    def screen(
        self,
        name: str,
        region: str | None = None,
        address: str | None = None,
        limit: int = 10,
    ) -> list[Candidate]:
        """Up to ``limit`` candidates, best first, one per subject, each for review."""
        query = parse_name(name)
        region_digits = _region_digits(region) if region else None
        query_address = _normalise_address(address) if address else None
        hits: Counter[int] = Counter()
        for key in _query_grams(query.distinctive, query.latin):
            posting = self._postings.get(key)
            if posting is not None:
                hits.update(posting)
        best: dict[int, Candidate] = {}
        for form, _ in heapq.nlargest(self.shortlist, hits.items(), key=lambda kv: kv[1]):
            candidate = self._score(form, query, region_digits, query_address)
            subject = self._form_subject[form]
            held = best.get(subject)
            if held is None or (candidate.score, -_FORM_KINDS.index(candidate.name_form)) > (
                held.score,
                -_FORM_KINDS.index(held.name_form),
            ):
                best[subject] = candidate
        ranked = sorted(best.values(), key=lambda c: (-c.score, c.subject_id))
        return ranked[:limit]

    def _score(
        self,
        form: int,
        query: ParsedName,
        region: str | None,
        query_address: str | None,
    ) -> Candidate:
        matched = self._form_names[form]
        subject = self._form_subject[form]
        kind = _FORM_KINDS[self._form_kind[form]]
        other = parse_name(matched)
        features: dict[str, float] = {
            "name_similarity": _name_similarity(query, other),
            "place_match": _place_match(query.places, other.places),
            "legal_form_match": 1.0 if query.legal_form == other.legal_form else 0.5,
        }
        if region is not None:
            features["region_match"] = _region_match(region, self._divisions[subject])
        if query_address is not None:
            held = self._addresses[subject]
            features["address_similarity"] = (
                fuzz.ratio(query_address, held) / 100.0 if held else 0.0
            )
        features["former_name"] = 1.0 if kind == "former_name" else 0.0
        features["alias"] = 1.0 if kind == "alias" else 0.0
        return Candidate(
            self._subject_ids[subject], matched, kind, _combine(features), features, "review"
        )


def _json_list(text: str) -> list[str]:
    if not text:
        return []
    value = orjson.loads(text)
    return [v for v in value if isinstance(v, str) and v] if isinstance(value, list) else []


def _name_similarity(query: ParsedName, other: ParsedName) -> float:
    best = fuzz.ratio(query.distinctive, other.distinctive)
    if query.full != query.distinctive or other.full != other.distinctive:
        # A typo inside the region prefix stops it being recognised; the names with the
        # prefix kept still compare well.
        best = max(best, fuzz.ratio(query.full, other.full))
    if query.latin and other.latin:
        best = max(best, fuzz.token_set_ratio(query.distinctive, other.distinctive))
    elif not query.latin and not other.latin:
        # Chinese names have no spaces to sort words by; comparing the sorted characters
        # catches swapped words (科技华韵 for 华韵科技), discounted because order is lost.
        bag = fuzz.ratio(sorted(query.distinctive), sorted(other.distinctive))
        best = max(best, _ORDERLESS_DISCOUNT * bag)
    return round(best / 100.0, 4)


def _place_match(ours: tuple[str, ...], theirs: tuple[str, ...]) -> float:
    if not ours or not theirs:
        return 0.5
    return 1.0 if set(ours) & set(theirs) else 0.0


def _combine(features: dict[str, float]) -> float:
    positive = [(WEIGHTS[k], v) for k, v in features.items() if WEIGHTS[k] > 0]
    total = sum(w for w, _ in positive)
    score = sum(w * v for w, v in positive) / total
    score += sum(WEIGHTS[k] * v for k, v in features.items() if WEIGHTS[k] < 0)
    return round(min(1.0, max(0.0, score)), 4)
