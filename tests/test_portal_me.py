"""The subject's own file (/me) in process: signing in (and every way it is refused), the
file, the objection and repair forms' validation, and the refusals of the application
layer shown on the form; nothing is filed by a refused form."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from portal_site import Site, check_structure, site

from trustledger.access import create_key
from trustledger.portal.routes.me import COOKIE


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    yield from site(tmp_path_factory)


def _key(portal: Site, role: str, **scope: str) -> str:
    with portal.context() as ctx:
        return create_key(ctx.store, role, f"a {role}", ["public_procurement"] if role == "checker"
                          else [], **scope)  # fmt: skip


def _objections(portal: Site) -> int:
    with portal.context() as ctx:
        ((n,),) = ctx.store.query("SELECT count(*) FROM objections", ())
    return int(n)


@pytest.fixture
def firm(portal: Site) -> str:
    firm = portal.result.tries.profiled
    assert firm is not None
    return firm


@pytest.fixture
def signed_in(portal: Site, firm: str) -> Iterator[Site]:
    portal.client.cookies.set(COOKIE, _key(portal, "subject", subject=firm), path="/me")
    yield portal
    portal.client.cookies.clear()


def test_signing_in_is_refused_for_every_key_but_a_subjects(portal: Site) -> None:
    page = portal.client.get("/me").text
    check_structure(page)
    assert "Subject key" in page
    for key, says in (("", "unknown"), ("tlk_nope", "unknown"),
                      (_key(portal, "checker"), "checker key")):  # fmt: skip
        response = portal.client.post("/me/login", data={"key": key})
        assert response.status_code == 401 and says in response.text, key
        assert COOKIE not in response.headers.get("set-cookie", "")


def test_a_subject_key_signs_in_with_a_cookie_scripts_cannot_read(portal: Site, firm: str) -> None:
    key = _key(portal, "subject", subject=firm)
    response = portal.client.post("/me/login", data={"key": key}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/me"
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/me" in cookie
    out = portal.client.post("/me/logout", follow_redirects=False)
    assert out.status_code == 303 and 'tl_subject_key=""' in out.headers["set-cookie"]
    # from another site, signing in is refused
    other = portal.client.post("/me/login", data={"key": key},
                               headers={"origin": "https://elsewhere.example"})  # fmt: skip
    assert other.status_code == 403


def test_the_file_shows_records_lists_notices_and_readers(signed_in: Site, firm: str) -> None:
    page = signed_in.client.get("/me").text
    check_structure(page)
    for heading in ("Records about you", "Object to a record", "Apply for credit repair",
                    "Notices sent to you", "Who read your file"):  # fmt: skip
        assert heading in page
    assert re.search(r'<option value="R[0-9a-f]+"', page)


def test_an_objection_form_names_each_missing_field_and_files_nothing(signed_in: Site) -> None:
    before = _objections(signed_in)
    response = signed_in.client.post("/me/objections", data={"record": "", "reasons": " "})
    assert response.status_code == 422
    for field in ("record-error", "ground-error", "reasons-error"):
        assert f'id="{field}"' in response.text
    too_long = signed_in.client.post("/me/objections", data={
        "record": "Rx", "ground": "content", "reasons": "x" * 4001})  # fmt: skip
    assert too_long.status_code == 422 and "At most 4000" in too_long.text
    # a record that is not the subject's: the application layer's refusal, on the form
    foreign = signed_in.client.post("/me/objections", data={
        "record": "Rdoesnotexist", "ground": "content", "reasons": "wrong"})  # fmt: skip
    assert foreign.status_code in (403, 404) and 'class="error-message"' in foreign.text
    assert _objections(signed_in) == before


def test_an_objection_is_filed_and_shown(signed_in: Site) -> None:
    page = signed_in.client.get("/me").text
    record = re.findall(r'<option value="(R[0-9a-f]+)"', page)[-1]
    before = _objections(signed_in)
    reasons = "The period is counted wrong."
    filed = signed_in.client.post("/me/objections", follow_redirects=False, data={
        "record": record, "ground": "publicity", "reasons": reasons})  # fmt: skip
    assert filed.status_code == 303 and "objection=O" in filed.headers["location"]
    assert _objections(signed_in) == before + 1
    again = signed_in.client.post("/me/objections", data={
        "record": record, "ground": "publicity", "reasons": "Again."})  # fmt: skip
    assert again.status_code == 409 and "still open" in again.text
    shown = signed_in.client.get("/me").text
    assert "is filed" not in shown and "data-objection=" in shown


def test_a_repair_application_needs_its_three_documents(signed_in: Site) -> None:
    page = signed_in.client.get("/me").text
    record = re.findall(r'<option value="(R[0-9a-f]+)"', page)[0]
    missing = signed_in.client.post("/me/repairs", data={"record": record},
                                    files={"correction": ("c.pdf", b"%PDF-1.7 c")})  # fmt: skip
    assert missing.status_code == 422
    assert 'id="obligations-error"' in missing.text and 'id="commitment-error"' in missing.text
    assert 'id="correction-error"' not in missing.text


def test_posting_without_signing_in_is_refused(portal: Site) -> None:
    portal.client.cookies.clear()
    before = _objections(portal)
    response = portal.client.post("/me/objections", data={
        "record": "R1", "ground": "content", "reasons": "x"})  # fmt: skip
    assert response.status_code == 403 and "sign in" in response.text
    assert response.headers["content-type"].startswith("text/html")
    assert _objections(portal) == before
