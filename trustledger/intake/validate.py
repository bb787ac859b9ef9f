"""Stateless checks of one submission: everything that needs no database.

A submission is a flat mapping of field → value (a JSON Lines object or a CSV row). The
result is either a `Submission` with normalised, typed values or a `Reject` that names the
field and the problem in words a clerk can act on.
"""

from __future__ import annotations

import functools
import json
import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from hashlib import sha256
from typing import Any, NamedTuple

from trustledger.catalogue import Catalogue, Category
from trustledger.domain import (
    PERSON_DECISION_TYPES,
    AuthorityType,
    DecisionType,
    EndReason,
    EntryKind,
    SubjectKind,
    Tier,
)
from trustledger.ids import (
    IdCheck,
    PersonKeyer,
    age_on,
    birth_date,
    check_identifier,
    check_uscc,
    mask_personal_numbers,
)
from trustledger.ledger.canonical import canonical_json
from trustledger.ledger.projection import CORRECTABLE_FIELDS


@functools.cache
def _action_codes() -> frozenset[str]:
    from trustledger.sanctions.actions import load_actions

    return frozenset(load_actions().codes)


class Reject(Exception):
    """A submission refused with its reason. A reason may echo what it was given, so any
    number in it that is, or may be, a resident ID number is masked (principle 6)."""

    def __init__(self, reason: str) -> None:
        reason = mask_personal_numbers(reason)
        super().__init__(reason)
        self.reason = reason


OPS: dict[str, EntryKind] = {
    "authority": EntryKind.AUTHORITY_REGISTERED,
    "subject": EntryKind.SUBJECT_REGISTERED,
    "issue": EntryKind.RECORD_ISSUED,
    "correct": EntryKind.RECORD_CORRECTED,
    "revoke": EntryKind.RECORD_REVOKED,
    "end": EntryKind.RECORD_ENDED,
    "confirm": EntryKind.RECORD_CONFIRMED,
    "exception": EntryKind.EXCEPTION_GRANTED,
}

_FIELDS: dict[str, frozenset[str]] = {
    "authority": frozenset({"op", "id", "name", "authority_type"}),
    "subject": frozenset(
        {
            "op",
            "subject",
            "subject_kind",
            "name",
            "former_names",
            "aliases",
            "address",
            "established",
        }
    ),
    "issue": frozenset(
        {
            "op",
            "authority",
            "category",
            "subject",
            "subject_kind",
            "subject_name",
            "document_number",
            "decision_type",
            "decision_date",
            "publication_date",
            "tier",
            "title",
            "amount_cny",
            "evidence_digest",
            "legal_representative",
            "restricted_persons",
            "security_provided",
            "basis",
        }
    ),
}
_CHANGE_FIELDS = frozenset(
    {
        "op",
        "authority",
        "record",
        "subject",
        "subject_kind",
        "category",
        "target_document_number",
        "target_authority",
        "document_number",
        "effective_date",
        "reason",
        "changes",
    }
)
for _op in ("correct", "revoke", "end", "confirm"):
    _FIELDS[_op] = _CHANGE_FIELDS
_FIELDS["exception"] = frozenset(
    {
        "op",
        "authority",
        "subject",
        "subject_kind",
        "entity",
        "measure",
        "actions",
        "document_number",
        "decision_date",
        "valid_from",
        "valid_until",
        "title",
    }
)
_MEASURE_ID = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")

# Persons of a debtor organisation a court's records may name, whom a measure can reach
# (SPC provisions on high consumption, art. 3 para. 2); rulebook/schema.py RestrictedRole.
RESTRICTED_ROLES = (
    "legal_representative",
    "principal_manager",
    "directly_responsible",
    "actual_controller",
)
_MAX_RESTRICTED = 50
# Categories no court lists a debtor under once adequate security is provided (SPC Fashi
# [2013] No. 17 as revised by Fashi [2017] No. 7, art. 3: ground 1 only).
_SECURITY_BARS = {
    "JUD-DEBTOR-G1": "SPC Fashi [2013] No. 17 as revised by Fashi [2017] No. 7, art. 3",
}

