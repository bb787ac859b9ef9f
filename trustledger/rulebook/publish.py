"""Publishing rulebooks to the ledger, and reading back the ones in force at an instant.

A rulebook is published as a `rulebook.published` entry holding its YAML source, so every
outcome can name the exact version it came from and anyone can re-run it. Only a rulebook
that validates clean (schema and legality lint) is published.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from hashlib import sha256
from pathlib import Path

from trustledger.catalogue import Catalogue
from trustledger.domain import EntryKind
from trustledger.ledger.projection import RulebookRow
from trustledger.ledger.store import Store
from trustledger.rulebook.load import parse_rulebook, validate_rulebook_file
from trustledger.rulebook.schema import Rulebook


class PublishError(ValueError):
    """A rulebook that may not be published, with every reason."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        super().__init__(f"{path}: not published:\n" + "\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Published:
    ref: str  # "<id>@<version>"
    seq: int | None  # the entry, or None if this exact source was already published
    sha256: str


def publish_rulebook(store: Store, path: Path, catalogue: Catalogue) -> Published:
    problems = validate_rulebook_file(path, catalogue)
    if problems:
        raise PublishError(path, problems)
    source = path.read_text(encoding="utf-8")
    rulebook = parse_rulebook(source, path)
    digest = sha256(source.encode()).hexdigest()
    ref = f"{rulebook.id}@{rulebook.version}"
    with store.writer() as w:
        existing: RulebookRow | None = w.get("rulebooks", ref)
        if existing is not None:
            if existing.sha256 == digest:
                return Published(ref, None, digest)
            raise PublishError(
                path,
                [f"{ref} is already published with different content (sha256 "
                 f"{existing.sha256[:12]}…); publish changes as a new version"],
            )  # fmt: skip
        entry = w.append(
            EntryKind.RULEBOOK_PUBLISHED,
            {
                "id": rulebook.id,
                "version": rulebook.version,
                "title": rulebook.title,
                "sha256": digest,
                "source": source,
            },
        )
    return Published(ref, entry.seq, digest)


def published_rulebooks(store: Store, at_us: int | None = None) -> dict[str, Rulebook]:
    """The latest published version of each rulebook as of ledger time ``at_us``."""
    rows: list[RulebookRow] = [RulebookRow._make(r) for r in store.iter_rows("rulebooks")]
    times = {e.seq: e.time_us for e in store.entries_at([r.seq for r in rows])}
    latest: dict[str, RulebookRow] = {}
    for row in sorted(rows, key=lambda r: r.seq):
        if at_us is None or times[row.seq] <= at_us:
            latest[row.rulebook_id] = row
    return {rid: _parsed(row.source, row.id) for rid, row in latest.items()}


def regime_versions(store: Store, at_us: int | None = None) -> dict[str, list[Rulebook]]:
    """Every version of each rulebook that is part of its regime as of ledger time
    ``at_us``, in the order of the law's own dates (``effective``), their windows never
    overlapping. A version applies from its ``effective.from`` until its ``until`` or, as
    the schema says of ``until: null``, until replaced: a version published later that
    takes effect later ends the earlier one the day before (the regime before a change and
    the regime after it, e.g. NDRC Order No. 58 and Order No. 36 from 2026-04-01); one that
    takes effect on or before the earlier one's start replaces it whole (a correction)."""
    rows: list[RulebookRow] = [RulebookRow._make(r) for r in store.iter_rows("rulebooks")]
    times = {e.seq: e.time_us for e in store.entries_at([r.seq for r in rows])}
    regimes: dict[str, list[Rulebook]] = {}
    for row in sorted(rows, key=lambda r: r.seq):
        if at_us is not None and times[row.seq] > at_us:
            continue
        new = _parsed(row.source, row.id)
        start = new.effective.from_
        kept: list[Rulebook] = []
        for old in regimes.get(row.rulebook_id, []):
            if start <= old.effective.from_:
                continue  # replaced whole
            if old.effective.until is None or old.effective.until >= start:
                old = _ending(old, start - dt.timedelta(days=1))
            kept.append(old)
        regimes[row.rulebook_id] = sorted([*kept, new], key=lambda v: v.effective.from_)
    return regimes


def version_on(versions: list[Rulebook], on: dt.date) -> Rulebook:
    """The version of a regime that judges day ``on``: the one in force that day; before
    the first, the first; after the last window (or in a gap), the last one begun."""
    begun = [v for v in versions if v.effective.from_ <= on]
    return begun[-1] if begun else versions[0]


_ENDED: dict[tuple[int, dt.date], tuple[Rulebook, Rulebook]] = {}


def _ending(rulebook: Rulebook, until: dt.date) -> Rulebook:
    """The same version, its window ended by its successor. Kept, so that the same model
    comes back each time: compiled rulebooks are cached by the model's identity."""
    key = (id(rulebook), until)
    found = _ENDED.get(key)
    if found is None or found[0] is not rulebook:
        effective = rulebook.effective.model_copy(update={"until": until})
        found = (rulebook, rulebook.model_copy(update={"effective": effective}))
        if len(_ENDED) > 256:
            _ENDED.clear()
        _ENDED[key] = found
    return found[1]


@lru_cache(maxsize=64)
def _parsed(source: str, ref: str) -> Rulebook:
    # a published version never changes, so its parse can be kept; the model is frozen
    return parse_rulebook(source, ref)
