"""What the routers share: the server's state (one context, its lock, the check service,
the access log, small caches), the caller (one principal, or the public), the roles a
route admits (``require_role``), subject identifiers and the two time axes.

Nothing here decides an answer: that is the application layer's.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Coroutine
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import orjson
from fastapi import Depends, Header, Request
from fastapi.responses import Response

from trustledger.api.problems import BadIdentifier, NotInScope, Unauthorized
from trustledger.app import access, person_keys, replicas
from trustledger.app.checkpoints import CheckpointTimer
from trustledger.app.checks_service import CheckService
from trustledger.app.context import Context
from trustledger.app.errors import BadInput
from trustledger.app.keys import Principal, Role
from trustledger.app.time import When
from trustledger.settings import Settings

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


class ServerState:
    """One open context for the server's life, the lock that guards its store connection,
    the check service that follows the ledger, and caches a check must not pay for."""

    def __init__(
        self,
        settings: Settings,
        reload_interval: float,
        *,
        access_log: bool = True,
        log_interval: float = 0.2,
        replica: bool = False,
        snapshot: Path | None = None,
    ) -> None:
        """``replica``: answer reads only, and follow the writer's database as it commits
        (PostgreSQL: notified; SQLite: looked at once per interval); ``snapshot``: start
        the check index from a state snapshot (`trustledger state snapshot`)."""
        self.ctx = Context.open(settings, must_exist=replica)
        self.lock = threading.Lock()
        self.replica = replica
        self.follower: replicas.Follower | None = None
        try:
            self.keyer = self.ctx.keyer  # loaded once: a bad key file fails the start
            access.prepare(self.ctx)
            start = None
            if snapshot is not None:
                taken, index = replicas.read_snapshot(snapshot, settings.timezone)
                start = (taken.signature, index)
            self.checks = CheckService(
                settings, self.ctx.store, reload_interval=reload_interval, lock=self.lock,
                start=start,
            )  # fmt: skip
            if replica and self.ctx.store.url.startswith("postgresql"):
                with self.lock:
                    replicas.install_notify(self.ctx)
                self.follower = replicas.Follower(settings.db_url, self.checks)
            self.log = access.AccessRecorder(self.ctx.store, self.lock, interval=log_interval,
                                             enabled=access_log)  # fmt: skip
            # signs a checkpoint at most every interval when the ledger grew (app.checkpoints)
            self.checkpointer = CheckpointTimer(self.ctx, self.lock, settings.checkpoint_interval)
        except BaseException:
            self.ctx.close()
            raise
        # principals found, by the key itself, with the instant their key expires: a check
        # must not cost a database read; emptied whenever the check service looks at the
        # state again (once per interval), so a revocation is seen within that interval
        self.keys: dict[str, tuple[Principal, float]] = {}
        self.checks.on_look.append(self.keys.clear)
        self.subjects: dict[str, str] = {}  # valid organisation ids seen (never persons)

    def close(self) -> None:
        if self.follower is not None:
            self.follower.close()
        self.checkpointer.close()
        self.checks.close()
        self.log.close()
        self.ctx.close()

    def authenticate(self, key: str) -> Principal | None:
        self.checks.current()  # the look (once per interval) empties the cache of keys
        found = self.keys.get(key)
        if found is not None:
            if time.time() < found[1]:
                return found[0]
            del self.keys[key]  # expired since it was found
        with self.lock:
            principal = access.authenticate(self.ctx, key)
        if principal is not None:
            expires = principal.expires
            until = float("inf") if expires is None else datetime.fromisoformat(expires).timestamp()
            self.keys[key] = (principal, until)
        return principal


async def server(request: Request) -> ServerState:
    state: ServerState = request.app.state.server
    return state


def resolve(
    state: ServerState, authorization: str | None, x_api_key: str | None
) -> Principal | None:
    """The caller: the principal holding the key sent (Authorization: Bearer, or
    X-Api-Key), or None for the public (no key at all). A key sent that is unknown,
    revoked or expired, or credentials of another scheme, are 401: never the public."""
    key = x_api_key
    if authorization is not None:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("only API keys are accepted (Authorization: Bearer <key>)")
        key = token.strip()
    if key is None:
        return None
    found = state.authenticate(key) if key else None
    if found is None:
        raise Unauthorized("unknown, revoked or expired API key")
    return found


def admit(principal: Principal | None, route: str) -> None:
    """401 for the public on a route that needs a key; 403 for a role the route does not
    admit (``trustledger.app.access.ROUTE_ROLES``)."""
    roles = access.ROUTE_ROLES[route]
    if principal is None:
        if "public" not in roles:
            raise Unauthorized("an API key is required (Authorization: Bearer <key>)")
        return
    if principal.role not in roles:
        raise NotInScope(f"a {principal.role} key may not use this route")


async def caller(
    state: Annotated[ServerState, Depends(server)],
    authorization: Annotated[str | None, Header()] = None,
    x_api_key: Annotated[str | None, Header()] = None,
) -> Principal | None:
    """The dependency every route takes: the one principal of the call, or None (public)."""
    return resolve(state, authorization, x_api_key)


def require_role(
    *roles: Role | str, route: str | None = None
) -> Callable[..., Coroutine[Any, Any, Principal]]:
    """A dependency admitting only keys of ``roles`` (401 without a key, 403 for another
    role) and returning the principal; or, with ``route``, the roles ``ROUTE_ROLES`` gives
    that route. For routers of other areas: ``Depends(require_role("reviewer"))``."""
    allowed = frozenset(roles)

    async def dependency(
        principal: Annotated[Principal | None, Depends(caller)],
    ) -> Principal:
        if route is not None:
            admit(principal, route)
        if principal is None:
            raise Unauthorized("an API key is required (Authorization: Bearer <key>)")
        if allowed and principal.role not in allowed:
            raise NotInScope(f"a {principal.role} key may not use this route")
        return principal

    return dependency


def in_scope(key: Principal, actions: frozenset[str], action: str) -> None:
    # a checker: an action outside the catalogue is answered "unknown" (nothing to
    # disclose); a catalogued action outside the key's scope is refused. An operator may
    # check every action.
    if key.role == "checker" and action in actions and not key.may(action):
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
        resolved = resolve_subject(state.ctx, text, link=False)
    except BadInput:
        # never echo the input: it may be a resident ID number
        raise BadIdentifier(
            f"{where} is not a valid USCC, resident ID number or person id"
        ) from None
    if person_keys.pending(state.ctx):
        with state.lock:  # the link to the current person key goes on record (one write)
            person_keys.record_links(state.ctx)
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
