"""Rotating the person key (issue 13, item 6): key versions, a link written when an ID
number is next presented, and every person and restriction found again by the old number,
through the CLI and the HTTP API, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from builders import FIRM, PERSON_ID, authorities, debtor, resident_id
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from trustledger.cli import app
from trustledger.ids import (
    ENV_PERSON_KEY,
    ENV_PERSON_KEY_FILE,
    PersonKeyer,
    PersonKeyError,
    PersonKeyring,
    load_person_keyring,
    person_key_path,
)
from trustledger.ledger.store import open_store

runner = CliRunner()

MANAGER = resident_id(seq="202")
RESPONSIBLE = resident_id(seq="303")
CONTROLLER = resident_id(birth="19750505", seq="404")
LATE = resident_id(birth="19900909", seq="505")  # first seen after the rotation
PERSONS = [
    {"role": "principal_manager", "id": MANAGER},
    {"role": "directly_responsible", "id": RESPONSIBLE},
    {"role": "actual_controller", "id": CONTROLLER},
]


def cli(*args: str) -> Any:
    return runner.invoke(app, list(args))


def ok(*args: str) -> str:
    result = cli(*args)
    assert result.exit_code == 0, result.output
    return str(result.stdout)


def check(number: str) -> dict[str, Any]:
    result = cli("check", number, "air_travel", "--json")
    assert result.exit_code in (0, 3, 4), result.output
    out: dict[str, Any] = json.loads(result.stdout)
    return out


def ingest(env: Path, name: str, lines: list[dict[str, Any]]) -> None:
    path = env / name
    path.write_bytes(b"".join(orjson.dumps(line) + b"\n" for line in lines))
    out = json.loads(ok("ingest", "--json", str(path)))
    assert out[0]["rejected"] == 0, out


def query(db_url: str, sql: str) -> list[tuple[Any, ...]]:
    store = open_store(db_url)
    try:
        return store.query(sql)
    finally:
        store.close()


def links(db_url: str) -> int:
    return int(query(db_url, "SELECT count(*) FROM entries WHERE kind = 'person_key.linked'")[0][0])


@pytest.fixture
def env(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An initialised platform with a person debtor and an organisation debtor whose
    decision names three restricted persons, the SPC rulebook published and evaluated."""
    monkeypatch.setenv("TRUSTLEDGER_DB", db_url)
    monkeypatch.delenv(ENV_PERSON_KEY, raising=False)
    monkeypatch.setenv(ENV_PERSON_KEY_FILE, str(tmp_path / "person.key"))
    monkeypatch.setenv("TRUSTLEDGER_LOG_KEY_FILE", str(tmp_path / "log.key"))
    monkeypatch.chdir(tmp_path)
    ok("init", "--new-person-key")
    ingest(tmp_path, "before.jsonl", [
        *authorities(),
        debtor(restricted_persons=PERSONS),
        debtor(subject=PERSON_ID, subject_name="张三", document_number="(2025)粤0305执7号",
               decision_date="2025-06-01", publication_date="2025-06-02"),
    ])  # fmt: skip
    ok("rulebook", "publish", "--shipped")
    ok("evaluate")
    return tmp_path


def _denied(answer: dict[str, Any]) -> dict[str, Any]:
    assert answer["status"] == "deny", answer
    (reason,) = [r for r in answer["reasons"] if r["measure"] == "no-air-travel"]
    return reason


