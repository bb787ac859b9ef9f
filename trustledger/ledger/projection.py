"""Projections: the current authorities, subjects and records, derived from entries alone.

Stores write the rows a Projector produces in the same transaction as the entries that
produced them; `rebuild` and `verify` run the same Projector over the whole ledger, so the
stored tables and a replay can be compared row for row.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

import orjson

from trustledger.domain import EntryKind, RecordStatus
from trustledger.ledger.entry import Entry


class AuthorityRow(NamedTuple):
    id: str
    name: str
    authority_type: str
    division: str
    last_seq: int


class SubjectRow(NamedTuple):
    id: str
    kind: str
    name: str
    division: str | None
    former_names: str  # JSON array
    aliases: str  # JSON array
    address: str | None
    established: str | None
    registered_seq: int
    last_seq: int


class RecordRow(NamedTuple):
    id: str
    subject_id: str
    authority_id: str
    category: str
    tier: str
    decision_type: str
    document_number: str
    decision_date: str
    publication_date: str
    title: str | None
    amount_cny: str | None
    evidence_digest: str | None
    status: str
    status_date: str | None  # effective date of the correction, revocation or end
    status_reason: str | None
    issued_seq: int
    last_seq: int
    # the person (keyed id) a court decision names as the organisation's legal representative
    legal_representative: str | None = None
    # None for records resting on a decision; "pending" while a record resting on automated
    # data awaits a person's confirmation (it counts toward nothing), then "confirmed"
    confirmation: str | None = None
    # JSON object role → keyed ids of the persons of the organisation the decision names
    # (principal manager, directly responsible persons, actual controller; SPC provisions
    # on high consumption, art. 3 para. 2); None: it names none beyond the representative
    restricted_persons: str | None = None


class RecordEventRow(NamedTuple):
    id: str  # the intake's duplicate key for the change
    record_id: str
    kind: str
    document_number: str
    effective_date: str
    seq: int


class RulebookRow(NamedTuple):
    id: str  # "<rulebook id>@<version>"
    rulebook_id: str
    version: str
    title: str
    sha256: str  # of the YAML source, as published
    source: str
    seq: int


class ObjectionRow(NamedTuple):
    """An objection to a record (its content, its publicity period, a listing resting on it,
    or a repair decision about it) and, once decided, the outcome."""

    id: str
    record_id: str
    subject_id: str
    ground: str
    status: str  # open, upheld, dismissed
    filed_date: str
    deadline: str  # the day a decision is due (working days, the regime's calendar)
    filed_by: str  # principal id
    decided_date: str | None
    reviewer: str | None  # principal id
    reasons: str | None  # the decision's reasons
    filed_seq: int
    last_seq: int


class RepairRow(NamedTuple):
    """An application for credit repair of one record and, once decided, the outcome."""

    id: str
    record_id: str
    subject_id: str
    status: str  # open, granted, refused
    applied_date: str
    deadline: str
    applicant: str  # principal id
    decided_date: str | None
    reviewer: str | None
    reasons: str | None
    applied_seq: int
    last_seq: int


class HoldRow(NamedTuple):
    """An operator's hold of a subject's pending listing for human review."""

    id: str
    subject_id: str
    rulebook_id: str
    list_id: str
    status: str  # open, released
    held_date: str
    held_by: str  # principal id
    reasons: str
    released_date: str | None
    released_by: str | None
    held_seq: int
    last_seq: int


class ConsentRow(NamedTuple):
    """A person's consent to publish a commendation about them (one per record): what they
    chose to show while it is given; nothing but the dates once withdrawn."""

    id: str  # the record commended
    subject_id: str
    status: str  # given, withdrawn
    display_name: str | None  # the name the person chose to be shown under
    shown: str  # JSON array: the record's fields the person chose to show
    given_date: str
    given_by: str  # principal id
    withdrawn_date: str | None
    given_seq: int
    last_seq: int


class ExceptionRow(NamedTuple):
    """A court's grant letting a restricted person (or subject) do restricted actions with
    personal funds (SPC provisions on high consumption, art. 3), for a bounded time."""

    id: str
    subject_id: str  # the person (keyed id) or subject the grant lets act
    authority_id: str
    document_number: str
    decision_date: str
    entity_id: str | None  # the listed organisation whose restriction it lifts; None: any
    measure_id: str | None  # the measure it lifts; None: any restricting these actions
    actions: str  # JSON array
    valid_from: str
    valid_until: str  # the last day it covers
    seq: int


class PointRow(NamedTuple):
    """A monitoring point: the logger (its MN) bound to the organisation, outlet and limit
    set it measures; registering it again replaces the binding."""

    id: str  # the MN
    subject: str
    outlet: str
    authority: str  # the monitoring authority whose records its data may found
    rulebook: str
    limit_set: str
    pollutants: str  # JSON array of codes
    flow_unit: str
    registered_us: int
    seq: int


class PersonKeyRow(NamedTuple):
    """A person-key version that became current (person_key.rotated entries)."""

    id: str  # the version, as text
    version: int
    fingerprint: str
    seq: int


class PersonLinkRow(NamedTuple):
    """The keyed hash of an ID number under a newer key version → the person's stable id
    (person_key.linked entries): lookups under that version find the person without the
    older key."""

    id: str  # the keyed hash under ``version``
    version: int
    subject_id: str  # the stable id, derived under an older version
    from_version: int  # the version whose hash (or link) found the person
    seq: int


Row = (
    AuthorityRow
    | SubjectRow
    | RecordRow
    | RecordEventRow
    | RulebookRow
    | ObjectionRow
    | RepairRow
    | HoldRow
    | ConsentRow
    | ExceptionRow
    | PointRow
    | PersonKeyRow
    | PersonLinkRow
)

# table name → row type; the order is the order tables are written and compared in
TABLES: dict[str, type[Any]] = {
    "authorities": AuthorityRow,
    "subjects": SubjectRow,
    "records": RecordRow,
    "record_events": RecordEventRow,
    "rulebooks": RulebookRow,
    "objections": ObjectionRow,
    "repairs": RepairRow,
    "holds": HoldRow,
    "consents": ConsentRow,
    "exceptions": ExceptionRow,
    "points": PointRow,
    "person_keys": PersonKeyRow,
    "person_links": PersonLinkRow,
}

_K = EntryKind
# entry kind → the projection tables its entries write; a kind not named writes none.
# verify replays a group of tables from the entries of their kinds alone, so the Projector
# is held to this by a test that applies every kind
TABLES_OF_KIND: dict[str, tuple[str, ...]] = {
    _K.AUTHORITY_REGISTERED.value: ("authorities",),
    _K.SUBJECT_REGISTERED.value: ("subjects",),
    _K.RECORD_ISSUED.value: ("records",),
    **{
        k.value: ("records", "record_events")
        for k in (
            _K.RECORD_CORRECTED,
            _K.RECORD_REVOKED,
            _K.RECORD_ENDED,
            _K.RECORD_CONFIRMED,
            _K.RECORD_REPAIRED,
        )
    },
    _K.RULEBOOK_PUBLISHED.value: ("rulebooks",),
    _K.OBJECTION_FILED.value: ("objections",),
    _K.OBJECTION_DECIDED.value: ("objections",),
    _K.REPAIR_APPLIED.value: ("repairs",),
    _K.REPAIR_DECIDED.value: ("repairs",),
    _K.LISTING_HELD.value: ("holds",),
    _K.LISTING_RELEASED.value: ("holds",),
    _K.EXCEPTION_GRANTED.value: ("exceptions",),
    _K.CONSENT_GIVEN.value: ("consents",),
    _K.CONSENT_WITHDRAWN.value: ("consents",),
    _K.POINT_REGISTERED.value: ("points",),
    _K.PERSON_KEY_ROTATED.value: ("person_keys",),
    _K.PERSON_KEY_LINKED.value: ("person_links",),
}


def kinds_writing(tables: Iterable[str]) -> frozenset[str]:
    """The entry kinds whose entries write any of ``tables``."""
    wanted = set(tables)
    return frozenset(k for k, written in TABLES_OF_KIND.items() if wanted.intersection(written))


Lookup = Callable[[str, str], Any]

# Fields of a record that a correction may change.
CORRECTABLE_FIELDS = (
    "title",
    "tier",
    "decision_date",
    "publication_date",
    "amount_cny",
    "evidence_digest",
)


def json_list(values: Iterable[str] | None) -> str:
    return orjson.dumps(list(values or ())).decode()


def _by_role(persons: list[dict[str, str]] | None) -> str | None:
    if not persons:
        return None
    roles: dict[str, list[str]] = {}
    for person in persons:
        roles.setdefault(person["role"], []).append(person["id"])
    return orjson.dumps(roles, option=orjson.OPT_SORT_KEYS).decode()


class ProjectionError(RuntimeError):
    """An entry that cannot be projected: the ledger contradicts itself."""


# plain strings: reading an enum member costs a descriptor call, and apply() runs per entry
_ISSUED = EntryKind.RECORD_ISSUED.value
_SUBJECT = EntryKind.SUBJECT_REGISTERED.value
_AUTHORITY = EntryKind.AUTHORITY_REGISTERED.value
_CHANGES = frozenset(
    k.value
    for k in (
        EntryKind.RECORD_CORRECTED,
        EntryKind.RECORD_REVOKED,
        EntryKind.RECORD_ENDED,
        EntryKind.RECORD_CONFIRMED,
        EntryKind.RECORD_REPAIRED,
    )
)
_STATUS_ISSUED = RecordStatus.ISSUED.value
_RULEBOOK = EntryKind.RULEBOOK_PUBLISHED.value
_OBJECTION_FILED = EntryKind.OBJECTION_FILED.value
_OBJECTION_DECIDED = EntryKind.OBJECTION_DECIDED.value
_REPAIR_APPLIED = EntryKind.REPAIR_APPLIED.value
_REPAIR_DECIDED = EntryKind.REPAIR_DECIDED.value
_HELD = EntryKind.LISTING_HELD.value
_RELEASED = EntryKind.LISTING_RELEASED.value
_CONSENT_GIVEN = EntryKind.CONSENT_GIVEN.value
_CONSENT_WITHDRAWN = EntryKind.CONSENT_WITHDRAWN.value
_EXCEPTION = EntryKind.EXCEPTION_GRANTED.value
_POINT = EntryKind.POINT_REGISTERED.value
_PERSON_KEY_ROTATED = EntryKind.PERSON_KEY_ROTATED.value
_PERSON_KEY_LINKED = EntryKind.PERSON_KEY_LINKED.value


class Projector:
    """Applies entries to projection rows; `changed` holds every row written so far."""

    def __init__(self, lookup: Lookup | None = None) -> None:
        self._lookup = lookup
        self.changed: dict[str, dict[str, Any]] = {t: {} for t in TABLES}

    def get(self, table: str, key: str) -> Any:
        row = self.changed[table].get(key)
        if row is None and self._lookup is not None:
            row = self._lookup(table, key)
        return row

    def _put(self, table: str, row: Row) -> None:
        self.changed[table][row.id] = row

    def apply(self, entry: Entry, payload: dict[str, Any] | None = None) -> None:
        p = payload if payload is not None else entry.payload_obj()
        kind = entry.kind
        seq = entry.seq
        if kind == _ISSUED:
            self.changed["records"][p["record_id"]] = RecordRow(
                p["record_id"],
                p["subject"],
                p["authority"],
                p["category"],
                p["tier"],
                p["decision_type"],
                p["document_number"],
                p["decision_date"],
                p["publication_date"],
                p.get("title"),
                p.get("amount_cny"),
                p.get("evidence_digest"),
                _STATUS_ISSUED,
                None,
                None,
                seq,
                seq,
                p.get("legal_representative"),
                "pending" if p.get("basis") == "automated" else None,
                _by_role(p.get("restricted_persons")),
            )
        elif kind == _SUBJECT:
            old = self.get("subjects", p["id"])
            self._put(
                "subjects",
                SubjectRow(
                    p["id"],
                    p["kind"],
                    p["name"],
                    p.get("division"),
                    json_list(p.get("former_names")),
                    json_list(p.get("aliases")),
                    p.get("address"),
                    p.get("established"),
                    old.registered_seq if old is not None else seq,
                    seq,
                ),
            )
        elif kind in _CHANGES:
            self._apply_change(entry, p)
        elif kind == _AUTHORITY:
            self._put(
                "authorities",
                AuthorityRow(p["id"], p["name"], p["authority_type"], p["division"], seq),
            )
        elif kind == _RULEBOOK:
            self._put(
                "rulebooks",
                RulebookRow(
                    f"{p['id']}@{p['version']}", p["id"], p["version"], p["title"],
                    p["sha256"], p["source"], seq,
                ),
            )  # fmt: skip
        elif kind == _OBJECTION_FILED:
            self._put("objections", ObjectionRow(
                p["objection_id"], p["record_id"], p["subject"], p["ground"], "open",
                p["filed_date"], p["deadline"], p["filed_by"], None, None, None, seq, seq,
            ))  # fmt: skip
        elif kind == _OBJECTION_DECIDED:
            objection: ObjectionRow | None = self.get("objections", p["objection_id"])
            if objection is None:
                raise ProjectionError(f"entry {seq}: decision on unknown objection")
            self._put("objections", objection._replace(
                status=p["outcome"], decided_date=p["decided_date"], reviewer=p["reviewer"],
                reasons=p["reasons"], last_seq=seq,
            ))  # fmt: skip
        elif kind == _HELD:
            self._put("holds", HoldRow(
                p["hold_id"], p["subject"], p["rulebook"], p["list"], "open", p["held_date"],
                p["held_by"], p["reasons"], None, None, seq, seq,
            ))  # fmt: skip
        elif kind == _RELEASED:
            hold: HoldRow | None = self.get("holds", p["hold_id"])
            if hold is None:
                raise ProjectionError(f"entry {seq}: release of unknown hold")
            self._put("holds", hold._replace(
                status="released", released_date=p["released_date"],
                released_by=p["released_by"], last_seq=seq,
            ))  # fmt: skip
        elif kind == _REPAIR_APPLIED:
            self._put("repairs", RepairRow(
                p["repair_id"], p["record_id"], p["subject"], "open", p["applied_date"],
                p["deadline"], p["applicant"], None, None, None, seq, seq,
            ))  # fmt: skip
        elif kind == _EXCEPTION:
            self._put("exceptions", ExceptionRow(
                p["exception_id"], p["subject"], p["authority"], p["document_number"],
                p["decision_date"], p.get("entity"), p.get("measure"), json_list(p["actions"]),
                p["valid_from"], p["valid_until"], seq,
            ))  # fmt: skip
        elif kind == _CONSENT_GIVEN:
            self._put("consents", ConsentRow(
                p["record_id"], p["subject"], "given", p["display_name"], json_list(p["shown"]),
                p["date"], p["given_by"], None, seq, seq,
            ))  # fmt: skip
        elif kind == _CONSENT_WITHDRAWN:
            consent: ConsentRow | None = self.get("consents", p["record_id"])
            if consent is None:
                raise ProjectionError(f"entry {seq}: withdrawal of a consent never given")
            self._put("consents", consent._replace(
                status="withdrawn", display_name=None, shown="[]", withdrawn_date=p["date"],
                last_seq=seq,
            ))  # fmt: skip
        elif kind == _POINT:
            self._put("points", PointRow(
                p["mn"], p["subject"], p["outlet"], p["authority"], p["rulebook"],
                p["limit_set"], json_list(p["pollutants"]), p["flow_unit"],
                p["registered_us"], seq,
            ))  # fmt: skip
        elif kind == _REPAIR_DECIDED:
            repair: RepairRow | None = self.get("repairs", p["repair_id"])
            if repair is None:
                raise ProjectionError(f"entry {seq}: decision on unknown repair application")
            self._put("repairs", repair._replace(
                status=p["outcome"], decided_date=p["decided_date"], reviewer=p["reviewer"],
                reasons=p["reasons"], last_seq=seq,
            ))  # fmt: skip
        elif kind == _PERSON_KEY_ROTATED:
            self._put("person_keys", PersonKeyRow(
                str(p["version"]), p["version"], p["fingerprint"], seq))  # fmt: skip
        elif kind == _PERSON_KEY_LINKED:
            self._put("person_links", PersonLinkRow(
                p["hash"], p["version"], p["subject"], p["from_version"], seq))  # fmt: skip

    def _apply_change(self, entry: Entry, p: dict[str, Any]) -> None:
        record: RecordRow | None = self.get("records", p["record_id"])
        if record is None:
            raise ProjectionError(
                f"entry {entry.seq}: {entry.kind} of unknown record {p['record_id']}"
            )
        if entry.kind == EntryKind.RECORD_CORRECTED:
            changes = {k: p["changes"][k] for k in CORRECTABLE_FIELDS if k in p["changes"]}
            record = record._replace(**changes, status=RecordStatus.CORRECTED.value)
        elif entry.kind == EntryKind.RECORD_REVOKED:
            record = record._replace(status=RecordStatus.REVOKED.value)
        elif entry.kind == EntryKind.RECORD_REPAIRED:
            record = record._replace(status=RecordStatus.REPAIRED.value)
        elif entry.kind == EntryKind.RECORD_CONFIRMED:
            # confirming changes whether the record counts, not its status or dates
            self._put("records", record._replace(confirmation="confirmed", last_seq=entry.seq))
            self._event(entry, p)
            return
        else:
            record = record._replace(status=RecordStatus.ENDED.value)
        self._put(
            "records",
            record._replace(
                status_date=p["effective_date"], status_reason=p["reason"], last_seq=entry.seq
            ),
        )
        self._event(entry, p)

    def _event(self, entry: Entry, p: dict[str, Any]) -> None:
        self._put(
            "record_events",
            RecordEventRow(
                p["event_id"],
                p["record_id"],
                entry.kind,
                p["document_number"],
                p["effective_date"],
                entry.seq,
            ),
        )


def replay(entries: Iterable[Entry]) -> Projector:
    """Project a whole ledger in memory."""
    projector = Projector()
    for entry in entries:
        projector.apply(entry)
    return projector
