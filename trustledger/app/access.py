"""Who may ask what, and the access log (DESIGN.md principle 6; docs/api.md, "Roles").

Every call resolves one principal (``trustledger.access.principals.Principal``) or the
public (``None``). This module holds the rules a face applies:

- which roles a route admits (``ROUTE_ROLES``; the API's ``require_role`` reads it);
- whose file a principal may read, and which view of it (``file_view``): ``full`` for an
  operator, a reviewer and a subject on its own file; ``scoped`` for a checker (only what
  concerns its actions, organisations only); ``public`` for no key (published
  organisation records and lists, never persons);
- what a checker learns about a person (``for_checker``): the decision with its measures,
  lists, dates and agency, nothing that identifies or profiles the person;
- a stated ``purpose``, required for every check on a person and every read of a person's
  file by anyone but the person (``require_purpose``);
- the access log: ``AccessRecorder`` collects what a server must log and writes it, in
  order and hash-chained, in batches; ``record`` writes one access at once.
"""

from __future__ import annotations

import collections
import functools
import json
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from trustledger.app.errors import BadInput, Forbidden, NotFound

if TYPE_CHECKING:
    from trustledger.access.log import AccessEntry, PendingAccess
    from trustledger.access.principals import Principal
    from trustledger.app.context import Context
    from trustledger.app.time import When
    from trustledger.ledger.projection import SubjectRow
    from trustledger.ledger.store import Store

__all__ = [
    "PERSON_FILE",
    "ROUTE_ROLES",
    "AccessRecorder",
    "View",
    "authenticate",
    "file_view",
    "for_checker",
    "is_person",
    "prepare",
    "read_log",
    "record",
    "require_purpose",
    "subject",
    "verify_log",
]

PERSON_FILE = "a person's file is not served to checkers"
PERSON_PUBLIC = "a person's file is never public"
PURPOSE_REQUIRED = (
    "purpose: a check on a person, or a read of a person's file, needs the purpose it "
    "serves (the `purpose` parameter); it is kept in the access log"
)

View = Literal["full", "scoped", "public"]

# the roles each route admits ("public": no key at all); the API's require_role checks it
ROUTE_ROLES: dict[str, frozenset[str]] = {
    "health": frozenset({"public", "issuer", "operator", "reviewer", "checker", "subject",
                         "auditor"}),
    "check": frozenset({"checker", "operator"}),
    "profile": frozenset({"public", "operator", "reviewer", "checker", "subject"}),
    "lists": frozenset({"public", "issuer", "operator", "reviewer", "checker", "subject",
                        "auditor"}),
    "monitoring": frozenset({"operator", "reviewer", "subject"}),
    "screen": frozenset({"checker", "operator", "reviewer"}),
    "me": frozenset({"subject"}),
    "access_log": frozenset({"auditor"}),
    "records": frozenset({"issuer"}),
    # the commendations persons consent to publish (what they chose, no one's file);
    # consent itself is the person's own, with their subject key
    "commendations": frozenset({"public", "issuer", "operator", "reviewer", "checker",
                                "subject", "auditor"}),
    "consent": frozenset({"subject"}),
    # the tree head and proofs: anyone verifying a report or an entry (no one's data)
    "ledger": frozenset({"public", "issuer", "operator", "reviewer", "checker", "subject",
                         "auditor"}),
}  # fmt: skip


def prepare(ctx: Context) -> None:
    """The key table and the access log, created if missing (a server does it once)."""
    from trustledger.access.principals import ensure_tables

    ensure_tables(ctx.store)


def authenticate(ctx: Context, key: str) -> Principal | None:
    """The principal holding ``key`` (compared by its hash); None when unknown, revoked or
    expired now."""
    from trustledger.access.principals import authenticate as find

    return find(ctx.store, key, ctx.clock.now())


def is_person(subject_id: str) -> bool:
    """A person's ledger id (the keyed hash ``P`` + 32 hex) — told by its form alone, so
    that no answer depends on whether the person is known."""
    return subject_id.startswith("P")


def require_purpose(subject_id: str, purpose: str | None) -> str | None:
    """The stated purpose (stripped); BadInput (422) naming ``purpose`` when the subject is
    a person and none is given."""
    text = None if purpose is None else purpose.strip() or None
    if text is None and is_person(subject_id):
        raise BadInput(PURPOSE_REQUIRED)
    return text


