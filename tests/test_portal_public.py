"""The public pages in process: home, search, an organisation's page, the lists and their
CSV; what they refuse (a person's URL, bad parameters) as HTML pages with the status; no
person anywhere on them."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator

import pytest
from portal_site import Site, check_structure, site

from trustledger.app.entities import entity_file
from trustledger.app.lists import published_lists
from trustledger.app.time import when


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    yield from site(tmp_path_factory)


def _html(response: object) -> str:
    assert response.headers["content-type"].startswith("text/html")  # type: ignore[attr-defined]
    return str(response.text)  # type: ignore[attr-defined]


def _persons(portal: Site) -> tuple[list[str], list[str]]:
    """Every person's id and name in the demo."""
    with portal.context() as ctx:
        rows = ctx.store.query("SELECT id, name FROM subjects WHERE kind = 'person'", ())
    return [r[0] for r in rows], [r[1] for r in rows if r[1]]


def test_home_shows_counts_lists_and_the_latest_listings(portal: Site) -> None:
    page = _html(portal.client.get("/"))
    check_structure(page)
    with portal.context() as ctx:
        ((organisations,),) = ctx.store.query(
            "SELECT count(*) FROM subjects WHERE kind <> 'person'", ())  # fmt: skip
        lists = published_lists(ctx)
    assert f"{organisations:,}" in page
    for described in lists:
        assert f'href="/lists/{described.rulebook}/{described.list_id}"' in page
    assert "Latest listings" in page and 'role="search"' in page


def test_search_finds_by_name_and_goes_straight_to_a_uscc(portal: Site) -> None:
    name = portal.result.tries.screen_name
    firm = portal.result.tries.profiled
    assert name is not None and firm is not None
    page = _html(portal.client.get("/search", params={"q": name}))
    check_structure(page)
    assert "similarity" in page.lower() and 'class="results"' in page
    found = portal.client.get("/search", params={"q": firm.lower()}, follow_redirects=False)
    assert found.status_code == 303 and found.headers["location"] == f"/entities/{firm}"
    # an empty box goes home; an overlong one is refused, saying why
    blank = portal.client.get("/search", params={"q": " "}, follow_redirects=False)
    assert blank.status_code == 303
    long = portal.client.get("/search", params={"q": "有" * 201})
    assert long.status_code == 422 and "longer than 200" in _html(long)
    nothing = _html(portal.client.get("/search", params={"q": "zzzzqqqq"}))
    assert "resembles" in nothing


def test_an_organisations_page_tells_records_lists_and_how_to_object(portal: Site) -> None:
    firm = portal.result.tries.denied or portal.result.tries.profiled
    assert firm is not None
    response = portal.client.get(f"/entities/{firm}")
    page = _html(response)
    check_structure(page)
    with portal.context() as ctx:
        at = when(None, None, timezone=ctx.settings.timezone, now_us=ctx.now_us(),
                  today=ctx.today())  # fmt: skip
        file = entity_file(ctx, firm, at)
    assert file.identity.name in page and file.identity.registering_authority in page
    for name in file.identity.division_names:
        assert name in page
    for record in file.records:
        assert record.document_number in page and record.authority in page
        assert f'id="{record.record_id}"' in page
    assert "How to object or apply for repair" in page
    assert f"/entities/{firm}/report.pdf" in page
    # the day can be chosen; a bad day is a 422 page naming the parameter
    assert portal.client.get(f"/entities/{firm}", params={"on": "2024-01-01"}).status_code == 200
    bad = portal.client.get(f"/entities/{firm}", params={"on": "someday"})
    assert bad.status_code == 422 and "on:" in _html(bad)


def test_pending_and_unconfirmed_records_are_not_public(portal: Site) -> None:
    with portal.context() as ctx:
        rows = ctx.store.query(
            "SELECT r.id, r.subject_id FROM records r JOIN subjects s ON s.id = r.subject_id"
            " WHERE s.kind <> 'person' AND (r.confirmation = 'pending' OR r.publication_date > ?)",
            (ctx.today().isoformat(),),
        )
    assert rows, "the demo has no record unpublished today"
    for record_id, subject in rows[:5]:
        assert record_id not in portal.client.get(f"/entities/{subject}").text


def test_no_person_on_any_public_page(portal: Site) -> None:
    ids, names = _persons(portal)
    assert ids
    pages = ["/", "/lists"] + [f"/lists/{d.rulebook}/{d.list_id}" for d in _lists(portal)]
    pages += [f"/lists/{d.rulebook}/{d.list_id}.csv" for d in _lists(portal)]
    for path in pages:
        text = portal.client.get(path).text
        assert not any(i in text for i in ids), path
        assert not any(n in text for n in names), path
    for person in ids[:3]:
        response = portal.client.get(f"/entities/{person}")
        assert response.status_code == 404 and "Not found" in _html(response)
        assert person not in response.text


