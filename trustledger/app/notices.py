"""Notices to subjects: build them from what evaluation knows, list a subject's, deliver the
undelivered ones with the configured sender, and set where a subject's notices go.

Subjects are named as every use case names them (``resolve_subject``): a resident ID
number is keyed here and never kept; only the keyed id reaches the store and the output.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from trustledger.app.checks import resolve_subject
from trustledger.app.errors import BadInput, ConfigError, NotFound

if TYPE_CHECKING:
    from collections.abc import Sequence

    from trustledger.access.principals import Principal
    from trustledger.app.context import Context
    from trustledger.dueprocess.notice_store import StoredNotice
    from trustledger.dueprocess.notices import Notice, Remedies
    from trustledger.dueprocess.senders import DeliveryCounts, Sender
    from trustledger.settings import Settings

SENDERS = ("outbox", "smtp")


@dataclass(frozen=True)
class SubjectNotices:
    subject_id: str
    notices: list[StoredNotice]

    def to_json(self) -> dict[str, Any]:
        return {"subject": self.subject_id, "notices": [n.to_json() for n in self.notices]}


@dataclass(frozen=True)
class Delivery:
    channel: str
    counts: DeliveryCounts

    def to_json(self) -> dict[str, Any]:
        return {"channel": self.channel, **self.counts.to_json()}


@dataclass(frozen=True)
class AddressSet:
    subject_id: str
    address: str

    def to_json(self) -> dict[str, str]:
        return {"subject": self.subject_id, "address": self.address}


def list_notices(ctx: Context, subject: str) -> SubjectNotices:
    """The subject's notices, oldest first, with when and how each was delivered."""
    from trustledger.dueprocess import notice_store

    subject_id = resolve_subject(ctx, subject)
    return SubjectNotices(subject_id, notice_store.for_subject(ctx.store, subject_id))


def notices_for(ctx: Context, principal: Principal, subject_id: str | None) -> SubjectNotices:
    """The notices a principal may read: a subject key its own (naming another subject is
    refused); an operator or a reviewer those of the subject it names."""
    from trustledger.app.errors import BadInput, Forbidden

    if principal.role == "subject":
        if subject_id is not None and subject_id != principal.subject:
            raise Forbidden("a subject key reads its own notices only")
        subject_id = principal.subject
    elif subject_id is None:
        raise BadInput("subject: whose notices (a USCC or ledger id)")
    if subject_id is None:
        raise Forbidden("this subject key names no subject")
    return list_notices(ctx, subject_id)


def rendered_text(ctx: Context, notice_id: str) -> str:
    """One notice as its subject reads it (Chinese, then English)."""
    from trustledger.dueprocess import notice_store
    from trustledger.dueprocess.notices import render

    stored = notice_store.get(ctx.store, notice_id)
    if stored is None:
        raise NotFound(f"no notice {notice_id}")
    return render(stored.notice).body


def sender_for(settings: Settings) -> Sender:
    """The sender the settings name: the outbox directory, or SMTP."""
    from trustledger.dueprocess.senders import OutboxSender, SmtpSender

    if settings.notice_sender == "outbox":
        return OutboxSender(settings.outbox_dir, settings.smtp_from)
    if settings.notice_sender == "smtp":
        return SmtpSender(settings.smtp_host, settings.smtp_port, settings.smtp_from,
                          starttls=settings.smtp_starttls)  # fmt: skip
    raise ConfigError(
        f"notice sender {settings.notice_sender!r} is not one of {', '.join(SENDERS)} "
        "(TRUSTLEDGER_NOTICE_SENDER)"
    )


def deliver(ctx: Context, *, limit: int = 1000, sender: Sender | None = None) -> Delivery:
    """Send the undelivered notices with the configured sender (or ``sender``). With SMTP,
    the notices of subjects without an address are written to the outbox directory and
    stay undelivered; failures are recorded and retried on the next run."""
    from trustledger.dueprocess import senders

    if limit < 1:
        raise BadInput(f"limit must be at least 1, not {limit}")
    sender = sender or sender_for(ctx.settings)
    outbox = None
    if sender.needs_address:
        outbox = senders.OutboxSender(ctx.settings.outbox_dir, ctx.settings.smtp_from)
    counts = senders.deliver(ctx.store, sender, None, limit=limit, outbox=outbox,
                             now=lambda: ctx.clock.now().isoformat(timespec="seconds"))  # fmt: skip
    return Delivery(sender.channel, counts)


def set_address(ctx: Context, subject: str, address: str) -> AddressSet:
    """Where the subject's notices go (replaces the address set before)."""
    from trustledger.dueprocess import notice_store
    from trustledger.dueprocess.senders import valid_address

    address = address.strip()
    if not valid_address(address):
        raise BadInput(f"{address!r} is not an e-mail address (local@domain)")
    subject_id = resolve_subject(ctx, subject)
    if not ctx.store.get_row("subjects", subject_id):
        raise NotFound(f"no subject {subject_id} in the ledger")
    notice_store.set_address(ctx.store, subject_id, address)
    return AddressSet(subject_id, address)


