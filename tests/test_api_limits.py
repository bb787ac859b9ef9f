"""What one request may cost (trustledger.api.limits) and the stricter contract: a body
bounded while it is read, a key checked before the body, days only as YYYY-MM-DD text,
subjects by pattern."""

from __future__ import annotations

import asyncio
from collections.abc import MutableMapping
from typing import Any

import test_api
from builders import FIRM
from fastapi.testclient import TestClient
from test_api import ON, assert_problem, bearer

from trustledger.api.limits import MAX_BODY, RequestLimits

# the API's fixtures: an evaluated ledger, a server over it and a checker's key
evaluated, settings, client, key = (
    test_api.evaluated,
    test_api.settings,
    test_api.client,
    test_api.key,
)
PAIR = {"subject": FIRM, "action": "air_travel"}


def test_a_body_declared_over_the_limit_is_refused_before_it_is_read(
    client: TestClient, key: str
) -> None:
    body = assert_problem(
        client.post("/v1/check/batch", content=b"x" * (MAX_BODY + 1), headers=bearer(key)), 413
    )
    assert f"over {MAX_BODY:,} bytes" in str(body["detail"])


def test_a_chunked_body_is_cut_off_at_the_limit(client: TestClient, key: str) -> None:
    def chunks() -> Any:
        for _ in range(MAX_BODY // 65536 + 2):
            yield b"y" * 65536

    assert_problem(client.post("/v1/check/batch", content=chunks(), headers=bearer(key)), 413)


def test_a_bad_content_length_is_refused(client: TestClient, key: str) -> None:
    headers = {**bearer(key), "content-length": "lots"}
    assert_problem(client.post("/v1/check/batch", content=b"{}", headers=headers), 400)


def test_a_bad_key_is_refused_before_a_byte_of_the_body_is_read() -> None:
    reads = 0

    async def receive() -> dict[str, Any]:
        nonlocal reads
        reads += 1
        return {"type": "http.request", "body": b"z" * 65536, "more_body": True}

    sent: list[MutableMapping[str, Any]] = []

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    async def never(scope: Any, receive: Any, send: Any) -> None:
        raise AssertionError("the app must not be reached")

    class Server:
        def authenticate(self, presented: str) -> None:
            return None  # unknown key

    class App:
        class state:  # the shape Starlette gives scope["app"]
            server = Server()

    scope = {"type": "http", "method": "POST", "path": "/v1/check/batch", "app": App(),
             "headers": [(b"authorization", b"Bearer tlk_nonsense")]}  # fmt: skip
    asyncio.run(RequestLimits(never)(scope, receive, send))
    assert reads == 0
    assert sent[0]["status"] == 401


def test_a_body_that_stops_arriving_is_answered_408() -> None:
    """A client that sends part of a body and then nothing holds the request only for
    the idle limit."""
    calls = 0

    async def receive() -> dict[str, Any]:
        nonlocal calls
        calls += 1
        if calls == 1:
            return {"type": "http.request", "body": b'{"pairs": [', "more_body": True}
        await asyncio.sleep(60)  # the rest never comes
        raise AssertionError("unreachable")

    sent: list[MutableMapping[str, Any]] = []

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    async def never(scope: Any, receive: Any, send: Any) -> None:
        raise AssertionError("the app must not be reached")

    scope = {"type": "http", "method": "POST", "path": "/v1/check/batch", "headers": []}
    limits = RequestLimits(never, body_idle_s=0.2)
    asyncio.run(asyncio.wait_for(limits(scope, receive, send), 5))
    assert sent[0]["status"] == 408
    assert b"no body bytes for 0.2 s" in sent[1]["body"]


def test_a_request_within_the_limit_still_works(client: TestClient, key: str) -> None:
    response = client.post(
        "/v1/check/batch", json={"pairs": [PAIR], "on": ON.isoformat()}, headers=bearer(key)
    )
    assert response.status_code == 200, response.text


def test_days_are_text_only(client: TestClient, key: str) -> None:
    for on in ("0", "1700000000", "2026-1-1", "yesterday"):
        body = assert_problem(
            client.get("/v1/check", params={**PAIR, "on": on}, headers=bearer(key)), 422
        )
        assert "YYYY-MM-DD" in str(body["detail"]), on
    assert_problem(client.get("/v1/check", params={**PAIR, "known_at": "0"},
                              headers=bearer(key)), 422)  # fmt: skip
    batch = {"pairs": [PAIR], "on": 0}
    body = assert_problem(client.post("/v1/check/batch", json=batch, headers=bearer(key)), 422)
    assert "YYYY-MM-DD" in str(body["detail"])
    ok = client.get("/v1/check", params={**PAIR, "on": ON.isoformat()}, headers=bearer(key))
    assert ok.status_code == 200, ok.text


def test_a_subject_outside_the_pattern_is_refused(client: TestClient, key: str) -> None:
    for subject in ("91' OR 1=1 --", "9144 0305", "a/b"):
        assert_problem(
            client.get("/v1/check", params={**PAIR, "subject": subject}, headers=bearer(key)),
            422,
        )
    spec = client.get("/openapi.json").json()
    (parameter,) = [p for p in spec["paths"]["/v1/check"]["get"]["parameters"]
                    if p["name"] == "subject"]  # fmt: skip
    assert parameter["schema"]["pattern"] == "^[0-9A-Za-z_]+$"