def test_rotation_keeps_every_person_and_restriction(env: Path, db_url: str) -> None:
    before = {n: check(n) for n in (PERSON_ID, MANAGER, RESPONSIBLE, CONTROLLER)}
    assert _denied(before[PERSON_ID]).get("via") is None
    assert _denied(before[MANAGER])["via"] == {"subject": FIRM, "role": "principal_manager"}

    out = ok("keys", "rotate-person-key", "--json")
    rotation = json.loads(out)
    v1 = PersonKeyer(bytes.fromhex((env / "person.key").read_text()))
    assert (rotation["old_version"], rotation["version"]) == (1, 2)
    assert rotation["old_fingerprint"] == v1.fingerprint() != rotation["fingerprint"]
    new_file = env / "person.key.v2"
    assert stat.S_IMODE(new_file.stat().st_mode) == 0o600 and (env / "person.key").exists()
    v2 = PersonKeyer(bytes.fromhex(new_file.read_text()), 2)
    assert v2.fingerprint() == rotation["fingerprint"]
    assert v2.person_id(PERSON_ID) != v1.person_id(PERSON_ID)
    # the rotation is on record: version and fingerprint, never the key
    ((payload,),) = query(db_url, "SELECT payload FROM entries WHERE kind = 'person_key.rotated'")
    recorded = json.loads(bytes(payload))
    assert recorded == {"version": 2, "fingerprint": v2.fingerprint(), "previous_version": 1,
                        "previous_fingerprint": v1.fingerprint()}  # fmt: skip
    assert new_file.read_text().strip() not in bytes(payload).decode()
    assert links(db_url) == 0

    # a check by the old number finds the same person and the same restrictions
    for number in (PERSON_ID, MANAGER):
        after = check(number)
        assert after["subject"] == before[number]["subject"] == v1.person_id(number)
        assert _denied(after) == _denied(before[number])
    assert links(db_url) == 2
    linked = dict(query(db_url, "SELECT id, subject_id FROM person_links"))
    assert linked == {v2.person_id(PERSON_ID): v1.person_id(PERSON_ID),
                      v2.person_id(MANAGER): v1.person_id(MANAGER)}  # fmt: skip
    # idempotent: checking again writes nothing more
    check(PERSON_ID)
    check(MANAGER)
    assert links(db_url) == 2
    status = json.loads(ok("keys", "person-key-status", "--json"))
    assert status["current"] == 2
    old, new = status["versions"]
    assert (old["version"], old["fingerprint"], old["kept"]) == (1, v1.fingerprint(), True)
    assert (old["persons"], old["linked"], old["unlinked"]) == (4, 2, 2)
    assert (new["version"], new["fingerprint"], new["persons"]) == (2, v2.fingerprint(), 0)
    assert "unlinked" in ok("keys", "person-key-status")

    # a new decision naming a person known under the old key lands on their id (and links
    # them); a person first seen now gets an id under the new key
    ingest(env, "after.jsonl", [
        debtor(subject=RESPONSIBLE, subject_name="李四", document_number="(2026)粤0305执3号",
               decision_date="2026-01-05", publication_date="2026-01-06"),
        debtor(subject=LATE, subject_name="王五", document_number="(2026)粤0305执4号",
               decision_date="2026-01-05", publication_date="2026-01-06"),
    ])  # fmt: skip
    assert links(db_url) == 3
    subjects = {s for (s,) in query(db_url, "SELECT subject_id FROM records")}
    assert v1.person_id(RESPONSIBLE) in subjects and v2.person_id(RESPONSIBLE) not in subjects
    assert v2.person_id(LATE) in subjects and v1.person_id(LATE) not in subjects
    ok("evaluate")
    assert check(RESPONSIBLE)["subject"] == v1.person_id(RESPONSIBLE)
    assert check(LATE)["subject"] == v2.person_id(LATE)
    assert links(db_url) == 3
    # the ledger replays the new kinds: verify and rebuild agree
    assert cli("verify").exit_code == 0, cli("verify").output

    # v2 → v3: a person linked at v2 is found through that link, one never linked through v1
    rotation = json.loads(ok("keys", "rotate-person-key", "--json"))
    assert (rotation["old_version"], rotation["version"]) == (2, 3)
    v3 = PersonKeyer(bytes.fromhex((env / "person.key.v3").read_text()), 3)
    assert check(PERSON_ID)["subject"] == v1.person_id(PERSON_ID)
    assert check(LATE)["subject"] == v2.person_id(LATE)
    assert dict(query(db_url, "SELECT id, from_version FROM person_links WHERE version = 3")) == {
        v3.person_id(PERSON_ID): 2, v3.person_id(LATE): 2}  # fmt: skip
    # destroying v1 now: the person linked under v2 is still found, one never linked is not
    (env / "person.key").unlink()
    assert check(MANAGER)["subject"] == v1.person_id(MANAGER)  # linked at v2
    lost = check(CONTROLLER)
    assert lost["subject"] == v3.person_id(CONTROLLER) and lost["why"] == "subject unknown"
    status = json.loads(ok("keys", "person-key-status", "--json"))
    first = status["versions"][0]
    assert first["kept"] is False and first["unlinked"] == 2  # RESPONSIBLE and CONTROLLER
    assert "can no longer be found by ID number" in cli("keys", "person-key-status").output
    assert cli("verify").exit_code == 0


def test_the_api_finds_the_person_after_rotation(env: Path, db_url: str) -> None:
    from trustledger.access import create_key
    from trustledger.api import create_app
    from trustledger.settings import Settings

    store = open_store(db_url)
    try:
        key = create_key(store, "checker", "中国民用航空局", ["air_travel"])
    finally:
        store.close()
    settings = Settings(db_url=db_url, person_key_file=env / "person.key",
                        log_key_file=env / "log.key")  # fmt: skip
    headers = {"Authorization": f"Bearer {key}"}
    params = {"subject": MANAGER, "action": "air_travel", "purpose": "boarding"}

    def answers() -> list[dict[str, Any]]:
        # a server loads the keys at its start: one per key version
        with TestClient(create_app(settings, reload_interval=0.0)) as client:
            out = []
            for _ in range(2):
                response = client.get("/v1/check", params=params, headers=headers)
                assert response.status_code == 200, response.text
                out.append(response.json())
            return out

    (before, _) = answers()
    assert before["status"] == "deny"
    ok("keys", "rotate-person-key")
    for after in answers():
        # the same person: the same restriction, list and end date as before the rotation
        assert {k: v for k, v in after.items() if k not in ("known_at", "ledger_size")} == {
            k: v for k, v in before.items() if k not in ("known_at", "ledger_size")
        }
    assert links(db_url) == 1  # written once, by the first check
    assert check(MANAGER)["status"] == "deny" and links(db_url) == 1