def notify_changes(
    ctx: Context,
    subject: str,
    *,
    before_at_us: int | None,
    on: date | None = None,
    before_on: date | None = None,
    remedies: Remedies | None = None,
) -> list[Notice]:
    """Build and store the notices for what changed for a subject between ledger time
    ``before_at_us`` (None: nothing was known before) and now, under every rulebook
    published now, judged on ``on`` (default today; ``before_on``, default ``on``, for the
    earlier profile: a listing whose notice period ran out in between is told as in
    effect). Returns the notices built (each is
    stored once, however often this runs)."""
    from trustledger.dueprocess import notice_store
    from trustledger.dueprocess.notices import notices_from_profiles
    from trustledger.evaluate.history import objections_as_of, records_as_of
    from trustledger.evaluate.profile import compile_rulebook, evaluate_subject
    from trustledger.rulebook.publish import published_rulebooks

    subject_id = resolve_subject(ctx, subject)
    row = ctx.store.get_row("subjects", subject_id)
    if row is None:
        raise NotFound(f"no subject {subject_id} in the ledger")
    day = on or ctx.today()
    after_records = records_as_of(ctx.store, subject_id, None)
    before_records = (
        records_as_of(ctx.store, subject_id, before_at_us) if before_at_us is not None else []
    )
    before_books = published_rulebooks(ctx.store, before_at_us) if before_at_us is not None else {}
    # objections as each side knew them: one keeps a pending listing pending
    size = ctx.store.size()
    after_objections = objections_as_of(ctx.store, [subject_id], size).get(subject_id, [])
    before_size = ctx.store.size_at(before_at_us) if before_at_us is not None else 0
    before_objections = objections_as_of(ctx.store, [subject_id], before_size).get(subject_id, [])
    label = None if subject_id.startswith("P") else f"{row.name}（{subject_id}）"
    created = ctx.clock.now().isoformat(timespec="seconds")
    built: list[Notice] = []
    for rulebook_id, rulebook in sorted(published_rulebooks(ctx.store, None).items()):
        compiled = compile_rulebook(rulebook, ctx.catalogue)
        after = evaluate_subject(compiled, row, after_records, day, after_objections)
        before = None
        if rulebook_id in before_books:
            earlier = compile_rulebook(before_books[rulebook_id], ctx.catalogue)
            before = evaluate_subject(
                earlier, row, before_records, before_on or day, before_objections
            )
        built += notices_from_profiles(
            before, after, compiled, created=created, remedies=remedies,
            records={r.id: r for r in after_records}, subject_label=label,
        )  # fmt: skip
    notice_store.save(ctx.store, built)
    return built


def subject_file_section(ctx: Context, subject_id: str) -> dict[str, Any]:
    """The subject's notices for its own file (`GET /v1/me`), oldest first."""
    from trustledger.dueprocess import notice_store

    notice_store.create_tables(ctx.store)
    return {"notices": [n.to_json() for n in notice_store.for_subject(ctx.store, subject_id)]}


@dataclass(frozen=True)
class Scan:
    after: date
    through: date
    subjects: int
    notices: int

    def to_json(self) -> dict[str, Any]:
        return {"after": self.after.isoformat(), "through": self.through.isoformat(),
                "subjects": self.subjects, "notices": self.notices}  # fmt: skip


def scan(ctx: Context, *, after: date | None = None) -> Scan:
    """Notices of what time alone changed: listings whose notice period ended after
    ``after`` (default a week ago) and by today take effect — each subject is told once,
    however often this runs (run it daily)."""
    from datetime import timedelta

    from trustledger.evaluate.queries import taking_effect

    today = ctx.today()
    start = after or today - timedelta(days=7)
    subjects = taking_effect(ctx.store, start.isoformat(), today.isoformat())
    count = 0
    for sid in subjects:
        built = notify_changes(ctx, sid, before_at_us=ctx.now_us(), on=today, before_on=start)
        log_notices(ctx, None, sid, built, cause="notice period ended")
        count += len(built)
    return Scan(start, today, len(subjects), count)


def log_notices(
    ctx: Context, actor: Principal | None, subject_id: str, notices: Sequence[Notice], *,
    cause: str,
) -> None:  # fmt: skip
    """Each notice in the access log with the principal whose step caused it (None: the
    platform itself — an ingest, the daily scan)."""
    from trustledger.access.log import record_access

    for notice in notices:
        detail = {"notice": notice.id, "kind": str(notice.kind), "cause": cause}
        record_access(ctx.store, actor, "notice.issued", subject_id=subject_id,
                      purpose="due process", detail=detail)  # fmt: skip
