"""An organisation's file as people read it: who it is (its USCC decoded), every record
with its title, authority, document, legal basis, publicity window and status, its standing
under each rulebook (score and grade history, lists and measures with the records and rule
lines behind them) and how to object or apply for repair.

One view serves the portal's entity page, `trustledger profile` and the subject's own file;
``public`` decides what the public may see (published records, effective listings, the
measures resting on them). Persons have no public file: NotFound, decided from the id's form.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import orjson

from trustledger.app.checks import resolve_subject
from trustledger.app.errors import NotFound
from trustledger.app.time import When
from trustledger.domain import USCC_REGISTERING_AUTHORITIES

if TYPE_CHECKING:
    from trustledger.app.context import Context
    from trustledger.app.profiles import SubjectProfiles

# the statuses a record can have on the day asked about, whatever the rulebook
IN_FORCE = "in force"
PENDING = "pending"
UNDER_OBJECTION = "under objection"
REPAIRED = "repaired"
ENDED = "ended"
REVOKED = "revoked"
PUBLISHED = "published"  # published, but no rulebook here counts it (nothing to end it)

HOW_TO_OBJECT = (
    "A subject who thinks a record is wrong may object to its content, its publicity "
    "period or a listing resting on it: with the subject's key, on the page My file "
    "(/me), or POST /v1/objections. The reviewer answers within the regime's deadline "
    "in working days; while an objection is open the listing stays pending. Once a "
    "record's minimum publicity period has passed and its obligations are met, the "
    "subject may apply for credit repair the same way (POST /v1/repairs)."
)


@dataclass(frozen=True)
class Identity:
    id: str
    name: str
    kind: str
    former_names: list[str]
    aliases: list[str]
    address: str | None
    established: str | None
    division: str | None
    division_names: list[str]  # province, prefecture, county (those that exist)
    registering_authority: str | None
    type_code: str | None


@dataclass(frozen=True)
class RecordLine:
    record_id: str
    category: str
    category_title: str
    category_title_zh: str
    polarity: str
    tier: str
    title: str | None
    authority_id: str
    authority: str
    decision_type: str
    document_number: str
    decision_date: str
    publication_date: str
    publicity_until: str | None  # the last day of the longest publicity period here
    legal_basis: list[str]
    status: str
    status_detail: str  # why: the ending's date and reason, the objection, the standing
    objection: str | None
    seq: int
    # it counts under a rulebook whose law gives it no fixed term (until an entry ends it)
    no_fixed_term: bool = False


@dataclass(frozen=True)
class Standing:
    rulebook: str  # id@version
    title: str
    applicable: bool
    score: int | None
    grade: str | None
    history: list[tuple[str, int | None, str | None]]
    lists: list[dict[str, Any]]
    measures: list[dict[str, Any]]
    explanation: list[str]


@dataclass(frozen=True)
class EntityFile:
    identity: Identity
    when: When
    records: list[RecordLine]
    standings: list[Standing]
    objections: list[dict[str, Any]] = field(default_factory=list)
    how_to_object: str = HOW_TO_OBJECT

    @property
    def listed(self) -> list[dict[str, Any]]:
        """Every list membership effective on the day, with its rulebook."""
        return [{**m, "rulebook": s.rulebook} for s in self.standings for m in s.lists
                if m["status"] == "effective"]  # fmt: skip

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out.update(self.when.to_json())
        del out["when"]
        out["standings"] = [
            {**s, "history": [{"day": d, "score": sc, "grade": g} for d, sc, g in s["history"]]}
            for s in out["standings"]
        ]
        return out


def identity_of(ctx: Context, subject_id: str) -> Identity:
    """The register row, the USCC decoded; NotFound for a person (no public file) or an
    unknown subject."""
    from trustledger.data import division_names

    if subject_id.startswith("P"):
        raise NotFound("no such organisation")
    row = ctx.store.get_row("subjects", subject_id)
    if row is None:
        raise NotFound("no such organisation in the ledger")
    names = division_names()
    division = row.division
    levels: list[str] = []
    if division:
        for code in dict.fromkeys((division[:2] + "0000", division[:4] + "00", division)):
            if code in names:
                levels.append(names[code])
    uscc = len(subject_id) == 18
    return Identity(
        id=row.id, name=row.name, kind=row.kind, former_names=orjson.loads(row.former_names),
        aliases=orjson.loads(row.aliases), address=row.address, established=row.established,
        division=division, division_names=levels,
        registering_authority=USCC_REGISTERING_AUTHORITIES.get(subject_id[0]) if uscc else None,
        type_code=subject_id[:2] if uscc else None,
    )  # fmt: skip


def entity_file(ctx: Context, subject: str, when: When, *, public: bool = True) -> EntityFile:
    """The organisation's file known at ``when.at_us`` and judged on ``when.on``;
    ``public``: as the public may see it."""
    from trustledger.evaluate.service import UnknownSubject, subject_file

    subject_id = resolve_subject(ctx, subject)
    identity = identity_of(ctx, subject_id)
    try:
        found = subject_file(ctx.store, ctx.catalogue, subject_id, at_us=when.at_us, on=when.on)
    except UnknownSubject as exc:
        raise NotFound(str(exc)) from None
    on = when.on.isoformat()
    records = _record_lines(ctx, found.records, found.profiles, found.objections, on,
                            public=public)  # fmt: skip
    shown = {r.record_id for r in records}
    standings = [
        _standing(
            p.to_json(),
            found.titles.get(p.rulebook, p.rulebook),
            found.histories.get(p.rulebook, []),
            on,
            shown,
            public,
        )
        for p in found.profiles
    ]
    objections = [] if public else [
        {"id": o.id, "record_id": o.record_id, "ground": o.ground, "status": o.status,
         "filed_date": o.filed_date, "deadline": o.deadline, "decided_date": o.decided_date,
         "reasons": o.reasons}
        for o in found.objections
    ]  # fmt: skip
    return EntityFile(identity, when, records, standings, objections)


def _record_lines(
    ctx: Context,
    rows: list[Any],
    profiles: list[Any],
    objections: list[Any],
    on: str,
    *,
    public: bool,
) -> list[RecordLine]:
    """Each record as people read it, newest decision first; ``public``: only those
    published on the day (``_public_now``); the subject and the operator see them all."""
    open_objections = {o.record_id: o for o in objections if o.decided_date is None}
    views: dict[str, list[Any]] = {}
    for p in profiles:
        for view in p.records:
            views.setdefault(view.record_id, []).append(view)
    authorities = _authority_names(ctx, {r.authority_id for r in rows})
    lines: list[RecordLine] = []
    for r in sorted(rows, key=lambda r: (r.decision_date, r.id), reverse=True):
        category = ctx.catalogue.get(r.category)
        seen = views.get(r.id, [])
        status, detail = _status(r, on, seen, open_objections.get(r.id))
        if public and not _public_now(r, status, on):
            continue
        ends = [v.publicity_ends for v in seen if v.publicity_ends]
        open_ended = any(v.counted and v.publicity_ends is None for v in seen)
        lines.append(RecordLine(
            record_id=r.id, category=r.category,
            category_title=category.title if category else r.category,
            category_title_zh=category.title_zh if category else "",
            polarity=category.polarity.value if category else "",
            tier=r.tier, title=r.title, authority_id=r.authority_id,
            authority=authorities.get(r.authority_id, r.authority_id),
            decision_type=r.decision_type, document_number=r.document_number,
            decision_date=r.decision_date, publication_date=r.publication_date,
            publicity_until=max(ends) if ends and not open_ended else None,
            legal_basis=[_cite(b) for b in category.legal_basis] if category else [],
            status=status, status_detail=detail,
            objection=open_objections[r.id].id if r.id in open_objections else None,
            seq=r.issued_seq, no_fixed_term=open_ended,
        ))  # fmt: skip
    return lines


def _public_now(record: Any, status: str, on: str) -> bool:
    """Whether the public may see the record on day ``on``: while it is published — in
    force, or contested by an open objection; never before publication or confirmation,
    and no longer once it is repaired, revoked, ended or past its publicity period (credit
    repair and the time limits stop publication, principles 4 and 5). A record no rulebook
    here counts is public within the national bounds by tier, as in open data."""
    from trustledger.evaluate.inforce import publicity_ends
    from trustledger.exports.opendata import NATIONAL_PUBLICITY_MAX

    if status in (IN_FORCE, UNDER_OBJECTION):
        return bool(record.confirmation != "pending")
    if status == PUBLISHED:
        bound = NATIONAL_PUBLICITY_MAX.get(record.tier)
        if bound is None:
            return False  # a minor penalty no regime here publishes is not published
        ends = publicity_ends(record, bound)
        return ends is not None and on < ends.isoformat()
    return False


def _status(record: Any, on: str, views: list[Any], objection: Any) -> tuple[str, str]:
    from trustledger.evaluate.inforce import Standing as RecordStanding

    ending = {"revoked": REVOKED, "repaired": REPAIRED, "ended": ENDED}.get(record.status)
    if ending is not None and record.status_date is not None and record.status_date <= on:
        reason = f": {record.status_reason}" if record.status_reason else ""
        return ending, f"{ending} on {record.status_date}{reason}"
    if record.confirmation == "pending":
        return PENDING, "rests on automated data not yet confirmed by a person"
    if record.publication_date > on:
        return PENDING, f"to be published on {record.publication_date}"
    if objection is not None:
        return UNDER_OBJECTION, (
            f"objection {objection.id} ({objection.ground}) filed {objection.filed_date}, "
            f"decision due {objection.deadline}"
        )
    standings = {v.standing for v in views}
    if RecordStanding.IN_FORCE.value in standings:
        counted = [v for v in views if v.standing == RecordStanding.IN_FORCE.value]
        until = max((v.publicity_ends for v in counted if v.publicity_ends), default=None)
        if any(v.publicity_ends is None for v in counted):
            return IN_FORCE, "no fixed term: until an entry ends it"
        return IN_FORCE, f"publicity period until {until}" if until else "no fixed end"
    if RecordStanding.PUBLICITY_ENDED.value in standings:
        return ENDED, "its publicity period is over"
    return PUBLISHED, "no rulebook here counts it"


def _standing(
    profile: dict[str, Any],
    title: str,
    history: list[tuple[str, int | None, str | None]],
    on: str,
    shown: set[str],
    public: bool,
) -> Standing:
    from trustledger.app.profiles import _reach
    from trustledger.sanctions.actions import load_actions

    titles = {a.code: f"{a.title} ({a.title_zh})" for a in load_actions().actions}
    lists = []
    for m in profile["lists"]:
        status = "effective" if m.get("effective_from") and on >= m["effective_from"] else "pending"
        if public and status == "pending":
            continue
        records = [r for r in m["records"] if not public or r in shown]
        words = condition_in_words(m["condition"])
        lists.append({**m, "status": status, "records": records, "condition_words": words})
    effective = {m["list_id"] for m in lists}
    measures = [
        {**m, "extends_to": {} if public else m["extends_to"],
         "action_titles": [titles.get(a, a) for a in m["actions"]],
         "reaches": sorted(_reach(m["actions"]))}
        for m in profile["measures"] if m["list_id"] in effective
    ]  # fmt: skip
    return Standing(
        rulebook=profile["rulebook"], title=title, applicable=profile["applicable"],
        score=profile["score"], grade=profile["grade"], history=history, lists=lists,
        measures=measures, explanation=[] if public else profile["explanation"],
    )  # fmt: skip


@lru_cache(maxsize=256)
def condition_in_words(text: str) -> str:
    """A list's condition as a sentence (the published text, parsed again: a few dozen
    distinct conditions, each worded once)."""
    from trustledger.catalogue import national_catalogue
    from trustledger.rulebook.condition import ConditionError, parse_condition
    from trustledger.rulebook.words import condition_words

    catalogue = national_catalogue()

    def titles(code: str) -> str | None:
        found = catalogue.get(code)
        return found.title if found is not None else None

    try:
        return condition_words(parse_condition(text), titles)
    except ConditionError:  # published conditions parse; this is only belt and braces
        return text


def _authority_names(ctx: Context, ids: set[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for authority_id in ids:
        row = ctx.store.get_row("authorities", authority_id)
        if row is not None:
            out[authority_id] = row.name
    return out


def _cite(basis: Any) -> str:
    parts = [basis.instrument]
    if basis.article:
        parts.append(basis.article)
    return ", ".join(parts)


@dataclass(frozen=True)
class PersonFile:
    """A person's file as its reader at the command line reads it: the register's name
    and kind, each record told as for an organisation (title, authority, document, dates,
    status) and each rulebook's standing (lists with their status, measures with their
    action titles), as known then."""

    name: str
    kind: str
    records: list[RecordLine]
    standings: list[Standing]


def person_file(ctx: Context, found: SubjectProfiles) -> PersonFile:
    """The facts behind a person's profiles ``found`` (from ``app.profiles.profile``, which
    logs the read). A person has no entity file — it is what the public may be shown — but
    whoever may read the profile needs the same facts an organisation's file gives; the
    score history is left out (the profile has no use for it here)."""
    from trustledger.app.rulebooks import published
    from trustledger.evaluate.history import objections_as_of, records_as_of

    store, when = ctx.store, found.when
    row = store.get_row("subjects", found.subject_id)
    if row is None:
        raise NotFound(f"no subject {found.subject_id} in the ledger")
    rows = records_as_of(store, found.subject_id, when.at_us)
    size = store.size() if when.at_us is None else store.size_at(when.at_us)
    objections = objections_as_of(store, [found.subject_id], size).get(found.subject_id, [])
    on = when.on.isoformat()
    lines = _record_lines(ctx, rows, found.profiles, list(objections), on, public=False)
    titles = {f"{rid}@{rb.version}": rb.title for rid, rb in published(ctx, when.at_us).items()}
    shown = {r.record_id for r in lines}
    standings = [_standing(p.to_json(), titles.get(p.rulebook, p.rulebook), [], on, shown, False)
                 for p in found.profiles]  # fmt: skip
    return PersonFile(row.name, row.kind, lines, standings)
