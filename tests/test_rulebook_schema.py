"""Rulebook schema and loader: shape, conditions, strict YAML, and the shipped files."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from trustledger.catalogue import national_catalogue
from trustledger.rulebook.durations import Duration
from trustledger.rulebook.load import (
    RulebookError,
    load_rulebook,
    parse_rulebook,
    validate_rulebook_file,
)
from trustledger.rulebook.schema import (
    GradesScore,
    PointsScore,
    Rulebook,
    compare_durations,
    duration_span_days,
)

RULEBOOKS = Path(__file__).resolve().parent.parent / "trustledger" / "rulebooks_shipped"
SHIPPED = sorted(RULEBOOKS.glob("*.yaml"))

BASE: dict[str, Any] = {
    "id": "test-book",
    "version": "1",
    "title": "Test rulebook",
    "authority": "Test authority",
    "legal_basis": [{"instrument": "Guofa [2016] No. 33"}],
    "sources": ["regimes.md §1"],
    "effective": {"from": "2024-01-01", "until": None},
    "scope": {"division_prefix": ""},
    "subject_kinds": ["enterprise"],
    "treatments": [
        {
            "select": {"codes": ["MKT-PENALTY-SERIOUS"]},
            "publicity": {"min": "1y", "max": "3y"},
            "legal_basis": [{"instrument": "NDRC Order No. 58 (2023)"}],
        }
    ],
    "score": {"form": "none"},
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
            "id": "no-procurement",
            "kind": "restriction",
            "list": "serious",
            "actions": ["public_procurement"],
            "subject_kinds": ["enterprise"],
            "duration": "3y",
            "legal_basis": [{"instrument": "Government Procurement Law", "article": 22}],
            "agency": "财政部门",
        }
    ],
}


def book(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(BASE)
    data.update(changes)
    return data


def problems_of(data: dict[str, Any] | str) -> list[str]:
    text = data if isinstance(data, str) else yaml.safe_dump(data, allow_unicode=True)
    with pytest.raises(RulebookError) as info:
        parse_rulebook(text, "t.yaml")
    return info.value.problems


def test_the_shipped_rulebooks() -> None:
    assert {path.name for path in SHIPPED} == {
        "cn-national-admin-penalty.yaml",
        # issue 12, item 1: the same regime as it stood before 2026-04-01
        "cn-national-admin-penalty-2023.yaml",
        "cn-spc-dishonest-debtors.yaml",
        "cn-market-abnormal-operations.yaml",
        "cn-environmental-credit.yaml",
        "cn-rongcheng-points.yaml",
        "cn-records-only-province.yaml",
        # issue 12, item 5: tax and customs credit grades
        "cn-tax-credit.yaml",
        "cn-customs-credit.yaml",
        # issue 12, item 4: rail and air travel restrictions on persons
        "cn-rail-air-travel-restrictions.yaml",
    }


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_shipped_rulebook_validates_clean(path: Path) -> None:
    assert validate_rulebook_file(path, national_catalogue()) == []
    rulebook = load_rulebook(path)
    # a file is named by its id; an earlier version of a regime (one with an end) by its
    # id and the year it took effect
    if rulebook.effective.until is None:
        assert rulebook.id == path.stem
    else:
        assert path.stem == f"{rulebook.id}-{rulebook.effective.from_.year}"
    assert rulebook.sources and rulebook.legal_basis


def test_rongcheng_parameters() -> None:
    rulebook = load_rulebook(RULEBOOKS / "cn-rongcheng-points.yaml")
    assert isinstance(rulebook.score, PointsScore)
    assert rulebook.score.base == 1000
    assert [(b.grade, b.min) for b in rulebook.score.bands] == [
        ("AAA", 1050),
        ("AA", 1030),
        ("A", 960),
        ("B", 850),
        ("C", 600),
        ("D", None),
    ]
    assert rulebook.scope.division_prefix == "371082"
    assert any("unconfirmed" in source for source in rulebook.sources)


def test_environmental_grades_parsed() -> None:
    rulebook = load_rulebook(RULEBOOKS / "cn-environmental-credit.yaml")
    assert isinstance(rulebook.score, GradesScore)
    grades = [rule.grade for rule in rulebook.score.rules]
    assert grades == ["red", "yellow", "blue", "green", "unrated"]


def test_minimal_rulebook_parses_and_keeps_conditions_parsed() -> None:
    rulebook = Rulebook.model_validate(book())
    assert rulebook.lists[0].when.text.startswith("count(")
    assert rulebook.lists[0].when.tree is not None
    assert rulebook.treatments[0].publicity.max == Duration(3, "y")
    assert rulebook.measures[0].legal_basis[0].article == "22"
    assert rulebook.effective.from_.year == 2024


def test_json_round_trip() -> None:
    rulebook = Rulebook.model_validate(book())
    dumped = rulebook.model_dump(mode="json", by_alias=True)
    assert dumped["lists"][0]["when"] == BASE["lists"][0]["when"]
    assert dumped["treatments"][0]["publicity"] == {"min": "1y", "max": "3y"}
    assert dumped["effective"]["from"] == "2024-01-01"
    assert Rulebook.model_validate(dumped) == rulebook


def test_condition_type_error_names_path_and_column() -> None:
    data = book()
    data["lists"][0]["when"] = "count(category == 'MKT-PENALTY-SERIOUS') + 1"
    (problem,) = problems_of(data)
    assert problem.startswith("t.yaml: lists[0].when (line ")
    assert "column " in problem
    assert "bool" in problem


def test_condition_error_column_in_third_list() -> None:
    data = book()
    second = copy.deepcopy(data["lists"][0])
    data["lists"] += [dict(second, id="b"), dict(second, id="c", when="count() >= 'x'")]
    (problem,) = problems_of(data)
    assert problem.startswith("t.yaml: lists[2].when (line ")
    assert ": column " in problem


def test_grade_rule_condition_error_path_has_no_form_tag() -> None:
    data = book(score={"form": "grades", "rules": [{"grade": "red", "when": "grade == 'red'"}]})
    (problem,) = problems_of(data)
    assert problem.startswith("t.yaml: score.rules[0].when (line ")


def test_megabyte_condition_is_refused_cleanly() -> None:
    data = book()
    # half a megabyte: a whole file over a megabyte is refused before parsing (test_yamlfile)
    data["lists"][0]["when"] = "count() >= 1 or " * 32000 + "true"
    (problem,) = problems_of(data)
    assert "lists[0].when" in problem
    assert "at most 4,096" in problem
    assert len(problem) < 300


def test_bands_out_of_order() -> None:
    bands = [
        {"grade": "A", "min": 900},
        {"grade": "B", "min": 950},
        {"grade": "C", "min": None},
    ]
    data = book(score={"form": "points", "base": 1000, "bands": bands})
    (problem,) = problems_of(data)
    assert problem.startswith("t.yaml: score.bands (line ")
    assert "bands[1] (B): min 950 must be below 900 (A); bands are ordered highest first" in problem


def test_bands_last_must_be_open() -> None:
    bands = [{"grade": "A", "min": 900}, {"grade": "B", "min": 100}]
    (problem,) = problems_of(book(score={"form": "percent", "bands": bands}))
    assert "bands[1] (B): the last band must have min null" in problem


def test_bands_null_only_last() -> None:
    bands = [{"grade": "A", "min": None}, {"grade": "B", "min": None}]
    (problem,) = problems_of(book(score={"form": "points", "base": 0, "bands": bands}))
    assert "bands[0] (A): only the last band may have min null" in problem


def test_unknown_score_form() -> None:
    (problem,) = problems_of(book(score={"form": "stars"}))
    assert problem.startswith("t.yaml: score (line ")
    assert "form must be one of none, points, percent, grades" in problem


def test_points_need_a_points_form() -> None:
    data = book()
    data["treatments"][0]["points"] = -5
    (problem,) = problems_of(data)
    assert "treatments[0]: points must be 0 when the score form is 'none'" in problem


def test_selection_needs_a_criterion() -> None:
    data = book()
    data["treatments"][0]["select"] = {}
    (problem,) = problems_of(data)
    assert "treatments[0].select" in problem
    assert "select needs at least one of codes, domain, tier" in problem


def test_publicity_min_after_max() -> None:
    data = book()
    data["treatments"][0]["publicity"] = {"min": "2y", "max": "1y"}
    (problem,) = problems_of(data)
    assert "treatments[0].publicity" in problem
    assert "min 2y may be longer than max 1y" in problem


def test_bad_duration() -> None:
    data = book()
    data["measures"][0]["duration"] = "three years"
    (problem,) = problems_of(data)
    assert problem.startswith("t.yaml: measures[0].duration (line ")
    assert "invalid duration" in problem


def test_duration_and_until_removed_together() -> None:
    data = book()
    data["measures"][0]["until_removed"] = True
    (problem,) = problems_of(data)
    assert "give either a duration or until_removed: true, not both" in problem


def test_unknown_field_and_missing_field() -> None:
    data = book(colour="red")
    del data["authority"]
    problems = problems_of(data)
    assert "t.yaml: authority (line 1): missing field 'authority'" in problems
    assert any("colour (line 1): unknown field 'colour'" in p for p in problems)


def test_repeated_list_ids() -> None:
    data = book()
    data["lists"].append(copy.deepcopy(data["lists"][0]))
    (problem,) = problems_of(data)
    assert "repeated list ids: serious" in problem


def test_malformed_yaml_reports_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("id: x\nversion: '1'\ntitle: [unclosed\nauthority: y\n", encoding="utf-8")
    (problem,) = validate_rulebook_file(path, national_catalogue())
    assert problem.startswith(f"{path}: line ")
    assert "malformed YAML" in problem


def test_malformed_yaml_line_number(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("id: x\nversion: '1'\ntitle: a\n  nested: b\n", encoding="utf-8")
    (problem,) = validate_rulebook_file(path, national_catalogue())
    assert problem.startswith(f"{path}: line 4, column ")


def test_duplicate_key_reports_line(tmp_path: Path) -> None:
    path = tmp_path / "dup.yaml"
    path.write_text("id: x\nversion: '1'\nid: y\n", encoding="utf-8")
    (problem,) = validate_rulebook_file(path, national_catalogue())
    assert problem == f"{path}: line 3, column 1: malformed YAML: duplicate key 'id'"


def test_not_a_mapping() -> None:
    (problem,) = problems_of("- a\n- b\n")
    assert problem == "t.yaml: (top level): a rulebook must be a YAML mapping"


def test_unreadable_file(tmp_path: Path) -> None:
    (problem,) = validate_rulebook_file(tmp_path / "absent.yaml", national_catalogue())
    assert "cannot read" in problem


def test_duration_comparison() -> None:
    assert compare_durations(Duration(12, "m"), Duration(1, "y")) == 0
    assert compare_durations(Duration(13, "m"), Duration(1, "y")) == 1
    assert compare_durations(Duration(89, "d"), Duration(3, "m")) == -1
    # 92 days is longer than some 3-month spans (February to April is 89 days).
    assert compare_durations(Duration(92, "d"), Duration(3, "m")) == 1
    assert duration_span_days(Duration(1, "y")) == (365, 366)
