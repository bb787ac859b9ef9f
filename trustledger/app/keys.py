"""API keys: creating one (shown once, only its hash is kept), and the stored key's type
for the faces that authenticate callers with ``app.access.authenticate``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from trustledger.access.keys import ApiKey
from trustledger.app.errors import BadInput

if TYPE_CHECKING:
    from trustledger.app.context import Context

__all__ = ["ApiKey", "create"]

# the roles a key may be created for today (the subject and operator roles come later)
CREATABLE = ("checker",)


def create(ctx: Context, role: str, name: str, actions: Sequence[str]) -> str:
    """A new key for ``name`` (the agency) with ``role`` and the ``actions`` it may check;
    the key is returned once and never stored. BadInput for an unknown role, a missing
    name, no actions, or actions outside the catalogue."""
    from trustledger.access.keys import ApiKeyError, create_key

    if role not in CREATABLE:
        raise BadInput(f"unknown role {role!r} (known: {', '.join(CREATABLE)})")
    try:
        return create_key(ctx.store, "checker", name, list(actions))
    except ApiKeyError as exc:
        raise BadInput(str(exc)) from None
