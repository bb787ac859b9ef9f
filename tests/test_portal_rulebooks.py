"""The rulebook pages: every condition of every shipped rulebook in plain English (from the
typed tree, never the source text), each published rulebook rendered for people —
categories as evaluation resolves them, bands, lists in words, measures by their actions'
catalogue titles, versions — and an unknown id a 404 page."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from portal_site import Site, check_structure, site
from test_condition import exprs

from trustledger.app import rulebook_pages
from trustledger.app.rulebooks import shipped_paths
from trustledger.catalogue import national_catalogue
from trustledger.evaluate.profile import compile_rulebook
from trustledger.rulebook.condition import Expr, TextLit, parse_condition
from trustledger.rulebook.load import load_rulebook
from trustledger.rulebook.schema import Rulebook
from trustledger.rulebook.words import condition_words
from trustledger.sanctions.actions import load_actions

CATALOGUE = national_catalogue()
# what a condition's source looks like: none of it may reach a reader
SYNTAX = re.compile(r"==|!=|>=|<=|\bcount\(|\bsum\(|\bmax\(|\bmin\(|days_since|within=|'|\[|\]")


def titles(code: str) -> str | None:
    found = CATALOGUE.get(code)
    return found.title if found is not None else None


def shipped() -> list[Rulebook]:
    with shipped_paths() as paths:
        return [load_rulebook(Path(p)) for p in paths]


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    yield from site(tmp_path_factory)


# --- conditions in words -------------------------------------------------------------


def test_the_example_reads_as_a_person_would_say_it() -> None:
    words = condition_words(parse_condition('count(tier == "serious", within="3y") >= 1'))
    assert words == "at least 1 serious record in force, published within the last 3 years"


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("count() == 0", "no record in force"),
        ("count(tier == 'minor') > 0", "at least 1 minor record in force"),
        ("count(polarity == 'negative') >= 3", "at least 3 negative records in force"),
        ("grade == 'D' and kind == 'enterprise'",
         "the grade is D and the subject is an enterprise"),
        ("kind in ['enterprise', 'cooperative']", "the subject is an enterprise or a cooperative"),
        ("score >= 1050", "the score is at least 1,050"),
        ("sum(points) < -20", "the sum of the points of records in force (0 if none) is below -20"),
        ("days_since(tier == 'serious') < 365 * 2",
         "the latest serious record in force was published fewer than 730 days ago"),
        ("count(age >= 1096 and domain == 'tax') >= 1",
         "at least 1 record in force that is at least 1,096 days old (counted from publication)"
         " and is in the tax domain"),
        ("count(not category in ['TAX-A-GRADE']) >= 2",
         "at least 2 records in force that are not of the category “Grade A taxpayer” "
         "(TAX-A-GRADE)"),
        ("count(decision_type == 'court_judgment', within='18m') >= 1",
         "at least 1 record in force that rests on a court judgment, published within the last"
         " 18 months"),
        ("not (score >= 10 or grade == 'A')",
         "it is not the case that (the score is at least 10 or the grade is A)"),
        ("true", "always"),
    ],
)  # fmt: skip
def test_constructs_in_words(text: str, words: str) -> None:
    assert condition_words(parse_condition(text), titles) == words


def _texts(node: object) -> list[str]:
    if isinstance(node, TextLit):
        return [node.value]
    slots = getattr(type(node), "__slots__", ())
    return [t for name in slots for t in _texts(getattr(node, name, None))] + (
        [t for item in node for t in _texts(item)] if isinstance(node, tuple) else []
    )


@settings(max_examples=400)
@given(tree=exprs("bool", "list", 4))
def test_any_condition_has_words(tree: Expr) -> None:
    # the language's every construct, nested anyhow: words without the source's syntax
    assume(not any(SYNTAX.search(t) or "=" in t or "(" in t for t in _texts(tree)))
    words = condition_words(tree, titles)
    assert words.strip()
    assert not re.search(r"==|!=|>=|<=|\w\(|within=|\[|\]", words), words


def test_every_condition_of_every_shipped_rulebook_has_words() -> None:
    seen = 0
    for rulebook in shipped():
        for path, condition in rulebook.conditions():
            words = condition_words(condition.tree, titles)
            where = f"{rulebook.id} {path}: {condition.text!r} → {words!r}"
            assert words and words != condition.text, where
            assert not SYNTAX.search(words), where
            # every category a condition names is given with its catalogue title
            for code in re.findall(r"'([A-Z0-9]+(?:-[A-Z0-9]+)+)'", condition.text):
                assert f"“{titles(code)}” ({code})" in words, where
            seen += 1
    assert seen >= 12  # every list of the six regimes and the grade rules


def test_shipped_lists_say_what_the_law_says() -> None:
    by_id = {rb.id: rb for rb in shipped()}
    spc = by_id["cn-spc-dishonest-debtors"].lists[0].when.tree
    words = condition_words(spc, titles)
    assert words.startswith("at least 1 record in force that is of the category “Dishonest")
    assert "published within the last 2 years" in words
    province = by_id["cn-records-only-province"].lists[0].when.tree
    assert condition_words(province, titles) == (
        "at least 1 serious negative record in force, published within the last 3 years"
    )
    abnormal = by_id["cn-market-abnormal-operations"].lists[1].when.tree
    assert "at least 1,096 days old" in condition_words(abnormal, titles)


# --- the page data ---------------------------------------------------------------------


def test_categories_are_resolved_as_evaluation_resolves_them() -> None:
    for rulebook in shipped():
        shown = rulebook_pages.detail(rulebook, CATALOGUE)["categories"]
        treated = compile_rulebook(rulebook, CATALOGUE).treatment_of
        assert {c["code"] for c in shown} == set(treated), rulebook.id
        for row in shown:
            treatment = treated[row["code"]]
            assert row["points"] == treatment.points
            category = CATALOGUE.get(row["code"])
            assert category is not None
            assert row["tier"] == (treatment.tier or category.default_tier).value
            assert row["legal_basis"], row


def test_scope_names_the_division() -> None:
    assert rulebook_pages.scope_words("371082")["name"] == "荣成市"
    assert rulebook_pages.scope_words("37")["name"] == "山东省"
    assert rulebook_pages.scope_words("")["name"].startswith("national")


def test_bands_read_as_ranges() -> None:
    rongcheng = next(rb for rb in shipped() if rb.id == "cn-rongcheng-points")
    bands = rulebook_pages.detail(rongcheng, CATALOGUE)["score"]["bands"]
    assert [b["words"] for b in bands] == [
        "1,050 or more (the ceiling is 1,200)", "1,030 to 1,049", "960 to 1,029",
        "850 to 959", "600 to 849", "below 600 (the floor is 0)",
    ]  # fmt: skip


# --- the pages -------------------------------------------------------------------------


def test_index_lists_every_published_rulebook(portal: Site) -> None:
    answer = portal.client.get("/rulebooks")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    check_structure(answer.text)
    for rulebook in shipped():
        assert f'href="/rulebooks/{rulebook.id}"' in answer.text
        assert rulebook.title in answer.text


@pytest.mark.parametrize("rulebook", shipped(), ids=lambda rb: rb.id)
def test_each_rulebook_page(portal: Site, rulebook: Rulebook) -> None:
    answer = portal.client.get(f"/rulebooks/{rulebook.id}")
    assert answer.status_code == 200, answer.text
    html = answer.text
    check_structure(html)
    assert f"<h1>{rulebook.title}</h1>" in html
    assert rulebook.authority in html
    for item in rulebook.lists:
        words = condition_words(item.when.tree, titles)
        # the words lead; the source is there for who wants it, behind "As written"
        shown = words[0].upper() + words[1:] + "."
        assert f'<dd class="condition-words">{shown}' in html, words
        assert f'href="/lists/{rulebook.id}/{item.id}"' in html
    actions = load_actions().by_code
    for measure in rulebook.measures:
        for action in measure.actions:
            assert actions[action].title in html, action
        assert measure.agency in html
    for basis in rulebook.legal_basis:
        assert basis.instrument.replace("&", "&amp;") in html
    # the version published by the demo, with its ledger entry
    assert re.search(r'href="/ledger/entries/\d+">entry \d+</a>', html)
    assert rulebook.version in html


def test_the_points_pilot_shows_points_and_its_territory(portal: Site) -> None:
    html = portal.client.get("/rulebooks/cn-rongcheng-points").text
    assert "荣成市" in html and "371082" in html
    assert "<td>-50</td>" in html and "<td>+20</td>" in html
    assert "960 to 1,029" in html


def test_unknown_rulebook_is_a_404_page(portal: Site) -> None:
    for path in ("/rulebooks/no-such-rulebook", "/rulebooks/Not_An_Id", "/rulebooks/x%20y"):
        answer = portal.client.get(path)
        assert answer.status_code == 404, path
        assert answer.headers["content-type"].startswith("text/html")
        assert "<h1>Not found</h1>" in answer.text