_AMOUNT = re.compile(r"^(0|[1-9][0-9]{0,14})(\.[0-9]{1,2})?$")
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
DEFAULT_LIMIT = 200
MAX_NAMES = 100  # former names or aliases of one subject
MAX_ENTRY_BYTES = 64 * 1024
_LIMITS = {
    "name": 300,
    "subject_name": 300,
    "title": 2000,
    "address": 500,
    "reason": 2000,
    "document_number": 200,
    "target_document_number": 200,
}


class Submission(NamedTuple):
    """A submission that passed every stateless check, ready for the ledger's checks.

    Plain values only (no enums, no objects): bulk intake ships these between processes.
    """

    op: str
    kind: str  # an EntryKind value
    payload: dict[str, Any]
    body: bytes  # the payload's canonical JSON
    subject_id: str | None
    subject_kind: str | None  # a SubjectKind value
    subject_name: str | None
    subject_division: str | None
    record_id: str | None  # the record issued, or the record a change targets
    event_id: str | None
    # the ids the same line had before document numbers were normalised (natural_key), for
    # a ledger written by an earlier release: (record id, event id); None where the same
    legacy: tuple[str | None, str | None] | None = None


@dataclass(slots=True)
class _Draft:
    """A submission while it is being checked."""

    op: str
    kind: EntryKind
    payload: dict[str, Any]
    subject_id: str | None = None
    subject_kind: SubjectKind | None = None
    subject_name: str | None = None
    subject_division: str | None = None
    record_id: str | None = None
    event_id: str | None = None
    legacy: tuple[str | None, str | None] | None = None

    def done(self) -> Submission:
        body = canonical_json(self.payload)
        if len(body) > MAX_ENTRY_BYTES:
            raise Reject(
                f"entry: {len(body):,} bytes once encoded, at most {MAX_ENTRY_BYTES:,} "
                "(a decision's record, not a file)"
            )
        return Submission(
            self.op,
            self.kind.value,
            self.payload,
            body,
            self.subject_id,
            None if self.subject_kind is None else self.subject_kind.value,
            self.subject_name,
            self.subject_division,
            self.record_id,
            self.event_id,
            self.legacy,
        )


# Characters that change how a document number is written, never which decision it names:
# zero-width and bidirectional marks, soft hyphens; removed before the duplicate check.
_INVISIBLE = dict.fromkeys(
    map(ord, "\u00ad\u061c\u200b\u200c\u200d\u200e\u200f\u2060\ufeff"
             "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"),
    None,
)  # fmt: skip
# The year brackets of a document number (〔2024〕) as typed on keyboards without them
_BRACKETS = str.maketrans("[]【】〖〗〘〙⟦⟧", "〔〕〔〕〔〕〔〕〔〕")


def natural_key(text: str) -> str:
    """The form two submissions of one decision share however it was typed: NFKC (full-width
    digits and letters, ［］ and （）), invisible characters removed, bracket variants read
    as 〔〕, whitespace (NBSP and ideographic spaces too) left out. Used for duplicates only:
    the text is stored as given."""
    folded = unicodedata.normalize("NFKC", text.translate(_INVISIBLE)).translate(_BRACKETS)
    return "".join(folded.split())


