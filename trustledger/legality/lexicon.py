"""Finding a prohibited ground by its wording: the lexicon in ``prohibited_grounds.yaml``
matched over words, not characters.

A word list matched as substrings fails both ways in Chinese, which is written without
spaces: 游行 (a march) sits inside 旅游|行政 (tourism administration), while a paraphrase
such as 越级反映问题 (taking a grievance over the local office's head, i.e. petitioning)
contains no listed word at all. So Chinese text is cut into words first (jieba's
dictionary and model, through ``rjieba``, its Rust port: the same cuts, loaded in a tenth
of the time), English words are reduced to their lemmas (``simplemma``), and the lexicon's
terms are phrases of words matched in order within a short window, with the lawful senses
of the same words (疾病预防控制, "bankruptcy petition") declared beside them.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources
from typing import Any

# words allowed between two elements of a phrase
GAP = 3

_CJK = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
# a run of Chinese characters (spaces inside it are an evasion: "上 访"), a Latin word, or
# a clause break; anything else (spaces, digits' punctuation) only separates words
_PIECE = re.compile(
    rf"(?P<cjk>[{_CJK}]+(?:\s+[{_CJK}]+)*)"
    r"|(?P<word>[A-Za-z0-9]+)"
    r"|(?P<stop>[，。；：！？、,.;:!?()（）\[\]【】〔〕\"“”/\n])"
)
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Token:
    text: str  # as written (case kept: "AIDS" is not "aids")
    lemma: str  # casefolded; an English word's lemma, a Chinese word itself
    start: int  # character offsets in the normalised text
    end: int
    clause: int
    run: int = -1  # Chinese words: the run of Chinese text they were cut from
    offset: int = 0  # and where in that run (spaces left out) they begin


@dataclass(frozen=True)
class Run:
    """A run of Chinese text with its spaces left out, and where each character stands."""

    text: str
    chars: tuple[int, ...]


@dataclass(frozen=True)
class Element:
    """One position of a phrase: alternatives, each a Chinese word, an English word
    (matched with its lemma), a prefix ``x*`` or an exact-case ``=X``."""

    chinese: tuple[str, ...]
    words: frozenset[str]
    prefixes: tuple[str, ...]
    exact: frozenset[str]


Phrase = tuple[Element, ...]


@dataclass(frozen=True)
class Ground:
    name: str
    terms: tuple[tuple[str, Phrase], ...]  # (as written in the lexicon, parsed)
    lawful: tuple[Phrase, ...]


def _element(text: str) -> Element:
    chinese: list[str] = []
    words: set[str] = set()
    prefixes: list[str] = []
    exact: set[str] = set()
    for alternative in text.split("|"):
        if not alternative:
            raise ValueError(f"empty alternative in lexicon element {text!r}")
        if re.fullmatch(rf"[{_CJK}]+", alternative):
            chinese.append(alternative)
        elif alternative.startswith("="):
            exact.add(alternative[1:])
        elif alternative.endswith("*"):
            prefixes.append(alternative[:-1].casefold())
        elif re.fullmatch(r"[A-Za-z0-9]+", alternative):
            words.add(_lemma(alternative.casefold()))
            words.add(alternative.casefold())
        else:
            raise ValueError(f"lexicon element {text!r}: cannot read {alternative!r}")
    return Element(tuple(chinese), frozenset(words), tuple(prefixes), frozenset(exact))


def _phrase(text: str) -> Phrase:
    parts = text.split()
    if not parts:
        raise ValueError("empty phrase in the lexicon")
    return tuple(_element(p) for p in parts)


@cache
def lexicon() -> tuple[Ground, ...]:
    """The shipped lexicon, parsed once."""
    import yaml

    text = (resources.files("trustledger.legality") / "prohibited_grounds.yaml").read_text(
        encoding="utf-8"
    )
    # libyaml where present: the lexicon is read by every process that validates a file
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    raw: dict[str, Any] = yaml.load(text, Loader=loader)
    return tuple(
        Ground(
            name,
            tuple((t, _phrase(t)) for t in entry.get("terms") or ()),
            tuple(_phrase(t) for t in entry.get("lawful") or ()),
        )
        for name, entry in raw.items()
    )


@lru_cache(maxsize=65536)
def _lemma(word: str) -> str:
    import simplemma

    return str(simplemma.lemmatize(word, lang="en")).casefold()


def _cut(text: str) -> list[str]:
    import rjieba

    words: list[str] = rjieba.cut(text)
    return words


def tokens(text: str) -> tuple[list[Token], list[Run]]:
    """The words of ``text`` (already normalised), and the Chinese runs they were cut from."""
    found: list[Token] = []
    runs: list[Run] = []
    clause = 0
    for match in _PIECE.finditer(text):
        if match.group("stop"):
            clause += 1
        elif match.group("word"):
            word = match.group("word")
            found.append(Token(word, _lemma(word.casefold()), match.start(), match.end(), clause))
        else:
            piece = match.group("cjk")
            run = Run(
                _SPACE.sub("", piece),
                tuple(match.start() + i for i, c in enumerate(piece) if not c.isspace()),
            )
            runs.append(run)
            at = 0
            for word in _cut(run.text):
                end = at + len(word)
                found.append(Token(word, word, run.chars[at], run.chars[end - 1] + 1, clause,
                                   len(runs) - 1, at))  # fmt: skip
                at = end
    return found, runs


class _Text:
    """A text cut into words, and where each element of a phrase matches in it."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens, self.runs = tokens(text)

    def ends(
        self, i: int, element: Element, within: int | None = None
    ) -> Iterator[tuple[int, int, int, int]]:
        """(last token, start, end, end's offset in its run) of each match of ``element``
        beginning in token ``i``; ``within``: only from this run offset on, inside token i,
        right after the previous element of a phrase ended there."""
        token = self.tokens[i]
        if token.run < 0:
            if within is not None:
                return
            low = token.text.casefold()
            if (
                token.lemma in element.words
                or low in element.words
                or token.text in element.exact
                or any(low.startswith(p) for p in element.prefixes)
            ):
                yield i, token.start, token.end, -1
            return
        run = self.runs[token.run]
        first = token.offset if within is None else within
        for word in element.chinese:
            for at in range(first, token.offset + len(token.text)):
                if not run.text.startswith(word, at):
                    continue
                end = at + len(word)
                j = i
                while (
                    j + 1 < len(self.tokens)
                    and self.tokens[j + 1].run == token.run
                    and self.tokens[j + 1].offset < end
                ):
                    j += 1
                last = self.tokens[j]
                # a word boundary on at least one side: 民族 in 少数民族 is the word, 游行
                # in 旅游|行政 is two halves of two other words; the end of the phrase's
                # previous word counts (同性|伴侣 cut as 同|性伴侣)
                if at in (token.offset, within) or end == last.offset + len(last.text):
                    yield j, run.chars[at], run.chars[end - 1] + 1, end

    def rest(self, phrase: Phrase, k: int, after: int, end: int, offset: int) -> int | None:
        if k == len(phrase):
            return end
        token = self.tokens[after]
        steps: list[tuple[int, int | None]] = []
        if token.run >= 0 and offset < token.offset + len(token.text):
            steps.append((after, offset))  # the previous word ended inside this token
        clause = token.clause
        for i in range(after + 1, min(after + 2 + GAP, len(self.tokens))):
            if self.tokens[i].clause != clause:
                break
            steps.append((i, None))
        for i, within in steps:
            for last, _, element_end, element_offset in self.ends(i, phrase[k], within):
                found = self.rest(phrase, k + 1, last, element_end, element_offset)
                if found is not None:
                    return found
        return None


