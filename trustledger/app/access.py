"""Who may ask what: API keys, and which files a checker may read.

Principle 6: a person's file is never served to a checker (it needs a role of its own and
an entry in the access log).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from trustledger.app.errors import Forbidden, NotFound

if TYPE_CHECKING:
    from trustledger.access.principals import Principal
    from trustledger.app.context import Context
    from trustledger.ledger.projection import SubjectRow

PERSON_FILE = "a person's file is not served to checkers"


def prepare(ctx: Context) -> None:
    """The key table, created if missing (a server does it once at start)."""
    from trustledger.access.principals import ensure_tables

    ensure_tables(ctx.store)


def authenticate(ctx: Context, key: str) -> Principal | None:
    """The principal holding ``key`` (compared by its hash); None when unknown, revoked or
    expired now."""
    from trustledger.access.principals import authenticate as find

    return find(ctx.store, key, ctx.clock.now())


def subject(ctx: Context, subject_id: str) -> SubjectRow:
    """The subject's register row, or NotFound."""
    from trustledger.ledger.projection import SubjectRow

    row = ctx.store.get_row("subjects", subject_id)
    if row is None:
        raise NotFound("no such subject in the ledger")
    return SubjectRow._make(row)


def organisation_for_checker(ctx: Context, subject_id: str) -> SubjectRow:
    """The subject's row if a checker may read its file: an organisation's, never a
    person's (Forbidden)."""
    row = subject(ctx, subject_id)
    if row.kind == "person":
        raise Forbidden(PERSON_FILE)
    return row
