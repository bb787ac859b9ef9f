"""Rulebooks side by side on the same subjects, from the live state: the portal's
``/compare`` page.

``app.evaluation.compare`` re-evaluates every subject under each rulebook (seconds at the
demo's 50,000 subjects); the live state already holds each subject's grade and score under
every rulebook and every list run, so the figures here are read from it: grade and score
distributions, the lists in effect on the day and their sizes, and, for every pair of
rulebooks, how far they agree on the subjects evaluated under both (black-listed by both,
by one, by neither, and Cohen's kappa where it means something). They are kept until the
state or the day changes (``state_signature``: the ledger's size, the newest evaluation's
position, whole evaluations so far).

Persons are counted like everyone else here: these are counts, never a person's record.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
import time
import weakref
from collections import Counter
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import date
from itertools import combinations
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from trustledger.app.context import Context
    from trustledger.ledger.store import Store

MIN_FOR_KAPPA = 30  # fewer common subjects than this: agreement is shown, kappa is not
MIN_LISTED_FOR_KAPPA = 5  # nor when either rulebook lists fewer of them than this
SCORE_BINS = 12


@dataclass
class RulebookFigures:
    id: str
    ref: str  # id@version as evaluated
    title: str
    score_form: str
    subjects: int
    grades: list[tuple[str, int]]  # in the rulebook's order (best first), then any others
    scores: list[tuple[str, int]]  # histogram: (bin label, subjects)
    lists: list[dict[str, Any]] = field(default_factory=list)  # id, title, kind, listed, pending
    blacklisted: int = 0
    redlisted: int = 0


@dataclass
class PairAgreement:
    left: str
    right: str
    common: int
    both: int
    only_left: int
    only_right: int
    neither: int
    agree: float  # share of common subjects on which both say the same
    kappa: float | None
    kappa_note: str  # why kappa is missing, or how to read it


@dataclass
class ComparisonPage:
    on: str
    evaluated_on: str | None
    rulebooks: list[RulebookFigures]
    pairs: list[PairAgreement]
    red_and_black: int  # on a red list and a black list on the day (incentives withheld)
    ledger_size: int = 0  # the ledger's size when the state was read
    stale: bool = False  # the state has moved since; newer figures are being read


def kappa(both: int, only_left: int, only_right: int, neither: int) -> tuple[float | None, str]:
    """Cohen's kappa of two raters' yes/no (black-listed or not) over the same subjects,
    or None with the reason it means nothing here."""
    n = both + only_left + only_right + neither
    if n < MIN_FOR_KAPPA:
        return None, f"too few subjects in common (fewer than {MIN_FOR_KAPPA})"
    p_left, p_right = (both + only_left) / n, (both + only_right) / n
    if p_left in (0.0, 1.0) or p_right in (0.0, 1.0):
        return None, "one rulebook lists all or none of them: agreement is by construction"
    if min(both + only_left, both + only_right) < MIN_LISTED_FOR_KAPPA:
        return None, f"one rulebook lists fewer than {MIN_LISTED_FOR_KAPPA} of them: too few to say"
    observed = (both + neither) / n
    expected = p_left * p_right + (1 - p_left) * (1 - p_right)
    value = (observed - expected) / (1 - expected)
    return round(value, 3), _reading(value)


def _reading(value: float) -> str:
    # Landis and Koch's bands, the usual reading of kappa
    if value < 0:
        return "less than chance"
    for bound, words in ((0.2, "slight"), (0.4, "fair"), (0.6, "moderate"),
                         (0.8, "substantial")):  # fmt: skip
        if value <= bound:
            return f"{words} agreement beyond chance"
    return "almost perfect agreement beyond chance"


def _grade_order(rulebook: Any) -> list[str]:
    from trustledger.rulebook.schema import BandedScore, GradesScore

    score = rulebook.score
    if isinstance(score, BandedScore):
        return [band.grade for band in score.bands]
    if isinstance(score, GradesScore):
        return list(dict.fromkeys(rule.grade for rule in score.rules))
    return []


def _score_bins(scores: Counter[int]) -> list[tuple[str, int]]:
    if not scores:
        return []
    lo, hi = min(scores), max(scores)
    width = max(1, -(-(hi - lo + 1) // SCORE_BINS))
    if width > 1:  # round widths people read: 1, 2, 5, 10, 20, 50, …
        magnitude = 1
        while magnitude * 10 <= width:
            magnitude *= 10
        width = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= width)
    start = lo - lo % width
    bins: Counter[int] = Counter()
    for score, n in scores.items():
        bins[(score - start) // width] += n
    out = []
    for index in range(max(bins) + 1):
        low = start + index * width
        label = f"{low:,}" if width == 1 else f"{low:,}–{low + width - 1:,}"
        out.append((label, bins.get(index, 0)))
    return out


def _figures(ctx: Context, on: date) -> ComparisonPage:
    from trustledger.app.rulebook_pages import published_latest

    store = ctx.store
    day = on.isoformat()
    published = published_latest(ctx)
    q = store.query
    from trustledger.rulebook.publish import regime_versions, version_on

    # a regime's versions each have rows in the state: the day is judged by the one in force
    judging = {f"{rid}@{version_on(versions, on).version}"
               for rid, versions in regime_versions(store).items()}  # fmt: skip
    refs = [str(r[0]) for r in q("SELECT DISTINCT rulebook FROM state_profiles", ())
            if str(r[0]) in judging]  # fmt: skip
    # one set per rulebook, built by a comprehension: the per-row Python loop was most of
    # the time at 200,000 profiles
    covered = {
        ref: {r[0] for r in q("SELECT subject_id FROM state_profiles WHERE rulebook = ?", (ref,))}
        for ref in refs
    }
    grades: dict[str, Counter[str]] = {ref: Counter() for ref in refs}
    for ref, grade, n in q(
        "SELECT rulebook, grade, count(*) FROM state_profiles WHERE grade IS NOT NULL "
        "AND grade <> '' GROUP BY rulebook, grade",
        (),
    ):
        grades[ref][grade] = int(n)
    scores: dict[str, Counter[int]] = {ref: Counter() for ref in refs}
    for ref, score, n in q(
        "SELECT rulebook, score, count(*) FROM state_profiles WHERE score IS NOT NULL "
        "GROUP BY rulebook, score",
        (),
    ):
        scores[ref][int(score)] = int(n)
    black: dict[str, set[str]] = {ref: set() for ref in covered}
    red: dict[str, set[str]] = {ref: set() for ref in covered}
    listed: dict[tuple[str, str], set[str]] = {}
    pending: Counter[tuple[str, str]] = Counter()
    for ref, list_id, subject_id, kind, effective_from in store.query(
        "SELECT rulebook, list_id, subject_id, kind, effective_from FROM state_lists "
        "WHERE since <= ? AND (until IS NULL OR until > ?)",
        (day, day),
    ):
        if effective_from is None or effective_from > day:
            pending[(ref, list_id)] += 1  # pending: not in effect, denies nothing
            continue
        listed.setdefault((ref, list_id), set()).add(subject_id)
        (black if kind == "black" else red).setdefault(ref, set()).add(subject_id)
    evaluated = store.query("SELECT max(evaluated_on) FROM state_profiles", ())
    figures = []
    for ref in sorted(covered):
        rid = ref.partition("@")[0]
        rulebook = published.get(rid)
        order = _grade_order(rulebook) if rulebook is not None else []
        counted = grades.get(ref, Counter())
        ordered = [(g, counted.get(g, 0)) for g in order]
        ordered += sorted((g, n) for g, n in counted.items() if g not in order)
        form = rulebook.score.form if rulebook is not None else "none"
        lists = []
        for spec in rulebook.lists if rulebook is not None else []:
            lists.append({"id": spec.id, "title": spec.title, "kind": spec.kind,
                          "listed": len(listed.get((ref, spec.id), ())),
                          "pending": pending.get((ref, spec.id), 0)})  # fmt: skip
        figures.append(RulebookFigures(
            id=rid, ref=ref, title=rulebook.title if rulebook is not None else rid,
            score_form=form, subjects=len(covered[ref]), grades=ordered,
            scores=_score_bins(scores.get(ref, Counter())) if form in ("points", "percent")
            else [],
            lists=lists, blacklisted=len(black[ref]), redlisted=len(red[ref]),
        ))  # fmt: skip
    pairs = []
    for a, b in combinations(figures, 2):
        common = covered[a.ref] & covered[b.ref]
        in_a, in_b = black[a.ref] & common, black[b.ref] & common
        both = len(in_a & in_b)
        only_a, only_b = len(in_a) - both, len(in_b) - both
        neither = len(common) - both - only_a - only_b
        value, note = kappa(both, only_a, only_b, neither)
        pairs.append(PairAgreement(
            a.id, b.id, len(common), both, only_a, only_b, neither,
            round((both + neither) / len(common), 4) if common else 1.0, value, note,
        ))  # fmt: skip
    all_black = set().union(*black.values()) if black else set()
    all_red = set().union(*red.values()) if red else set()
    return ComparisonPage(day, evaluated[0][0] if evaluated else None, figures, pairs,
                          len(all_black & all_red))  # fmt: skip


@dataclass
class _Kept:
    key: tuple[Any, ...]  # (state signature…, day)
    page: ComparisonPage
    looked: float  # when the signature was last read (monotonic seconds)
    refreshing: bool = False


# per open store and day: the last figures and the state they were read from
_KEPT: weakref.WeakKeyDictionary[Store, dict[date, _Kept]] = weakref.WeakKeyDictionary()
_DAYS_KEPT = 8  # days other than today are asked for rarely
_KEPT_LOCK = threading.Lock()
LOOK_INTERVAL = 1.0  # the state's signature is read at most this often (as the check index)


def _read(ctx: Context, day: date) -> tuple[tuple[Any, ...], ComparisonPage]:
    from trustledger.evaluate.queries import state_signature

    signature = state_signature(ctx.store)
    page = _figures(ctx, day)
    page.ledger_size = int(signature[0])
    return (*signature, day), page


def _refresh(ctx: Context, kept: _Kept, day: date) -> None:
    """Read the figures again on a connection of its own, then swap them in."""
    from trustledger.app.context import Context as Opened

    try:
        # not must_exist: the server's own connection already made sure of the schema
        with Opened.open(ctx.settings, must_exist=False) as own:
            key, page = _read(own, day)
        with _KEPT_LOCK:
            kept.key, kept.page, kept.looked = key, page, time.monotonic()
    finally:
        kept.refreshing = False


def comparison(
    ctx: Context,
    on: date | None = None,
    *,
    wait: bool = False,
    lock: AbstractContextManager[Any] | None = None,
) -> ComparisonPage:
    """Every rulebook in the live state, side by side on day ``on`` (default today).

    The figures take about a second to read at the demo's size, and the state moves with
    every ingest; so once figures for the day exist, a moved state is read again in the
    background and the previous figures are answered meanwhile, marked ``stale`` (``wait``:
    read now instead). ``lock`` guards ``ctx.store`` (a server's shared connection): given,
    it is held only to look at the state's signature, and figures read now are read on a
    connection of their own."""
    from trustledger.app.context import Context as Opened
    from trustledger.evaluate.queries import state_signature

    guard: AbstractContextManager[Any] = lock if lock is not None else contextlib.nullcontext()
    day = on or ctx.today()
    now = time.monotonic()
    with _KEPT_LOCK:
        kept = _KEPT.get(ctx.store, {}).get(day)
    if kept is not None and not wait:
        if now - kept.looked < LOOK_INTERVAL and not kept.refreshing:
            return kept.page
        with guard:
            key = (*state_signature(ctx.store), day)
        if key == kept.key:
            kept.looked = now
            return kept.page
        if not kept.refreshing:
            kept.refreshing = True
            threading.Thread(target=_refresh, args=(ctx, kept, day), daemon=True,
                             name="compare-refresh").start()  # fmt: skip
        return dataclasses.replace(kept.page, stale=True)
    if lock is None:
        key, page = _read(ctx, day)
    else:
        with Opened.open(ctx.settings, must_exist=False) as own:
            key, page = _read(own, day)
    with _KEPT_LOCK:
        days = _KEPT.setdefault(ctx.store, {})
        if len(days) >= _DAYS_KEPT:
            days.clear()
        days[day] = _Kept(key, page, time.monotonic())
    return page
