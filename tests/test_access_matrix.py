"""Every role × route pair of the API, as a table, and the escalation attempts: a subject
key on another subject, an issuer writing another authority's category or in another
authority's name, a revoked or an expired key, a checker fishing for persons. Every read
of a person's data is in the access log, with its principal and purpose. On SQLite and
PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from builders import COURT, FIRM, FIRM2, PERSON_ID, TAX, authorities, debtor, issue, resident_id
from fastapi.testclient import TestClient

from trustledger.access import create_key, get_principal, revoke
from trustledger.access.log import verify_access_log
from trustledger.api import create_app
from trustledger.catalogue import national_catalogue
from trustledger.evaluate.state import evaluate_all
from trustledger.ids import ENV_PERSON_KEY, ENV_PERSON_KEY_FILE, PersonKeyer
from trustledger.intake import Intake
from trustledger.ledger.store import Store, open_store
from trustledger.rulebook.publish import publish_rulebook
from trustledger.settings import Settings

KEY_BYTES = bytes(range(32))
KEYER = PersonKeyer(KEY_BYTES)
ON = date(2026, 11, 26)
RULEBOOKS = sorted(
    (Path(__file__).parent.parent / "trustledger" / "rulebooks_shipped").glob("*.yaml")
)
REPRESENTATIVE = resident_id(seq="555")  # FIRM's legal representative: reached via FIRM
CLEAN = resident_id(seq="777")  # known to the ledger, nothing in force
UNKNOWN = resident_id(seq="999")  # never in the ledger
PERSON = KEYER.person_id(PERSON_ID)
LIST = "/v1/lists/cn-spc-dishonest-debtors/dishonest-judgment-debtors"
WHY = {"purpose": "ticket sale"}
CLEAN_CASE = "(2025)粤0305执77号"


@pytest.fixture
def evaluated(db_url: str) -> Iterator[Store]:
    store = open_store(db_url)
    store.init(KEYER.fingerprint())
    intake = Intake(store, national_catalogue(), KEYER, today=ON)
    lines = [*authorities(), debtor(legal_representative=REPRESENTATIVE), issue(),
             debtor(subject=FIRM2, subject_name="北京某某", document_number="(2025)粤0305执9号",
                    decision_date="2025-05-01", publication_date="2025-05-02"),
             debtor(subject=PERSON_ID, subject_name="张三", document_number="(2025)粤0305执7号",
                    decision_date="2025-06-01", publication_date="2025-06-02"),
             debtor(subject=CLEAN, subject_name="李四", document_number=CLEAN_CASE,
                    decision_date="2025-06-01", publication_date="2025-06-02"),
             {"op": "end", "authority": COURT, "subject": CLEAN, "category": "JUD-DEBTOR-G1",
              "target_document_number": CLEAN_CASE, "document_number": "执结77号",
              "effective_date": "2025-07-01", "reason": "performed"}]  # fmt: skip
    results = intake.submit_many(lines)
    assert all(r.outcome == "accepted" for r in results), results
    for path in RULEBOOKS:
        publish_rulebook(store, path, national_catalogue())
    evaluate_all(store, national_catalogue(), at_us=None, on=ON)
    yield store
    store.close()


@pytest.fixture
def keys(evaluated: Store) -> dict[str, str]:
    made = {
        "checker": create_key(evaluated, "checker", "民航局", ["air_travel", "star_hotel"]),
        "procurement": create_key(evaluated, "checker", "采购", ["public_procurement"]),
        "operator": create_key(evaluated, "operator", "信用中心"),
        "reviewer": create_key(evaluated, "reviewer", "复核", authority=TAX),
        "issuer": create_key(evaluated, "issuer", "南山法院", authority=COURT),
        "firm": create_key(evaluated, "subject", "华韵", subject=FIRM),
        "person": create_key(evaluated, "subject", "张三", subject=PERSON),
        "auditor": create_key(evaluated, "auditor", "审计署"),
        "revoked": create_key(evaluated, "operator", "离职"),
        "expired": create_key(evaluated, "operator", "过期", expires="2020-01-01T00:00:00Z"),
    }
    from trustledger.access import authenticate

    found = authenticate(evaluated, made["revoked"])
    assert found is not None
    revoke(evaluated, found.id)
    return made


@pytest.fixture
def client(
    evaluated: Store, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[TestClient]:
    monkeypatch.delenv(ENV_PERSON_KEY, raising=False)
    monkeypatch.delenv(ENV_PERSON_KEY_FILE, raising=False)
    key_file = tmp_path / "person.key"
    key_file.write_text(KEY_BYTES.hex() + "\n")
    settings = Settings(db_url=db_url, person_key_file=key_file, log_key_file=tmp_path / "log.key")
    with TestClient(create_app(settings, reload_interval=0.0)) as c:
        yield c


def headers(keys: dict[str, str], who: str) -> dict[str, str]:
    return {} if who == "public" else {"Authorization": f"Bearer {keys[who]}"}


# route → (method, path, params or JSON body)
ROUTES: dict[str, tuple[str, str, dict[str, Any]]] = {
    "health": ("GET", "/v1/health", {}),
    "check org": ("GET", "/v1/check", {"subject": FIRM, "action": "air_travel"}),
    "check person": ("GET", "/v1/check", {"subject": PERSON_ID, "action": "air_travel", **WHY}),
    "batch": ("POST", "/v1/check/batch",
              {"pairs": [{"subject": PERSON_ID, "action": "air_travel"}], **WHY}),
    "profile org": ("GET", f"/v1/subjects/{FIRM}/profile", {}),
    "profile person": ("GET", f"/v1/subjects/{PERSON}/profile", WHY),
    "lists": ("GET", LIST, {}),
    "points org": ("GET", f"/v1/subjects/{FIRM}/monitoring-points", {}),
    "points person": ("GET", f"/v1/subjects/{PERSON_ID}/monitoring-points", {}),
    "point": ("GET", "/v1/monitoring/points/NOPE", {}),
    "screen": ("POST", "/v1/screen", {"name": "深圳华韵科技有限公司"}),
    "me": ("GET", "/v1/me", {}),
    "access log": ("GET", "/v1/access-log", {}),
    "records": ("POST", "/v1/records", {}),  # a fresh court record, per caller
    # due process (trustledger/api/routers/dueprocess.py): an empty body, so an admitted
    # role gets 422 and the table shows only who is admitted
    "objection": ("POST", "/v1/objections", {}),
    "objection decision": ("POST", "/v1/objections/OBJ1/decision", {}),
    "repair": ("POST", "/v1/repairs", {}),
    "repair decision": ("POST", "/v1/repairs/REP1/decision", {}),
    "overdue": ("GET", "/v1/due-process/overdue", {}),
    "notices": ("GET", "/v1/notices", {}),
    "ledger head": ("GET", "/v1/ledger/head", {}),
    "inclusion": ("GET", "/v1/ledger/proof/inclusion", {"seq": 0}),
    "consistency": ("GET", "/v1/ledger/proof/consistency", {"old": 1}),
    "checkpoint": ("GET", "/v1/ledger/checkpoint", {}),
    "checkpoint key": ("GET", "/v1/ledger/checkpoint/key", {}),
    "checkpoint keys": ("GET", "/v1/ledger/checkpoint/keys", {}),
    # open to all (a cosignature authenticates itself); "{}" is no cosigned note: 422
    "cosignature": ("POST", "/v1/ledger/checkpoint/cosignature", {}),
    "tile": ("GET", "/v1/ledger/tile/0/000.p/1", {}),
    # commendations of persons (trustledger/api/routers/commendations.py): the public list;
    # consent on a record that is no commendation of the caller's (404 once admitted)
    "commendations": ("GET", "/v1/commendations", {}),
    "consent": ("POST", "/v1/me/commendations/RNONE/consent", {"display_name": "x"}),
    "consent withdrawal": ("DELETE", "/v1/me/commendations/RNONE/consent", {}),
}  # fmt: skip

WHO = ["public", "checker", "operator", "reviewer", "issuer", "firm", "person", "auditor",
       "revoked", "expired"]  # fmt: skip
# the expected status of every route for every caller, in WHO's order
MATRIX: dict[str, list[int]] = {
    #                pub  chk  op   rev  iss  firm pers aud  revk expd
    "health":         [200, 200, 200, 200, 200, 200, 200, 200, 401, 401],
    "check org":      [401, 200, 200, 403, 403, 403, 403, 403, 401, 401],
    "check person":   [401, 200, 200, 403, 403, 403, 403, 403, 401, 401],
    "batch":          [401, 200, 200, 403, 403, 403, 403, 403, 401, 401],
    "profile org":    [200, 200, 200, 200, 403, 200, 403, 403, 401, 401],
    "profile person": [403, 403, 200, 200, 403, 403, 200, 403, 401, 401],
    "lists":          [200, 200, 200, 200, 200, 200, 200, 200, 401, 401],
    "points org":     [401, 403, 200, 200, 403, 200, 403, 403, 401, 401],
    "points person":  [401, 403, 200, 200, 403, 403, 200, 403, 401, 401],
    "point":          [401, 403, 404, 404, 403, 404, 404, 403, 401, 401],
    "screen":         [401, 200, 200, 200, 403, 403, 403, 403, 401, 401],
    "me":             [401, 403, 403, 403, 403, 200, 200, 403, 401, 401],
    "access log":     [401, 403, 403, 403, 403, 403, 403, 200, 401, 401],
    "records":        [401, 403, 403, 403, 201, 403, 403, 403, 401, 401],
    "objection":      [401, 403, 422, 403, 403, 422, 422, 403, 401, 401],
    "objection decision": [401, 403, 403, 422, 403, 403, 403, 403, 401, 401],
    "repair":         [401, 403, 422, 403, 403, 422, 422, 403, 401, 401],
    "repair decision": [401, 403, 403, 422, 403, 403, 403, 403, 401, 401],
    "overdue":        [401, 403, 200, 403, 403, 403, 403, 200, 401, 401],
    "notices":        [401, 403, 422, 422, 403, 200, 200, 403, 401, 401],
    "ledger head":    [200, 200, 200, 200, 200, 200, 200, 200, 401, 401],
    "inclusion":      [200, 200, 200, 200, 200, 200, 200, 200, 401, 401],
    "consistency":    [200, 200, 200, 200, 200, 200, 200, 200, 401, 401],
    "checkpoint":     [200, 200, 200, 200, 200, 200, 200, 200, 401, 401],
    "checkpoint key": [200, 200, 200, 200, 200, 200, 200, 200, 401, 401],
    "checkpoint keys": [200, 200, 200, 200, 200, 200, 200, 200, 401, 401],
    "cosignature":    [422, 422, 422, 422, 422, 422, 422, 422, 401, 401],
    "tile":           [200, 200, 200, 200, 200, 200, 200, 200, 401, 401],
    "commendations":  [200, 200, 200, 200, 200, 200, 200, 200, 401, 401],
    "consent":        [401, 403, 403, 403, 403, 404, 404, 403, 401, 401],
    "consent withdrawal": [401, 403, 403, 403, 403, 404, 404, 403, 401, 401],
}  # fmt: skip


def call(client: TestClient, route: str, hdrs: dict[str, str], n: int = 0) -> Any:
    method, path, args = ROUTES[route]
    if route == "records":
        args = debtor(subject=FIRM2, subject_name="北京某某",
                      document_number=f"(2025)粤0305执{100 + n}号")  # fmt: skip
    if method == "GET":
        return client.get(path, params=args, headers=hdrs)
    if method == "DELETE":
        return client.delete(path, headers=hdrs)
    return client.post(path, json=args, headers=hdrs)


def test_every_role_on_every_route(client: TestClient, keys: dict[str, str]) -> None:
    assert set(MATRIX) == set(ROUTES)
    # every published operation is in the table
    spec = client.get("/openapi.json").json()["paths"]
    covered = {(m, p) for m, p, _ in ROUTES.values()}
    templates = {"/v1/monitoring/points/{mn}": "/v1/monitoring/points/NOPE",
                 "/v1/subjects/{subject}/profile": f"/v1/subjects/{FIRM}/profile",
                 "/v1/subjects/{subject}/monitoring-points":
                     f"/v1/subjects/{FIRM}/monitoring-points",
                 "/v1/lists/{rulebook}/{list_id}": LIST,
                 "/v1/objections/{objection}/decision": "/v1/objections/OBJ1/decision",
                 "/v1/repairs/{repair}/decision": "/v1/repairs/REP1/decision",
                 "/v1/me/commendations/{record}/consent":
                     "/v1/me/commendations/RNONE/consent",
                 "/v1/ledger/tile/{level}/{index}": "/v1/ledger/tile/0/000.p/1"}  # fmt: skip
    for path, operations in spec.items():
        for method in operations:
            assert (method.upper(), templates.get(path, path)) in covered, (method, path)
    wrong = []
    for route, statuses in MATRIX.items():
        for n, (who, expected) in enumerate(zip(WHO, statuses, strict=True)):
            response = call(client, route, headers(keys, who), n)
            if response.status_code != expected:
                wrong.append(f"{route} as {who}: {response.status_code} ≠ {expected} "
                             f"{response.text[:120]}")  # fmt: skip
            assert PERSON_ID not in response.text
    assert wrong == []


def test_a_subject_key_reads_its_own_file_only(client: TestClient, keys: dict[str, str]) -> None:
    firm, person = headers(keys, "firm"), headers(keys, "person")
    assert client.get(f"/v1/subjects/{FIRM2}/profile", headers=firm).status_code == 403
    other = KEYER.person_id(CLEAN)
    for subject in (other, CLEAN, UNKNOWN):
        response = client.get(f"/v1/subjects/{subject}/profile", params=WHY, headers=person)
        assert response.status_code == 403
    # its own file: everything, unpublished records too, and who read it
    check = client.get("/v1/check", params={"subject": PERSON_ID, "action": "air_travel", **WHY},
                       headers=headers(keys, "checker"))  # fmt: skip
    assert check.status_code == 200
    mine = client.get("/v1/me", headers=person)
    assert mine.status_code == 200, mine.text
    body = mine.json()
    assert body["subject"] == PERSON and body["kind"] == "person"
    assert [r["document_number"] for r in body["records"]] == ["(2025)粤0305执7号"]
    checker = client.get("/v1/me", headers=headers(keys, "firm")).json()
    assert checker["subject"] == FIRM and len(checker["records"]) == 2
    readers = [(r["role"], r["action"], r["purpose"]) for r in body["read_by"]]
    assert ("checker", "check", "ticket sale") in readers
    (read,) = [r for r in body["read_by"] if r["action"] == "check"]
    assert read["name"] == "民航局" and read["principal_id"].startswith("p_")


def test_an_issuer_writes_its_own_categories_in_its_own_name(
    client: TestClient, keys: dict[str, str], evaluated: Store
) -> None:
    court = headers(keys, "issuer")
    # a court may not issue a tax penalty, even in its own name
    tax_record = issue(authority=COURT, document_number="深税稽罚〔2024〕99号")
    response = client.post("/v1/records", json=tax_record, headers=court)
    assert response.status_code == 403 and "may not issue" in response.json()["detail"]
    # nor write in the tax bureau's name
    response = client.post("/v1/records", json=issue(document_number="深税稽罚〔2024〕98号"),
                           headers=court)  # fmt: skip
    assert response.status_code == 403 and "own authority" in response.json()["detail"]
    # nor register authorities
    response = client.post("/v1/records", headers=court, json={
        "op": "authority", "id": COURT, "name": "x", "authority_type": "tax"})  # fmt: skip
    assert response.status_code == 403
    # its own: accepted once, the subject re-evaluated; the same line again is a duplicate
    line = debtor(subject=FIRM2, subject_name="北京某某", document_number="(2025)粤0305执55号")
    first = client.post("/v1/records", json=line, headers=court)
    assert first.status_code == 201, first.text
    assert first.json()["outcome"] == "accepted" and first.json()["subject"] == FIRM2
    again = client.post("/v1/records", json=line, headers=court)
    assert (again.status_code, again.json()["outcome"]) == (200, "duplicate")
    # the intake's own refusals are 422 with its reason
    bad = client.post("/v1/records", json={**line, "document_number": ""}, headers=court)
    assert bad.status_code == 422
    # a record about a person: the answer carries no person id
    person = client.post("/v1/records", headers=court, json=debtor(
        subject=UNKNOWN, subject_name="王五", document_number="(2025)粤0305执56号",
        decision_date="2025-06-01", publication_date="2025-06-02"))  # fmt: skip
    assert person.status_code == 201 and person.json()["subject"] is None
    assert KEYER.person_id(UNKNOWN) not in person.text
    # a refused line about a person does not echo the ID number
    refused = client.post("/v1/records", headers=court, json=debtor(
        subject=UNKNOWN, subject_name="王五", document_number="(2025)粤0305执57号",
        decision_date="2099-06-01", publication_date="2099-06-02"))  # fmt: skip
    assert refused.status_code == 422
    assert UNKNOWN not in refused.text and KEYER.person_id(UNKNOWN) not in refused.text


def test_a_revoked_or_expired_key_is_refused_at_once(
    client: TestClient, keys: dict[str, str], evaluated: Store
) -> None:
    for who in ("revoked", "expired"):
        response = client.get("/v1/health", headers=headers(keys, who))
        assert response.status_code == 401
    # revoked while the server holds it in its cache: refused from the next look (here, the
    # next request: the test server looks at every request)
    operator = headers(keys, "operator")
    assert client.get("/v1/access-log", headers=operator).status_code == 403
    assert client.get(f"/v1/subjects/{FIRM}/profile", headers=operator).status_code == 200
    from trustledger.access import authenticate

    found = authenticate(evaluated, keys["operator"])
    assert found is not None
    revoke(evaluated, found.id)
    assert client.get(f"/v1/subjects/{FIRM}/profile", headers=operator).status_code == 401
    again = get_principal(evaluated, found.id)
    assert again is not None and again.revoked
    # credentials of another scheme are not the public
    assert client.get("/v1/health", headers={"Authorization": "Basic abc"}).status_code == 401


def _bare(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != "known_at"}


def test_a_checker_fishing_for_persons_learns_nothing_about_them(
    client: TestClient, keys: dict[str, str]
) -> None:
    checker = headers(keys, "checker")

    def check(subject: str, action: str = "air_travel") -> Any:
        params = {"subject": subject, "action": action, "on": ON.isoformat(), **WHY}
        return client.get("/v1/check", params=params, headers=checker)

    # a listed person: the decision with measures, lists, dates and agency
    denied = check(PERSON_ID)
    assert denied.status_code == 200
    body = denied.json()
    assert body["status"] == "deny" and body["subject"] is None
    (reason,) = body["reasons"]
    assert reason["measure"] == "no-air-travel" and reason["list"] == "dishonest-judgment-debtors"
    assert reason["agency"] and reason["start"] and reason["records"] == []
    assert PERSON not in denied.text
    # reached through an organisation: denied, but not told which organisation
    rep = check(REPRESENTATIVE)
    assert rep.json()["status"] == "deny"
    assert "via" not in rep.text and FIRM not in rep.text
    assert KEYER.person_id(REPRESENTATIVE) not in rep.text
    # unknown, known and clean, and known only through an organisation: answered alike
    clean, unknown = check(CLEAN), check(UNKNOWN)
    assert clean.status_code == unknown.status_code == 200
    assert _bare(clean.json()) == _bare(unknown.json())
    assert clean.json()["status"] == "allow" and clean.json()["reasons"] == []
    procurement = headers(keys, "procurement")
    bodies = [client.get("/v1/check", params={"subject": s, "action": "public_procurement",
                                              **WHY}, headers=procurement).json()
              for s in (CLEAN, UNKNOWN, REPRESENTATIVE)]  # fmt: skip
    assert len({str(_bare(b)) for b in bodies}) == 1
    # the batch form too
    batch = client.post("/v1/check/batch", headers=checker, json={
        "pairs": [{"subject": s, "action": "air_travel"} for s in (CLEAN, UNKNOWN, PERSON_ID)],
        "on": ON.isoformat(), **WHY}).json()  # fmt: skip
    results = batch["results"]
    assert _bare(results[0]) == _bare(results[1])
    assert results[2]["status"] == "deny" and results[2]["reasons"][0]["records"] == []
    assert all(r["subject"] is None for r in results)
    # no profile of a person, known or not, decided before any lookup
    for subject in (PERSON_ID, CLEAN, UNKNOWN, KEYER.person_id(UNKNOWN)):
        response = client.get(f"/v1/subjects/{subject}/profile", params=WHY, headers=checker)
        assert response.status_code == 403
        assert response.json()["detail"] == "a person's file is not served to checkers"


def test_monitoring_points_are_no_existence_oracle(
    client: TestClient, keys: dict[str, str]
) -> None:
    operator = headers(keys, "operator")
    answers = [client.get(f"/v1/subjects/{s}/monitoring-points", headers=operator)
               for s in (PERSON_ID, CLEAN, UNKNOWN)]  # fmt: skip
    assert {a.status_code for a in answers} == {200}
    assert all(a.json()["points"] == [] for a in answers)
    assert {tuple(a.json()) for a in answers} == {("subject", "points")}
    # for a checker, every subject's points are out of scope alike
    checker = headers(keys, "checker")
    statuses = {client.get(f"/v1/subjects/{s}/monitoring-points", headers=checker).status_code
                for s in (FIRM, PERSON_ID, UNKNOWN)}  # fmt: skip
    assert statuses == {403}


def test_a_checker_sees_only_what_concerns_its_actions(
    client: TestClient, keys: dict[str, str]
) -> None:
    full = client.get(f"/v1/subjects/{FIRM}/profile", headers=headers(keys, "operator")).json()
    scoped = client.get(f"/v1/subjects/{FIRM}/profile",
                        headers=headers(keys, "procurement")).json()  # fmt: skip
    assert len(scoped["profiles"]) == len(full["profiles"])
    all_measures = [m for p in full["profiles"] for m in p["measures"]]
    assert any("public_procurement" not in m["actions"] for m in all_measures)
    # the operator sees whom the measures reach; the checker none of it
    assert KEYER.person_id(REPRESENTATIVE) in str(full)
    assert KEYER.person_id(REPRESENTATIVE) not in str(scoped)
    from trustledger.app.profiles import _reach

    for p in scoped["profiles"]:
        assert p["score"] is None and p["grade"] is None and p["explanation"] == []
        assert all(_reach(m["actions"]) & {"public_procurement"} for m in p["measures"])
        kept = {m["list_id"] for m in p["measures"]}
        assert {m["list_id"] for m in p["lists"]} <= kept
        behind = {r for m in p["lists"] for r in m["records"]}
        assert {r["record_id"] for r in p["records"]} <= behind
    # a list none of whose measures concern its actions is refused; one that does is read
    assert client.get(LIST, headers=headers(keys, "checker")).status_code == 200
    assert client.get("/v1/lists/cn-spc-dishonest-debtors/nope",
                      headers=headers(keys, "checker")).status_code == 404  # fmt: skip


def test_the_public_sees_published_organisation_data_only(
    client: TestClient, keys: dict[str, str]
) -> None:
    response = client.get(f"/v1/subjects/{FIRM}/profile")
    assert response.status_code == 200
    body = response.json()
    for p in body["profiles"]:
        # what the portal and a credit report show too: the records published today, the
        # effective listings and the measures resting on them (never the persons they
        # reach), score and grade; no explanation
        assert p["explanation"] == [] and p["history"] == [] and p["measure_history"] == []
        assert all(r["standing"] == "in force" for r in p["records"])
        effective = {m["list_id"] for m in p["lists"]
                     if m["effective_from"] and m["effective_from"] <= body["on"]}  # fmt: skip
        assert {m["list_id"] for m in p["lists"]} == effective
        assert all(m["list_id"] in effective and m["extends_to"] == {} for m in p["measures"])
    assert KEYER.person_id(REPRESENTATIVE) not in response.text
    listed = client.get(LIST).json()
    assert PERSON not in str(listed) and listed["persons_withheld"] >= 1
    for subject in (PERSON_ID, PERSON, UNKNOWN):
        assert client.get(f"/v1/subjects/{subject}/profile").status_code == 403


def test_every_person_read_is_logged_with_its_principal_and_purpose(
    client: TestClient, keys: dict[str, str], evaluated: Store
) -> None:
    checker, operator = headers(keys, "checker"), headers(keys, "operator")
    client.get("/v1/check", params={"subject": PERSON_ID, "action": "air_travel", **WHY},
               headers=checker)  # fmt: skip
    client.get(f"/v1/subjects/{PERSON}/profile", params={"purpose": "objection review"},
               headers=operator)  # fmt: skip
    # a person's file needs a purpose, from an operator too
    no_purpose = client.get(f"/v1/subjects/{PERSON}/profile", headers=operator)
    assert no_purpose.status_code == 422 and "purpose" in no_purpose.json()["detail"]
    client.get("/v1/check", params={"subject": FIRM, "action": "air_travel"}, headers=checker)
    auditor = headers(keys, "auditor")
    page = client.get("/v1/access-log", params={"subject": PERSON_ID}, headers=auditor)
    assert page.status_code == 200, page.text
    rows = page.json()["entries"]
    assert [(r["role"], r["action"], r["purpose"]) for r in rows] == [
        ("checker", "check", "ticket sale"),
        ("operator", "profile.read", "objection review"),
        ("auditor", "access_log.read", None),
    ]
    assert all(r["subject_id"] == PERSON for r in rows)
    assert rows[0]["detail"] == {"action": "air_travel", "status": "deny"}
    everything = client.get("/v1/access-log", headers=auditor).json()["entries"]
    assert any(r["subject_id"] == FIRM and r["role"] == "checker" for r in everything)
    assert PERSON_ID not in str(everything)
    assert verify_access_log(evaluated) == []
    # paging
    first = client.get("/v1/access-log", params={"limit": 1}, headers=auditor).json()
    assert len(first["entries"]) == 1 and first["next"] == first["entries"][0]["seq"]
