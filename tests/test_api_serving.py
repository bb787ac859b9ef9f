"""How the server holds connections (trustledger.api.serving): request headers within a
deadline, however slowly they trickle; idle keep-alive connections closed; ordinary and
pipelined requests unaffected. A real uvicorn server on a real socket."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn

from trustledger.api import serving
from trustledger.api.serving import HeaderDeadlineProtocol, server_config

DEADLINE = 0.6


async def hello(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain")]})  # fmt: skip
    await send({"type": "http.response.body", "body": b"hello"})


@pytest.fixture
def port(monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    monkeypatch.setattr(HeaderDeadlineProtocol, "header_timeout", DEADLINE)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        free = int(s.getsockname()[1])
    config = server_config(hello, "127.0.0.1", free, log_level="warning", timeout_keep_alive=1)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.02)
    assert server.started
    yield free
    server.should_exit = True
    thread.join(5)


def connect(port: int) -> socket.socket:
    conn = socket.create_connection(("127.0.0.1", port), timeout=5)
    return conn


def read_all(conn: socket.socket) -> bytes:
    """Everything until the server closes the connection."""
    got = b""
    while chunk := conn.recv(65536):
        got += chunk
    return got


REQUEST = b"GET / HTTP/1.1\r\nhost: x\r\n\r\n"


def test_a_connection_that_sends_nothing_is_answered_408_and_closed(port: int) -> None:
    started = time.monotonic()
    with connect(port) as conn:
        answer = read_all(conn)
    took = time.monotonic() - started
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert DEADLINE * 0.8 <= took < DEADLINE + 2


def test_headers_trickled_a_byte_at_a_time_are_cut_off_at_the_deadline(port: int) -> None:
    """Slowloris: each byte arrives well inside any idle timeout, the whole never does."""
    started = time.monotonic()
    with connect(port) as conn:
        try:
            for byte in REQUEST[:-2]:
                conn.sendall(bytes([byte]))
                time.sleep(0.05)
                if time.monotonic() - started > DEADLINE + 2:
                    break
        except (BrokenPipeError, ConnectionResetError):
            pass  # closed by the server while we were still sending
        answer = read_all(conn)
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert time.monotonic() - started < DEADLINE + 2.5


def test_a_whole_request_is_answered_and_the_next_one_gets_a_fresh_deadline(port: int) -> None:
    with connect(port) as conn:
        conn.sendall(REQUEST)
        time.sleep(DEADLINE * 0.8)  # the first request's deadline no longer counts
        conn.sendall(REQUEST.replace(b"\r\n\r\n", b"\r\nconnection: close\r\n\r\n"))
        answer = read_all(conn)
    assert answer.count(b"HTTP/1.1 200 OK") == 2 and b"408" not in answer


def test_pipelined_requests_are_answered_in_order(port: int) -> None:
    closing = REQUEST.replace(b"\r\n\r\n", b"\r\nconnection: close\r\n\r\n")
    with connect(port) as conn:
        conn.sendall(REQUEST + REQUEST + closing)
        answer = read_all(conn)
    assert answer.count(b"HTTP/1.1 200 OK") == 3 and answer.count(b"hello") == 3


def test_an_idle_keep_alive_connection_is_closed(port: int) -> None:
    with connect(port) as conn:
        conn.sendall(REQUEST)
        started = time.monotonic()
        answer = read_all(conn)  # the server closes after its keep-alive (1 s here)
    assert answer.count(b"HTTP/1.1 200 OK") == 1
    assert time.monotonic() - started < 3


def test_headers_over_the_size_limit_are_refused(port: int) -> None:
    """Headers still incomplete past MAX_HEADER_BYTES are refused as they arrive."""
    huge = b"GET / HTTP/1.1\r\nhost: x\r\nx-pad: " + b"a" * (serving.MAX_HEADER_BYTES + 10)
    with connect(port) as conn:
        try:
            conn.sendall(huge)
            time.sleep(0.2)
            conn.sendall(b"\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        answer = read_all(conn)
    assert answer.startswith(b"HTTP/1.1 4")