def subject(ctx: Context, subject_id: str) -> SubjectRow:
    """The subject's register row, or NotFound."""
    from trustledger.ledger.projection import SubjectRow

    row = ctx.store.get_row("subjects", subject_id)
    if row is None:
        raise NotFound("no such subject in the ledger")
    return SubjectRow._make(row)


def file_view(principal: Principal | None, subject_id: str) -> View:
    """Which view of ``subject_id``'s file the principal may read; Forbidden otherwise.
    Decided from the principal and the id's form only (never from what the ledger holds,
    so the refusal is no oracle)."""
    person = is_person(subject_id)
    if principal is None:
        if person:
            raise Forbidden(PERSON_PUBLIC)
        return "public"
    role = principal.role
    if role in ("operator", "reviewer"):
        return "full"
    if role == "subject":
        if principal.subject != subject_id:
            raise Forbidden("a subject key reads its own file only")
        return "full"
    if role == "checker":
        if person:
            raise Forbidden(PERSON_FILE)
        return "scoped"
    raise Forbidden(f"a {role} key may not read subjects' files")


def organisation_for_checker(ctx: Context, subject_id: str) -> SubjectRow:
    """The subject's row if a checker may read its file: an organisation's, never a
    person's (Forbidden, decided before any lookup)."""
    if is_person(subject_id):
        raise Forbidden(PERSON_FILE)
    return subject(ctx, subject_id)


def for_checker(body: dict[str, Any], evaluated: bool) -> dict[str, Any]:
    """A decision about a person, as a checker may see it: the status with the measures,
    lists, rulebooks, dates and agencies behind it; no person id, no record ids, no
    organisations the person represents (``via``). A person the ledger does not know, or
    knows with nothing in force against them, is answered alike: ``allow`` (records about
    persons exist only on final legal decisions, and every restriction reaching a person
    through an organisation is in the index; so nothing known restricts them). Only when
    nothing at all has been evaluated (``evaluated`` False) is the answer ``unknown``."""
    from trustledger.sanctions.check import EXCEPTION_GRANTED, UNEVALUATED

    status, why = body["status"], body["why"]
    granted = why is not None and why.startswith(EXCEPTION_GRANTED)
    # a grant lifting an organisation's restriction from a person never evaluated: to a
    # checker, the same as nothing known against them
    if status == "unknown" and (why in _person_blind() or (granted and why.endswith(UNEVALUATED))):
        if not evaluated:
            return {**body, "subject": None, "why": "no evaluation yet", "reasons": ()}
        return {**body, "subject": None, "status": "allow", "why": None, "reasons": ()}
    reasons = tuple(_checker_reason(r) for r in body["reasons"])
    if granted:
        # the grant's document number, like a record's, is the person's court file
        why = EXCEPTION_GRANTED.removesuffix(": ")
    return {**body, "subject": None, "why": why, "reasons": reasons}


# what a checker sees of a court's grant of an exception: when, for what, by which court
_GRANT_SHOWN = ("authority", "valid_from", "valid_until", "measure")


def _checker_reason(reason: dict[str, Any]) -> dict[str, Any]:
    if "exception" in reason:
        return {k: reason[k] for k in _GRANT_SHOWN if k in reason}
    return {k: ([] if k == "records" else v) for k, v in reason.items() if k != "via"}


@functools.cache
def _person_blind() -> tuple[str, ...]:
    """The "unknown" reasons that, for a person, mean only "nothing known against them"."""
    from trustledger.sanctions.check import UNEVALUATED, UNKNOWN_SUBJECT

    return (UNKNOWN_SUBJECT, UNEVALUATED)


# --- the access log -------------------------------------------------------------------
def _pending(
    principal: Principal | None,
    action: str,
    subject_id: str | None,
    purpose: str | None,
    detail: Mapping[str, Any] | None,
) -> PendingAccess:
    from trustledger.access.log import PendingAccess

    return PendingAccess.of(principal, action, subject_id=subject_id, purpose=purpose,
                            detail=detail)  # fmt: skip


def record(
    ctx: Context,
    principal: Principal | None,
    action: str,
    *,
    subject_id: str | None,
    purpose: str | None,
    detail: Mapping[str, Any] | None = None,
) -> None:
    """Write one access to the log at once (the CLI, a use case outside a server)."""
    from trustledger.access.log import record_many

    record_many(ctx.store, [_pending(principal, action, subject_id, purpose, detail)])


