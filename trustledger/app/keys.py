"""API keys: creating one (shown once, only its hash is kept), listing and revoking them.

The contract others code against is ``trustledger.access.principals`` (``Principal``,
``Role``); the faces reach it only through here and ``trustledger.app.access``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from trustledger.access.principals import ROLES, Principal, Role
from trustledger.app.errors import BadInput, NotFound

if TYPE_CHECKING:
    from trustledger.app.context import Context

__all__ = ["ROLES", "ApiKey", "Principal", "Role", "create", "list_keys", "revoke"]

ApiKey = Principal  # the name the faces used before principals
CREATABLE = ROLES


def create(
    ctx: Context,
    role: str,
    name: str,
    actions: Sequence[str] = (),
    *,
    authority: str | None = None,
    subject: str | None = None,
    expires: str | None = None,
) -> str:
    """A new key for ``name`` with ``role`` and its scope: a checker's ``actions``, an
    issuer's or reviewer's ``authority`` (a registered USCC), a subject key's ``subject``
    (a USCC, a resident ID number — hashed here, never kept — or a person id), an optional
    ``expires`` instant. The key is returned once and never stored. BadInput otherwise."""
    from trustledger.access.principals import ApiKeyError, create_key
    from trustledger.app.checks import resolve_subject

    subject_id = None if subject is None else resolve_subject(ctx, subject)
    try:
        return create_key(ctx.store, role, name, list(actions), authority=authority,
                          subject=subject_id, expires=expires)  # fmt: skip
    except ApiKeyError as exc:
        raise BadInput(str(exc)) from None


def list_keys(ctx: Context) -> list[Principal]:
    """Every principal (revoked and expired ones too), oldest first; never a key."""
    from trustledger.access.principals import list_principals

    return list_principals(ctx.store)


def revoke(ctx: Context, principal_id: str) -> Principal:
    """Revoke a principal's key (refused from then on; a server notices within its cache
    interval, one second by default); NotFound for an unknown id."""
    from trustledger.access.principals import get_principal
    from trustledger.access.principals import revoke as revoke_key

    found = get_principal(ctx.store, principal_id)
    if found is None:
        raise NotFound(f"no principal {principal_id!r}")
    revoke_key(ctx.store, principal_id)
    revoked = get_principal(ctx.store, principal_id)
    assert revoked is not None
    return revoked
