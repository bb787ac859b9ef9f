"""Due process end to end through the HTTP API: an objection upheld or a repair granted
changes the check answers within a second; too early is refused with the date; a pending
listing denies nothing; only the right principal may take each step (issue 10)."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from builders import COURT, FIRM, FIRM2, MARKET, TAX, authorities, debtor, issue, uscc
from fastapi.testclient import TestClient

from trustledger.access import create_key
from trustledger.api import create_app
from trustledger.catalogue import national_catalogue
from trustledger.evaluate.state import evaluate_all
from trustledger.ids import ENV_PERSON_KEY, ENV_PERSON_KEY_FILE, PersonKeyer
from trustledger.intake import Intake
from trustledger.ledger.store import Store, open_store
from trustledger.rulebook.publish import publish_rulebook
from trustledger.settings import Settings

KEY_BYTES = bytes(range(32))
FIRM3 = uscc("91", "440305", "MA5DA0C3")
KEYER = PersonKeyer(KEY_BYTES)
SHIPPED = Path(__file__).parent.parent / "trustledger" / "rulebooks_shipped"
PROOF = hashlib.sha256(b"proof").hexdigest()
TODAY = Settings().today()
RECENT = TODAY - timedelta(days=5)


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    s = open_store(db_url)
    s.init(KEYER.fingerprint())
    intake = Intake(s, national_catalogue(), KEYER, today=TODAY)
    lines = [
        *authorities(),
        debtor(),
        issue(subject=FIRM3, subject_name="深圳市新来有限公司", authority=MARKET,
              category="MKT-SERIOUS-DISHONEST", title="严重违法失信",
              document_number="市监严〔2025〕1号", decision_date="2025-05-28",
              publication_date="2025-06-01"),
        issue(subject=FIRM2, subject_name="北京某某", authority=MARKET,
              category="MKT-SERIOUS-DISHONEST", title="严重违法失信",
              document_number="市监严〔新〕2号", decision_date=RECENT.isoformat(),
              publication_date=RECENT.isoformat()),
    ]  # fmt: skip
    results = intake.submit_many(lines)
    assert all(r.outcome == "accepted" for r in results), results
    for name in ("cn-spc-dishonest-debtors", "cn-market-abnormal-operations"):
        publish_rulebook(s, SHIPPED / f"{name}.yaml", national_catalogue())
    evaluate_all(s, national_catalogue(), at_us=None, on=TODAY)
    yield s
    s.close()


@pytest.fixture
def keys(store: Store) -> dict[str, dict[str, str]]:
    made = {
        "firm": create_key(store, "subject", "华韵", subject=FIRM),
        "firm2": create_key(store, "subject", "北京某某", subject=FIRM2),
        "firm3": create_key(store, "subject", "新来", subject=FIRM3),
        "reviewer": create_key(store, "reviewer", "信用中心复核", authority=TAX),
        "court reviewer": create_key(store, "reviewer", "法院复核", authority=COURT),
        "checker": create_key(store, "checker", "民航、采购", ["air_travel", "public_procurement"]),
    }
    return {who: {"Authorization": f"Bearer {key}"} for who, key in made.items()}


@pytest.fixture
def client(
    store: Store, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[TestClient]:
    monkeypatch.delenv(ENV_PERSON_KEY, raising=False)
    monkeypatch.delenv(ENV_PERSON_KEY_FILE, raising=False)
    key_file = tmp_path / "person.key"
    key_file.write_text(KEY_BYTES.hex() + "\n")
    with TestClient(create_app(Settings(db_url=db_url, person_key_file=key_file),
                               reload_interval=0.0)) as c:  # fmt: skip
        yield c


def _record(store: Store, subject: str, document: str) -> str:
    rows = store.rows_where("records", "subject_id", [subject])
    return next(r.id for r in rows if r.document_number == document)


def _status(client: TestClient, hdrs: dict[str, str], subject: str, action: str,
            on: date = TODAY) -> str:  # fmt: skip
    answer = client.get(
        "/v1/check",
        headers=hdrs,
        params={"subject": subject, "action": action, "on": on.isoformat()},
    )
    assert answer.status_code == 200, answer.text
    status: str = answer.json()["status"]
    return status


def _until(client: TestClient, hdrs: dict[str, str], subject: str, action: str,
           wanted: str) -> float:  # fmt: skip
    """Seconds until the check answers ``wanted`` (fails after 2 s)."""
    start = time.perf_counter()
    while _status(client, hdrs, subject, action) != wanted:
        assert time.perf_counter() - start < 2.0, f"{subject} {action} never became {wanted}"
        time.sleep(0.01)
    return time.perf_counter() - start


def test_objection_upheld_changes_the_check_within_a_second(
    client: TestClient, keys: dict[str, dict[str, str]], store: Store
) -> None:
    assert _status(client, keys["checker"], FIRM, "air_travel") == "deny"
    record = _record(store, FIRM, "(2024)粤0305执1234号")
    filed = client.post(
        "/v1/objections",
        headers=keys["firm"],
        json={"record": record, "ground": "content", "reasons": "已全部履行", "evidence": [PROOF]},
    )
    assert filed.status_code == 201, filed.text
    objection: dict[str, Any] = filed.json()
    assert objection["status"] == "open" and objection["deadline"] > TODAY.isoformat()
    decided = client.post(f"/v1/objections/{objection['id']}/decision",
                          headers=keys["reviewer"],
                          json={"outcome": "upheld", "reasons": "履行证明属实"})  # fmt: skip
    assert decided.status_code == 200, decided.text
    assert decided.json()["status"] == "upheld" and decided.json()["notices"]
    assert _until(client, keys["checker"], FIRM, "air_travel", "allow") < 1.0
    # the subject's own file shows the objection, its decision and the notice it was sent
    mine = client.get("/v1/me", headers=keys["firm"])
    assert mine.status_code == 200, mine.text
    file = mine.json()
    assert [(o["id"], o["status"]) for o in file["objections"]] == [(objection["id"], "upheld")]
    assert file["under_objection"] == []
    assert any(n["kind"] == "objection_decided" for n in file["notices"])
    told = client.get("/v1/notices", headers=keys["firm"]).json()["notices"]
    assert [n["id"] for n in told] == [n["id"] for n in file["notices"]]
    assert client.get("/v1/notices", headers=keys["firm"],
                      params={"subject": FIRM2}).status_code == 403  # fmt: skip
    # every notice is in the access log with the principal whose decision caused it
    from trustledger.access.log import read_access_log
    from trustledger.access.principals import authenticate

    reviewer = authenticate(store, keys["reviewer"]["Authorization"].split()[1])
    assert reviewer is not None
    issued = [e for e in read_access_log(store, subject_id=FIRM, limit=1000)
              if e.action == "notice.issued"]  # fmt: skip
    assert issued and all(e.principal_id == reviewer.id for e in issued)
    again = client.post(f"/v1/objections/{objection['id']}/decision", headers=keys["reviewer"],
                        json={"outcome": "dismissed", "reasons": "改判"})  # fmt: skip
    assert again.status_code == 409 and "already decided" in again.json()["detail"]


def test_repair_too_early_is_refused_with_the_date_then_granted(
    client: TestClient, keys: dict[str, dict[str, str]], store: Store
) -> None:
    proof = {"correction": PROOF, "obligations": PROOF, "commitment": PROOF}
    recent = _record(store, FIRM2, "市监严〔新〕2号")
    early = client.post("/v1/repairs", headers=keys["firm2"], json={"record": recent, **proof})
    first = (RECENT.replace(year=RECENT.year + 1) if not (RECENT.month == 2 and RECENT.day == 29)
             else date(RECENT.year + 1, 2, 28))  # fmt: skip
    assert early.status_code == 409 and first.isoformat() in early.json()["detail"]
    # a year after its publication, FIRM3's serious record may be repaired
    assert _status(client, keys["checker"], FIRM3, "public_procurement") == "deny"
    old = _record(store, FIRM3, "市监严〔2025〕1号")
    applied = client.post("/v1/repairs", headers=keys["firm3"], json={"record": old, **proof})
    assert applied.status_code == 201, applied.text
    granted = client.post(f"/v1/repairs/{applied.json()['id']}/decision",
                          headers=keys["reviewer"],
                          json={"outcome": "granted", "reasons": "已整改，承诺已签署"})  # fmt: skip
    assert granted.status_code == 200 and granted.json()["status"] == "granted"
    assert store.get_row("records", old).status == "repaired"
    # off the list: the check allows within a second; before the grant it still denied
    assert _until(client, keys["checker"], FIRM3, "public_procurement", "allow") < 1.0
    before = TODAY - timedelta(days=1)
    assert _status(client, keys["checker"], FIRM3, "public_procurement", before) == "deny"


def test_only_the_right_principal_takes_each_step(
    client: TestClient, keys: dict[str, dict[str, str]], store: Store
) -> None:
    record = _record(store, FIRM, "(2024)粤0305执1234号")
    body = {"record": record, "ground": "content", "reasons": "有误"}
    assert client.post("/v1/objections", json=body).status_code == 401
    assert client.post("/v1/objections", headers=keys["firm2"], json=body).status_code == 403
    assert client.post("/v1/objections", headers=keys["checker"], json=body).status_code == 403
    assert client.post("/v1/objections", headers=keys["firm"],
                       json={**body, "ground": "mood"}).status_code == 422  # fmt: skip
    filed = client.post("/v1/objections", headers=keys["firm"], json=body).json()
    decision = {"outcome": "upheld", "reasons": "x"}
    path = f"/v1/objections/{filed['id']}/decision"
    assert client.post(path, headers=keys["firm"], json=decision).status_code == 403
    own = client.post(path, headers=keys["court reviewer"], json=decision)
    assert own.status_code == 403 and "own authority" in own.json()["detail"]
    assert client.post("/v1/objections/Onope/decision", headers=keys["reviewer"],
                       json=decision).status_code == 404  # fmt: skip
    # nothing was written by the refused steps: the objection is still open
    assert store.get_row("objections", filed["id"]).status == "open"


def test_a_pending_listing_denies_nothing_until_its_notice_period_ends(
    client: TestClient, keys: dict[str, dict[str, str]], store: Store, db_url: str
) -> None:
    intake = Intake(store, national_catalogue(), KEYER, today=TODAY)
    (result,) = intake.submit_many([debtor(
        subject=FIRM2, subject_name="北京某某", document_number="(2026)粤0305执8号",
        decision_date=RECENT.isoformat(), publication_date=RECENT.isoformat())])  # fmt: skip
    assert result.outcome == "accepted"
    from trustledger.evaluate.state import refresh_subjects

    refresh_subjects(store, national_catalogue(), [FIRM2], on=TODAY)
    _until(client, keys["checker"], FIRM2, "air_travel", "allow")
    later = RECENT + timedelta(days=40)
    assert _status(client, keys["checker"], FIRM2, "air_travel", later) == "deny"


def test_a_judgment_debtor_who_performs_is_removed(
    client: TestClient, keys: dict[str, dict[str, str]], store: Store
) -> None:
    court = {"Authorization": f"Bearer {create_key(store, 'issuer', '南山法院', authority=COURT)}"}
    assert _status(client, keys["checker"], FIRM, "air_travel") == "deny"
    ended = client.post("/v1/records", headers=court, json={
        "op": "end", "authority": COURT, "subject": FIRM, "category": "JUD-DEBTOR-G1",
        "target_document_number": "(2024)粤0305执1234号",
        "document_number": "(2024)粤0305执1234号之一", "effective_date": TODAY.isoformat(),
        "reason": "performed"})  # fmt: skip
    assert ended.status_code == 201, ended.text
    assert _until(client, keys["checker"], FIRM, "air_travel", "allow") < 1.0
    yesterday = TODAY - timedelta(days=1)
    assert _status(client, keys["checker"], FIRM, "air_travel", yesterday) == "deny"
