"""Measures within the national basic list of dishonesty sanction measures (issue 12, item 7).

Guobanfa [2020] No. 49 forbids adding dishonesty sanctions at will: a restriction outside
the national list is refused unless the measure cites a law that provides it.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from trustledger.catalogue import national_catalogue
from trustledger.cli.rulebook import app
from trustledger.legality import LegalBasis
from trustledger.rulebook.lint import lint_rulebook
from trustledger.rulebook.national import (
    NATIONAL_MEASURES_PATH,
    NationalListError,
    cites_law,
    is_law,
    load_national_list,
    parse_national_list,
)
from trustledger.rulebook.schema import Rulebook
from trustledger.sanctions.actions import load_actions

SHIPPED = sorted(
    (Path(__file__).resolve().parent.parent / "trustledger" / "rulebooks_shipped").glob("*.yaml")
)
runner = CliRunner()

# An action the national list does not cover: the action catalogue is not consulted by
# this lint (tests/test_actions.py keeps shipped measures to catalogued actions).
OUTSIDE = "compulsory_publicity_shaming"

BOOK: dict[str, Any] = {
    "id": "test-national-list",
    "version": "1",
    "title": "Test rulebook",
    "authority": "Test authority",
    "legal_basis": [{"instrument": "Guofa [2016] No. 33"}],
    "sources": ["regimes.md §4"],
    "effective": {"from": "2024-01-01"},
    "subject_kinds": ["enterprise"],
    "treatments": [
        {
            "select": {"codes": ["MKT-PENALTY-SERIOUS"]},
            "publicity": {"min": "1y", "max": "3y"},
            "legal_basis": [{"instrument": "NDRC Order No. 36"}],
        }
    ],
    "lists": [
        {
            "id": "serious",
            "kind": "black",
            "title": "Serious list",
            "when": "count(category == 'MKT-PENALTY-SERIOUS') >= 1",
            "removal": "when the condition stops holding",
            "legal_basis": [{"instrument": "Guofa [2016] No. 33"}],
        }
    ],
    "measures": [
        {
            "id": "extra-sanction",
            "kind": "restriction",
            "list": "serious",
            "actions": ["public_procurement", OUTSIDE],
            "subject_kinds": ["enterprise"],
            "duration": "3y",
            "legal_basis": [{"instrument": "Guofa [2016] No. 33"}],
            "agency": "某部门",
        }
    ],
}


def book(**measure: Any) -> dict[str, Any]:
    data = copy.deepcopy(BOOK)
    data["measures"][0].update(measure)
    return data


def lint(data: dict[str, Any]) -> list[str]:
    return [str(p) for p in lint_rulebook(Rulebook.model_validate(data), national_catalogue())]


# ── the list itself ─────────────────────────────────────────────────────────────────────


def test_the_list_loads_and_cites_its_source() -> None:
    national = load_national_list()
    source = national.source
    assert source.title_zh == "全国失信惩戒措施基础清单"
    assert source.edition == "2021"
    assert any("国家发展和改革委员会" in body for body in source.issued_by)
    assert any("中国人民银行" in body for body in source.issued_by)
    assert source.implements == "Guobanfa [2020] No. 49"
    assert source.consulted and all(url.startswith("http") for url in source.consulted)
    assert {edition.edition for edition in source.later_editions} == {"2022", "2024"}
    assert (source.parts, source.items) == (3, 14)
    assert len(national.measures) <= source.items
    for item in national.measures:
        assert item.text_zh and item.text and item.laws, item.number
        # an item is either confirmed with where it was read, or marked unconfirmed
        assert item.unconfirmed or item.checked, item.number
    confirmed = {item.number for item in national.measures if not item.unconfirmed}
    assert confirmed == {"1-1", "1-2"}
    bidding = next(item for item in national.measures if item.number == "1-2")
    assert "public_bidding" in bidding.actions
    assert any("Tendering and Bidding Law" in law.instrument for law in bidding.laws)


def test_every_mapped_action_is_catalogued() -> None:
    codes = load_actions().codes
    assert sorted(set(load_national_list().covering) - codes) == []


def test_the_list_refuses_a_confirmed_item_without_its_check(tmp_path: Path) -> None:
    data = yaml.safe_load(NATIONAL_MEASURES_PATH.read_text(encoding="utf-8"))
    data["measures"][0].pop("checked")
    with pytest.raises(NationalListError, match="item 1-1: a confirmed item says where"):
        parse_national_list(yaml.safe_dump(data, allow_unicode=True), "x.yaml")


# ── what counts as a law ────────────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    "instrument",
    [
        "Government Procurement Law of the PRC",
        "Civil Procedure Law of the People's Republic of China (2023 amendment)",
        "Law of the PRC on Administrative Penalties",
        "《中华人民共和国政府采购法》",
        "中华人民共和国出境入境管理法",
    ],
)
def test_a_law(instrument: str) -> None:
    assert is_law(instrument)


@pytest.mark.parametrize(
    "instrument",
    [
        "Guobanfa [2020] No. 49",
        "Guofa [2016] No. 33",
        "Regulations on the Implementation of the Tendering and Bidding Law",
        "Implementing Regulations of the Government Procurement Law of the PRC",
        "Interim Regulations on Enterprise Information Publicity (State Council Decree No. 654)",
        "SPC Interpretation of the Civil Procedure Law",
        "中华人民共和国政府采购法实施条例",
        "企业经营异常名录管理暂行办法",
        "Huanfa [2013] No. 150",
    ],
)
def test_not_a_law(instrument: str) -> None:
    assert not is_law(instrument)


def test_a_law_is_cited_with_its_article() -> None:
    assert not cites_law([LegalBasis(instrument="Government Procurement Law of the PRC")])
    assert cites_law([LegalBasis(instrument="Government Procurement Law of the PRC", article="22")])


# ── the lint ────────────────────────────────────────────────────────────────────────────


def test_a_measure_outside_the_list_without_a_law_is_refused() -> None:
    (problem,) = lint(BOOK)
    assert problem.startswith("measures[0].actions[1]: measure extra-sanction: ")
    assert f"action {OUTSIDE} is not on the national basic list" in problem
    assert "(2021 edition)" in problem and "cites no law" in problem
    assert "Guobanfa [2020] No. 49" in problem
    assert "public_procurement" not in problem  # on the list: not named


def test_every_action_outside_the_list_is_named() -> None:
    problems = lint(book(actions=[OUTSIDE, "public_bidding", "mandatory_apology"]))
    assert [p.split(":")[0] for p in problems] == [
        "measures[0].actions[0]",
        "measures[0].actions[2]",
    ]
    assert f"action {OUTSIDE} " in problems[0] and "action mandatory_apology " in problems[1]


def test_the_same_measure_citing_a_law_passes() -> None:
    basis = [
        {"instrument": "Guofa [2016] No. 33"},
        {"instrument": "Government Procurement Law of the PRC", "article": "22"},
    ]
    assert lint(book(legal_basis=basis)) == []


@pytest.mark.parametrize(
    "basis",
    [
        [{"instrument": "Government Procurement Law of the PRC"}],  # no article
        [
            {
                "instrument": "Interim Regulations on Enterprise Information Publicity",
                "article": "18",
            }
        ],
        [{"instrument": "Guobanfa [2020] No. 49", "article": "3"}],
    ],
)
def test_what_is_not_a_law_does_not_lift_the_refusal(basis: list[dict[str, str]]) -> None:
    (problem,) = lint(book(legal_basis=basis))
    assert f"action {OUTSIDE} is not on the national basic list" in problem


def test_a_measure_on_the_list_passes() -> None:
    actions = ["public_procurement", "public_bidding", "priority_random_inspection"]
    assert lint(book(actions=actions)) == []


def test_incentives_are_not_held_to_the_sanction_list() -> None:
    assert lint(book(kind="incentive", actions=["green_channel", OUTSIDE])) == []


def test_another_list_may_be_given() -> None:
    data = yaml.safe_load(NATIONAL_MEASURES_PATH.read_text(encoding="utf-8"))
    data["measures"][-1]["actions"] = [OUTSIDE]
    national = parse_national_list(yaml.safe_dump(data, allow_unicode=True))
    rulebook = Rulebook.model_validate(BOOK)
    assert lint_rulebook(rulebook, national_catalogue(), national) == []


# ── the shipped rulebooks and the CLI ───────────────────────────────────────────────────


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_every_shipped_rulebook_passes(path: Path) -> None:
    rulebook = Rulebook.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    assert [str(p) for p in lint_rulebook(rulebook, national_catalogue())] == []


def test_the_inspection_measure_no_longer_rests_on_art_18() -> None:
    path = next(p for p in SHIPPED if p.stem == "cn-market-abnormal-operations")
    rulebook = Rulebook.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    measures = {m.id: m for m in rulebook.measures}
    inspection = measures["abnormal-stricter-inspection"]
    assert not any(b.article == "18" for b in inspection.legal_basis)
    procurement = measures["no-public-procurement"]
    assert any("654" in b.instrument and b.article == "18" for b in procurement.legal_basis)


def test_cli_validate_refuses_it(tmp_path: Path) -> None:
    path = tmp_path / "extra.yaml"
    path.write_text(yaml.safe_dump(BOOK, allow_unicode=True, sort_keys=False), encoding="utf-8")
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 1, result.output
    assert f"INVALID {path}: 1 problem(s)" in result.output
    line = next(n for n, text in enumerate(path.read_text().splitlines(), 1) if OUTSIDE in text)
    assert (
        f"{path}: measures[0].actions[1] (line {line}): measure extra-sanction: action "
        f"{OUTSIDE} is not on the national basic list of dishonesty sanction measures "
        "(2021 edition) and the measure cites no law that provides it"
    ) in result.output.replace("\n  ", " ").replace("\n", " ")


def test_cli_validate_passes_it_with_a_law(tmp_path: Path) -> None:
    path = tmp_path / "lawful.yaml"
    data = book(
        legal_basis=[{"instrument": "Government Procurement Law of the PRC", "article": "22"}]
    )
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 0, result.output
    assert f"OK {path}" in result.output
