"""Commendations of persons (issue 12 item 4): recorded only from a government body's
commendation decision in a commendation category (every other way refused, nothing
stored); shown publicly only while the person consents, only what they chose, never the ID
number or its hash; consent given and withdrawn by the person alone, each a ledger entry;
no list, no score, no open data. On SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from builders import COURT, FIRM, MARKET, authorities, issue, resident_id, uscc
from fastapi.testclient import TestClient
from portal_site import check_structure

from trustledger.access import create_key
from trustledger.app import exports
from trustledger.app.context import Context
from trustledger.catalogue import CatalogueError, national_catalogue, parse_catalogue
from trustledger.evaluate.state import evaluate_all
from trustledger.ids import ENV_PERSON_KEY, ENV_PERSON_KEY_FILE, PersonKeyer
from trustledger.intake import Intake
from trustledger.ledger.store import Store, open_store
from trustledger.ledger.tabledigest import facts_size
from trustledger.ledger.verify import verify
from trustledger.portal.routes.me import COOKIE
from trustledger.portal.server import create_server
from trustledger.rulebook.publish import publish_rulebook
from trustledger.settings import Settings

KEY_BYTES = bytes(range(32))
KEYER = PersonKeyer(KEY_BYTES)
TODAY = Settings().today()
CIVIL = uscc("11", "440305", "00000011")  # a district civil affairs bureau
HEALTH = uscc("11", "440300", "00000012")  # a municipal health commission
VOLUNTEER = resident_id(seq="321")
OTHER = resident_id(seq="654")
PERSON = KEYER.person_id(VOLUNTEER)
SHIPPED = Path(__file__).parent.parent / "trustledger" / "rulebooks_shipped"
NAME = "志愿者小林"
VOL_DOC = "深南民表〔2025〕3号"


def commendation(**fields: Any) -> dict[str, Any]:
    return issue(**{
        "authority": CIVIL, "category": "HON-PERSON-VOLUNTEER", "subject": VOLUNTEER,
        "subject_name": "林某", "decision_type": "commendation", "document_number": VOL_DOC,
        "decision_date": "2025-03-05", "publication_date": "2025-03-05",
        "title": "优秀志愿者", "amount_cny": None, **fields,
    })  # fmt: skip


def government() -> list[dict[str, Any]]:
    return [
        *authorities(),
        {"op": "authority", "id": CIVIL, "name": "深圳市南山区民政局",
         "authority_type": "civil_affairs"},
        {"op": "authority", "id": HEALTH, "name": "深圳市卫生健康委员会",
         "authority_type": "health"},
    ]  # fmt: skip


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    s = open_store(db_url)
    s.init(KEYER.fingerprint())
    intake = Intake(s, national_catalogue(), KEYER, today=TODAY)
    lines = [
        *government(),
        commendation(),
        commendation(authority=HEALTH, category="HON-PERSON-BLOOD-DONATION",
                     document_number="深卫献表〔2025〕8号", title="无偿献血奉献奖金奖"),
        # a penalty about the same person: never a commendation, never public
        issue(subject=VOLUNTEER, subject_name="林某", authority=MARKET,
              category="MKT-PENALTY-GENERAL", document_number="深市监罚〔2025〕9号",
              decision_date="2025-02-01", publication_date="2025-02-02"),
        commendation(subject=OTHER, document_number="深南民表〔2025〕4号"),
    ]  # fmt: skip
    results = intake.submit_many(lines)
    assert all(r.outcome == "accepted" for r in results), results
    yield s
    s.close()


def _intake(store: Store) -> Intake:
    return Intake(store, national_catalogue(), KEYER, today=TODAY)


# --- the catalogue ------------------------------------------------------------------------
def test_the_commendation_categories_rest_on_government_bodies_and_the_law() -> None:
    catalogue = national_catalogue()
    codes = [c.code for c in catalogue if c.commends_persons]
    assert codes == ["HON-PERSON-VOLUNTEER", "HON-PERSON-BLOOD-DONATION", "HON-PERSON-CHARITY"]
    for code in codes:
        category = catalogue.get(code)
        assert category is not None
        assert category.polarity == "positive" and category.subject_kinds == ["person"]
        assert "court" not in category.authorities and "monitoring" not in category.authorities
        assert category.legal_basis
    # the national catalogue has no other positive category about persons
    assert [c.code for c in catalogue if c.concerns_persons and c.polarity == "positive"] == codes


_CATEGORY = """
id: t
title: t
version: "1"
categories:
  - code: HON-X
    title: A commendation
    title_zh: 表彰
    description: A commendation.
    domain: honours
    polarity: {polarity}
    default_tier: general
    subject_kinds: {kinds}
    authorities: {authorities}
    commends_persons: {commends}
    legal_basis:
      - instrument: Volunteer Service Regulations
        article: "34"
