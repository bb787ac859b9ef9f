"""Notices kept in the platform's database: stored once, found per subject, delivered once.

The SQL is in :mod:`trustledger.dueprocess.queries`; this module turns rows into notices.
Saving is idempotent (a notice's id is derived from what it is about, and a stored notice
is never overwritten), so building and saving the notices of an evaluation twice stores
each once.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

from trustledger.dueprocess import queries
from trustledger.dueprocess.notices import Notice
from trustledger.ledger.store import Store
from trustledger.ledger.tabledigest import Commit, committed

__all__ = [
    "Attempt",
    "StoredNotice",
    "addresses",
    "attempts",
    "create_tables",
    "for_subject",
    "get",
    "mark_delivered",
    "record_failure",
    "save",
    "save_within",
    "set_address",
    "undelivered",
]


@dataclass(frozen=True)
class StoredNotice:
    notice: Notice
    delivered_at: str | None
    channel: str | None

    def to_json(self) -> dict[str, object]:
        return {**self.notice.to_json(), "delivered_at": self.delivered_at,
                "channel": self.channel}  # fmt: skip


@dataclass(frozen=True)
class Attempt:
    at: str
    channel: str
    ok: bool
    error: str | None


def create_tables(store: Store) -> None:
    queries.create_tables(store)


def save(store: Store, notices: Iterable[Notice]) -> int:
    """Store the notices not stored yet, in a transaction of its own; returns how many
    were new."""
    create_tables(store)
    with committed(store, "notices") as commit:
        return save_within(store, notices, commit)


def save_within(store: Store, notices: Iterable[Notice], commit: Commit) -> int:
    """``save`` inside the caller's open transaction (a decision and its notice written
    together); the tables must exist (``create_tables`` first, outside the transaction)."""
    fresh = {n.id: n for n in notices}
    if not fresh:
        return 0
    known = queries.existing_ids(store, list(fresh))
    rows = [
        (n.id, n.subject_id, n.kind.value, n.created,
         json.dumps(n.body_json(), ensure_ascii=False, sort_keys=True))
        for n in fresh.values()
        if n.id not in known
    ]  # fmt: skip
    if rows:
        queries.insert_notices(store, rows)
        # delivered_at and channel are empty until delivery
        commit.added("notices", [(*r, None, None) for r in rows])
    return len(rows)


def _stored(row: tuple[object, ...]) -> StoredNotice:
    id_, subject_id, kind, created, body, delivered_at, channel = row
    notice = Notice.from_row(str(id_), str(subject_id), str(kind), str(created),
                             json.loads(str(body)))  # fmt: skip
    return StoredNotice(
        notice,
        None if delivered_at is None else str(delivered_at),
        None if channel is None else str(channel),
    )


def get(store: Store, notice_id: str) -> StoredNotice | None:
    create_tables(store)
    row = queries.notice(store, notice_id)
    return None if row is None else _stored(row)


def for_subject(store: Store, subject_id: str) -> list[StoredNotice]:
    """The subject's notices, oldest first."""
    create_tables(store)
    return [_stored(r) for r in queries.for_subject(store, subject_id)]


def undelivered(store: Store, limit: int = 1000) -> list[StoredNotice]:
    """Notices not delivered yet, oldest first (at most ``limit``)."""
    create_tables(store)
    return [_stored(r) for r in queries.undelivered(store, limit)]


def mark_delivered(store: Store, notice_id: str, at: str, channel: str) -> None:
    """The notice was delivered at ``at`` (ISO) through ``channel`` ("outbox", "smtp")."""
    queries.mark_delivered(store, notice_id, at, channel)


def record_failure(store: Store, notice_id: str, at: str, channel: str, error: str) -> None:
    """A delivery attempt failed: the notice stays undelivered, the error is kept."""
    queries.record_failure(store, notice_id, at, channel, error)


def attempts(store: Store, notice_id: str) -> list[Attempt]:
    create_tables(store)
    return [
        Attempt(str(at), str(channel), bool(ok), None if error is None else str(error))
        for at, channel, ok, error in queries.attempts(store, notice_id)
    ]


def set_address(store: Store, subject_id: str, address: str) -> None:
    """Where the subject's notices are sent (one address per subject; replaces the last)."""
    create_tables(store)
    queries.set_address(store, subject_id, address)


def addresses(store: Store) -> dict[str, str]:
    """Every subject's notice address, by subject id."""
    create_tables(store)
    return queries.addresses(store)