# ── reject paths ──────────────────────────────────────────────────────────────────────


def test_rotating_with_an_unreadable_current_key_is_refused(env: Path) -> None:
    key = env / "person.key"
    key.write_text("not hex\n")
    result = cli("keys", "rotate-person-key")
    assert result.exit_code == 2 and "does not hold a hexadecimal key" in result.output
    assert not (env / "person.key.v2").exists()


def test_rotating_a_key_others_can_read_is_refused(env: Path) -> None:
    (env / "person.key").chmod(0o644)
    result = cli("keys", "rotate-person-key")
    assert result.exit_code == 2 and "readable by others" in result.output
    assert "chmod 600" in result.output and not (env / "person.key.v2").exists()


def test_rotating_over_an_existing_version_file_is_refused(env: Path, db_url: str) -> None:
    stray = env / "person.key.v2"
    stray.write_text("ab" * 32 + "\n")
    stray.chmod(0o600)
    # the stray file is read as the current key: the database expects another
    result = cli("keys", "rotate-person-key")
    assert result.exit_code == 2 and "not the one this database expects" in result.output
    assert stray.read_text() == "ab" * 32 + "\n" and links(db_url) == 0


def test_rotating_an_inline_key_is_refused(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_PERSON_KEY, (env / "person.key").read_text().strip())
    result = cli("keys", "rotate-person-key")
    assert result.exit_code == 2 and ENV_PERSON_KEY in result.output
    assert not (env / "person.key.v2").exists()


def test_rotating_without_a_key_is_refused(env: Path) -> None:
    (env / "person.key").unlink()
    result = cli("keys", "rotate-person-key")
    assert result.exit_code == 2 and "no person key" in result.output


def test_a_failed_ledger_write_leaves_no_new_key_file(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from trustledger.ledger.store import Store, StoreError

    def broken(self: Store, *args: object, **kwargs: object) -> None:
        raise StoreError("disk gone")

    monkeypatch.setattr(Store, "execute", broken)
    result = cli("keys", "rotate-person-key")
    assert result.exit_code != 0 and "disk gone" in result.output
    assert not (env / "person.key.v2").exists()


# ── the keyring itself ───────────────────────────────────────────────────────────────


@pytest.fixture
def base(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path / "person.key"


def _write(path: Path, text: str) -> None:
    path.write_text(text)
    os.chmod(path, 0o600)


def test_the_keyring_reads_every_version(base: Path) -> None:
    _write(base, "11" * 32)
    _write(person_key_path(base, 2), "22" * 32)
    _write(person_key_path(base, 3), "33" * 32)
    _write(base.with_name("person.key.vx"), "44" * 32)  # not a version: ignored
    ring = load_person_keyring({ENV_PERSON_KEY_FILE: str(base)}, base)
    assert ring.version == 3 and [k.version for k in ring.retired] == [2, 1]
    assert ring.person_id(PERSON_ID) == PersonKeyer(bytes.fromhex("33" * 32)).person_id(PERSON_ID)
    assert [v for v, _ in ring.hashes(PERSON_ID)] == [3, 2, 1]
    base.unlink()  # a destroyed retired key: the others still load
    ring = load_person_keyring({}, base)
    assert ring.version == 3 and [k.version for k in ring.retired] == [2]


@pytest.mark.parametrize(("text", "error"), [
    ("zz" * 32, "does not hold a hexadecimal key"),
    ("ab" * 16, "holds a 16-byte key; at least 32 bytes"),
    ("", "holds a 0-byte key"),
])  # fmt: skip
def test_a_bad_version_file_is_refused_by_name(base: Path, text: str, error: str) -> None:
    _write(base, "11" * 32)
    _write(person_key_path(base, 2), text)
    with pytest.raises(PersonKeyError, match=error) as exc:
        load_person_keyring({}, base)
    assert "person.key.v2" in str(exc.value)


def test_an_unreadable_version_file_is_refused(base: Path) -> None:
    _write(base, "11" * 32)
    person_key_path(base, 2).mkdir()  # unreadable as a file, even by root
    with pytest.raises(PersonKeyError, match=r"cannot read person key file .*v2"):
        load_person_keyring({}, base)


def test_missing_key_files_are_refused_with_advice(base: Path) -> None:
    with pytest.raises(PersonKeyError, match="no person key"):
        load_person_keyring({}, base)


def test_key_versions_are_checked() -> None:
    with pytest.raises(ValueError, match="start at 1"):
        person_key_path(Path("person.key"), 0)
    one = PersonKeyer(bytes(32), 2)
    with pytest.raises(ValueError, match="older than the current"):
        PersonKeyring(PersonKeyer(bytes(range(32)), 2), [one])
    assert "version=2" in repr(PersonKeyring(one)) and bytes(32).hex() not in repr(one)
