"""Delivering notices: a pluggable sender, an outbox directory by default, SMTP available.

A sender takes a notice and its rendered text (``Rendered``, which carries the recipient
when one is known) and either delivers it or raises. ``deliver`` walks the undelivered
notices: each delivered one is marked with when and through which channel; each failure
is recorded with its error and the notice stays undelivered for the next run, so nothing
is lost. A sender that needs an address (SMTP) leaves the notices of subjects without one
where they are — in the outbox, undelivered — until an address is set.

The outbox writes one RFC 5322 message per notice (UTF-8), atomically (a temporary file,
flushed, then renamed) and with mode 0600: a notice is personal data (principle 6).
"""

from __future__ import annotations

import os
import smtplib
import ssl
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from pathlib import Path
from typing import Protocol, runtime_checkable

from trustledger.dueprocess import notice_store
from trustledger.dueprocess.notices import Notice, Rendered, mask_text, render
from trustledger.ledger.store import Store

__all__ = [
    "DEFAULT_FROM",
    "DeliveryCounts",
    "OutboxSender",
    "Sender",
    "SmtpSender",
    "deliver",
    "message_for",
    "valid_address",
]

DEFAULT_FROM = "notices@trustledger.invalid"


@runtime_checkable
class Sender(Protocol):
    """Delivers one notice or raises; ``channel`` names it in the store ("outbox", "smtp");
    ``needs_address``: whether a notice without a recipient can be sent at all."""

    channel: str
    needs_address: bool

    def send(self, notice: Notice, rendered: Rendered) -> None: ...


def valid_address(address: str) -> bool:
    """A plain ``local@domain`` address (no display name, no spaces)."""
    _, parsed = parseaddr(address)
    local, at, domain = parsed.partition("@")
    return (
        parsed == address.strip() and bool(local) and bool(at) and "." in domain
        and not any(c.isspace() for c in parsed)
    )  # fmt: skip


def message_for(notice: Notice, rendered: Rendered, sender_address: str) -> EmailMessage:
    """The notice as an RFC 5322 message (UTF-8 text; the notice id in Message-ID and a
    header of its own, so a mail system can tell repeats apart)."""
    message = EmailMessage()
    message["From"] = sender_address
    if rendered.to:
        message["To"] = rendered.to
    message["Subject"] = mask_text(rendered.subject)
    message["Date"] = format_datetime(datetime.now(UTC))
    domain = sender_address.rpartition("@")[2] or "trustledger.invalid"
    message["Message-ID"] = f"<{notice.id}@{domain}>"
    message["X-Trustledger-Notice"] = notice.id
    message["X-Trustledger-Kind"] = notice.kind.value
    message.set_content(mask_text(rendered.body), charset="utf-8")
    return message


@dataclass
class OutboxSender:
    """One message file per notice, ``<notice id>.eml`` in ``directory`` (mode 0600; the
    directory 0700 when created). Writing it again replaces it whole."""

    directory: Path
    sender_address: str = DEFAULT_FROM
    channel: str = "outbox"
    needs_address: bool = False

    def path_of(self, notice: Notice) -> Path:
        return Path(self.directory) / f"{notice.id}.eml"

    def send(self, notice: Notice, rendered: Rendered) -> None:
        directory = Path(self.directory)
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        data = message_for(notice, rendered, self.sender_address).as_bytes()
        target = self.path_of(notice)
        # mkstemp creates the file 0600 and exclusively; renamed only once it is whole
        fd, temporary = tempfile.mkstemp(prefix=f".{notice.id}.", suffix=".tmp", dir=directory)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(temporary, 0o600)
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        _fsync_directory(directory)


def _fsync_directory(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@dataclass
class SmtpSender:
    """Sends through an SMTP server: one connection per notice (a failure touches only its
    notice), STARTTLS when asked (with certificate checks), login when a username is given."""

    host: str
    port: int
    sender_address: str
    starttls: bool = False
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout: float = 30.0
    ssl_context: ssl.SSLContext | None = field(default=None, repr=False)
    channel: str = "smtp"
    needs_address: bool = True

    def send(self, notice: Notice, rendered: Rendered) -> None:
        if not rendered.to:
            raise ValueError(f"notice {notice.id} has no recipient address")
        message = message_for(notice, rendered, self.sender_address)
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
            smtp.ehlo()
            if self.starttls:
                smtp.starttls(context=self.ssl_context or ssl.create_default_context())
                smtp.ehlo()
            if self.username is not None:
                smtp.login(self.username, self.password or "")
            refused = smtp.send_message(message, self.sender_address, [rendered.to])
            if refused:
                raise smtplib.SMTPRecipientsRefused(refused)


@dataclass(frozen=True)
class DeliveryCounts:
    delivered: int = 0
    failed: int = 0
    no_address: int = 0  # left undelivered: the sender needs an address the subject lacks

    def to_json(self) -> dict[str, int]:
        return {"delivered": self.delivered, "failed": self.failed, "no_address": self.no_address}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def deliver(
    store: Store,
    sender: Sender,
    addresses: Mapping[str, str] | None = None,
    *,
    limit: int = 1000,
    outbox: OutboxSender | None = None,
    now: Callable[[], str] = _now,
) -> DeliveryCounts:
    """Send the undelivered notices (oldest first, at most ``limit``) through ``sender``.

    ``addresses``: subject id → notice address; None reads the ``notice_addresses`` table.
    A failure is recorded with its error (``notice_store.attempts``) and the notice stays
    undelivered; one failure does not stop the others. With a sender that needs an
    address, a notice whose subject has none is left undelivered and, given ``outbox``,
    written there (for delivery by other means; writing it again replaces it).
    """
    known = notice_store.addresses(store) if addresses is None else dict(addresses)
    delivered = failed = missing = 0
    for stored in notice_store.undelivered(store, limit):
        notice = stored.notice
        address = known.get(notice.subject_id)
        rendered = render(notice)
        rendered = Rendered(rendered.subject, rendered.body, address or None)
        if sender.needs_address and not address:
            missing += 1
            if outbox is not None:
                outbox.send(notice, rendered)
            continue
        try:
            sender.send(notice, rendered)
        except (OSError, smtplib.SMTPException, ValueError) as exc:
            failed += 1
            notice_store.record_failure(store, notice.id, now(), sender.channel, _error(exc))
            continue
        delivered += 1
        notice_store.mark_delivered(store, notice.id, now(), sender.channel)
    return DeliveryCounts(delivered, failed, missing)


def _error(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return mask_text(f"{type(exc).__name__}: {text}")[:1000]
