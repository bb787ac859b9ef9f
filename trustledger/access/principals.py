"""Principals: who calls the platform, with which role and scope (DESIGN.md, principle 6).

A principal is an API key's holder. The key (``tlk_`` + 32 URL-safe characters, 192 random
bits) is shown once at creation and kept only as its SHA-256 hash: there is nothing to
brute-force that a salt or a slow hash would protect. A principal's ``id`` is derived from
that hash (``p_`` + 16 hex characters), stable, safe to log and to show; never the key.

Roles (no key at all is the public):

- ``issuer``: an issuing authority (``authority``: its USCC, registered in the ledger);
  writes only records in its own name, of the categories its authority type may issue.
- ``operator``: credit centre staff; reads any file (every read logged).
- ``reviewer``: decides objections, repairs and confirmations (``authority``: the body it
  belongs to; never decides on a record that authority issued).
- ``checker``: an agency that asks "may X do Y?" for the ``actions`` in its scope only.
- ``subject``: a company, organisation or person, its own file only (``subject``: its
  ledger id; for a person the keyed hash of the ID number, ``PersonKeyer.person_id``).
- ``auditor``: reads the access log.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, get_args

from trustledger.access import queries
from trustledger.ids import check_uscc
from trustledger.ledger.store import Store
from trustledger.ledger.tabledigest import committed
from trustledger.sanctions.actions import load_actions

__all__ = [
    "KEY_PREFIX",
    "ROLES",
    "ApiKeyError",
    "Principal",
    "Role",
    "authenticate",
    "create_key",
    "ensure_tables",
    "get_principal",
    "list_principals",
    "principal_id_of",
    "revoke",
]

Role = Literal["issuer", "operator", "reviewer", "checker", "subject", "auditor"]
ROLES: tuple[Role, ...] = get_args(Role)
KEY_PREFIX = "tlk_"
_PERSON_ID = re.compile(r"^P[0-9a-f]{32}$")


class ApiKeyError(ValueError):
    """A key cannot be created as asked (unknown role or action, a missing or unregistered
    authority, no subject, a bad expiry, an empty name), or a principal is unknown."""


@dataclass(frozen=True, slots=True)
class Principal:
    """A key's holder. ``actions``: a checker's scope; ``authority``: the USCC of an
    issuer's or reviewer's authority; ``subject``: a subject key's ledger id; ``expires``:
    an ISO instant (UTC) after which the key is refused."""

    id: str
    role: Role
    name: str
    actions: frozenset[str] = frozenset()
    authority: str | None = None
    subject: str | None = None
    expires: str | None = None
    revoked: bool = False
    created: str | None = None

    def may(self, action: str) -> bool:
        """A checker may check ``action`` (every other role: never by scope)."""
        return action in self.actions

    def valid_at(self, now: datetime) -> bool:
        """Not revoked, and not expired at ``now`` (an aware instant)."""
        if self.revoked:
            return False
        return self.expires is None or now < datetime.fromisoformat(self.expires)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "role": self.role, "name": self.name,
                "actions": sorted(self.actions), "authority": self.authority,
                "subject": self.subject, "expires": self.expires, "revoked": self.revoked,
                "created": self.created}  # fmt: skip


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def principal_id_of(key_hash: str) -> str:
    """The principal id of the key with this hash: stable, and no help in finding the key."""
    return "p_" + hashlib.sha256(b"trustledger principal\0" + key_hash.encode()).hexdigest()[:16]


_ENSURED: weakref.WeakSet[Store] = weakref.WeakSet()


def ensure_tables(store: Store) -> None:
    """The key table and the access log, created if missing; keys made before principals
    existed (checkers) get their principal id and keep working. Once per open store."""
    if store in _ENSURED:
        return
    queries.ensure_tables(store)
    _ENSURED.add(store)
    for key_hash in queries.keys_without_principal(store):
        with (
            committed(store, "api key given its principal id") as commit,
            commit.touching("api_keys", "key_hash = ?", (key_hash,)),
        ):
            queries.set_principal_id(store, key_hash, principal_id_of(key_hash))


def _instant(text: str) -> str:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise ApiKeyError(f"expires: {text!r} is not an ISO 8601 instant") from None
    if value.tzinfo is None:
        raise ApiKeyError("expires: give the instant with its offset (e.g. 2027-01-01T00:00Z)")
    return value.astimezone(UTC).isoformat(timespec="seconds")


def _subject_id(text: str) -> str:
    if _PERSON_ID.match(text):
        return text
    if check_uscc(text).valid:
        return text
    raise ApiKeyError(
        "subject: a subject key needs the subject's ledger id (a USCC, or a person's id: the "
        "keyed hash of the ID number)"
    )


def create_key(
    store: Store,
    role: str,
    name: str,
    actions: Iterable[str] = (),
    *,
    authority: str | None = None,
    subject: str | None = None,
    expires: str | None = None,
) -> str:
    """A new key for ``name`` with ``role``; returned once, only its hash is kept.

    A checker needs ``actions`` from the action catalogue; an issuer and a reviewer an
    ``authority`` registered in the ledger; a subject its ``subject`` id. ApiKeyError
    otherwise (and for scope a role does not take)."""
    if role not in ROLES:
        raise ApiKeyError(f"unknown role {role!r} (known: {', '.join(ROLES)})")
    name = name.strip()
    if not name:
        raise ApiKeyError("a key needs a name (who uses it)")
    scope = sorted(set(actions))
    if role == "checker":
        if not scope:
            raise ApiKeyError("a checker key needs at least one action")
        unknown = sorted(set(scope) - load_actions().codes)
        if unknown:
            raise ApiKeyError(f"actions not in the catalogue: {', '.join(unknown)}")
    elif scope:
        raise ApiKeyError(f"only a checker key has actions (not a {role} key)")
    if role in ("issuer", "reviewer"):
        if not authority:
            raise ApiKeyError(f"a {role} key needs the authority it acts for (its USCC)")
        if store.get_row("authorities", authority) is None:
            raise ApiKeyError(f"authority: {authority} is not a registered issuing authority")
    elif authority is not None:
        raise ApiKeyError(f"only issuer and reviewer keys have an authority (not a {role} key)")
    if role == "subject":
        if not subject:
            raise ApiKeyError("a subject key needs the subject's id")
        subject = _subject_id(subject)
    elif subject is not None:
        raise ApiKeyError(f"only a subject key has a subject (not a {role} key)")
    until = None if expires is None else _instant(expires)
    key = KEY_PREFIX + secrets.token_urlsafe(24)  # 24 bytes → 32 URL-safe characters
    key_hash = _hash(key)
    created = datetime.now(UTC).isoformat(timespec="microseconds")
    ensure_tables(store)
    row = (key_hash, role, name, json.dumps(scope), created, principal_id_of(key_hash),
           authority, subject, until, 0)  # fmt: skip
    # who may see what: committed to the ledger with the key
    with committed(store, f"api key created ({role})") as commit:
        queries.insert_key(store, row)
        commit.added("api_keys", [row])
    return key


def _principal(row: tuple[Any, ...]) -> Principal | None:
    _, role, name, actions, created, principal_id, authority, subject, expires, revoked = row
    if role not in ROLES:
        return None
    return Principal(str(principal_id), role, name, frozenset(json.loads(actions)), authority,
                     subject, expires, bool(revoked), str(created))  # fmt: skip


def authenticate(store: Store, key: str, now: datetime | None = None) -> Principal | None:
    """The principal holding ``key``; None for an unknown, revoked or expired key (expiry
    judged at ``now``, an aware instant; default the current time)."""
    if not key.startswith(KEY_PREFIX) or len(key) > 200:
        return None
    ensure_tables(store)
    row = queries.key_row(store, _hash(key))
    found = None if row is None else _principal(row)
    if found is None or not found.valid_at(now or datetime.now(UTC)):
        return None
    return found


def get_principal(store: Store, principal_id: str) -> Principal | None:
    """The principal with this id (revoked and expired ones too), or None."""
    ensure_tables(store)
    row = queries.principal_row(store, principal_id)
    return None if row is None else _principal(row)


def list_principals(store: Store) -> list[Principal]:
    """Every principal, oldest first (revoked and expired ones too)."""
    ensure_tables(store)
    return [p for row in queries.key_rows(store) if (p := _principal(row)) is not None]


def revoke(store: Store, principal_id: str) -> None:
    """Revoke the principal's key at once; ApiKeyError for an unknown principal."""
    if get_principal(store, principal_id) is None:
        raise ApiKeyError(f"no principal {principal_id!r}")
    with (
        committed(store, "api key revoked") as commit,
        commit.touching("api_keys", "principal_id = ?", (principal_id,)),
    ):
        queries.revoke(store, principal_id)
