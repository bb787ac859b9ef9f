"""The HTTP API in process: keys and scopes, checks with reasons, fail-closed unknowns,
batches and their limit, resident ID numbers never echoed, problem JSON, the OpenAPI.
On SQLite and PostgreSQL."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any

import pytest
from builders import FIRM, FIRM2, PERSON_ID, authorities, debtor, issue, uscc
from fastapi import FastAPI, Header, Query
from fastapi.testclient import TestClient

from trustledger.access import ApiKeyError, authenticate, create_key
from trustledger.api import create_app
from trustledger.api.models import (
    KNOWN_AT_DOC,
    MAX_POSITION,
    MIN_POSITION_DOC,
    ON_DOC,
    PURPOSE_DOC,
    PURPOSE_PATTERN,
    SUBJECT_PATTERN,
    SUBJECT_SCHEMA,
    Day,
)
from trustledger.catalogue import national_catalogue
from trustledger.evaluate.state import evaluate_all
from trustledger.ids import ENV_PERSON_KEY, ENV_PERSON_KEY_FILE, PersonKeyer
from trustledger.intake import Intake
from trustledger.ledger.store import Store, open_store
from trustledger.ledger.tabledigest import facts_size
from trustledger.rulebook.publish import publish_rulebook
from trustledger.settings import Settings

KEY_BYTES = bytes(range(32))
KEYER = PersonKeyer(KEY_BYTES)
ON = date(2026, 11, 26)
RULEBOOKS = sorted(
    (Path(__file__).parent.parent / "trustledger" / "rulebooks_shipped").glob("*.yaml")
)
PROBLEM = "application/problem+json"


@pytest.fixture
def evaluated(db_url: str) -> Iterator[Store]:
    store = open_store(db_url)
    store.init(KEYER.fingerprint())
    intake = Intake(store, national_catalogue(), KEYER, today=ON)
    lines = [*authorities(), debtor(), issue(), debtor(subject=FIRM2, subject_name="北京某某",
             document_number="(2025)粤0305执9号", decision_date="2025-05-01",
             publication_date="2025-05-02"),
             debtor(subject=PERSON_ID, subject_name="张三", document_number="(2025)粤0305执7号",
             decision_date="2025-06-01", publication_date="2025-06-02")]  # fmt: skip
    assert all(r.outcome == "accepted" for r in intake.submit_many(lines))
    for path in RULEBOOKS:
        publish_rulebook(store, path, national_catalogue())
    evaluate_all(store, national_catalogue(), at_us=None, on=ON)
    yield store
    store.close()


@pytest.fixture
def settings(
    evaluated: Store, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    monkeypatch.delenv(ENV_PERSON_KEY, raising=False)
    monkeypatch.delenv(ENV_PERSON_KEY_FILE, raising=False)
    key_file = tmp_path / "person.key"
    key_file.write_text(KEY_BYTES.hex() + "\n")
    return Settings(db_url=db_url, person_key_file=key_file, log_key_file=tmp_path / "log.key")


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings, reload_interval=0.0)) as c:
        yield c


@pytest.fixture
def key(evaluated: Store) -> str:
    return create_key(evaluated, "checker", "中国民用航空局", ["air_travel", "star_hotel"])


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def assert_problem(response: object, status: int) -> dict[str, object]:
    from httpx import Response

    assert isinstance(response, Response)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body: dict[str, object] = response.json()
    assert body["status"] == status
    assert {"type", "title", "status", "detail"} <= set(body)
    return body


def test_keys_are_stored_only_as_hashes(evaluated: Store) -> None:
    key = create_key(evaluated, "checker", "agency", ["air_travel"])
    assert key.startswith("tlk_") and len(key) == 36
    found = authenticate(evaluated, key)
    assert found is not None and found.actions == {"air_travel"} and found.name == "agency"
    assert authenticate(evaluated, key + "x") is None
    assert authenticate(evaluated, "nonsense") is None
    rows = evaluated._query("SELECT * FROM api_keys", ())
    assert key not in json.dumps([list(map(str, r)) for r in rows])
    with pytest.raises(ApiKeyError, match="teleportation"):
        create_key(evaluated, "checker", "agency", ["teleportation"])
    with pytest.raises(ApiKeyError):
        create_key(evaluated, "checker", "agency", [])


def test_checks_need_a_key_in_scope(client: TestClient, key: str) -> None:
    params = {"subject": FIRM, "action": "air_travel"}
    body = assert_problem(client.get("/v1/check", params=params), 401)
    assert body["title"] == "Unauthorized"
    assert_problem(client.get("/v1/check", params=params, headers=bearer("tlk_" + "x" * 32)), 401)
    out_of_scope = {"subject": FIRM, "action": "public_procurement"}
    assert_problem(client.get("/v1/check", params=out_of_scope, headers=bearer(key)), 403)
    batch = {"pairs": [{"subject": FIRM, "action": "public_procurement"}]}
    assert_problem(client.post("/v1/check/batch", json=batch, headers=bearer(key)), 403)
    # the X-API-Key header works too
    ok = client.get("/v1/check", params=params, headers={"X-API-Key": key})
    assert ok.status_code == 200


def test_a_listed_debtor_is_denied_with_reasons(client: TestClient, key: str) -> None:
    response = client.get(
        "/v1/check",
        params={"subject": FIRM, "action": "air_travel", "on": ON.isoformat()},
        headers=bearer(key),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["status"], body["subject"], body["on"]) == ("deny", FIRM, ON.isoformat())
    (reason,) = body["reasons"]
    assert reason["measure"] == "no-air-travel" and reason["kind"] == "restriction"
    assert reason["list"] == "dishonest-judgment-debtors"
    assert reason["agency"] == "中国民用航空局" and len(reason["records"]) == 1


def test_an_unknown_action_is_unknown_never_allow(client: TestClient, key: str) -> None:
    response = client.get(
        "/v1/check", params={"subject": FIRM, "action": "teleportation"}, headers=bearer(key)
    )
    assert response.status_code == 200, response.text
    assert (response.json()["status"], response.json()["why"]) == ("unknown", "unknown action")


def test_batch_checks_and_its_limit(client: TestClient, key: str) -> None:
    pairs = [
        {"subject": FIRM, "action": "air_travel"},
        {"subject": FIRM2, "action": "star_hotel"},
        {"subject": FIRM, "action": "teleportation"},
    ]
    response = client.post(
        "/v1/check/batch", json={"pairs": pairs, "on": ON.isoformat()}, headers=bearer(key)
    )
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [r["status"] for r in results] == ["deny", "deny", "unknown"]
    assert [r["subject"] for r in results] == [FIRM, FIRM2, FIRM]
    too_many = {"pairs": [{"subject": FIRM, "action": "air_travel"}] * 10_001}
    body = assert_problem(client.post("/v1/check/batch", json=too_many, headers=bearer(key)), 422)
    assert "10000" in str(body["detail"])
    assert_problem(client.post("/v1/check/batch", json={"nope": 1}, headers=bearer(key)), 422)


def test_a_resident_id_number_is_hashed_and_never_echoed(client: TestClient, key: str) -> None:
    why = {"purpose": "boarding check"}
    responses = [
        client.get("/v1/check", params={"subject": PERSON_ID, "action": "air_travel",
                                        "on": ON.isoformat(), **why}, headers=bearer(key)),
        client.post("/v1/check/batch", json={"pairs": [{"subject": PERSON_ID,
                    "action": "star_hotel"}], "on": ON.isoformat(), **why}, headers=bearer(key)),
    ]  # fmt: skip
    # a checker learns the decision about a person, not the person's id
    assert responses[0].json()["subject"] is None
    assert responses[0].json()["status"] == "deny"
    assert responses[1].json()["results"][0]["status"] == "deny"
    assert KEYER.person_id(PERSON_ID) not in responses[0].text + responses[1].text
    # a malformed number (bad check character), an out-of-scope action, a bad date, no
    # purpose for a person
    bad = PERSON_ID[:-1] + ("0" if PERSON_ID[-1] != "0" else "1")
    responses += [
        client.get("/v1/check", params={"subject": bad, "action": "air_travel"},
                   headers=bearer(key)),
        client.get("/v1/check", params={"subject": PERSON_ID, "action": "public_procurement"},
                   headers=bearer(key)),
        client.get("/v1/check", params={"subject": PERSON_ID, "action": "air_travel",
                                        "on": "not-a-date"}, headers=bearer(key)),
        client.post("/v1/check/batch", json={"pairs": [{"subject": bad, "action": "air_travel"}]},
                    headers=bearer(key)),
        client.get("/v1/check", params={"subject": PERSON_ID, "action": "air_travel"},
                   headers=bearer(key)),
        client.post("/v1/check/batch", json={"pairs": [{"subject": PERSON_ID,
                    "action": "star_hotel"}]}, headers=bearer(key)),
    ]  # fmt: skip
    assert [r.status_code for r in responses] == [200, 200, 400, 403, 422, 400, 422, 422]
    for r in responses:
        assert PERSON_ID not in r.text and bad not in r.text
    for r in responses[-2:]:
        assert "purpose" in r.json()["detail"]


def test_health_reports_the_ledger(client: TestClient, evaluated: Store) -> None:
    response = client.get("/v1/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    # the index reflects the ledger's facts (its commits of rows beside it are none)
    assert body["ledger_size"] == evaluated.size()
    assert body["index_ledger_size"] == facts_size(evaluated)
    assert body["root"] == evaluated.head().root.hex()


def test_the_index_follows_the_ledger(client: TestClient, evaluated: Store, key: str) -> None:
    new = uscc("91", "440305", "MA5DA0C3")
    params = {"subject": new, "action": "air_travel", "on": ON.isoformat()}
    assert client.get("/v1/check", params=params, headers=bearer(key)).json()["why"] == (
        "subject unknown"
    )
    Intake(evaluated, national_catalogue(), KEYER, today=ON).submit(
        debtor(subject=new, subject_name="深圳市新来有限公司", document_number="(2025)粤0305执8号")
    )
    evaluate_all(evaluated, national_catalogue(), at_us=None, on=ON)
    assert client.get("/v1/check", params=params, headers=bearer(key)).json()["status"] == "deny"


def test_unknown_routes_and_the_openapi(client: TestClient) -> None:
    assert_problem(client.get("/v1/nothing"), 404)
    spec = client.get("/openapi.json").json()
    assert {"/v1/health", "/v1/check", "/v1/check/batch", "/v1/screen"} <= set(spec["paths"])
    assert {"/v1/subjects/{subject}/profile", "/v1/lists/{rulebook}/{list_id}"} <= set(
        spec["paths"]
    )
    profile = spec["paths"]["/v1/subjects/{subject}/profile"]["get"]["responses"]
    assert {"200", "401", "403", "404"} <= set(profile)
    assert PROBLEM in profile["403"]["content"]
    check = spec["paths"]["/v1/check"]["get"]["responses"]
    assert {"200", "400", "401", "403", "422"} <= set(check)
    assert PROBLEM in check["401"]["content"]
    assert "Problem" in spec["components"]["schemas"]


def test_keys_create_prints_the_key_once(evaluated: Store, db_url: str) -> None:
    from typer.testing import CliRunner

    from trustledger.cli import app

    args = ["keys", "create", "--db", db_url, "--name", "海关总署", "--actions"]
    result = CliRunner().invoke(app, [*args, "air_travel,public_procurement"])
    assert result.exit_code == 0, result.output
    key = result.stdout.strip().splitlines()[0]
    found = authenticate(evaluated, key)
    assert found is not None and found.name == "海关总署"
    assert found.actions == {"air_travel", "public_procurement"}
    bad = CliRunner().invoke(app, [*args, "teleportation"])
    assert bad.exit_code == 2


LIST = "/v1/lists/cn-spc-dishonest-debtors/dishonest-judgment-debtors"


def test_routes_need_a_key_but_the_public_view(client: TestClient) -> None:
    # published organisation profiles and lists are public (tests/test_access_matrix.py
    # holds what the public view leaves out); screening needs a key
    assert client.get(f"/v1/subjects/{FIRM}/profile").status_code == 200
    assert client.get(LIST).status_code == 200
    assert_problem(client.post("/v1/screen", json={"name": "华韵科技"}), 401)


def test_a_list_page_shows_organisations_and_withholds_persons(
    client: TestClient, key: str
) -> None:
    response = client.get(LIST, headers=bearer(key))
    assert response.status_code == 200, response.text
    body = response.json()
    assert [m["subject_id"] for m in body["members"]] == sorted([FIRM, FIRM2])
    assert body["persons_withheld"] == 1 and body["next"] is None
    (firm,) = [m for m in body["members"] if m["subject_id"] == FIRM]
    assert firm["name"] == "深圳市华韵科技有限公司" and firm["kind"] == "black"
    assert len(firm["records"]) == 1 and firm["since"]
    person = KEYER.person_id(PERSON_ID)
    assert (
        person not in response.text
        and PERSON_ID not in response.text
        and "张三" not in (response.text)
    )
    # keyset paging, most recent listing first (ties by subject id): one at a time; the
    # cursor is the listing day's digits and the subject id
    first = client.get(LIST, params={"limit": 1}, headers=bearer(key)).json()
    assert [m["subject_id"] for m in first["members"]] == [min(FIRM, FIRM2)]
    (shown,) = first["members"]
    assert first["next"] == shown["effective_from"].replace("-", "") + min(FIRM, FIRM2)
    second = client.get(
        LIST, params={"limit": 1, "after": first["next"]}, headers=bearer(key)
    ).json()
    assert [m["subject_id"] for m in second["members"]] == [max(FIRM, FIRM2)]
    assert second["next"] is None
    assert_problem(client.get(LIST, params={"limit": 0}, headers=bearer(key)), 422)
    assert_problem(client.get(LIST, params={"limit": 1001}, headers=bearer(key)), 422)
    # by division: the firms are registered in 440305 and 110108
    south = client.get(LIST, params={"division": "44"}, headers=bearer(key)).json()
    assert [m["subject_id"] for m in south["members"]] == [FIRM]
    assert south["members"][0]["division"] == "440305" and south["division"] == "44"
    assert_problem(client.get(LIST, params={"division": "4403x"}, headers=bearer(key)), 422)
    assert_problem(client.get(LIST, params={"after": "2025x"}, headers=bearer(key)), 422)
    # on a day before anyone was listed the list is empty (and the persons withheld are 0)
    before = client.get(LIST, params={"on": "2000-01-01"}, headers=bearer(key)).json()
    assert before["members"] == [] and before["persons_withheld"] == 0


def test_unknown_lists_are_not_found(client: TestClient, key: str) -> None:
    assert_problem(
        client.get("/v1/lists/nope/dishonest-judgment-debtors", headers=bearer(key)), 404
    )
    assert_problem(client.get("/v1/lists/cn-spc-dishonest-debtors/nope", headers=bearer(key)), 404)


def test_the_profile_of_an_enterprise(client: TestClient, key: str) -> None:
    response = client.get(f"/v1/subjects/{FIRM}/profile", headers=bearer(key))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["subject"] == FIRM and body["kind"] != "person"
    spc = [p for p in body["profiles"] if p["rulebook"].startswith("cn-spc-dishonest-debtors@")]
    (profile,) = spc
    assert [m["list_id"] for m in profile["lists"]] == ["dishonest-judgment-debtors"]
    assert "no-air-travel" in {m["measure_id"] for m in profile["measures"]}
    only = client.get(
        f"/v1/subjects/{FIRM}/profile",
        params={"rulebook": "cn-spc-dishonest-debtors"},
        headers=bearer(key),
    ).json()
    assert len(only["profiles"]) == 1
    assert_problem(
        client.get(f"/v1/subjects/{FIRM}/profile", params={"rulebook": "nope"},
                   headers=bearer(key)),
        404,
    )  # fmt: skip


def test_a_persons_profile_is_refused_and_unknowns_are_not_found(
    client: TestClient, key: str
) -> None:
    person = KEYER.person_id(PERSON_ID)
    for subject in (PERSON_ID, person):
        response = client.get(f"/v1/subjects/{subject}/profile", headers=bearer(key))
        body = assert_problem(response, 403)
        assert body["detail"] == "a person's file is not served to checkers"
        assert PERSON_ID not in response.text and "张三" not in response.text
    new = uscc("91", "440305", "MA5DA0C3")
    assert_problem(client.get(f"/v1/subjects/{new}/profile", headers=bearer(key)), 404)
    bad = PERSON_ID[:-1] + ("0" if PERSON_ID[-1] != "0" else "1")
    response = client.get(f"/v1/subjects/{bad}/profile", headers=bearer(key))
    assert_problem(response, 400)
    assert bad not in response.text


def test_screening_ranks_the_firm_first_for_review(
    client: TestClient, evaluated: Store, key: str
) -> None:
    query = {"name": "深圳华韵科技有限公司", "region": "440305", "limit": 5}
    response = client.post("/v1/screen", json=query, headers=bearer(key))
    assert response.status_code == 200, response.text
    candidates = response.json()["candidates"]
    assert candidates[0]["subject_id"] == FIRM
    assert all(c["outcome"] == "review" for c in candidates)
    assert {"name_similarity", "region_match"} <= set(candidates[0]["features"])
    assert KEYER.person_id(PERSON_ID) not in response.text
    # the index follows the ledger
    new = uscc("91", "440305", "MA5DA0C3")
    Intake(evaluated, national_catalogue(), KEYER, today=ON).submit(
        debtor(subject=new, subject_name="深圳市新来有限公司", document_number="(2025)粤0305执8号")
    )
    again = client.post("/v1/screen", json={"name": "深圳市新来有限公司"}, headers=bearer(key))
    assert again.json()["candidates"][0]["subject_id"] == new
    assert_problem(client.post("/v1/screen", json={"name": ""}, headers=bearer(key)), 422)
    too_many = {"name": "华韵", "limit": 51}
    assert_problem(client.post("/v1/screen", json=too_many, headers=bearer(key)), 422)


def test_an_end_is_visible_to_checks_within_a_second_without_a_rebuild(
    settings: Settings, evaluated: Store, key: str
) -> None:
    import time

    from builders import COURT

    from trustledger.evaluate.state import refresh_subjects

    params = {"subject": FIRM, "action": "air_travel", "on": ON.isoformat()}
    with TestClient(create_app(settings, reload_interval=1.0)) as c:
        assert c.get("/v1/check", params=params, headers=bearer(key)).json()["status"] == "deny"
        index = c.app.state.service.index  # type: ignore[attr-defined]
        # the court's end entry, then the re-evaluation an ingest does for the subject
        end = {"op": "end", "authority": COURT, "subject": FIRM, "category": "JUD-DEBTOR-G1",
               "target_document_number": "(2024)粤0305执1234号", "document_number": "执结1号",
               "effective_date": "2024-09-01", "reason": "performed"}  # fmt: skip
        assert Intake(evaluated, national_catalogue(), KEYER, today=ON).submit(end).subject == FIRM
        refresh_subjects(evaluated, national_catalogue(), [FIRM], on=ON)
        start = time.monotonic()
        answer = {}
        while time.monotonic() - start < 3:
            answer = c.get("/v1/check", params=params, headers=bearer(key)).json()
            if answer["status"] == "allow":
                break
            time.sleep(0.02)
        assert answer["status"] == "allow"
        assert time.monotonic() - start <= 1.2  # the one-second interval, plus a test's slack
        assert answer["ledger_size"] == facts_size(evaluated)
        # the index was patched for that subject, not rebuilt
        assert c.app.state.service.index is index  # type: ignore[attr-defined]
        other = {"subject": FIRM2, "action": "air_travel", "on": ON.isoformat()}
        assert c.get("/v1/check", params=other, headers=bearer(key)).json()["status"] == "deny"


def _slow_load(
    monkeypatch: pytest.MonkeyPatch, loaded: threading.Event, release: threading.Event
) -> list[str]:
    """Make every later index load park, after reading its rows, until ``release``; the
    names of the threads that loaded are returned as they come."""
    from trustledger.sanctions.check import CheckIndex

    original = CheckIndex.load
    loaders: list[str] = []

    def load(store: Store, *, timezone: str = "Asia/Shanghai") -> CheckIndex:
        loaders.append(threading.current_thread().name)
        index = original(store, timezone=timezone)
        loaded.set()
        assert release.wait(10), "the test never released the rebuild"
        return index

    monkeypatch.setattr(CheckIndex, "load", staticmethod(load))
    return loaders


def _wait_for(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    start = time.monotonic()
    while not condition():
        assert time.monotonic() - start < seconds, "timed out"
        time.sleep(0.01)


def _end_the_firms_record(store: Store) -> None:
    """The court's end entry for FIRM and the re-evaluation an ingest does: a one-subject
    change, patched into the index rather than rebuilt."""
    from builders import COURT

    from trustledger.evaluate.state import refresh_subjects

    end = {"op": "end", "authority": COURT, "subject": FIRM, "category": "JUD-DEBTOR-G1",
           "target_document_number": "(2024)粤0305执1234号", "document_number": "执结1号",
           "effective_date": "2024-09-01", "reason": "performed"}  # fmt: skip
    assert Intake(store, national_catalogue(), KEYER, today=ON).submit(end).subject == FIRM
    refresh_subjects(store, national_catalogue(), [FIRM], on=ON)


def _evaluate_a_new_debtor(store: Store) -> str:
    """A new debtor and a batch evaluation: every subject's state is rewritten."""
    new = uscc("91", "440305", "MA5DA0C3")
    Intake(store, national_catalogue(), KEYER, today=ON).submit(
        debtor(subject=new, subject_name="深圳市新来有限公司", document_number="(2025)粤0305执8号")
    )
    evaluate_all(store, national_catalogue(), at_us=None, on=ON)
    return new