# Latin-1 supplement letters (how UTF-8 read as Windows-1252 looks: 深 becomes æ·±) and the
# replacement character: text that may have been decoded with the wrong encoding
_SUSPECT = re.compile("[\u0080-\u00ff\ufffd]")
_BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _clean_text(name: str, value: str) -> str:
    """``value`` if it is text a person wrote; a Reject naming what is wrong if not:
    mojibake (checked first: UTF-8 read as Latin-1 also yields control characters), a
    control character (NUL, escape…), a bidirectional override (it makes text display
    otherwise than it reads), a character lost in decoding."""
    if _SUSPECT.search(value):
        import ftfy

        fixed = ftfy.fix_encoding(value)
        if fixed != value:
            raise Reject(
                f"{name}: {value[:40]!r} looks mis-decoded (UTF-8 read as another "
                f"encoding); it would read {fixed[:40]!r}: fix the file's encoding (UTF-8)"
            )
    for index, char in enumerate(value):
        if char in "\t\n\r":
            continue
        category = unicodedata.category(char)
        if category == "Cc":
            raise Reject(f"{name}: control character U+{ord(char):04X} at position {index + 1}")
        if char in _BIDI:
            raise Reject(
                f"{name}: bidirectional control U+{ord(char):04X} at position {index + 1} "
                "(it makes the text display otherwise than it reads)"
            )
        if char == "\ufffd":
            raise Reject(
                f"{name}: U+FFFD at position {index + 1}, a character lost when the file "
                "was decoded: fix the file's encoding (UTF-8) and submit it again"
            )
    return value


def _record_id(authority: str, document: str, subject_id: str, category: str) -> str:
    key = "\x1f".join((authority, document, subject_id, category))
    return "R" + sha256(key.encode()).hexdigest()[:24]


def _event_id(op: str, authority: str, document: str, target: str) -> str:
    key = "\x1f".join((op, authority, document, target))
    return "E" + sha256(key.encode()).hexdigest()[:24]


def record_id(authority: str, document_number: str, subject_id: str, category: str) -> str:
    """The record's id, derived from its natural key so resubmissions land on it."""
    return _record_id(authority, natural_key(document_number), subject_id, category)


def event_id(op: str, authority: str, document_number: str, target: str) -> str:
    return _event_id(op, authority, natural_key(document_number), target)


def _person_decision(category: Category, decision_type: DecisionType) -> None:
    """Principle 1 for a record about a person: a final court judgment or administrative
    penalty decision, or, in a category of commendations of persons only, a commendation."""
    if category.commends_persons:
        if decision_type is not DecisionType.COMMENDATION:
            raise Reject(
                f"decision_type: category {category.code} records a commendation of a "
                f"person; it rests on a commendation decision, not {decision_type.value}"
            )
        return
    if decision_type is DecisionType.COMMENDATION:
        raise Reject(
            "decision_type: a commendation of a person is recorded only in a category of "
            f"commendations of persons, not in {category.code}"
        )
    if decision_type not in PERSON_DECISION_TYPES:
        raise Reject(
            "decision_type: a record about a person must rest on a final court "
            "judgment or administrative penalty decision, not "
            f"{decision_type.value}"
        )


