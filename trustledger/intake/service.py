"""The intake: stateless checks, then the checks that need the ledger, then the append.

Each batch is one write transaction. The checks against the ledger (is the authority
registered and allowed, does the record exist, is this a duplicate) run inside it, so two
intakes running at once cannot both accept the same record.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any, NamedTuple

from trustledger.catalogue import Catalogue, Category
from trustledger.domain import AuthorityType, EntryKind, RecordStatus, SubjectKind
from trustledger.ids import PersonKeyer
from trustledger.intake.removal import RemovalRules, removal_rules
from trustledger.intake.validate import Reject, Submission, Validator, natural_key
from trustledger.ledger.canonical import canonical_json
from trustledger.ledger.projection import AuthorityRow, RecordRow, SubjectRow, json_list
from trustledger.ledger.store import Store, StoreError, Writer


class Outcome(StrEnum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    REJECTED = "rejected"


class Result(NamedTuple):
    """What became of one submission (a tuple: bulk intake makes one per line)."""

    outcome: Outcome
    reason: str | None = None
    seq: int | None = None  # the entry that recorded it (accepted only)
    ref: str | None = None  # record, subject or authority id
    subject: str | None = None  # the subject whose file changed (accepted only)


@dataclass
class Counts:
    accepted: int = 0
    duplicate: int = 0
    rejected: int = 0
    reasons: dict[str, int] = field(default_factory=dict)

    def add(self, result: Result) -> None:
        if result.outcome is Outcome.ACCEPTED:
            self.accepted += 1
        elif result.outcome is Outcome.DUPLICATE:
            self.duplicate += 1
        else:
            self.rejected += 1
            key = (result.reason or "").split(":", 1)[0]
            self.reasons[key] = self.reasons.get(key, 0) + 1

    @property
    def total(self) -> int:
        return self.accepted + self.duplicate + self.rejected


class Intake:
    def __init__(
        self,
        store: Store,
        catalogue: Catalogue,
        keyer: PersonKeyer | None,
        *,
        today: date | None = None,
        allowlist: frozenset[str] = frozenset(),
    ) -> None:
        meta = store.meta()
        stored = meta.get("person_key_fingerprint")
        if keyer is not None and stored is not None and stored != keyer.fingerprint():
            raise StoreError(
                "the person key does not match the one this database was created with "
                f"(fingerprint {keyer.fingerprint()}, database expects {stored}); person ids "
                "made with it would not match the stored ones"
            )
        self.store = store
        self.validator = Validator(catalogue, keyer, today or date.today(), allowlist)
        # registered authorities, remembered across batches: a few hundred rows read on
        # nearly every line. Only found rows are kept; re-registration here refreshes them.
        self.authorities: dict[str, AuthorityRow] = {}

    def submit(self, raw: dict[str, Any]) -> Result:
        return self.submit_many([raw])[0]

    def submit_many(self, items: Sequence[dict[str, Any] | Reject]) -> list[Result]:
        """Check and append a batch in one transaction; items may be pre-rejected lines."""
        check = self.validator.check
        return self.commit([i if isinstance(i, Reject) else check(i) for i in items])

    def commit(self, checked: Sequence[Submission | Reject]) -> list[Result]:
        """The ledger checks and the append of submissions that passed `Validator.check`."""
        # only an `end` needs the rulebooks (its reason must be a removal trigger they list)
        rules = (
            removal_rules(self.store)
            if any(isinstance(s, Submission) and s.op == "end" for s in checked)
            else None
        )
        with self.store.writer() as w:
            return _Batch(w, checked, self.authorities, self.validator.categories, rules).run()


class _Batch:
    """The ledger-dependent checks of one batch, inside its write transaction."""

    def __init__(
        self,
        writer: Writer,
        checked: Sequence[Submission | Reject],
        authorities: dict[str, AuthorityRow],
        categories: dict[str, Category],
        rules: RemovalRules | None = None,
    ) -> None:
        self.w = writer
        self.rules = rules
        self.categories = categories
        self.checked = checked
        self.authorities = authorities
        subs = [s for s in checked if isinstance(s, Submission)]
        # one query per table for everything the batch will look at, not one per line
        writer.prefetch("records", [s.record_id for s in subs if s.record_id])
        writer.prefetch("subjects", [s.subject_id for s in subs if s.subject_id])
        writer.prefetch("record_events", [s.event_id for s in subs if s.event_id])
        legacy = [s.legacy for s in subs if s.legacy]
        if legacy:  # lines whose document number an earlier release keyed as written
            writer.prefetch("records", [r for r, _ in legacy if r])
            writer.prefetch("record_events", [e for _, e in legacy if e])
        writer.prefetch(
            "authorities",
            [a for s in subs if (a := s.payload.get("authority")) and a not in authorities],
        )

    def run(self) -> list[Result]:
        out: list[Result] = []
        for item in self.checked:
            if isinstance(item, Reject):
                out.append(Result(Outcome.REJECTED, item.reason))
                continue
            try:
                out.append(self._one(item))
            except Reject as exc:
                out.append(Result(Outcome.REJECTED, exc.reason))
        return out

    def _authority(self, authority_id: str) -> AuthorityRow:
        row = self.authorities.get(authority_id)
        if row is None:
            row = self.w.get("authorities", authority_id)
            if row is None:
                raise Reject(f"authority: {authority_id} is not a registered issuing authority")
            self.authorities[authority_id] = row
        return row

    def _one(self, s: Submission) -> Result:
        if s.op == "issue":
            return self._issue(s)
        if s.op == "subject":
            return self._register(s, "subjects", s.payload["id"])
        if s.op == "authority":
            self.authorities.pop(s.payload["id"], None)
            return self._register(s, "authorities", s.payload["id"])
        if s.op == "exception":
            return self._exception(s)
        return self._change(s)

    def _register(self, s: Submission, table: str, key: str) -> Result:
        old = self.w.get(table, key)
        if old is not None and _same_registration(table, old, s.payload):
            return Result(
                Outcome.DUPLICATE, f"{key} is already registered with these details", ref=key
            )
        entry = self.w.append(s.kind, s.payload, s.body)
        subject = key if table == "subjects" else None
        return Result(Outcome.ACCEPTED, seq=entry.seq, ref=key, subject=subject)

    def _issue(self, s: Submission) -> Result:
        assert s.record_id is not None and s.subject_id is not None
        category = self.categories.get(s.payload["category"])
        assert category is not None  # the stateless check found it
        rid = s.record_id
        legacy = s.legacy[0] if s.legacy else None
        if self.w.get("records", rid) is not None or (
            legacy is not None and self.w.get("records", legacy) is not None
        ):
            return Result(
                Outcome.DUPLICATE,
                f"record {rid} (same authority, document number, "
                "subject and category) is already in the ledger",
                ref=rid,
            )
        authority = self._authority(s.payload["authority"])
        if authority.authority_type not in category.authorities:  # str vs StrEnum: equal
            allowed = ", ".join(a.value for a in category.authorities)
            raise Reject(
                f"authority: {authority.id} ({authority.authority_type}) may not issue "
                f"{category.code} (issued by: {allowed})"
            )
        if self.w.get("subjects", s.subject_id) is None:
            self._register_from_record(s)
        entry = self.w.append(EntryKind.RECORD_ISSUED, s.payload, s.body)
        return Result(Outcome.ACCEPTED, seq=entry.seq, ref=rid, subject=s.subject_id)

    def _exception(self, s: Submission) -> Result:
        """A court's grant of an exception (SPC provisions on high consumption, art. 3)."""
        grant_id = s.payload["exception_id"]
        if self.w.get("exceptions", grant_id) is not None:
            return Result(
                Outcome.DUPLICATE,
                f"exception {s.payload['document_number']} for this subject is already in "
                "the ledger",
                ref=grant_id,
            )
        authority = self._authority(s.payload["authority"])
        if authority.authority_type != AuthorityType.COURT:
            raise Reject(
                f"authority: {authority.id} ({authority.authority_type}) is not a court; "
                "only the court that restricted consumption grants an exception (SPC "
                "provisions on high consumption, art. 3)"
            )
        entry = self.w.append(s.kind, s.payload, s.body)
        # no subject's evaluation changes: the check reads grants beside the state
        return Result(Outcome.ACCEPTED, seq=entry.seq, ref=grant_id)

    def _on_legacy_record(self, s: Submission) -> Submission:
        """A change naming a record its issuer wrote with another form of the document
        number, stored by an earlier release under the id of the form as written: the
        change goes to that record."""
        legacy_target = s.legacy[0] if s.legacy else None
        if (
            legacy_target is not None
            and s.record_id is not None
            and self.w.get("records", s.record_id) is None
            and self.w.get("records", legacy_target) is not None
        ):
            return _on_legacy(s, legacy_target)
        return s

    def _register_from_record(self, s: Submission) -> None:
        assert s.subject_kind is not None
        if s.subject_name is None and s.subject_kind != SubjectKind.PERSON:
            raise Reject(
                f"subject: {s.subject_id} is not registered; register it first or give subject_name"
            )
        self.w.append(
            EntryKind.SUBJECT_REGISTERED,
            {
                "id": s.subject_id,
                "kind": s.subject_kind,
                "name": s.subject_name or "",
                "division": s.subject_division,
                "former_names": [],
                "aliases": [],
                "address": None,
                "established": None,
            },
        )

    def _change(self, s: Submission) -> Result:
        s = self._on_legacy_record(s)
        assert s.record_id is not None and s.event_id is not None
        legacy_event = s.legacy[1] if s.legacy else None
        if self.w.get("record_events", s.event_id) is not None or (
            legacy_event is not None and self.w.get("record_events", legacy_event) is not None
        ):
            return Result(
                Outcome.DUPLICATE,
                f"{s.op} {s.payload['document_number']} of record "
                f"{s.record_id} is already in the ledger",
                ref=s.record_id,
            )
        record: RecordRow | None = self.w.get("records", s.record_id)
        if record is None:
            raise Reject(
                f"record: no record {s.record_id} issued by {s.payload['authority']} "
                "matches this line"
            )
        authority = self._authority(s.payload["authority"])
        if authority.id != record.authority_id and not (
            s.op == "revoke" and authority.authority_type == AuthorityType.COURT
        ):
            raise Reject(
                f"authority: {authority.id} did not issue record {record.id} (issued by "
                f"{record.authority_id}); only the issuer may {s.op} it"
                + (" (or a court revoke it)" if s.op == "revoke" else "")
            )
        if record.status in (RecordStatus.REVOKED, RecordStatus.ENDED, RecordStatus.REPAIRED):
            raise Reject(
                f"record: {record.id} is already {record.status} "
                f"(on {record.status_date}); it cannot be changed any more"
            )
        if s.op == "confirm" and record.confirmation != "pending":
            raise Reject(
                f"record: {record.id} does not await confirmation (only a record resting on "
                "automated data does, once)"
            )
        effective = s.payload["effective_date"]
        if effective < record.decision_date:
            raise Reject(
                f"effective_date: {effective} is before the record's decision date "
                f"{record.decision_date}"
            )
        if s.op == "end" and self.rules is not None:
            self.rules.check(record.category, s.payload["reason"], date.fromisoformat(effective))
        if s.op == "correct":
            changes = s.payload["changes"]
            decided = changes.get("decision_date", record.decision_date)
            published = changes.get("publication_date", record.publication_date)
            if published < decided:
                raise Reject(
                    f"changes: publication_date {published} would be before the "
                    f"decision_date {decided}"
                )
        entry = self.w.append(s.kind, s.payload, s.body)
        return Result(Outcome.ACCEPTED, seq=entry.seq, ref=record.id, subject=record.subject_id)


def _on_legacy(s: Submission, legacy_target: str) -> Submission:
    payload = {**s.payload, "record_id": legacy_target}
    return s._replace(record_id=legacy_target, payload=payload, body=canonical_json(payload))


def _same_registration(table: str, old: Any, payload: dict[str, Any]) -> bool:
    if table == "authorities":
        row: AuthorityRow = old
        return (row.name, row.authority_type) == (payload["name"], payload["authority_type"])
    subject: SubjectRow = old
    return (
        natural_key(subject.name) == natural_key(payload["name"])
        and subject.former_names == json_list(payload["former_names"])
        and subject.aliases == json_list(payload["aliases"])
        and subject.address == payload["address"]
        and subject.established == payload["established"]
    )


def submit_all(intake: Intake, items: Iterable[dict[str, Any]], batch: int = 2000) -> Counts:
    """Submit an in-memory stream in batches (used by the demo and tests)."""
    counts = Counts()
    chunk: list[dict[str, Any] | Reject] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= batch:
            for r in intake.submit_many(chunk):
                counts.add(r)
            chunk = []
    if chunk:
        for r in intake.submit_many(chunk):
            counts.add(r)
    return counts
