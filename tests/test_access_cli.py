"""`trustledger keys create|list|revoke`: every role with its scope, over the app layer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from builders import COURT, PERSON_ID, authorities
from typer.testing import CliRunner

from trustledger.access import authenticate
from trustledger.access.log import read_access_log
from trustledger.catalogue import national_catalogue
from trustledger.ids import ENV_PERSON_KEY, ENV_PERSON_KEY_FILE, PersonKeyer
from trustledger.intake import Intake
from trustledger.ledger.store import open_store

KEY_BYTES = bytes(range(32))
KEYER = PersonKeyer(KEY_BYTES)


def test_keys_create_list_revoke(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from trustledger.cli import app

    key_file = tmp_path / "person.key"
    key_file.write_text(KEY_BYTES.hex() + "\n")
    monkeypatch.delenv(ENV_PERSON_KEY, raising=False)
    monkeypatch.setenv(ENV_PERSON_KEY_FILE, str(key_file))
    db = f"sqlite:///{tmp_path / 'ledger.db'}"
    store = open_store(db)
    store.init(KEYER.fingerprint())
    Intake(store, national_catalogue(), KEYER).submit_many(authorities())
    runner = CliRunner()

    def run(*args: str) -> tuple[int, str]:
        result = runner.invoke(app, [*args, "--db", db])
        return result.exit_code, result.stdout

    code, issuer = run("keys", "create", "--role", "issuer", "--name", "南山法院",
                       "--authority", COURT, "--expires", "2030-01-01T00:00:00+08:00")  # fmt: skip
    assert code == 0, issuer
    code, person = run("keys", "create", "--role", "subject", "--name", "张三",
                       "--subject", PERSON_ID)  # fmt: skip
    assert code == 0, person
    found = authenticate(store, person.strip().splitlines()[0])
    assert found is not None and found.subject == KEYER.person_id(PERSON_ID)
    assert run("keys", "create", "--role", "issuer", "--name", "x")[0] == 2
    assert run("keys", "create", "--role", "root", "--name", "x")[0] == 2
    code, listed = run("keys", "list", "--json")
    assert code == 0
    rows = json.loads(listed)
    assert [(r["role"], r["name"]) for r in rows] == [("issuer", "南山法院"), ("subject", "张三")]
    assert rows[0]["authority"] == COURT and rows[0]["expires"] == "2029-12-31T16:00:00+00:00"
    assert PERSON_ID not in listed and issuer.strip() not in listed
    code, table = run("keys", "list")
    assert code == 0 and rows[0]["id"] in table
    assert run("keys", "revoke", rows[1]["id"])[0] == 0
    assert authenticate(store, person.strip().splitlines()[0]) is None
    assert run("keys", "revoke", "p_nope")[0] == 2
    assert json.loads(run("keys", "list", "--json")[1])[1]["revoked"] is True
    # a check on a person at the command line is a local read, in the access log
    run("check", PERSON_ID, "air_travel")
    (row,) = [r for r in read_access_log(store) if r.role == "local"]
    assert (row.action, row.subject_id, row.principal_id) == (
        "check",
        KEYER.person_id(PERSON_ID),
        None,
    )
    assert "user" in row.detail and PERSON_ID not in str(row.to_json())
    store.close()