def test_a_rebuild_in_progress_does_not_block_checks(
    client: TestClient, evaluated: Store, key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    svc = client.app.state.service  # type: ignore[attr-defined]
    # more than one changed subject is "many" here: the batch evaluation below is rebuilt
    # whole, the single subject's end is patched
    svc.FOLLOW_LIMIT = 1
    old, before = svc.index, facts_size(evaluated)
    loaded, release = threading.Event(), threading.Event()
    loaders = _slow_load(monkeypatch, loaded, release)
    new = _evaluate_a_new_debtor(evaluated)
    after = facts_size(evaluated)

    def check(subject: str) -> dict[str, Any]:
        params = {"subject": subject, "action": "air_travel", "on": ON.isoformat()}
        response = client.get("/v1/check", params=params, headers=bearer(key))
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        return answer

    try:
        start = time.monotonic()
        # this check notices the change and starts the rebuild; the old index answers it
        assert (check(new)["why"], check(new)["ledger_size"]) == ("subject unknown", before)
        assert loaded.wait(5)
        # the rebuild has read its rows and is parked: checks are still answered, at once,
        # from the old index and with its ledger position
        assert (check(new)["status"], check(new)["ledger_size"]) == ("unknown", before)
        assert check(FIRM)["status"] == "deny"
        health = client.get("/v1/health").json()
        assert (health["stale"], health["index_error"]) == (True, None)
        assert health["index_ledger_size"] == before
        assert time.monotonic() - start < 5
        assert svc.index is old
        # one rebuild at a time, off the event loop's thread
        assert loaders == ["check-index-rebuild"]
        # a one-subject change while the rebuild runs: newer than the rows it read
        _end_the_firms_record(evaluated)
    finally:
        release.set()
    _wait_for(lambda: svc.index is not old)
    rebuilt = svc.index
    assert rebuilt.ledger_size == after  # the rows the rebuild read
    answer = check(new)
    # the end arrived during the rebuild and is not lost: the state is looked at again
    # after the swap and the subject patched into the new index
    assert (answer["status"], answer["ledger_size"]) == ("deny", facts_size(evaluated))
    answer = check(FIRM)
    assert (answer["status"], answer["ledger_size"]) == ("allow", facts_size(evaluated))
    assert svc.index is rebuilt and len(loaders) == 1
    health = client.get("/v1/health").json()
    assert (health["stale"], health["index_error"]) == (False, None)
    assert health["index_ledger_size"] == facts_size(evaluated)


def test_a_failed_rebuild_is_logged_and_the_old_index_keeps_serving(
    client: TestClient,
    evaluated: Store,
    key: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from trustledger.sanctions.check import CheckIndex

    svc = client.app.state.service  # type: ignore[attr-defined]
    svc.FOLLOW_LIMIT = 1
    old, before = svc.index, facts_size(evaluated)

    def broken(store: Store, *, timezone: str = "Asia/Shanghai") -> CheckIndex:
        raise RuntimeError("the state tables are unreadable")

    monkeypatch.setattr(CheckIndex, "load", staticmethod(broken))
    new = _evaluate_a_new_debtor(evaluated)
    params = {"subject": new, "action": "air_travel", "on": ON.isoformat()}
    with caplog.at_level(logging.ERROR, logger="trustledger.app.checks_service"):
        assert client.get("/v1/check", params=params, headers=bearer(key)).status_code == 200
        _wait_for(lambda: svc.index_error is not None)
    (record,) = [r for r in caplog.records if r.name == "trustledger.app.checks_service"]
    assert record.exc_info is not None and "unreadable" in str(record.exc_info[1])
    health = client.get("/v1/health")
    assert health.status_code == 200
    assert (health.json()["stale"], health.json()["index_ledger_size"]) == (True, before)
    assert "RuntimeError" in health.json()["index_error"]
    # the previous index keeps answering, with its own ledger position
    for _ in range(3):
        answer = client.get("/v1/check", params=params, headers=bearer(key)).json()
        assert (answer["why"], answer["ledger_size"]) == ("subject unknown", before)
    assert svc.index is old
    # once the state can be read again, the retry brings the index up to date
    monkeypatch.undo()
    svc.retry_at = 0.0
    client.get("/v1/check", params=params, headers=bearer(key))
    _wait_for(lambda: svc.index is not old)
    answer = client.get("/v1/check", params=params, headers=bearer(key)).json()
    assert (answer["status"], answer["ledger_size"]) == ("deny", facts_size(evaluated))
    health = client.get("/v1/health").json()
    assert (health["stale"], health["index_error"]) == (False, None)


def test_the_check_publishes_the_parameters_its_declarations_would(client: TestClient) -> None:
    """GET /v1/check reads its request by hand; its published parameters are still the ones
    FastAPI derives from the declarations below."""
    reference = FastAPI()

    @reference.get("/v1/check")
    async def check(
        subject: Annotated[
            str,
            Query(
                min_length=1,
                max_length=64,
                pattern=SUBJECT_PATTERN,
                json_schema_extra=SUBJECT_SCHEMA,
                description="USCC, resident ID number (hashed on arrival) or person id.",
            ),
        ],
        action: Annotated[str, Query(min_length=1, max_length=64)],
        known_at: Annotated[datetime | None, Query(description=KNOWN_AT_DOC)] = None,
        on: Annotated[Day | None, Query(description=ON_DOC)] = None,
        purpose: Annotated[
            str | None,
            Query(min_length=1, max_length=200, pattern=PURPOSE_PATTERN, description=PURPOSE_DOC),
        ] = None,
        min_position: Annotated[
            int | None, Query(ge=0, le=MAX_POSITION, description=MIN_POSITION_DOC)
        ] = None,
        authorization: Annotated[str | None, Header()] = None,
        x_api_key: Annotated[str | None, Header()] = None,
    ) -> None: ...

    expected = reference.openapi()["paths"]["/v1/check"]["get"]["parameters"]
    published = client.get("/openapi.json").json()["paths"]["/v1/check"]["get"]
    assert published["parameters"] == expected
    assert (published["operationId"], published["summary"]) == ("check_v1_check_get", "Check")
    assert published["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/CheckResult"
    }


NOT_A_DAY = "Value error, a day is written as text, YYYY-MM-DD"


def test_check_parameters_are_refused_as_declared(client: TestClient, key: str) -> None:
    day = {"subject": FIRM, "action": "air_travel"}
    cases: list[tuple[dict[str, str], str]] = [
        ({}, "query.subject: Field required; query.action: Field required"),
        ({"subject": ""}, "query.subject: String should have at least 1 character; "
                          "query.action: Field required"),
        ({"subject": "x" * 65, "action": "air_travel"},
         "query.subject: String should have at most 64 characters"),
        ({"subject": FIRM, "action": ""}, "query.action: String should have at least 1 character"),
        # days are text, YYYY-MM-DD: not a number of seconds, not a word
        ({**day, "on": "not-a-date"}, f"query.on: {NOT_A_DAY}"),
        ({**day, "on": ""}, f"query.on: {NOT_A_DAY}"),
        ({**day, "on": "0"}, f"query.on: {NOT_A_DAY}"),
        ({"subject": FIRM, "action": "x" * 65, "on": "2026-02-30"},
         "query.action: String should have at most 64 characters; query.on: Input should be a "
         "valid date or datetime, day value is outside expected range"),
    ]  # fmt: skip
    for params, detail in cases:
        response = client.get("/v1/check", params=params, headers=bearer(key))
        assert assert_problem(response, 422)["detail"] == detail, params
    # the key is judged before the parameters, and a date with a zero time is a date
    assert_problem(client.get("/v1/check"), 401)
    assert_problem(client.get("/v1/check", headers={"Authorization": "Basic abc"}), 401)
    ok = client.get("/v1/check", params={**day, "on": "2026-11-26T00:00:00"}, headers=bearer(key))
    assert (ok.status_code, ok.json()["on"]) == (200, "2026-11-26")
    assert ok.headers["content-type"] == "application/json"
    # a repeated parameter: the last one counts
    twice = client.get(f"/v1/check?subject=x&subject={FIRM}&action=air_travel", headers=bearer(key))
    assert (twice.status_code, twice.json()["subject"]) == (200, FIRM)


def test_a_whole_re_evaluation_without_new_entries_is_followed(
    settings: Settings, evaluated: Store, key: str
) -> None:
    """Evaluating again changes no row count and no ledger position; the index still
    follows it (the state's generation counter moves) and is replaced whole. The state
    holds exact intervals, so the answers for any day are the same before and after: the
    firm's ground-1 listing has no fixed end (SPC art. 2: until performance), and it was not
    yet published on 2024-03-01."""
    from datetime import date

    params = {"subject": FIRM, "action": "air_travel", "on": ON.isoformat()}
    earlier = {**params, "on": "2024-03-01"}  # the record is published on 2024-03-05
    with TestClient(create_app(settings, reload_interval=0.0)) as c:
        svc = c.app.state.service  # type: ignore[attr-defined]
        assert c.get("/v1/check", params=params, headers=bearer(key)).json()["status"] == "deny"
        assert c.get("/v1/check", params=earlier, headers=bearer(key)).json()["status"] == "allow"
        index, generation = svc.index, svc.signature.generation
        evaluate_all(evaluated, national_catalogue(), at_us=None, on=date(2027, 4, 1))
        _wait_for(lambda: c.get("/v1/check", params=params, headers=bearer(key)) is not None
                  and svc.index is not index)  # fmt: skip
        assert svc.signature.generation == generation + 1
        assert c.get("/v1/check", params=params, headers=bearer(key)).json()["status"] == "deny"
        assert c.get("/v1/check", params=earlier, headers=bearer(key)).json()["status"] == "allow"


def test_an_entry_without_re_evaluation_makes_the_subject_unknown(
    client: TestClient, evaluated: Store, key: str
) -> None:
    from builders import COURT

    from trustledger.evaluate.state import refresh_subjects
    from trustledger.sanctions.check import BEHIND

    params = {"subject": FIRM, "action": "air_travel", "on": ON.isoformat()}
    end = {"op": "end", "authority": COURT, "subject": FIRM, "category": "JUD-DEBTOR-G1",
           "target_document_number": "(2024)粤0305执1234号", "document_number": "执结1号",
           "effective_date": "2024-09-01", "reason": "performed"}  # fmt: skip
    assert Intake(evaluated, national_catalogue(), KEYER, today=ON).submit(end).subject == FIRM
    answer = client.get("/v1/check", params=params, headers=bearer(key)).json()
    assert (answer["status"], answer["why"]) == ("unknown", BEHIND)
    refresh_subjects(evaluated, national_catalogue(), [FIRM], on=ON)
    answer = client.get("/v1/check", params=params, headers=bearer(key)).json()
    assert answer["status"] == "allow"


def test_known_at_and_on_are_taken_and_echoed(client: TestClient, key: str) -> None:
    """Both time axes, named the same on every route that takes time: ``known_at`` (ledger
    time; default now) and ``on`` (the legal day; default today), echoed in the answers."""
    from datetime import datetime as dt

    params = {"subject": FIRM, "action": "air_travel", "on": ON.isoformat()}
    live = client.get("/v1/check", params=params, headers=bearer(key)).json()
    assert (live["status"], live["on"]) == ("deny", ON.isoformat())
    assert abs(dt.fromisoformat(live["known_at"]).timestamp() - time.time()) < 60
    # as known before anything was appended: the subject did not exist yet (fail closed)
    before = client.get("/v1/check", params={**params, "known_at": "2001-01-01T00:00:00+08:00"},
                        headers=bearer(key)).json()  # fmt: skip
    assert (before["status"], before["why"]) == ("unknown", "subject unknown")
    assert dt.fromisoformat(before["known_at"]) == dt.fromisoformat("2001-01-01T00:00:00+08:00")
    # a bare date is the end of that day; a later instant than now is now (the live answer)
    future = client.get("/v1/check", params={**params, "known_at": "2999-01-01"},
                        headers=bearer(key)).json()  # fmt: skip
    assert future["status"] == "deny"
    batch = client.post("/v1/check/batch", headers=bearer(key), json={
        "pairs": [{"subject": FIRM, "action": "air_travel"}], "on": ON.isoformat(),
        "known_at": "2001-01-01"}).json()  # fmt: skip
    assert dt.fromisoformat(batch["known_at"]) == dt.fromisoformat(
        "2001-01-01T23:59:59.999999+08:00"
    )
    assert [r["status"] for r in batch["results"]] == ["unknown"]
    profile = client.get(f"/v1/subjects/{FIRM}/profile", params={"on": ON.isoformat()},
                         headers=bearer(key)).json()  # fmt: skip
    assert profile["on"] == ON.isoformat() and "known_at" in profile
    assert all(p["on"] == ON.isoformat() for p in profile["profiles"])
    gone = client.get(f"/v1/subjects/{FIRM}/profile", params={"known_at": "2001-01-01"},
                      headers=bearer(key))  # fmt: skip
    assert_problem(gone, 404)
    assert_problem(client.get("/v1/check", params={**params, "known_at": "yesterday"},
                              headers=bearer(key)), 422)  # fmt: skip
