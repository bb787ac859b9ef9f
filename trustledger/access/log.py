"""The access log: who read or checked what about whom, when, and why (principle 6).

Append-only and hash-chained like the ledger: each row holds ``hash`` = SHA-256 of the
previous row's hash (32 zero bytes before the first) followed by the row's canonical JSON
(RFC 8785, ``trustledger.ledger.canonical``) without its hash. Rows are never updated or
deleted; ``verify_access_log`` recomputes the chain and names every row that breaks it.

A row says who (the principal id and role; ``public`` with no id), what (the route or the
action), when (``at``, an ISO instant in UTC), about whom (``subject_id``: a ledger id,
the keyed hash for a person — never a resident ID number), why (``purpose``, as the
caller stated it) and ``detail`` (a small JSON object: the action checked, a count, a
status). Appending takes the store's write transaction, so concurrent writers (several
servers on one database) keep one chain.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from trustledger.access import queries
from trustledger.access.principals import Principal, ensure_tables
from trustledger.ledger.canonical import canonical_json
from trustledger.ledger.store import Store
from trustledger.ledger.tabledigest import committed

__all__ = [
    "GENESIS",
    "AccessEntry",
    "PendingAccess",
    "read_access_log",
    "record_access",
    "record_many",
    "verify_access_log",
]

GENESIS = "00" * 32
MAX_PURPOSE = 500


@dataclass(frozen=True, slots=True)
class PendingAccess:
    """One access, not yet chained: what a server collects between writes."""

    principal_id: str | None
    role: str
    action: str
    subject_id: str | None
    purpose: str | None
    detail: Mapping[str, Any] = field(default_factory=dict)
    at: str = ""  # ISO instant (UTC); filled in when empty

    @classmethod
    def of(
        cls,
        principal: Principal | None,
        action: str,
        *,
        subject_id: str | None,
        purpose: str | None,
        detail: Mapping[str, Any] | None = None,
        at: datetime | None = None,
    ) -> PendingAccess:
        when = (at or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="microseconds")
        return cls(
            None if principal is None else principal.id,
            "public" if principal is None else principal.role,
            action,
            subject_id,
            None if purpose is None else purpose[:MAX_PURPOSE].replace("\x00", "\ufffd"),
            dict(detail or {}),
            when,
        )


@dataclass(frozen=True, slots=True)
class AccessEntry:
    seq: int
    at: str
    principal_id: str | None
    role: str
    action: str
    subject_id: str | None
    purpose: str | None
    detail: dict[str, Any]
    prev_hash: str
    hash: str

    def body(self) -> dict[str, Any]:
        """What the hash covers: every field but the hashes."""
        return {"seq": self.seq, "at": self.at, "principal_id": self.principal_id,
                "role": self.role, "action": self.action, "subject_id": self.subject_id,
                "purpose": self.purpose, "detail": self.detail}  # fmt: skip

    def to_json(self) -> dict[str, Any]:
        return {**self.body(), "prev_hash": self.prev_hash, "hash": self.hash}


def _chain(prev_hash: str, body: Mapping[str, Any]) -> str:
    return hashlib.sha256(bytes.fromhex(prev_hash) + canonical_json(dict(body))).hexdigest()


def record_many(store: Store, pending: Sequence[PendingAccess]) -> None:
    """Append these accesses, in order, in one write transaction."""
    if not pending:
        return
    ensure_tables(store)
    # each batch is committed to the ledger by digest in the same transaction: a row
    # deleted from the end of the chain, which the chain alone cannot show, is found too
    with committed(store, "access log") as commit:
        last = queries.last_log_row(store)
        seq, prev = (0, GENESIS) if last is None else last
        rows = []
        for p in pending:
            seq += 1
            detail = dict(p.detail)
            body = {"seq": seq, "at": p.at, "principal_id": p.principal_id, "role": p.role,
                    "action": p.action, "subject_id": p.subject_id, "purpose": p.purpose,
                    "detail": detail}  # fmt: skip
            digest = _chain(prev, body)
            rows.append((seq, p.at, p.principal_id, p.role, p.action, p.subject_id, p.purpose,
                         canonical_json(detail).decode(), prev, digest))  # fmt: skip
            prev = digest
        queries.insert_log_rows(store, rows)
        commit.added("access_log", rows)


def record_access(
    store: Store,
    principal: Principal | None,
    action: str,
    *,
    subject_id: str | None,
    purpose: str | None,
    detail: Mapping[str, Any] | None = None,
    at: datetime | None = None,
) -> None:
    """Append one access (``principal`` None: the public) at once."""
    record_many(store, [PendingAccess.of(principal, action, subject_id=subject_id,
                                         purpose=purpose, detail=detail, at=at)])  # fmt: skip


def _entry(row: Sequence[Any]) -> AccessEntry:
    seq, at, principal_id, role, action, subject_id, purpose, detail, prev, digest = row
    return AccessEntry(int(seq), at, principal_id, role, action, subject_id, purpose,
                       json.loads(detail), prev, digest)  # fmt: skip


def read_access_log(
    store: Store, *, subject_id: str | None = None, after: int | None = None, limit: int = 100
) -> list[AccessEntry]:
    """Up to ``limit`` rows after seq ``after`` (keyset paging), oldest first; only those
    about ``subject_id`` when given."""
    ensure_tables(store)
    rows = queries.log_rows(store, subject_id=subject_id, after=after, limit=limit)
    return [_entry(r) for r in rows]


def verify_access_log(store: Store, *, batch: int = 10_000) -> list[str]:
    """Every break in the chain (a row changed, removed, inserted or out of order); an
    empty list when the whole log is intact."""
    ensure_tables(store)
    problems: list[str] = []
    prev, expected, after = GENESIS, 1, 0
    while rows := queries.all_log_rows(store, after, batch):
        for row in rows:
            entry = _entry(row)
            if entry.seq != expected:
                problems.append(f"row {entry.seq}: expected row {expected} (rows missing)")
            if entry.prev_hash != prev:
                problems.append(f"row {entry.seq}: prev_hash does not match the row before")
            if _chain(entry.prev_hash, entry.body()) != entry.hash:
                problems.append(f"row {entry.seq}: hash does not match its content")
            prev, expected, after = entry.hash, entry.seq + 1, entry.seq
    return problems
