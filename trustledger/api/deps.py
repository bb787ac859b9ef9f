"""What the routers share: the server's state (one context, its lock, the check service,
small caches), the caller's key, subject identifiers and the two time axes.

Nothing here decides an answer: that is the application layer's.
"""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import orjson
from fastapi import Depends, Header, Request
from fastapi.responses import Response

from trustledger.api.problems import BadIdentifier, NotInScope, Unauthorized
from trustledger.app import access
from trustledger.app.checks_service import CheckService
from trustledger.app.context import Context
from trustledger.app.errors import BadInput
from trustledger.app.keys import ApiKey
from trustledger.app.time import When
from trustledger.settings import Settings

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


class ServerState:
    """One open context for the server's life, the lock that guards its store connection,
    the check service that follows the ledger, and caches a check must not pay for."""

    def __init__(self, settings: Settings, reload_interval: float) -> None:
        self.ctx = Context.open(settings, must_exist=False)
        self.lock = threading.Lock()
        try:
            self.keyer = self.ctx.keyer  # loaded once: a bad key file fails the start
            access.prepare(self.ctx)
            self.checks = CheckService(
                settings, self.ctx.store, reload_interval=reload_interval, lock=self.lock
            )
        except BaseException:
            self.ctx.close()
            raise
        # keys found, by the key itself: a check must not cost a database read; emptied
        # whenever the check service looks at the state again (once per interval)
        self.keys: dict[str, ApiKey] = {}
        self.checks.on_look.append(self.keys.clear)
        self.subjects: dict[str, str] = {}  # valid organisation ids seen (never persons)

    def close(self) -> None:
        self.checks.close()
        self.ctx.close()

    def authenticate(self, key: str) -> ApiKey | None:
        found = self.keys.get(key)
        if found is None:
            with self.lock:
                found = access.authenticate(self.ctx, key)
            if found is not None:
                self.keys[key] = found
        return found


async def server(request: Request) -> ServerState:
    state: ServerState = request.app.state.server
    return state


def authorize(state: ServerState, authorization: str | None, x_api_key: str | None) -> ApiKey:
    """The caller's checker key (Authorization: Bearer, or X-Api-Key), or 401/403."""
    key = x_api_key
    if authorization is not None:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            key = token.strip()
    if not key:
        raise Unauthorized("an API key is required (Authorization: Bearer <key>)")
    found = state.authenticate(key)
    if found is None:
        raise Unauthorized("unknown API key")
    if found.role != "checker":
        raise NotInScope("this key may not run checks")
    return found


async def caller(
    state: Annotated[ServerState, Depends(server)],
    authorization: Annotated[str | None, Header()] = None,
    x_api_key: Annotated[str | None, Header()] = None,
) -> ApiKey:
    return authorize(state, authorization, x_api_key)


def in_scope(key: ApiKey, actions: frozenset[str], action: str) -> None:
    # an action outside the catalogue is answered "unknown" (nothing to disclose);
    # a catalogued action outside the key's scope is refused
    if action in actions and not key.may(action):
        raise NotInScope(f"this key may not check the action {action!r}")


def subject_id(state: ServerState, text: str, where: str) -> str:
    """The ledger id of what the caller sent. Checkers ask about the same subjects again and
    again: valid organisation ids are remembered (a resident ID number never is, not even
    in memory: it is hashed each time)."""
    from trustledger.app.checks import resolve_subject

    known = state.subjects.get(text)
    if known is not None:
        return known
    try:
        resolved = resolve_subject(state.ctx, text)
    except BadInput:
        # never echo the input: it may be a resident ID number
        raise BadIdentifier(
            f"{where} is not a valid USCC, resident ID number or person id"
        ) from None
    if resolved == text:  # a USCC or an internal id: nothing personal to keep
        if len(state.subjects) >= 1_000_000:
            state.subjects.clear()
        state.subjects[text] = resolved
    return resolved


def when(state: ServerState, known_at: datetime | None, on: date | None) -> When:
    """Both time axes of a request, defaults filled in: ``known_at`` now (the live state),
    ``on`` today on the configured calendar. A naive ``known_at`` is local time; one at or
    after now is now, one before 1970 is 1970-01-01T00:00Z (the ledger was empty)."""
    ctx = state.ctx
    now_us = ctx.now_us()
    at_us: int | None = None
    if known_at is not None:
        if known_at.tzinfo is None:
            known_at = known_at.replace(tzinfo=ZoneInfo(ctx.settings.timezone))
        # before the epoch the ledger knew nothing: such an instant is the epoch
        at_us = max((known_at - _EPOCH) // _MICROSECOND, 0)
        if at_us >= now_us:
            at_us = None
    return When(at_us, ctx.today() if on is None else on, now_us, ctx.settings.timezone)


def json_response(value: Any) -> Response:
    # plain dicts serialised by orjson: the response models describe them in the OpenAPI
    # document (and the Schemathesis test holds them to it); validating each again per
    # request would cost more than the check itself
    return Response(orjson.dumps(value), media_type="application/json")