def normalise(text: str) -> str:
    # NFKC folds full-width letters (ｐｅｔｉｔｉｏｎ) and compatibility forms into the plain
    # ones the lexicon is written in
    return unicodedata.normalize("NFKC", text)


@dataclass(frozen=True, eq=False)
class _Entry:
    ground: str
    lawful: bool
    phrase: Phrase


@dataclass
class _Index:
    """Phrases by what their first element can match, so that a text is scanned once."""

    words: dict[str, list[_Entry]]
    exact: dict[str, list[_Entry]]
    prefixes: list[tuple[str, _Entry]]
    chinese: dict[str, list[tuple[str, _Entry]]]  # by a Chinese word's first character

    def candidates(self, cut: _Text, i: int) -> list[_Entry]:
        token = cut.tokens[i]
        found: dict[int, _Entry] = {}
        if token.run < 0:
            low = token.text.casefold()
            for entry in (
                *self.words.get(token.lemma, ()),
                *self.words.get(low, ()),
                *self.exact.get(token.text, ()),
                *(e for p, e in self.prefixes if low.startswith(p)),
            ):
                found[id(entry)] = entry
        else:
            run = cut.runs[token.run].text
            for at in range(token.offset, token.offset + len(token.text)):
                for word, entry in self.chinese.get(run[at], ()):
                    if run.startswith(word, at):
                        found[id(entry)] = entry
        return list(found.values())


@cache
def _index() -> _Index:
    index = _Index({}, {}, [], {})
    for ground in lexicon():
        entries = [_Entry(ground.name, False, phrase) for _, phrase in ground.terms]
        entries += [_Entry(ground.name, True, phrase) for phrase in ground.lawful]
        for entry in entries:
            first = entry.phrase[0]
            for word in first.words:
                index.words.setdefault(word, []).append(entry)
            for word in first.exact:
                index.exact.setdefault(word, []).append(entry)
            index.prefixes += [(prefix, entry) for prefix in first.prefixes]
            for word in first.chinese:
                index.chinese.setdefault(word[0], []).append((word, entry))
    return index


@lru_cache(maxsize=8192)
def find(text: str) -> tuple[tuple[str, str], ...]:
    """(ground, the words as they stand in the text) of every term found outside a lawful
    phrase of the same ground, in order of appearance. Cached: the same catalogue and
    rulebook texts are checked each time they are loaded."""
    cut = _Text(normalise(text))
    index = _index()
    hits: list[tuple[int, int, str]] = []
    lawful: dict[str, list[tuple[int, int]]] = {}
    for i in range(len(cut.tokens)):
        for entry in index.candidates(cut, i):
            for last, start, end, offset in cut.ends(i, entry.phrase[0]):
                found = cut.rest(entry.phrase, 1, last, end, offset)
                if found is None:
                    continue
                if entry.lawful:
                    lawful.setdefault(entry.ground, []).append((start, found))
                else:
                    hits.append((start, found, entry.ground))
    unlawful = [
        (ground, start, end)
        for start, end, ground in hits
        if not any(s <= start and end <= e for s, e in lawful.get(ground, ()))
    ]
    return tuple((ground, cut.text[start:end]) for ground, start, end in _one_per_place(unlawful))


def _one_per_place(hits: list[tuple[str, int, int]]) -> list[tuple[str, int, int]]:
    """Of the hits of one ground that overlap (越级上访 and 上访), the shortest: the word a
    reader needs to see; in order of appearance."""
    kept: list[tuple[str, int, int]] = []
    for ground, start, end in sorted(hits):
        if kept and kept[-1][0] == ground and start < kept[-1][2]:
            if end - start < kept[-1][2] - kept[-1][1]:
                kept[-1] = (ground, start, end)
            continue
        kept.append((ground, start, end))
    kept.sort(key=lambda hit: hit[1])
    return kept
