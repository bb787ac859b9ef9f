"""How the HTTP server holds a connection: request headers within a deadline, idle
connections closed.

uvicorn closes an idle keep-alive connection after ``timeout_keep_alive``, but it arms that
timer only after a response, and cancels it at the first byte of the next request: a
client that opens a connection and sends nothing, or sends its headers a byte every few
seconds (slowloris), holds a connection and its memory for ever. The protocol here gives
every request ``HEADER_TIMEOUT_S`` from the moment the server waits for it (the connection
opened, or the previous response sent) to the end of its headers, then answers 408 and
closes. Bodies have their own idle limit in `trustledger.api.limits`.
"""

from __future__ import annotations

import asyncio
from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

HEADER_TIMEOUT_S = 10.0  # a real client sends its headers in one segment
KEEP_ALIVE_S = 5  # between requests, uvicorn's own default
MAX_HEADER_BYTES = 16 * 1024  # request line and headers; the API's longest is far below

_TIMED_OUT = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"content-length: 34\r\nconnection: close\r\n\r\nrequest headers not sent in time\r\n"
)


class HeaderDeadlineProtocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline on each request's headers."""

    header_timeout = HEADER_TIMEOUT_S

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None
        self._waiting_since: object = None  # the cycle that was current when armed

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def on_response_complete(self) -> None:
        answered = self.cycle
        super().on_response_complete()  # may already parse a pipelined request
        if not self.transport.is_closing() and self.cycle is answered:
            self._arm()

    def handle_events(self) -> None:
        super().handle_events()
        if self._deadline is not None and self.cycle is not self._waiting_since:
            self._disarm()  # a new request's headers are in

    def _arm(self) -> None:
        self._disarm()
        self._waiting_since = self.cycle
        self._deadline = self.loop.call_later(self.header_timeout, self._expired)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self) -> None:
        self._deadline = None
        if self.transport.is_closing() or self.cycle is not self._waiting_since:
            return
        self.transport.write(_TIMED_OUT)
        self.transport.close()


def server_config(app: Any, host: str, port: int, **options: Any) -> uvicorn.Config:
    """The one uvicorn configuration `trustledger serve` (and the tests) run the API with."""
    chosen: dict[str, Any] = {
        "http": HeaderDeadlineProtocol,
        "timeout_keep_alive": KEEP_ALIVE_S,
        "h11_max_incomplete_event_size": MAX_HEADER_BYTES,
        **options,
    }
    return uvicorn.Config(app, host=host, port=port, **chosen)
