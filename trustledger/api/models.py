"""The request and response models of the HTTP API: its published contract.

Responses are written as plain dicts by orjson (validating every answer again would cost
more than the check); these models describe them in the OpenAPI document, and the
Schemathesis test holds the answers to them.
"""

from __future__ import annotations

import builtins
import re
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

MAX_BATCH = 10_000
MAX_PAGE = 1000
MAX_SCREEN = 50

KNOWN_AT_DOC = (
    "Ledger time: answer as the platform knew it at this instant (ISO 8601; a date-time"
    " without a zone is local time on the configured calendar, a bare date the end of that"
    " day; an instant before 1970 is 1970-01-01T00:00Z). Default: now, the live state."
)
MAX_POSITION = 2**53 - 1
MIN_POSITION_DOC = (
    "Answer only from a state that reflects at least this ledger position (the"
    " `ledger_size` of an answer, or the size a write returned): a replica that has not"
    " caught up yet answers 503, to be asked again in a moment."
)
ON_DOC = "The legal day on which standing is judged (YYYY-MM-DD). Default: today."
# text that reaches the database: no NUL (PostgreSQL text cannot hold one); a purpose is one
# line of plain text (no control characters)
NO_NUL = r"^[^\x00]*$"
PURPOSE_PATTERN = r"^[^\x00-\x1f\x7f]+$"
# a name to screen: one line with at least one character that is not a space
_SPACE = r"\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
NAME_PATTERN = rf"^[^\x00-\x1f\x7f]*[^{_SPACE}][^\x00-\x1f\x7f]*$"
PURPOSE_DOC = (
    "Why the caller asks (kept in the access log). Required for a check on a person and a"
    " read of a person's file by anyone but the person."
)


# a day or an instant is written as text beginning YYYY-MM-DD: a number would otherwise be
# read as seconds since 1970 (on=0 as 1970-01-01), which no caller means
_ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _written_as_a_day(value: Any) -> Any:
    if not isinstance(value, str) or not _ISO_DAY.match(value.strip()):
        raise ValueError("a day is written as text, YYYY-MM-DD")
    return value


def _end_of_a_bare_day(value: Any) -> Any:
    # a bare date as known_at means what the platform knew by the end of that day
    _written_as_a_day(value)
    if len(value.strip()) == 10:
        return value.strip() + "T23:59:59.999999"
    return value


# `known_at`: a date-time (a bare date is the end of that day); naive means local time
KnownAt = Annotated[datetime, BeforeValidator(_end_of_a_bare_day)]
# `on` and other days a caller names: YYYY-MM-DD only
Day = Annotated[date, BeforeValidator(_written_as_a_day)]
# a subject as a caller names it: a USCC, a resident ID number or a person id
SUBJECT_PATTERN = r"^[0-9A-Za-z_]+$"
# its check character is arithmetic no pattern states: the OpenAPI document names the
# format (a client, or a property test, that knows it generates only valid identifiers)
SUBJECT_FORMAT = "trustledger-subject"
SUBJECT_SCHEMA: dict[str, Any] = {"format": SUBJECT_FORMAT}


