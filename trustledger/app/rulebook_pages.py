"""Published rulebooks as people read them: the portal's ``/rulebooks`` pages.

Everything a reader needs is resolved here, not in a template: the categories a rulebook
counts (each catalogue category with the treatment that wins for it), conditions in words,
actions by their catalogue titles, the territorial scope by its division name, and every
published version with the ledger entry that holds it.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from trustledger.app.errors import NotFound

if TYPE_CHECKING:
    from trustledger.app.context import Context
    from trustledger.catalogue import Catalogue
    from trustledger.rulebook.schema import Rulebook

_KIND_LABELS = {
    "enterprise": "enterprises",
    "individual_business": "individual businesses",
    "cooperative": "farmers' cooperatives",
    "government": "government organs",
    "public_institution": "public institutions",
    "social_organisation": "social organisations",
    "other_organisation": "other organisations",
    "person": "persons",
}
_FORMS = {
    "none": "no score: records and lists only",
    "points": "points from a base, with grade bands",
    "percent": "a percentage, with grade bands",
    "grades": "grades by ordered rules (the first rule that holds gives the grade)",
}


def _sentence(words: str) -> str:
    # the first letter only: grades and codes keep their case ("the grade is AAA")
    return words[:1].upper() + words[1:] + "."


def kind_label(kind: str) -> str:
    return _KIND_LABELS.get(kind, kind.replace("_", " "))


def scope_words(prefix: str) -> dict[str, str]:
    """A division-code prefix with the division's name: "371082" → 荣成市, "37" → 山东省."""
    from trustledger.data import division_names

    if not prefix:
        return {"prefix": "", "code": "", "name": "national (every division)"}
    code = prefix.ljust(6, "0")
    name = division_names().get(code)
    return {"prefix": prefix, "code": code, "name": name or f"division code {code}"}


def _duration(value: Any) -> str:
    from trustledger.rulebook.words import duration_words

    return duration_words(value)


def _bases(*groups: Any) -> list[str]:
    # a category's and its treatment's bases often cite the same instrument: once each
    shown = (str(b) + (f" — {b.note}" if b.note else "") for items in groups for b in items)
    return list(dict.fromkeys(shown))


def _categories(rulebook: Rulebook, catalogue: Catalogue) -> list[dict[str, Any]]:
    """Each catalogue category the rulebook counts, with the treatment that wins for it (the
    first whose selection matches, as evaluation resolves it)."""
    from trustledger.rulebook.lint import selected_categories

    seen: dict[str, dict[str, Any]] = {}
    for index, treatment in enumerate(rulebook.treatments, 1):
        for category in selected_categories(treatment.select, catalogue):
            if category.code in seen:
                continue
            seen[category.code] = {
                "code": category.code,
                "title": category.title,
                "title_zh": category.title_zh,
                "domain": category.domain.value.replace("_", " "),
                "polarity": category.polarity.value,
                "tier": (treatment.tier or category.default_tier).value,
                "points": treatment.points,
                "publicity_min": _duration(treatment.publicity.min),
                "publicity_max": (
                    _duration(treatment.publicity.max)
                    if treatment.publicity.max is not None
                    else "no fixed term"
                ),
                "publicity_from": rulebook.clock_of(treatment),
                "publicity_override": (
                    str(treatment.publicity_override) if treatment.publicity_override else None
                ),
                "issuers": [a.value.replace("_", " ") for a in category.authorities],
                "automated": category.automated,
                "legal_basis": _bases(category.legal_basis, treatment.legal_basis),
                "treatment": index,
            }
    return list(seen.values())


def _score(rulebook: Rulebook, titles: Any) -> dict[str, Any]:
    from trustledger.rulebook.schema import BandedScore, GradesScore
    from trustledger.rulebook.words import condition_words

    score = rulebook.score
    out: dict[str, Any] = {"form": score.form, "form_words": _FORMS[score.form], "bands": [],
                           "rules": []}  # fmt: skip
    if isinstance(score, BandedScore):
        out.update(base=score.base, floor=score.floor, ceiling=score.ceiling)
        upper: int | None = None  # the band above's minimum: scores are whole numbers
        for band in score.bands:
            if band.min is None:
                words = f"below {upper:,}" if upper is not None else "any score"
                if score.floor is not None:
                    words += f" (the floor is {score.floor:,})"
            elif upper is None:
                words = f"{band.min:,} or more"
                if score.ceiling is not None:
                    words += f" (the ceiling is {score.ceiling:,})"
            else:
                words = f"{band.min:,} to {upper - 1:,}"
            out["bands"].append({"grade": band.grade, "min": band.min, "words": words})
            if band.min is not None:
                upper = band.min
    elif isinstance(score, GradesScore):
        out["rules"] = [
            {"grade": rule.grade, "words": _sentence(condition_words(rule.when.tree, titles)),
             "text": " ".join(rule.when.text.split())}
            for rule in score.rules
        ]  # fmt: skip
    return out


def _actions() -> dict[str, Any]:
    from trustledger.sanctions.actions import load_actions

    return load_actions().by_code