def _lists(portal: Site) -> list:  # type: ignore[type-arg]
    with portal.context() as ctx:
        return published_lists(ctx)


def test_unknown_and_malformed_subjects_are_404_pages(portal: Site) -> None:
    for path in ("/entities/91440300MA5DA0A1XX", "/entities/not-a-code", "/entities/x"):
        response = portal.client.get(path)
        assert response.status_code == 404 and "<h1>Not found</h1>" in _html(response), path
    # an unknown page is an HTML 404; an unknown API path stays a problem document
    assert portal.client.get("/nowhere").headers["content-type"].startswith("text/html")
    api = portal.client.get("/v1/nowhere")
    assert api.status_code == 404 and "problem+json" in api.headers["content-type"]


def test_a_list_pages_most_recent_first_and_downloads_whole(portal: Site) -> None:
    described = max(_lists(portal), key=lambda d: d.members)
    assert described.members > 0
    path = f"/lists/{described.rulebook}/{described.list_id}"
    page = _html(portal.client.get(path))
    check_structure(page)
    days = re.findall(r"<td>(\d{4}-\d{2}-\d{2})</td><td>(?:\d{4}-\d{2}-\d{2}|until removed)", page)
    assert days and days == sorted(days, reverse=True)
    download = portal.client.get(f"{path}.csv")
    assert download.status_code == 200 and download.headers["content-type"].startswith("text/csv")
    assert "attachment" in download.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(download.text)))
    assert len(rows) == described.members
    assert [r["effective_from"] for r in rows] == sorted(
        (r["effective_from"] for r in rows), reverse=True
    )
    # by division: every row of the filtered file is of that division
    division = rows[0]["division"][:2]
    narrowed = list(csv.DictReader(io.StringIO(
        portal.client.get(f"{path}.csv", params={"division": division}).text)))  # fmt: skip
    assert narrowed and all(r["division"].startswith(division) for r in narrowed)
    assert len(narrowed) <= len(rows)
    # paging: the pages, followed to the end, hold the same members as the file
    seen: list[str] = []
    url: str | None = path
    while url is not None:
        text = portal.client.get(url).text
        seen += re.findall(r'<td class="mono">([0-9A-Z]{18})</td>', text)
        found = re.search(r'href="([^"]+)" rel="next"', text)
        url = found.group(1).replace("&amp;", "&") if found else None
    assert seen == [r["subject_id"] for r in rows]


def test_list_pages_refuse_what_they_cannot_answer(portal: Site) -> None:
    described = _lists(portal)[0]
    path = f"/lists/{described.rulebook}/{described.list_id}"
    for params, says in (({"division": "4403x"}, "division"), ({"on": "2024-13-01"}, "on:"),
                         ({"after": "2025x"}, "after")):  # fmt: skip
        response = portal.client.get(path, params=params)
        assert response.status_code == 422 and says in _html(response), params
    missing = portal.client.get(f"/lists/{described.rulebook}/no-such-list")
    assert missing.status_code == 404 and "no such list" in _html(missing)
    # before anyone was listed, the list is empty and says so
    empty = _html(portal.client.get(path, params={"on": "2000-01-01"}))
    assert "No organisation is on this list on 2000-01-01" in empty


def test_records_no_longer_published_are_not_on_the_public_page(portal: Site) -> None:
    """Revoked, repaired, ended and past their publicity period: the subject still sees
    them (its own file), the public no longer does."""
    with portal.context() as ctx:
        rows = ctx.store.query(
            "SELECT r.id, r.subject_id, r.status FROM records r"
            " JOIN subjects s ON s.id = r.subject_id WHERE s.kind <> 'person'"
            " AND r.status IN ('revoked', 'ended', 'repaired') AND r.status_date <= ?"
            " ORDER BY r.id LIMIT 12",
            (ctx.today().isoformat(),),
        )
        assert {status for _, _, status in rows} >= {"revoked", "ended"}, rows
        at = when(None, None, timezone=ctx.settings.timezone, now_us=ctx.now_us(),
                  today=ctx.today())  # fmt: skip
        for record_id, subject, status in rows:
            own = entity_file(ctx, subject, at, public=False)
            assert any(r.record_id == record_id and r.status == status for r in own.records)
            public = entity_file(ctx, subject, at)
            assert all(r.record_id != record_id for r in public.records), status
            assert f'id="{record_id}"' not in portal.client.get(f"/entities/{subject}").text
        # whatever the public sees is published that day
        for _, subject, _ in rows:
            for line in entity_file(ctx, subject, at).records:
                assert line.status in ("in force", "under objection", "published"), line