"""


@pytest.mark.parametrize(("polarity", "kinds", "authorities_", "commends", "says"), [
    ("negative", "[person]", "[civil_affairs]", "true", "positive polarity"),
    ("positive", "[person, enterprise]", "[civil_affairs]", "true", "persons only"),
    ("positive", "[person]", "[civil_affairs, court]", "true", "not court"),
])  # fmt: skip
def test_a_commendation_category_out_of_bounds_is_refused(
    polarity: str, kinds: str, authorities_: str, commends: str, says: str
) -> None:
    text = _CATEGORY.format(polarity=polarity, kinds=kinds, authorities=authorities_,
                            commends=commends)  # fmt: skip
    with pytest.raises(CatalogueError, match=says):
        parse_catalogue(text)


# --- intake: every reject path, nothing stored -------------------------------------------
@pytest.mark.parametrize(("line", "says"), [
    # a commendation decision about a person outside a commendation category
    (issue(subject=VOLUNTEER, subject_name="林某", authority=MARKET,
           category="MKT-PENALTY-GENERAL", decision_type="commendation",
           document_number="深市监表〔2025〕1号"),
     "decision_type: a commendation of a person is recorded only in a category of "
     "commendations of persons, not in MKT-PENALTY-GENERAL"),
    # a commendation category resting on anything but a commendation decision
    (commendation(decision_type="court_judgment", document_number="X1"),
     "decision_type: category HON-PERSON-VOLUNTEER records a commendation of a person; it "
     "rests on a commendation decision, not court_judgment"),
    (commendation(decision_type="administrative_penalty", document_number="X2"),
     "not administrative_penalty"),
    (commendation(decision_type="administrative_decision", document_number="X3"),
     "not administrative_decision"),
    # a person's record resting on an administrative decision, as before
    (issue(subject=VOLUNTEER, subject_name="林某", authority=MARKET,
           category="MKT-PENALTY-GENERAL", decision_type="administrative_decision",
           document_number="X4"),
     "must rest on a final court judgment or administrative penalty decision"),
    # a commendation of persons is about persons only
    (commendation(subject=FIRM, subject_name="深圳市华韵科技有限公司", document_number="X5"),
     "does not concern subjects of kind enterprise"),
    # only a government body of a type the category allows: not a court, not a regulator
    # of another field, not an authority never registered
    (commendation(authority=COURT, document_number="X6"),
     f"authority: {COURT} (court) may not issue HON-PERSON-VOLUNTEER"),
    (commendation(authority=MARKET, document_number="X7"),
     "(market_regulation) may not issue HON-PERSON-VOLUNTEER"),
    (commendation(authority=HEALTH, document_number="X8"),
     "(health) may not issue HON-PERSON-VOLUNTEER"),
    (commendation(authority=uscc("11", "440305", "00000099"), document_number="X9"),
     "is not a registered issuing authority"),
])  # fmt: skip
def test_every_way_of_recording_a_commendation_wrongly_is_refused(
    store: Store, line: dict[str, Any], says: str
) -> None:
    size = store.size()
    result = _intake(store).submit(line)
    assert result.outcome == "rejected" and says in (result.reason or ""), result
    assert VOLUNTEER not in (result.reason or "")
    assert store.size() == size


def test_a_commendation_is_recorded_from_a_government_decision(store: Store) -> None:
    records = store.rows_where("records", "subject_id", [PERSON])
    assert {(r.category, r.decision_type) for r in records} == {
        ("HON-PERSON-VOLUNTEER", "commendation"),
        ("HON-PERSON-BLOOD-DONATION", "commendation"),
        ("MKT-PENALTY-GENERAL", "administrative_penalty"),
    }
    # a people's government itself may commend too
    gov = uscc("11", "440305", "00000013")
    results = _intake(store).submit_many([
        {"op": "authority", "id": gov, "name": "深圳市南山区人民政府",
         "authority_type": "peoples_government"},
        commendation(authority=gov, category="HON-PERSON-CHARITY",
                     document_number="深南府〔2025〕1号"),
    ])  # fmt: skip
    assert [r.outcome for r in results] == ["accepted", "accepted"]


def test_a_commendation_counts_toward_no_list(store: Store) -> None:
    for path in sorted(SHIPPED.glob("*.yaml")):
        publish_rulebook(store, path, national_catalogue())
    evaluate_all(store, national_catalogue(), at_us=None, on=TODAY)
    other = KEYER.person_id(OTHER)  # commended and nothing else
    assert store.query("SELECT count(*) FROM state_lists WHERE subject_id = ?", (other,)) == [(0,)]
    assert store.query("SELECT count(*) FROM state_measures WHERE subject_id = ?",
                       (other,)) == [(0,)]  # fmt: skip
    for (lists,) in store.query("SELECT lists FROM state_profiles WHERE subject_id = ?", (other,)):
        assert json.loads(lists) == []


# --- consent, the public list, the person's file ------------------------------------------
@pytest.fixture
def keys(store: Store) -> dict[str, dict[str, str]]:
    made = {
        "person": create_key(store, "subject", "林某", subject=PERSON),
        "other": create_key(store, "subject", "另一位", subject=KEYER.person_id(OTHER)),
        "firm": create_key(store, "subject", "华韵", subject=FIRM),
        "operator": create_key(store, "operator", "信用中心"),
        "checker": create_key(store, "checker", "采购", ["public_procurement"]),
    }
    return {who: {"Authorization": f"Bearer {key}"} for who, key in made.items()}


@pytest.fixture
def settings(
    store: Store, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    monkeypatch.delenv(ENV_PERSON_KEY, raising=False)
    monkeypatch.delenv(ENV_PERSON_KEY_FILE, raising=False)
    key_file = tmp_path / "person.key"
    key_file.write_text(KEY_BYTES.hex() + "\n")
    return Settings(db_url=db_url, person_key_file=key_file,
                    open_data_dir=tmp_path / "open-data")  # fmt: skip


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_server(settings, reload_interval=0.0)) as c:
        yield c


def _record(store: Store, category: str, subject: str = PERSON) -> str:
    rows = store.rows_where("records", "subject_id", [subject])
    return str(next(r.id for r in rows if r.category == category))


def _public(client: TestClient) -> list[dict[str, Any]]:
    answer = client.get("/v1/commendations")
    assert answer.status_code == 200
    found: list[dict[str, Any]] = answer.json()["commendations"]
    return found


def _never_the_person(text: str, store: Store) -> None:
    assert VOLUNTEER not in text and PERSON not in text
    for record in store.rows_where("records", "subject_id", [PERSON]):
        assert record.id not in text


def test_without_consent_nothing_about_the_person_is_public(
    client: TestClient, store: Store
) -> None:
    assert _public(client) == []
    page = client.get("/commendations")
    assert page.status_code == 200 and "No person has consented" in page.text
    check_structure(page.text)
    assert client.get(f"/entities/{PERSON}").status_code == 404
    assert client.get(f"/v1/subjects/{PERSON}/profile").status_code == 403
    for text in (page.text, client.get("/v1/commendations").text):
        _never_the_person(text, store)
        assert VOL_DOC not in text


def test_consent_publishes_only_what_the_person_chose_until_withdrawn(
    client: TestClient, store: Store, keys: dict[str, dict[str, str]]
) -> None:
    record = _record(store, "HON-PERSON-VOLUNTEER")
    size = store.size()
    given = client.post(f"/v1/me/commendations/{record}/consent", headers=keys["person"],
                        json={"display_name": NAME, "shown": ["authority"]})  # fmt: skip
    assert given.status_code == 201, given.text
    assert given.json()["status"] == "given" and given.json()["shown"] == ["authority"]
    assert store.size() == size + 1
    (entry,) = [store.entry(seq) for seq in range(size, size + 1)]
    assert entry is not None and entry.kind == "consent.given"
    assert _public(client) == [{
        "display_name": NAME, "category": "HON-PERSON-VOLUNTEER",
        "category_title": "Commendation for volunteer service",
        "category_title_zh": "志愿服务表彰奖励",
        "authority": "深圳市南山区民政局", "document_number": None, "decision_date": None,
    }]  # fmt: skip
    page = client.get("/commendations").text
    assert NAME in page and "深圳市南山区民政局" in page and VOL_DOC not in page
    for text in (page, client.get("/v1/commendations").text):
        _never_the_person(text, store)
    # the person's other records stay out of every public view
    assert "深市监罚" not in page and "深卫献表" not in page
    # a new consent replaces the one in force: now with the document number and date too
    again = client.post(f"/v1/me/commendations/{record}/consent", headers=keys["person"],
                        json={"display_name": NAME, "shown": ["decision_date",
                                                               "document_number"]})  # fmt: skip
    assert again.status_code == 201
    (shown,) = _public(client)
    assert (shown["authority"], shown["document_number"], shown["decision_date"]) == (
        None, VOL_DOC, "2025-03-05")  # fmt: skip
    # withdrawn: in no public view from the next one on
    withdrawn = client.delete(f"/v1/me/commendations/{record}/consent", headers=keys["person"])
    assert withdrawn.status_code == 200 and withdrawn.json()["status"] == "withdrawn"
    assert withdrawn.json()["display_name"] is None
    assert _public(client) == []
    assert NAME not in client.get("/commendations").text
    kinds = [e.kind for e in (store.entry(s) for s in range(size, store.size())) if e]
    assert kinds == ["consent.given", "consent.given", "consent.withdrawn"]
    # the ledger still verifies: the projection replays from the entries alone
    assert verify(store).ok


def test_the_persons_file_shows_each_commendation_with_its_consent(
    client: TestClient, store: Store, keys: dict[str, dict[str, str]]
) -> None:
    record = _record(store, "HON-PERSON-BLOOD-DONATION")
    client.post(f"/v1/me/commendations/{record}/consent", headers=keys["person"],
                json={"display_name": "献血者", "shown": []})  # fmt: skip
    mine = client.get("/v1/me", headers=keys["person"]).json()
    by_category = {c["category"]: c for c in mine["commendations"]}
    assert set(by_category) == {"HON-PERSON-VOLUNTEER", "HON-PERSON-BLOOD-DONATION"}
    assert by_category["HON-PERSON-VOLUNTEER"]["consent"] is None
    assert by_category["HON-PERSON-BLOOD-DONATION"]["consent"]["display_name"] == "献血者"
    # a firm's file has no commendations to consent to
    assert client.get("/v1/me", headers=keys["firm"]).json()["commendations"] == []


def test_every_way_of_consenting_wrongly_is_refused_and_writes_nothing(
    client: TestClient, store: Store, keys: dict[str, dict[str, str]]
) -> None:
    record = _record(store, "HON-PERSON-VOLUNTEER")
    penalty = _record(store, "MKT-PENALTY-GENERAL")
    others = _record(store, "HON-PERSON-VOLUNTEER", KEYER.person_id(OTHER))
    body = {"display_name": NAME, "shown": []}
    size = store.size()
    cases: list[tuple[str, str, dict[str, str], dict[str, Any] | None, int, str]] = [
        ("POST", record, {}, body, 401, "API key"),
        ("POST", record, keys["checker"], body, 403, "may not use"),
        # an operator may not consent for the person
        ("POST", record, keys["operator"], body, 403, "may not use"),
        # another subject's commendation: as if it did not exist
        ("POST", others, keys["person"], body, 404, "no record"),
        ("POST", record, keys["firm"], body, 404, "no record"),
        ("POST", "Rdoesnotexist", keys["person"], body, 404, "no record"),
        # only a commendation may be published
        ("POST", penalty, keys["person"], body, 409, "not a commendation of a person"),
        # never an ID number, not even the person's own, as the name shown
        ("POST", record, keys["person"], {"display_name": f"林 {VOLUNTEER}"}, 422,
         "resident ID number"),
        ("POST", record, keys["person"], {"display_name": ""}, 422, "display_name"),
        ("POST", record, keys["person"], {"display_name": "x" * 61}, 422, "display_name"),
        ("POST", record, keys["person"], {"display_name": "a\u200bb"}, 422, "format"),
        ("POST", record, keys["person"], {"display_name": NAME, "shown": ["subject"]}, 422,
         "shown"),
        ("POST", record, keys["person"], {"display_name": NAME, "title": "x"}, 422, "title"),
        # nothing to withdraw
        ("DELETE", record, keys["person"], None, 404, "no consent"),
        ("DELETE", record, keys["operator"], None, 403, "may not use"),
    ]  # fmt: skip
    for method, target, hdrs, json_body, status, says in cases:
        path = f"/v1/me/commendations/{target}/consent"
        answer = client.request(method, path, headers=hdrs, json=json_body)
        assert answer.status_code == status, (method, target, json_body, answer.text)
        assert says in answer.text, (says, answer.text)
        assert VOLUNTEER not in answer.text
    assert store.size() == size
    # the same consent twice; a withdrawal of one withdrawn
    assert client.post(f"/v1/me/commendations/{record}/consent", headers=keys["person"],
                       json=body).status_code == 201  # fmt: skip
    twice = client.post(f"/v1/me/commendations/{record}/consent", headers=keys["person"],
                        json=body)  # fmt: skip
    assert twice.status_code == 409 and "already given" in twice.text
    assert client.delete(f"/v1/me/commendations/{record}/consent",
                         headers=keys["person"]).status_code == 200  # fmt: skip
    size = store.size()
    again = client.delete(f"/v1/me/commendations/{record}/consent", headers=keys["person"])
    assert again.status_code == 409 and "is not given" in again.text
    assert store.size() == size


def test_a_revoked_commendation_leaves_the_public_list(
    client: TestClient, store: Store, keys: dict[str, dict[str, str]]
) -> None:
    record = _record(store, "HON-PERSON-VOLUNTEER")
    client.post(f"/v1/me/commendations/{record}/consent", headers=keys["person"],
                json={"display_name": NAME, "shown": []})  # fmt: skip
    assert len(_public(client)) == 1
    revoked = _intake(store).submit({
        "op": "revoke", "authority": CIVIL, "record": record, "document_number": "撤〔2025〕1号",
        "effective_date": TODAY.isoformat(), "reason": "表彰决定撤销"})  # fmt: skip
    assert revoked.outcome == "accepted", revoked
    assert _public(client) == []
    size = store.size()
    refused = client.post(f"/v1/me/commendations/{record}/consent", headers=keys["person"],
                          json={"display_name": "新名", "shown": []})  # fmt: skip
    assert refused.status_code == 409 and "revoked" in refused.text
    assert store.size() == size


def test_consent_entries_are_withheld_from_the_public_ledger(
    client: TestClient, store: Store, keys: dict[str, dict[str, str]]
) -> None:
    record = _record(store, "HON-PERSON-VOLUNTEER")
    seq = store.size()
    client.post(f"/v1/me/commendations/{record}/consent", headers=keys["person"],
                json={"display_name": NAME, "shown": []})  # fmt: skip
    proof = client.get("/v1/ledger/proof/inclusion", params={"seq": seq}).json()
    assert proof["withheld"] is True and proof["entry"] is None


def test_open_data_stays_person_free_with_consent(
    client: TestClient, store: Store, keys: dict[str, dict[str, str]], settings: Settings,
    tmp_path: Path,
) -> None:  # fmt: skip
    record = _record(store, "HON-PERSON-VOLUNTEER")
    client.post(f"/v1/me/commendations/{record}/consent", headers=keys["person"],
                json={"display_name": NAME, "shown": ["authority", "document_number"]})  # fmt: skip
    out = tmp_path / "cut"
    with Context.open(settings) as ctx:
        exports.export(ctx, None, out)
    for path in out.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            for needle in (NAME, VOL_DOC, PERSON, VOLUNTEER):
                assert needle.encode() not in data, (path.name, needle)


# --- the portal: the consent form on /me ----------------------------------------------------
def test_the_person_consents_and_withdraws_on_their_file_page(
    client: TestClient, store: Store, keys: dict[str, dict[str, str]]
) -> None:
    key = keys["person"]["Authorization"].removeprefix("Bearer ")
    client.cookies.set(COOKIE, key, path="/me")
    page = client.get("/me").text
    check_structure(page)
    assert "Your commendations" in page
    record = _record(store, "HON-PERSON-VOLUNTEER")
    assert f'<option value="{record}"' in page
    size = facts_size(store)  # no fact is written (reads commit the access log beside it)
    # the form names each missing field and writes nothing
    missing = client.post("/me/commendations/consent", data={"record": "", "display_name": " "})
    assert missing.status_code == 422
    assert 'id="record-error"' in missing.text and 'id="display_name-error"' in missing.text
    bad = client.post("/me/commendations/consent", data={
        "record": record, "display_name": NAME, "shown": ["subject"]})  # fmt: skip
    assert bad.status_code == 422 and 'id="shown-error"' in bad.text
    penalty = client.post("/me/commendations/consent", data={
        "record": _record(store, "MKT-PENALTY-GENERAL"), "display_name": NAME})  # fmt: skip
    assert penalty.status_code == 409 and 'class="error-message"' in penalty.text
    assert facts_size(store) == size
    given = client.post("/me/commendations/consent", follow_redirects=False, data={
        "record": record, "display_name": NAME, "shown": ["authority"]})  # fmt: skip
    assert given.status_code == 303 and "consent=given" in given.headers["location"]
    assert NAME in client.get("/commendations").text
    shown = client.get("/me?consent=given").text
    assert "Your consent is given" in shown and "Withdraw consent" in shown
    withdrawn = client.post("/me/commendations/withdraw", data={"record": record},
                            follow_redirects=False)  # fmt: skip
    assert withdrawn.status_code == 303
    assert NAME not in client.get("/commendations").text
    nothing = client.post("/me/commendations/withdraw", data={"record": record})
    assert nothing.status_code == 409
    # from another site, or signed out, nothing is written
    size = facts_size(store)
    other = client.post("/me/commendations/consent", headers={"origin": "https://elsewhere.example"},
                        data={"record": record, "display_name": NAME})  # fmt: skip
    assert other.status_code == 403
    client.cookies.clear()
    out = client.post("/me/commendations/consent", data={"record": record, "display_name": NAME})
    assert out.status_code == 403 and "sign in" in out.text
    assert facts_size(store) == size


def test_consent_leaves_checks_on_the_person_as_they_were(
    client: TestClient, store: Store, keys: dict[str, dict[str, str]]
) -> None:
    for path in sorted(SHIPPED.glob("*.yaml")):
        publish_rulebook(store, path, national_catalogue())
    evaluate_all(store, national_catalogue(), at_us=None, on=TODAY)
    query = {"subject": OTHER, "action": "public_procurement", "purpose": "招标资格审查"}

    def status() -> str:
        answer = client.get("/v1/check", params=query, headers=keys["checker"])
        assert answer.status_code == 200, answer.text
        found: str = answer.json()["status"]
        return found

    assert status() == "allow"
    other = _record(store, "HON-PERSON-VOLUNTEER", KEYER.person_id(OTHER))
    given = client.post(f"/v1/me/commendations/{other}/consent", headers=keys["other"],
                        json={"display_name": "另一位志愿者", "shown": []})  # fmt: skip
    assert given.status_code == 201
    # a consent is no fact evaluation reads: the person is not "behind the ledger", and a
    # commendation rewards nothing (no incentive, no red list)
    assert status() == "allow"
