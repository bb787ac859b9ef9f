"""What one HTTP request may cost the server: a bounded body, and a key checked before it.

An ASGI middleware in front of the API. A request that carries an API key has the key
checked before a byte of its body is read (a caller with a bad key costs nothing); every
body is read up to ``MAX_BODY`` bytes, counted while it arrives, and refused with 413 the
moment it would pass them — a declared ``Content-Length`` over the limit is refused before
reading at all. The largest request the contract has (a batch of ``MAX_BATCH`` checks) is
well under the limit. A body that stops arriving for ``BODY_IDLE_S`` is answered 408: a
client trickling its body holds no connection for long.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from trustledger.api.problems import problem
from trustledger.app.errors import TrustledgerError

MAX_BODY = 4 * 1024 * 1024
BODY_IDLE_S = 10.0

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_WITH_BODY = frozenset({"POST", "PUT", "PATCH"})


class RequestLimits:
    def __init__(
        self, app: ASGIApp, max_body: int = MAX_BODY, body_idle_s: float = BODY_IDLE_S
    ) -> None:
        self.app = app
        self.max_body = max_body
        self.body_idle_s = body_idle_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _WITH_BODY:
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        refusal = self._key_refused(scope, headers)
        if refusal is None:
            refusal = self._declared_too_long(headers)
        if refusal is not None:
            await _respond(send, *refusal)
            return
        body = bytearray()
        while True:
            try:
                message = await asyncio.wait_for(receive(), self.body_idle_s)
            except TimeoutError:
                await _respond(send, 408, f"no body bytes for {self.body_idle_s:g} s")
                return
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if len(body) > self.max_body:
                await _respond(send, 413, self._too_long())
                return
            if not message.get("more_body", False):
                break
        await self.app(scope, _replay(bytes(body), receive), send)

    def _too_long(self) -> str:
        return f"request body over {self.max_body:,} bytes"

    def _declared_too_long(self, headers: dict[str, str]) -> tuple[int, str] | None:
        declared = headers.get("content-length")
        if declared is None:
            return None
        if not declared.isdigit():
            return 400, f"Content-Length {declared[:20]!r} is not a number"
        if int(declared) > self.max_body:
            return 413, self._too_long()
        return None

    @staticmethod
    def _key_refused(scope: Scope, headers: dict[str, str]) -> tuple[int, str] | None:
        if "authorization" not in headers and "x-api-key" not in headers:
            return None
        state = getattr(scope.get("app"), "state", None)
        server = getattr(state, "server", None)
        if server is None:  # not started (no lifespan): the route will answer
            return None
        from trustledger.api.deps import resolve

        try:
            resolve(server, headers.get("authorization"), headers.get("x-api-key"))
        except TrustledgerError as exc:
            return exc.http_status, exc.message
        return None


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # a disconnect, after the body

    return replay


async def _respond(send: Send, status: int, detail: str) -> None:
    response = problem(status, detail, {"WWW-Authenticate": "Bearer"} if status == 401 else None)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (k.encode("latin-1"), v.encode("latin-1")) for k, v in response.headers.items()
            ],
        }
    )
    await send({"type": "http.response.body", "body": response.body})


# the requests that only read although they are POSTs: a batch of checks, a screening
_READING_POSTS = frozenset({"/v1/check/batch", "/v1/screen"})


class ReadsOnly:
    """A replica's guard: every request that would write (a decision, an objection, a key)
    is refused with 403 before it reaches a route; the writer takes them."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] not in ("GET", "HEAD", "OPTIONS")
            and scope["path"] not in _READING_POSTS
        ):
            await _respond(send, 403, "this server is a replica and answers reads only: "
                           "send writes to the primary")  # fmt: skip
            return
        await self.app(scope, receive, send)
