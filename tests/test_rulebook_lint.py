"""The legality lint: every reject path, with its message."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from trustledger.catalogue import national_catalogue
from trustledger.rulebook.lint import Problem, lint_rulebook
from trustledger.rulebook.load import validate_rulebook_file
from trustledger.rulebook.schema import Rulebook

BASE: dict[str, Any] = {
    "id": "test-book",
    "version": "1",
    "title": "Test rulebook",
    "authority": "Test authority",
    "legal_basis": [{"instrument": "Guofa [2016] No. 33"}],
    "sources": ["regimes.md §1"],
    "effective": {"from": "2024-01-01"},
    "subject_kinds": ["enterprise", "person"],
    "treatments": [
        {
            "select": {"codes": ["MKT-PENALTY-SERIOUS"]},
            "publicity": {"min": "1y", "max": "3y"},
            "legal_basis": [{"instrument": "NDRC Order No. 58 (2023)"}],
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


def lint(**changes: Any) -> list[str]:
    data = copy.deepcopy(BASE)
    data.update(changes)
    return [str(p) for p in lint_rulebook(Rulebook.model_validate(data), national_catalogue())]


def with_list(**changes: Any) -> dict[str, Any]:
    return {"lists": [dict(copy.deepcopy(BASE["lists"][0]), **changes)]}


def with_measure(**changes: Any) -> dict[str, Any]:
    return {"measures": [dict(copy.deepcopy(BASE["measures"][0]), **changes)]}


def with_treatment(**changes: Any) -> dict[str, Any]:
    return {"treatments": [dict(copy.deepcopy(BASE["treatments"][0]), **changes)]}


def test_base_is_clean() -> None:
    assert lint() == []


@pytest.mark.parametrize(
    ("title", "term", "ground"),
    [
        ("Persistent petitioners", "petitioners", "petitioning"),
        ("上访人员名单", "上访", "petitioning"),
        ("Religious activity list", "Religious", "religion"),
    ],
)
def test_list_on_prohibited_ground(title: str, term: str, ground: str) -> None:
    assert lint(**with_list(title=title)) == [
        f"lists[0]: list serious: prohibited ground '{ground}' (matched '{term}' in title)"
    ]


def test_prohibited_ground_in_list_id_and_condition() -> None:
    problems = lint(**with_list(id="petitioners", when="count(category == 'SOC-PETITION') >= 1"))
    assert (
        "lists[0]: list petitioners: prohibited ground 'petitioning' (matched 'petitioners' in id)"
        in problems
    )
    assert any("(matched 'PETITION' in when)" in p for p in problems)
    assert any("unknown category code(s) SOC-PETITION" in p for p in problems)


def test_declared_ground_refused() -> None:
    assert lint(**with_measure(grounds=["Petitioning"])) == [
        "measures[0]: measure no-procurement: prohibited ground 'petitioning' "
        "(declared as 'Petitioning' in grounds)"
    ]


def test_prohibited_ground_in_measure_action() -> None:
    (problem,) = lint(**with_measure(actions=["relatives_conduct_check"]))
    assert problem.startswith("measures[0]: measure no-procurement: prohibited ground")


def test_measure_without_end() -> None:
    assert lint(**with_measure(duration=None)) == [
        "measures[0]: measure no-procurement: has no end; give a duration (e.g. 3y) or "
        "until_removed: true (measures are bounded in time, principle 5)"
    ]


def test_until_removed_is_an_end() -> None:
    assert lint(**with_measure(duration=None, until_removed=True)) == []


def test_publicity_over_tier_maximum() -> None:
    assert lint(**with_treatment(publicity={"min": "1y", "max": "5y"})) == [
        "treatments[0].publicity.max: treatment (codes MKT-PENALTY-SERIOUS): publicity max 5y "
        "exceeds the 3 years maximum for serious records (default tier of "
        "MKT-PENALTY-SERIOUS) (NDRC Order No. 36); cite publicity_override to go beyond it"
    ]


def test_publicity_under_tier_minimum() -> None:
    assert lint(**with_treatment(publicity={"min": "6m", "max": "3y"})) == [
        "treatments[0].publicity.min: treatment (codes MKT-PENALTY-SERIOUS): publicity min 6m "
        "is under the 1 year minimum for serious records (default tier of "
        "MKT-PENALTY-SERIOUS) (NDRC Order No. 36); cite publicity_override to go below it"
    ]


def test_publicity_in_days_checked_against_shortest_months() -> None:
    (problem,) = lint(
        **with_treatment(
            select={"codes": ["MKT-PENALTY-MINOR"]}, publicity={"min": "1d", "max": "92d"}
        )
    )
    assert "publicity max 92d exceeds the 3 months maximum for minor records" in problem


def test_tier_override_sets_the_bounds() -> None:
    (problem,) = lint(**with_treatment(tier="general"))
    assert (
        "publicity max 3y exceeds the 1 year maximum for general records (tier override)" in problem
    )


def test_publicity_override_allows_going_beyond() -> None:
    override = {"instrument": "SAMR Order No. 44 (2021)"}
    assert (
        lint(**with_treatment(publicity={"min": "1y", "max": "6y"}, publicity_override=override))
        == []
    )


def test_missing_legal_basis_everywhere() -> None:
    data = with_list(legal_basis=[])
    data.update(with_measure(legal_basis=[]))
    data.update(with_treatment(legal_basis=[]))
    assert lint(legal_basis=[], **data) == [
        "(top level): rulebook test-book: no legal basis",
        "treatments[0]: treatment (codes MKT-PENALTY-SERIOUS): no legal basis",
        "lists[0]: list serious: no legal basis",
        "measures[0]: measure no-procurement: no legal basis",
    ]


def test_unknown_category() -> None:
    assert lint(**with_treatment(select={"codes": ["MKT-PENALTY-SERIOUS", "NO-SUCH-CODE"]})) == [
        "treatments[0].select.codes: treatment (codes MKT-PENALTY-SERIOUS, NO-SUCH-CODE): "
        "unknown category code(s) NO-SUCH-CODE (not in catalogue cn-national)"
    ]


def test_selection_matching_nothing() -> None:
    (problem,) = lint(**with_treatment(select={"domain": "judicial", "tier": "minor"}))
    assert problem == (
        "treatments[0].select: treatment (domain judicial; tier minor): "
        "selects no category of cn-national"
    )


def test_measure_list_must_exist() -> None:
    assert lint(**with_measure(list="nowhere")) == [
        "measures[0].list: measure no-procurement: list nowhere is not defined"
    ]


def test_measure_kinds_within_rulebook_kinds() -> None:
    assert lint(**with_measure(subject_kinds=["enterprise", "cooperative"])) == [
        "measures[0].subject_kinds: measure no-procurement: subject kind(s) cooperative not "
        "covered by the rulebook's subject_kinds"
    ]


def test_measure_on_persons_from_a_list_counting_any_record() -> None:
    data = with_list(when="count() >= 1")
    data.update(with_measure(subject_kinds=["person"]))
    (problem,) = lint(**data)
    assert problem.startswith(
        "measures[0].subject_kinds: measure no-procurement: applies to person, but list "
        "serious counts records without restricting their category, domain or tier (count())"
    )
    assert "court judgments or administrative penalties" in problem


def test_measure_on_persons_or_makes_it_unrestricted() -> None:
    data = with_list(when="count(category == 'MKT-PENALTY-SERIOUS' or polarity == 'negative') > 0")
    data.update(with_measure(subject_kinds=["person"]))
    (problem,) = lint(**data)
    assert "without restricting their category" in problem


def test_measure_on_persons_from_categories_not_about_persons() -> None:
    data = {
        "treatments": [
            copy.deepcopy(BASE["treatments"][0]),
            {
                "select": {"codes": ["TAX-MAJOR-VIOLATION"]},
                "publicity": {"min": "1y", "max": "3y"},
                "legal_basis": [{"instrument": "NDRC Order No. 58 (2023)"}],
            },
        ]
    }
    data.update(with_list(when="count(tier == 'serious') >= 1"))
    data.update(with_measure(subject_kinds=["person"]))
    (problem,) = lint(**data)
    assert "counts categories that do not concern persons (TAX-MAJOR-VIOLATION)" in problem


def test_measure_on_persons_from_a_list_counting_no_record() -> None:
    data = with_list(when="kind == 'person'")
    data.update(with_measure(subject_kinds=["person"]))
    (problem,) = lint(**data)
    assert "the condition of list serious counts no record" in problem


def test_measure_on_persons_from_person_categories_is_lawful() -> None:
    data = with_list(when="count(category in ['MKT-PENALTY-SERIOUS'] and age < 400) >= 1")
    data.update(with_measure(subject_kinds=["enterprise", "person"]))
    assert lint(**data) == []


def test_every_problem_is_reported() -> None:
    data = with_list(title="上访人员", legal_basis=[])
    data.update(with_measure(duration=None, list="nowhere"))
    data.update(with_treatment(publicity={"min": "1y", "max": "4y"}))
    assert len(lint(**data)) == 5


def test_problem_str_names_path() -> None:
    assert str(Problem(("measures", 1, "list"), "x")) == "measures[1].list: x"
    assert str(Problem((), "x")) == "(top level): x"


def test_file_problems_carry_lines(tmp_path: Path) -> None:
    data = copy.deepcopy(BASE)
    data["measures"][0]["duration"] = None
    path = tmp_path / "book.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    (problem,) = validate_rulebook_file(path, national_catalogue())
    assert problem.startswith(f"{path}: measures[0] (line ")
    assert "measure no-procurement: has no end" in problem


def test_a_restriction_with_its_article_may_extend_to_the_legal_representative() -> None:
    assert lint(**with_measure(extends_to=["legal_representative"])) == []


def test_extension_rejects() -> None:
    assert lint(**with_measure(extends_to=["legal_representative"], kind="incentive")) == [
        "measures[0].extends_to: measure no-procurement: only a restriction may extend to persons"
    ]
    no_article = [{"instrument": "Government Procurement Law"}]
    assert lint(**with_measure(extends_to=["legal_representative"], legal_basis=no_article)) == [
        "measures[0].extends_to: measure no-procurement: extending a measure to persons needs "
        "the article of law that does so in its legal_basis"
    ]
    assert lint(
        **with_measure(
            extends_to=["legal_representative"], subject_kinds=["person"], list="serious"
        )
    ) == [
        "measures[0].extends_to: measure no-procurement: extends to the persons of an "
        "organisation, but applies to no organisation kind"
    ]
    with pytest.raises(ValueError, match="extends_to"):
        lint(**with_measure(extends_to=["cousin"]))


MONITORING: dict[str, Any] = {
    "category": "ENV-EXCEEDANCE-AUTOMATED",
    "episode_min_hours": 5,
    "legal_basis": [{"instrument": "Environmental Protection Law", "article": "42"}],
    "limit_sets": [
        {
            "id": "ultra-low",
            "title": "Ultra-low emission",
            "reference_o2": 6,
            "limits": {"02": 35, "a21002": 50},  # a 2005 code is accepted and mapped
            "legal_basis": [{"instrument": "Huanfa [2015] No. 164"}],
        }
    ],
}


def with_monitoring(**changes: Any) -> dict[str, Any]:
    return {"monitoring": dict(copy.deepcopy(MONITORING), **changes)}


def test_a_monitoring_section_with_its_legal_basis_is_clean() -> None:
    assert lint(**with_monitoring()) == []
    data = dict(copy.deepcopy(BASE), **with_monitoring())
    limits = Rulebook.model_validate(data).monitoring.limit_sets[0].limits  # type: ignore[union-attr]
    assert limits == {"a21026": 35, "a21002": 50}  # "02" is SO₂ in the 2005 dialect


def test_monitoring_rejects() -> None:
    assert lint(**with_monitoring(category="MKT-PENALTY-SERIOUS")) == [
        "monitoring.category: monitoring: category MKT-PENALTY-SERIOUS is not an automated "
        "category (records from monitoring data wait for a person's confirmation)"
    ]
    assert lint(**with_monitoring(category="NOPE")) == [
        "monitoring.category: monitoring: unknown category NOPE"
    ]
    assert any("legal basis" in p for p in lint(**with_monitoring(legal_basis=[])))
    unbased = [dict(MONITORING["limit_sets"][0], legal_basis=[])]
    assert any(p.startswith("monitoring.limit_sets[0]") for p in
               lint(**with_monitoring(limit_sets=unbased)))  # fmt: skip


@pytest.mark.parametrize(
    ("limit_set", "message"),
    [
        ({"limits": {"zz999": 1}}, "'zz999' is not a pollutant code"),
        ({"limits": {"a21026": 0}}, "a21026 must be above 0"),
        ({"limits": {"a21026": 35, "02": 100}}, "a21026 is given twice"),
        ({"limits": {}}, "limits"),
        ({"reference_o2": 21}, "reference_o2"),
        ({"averaging": "weekly"}, "averaging"),
    ],
)
def test_limit_set_schema_rejects(limit_set: dict[str, Any], message: str) -> None:
    bad = [dict(MONITORING["limit_sets"][0], **limit_set)]
    with pytest.raises(ValueError, match=message):
        lint(**with_monitoring(limit_sets=bad))


def test_limit_set_ids_are_unique() -> None:
    twice = [MONITORING["limit_sets"][0], MONITORING["limit_sets"][0]]
    with pytest.raises(ValueError, match="limit set ids"):
        lint(**with_monitoring(limit_sets=twice))
