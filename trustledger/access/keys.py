"""API keys: shown once at creation, kept only as a SHA-256 hash with role, name and scope.

A key is random (``tlk_`` + 32 URL-safe characters, 192 bits), so a plain SHA-256 is
enough to store it: there is nothing to brute-force that a salt or a slow hash would
protect. The table lives beside the ledger's own tables but is not part of the ledger.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from trustledger.access import queries
from trustledger.ledger.store import Store
from trustledger.sanctions.actions import load_actions

__all__ = ["KEY_PREFIX", "ROLES", "ApiKey", "ApiKeyError", "authenticate", "create_key"]

Role = Literal["checker"]
ROLES: tuple[Role, ...] = ("checker",)
KEY_PREFIX = "tlk_"


class ApiKeyError(ValueError):
    """A key cannot be created as asked (unknown role or action, empty name or scope)."""


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A stored key: its hash (never the key), role, name (the agency) and allowed actions."""

    key_hash: str
    role: Role
    name: str
    actions: frozenset[str]
    created: str

    def may(self, action: str) -> bool:
        return action in self.actions


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def ensure_table(store: Store) -> None:
    queries.ensure_table(store)


def create_key(store: Store, role: Role, name: str, actions: list[str]) -> str:
    """A new key for ``name`` with ``role`` and scope ``actions``; returned once, never stored."""
    if role not in ROLES:
        raise ApiKeyError(f"unknown role {role!r} (known: {', '.join(ROLES)})")
    name = name.strip()
    if not name:
        raise ApiKeyError("a key needs a name (the agency that uses it)")
    if not actions:
        raise ApiKeyError("a checker key needs at least one action")
    known = load_actions().codes
    unknown = sorted(set(actions) - known)
    if unknown:
        raise ApiKeyError(f"actions not in the catalogue: {', '.join(unknown)}")
    key = KEY_PREFIX + secrets.token_urlsafe(24)  # 24 bytes → 32 URL-safe characters
    created = datetime.now(UTC).isoformat(timespec="seconds")
    ensure_table(store)
    queries.insert_key(store, _hash(key), role, name, json.dumps(sorted(set(actions))), created)
    return key


def authenticate(store: Store, key: str) -> ApiKey | None:
    """The stored key matching ``key``, or None."""
    if not key.startswith(KEY_PREFIX) or len(key) > 200:
        return None
    ensure_table(store)
    row = queries.key_row(store, _hash(key))
    if row is None:
        return None
    key_hash, role, name, actions, created = row
    if role not in ROLES:
        return None
    return ApiKey(key_hash, role, name, frozenset(json.loads(actions)), str(created))
