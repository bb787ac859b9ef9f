"""Profiles of one subject as of an instant, under the rulebooks published by then."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from trustledger.catalogue import Catalogue
from trustledger.domain import SubjectKind
from trustledger.evaluate.history import holds_as_of, objections_as_of, records_as_of
from trustledger.evaluate.profile import (
    Profile,
    compile_rulebook,
    evaluate_subject,
    standing_history,
)
from trustledger.ids import PersonKeyer, check_identifier
from trustledger.ledger.projection import ObjectionRow, RecordRow, SubjectRow
from trustledger.ledger.store import Store
from trustledger.rulebook.publish import regime_versions, version_on
from trustledger.rulebook.schema import Rulebook


class UnknownSubject(LookupError):
    pass


class UnknownRulebook(LookupError):
    pass


def rulebooks_on(store: Store, at_us: int | None, on: date) -> dict[str, Rulebook]:
    """Each published rulebook in the version that judges day ``on`` (the law as it stood
    that day), as published by ledger time ``at_us``."""
    return {rid: rb for rid, (rb, _) in _regimes_on(store, at_us, on).items()}


def _regimes_on(
    store: Store, at_us: int | None, on: date
) -> dict[str, tuple[Rulebook, list[Rulebook]]]:
    # the version judging the day, and all of its regime's: a transitional rule judges
    # records decided earlier by the versions before it
    return {
        rid: (version_on(versions, on), versions)
        for rid, versions in regime_versions(store, at_us).items()
    }


def _registered_by(store: Store, subject_id: str, at_us: int | None) -> SubjectRow:
    """The subject's register row if it was registered by ``at_us`` (None: now)."""
    subject: SubjectRow | None = store.get_row("subjects", subject_id)
    if subject is not None and at_us is not None:
        (registered,) = store.entries_at([subject.registered_seq])
        if registered.time_us > at_us:
            subject = None
    if subject is None:
        raise UnknownSubject(f"no subject {subject_id} in the ledger at that time")
    return subject


def subject_profiles(
    store: Store,
    catalogue: Catalogue,
    subject_id: str,
    *,
    at_us: int | None,
    on: date,
    rulebook_id: str | None = None,
) -> list[Profile]:
    """The subject's profile under each published rulebook (or the one named), as of
    ledger time ``at_us`` (None: now), judged on calendar day ``on``."""
    subject = _registered_by(store, subject_id, at_us)
    rulebooks = _regimes_on(store, at_us, on)
    if rulebook_id is not None:
        if rulebook_id not in rulebooks:
            known = ", ".join(sorted(rulebooks)) or "none"
            raise UnknownRulebook(
                f"rulebook {rulebook_id} was not published then (published: {known})"
            )
        rulebooks = {rulebook_id: rulebooks[rulebook_id]}
    records = records_as_of(store, subject_id, at_us)
    size = store.size() if at_us is None else store.size_at(at_us)
    objections = objections_as_of(store, [subject_id], size).get(subject_id, [])
    holds = holds_as_of(store, [subject_id], size).get(subject_id, [])
    return [
        evaluate_subject(
            compile_rulebook(rb, catalogue, versions), subject, records, on, objections, holds
        )
        for _, (rb, versions) in sorted(rulebooks.items())
    ]


@dataclass(frozen=True)
class SubjectFile:
    """Everything a subject's page shows, read once: its register row, its records as
    known then, the profile under each rulebook and each rulebook's score/grade steps."""

    subject: SubjectRow
    records: list[RecordRow]
    objections: list[ObjectionRow]
    profiles: list[Profile]
    histories: dict[str, list[tuple[str, int | None, str | None]]]
    titles: dict[str, str]  # rulebook id@version → its title


def subject_file(
    store: Store, catalogue: Catalogue, subject_id: str, *, at_us: int | None, on: date
) -> SubjectFile:
    """`subject_profiles` with the records behind them and each rulebook's standing history
    up to ``on``; UnknownSubject as there."""
    subject = _registered_by(store, subject_id, at_us)
    records = records_as_of(store, subject_id, at_us)
    size = store.size() if at_us is None else store.size_at(at_us)
    objections = objections_as_of(store, [subject_id], size).get(subject_id, [])
    holds = holds_as_of(store, [subject_id], size).get(subject_id, [])
    profiles: list[Profile] = []
    histories: dict[str, list[tuple[str, int | None, str | None]]] = {}
    titles: dict[str, str] = {}
    for _, (rb, versions) in sorted(_regimes_on(store, at_us, on).items()):
        cr = compile_rulebook(rb, catalogue, versions)
        profiles.append(evaluate_subject(cr, subject, records, on, objections, holds))
        histories[cr.ref] = standing_history(cr, subject, records, on)
        titles[cr.ref] = rb.title
    return SubjectFile(subject, records, list(objections), profiles, histories, titles)


def resolve_subject(
    text: str, keyer: PersonKeyer | None, allowlist: frozenset[str] = frozenset()
) -> str:
    """A subject's ledger id from what a user types: a USCC, a resident ID number (hashed
    here, never kept) or an internal person id."""
    if len(text) == 33 and text.startswith("P") and all(c in "0123456789abcdef" for c in text[1:]):
        return text
    check = check_identifier(text, None, allowlist)
    if not check.valid:
        raise ValueError(
            f"{check.display_code} is not a valid identifier: {'; '.join(check.errors)}"
        )
    if check.kind is SubjectKind.PERSON:
        if keyer is None:
            raise ValueError("a resident ID number needs the person key (TRUSTLEDGER_PERSON_KEY)")
        return keyer.person_id(check.code)
    return check.code