class Validator:
    """Stateless checks, with the catalogue, the person key and today's date fixed."""

    def __init__(
        self,
        catalogue: Catalogue,
        keyer: PersonKeyer | None,
        today: date,
        allowlist: frozenset[str] = frozenset(),
    ) -> None:
        self.catalogue = catalogue
        self.keyer = keyer
        self.today = today
        self.allowlist = allowlist
        self.catalogue_ref = f"{catalogue.id}@{catalogue.version}"
        self.categories = {c.code: c for c in catalogue}
        # identifiers repeat a lot in bulk files (one subject, many records)
        self._ids: dict[tuple[str, str | None], IdCheck] = {}
        # so do dates; only valid, non-future ones are remembered
        self._dates: dict[str, date] = {}

    # --- fields ----------------------------------------------------------------------
    @staticmethod
    def _text(raw: dict[str, Any], name: str, required: bool = True) -> str | None:
        value = raw.get(name)
        if type(value) is str:
            # the common case, checked first: plain printable text within its length limit
            value = value.strip()
            if value and len(value) <= _LIMITS.get(name, DEFAULT_LIMIT):
                if value.isprintable() and not _SUSPECT.search(value):
                    return value
                return _clean_text(name, value)
        if value is None or value == "":
            if required:
                raise Reject(f"{name}: missing")
            return None
        if not isinstance(value, str):
            raise Reject(f"{name}: expected text, got {type(value).__name__} {value!r}")
        limit = _LIMITS.get(name, DEFAULT_LIMIT)
        raise Reject(f"{name}: {len(value)} characters, at most {limit} allowed")

    def _required(self, raw: dict[str, Any], name: str) -> str:
        value = self._text(raw, name)
        assert value is not None
        return value

    def _date(self, raw: dict[str, Any], name: str, required: bool = True) -> date | None:
        text = self._text(raw, name, required)
        if text is None:
            return None
        value = self._dates.get(text)
        if value is not None:
            return value
        try:
            if len(text) != 10:
                raise ValueError
            value = date.fromisoformat(text)
        except ValueError:
            raise Reject(f"{name}: {text!r} is not a date in the form YYYY-MM-DD") from None
        if value > self.today:
            raise Reject(f"{name}: {text} is in the future (today is {self.today.isoformat()})")
        self._dates[text] = value
        return value

    @staticmethod
    def _enum(raw: dict[str, Any], name: str, enum: type[Any], value: str | None) -> Any:
        if value is None:
            return None
        try:
            return enum._value2member_map_[value]
        except KeyError:
            allowed = ", ".join(e.value for e in enum)
            raise Reject(f"{name}: {value!r} is not one of {allowed}") from None

    def _names(self, raw: dict[str, Any], name: str) -> list[str]:
        value = raw.get(name)
        if value is None or value == "":
            return []
        if isinstance(value, str):
            value = value.split("|")
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise Reject(f"{name}: expected a list of names")
        names = [v.strip() for v in value if v.strip()]
        if len(names) > MAX_NAMES:
            raise Reject(f"{name}: {len(names):,} names, at most {MAX_NAMES} allowed")
        if any(len(n) > _LIMITS["name"] for n in names):
            raise Reject(f"{name}: a name is longer than {_LIMITS['name']} characters")
        return [n if n.isprintable() and not _SUSPECT.search(n) else _clean_text(name, n)
                for n in names]  # fmt: skip

    def _identifier(self, raw: dict[str, Any], name: str, hint: str | None) -> IdCheck:
        text = self._required(raw, name)
        key = (text, hint)
        check = self._ids.get(key)
        if check is None:
            check = check_identifier(text, hint, self.allowlist, today=self.today)
            if len(self._ids) > 500_000:
                self._ids.clear()
            self._ids[key] = check
        if not check.valid:
            what = {"uscc": "USCC", "resident_id": "resident ID number"}.get(
                check.scheme or "", "identifier"
            )
            raise Reject(
                f"{name}: {what} {check.display_code} is invalid: {'; '.join(check.errors)}"
            )
        return check

    def _subject(self, raw: dict[str, Any], sub: _Draft) -> IdCheck:
        hint = self._text(raw, "subject_kind", required=False)
        if hint not in (None, "person", "organisation"):
            raise Reject(f"subject_kind: {hint!r} is not one of person, organisation")
        check = self._identifier(raw, "subject", hint)
        assert check.kind is not None
        sub.subject_kind = check.kind
        if check.kind is SubjectKind.PERSON:
            if self.keyer is None:
                raise Reject(
                    "subject: a resident ID number cannot be accepted: no person key is "
                    "configured (TRUSTLEDGER_PERSON_KEY or a key file)"
                )
            sub.subject_id = self.keyer.person_id(check.code)
            # a person's home county would narrow the person down; it is not kept
            sub.subject_division = None
        else:
            sub.subject_id = check.code
            sub.subject_division = check.division.county if check.division else None
        return check

    def _authority(self, raw: dict[str, Any], name: str = "authority") -> str:
        text = self._required(raw, name)
        check = self._ids.get((text, "organisation"))
        if check is None:
            check = check_uscc(text, self.allowlist)
            self._ids[(text, "organisation")] = check
        if not check.valid:
            raise Reject(f"{name}: USCC {check.code} is invalid: {'; '.join(check.errors)}")
        return check.code

    # --- submissions -----------------------------------------------------------------
    def check(self, raw: dict[str, Any]) -> Submission | Reject:
        """`validate`, with the refusal returned rather than raised."""
        try:
            return self.validate(raw)
        except Reject as exc:
            return exc

    def validate(self, raw: dict[str, Any]) -> Submission:
        op = raw.get("op") or "issue"
        if not isinstance(op, str) or op not in OPS:
            raise Reject(f"op: {op!r} is not one of {', '.join(OPS)}")
        unknown = raw.keys() - _FIELDS[op]
        if unknown:
            raise Reject(
                f"unknown field{'s' if len(unknown) > 1 else ''} "
                f"{', '.join(sorted(unknown))} for op {op}"
            )
        if op == "issue":
            return self._issue(raw).done()
        if op == "subject":
            return self._register_subject(raw).done()
        if op == "authority":
            return self._register_authority(raw).done()
        if op == "exception":
            return self._exception(raw).done()
        return self._change(op, raw).done()

    def _issue(self, raw: dict[str, Any]) -> _Draft:
        code = self._required(raw, "category")
        category = self.categories.get(code)
        if category is None:
            raise Reject(
                f"category: unknown category {code!r} (not in catalogue {self.catalogue_ref})"
            )
        authority = self._authority(raw)
        sub = _Draft("issue", EntryKind.RECORD_ISSUED, {})
        subject = self._subject(raw, sub)
        assert sub.subject_kind is not None and sub.subject_id is not None
        if sub.subject_kind not in category.subject_kinds:
            allowed = ", ".join(k.value for k in category.subject_kinds)
            raise Reject(
                f"subject: category {code} does not concern subjects of kind "
                f"{sub.subject_kind.value} (only {allowed})"
            )
        decision_type = self._enum(
            raw, "decision_type", DecisionType, self._required(raw, "decision_type")
        )
        if sub.subject_kind is SubjectKind.PERSON:
            _person_decision(category, decision_type)
        document = self._required(raw, "document_number")
        decided = self._date(raw, "decision_date")
        published = self._date(raw, "publication_date")
        assert decided is not None and published is not None
        if published < decided:
            raise Reject(f"publication_date: {published} is before the decision_date {decided}")
        if category.adults_only and sub.subject_kind is SubjectKind.PERSON:
            born = birth_date(subject.code)
            if born is None or age_on(born, decided) < 18:
                # the reason names the rule, never the number or the birth date
                raise Reject(
                    f"subject: category {code} is kept for adults and this person was under "
                    "18 on the decision date (SPC Fashi [2013] No. 17 as revised, art. 4: "
                    "minors are not listed)"
                )
        self._security(raw, code)
        tier = self._enum(raw, "tier", Tier, self._text(raw, "tier", required=False))
        sub.subject_name = self._text(raw, "subject_name", required=False)
        representative = self._representative(raw, sub.subject_kind)
        restricted = self._restricted_persons(raw, sub.subject_kind)
        basis = self._text(raw, "basis", required=False)
        if basis not in (None, "decision", "automated"):
            raise Reject(f"basis: {basis!r} is not one of decision, automated")
        if basis == "automated" and not category.automated:
            raise Reject(
                f"basis: category {code} is not one that automated data may ground "
                "(records resting on automated data use a category marked automated)"
            )
        if category.automated:
            if basis == "decision":
                raise Reject(f"basis: category {code} rests on automated data, not a decision")
            basis = "automated"
        sub.record_id = record_id(authority, document, sub.subject_id, code)
        if natural_key(document) != document:
            sub.legacy = (_record_id(authority, document, sub.subject_id, code), None)
        sub.payload = {
            "record_id": sub.record_id,
            "authority": authority,
            "category": code,
            "catalogue": self.catalogue_ref,
            "subject": sub.subject_id,
            "subject_kind": sub.subject_kind.value,
            "tier": (tier or category.default_tier).value,
            "decision_type": decision_type.value,
            "document_number": document,
            "decision_date": decided.isoformat(),
            "publication_date": published.isoformat(),
        }
        if representative is not None:
            sub.payload["legal_representative"] = representative
        if restricted:
            sub.payload["restricted_persons"] = restricted
        if basis == "automated":
            # principle 4: counts toward nothing until a person confirms it — except a
            # measurement of valid data (a compliance rate), which counts at once and is
            # reviewed by a person when objected to
            sub.payload["basis"] = "measured" if category.measured else "automated"
        self._optional_record_fields(raw, sub.payload)
        return sub

    def _representative(self, raw: dict[str, Any], kind: SubjectKind) -> str | None:
        """The keyed id of the legal representative a decision names, if it names one."""
        if raw.get("legal_representative") in (None, ""):
            return None
        if kind is SubjectKind.PERSON:
            raise Reject("legal_representative: only a record about an organisation names one")
        check = self._identifier(raw, "legal_representative", "person")
        if check.kind is not SubjectKind.PERSON:
            raise Reject(f"legal_representative: {check.display_code} is not a resident ID number")
        if self.keyer is None:
            raise Reject(
                "legal_representative: a resident ID number cannot be accepted: no person "
                "key is configured (TRUSTLEDGER_PERSON_KEY or a key file)"
            )
        return self.keyer.person_id(check.code)

    @staticmethod
    def _security(raw: dict[str, Any], code: str) -> None:
        """Refuse a listing the law bars once adequate security is provided."""
        value = raw.get("security_provided")
        if value in (None, "", False, "false"):
            return
        if value not in (True, "true"):
            raise Reject(f"security_provided: {value!r} is not true or false")
        bar = _SECURITY_BARS.get(code)
        if bar is None:
            raise Reject(
                f"security_provided: concerns only a listing the law bars once security is "
                f"provided ({', '.join(sorted(_SECURITY_BARS))}), not {code}"
            )
        raise Reject(
            f"security_provided: no {code} listing where the debtor has provided adequate "
            f"security ({bar})"
        )

    def _restricted_persons(self, raw: dict[str, Any], kind: SubjectKind) -> list[dict[str, str]]:
        """The keyed ids of the persons of an organisation the decision names, by role
        (``[{"role", "id"}]``, sorted, each pair once); never a number in the clear."""
        value = raw.get("restricted_persons")
        if value in (None, "", []):
            return []
        if kind is SubjectKind.PERSON:
            raise Reject("restricted_persons: only a record about an organisation names them")
        if isinstance(value, str):  # a CSV cell holds them as JSON
            try:
                value = json.loads(value)
            except ValueError:
                raise Reject("restricted_persons: not a JSON list of {role, id}") from None
        if not isinstance(value, list):
            raise Reject("restricted_persons: expected a list of {role, id}")
        if len(value) > _MAX_RESTRICTED:
            raise Reject(f"restricted_persons: at most {_MAX_RESTRICTED} persons")
        found: set[tuple[str, str]] = set()
        for n, item in enumerate(value):
            where = f"restricted_persons[{n}]"
            if not isinstance(item, dict) or set(item) != {"role", "id"}:
                raise Reject(f"{where}: expected an object with exactly role and id")
            role = item["role"]
            if role not in RESTRICTED_ROLES:
                raise Reject(
                    f"{where}.role: {str(role)[:40]!r} is not one of {', '.join(RESTRICTED_ROLES)}"
                )
            try:
                check = self._identifier({"id": item["id"]}, "id", "person")
            except Reject as exc:
                raise Reject(f"{where}.{exc.reason}") from None
            if check.kind is not SubjectKind.PERSON:
                raise Reject(f"{where}.id: {check.display_code} is not a resident ID number")
            if self.keyer is None:
                raise Reject(
                    f"{where}.id: a resident ID number cannot be accepted: no person key is "
                    "configured (TRUSTLEDGER_PERSON_KEY or a key file)"
                )
            found.add((role, self.keyer.person_id(check.code)))
        return [{"role": role, "id": pid} for role, pid in sorted(found)]

    def _optional_record_fields(self, raw: dict[str, Any], out: dict[str, Any]) -> None:
        title = self._text(raw, "title", required=False)
        if title is not None:
            out["title"] = title
        amount = raw.get("amount_cny")
        if amount not in (None, ""):
            if isinstance(amount, int) and not isinstance(amount, bool):
                amount = str(amount)
            if not isinstance(amount, str) or not _AMOUNT.match(amount.strip()):
                raise Reject(
                    f"amount_cny: {amount!r} is not an amount in yuan like 20000.00 "
                    "(digits, at most two decimals, given as text)"
                )
            whole, _, cents = amount.strip().partition(".")
            out["amount_cny"] = f"{whole}.{cents.ljust(2, '0')}"
        digest = self._text(raw, "evidence_digest", required=False)
        if digest is not None:
            if not _DIGEST.match(digest):
                raise Reject(
                    f"evidence_digest: {digest[:80]!r} is not sha256: followed by 64 "
                    "lower-case hex digits"
                )
            out["evidence_digest"] = digest

    def _any_date(self, raw: dict[str, Any], name: str) -> date:
        """A date that may lie in the future (the end of a grant)."""
        text = self._required(raw, name)
        try:
            if len(text) != 10:
                raise ValueError
            return date.fromisoformat(text)
        except ValueError:
            raise Reject(f"{name}: {text!r} is not a date in the form YYYY-MM-DD") from None

    def _exception(self, raw: dict[str, Any]) -> _Draft:
        """A court's grant, on application, letting a restricted person (or subject) do
        restricted actions with personal funds (SPC provisions on high consumption,
        art. 3): bounded in time (principle 5), named by its document."""
        authority = self._authority(raw)
        sub = _Draft("exception", EntryKind.EXCEPTION_GRANTED, {})
        self._subject(raw, sub)
        assert sub.subject_id is not None and sub.subject_kind is not None
        entity: str | None = None
        if raw.get("entity") not in (None, ""):
            check = self._identifier(raw, "entity", None)
            if check.kind is SubjectKind.PERSON:
                raise Reject("entity: the listed organisation is named by its USCC")
            entity = check.code
            if sub.subject_kind is not SubjectKind.PERSON:
                raise Reject("entity: only a grant to a person names the organisation")
        measure = self._text(raw, "measure", required=False)
        if measure is not None and not _MEASURE_ID.match(measure):
            raise Reject(f"measure: {measure[:80]!r} is not a measure id (e.g. no-air-travel)")
        actions = raw.get("actions")
        if isinstance(actions, str):
            actions = [a.strip() for a in actions.split("|") if a.strip()]
        if not isinstance(actions, list) or not actions:
            raise Reject("actions: a grant names the actions it allows (a list of codes)")
        known = _action_codes()
        for action in actions:
            if not isinstance(action, str) or action not in known:
                raise Reject(f"actions: {str(action)[:80]!r} is not an action of the catalogue")
        document = self._required(raw, "document_number")
        decided = self._date(raw, "decision_date")
        assert decided is not None
        valid_from = self._any_date(raw, "valid_from")
        valid_until = self._any_date(raw, "valid_until")
        if valid_from < decided:
            raise Reject(f"valid_from: {valid_from} is before the decision_date {decided}")
        if valid_until < valid_from:
            raise Reject(f"valid_until: {valid_until} is before valid_from {valid_from}")
        key = "\x1f".join(("exception", authority, document, sub.subject_id))
        sub.event_id = "X" + sha256(key.encode()).hexdigest()[:24]
        sub.payload = {
            "exception_id": sub.event_id,
            "authority": authority,
            "subject": sub.subject_id,
            "subject_kind": sub.subject_kind.value,
            "actions": sorted(set(actions)),
            "document_number": document,
            "decision_date": decided.isoformat(),
            "valid_from": valid_from.isoformat(),
            "valid_until": valid_until.isoformat(),
        }
        if entity is not None:
            sub.payload["entity"] = entity
        if measure is not None:
            sub.payload["measure"] = measure
        title = self._text(raw, "title", required=False)
        if title is not None:
            sub.payload["title"] = title
        return sub

    def _register_subject(self, raw: dict[str, Any]) -> _Draft:
        sub = _Draft("subject", EntryKind.SUBJECT_REGISTERED, {})
        self._subject(raw, sub)
        assert sub.subject_kind is not None
        established = self._date(raw, "established", required=False)
        sub.subject_name = self._required(raw, "name")
        sub.payload = {
            "id": sub.subject_id,
            "kind": sub.subject_kind.value,
            "name": sub.subject_name,
            "division": sub.subject_division,
            "former_names": self._names(raw, "former_names"),
            "aliases": self._names(raw, "aliases"),
            "address": self._text(raw, "address", required=False),
            "established": established.isoformat() if established else None,
        }
        return sub

    def _register_authority(self, raw: dict[str, Any]) -> _Draft:
        text = self._required(raw, "id")
        check = check_uscc(text, self.allowlist)
        if not check.valid:
            raise Reject(f"id: USCC {check.code} is invalid: {'; '.join(check.errors)}")
        if check.kind is not SubjectKind.GOVERNMENT:
            raise Reject(
                f"id: {check.code} is not the code of a government organ (11…); "
                "only state organs issue records"
            )
        atype = self._enum(
            raw, "authority_type", AuthorityType, self._required(raw, "authority_type")
        )
        assert check.division is not None
        return _Draft(
            "authority",
            EntryKind.AUTHORITY_REGISTERED,
            {
                "id": check.code,
                "name": self._required(raw, "name"),
                "authority_type": atype.value,
                "division": check.division.county,
            },
        )

    def _change(self, op: str, raw: dict[str, Any]) -> _Draft:
        authority = self._authority(raw)
        target = self._text(raw, "record", required=False)
        legacy_target: str | None = None
        sub = _Draft(op, OPS[op], {})
        if target is None:
            code = self._required(raw, "category")
            if code not in self.categories:
                raise Reject(f"category: unknown category {code!r}")
            self._subject(raw, sub)
            assert sub.subject_id is not None
            original = self._required(raw, "target_document_number")
            issuer = authority
            if raw.get("target_authority") not in (None, ""):
                issuer = self._authority(raw, "target_authority")
            target = record_id(issuer, original, sub.subject_id, code)
            if natural_key(original) != original:
                legacy_target = _record_id(issuer, original, sub.subject_id, code)
        elif not re.fullmatch(r"R[0-9a-f]{24}", target):
            raise Reject(
                f"record: {target[:40]!r} is not a record id (R followed by 24 hex digits)"
            )
        document = self._required(raw, "document_number")
        effective = self._date(raw, "effective_date")
        assert effective is not None
        reason = self._required(raw, "reason")
        if op == "end":
            reason = self._enum(raw, "reason", EndReason, reason).value
        sub.record_id = target
        sub.event_id = event_id(op, authority, document, target)
        if legacy_target is not None or natural_key(document) != document:
            old_target = legacy_target or target
            sub.legacy = (legacy_target, _event_id(op, authority, document, old_target))
        sub.payload = {
            "record_id": target,
            "event_id": sub.event_id,
            "authority": authority,
            "document_number": document,
            "effective_date": effective.isoformat(),
            "reason": reason,
        }
        if op == "correct":
            changes = raw.get("changes")
            if not isinstance(changes, dict) or not changes:
                raise Reject("changes: a correction needs an object of changed fields")
            bad = changes.keys() - set(CORRECTABLE_FIELDS)
            if bad:
                raise Reject(
                    f"changes: cannot correct {', '.join(sorted(bad))} (correctable: "
                    f"{', '.join(CORRECTABLE_FIELDS)})"
                )
            fixed: dict[str, Any] = {}
            for name in ("decision_date", "publication_date"):
                if name in changes:
                    value = self._date(changes, name)
                    assert value is not None
                    fixed[name] = value.isoformat()
            if "tier" in changes:
                fixed["tier"] = self._enum(
                    changes, "tier", Tier, self._required(changes, "tier")
                ).value
            self._optional_record_fields(changes, fixed)
            sub.payload["changes"] = fixed
        return sub