def detail(rulebook: Rulebook, catalogue: Catalogue) -> dict[str, Any]:
    """One rulebook resolved for reading (no store needed: versions are added by
    ``rulebook_page``)."""
    from trustledger.rulebook.words import condition_words

    def titles(code: str) -> str | None:
        found = catalogue.get(code)
        return found.title if found is not None else None

    actions = _actions()
    lists = {item.id: item for item in rulebook.lists}
    measures = []
    for m in rulebook.measures:
        measures.append({
            "id": m.id,
            "kind": m.kind,
            "list": m.list,
            "list_title": lists[m.list].title if m.list in lists else m.list,
            "actions": [
                {"code": a, "title": actions[a].title if a in actions else a,
                 "title_zh": actions[a].title_zh if a in actions else ""}
                for a in m.actions
            ],
            "subject_kinds": [kind_label(k.value) for k in m.subject_kinds],
            "duration": (
                _duration(m.duration) + " from the first day on the list, ending earlier "
                "if the subject leaves it" if m.duration is not None
                else "for as long as the subject is on the list"
            ),
            "agency": m.agency,
            "legal_basis": _bases(m.legal_basis),
            "extends_to": [e.replace("_", " ") for e in m.extends_to],
        })  # fmt: skip
    return {
        "id": rulebook.id,
        "version": rulebook.version,
        "title": rulebook.title,
        "authority": rulebook.authority,
        "legal_basis": _bases(rulebook.legal_basis),
        "sources": list(rulebook.sources),
        "effective_from": rulebook.effective.from_.isoformat(),
        "effective_until": (
            rulebook.effective.until.isoformat() if rulebook.effective.until else None
        ),
        "scope": scope_words(rulebook.scope.division_prefix),
        "subject_kinds": [kind_label(k.value) for k in rulebook.subject_kinds],
        "categories": _categories(rulebook, catalogue),
        "score": _score(rulebook, titles),
        "lists": [
            {
                "id": item.id,
                "kind": item.kind,
                "title": item.title,
                "words": _sentence(condition_words(item.when.tree, titles)),
                "text": " ".join(item.when.text.split()),
                "removal": " ".join(item.removal.split()),
                "notice_period": _duration(item.notice_period) if item.notice_period else None,
                "legal_basis": _bases(item.legal_basis),
                "measures": [m["id"] for m in measures if m["list"] == item.id],
            }
            for item in rulebook.lists
        ],
        "measures": measures,
        "monitoring": _monitoring(rulebook),
    }


def _monitoring(rulebook: Rulebook) -> dict[str, Any] | None:
    from trustledger.pollutants import describe

    section = rulebook.monitoring
    if section is None:
        return None
    return {
        "category": section.category,
        "episode_min_hours": section.episode_min_hours,
        "legal_basis": _bases(section.legal_basis),
        "limit_sets": [
            {"id": ls.id, "title": ls.title, "reference_o2": ls.reference_o2,
             "averaging": ls.averaging, "legal_basis": _bases(ls.legal_basis),
             "limits": [{"code": code, "name": _pollutant(describe(code), code), "limit": value,
                         "unit": "mg/m³"} for code, value in ls.limits.items()]}
            for ls in section.limit_sets
        ],
    }  # fmt: skip


def _pollutant(found: Any, code: str) -> str:
    return str(found.name) if found is not None else code


_Published = tuple[dict[str, "Rulebook"], dict[str, list[dict[str, Any]]]]
# by database URL, so that a reader on a connection of its own (app.compare_pages) shares it
_CACHE: dict[str, tuple[int, _Published]] = {}
_CACHE_LOCK = threading.Lock()


def _versions(ctx: Context) -> dict[str, list[dict[str, Any]]]:
    """Every published version of every rulebook, oldest first, with its ledger entry."""
    from trustledger.ledger.projection import RulebookRow

    rows = [RulebookRow._make(r) for r in ctx.store.iter_rows("rulebooks")]
    times = {e.seq: e.time_us for e in ctx.store.entries_at([r.seq for r in rows])}
    out: dict[str, list[dict[str, Any]]] = {}
    for row in sorted(rows, key=lambda r: r.seq):
        out.setdefault(row.rulebook_id, []).append(
            {"version": row.version, "title": row.title, "seq": row.seq, "sha256": row.sha256,
             "time_us": times.get(row.seq)}
        )  # fmt: skip
    return out


def _published(ctx: Context) -> _Published:
    """The latest version of each published rulebook and every version, read again only
    when the ledger has grown (a publication is an entry)."""
    from trustledger.rulebook.publish import published_rulebooks

    size = ctx.store.size()
    with _CACHE_LOCK:
        found = _CACHE.get(ctx.store.url)
    if found is not None and found[0] == size:
        return found[1]
    value = (published_rulebooks(ctx.store), _versions(ctx))
    with _CACHE_LOCK:
        _CACHE[ctx.store.url] = (size, value)
    return value


def published_latest(ctx: Context) -> dict[str, Rulebook]:
    """The latest published version of each rulebook (kept until the ledger grows)."""
    return _published(ctx)[0]


def index(ctx: Context) -> list[dict[str, Any]]:
    """The published rulebooks (latest version of each), by id, with what a reader picks
    one by: authority, scope, subjects, score form, lists."""
    rulebooks, versions = _published(ctx)
    out = []
    for rid, rb in sorted(rulebooks.items()):
        out.append({
            "id": rid, "version": rb.version, "title": rb.title, "authority": rb.authority,
            "scope": scope_words(rb.scope.division_prefix),
            "subject_kinds": [kind_label(k.value) for k in rb.subject_kinds],
            "score_form": _FORMS[rb.score.form],
            "lists": [{"id": item.id, "kind": item.kind, "title": item.title}
                      for item in rb.lists],
            "measures": len(rb.measures),
            "versions": len(versions.get(rid, [])),
        })  # fmt: skip
    return out


def rulebook_page(ctx: Context, rulebook_id: str) -> dict[str, Any]:
    """One published rulebook for reading, with its versions; NotFound if none is."""
    rulebooks, versions = _published(ctx)
    rulebook = rulebooks.get(rulebook_id)
    if rulebook is None:
        raise NotFound(f"no published rulebook {rulebook_id!r}")
    return {**detail(rulebook, ctx.catalogue), "versions": versions.get(rulebook_id, [])}