class Problem(BaseModel):
    """An RFC 9457 problem document."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None


class Health(BaseModel):
    status: Literal["ok"]
    ledger_size: int = Field(description="Entries in the ledger.")
    root: str = Field(description="Merkle root of the ledger (hex).")
    index_ledger_size: int = Field(description="The ledger position the check index reflects.")
    stale: bool = Field(
        description="The check index lags the evaluation state: a rebuild is under way or the"
        " last one failed. The previous index keeps answering meanwhile."
    )
    index_error: str | None = Field(description="Why the last rebuild failed, if it did.")


class Reason(BaseModel):
    measure: str
    kind: str
    list: str
    rulebook: str
    start: str | None
    end: str | None
    agency: str | None
    records: builtins.list[str]  # `list` is a field name here


class CheckResult(BaseModel):
    subject: str | None = Field(
        description="The subject's ledger id (a keyed hash for a person); null for a person"
        " asked about by a checker, who learns nothing that identifies the person."
    )
    action: str
    known_at: datetime = Field(description="The ledger instant the answer reflects.")
    on: date = Field(description="The legal day it was judged on.")
    status: Literal["allow", "deny", "allow_with_incentives", "unknown"]
    why: str | None = Field(
        description="Why the answer is unknown, if it is; or, on an allow, why incentives a "
        "red list grants are withheld (the subject is on a black list that day)."
    )
    ledger_size: int
    reasons: list[Reason]


class Pair(BaseModel):
    model_config = ConfigDict(extra="forbid")
    subject: str = Field(
        min_length=1, max_length=64, pattern=SUBJECT_PATTERN, json_schema_extra=SUBJECT_SCHEMA
    )
    action: str = Field(min_length=1, max_length=64)


class BatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    pairs: list[Pair] = Field(max_length=MAX_BATCH)
    known_at: KnownAt | None = Field(default=None, description=KNOWN_AT_DOC)
    on: Day | None = Field(default=None, description=ON_DOC)
    purpose: str | None = Field(default=None, min_length=1, max_length=200, description=PURPOSE_DOC)
    min_position: int | None = Field(default=None, ge=0, le=MAX_POSITION,
                                     description=MIN_POSITION_DOC)  # fmt: skip


class BatchResult(BaseModel):
    known_at: datetime
    on: date
    results: list[CheckResult]


class RecordViewOut(BaseModel):
    record_id: str
    category: str
    tier: str
    points: int
    standing: str
    published: str
    publicity_ends: str | None
    counted: bool
    under_objection: str | None = Field(
        default=None, description="The open objection contesting this record, if any."
    )


class ListMembershipOut(BaseModel):
    list_id: str
    kind: str
    title: str
    since: str
    until: str | None
    records: builtins.list[str]
    condition: str
    effective_from: str | None = Field(
        default=None,
        description="The day the listing takes effect after its notice period (pending "
        "before; null: not before it ends).",
    )
    under_objection: builtins.list[str] = Field(
        default_factory=builtins.list,
        description="Records behind the listing that an open objection contests.",
    )


class MeasureOut(BaseModel):
    measure_id: str
    kind: str
    list_id: str
    actions: builtins.list[str]
    start: str
    end: str | None
    agency: str
    legal_basis: builtins.list[str]


class ProfileOut(BaseModel):
    subject_id: str
    rulebook: str = Field(description="The rulebook version (id@version).")
    on: str
    applicable: bool
    records: list[RecordViewOut]
    score: int | None
    grade: str | None
    lists: list[ListMembershipOut]
    measures: list[MeasureOut]
    explanation: list[str]


class SubjectProfiles(BaseModel):
    subject: str = Field(description="The subject's ledger id.")
    kind: str
    name: str
    known_at: datetime = Field(description="The ledger instant the profiles reflect.")
    on: date = Field(description="The legal day they were judged on.")
    ledger_size: int = Field(description="Entries in the ledger as known at that instant.")
    profiles: list[ProfileOut]


class ListMember(BaseModel):
    subject_id: str
    name: str
    kind: str = Field(description="The list's kind (black or red).")
    since: str
    until: str | None
    records: list[str]
    effective_from: str = Field(description="The day the listing took effect (published).")
    division: str | None = Field(description="The organisation's division code (GB/T 2260).")


class ListPage(BaseModel):
    rulebook: str
    list: str
    on: str = Field(description="The day the list is shown as of.")
    division: str | None = Field(description="The division prefix asked for, if any.")
    members: builtins.list[ListMember]
    persons_withheld: int = Field(
        description="Persons on the list, left out of every page (principle 6)."
    )
    next: str | None = Field(description="Pass as `after` for the next page; null at the end.")


class ScreenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200, pattern=NAME_PATTERN)
    region: str | None = Field(
        default=None, pattern=r"^[0-9]{2}(?:[0-9]{2}){0,2}$", description="2, 4 or 6 digits."
    )
    address: str | None = Field(default=None, max_length=500, pattern=NO_NUL)
    limit: int = Field(default=10, ge=1, le=MAX_SCREEN)


class CandidateOut(BaseModel):
    subject_id: str
    matched_name: str
    name_form: Literal["name", "former_name", "alias"]
    score: float
    features: dict[str, float]
    outcome: Literal["review"]


class ScreenResult(BaseModel):
    ledger_size: int
    candidates: builtins.list[CandidateOut]


class HourOut(BaseModel):
    hour: str = Field(description="Start of the hour, local time (YYYY-MM-DDTHH:MM).")
    converted: float | None = Field(description="Valid hourly mean at the reference O₂.")
    valid: bool = Field(description="≥ 45 valid minutes (flag N), O₂ valid where needed.")


class PollutantSeries(BaseModel):
    name: str
    limit: float
    limit_set: str
    reference_o2: float | None
    hours: builtins.list[HourOut]


class EpisodeOut(BaseModel):
    key: str
    pollutant: str
    limit_set: str
    limit: float
    first_hour: str
    last_hour: str
    hours: int
    max: float
    record: str | None = Field(description="The record issued, once the threshold was met.")


class NoticeOut(BaseModel):
    mn: str
    pollutant: str
    kind: str
    start_s: int
    end_s: int
    count: int
    detail: str


class PointView(BaseModel):
    mn: str
    subject: str
    outlet: str
    pollutants: dict[str, PollutantSeries]
    episodes: builtins.list[EpisodeOut]
    notices: builtins.list[NoticeOut] = Field(
        description="Data-quality notices: faults of the instrument, never penalties."
    )


class PointSummary(BaseModel):
    mn: str
    outlet: str
    limit_set: str
    rulebook: str
    pollutants: builtins.list[str]


class SubjectPoints(BaseModel):
    subject: str
    points: builtins.list[PointSummary]


class Reader(BaseModel):
    at: str
    principal_id: str | None
    role: str
    name: str | None
    action: str
    purpose: str | None


class SubjectFile(BaseModel):
    """A subject's own file (``GET /v1/me``); sections other parts of the platform add
    (objections, repairs, notices) appear beside these."""

    model_config = ConfigDict(extra="allow")
    subject: str
    kind: str | None
    name: str | None
    known_at: datetime
    on: date
    profiles: builtins.list[ProfileOut]
    records: builtins.list[dict[str, Any]] = Field(
        description="Every record about the subject, unpublished ones too."
    )
    read_by: builtins.list[Reader] = Field(description="Who read this file (the access log).")


class AccessEntryOut(BaseModel):
    seq: int
    at: str = Field(description="ISO instant (UTC).")
    principal_id: str | None = Field(description="null: the public.")
    role: str
    action: str
    subject_id: str | None = Field(description="A ledger id (the keyed hash for a person).")
    purpose: str | None
    detail: dict[str, Any]
    prev_hash: str
    hash: str = Field(description="SHA-256 of prev_hash and the row's canonical JSON.")


class AccessLogPage(BaseModel):
    entries: builtins.list[AccessEntryOut]
    next: int | None = Field(description="Pass as `after` for the next page; null at the end.")


class RecordAccepted(BaseModel):
    outcome: Literal["accepted", "duplicate"]
    ref: str | None = Field(description="The record's id.")
    seq: int | None = Field(description="The ledger entry that recorded it.")
    subject: str | None = Field(description="The subject's id (null for a person).")
    refreshed: int = Field(description="Subjects re-evaluated.")


# --- the ledger's tree head and proofs (GET /v1/ledger/…): what a report verifier asks ---
class LedgerHead(BaseModel):
    size: int = Field(description="Entries in the tree.")
    root: str = Field(description="Merkle root (RFC 6962, hex).")
    time_us: int = Field(description="Ledger time of the head (µs since the epoch).")


class InclusionProof(BaseModel):
    seq: int
    tree_size: int
    root: str = Field(description="The root of the tree of `tree_size` entries (hex).")
    leaf_hash: str = Field(description="SHA-256(0x00 ‖ entry), hex.")
    entry: str | None = Field(
        description="The entry's canonical JSON (RFC 8785); null when withheld."
    )
    withheld: bool = Field(
        description="The entry is about a person or names one: only an operator or an "
        "auditor is given its bytes; everyone else gets its leaf hash and proof."
    )
    proof: builtins.list[str] = Field(description="RFC 9162 audit path, leaf upwards (hex).")


class ConsistencyProof(BaseModel):
    old_size: int
    new_size: int
    old_root: str
    new_root: str
    proof: builtins.list[str] = Field(description="RFC 9162 consistency proof (hex).")
