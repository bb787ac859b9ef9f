"""Check replicas (trustledger.app.replicas, `serve --replica`, `state snapshot`): a
snapshot answers as the database does; replicas on real sockets follow one writer, one of
them started from a snapshot taken before the writes; reads only; answers at a position."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import httpx
import pytest
import test_api
import uvicorn
from builders import FIRM, FIRM2, PERSON_ID, debtor, uscc
from test_api import KEYER, ON, bearer
from typer.testing import CliRunner

from trustledger.api import create_app
from trustledger.api.serving import server_config
from trustledger.app import replicas
from trustledger.app.context import Context
from trustledger.app.errors import BadInput, ConfigError
from trustledger.catalogue import national_catalogue
from trustledger.cli import app
from trustledger.evaluate.state import refresh_if_evaluated
from trustledger.intake import Intake
from trustledger.ledger.store import Store, open_store
from trustledger.sanctions.check import CheckIndex
from trustledger.settings import Settings

evaluated, settings, key = test_api.evaluated, test_api.settings, test_api.key
NEW_FIRM = uscc("91", "440305", "MA5NEW01")
ACTIONS = ("air_travel", "public_procurement", "star_hotel", "teleportation")


def answers(index: CheckIndex, subjects: list[str]) -> list[dict[str, object]]:
    return [index.check(s, a, ON).to_json() for s in subjects for a in ACTIONS]


def test_a_snapshot_answers_as_the_database_does(
    evaluated: Store, settings: Settings, tmp_path: Path
) -> None:
    subjects = [FIRM, FIRM2, KEYER.person_id(PERSON_ID), NEW_FIRM]
    with Context.open(settings) as ctx:
        taken = replicas.write_snapshot(ctx, tmp_path / "snap")
    live = CheckIndex.load(evaluated, timezone=settings.timezone)
    # the position is the one a check answer reports: the ledger as evaluated
    assert taken.rows["state_profiles"] > 0 and taken.position == live.ledger_size > 0
    read, index = replicas.read_snapshot(tmp_path / "snap", settings.timezone)
    assert read.signature == taken.signature
    assert answers(index, subjects) == answers(live, subjects)
    assert index.ledger_size == live.ledger_size
    assert not (tmp_path / "snap.partial").exists()


def test_snapshot_refusals(evaluated: Store, settings: Settings, tmp_path: Path) -> None:
    with Context.open(settings) as ctx:
        replicas.write_snapshot(ctx, tmp_path / "snap")
        with pytest.raises(BadInput, match="exists"):
            replicas.write_snapshot(ctx, tmp_path / "snap")
    with pytest.raises(ConfigError, match="not a state snapshot"):
        replicas.read_snapshot(tmp_path, settings.timezone)
    meta = tmp_path / "snap" / "snapshot.json"
    meta.write_text(json.dumps({**json.loads(meta.read_text()), "format": "other/9"}))
    with pytest.raises(ConfigError, match="another format"):
        replicas.read_snapshot(tmp_path / "snap", settings.timezone)
    meta.write_text("{not json")
    with pytest.raises(ConfigError, match="cannot be read"):
        replicas.read_snapshot(tmp_path / "snap", settings.timezone)
    empty = tmp_path / "empty.db"
    with open_store(f"sqlite:///{empty}") as store:
        store.init(KEYER.fingerprint())
    bare = Settings(db_url=f"sqlite:///{empty}", person_key_file=settings.person_key_file)
    with Context.open(bare) as ctx, pytest.raises(BadInput, match="no evaluated state"):
        replicas.write_snapshot(ctx, tmp_path / "nothing")


def test_state_snapshot_command(evaluated: Store, settings: Settings, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["state", "snapshot", str(tmp_path / "s"), "--db", settings.db_url, "--json"],
        env={"TRUSTLEDGER_PERSON_KEY_FILE": str(settings.person_key_file)},
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    live = CheckIndex.load(evaluated, timezone=settings.timezone)
    assert json.loads(result.stdout)["position"] == live.ledger_size
    again = CliRunner().invoke(app, ["state", "snapshot", str(tmp_path / "s"), "--db",
                                     settings.db_url])  # fmt: skip
    assert again.exit_code != 0 and "exists" in again.output


class Replica:
    def __init__(self, settings: Settings, snapshot: Path | None = None) -> None:
        from socket import socket

        with socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        # a long interval: only the database's notifications can bring it up in time
        api = create_app(settings, reload_interval=60.0, replica=True, snapshot=snapshot)
        self.api = api
        self.server = uvicorn.Server(server_config(api, "127.0.0.1", port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        for _ in range(400):
            if self.server.started:
                break
            time.sleep(0.025)
        assert self.server.started
        self.base = f"http://127.0.0.1:{port}"

    def check(self, key: str, subject: str, **params: object) -> httpx.Response:
        query = {"subject": subject, "action": "air_travel", "on": ON.isoformat(), **params}
        return httpx.get(f"{self.base}/v1/check", params=query, headers=bearer(key))

    def close(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def write_a_debtor(store: Store) -> int:
    """The writer: a new dishonest judgment debtor, evaluated as an ingest does."""
    intake = Intake(store, national_catalogue(), KEYER, today=ON)
    line = debtor(subject=NEW_FIRM, subject_name="深圳市新近失信有限公司",
                  document_number="(2026)粤0305执77号", decision_date="2026-10-01",
                  publication_date="2026-10-02")  # fmt: skip
    assert [r.outcome for r in intake.submit_many([line])] == ["accepted"]
    written = store.size()  # the ledger position of the write, as its writer learns it
    refresh_if_evaluated(store, national_catalogue(), {NEW_FIRM}, on=ON)
    return written


def until(replica: Replica, key: str, status: str, limit_s: float = 10.0) -> float:
    started = time.monotonic()
    answer: object = None
    while time.monotonic() - started < limit_s:
        answer = replica.check(key, NEW_FIRM).json()
        if isinstance(answer, dict) and answer.get("status") == status:
            return time.monotonic() - started
        time.sleep(0.01)
    follower = replica.api.state.server.follower
    notified = None if follower is None else follower.notified
    raise AssertionError(f"{replica.base} never answered {status}: {answer} ({notified=})")


def test_two_replicas_follow_one_writer(
    evaluated: Store, settings: Settings, key: str, tmp_path: Path
) -> None:
    if not settings.db_url.startswith("postgresql"):
        pytest.skip("followed by notification on PostgreSQL (SQLite: the test below)")
    store, found, checker, before = evaluated, settings, key, tmp_path / "before"
    with Context.open(settings) as ctx:
        replicas.write_snapshot(ctx, before)
    fresh, from_snapshot = Replica(found), Replica(found, snapshot=before)
    try:
        for replica in (fresh, from_snapshot):
            assert replica.check(checker, NEW_FIRM).json()["status"] == "unknown"
            assert replica.check(checker, FIRM).json()["status"] == "deny"
        position = write_a_debtor(store)
        # pushed by the database's notification, not the 60 s look
        for replica in (fresh, from_snapshot):
            assert until(replica, checker, "deny") < 5.0
        a, b = ({k: v for k, v in r.check(checker, NEW_FIRM).json().items() if k != "known_at"}
                for r in (fresh, from_snapshot))  # fmt: skip
        assert a == b and a["status"] == "deny" and a["ledger_size"] >= position
        # a caller that has just written asks for what it wrote
        at = fresh.check(checker, NEW_FIRM, min_position=a["ledger_size"])
        assert at.status_code == 200 and at.json()["status"] == "deny"
        ahead = fresh.check(checker, NEW_FIRM, min_position=a["ledger_size"] + 1000)
        assert ahead.status_code == 503
        assert "not yet the" in ahead.json()["detail"]
        # reads only: a write is refused before any route, a batch of checks is a read
        refused = httpx.post(f"{fresh.base}/v1/records", json={}, headers=bearer(checker))
        assert refused.status_code == 403 and "replica" in refused.json()["detail"]
        batch = httpx.post(f"{fresh.base}/v1/check/batch", headers=bearer(checker),
                           json={"pairs": [{"subject": NEW_FIRM, "action": "air_travel"}],
                                 "on": ON.isoformat()})  # fmt: skip
        assert batch.status_code == 200 and batch.json()["results"][0]["status"] == "deny"
    finally:
        fresh.close()
        from_snapshot.close()


def test_a_sqlite_replica_from_a_snapshot_catches_up_at_its_look(
    evaluated: Store, settings: Settings, key: str, tmp_path: Path
) -> None:
    """No notifications in SQLite: the replica sees the writer at its next look."""
    if not settings.db_url.startswith("sqlite"):
        pytest.skip("the PostgreSQL replica is followed by notification (test above)")
    with Context.open(settings) as ctx:
        replicas.write_snapshot(ctx, tmp_path / "before")
    position = write_a_debtor(evaluated)
    with test_api.TestClient(create_app(settings, reload_interval=0.0, replica=True,
                                        snapshot=tmp_path / "before")) as client:  # fmt: skip
        got = client.get("/v1/check", headers=bearer(key), params={
            "subject": NEW_FIRM, "action": "air_travel", "on": ON.isoformat(),
            "min_position": position})  # fmt: skip
        assert got.status_code == 200, got.text
        assert got.json()["status"] == "deny"