@dataclass(frozen=True)
class LogPage:
    entries: list[AccessEntry]
    next: int | None

    def to_json(self) -> dict[str, Any]:
        return {"entries": [e.to_json() for e in self.entries], "next": self.next}


def read_log(
    ctx: Context, *, subject_id: str | None = None, after: int | None = None, limit: int = 100
) -> LogPage:
    """A page of the access log (all of it, or about one subject), oldest first."""
    from trustledger.access.log import read_access_log

    rows = read_access_log(ctx.store, subject_id=subject_id, after=after, limit=limit + 1)
    more = len(rows) > limit
    return LogPage(rows[:limit], rows[limit - 1].seq if more else None)


def verify_log(ctx: Context) -> list[str]:
    """Every break in the access log's chain; empty when intact."""
    from trustledger.access.log import verify_access_log

    return verify_access_log(ctx.store)


def _clean(text: str) -> str:
    """No NUL in a logged text (PostgreSQL text cannot hold one; one poisoned row must not
    stop the log): each becomes U+FFFD."""
    return text.replace("\x00", "\ufffd") if "\x00" in text else text


def _instant(ns: int) -> str:
    """An instant in ns since the epoch as ISO 8601 in UTC, to the microsecond (the form
    ``PendingAccess.of`` writes)."""
    seconds, us = divmod(ns // 1000, 1_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{us:06d}+00:00"


# (principal, action, subject id, purpose, detail, time in ns): an access not yet written
_Raw = tuple["Principal | None", str, "str | None", "str | None", "Mapping[str, Any] | None", int]


class AccessRecorder:
    """What a server logs, written in order and hash-chained by a background thread every
    ``interval`` seconds (0: each access written before the answer is returned).

    ``store`` is shared: ``lock`` guards it. A batch lost to a crash is at most one
    interval's worth; ``flush`` writes what is pending now (the log's readers call it
    first, so an auditor always sees every access made before the read). ``enabled``
    False logs nothing (benchmarks compare the two)."""

    def __init__(
        self, store: Store, lock: threading.Lock, *, interval: float = 0.2, enabled: bool = True
    ) -> None:
        self.store, self.lock, self.interval, self.enabled = store, lock, interval, enabled
        # appended without a lock (deque appends are atomic); the writer takes from the left
        self._pending: collections.deque[_Raw] = collections.deque()
        self._stop = threading.Event()
        self.written = 0
        self._thread: threading.Thread | None = None
        if enabled and interval > 0:
            self._thread = threading.Thread(target=self._run, name="access-log", daemon=True)
            self._thread.start()

    def add(
        self,
        principal: Principal | None,
        action: str,
        *,
        subject_id: str | None,
        purpose: str | None,
        detail: Mapping[str, Any] | None = None,
    ) -> None:
        """Log one access (the caller's purpose as stated). Cheap: the row is built and
        chained when the batch is written, with the instant taken now."""
        if not self.enabled:
            return
        raw = (principal, action, subject_id, purpose, detail, time.time_ns())
        if self._thread is None:
            with self.lock:
                self._write([raw])
            return
        self._pending.append(raw)

    def _write(self, batch: list[_Raw]) -> None:
        from trustledger.access.log import MAX_PURPOSE, PendingAccess, record_many

        record_many(self.store, [
            PendingAccess(None if p is None else p.id, "public" if p is None else p.role,
                          action, sid, None if purpose is None else _clean(purpose[:MAX_PURPOSE]),
                          detail or {}, _instant(ns))
            for p, action, sid, purpose, detail, ns in batch
        ])  # fmt: skip
        self.written += len(batch)

    def flush(self) -> None:
        """Write what is pending now (takes the store's lock)."""
        with self.lock:
            self._flush_locked()

    def _flush_locked(self) -> None:
        pending = self._pending
        batch = [pending.popleft() for _ in range(len(pending))]  # what is there now
        if batch:
            try:
                self._write(batch)
            except BaseException:
                pending.extendleft(reversed(batch))  # not lost: tried again at the next flush
                raise

    def _run(self) -> None:
        import logging

        while not self._stop.wait(self.interval):
            if not self._pending:
                continue
            try:
                self.flush()
            except Exception:
                logging.getLogger(__name__).exception("writing the access log failed")

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self.enabled:
            self.flush()


# --- the subject's own file -------------------------------------------------------------
# Other parts of the platform add sections to GET /v1/me (objections, repairs, notices):
# define ``subject_file_section(ctx: Context, subject_id: str) -> dict[str, Any]`` in one of
# these modules; its keys are merged into the file, in this order.
FILE_SECTION_MODULES = (
    "trustledger.app.dueprocess",
    "trustledger.app.notices",
    "trustledger.app.commendations",
)


def _sections(ctx: Context, subject_id: str) -> dict[str, Any]:
    import importlib

    out: dict[str, Any] = {}
    for name in FILE_SECTION_MODULES:
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        section = getattr(module, "subject_file_section", None)
        if section is not None:
            out.update(section(ctx, subject_id))
    return out


def subject_file(ctx: Context, principal: Principal, when: When) -> dict[str, Any]:
    """A subject key's whole file: its register row, its profiles under the published
    rulebooks, every record about it (unpublished ones too), who read its file (from the
    access log), and the sections other parts add (``FILE_SECTION_MODULES``)."""
    from trustledger.access.principals import get_principal
    from trustledger.app import profiles
    from trustledger.ledger.projection import RecordRow

    if principal.role != "subject" or principal.subject is None:
        raise Forbidden("only a subject key has a file of its own")
    sid = principal.subject
    row = ctx.store.get_row("subjects", sid)
    found: list[dict[str, Any]] = []
    if row is not None:
        try:
            found = profiles.view_of(profiles.profile(ctx, sid, when, log=False), "full")
        except NotFound:
            found = []
    records = [RecordRow._make(r)._asdict() for r in ctx.store.rows_where("records", "subject_id",
                                                                       [sid])]  # fmt: skip
    readers = []
    names: dict[str | None, str | None] = {None: None}
    for entry in read_log(ctx, subject_id=sid, limit=1000).entries:
        if entry.principal_id not in names:
            who = get_principal(ctx.store, entry.principal_id or "")
            names[entry.principal_id] = None if who is None else who.name
        readers.append({"at": entry.at, "principal_id": entry.principal_id, "role": entry.role,
                        "name": names[entry.principal_id], "action": entry.action,
                        "purpose": entry.purpose})  # fmt: skip
    return {
        "subject": sid,
        "kind": None if row is None else row[1],
        "name": None if row is None else row[2],
        **when.to_json(),
        "profiles": found,
        "records": records,
        "read_by": readers,
        **_sections(ctx, sid),
    }


# --- an issuer's records ----------------------------------------------------------------
ISSUER_OPS = ("issue", "correct", "revoke", "end")


def submit_record(ctx: Context, principal: Principal, line: dict[str, Any]) -> Submitted:
    """One intake line from an issuer: in its own authority's name only, of a category its
    authority type may issue (Forbidden otherwise); the intake checks the rest (BadInput
    with its reason). An accepted record re-evaluates its subject at once."""
    from trustledger.app.ingest import make_intake, refresh

    if principal.role != "issuer" or principal.authority is None:
        raise Forbidden("only an issuer key submits records")
    if "\\u0000" in json.dumps(line):
        raise BadInput("a field holds a NUL character")
    op = line.get("op") or "issue"
    if op not in ISSUER_OPS:
        raise Forbidden(f"an issuer key may {', '.join(ISSUER_OPS)} records, not {op!r}")
    if line.get("authority") != principal.authority:
        raise Forbidden("an issuer key writes in its own authority's name only")
    if op == "issue":
        authority = ctx.store.get_row("authorities", principal.authority)
        category = ctx.catalogue.get(str(line.get("category")))
        if authority is None:
            raise Forbidden("this key's authority is not registered")
        if category is not None and authority[2] not in category.authorities:
            raise Forbidden(f"a {authority[2]} authority may not issue {category.code} records")
    from trustledger.app.person_keys import record_links

    result = make_intake(ctx).submit(line)
    record_links(ctx)  # persons the line names found through a retired person key
    if result.outcome == "rejected":
        raise BadInput(result.reason or "rejected")
    refreshed = refresh(ctx, {result.subject}) if result.subject else 0
    return Submitted(result.subject, {
        "outcome": str(result.outcome), "ref": result.ref, "seq": result.seq,
        "subject": None if result.subject is None or is_person(result.subject)
        else result.subject, "refreshed": refreshed})  # fmt: skip


@dataclass(frozen=True)
class Submitted:
    subject_id: str | None  # for the access log (the keyed hash for a person)
    body: dict[str, Any]  # for the issuer: no person id
