"""The record catalogue: shipped national file, validation and the CLI."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from trustledger.catalogue import (
    NATIONAL_CATALOGUE_PATH,
    Catalogue,
    CatalogueError,
    Category,
    load_catalogue,
    national_catalogue,
    parse_catalogue,
)
from trustledger.cli.catalogue import app
from trustledger.domain import AuthorityType, Domain, Polarity, SubjectKind, Tier

ORG_KINDS = {
    SubjectKind.ENTERPRISE,
    SubjectKind.INDIVIDUAL_BUSINESS,
    SubjectKind.COOPERATIVE,
    SubjectKind.PUBLIC_INSTITUTION,
    SubjectKind.SOCIAL_ORGANISATION,
    SubjectKind.OTHER_ORGANISATION,
}
P = SubjectKind.PERSON

# code → (domain, polarity, tier or None, authorities that must be allowed, kinds that must
# be covered); the contract other modules (intake, demo) rely on.
REQUIRED: dict[str, tuple[str, str, str | None, set[str], set[SubjectKind]]] = {
    "TAX-PENALTY-GENERAL": (
        "tax",
        "negative",
        "general",
        {"tax"},
        {
            SubjectKind.ENTERPRISE,
            SubjectKind.INDIVIDUAL_BUSINESS,
            SubjectKind.COOPERATIVE,
            SubjectKind.SOCIAL_ORGANISATION,
            P,
        },
    ),
    "TAX-MAJOR-VIOLATION": ("tax", "negative", "serious", {"tax"}, {SubjectKind.ENTERPRISE}),
    "TAX-A-GRADE": ("tax", "positive", None, {"tax"}, {SubjectKind.ENTERPRISE}),
    "MKT-PENALTY-MINOR": ("market", "negative", "minor", {"market_regulation"}, ORG_KINDS | {P}),
    "MKT-PENALTY-GENERAL": (
        "market",
        "negative",
        "general",
        {"market_regulation"},
        ORG_KINDS | {P},
    ),
    "MKT-PENALTY-SERIOUS": (
        "market",
        "negative",
        "serious",
        {"market_regulation"},
        ORG_KINDS | {P},
    ),
    **{
        f"MKT-ABNORMAL-{suffix}": (
            "market",
            "negative",
            "general",
            {"market_regulation"},
            {SubjectKind.ENTERPRISE, SubjectKind.INDIVIDUAL_BUSINESS, SubjectKind.COOPERATIVE},
        )
        for suffix in ("NO-REPORT", "NO-PUBLICATION", "FALSIFICATION", "UNREACHABLE")
    },
    "MKT-SERIOUS-DISHONEST": (
        "market",
        "negative",
        "serious",
        {"market_regulation"},
        {SubjectKind.ENTERPRISE},
    ),
    "MKT-CONTRACT-HONOURING": (
        "market",
        "positive",
        None,
        {"market_regulation"},
        {SubjectKind.ENTERPRISE},
    ),
    "ENV-PENALTY-GENERAL": (
        "environment",
        "negative",
        "general",
        {"ecology_environment"},
        ORG_KINDS,
    ),
    "ENV-PENALTY-SERIOUS": (
        "environment",
        "negative",
        "serious",
        {"ecology_environment"},
        ORG_KINDS,
    ),
    "ENV-MAJOR-INCIDENT": (
        "environment",
        "negative",
        "serious",
        {"ecology_environment"},
        {SubjectKind.ENTERPRISE, SubjectKind.PUBLIC_INSTITUTION},
    ),
    "ENV-EXCEEDANCE-AUTOMATED": (
        "environment",
        "negative",
        "general",
        {"monitoring", "ecology_environment"},
        {SubjectKind.ENTERPRISE, SubjectKind.PUBLIC_INSTITUTION},
    ),
    "FOOD-PENALTY-GENERAL": (
        "food_safety",
        "negative",
        "general",
        {"market_regulation"},
        ORG_KINDS | {P},
    ),
    "FOOD-PENALTY-SERIOUS": (
        "food_safety",
        "negative",
        "serious",
        {"market_regulation"},
        ORG_KINDS | {P},
    ),
    "DRUG-PENALTY-SERIOUS": (
        "drugs",
        "negative",
        "serious",
        {"drug_administration"},
        {SubjectKind.ENTERPRISE},
    ),
    "LAB-WAGE-ARREARS": (
        "labour",
        "negative",
        "serious",
        {"human_resources"},
        {SubjectKind.ENTERPRISE, SubjectKind.INDIVIDUAL_BUSINESS, P},
    ),
    "LAB-PENALTY-GENERAL": ("labour", "negative", "general", {"human_resources"}, ORG_KINDS),
    "SAFE-PENALTY-GENERAL": (
        "work_safety",
        "negative",
        "general",
        {"emergency_management"},
        {SubjectKind.ENTERPRISE},
    ),
    "SAFE-SERIOUS-DISHONEST": (
        "work_safety",
        "negative",
        "serious",
        {"emergency_management"},
        {SubjectKind.ENTERPRISE},
    ),
    "PROC-DEBARMENT": (
        "procurement",
        "negative",
        "serious",
        {"finance_bureau"},
        {SubjectKind.ENTERPRISE, SubjectKind.SOCIAL_ORGANISATION},
    ),
    "CONS-PENALTY-GENERAL": (
        "construction",
        "negative",
        "general",
        {"housing_construction"},
        {SubjectKind.ENTERPRISE},
    ),
    "CUS-PENALTY-GENERAL": (
        "customs",
        "negative",
        "general",
        {"customs"},
        {SubjectKind.ENTERPRISE},
    ),
    "CUS-AEO-ADVANCED": ("customs", "positive", None, {"customs"}, {SubjectKind.ENTERPRISE}),
    **{
        f"JUD-DEBTOR-G{n}": ("judicial", "negative", "serious", {"court"}, ORG_KINDS | {P})
        for n in range(1, 7)
    },
    "JUD-CONSUMPTION-RESTRICTION": ("judicial", "negative", "serious", {"court"}, ORG_KINDS | {P}),
    "FIN-PENALTY-GENERAL": (
        "finance",
        "negative",
        "general",
        {"finance_regulation"},
        {SubjectKind.ENTERPRISE},
    ),
    "STAT-FRAUD-SERIOUS": (
        "statistics",
        "negative",
        "serious",
        {"statistics"},
        {SubjectKind.ENTERPRISE, SubjectKind.PUBLIC_INSTITUTION},
    ),
    "TOUR-PENALTY-GENERAL": (
        "culture_tourism",
        "negative",
        "general",
        {"culture_tourism"},
        {SubjectKind.ENTERPRISE, SubjectKind.INDIVIDUAL_BUSINESS},
    ),
    "HON-COMMENDATION": ("honours", "positive", "general", {"development_reform"}, ORG_KINDS),
}


def category_data(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "code": "TEST-PENALTY",
        "title": "Test penalty",
        "title_zh": "测试处罚",
        "description": "A fine imposed for a test violation.",
        "domain": "market",
        "polarity": "negative",
        "default_tier": "general",
        "subject_kinds": ["enterprise"],
        "authorities": ["market_regulation"],
        "legal_basis": [{"instrument": "Administrative Penalty Law (2021)", "article": "48"}],
    }
    data.update(overrides)
    return data


def catalogue_data(*categories: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": "test",
        "title": "Test catalogue",
        "version": "1",
        "categories": list(categories) or [category_data()],
    }


def problems_of(data: dict[str, Any]) -> list[str]:
    """Problems with their "(line N)" removed; line numbers are tested on hand-written YAML."""
    with pytest.raises(CatalogueError) as info:
        parse_catalogue(yaml.safe_dump(data, allow_unicode=True), "test.yaml")
    return [re.sub(r" \(line \d+\)", "", problem) for problem in info.value.problems]


# ── the shipped national catalogue ──────────────────────────────────────────────────────


def test_national_catalogue_loads_and_is_cached() -> None:
    catalogue = national_catalogue()
    assert catalogue is national_catalogue()
    assert catalogue.id == "cn-national"
    assert len(catalogue) == len(list(catalogue)) >= len(REQUIRED)


@pytest.mark.parametrize("code", sorted(REQUIRED))
def test_national_catalogue_has_required_category(code: str) -> None:
    domain, polarity, tier, authorities, kinds = REQUIRED[code]
    category = national_catalogue().get(code)
    assert category is not None and code in national_catalogue()
    assert category.domain == Domain(domain)
    assert category.polarity == Polarity(polarity)
    if tier is not None:
        assert category.default_tier == Tier(tier)
    assert {AuthorityType(a) for a in authorities} <= set(category.authorities)
    assert kinds <= set(category.subject_kinds)
    assert category.title and category.title_zh and category.description
    assert category.legal_basis and all(b.instrument for b in category.legal_basis)


def test_national_catalogue_scoping_rules() -> None:
    catalogue = national_catalogue()
    major = catalogue.get("TAX-MAJOR-VIOLATION")
    assert major is not None and not major.concerns_persons
    automated = [c.code for c in catalogue if c.automated]
    rates = [f"ENV-EMISSIONS-RATE-{band}" for band in ("HIGH", "FAIR", "LOW", "FAILING")]
    assert automated == ["ENV-EXCEEDANCE-AUTOMATED", *rates]
    # the compliance-rate bands are measurements that count at once; an exceedance waits
    assert [c.code for c in catalogue if c.measured] == rates
    for category in catalogue:
        if category.concerns_persons:
            assert not category.automated
            assert set(category.authorities) - {AuthorityType.MONITORING}


def test_judicial_grounds_cite_the_spc_provisions() -> None:
    for n in range(1, 7):
        category = national_catalogue().get(f"JUD-DEBTOR-G{n}")
        assert category is not None
        assert category.authorities == [AuthorityType.COURT]
        assert any(
            "Fashi [2013] No. 17" in b.instrument and b.article == f"1({n})"
            for b in category.legal_basis
        )


def test_catalogue_lookup_and_iteration() -> None:
    catalogue = national_catalogue()
    assert catalogue.get("NO-SUCH-CODE") is None
    assert "NO-SUCH-CODE" not in catalogue
    assert [c.code for c in catalogue] == list(catalogue.codes)


def test_load_catalogue_from_file_equals_national() -> None:
    assert load_catalogue(NATIONAL_CATALOGUE_PATH) == national_catalogue()


# ── models directly ─────────────────────────────────────────────────────────────────────


def test_category_model_refuses_missing_legal_basis() -> None:
    with pytest.raises(ValueError, match="category TEST-PENALTY: no legal basis"):
        Category.model_validate(category_data(legal_basis=[]))


def test_catalogue_model_accepts_a_valid_category() -> None:
    catalogue = Catalogue.model_validate(catalogue_data())
    assert "TEST-PENALTY" in catalogue


# ── reject paths with their messages ────────────────────────────────────────────────────


def test_no_legal_basis() -> None:
    problems = problems_of(catalogue_data(category_data(), category_data(code="B", legal_basis=[])))
    assert problems == ["categories[1].legal_basis: category B: no legal basis"]


def test_prohibited_ground_english_term() -> None:
    data = catalogue_data(
        category_data(code="SOC-CONDUCT", description="Deducted for petitioning officials.")
    )
    assert problems_of(data) == [
        "categories[0].description: category SOC-CONDUCT: prohibited ground "
        "'petitioning' (matched 'petitioning' in description)"
    ]


def test_prohibited_ground_chinese_term() -> None:
    data = catalogue_data(category_data(code="SOC-VISIT", title_zh="越级上访"))
    assert problems_of(data) == [
        "categories[0].title_zh: category SOC-VISIT: prohibited ground "
        "'petitioning' (matched '上访' in title_zh)"
    ]


def test_prohibited_ground_in_code() -> None:
    problems = problems_of(catalogue_data(category_data(code="SOC-PETITION")))
    assert len(problems) == 1
    assert "categories[0].code" in problems[0]
    assert (
        "category SOC-PETITION: prohibited ground 'petitioning' (matched 'PETITION' in code)"
        in (problems[0])
    )


def test_prohibited_ground_by_tag() -> None:
    problems = problems_of(catalogue_data(category_data(grounds=["tax", "religion"])))
    assert len(problems) == 1
    assert problems[0].startswith("categories[0].grounds: ")
    assert problems[0].endswith(
        "category TEST-PENALTY: prohibited ground 'religion' (declared as 'religion' in grounds)"
    )


def test_duplicate_code() -> None:
    problems = problems_of(catalogue_data(category_data(), category_data()))
    assert problems == [
        "categories: duplicate category code TEST-PENALTY (categories[0] and categories[1])"
    ]


def test_unknown_field() -> None:
    problems = problems_of(catalogue_data(category_data(colour="red")))
    assert len(problems) == 1
    assert problems[0].startswith("categories[0].colour: ")
    assert problems[0].endswith("unknown field 'colour'")


def test_unknown_top_level_field() -> None:
    data = catalogue_data()
    data["owner"] = "someone"
    assert problems_of(data) == ["owner: unknown field 'owner'"]


def test_bad_enum_value() -> None:
    problems = problems_of(catalogue_data(category_data(domain="gossip")))
    assert len(problems) == 1
    assert problems[0].startswith("categories[0].domain: ")
    assert "'tax'" in problems[0] and "(got 'gossip')" in problems[0]


def test_bad_enum_value_in_a_list() -> None:
    problems = problems_of(catalogue_data(category_data(subject_kinds=["enterprise", "alien"])))
    assert len(problems) == 1
    assert problems[0].startswith("categories[0].subject_kinds[1]: ")
    assert "(got 'alien')" in problems[0]


def test_missing_field() -> None:
    data = category_data()
    del data["title_zh"]
    problems = problems_of(catalogue_data(data))
    assert problems == ["categories[0].title_zh: missing field 'title_zh'"]


def test_bad_code_pattern() -> None:
    problems = problems_of(catalogue_data(category_data(code="tax penalty")))
    assert len(problems) == 1 and problems[0].startswith("categories[0].code: ")


def test_automated_person_category() -> None:
    data = category_data(
        code="ENV-X",
        domain="environment",
        subject_kinds=["enterprise", "person"],
        authorities=["monitoring", "ecology_environment"],
        automated=True,
    )
    problems = problems_of(catalogue_data(data))
    assert len(problems) == 1
    assert problems[0].startswith("categories[0].automated: ")
    assert problems[0].endswith("category ENV-X: an automated category may not concern persons")


def test_person_category_needs_a_court_or_penalty_authority() -> None:
    data = category_data(
        code="ENV-Y", subject_kinds=["person"], authorities=["monitoring"], automated=True
    )
    problems = problems_of(catalogue_data(data))
    assert any(
        "category ENV-Y: a category about persons needs a court or an authority that issues "
        "administrative penalties" in p
        for p in problems
    )


def test_positive_person_category_is_fine() -> None:
    data = category_data(polarity="positive", subject_kinds=["person"])
    parse_catalogue(yaml.safe_dump(catalogue_data(data)))


def test_monitoring_authority_only_in_automated_categories() -> None:
    problems = problems_of(catalogue_data(category_data(authorities=["monitoring"])))
    assert len(problems) == 1
    assert problems[0].endswith(
        "category TEST-PENALTY: authority 'monitoring' may issue only automated categories"
    )


def test_all_problems_are_listed_not_just_the_first() -> None:
    data = catalogue_data(
        category_data(code="A", legal_basis=[]),
        category_data(code="B", title="Religious conduct"),
        category_data(code="C", polarity="neutral"),
        category_data(
            code="D", subject_kinds=["person"], automated=True, authorities=["monitoring"]
        ),
    )
    problems = problems_of(data)
    paths = [p.split(":")[0] for p in problems]
    assert paths == [
        "categories[0].legal_basis",
        "categories[1].title",
        "categories[2].polarity",
        "categories[3].authorities",
        "categories[3].automated",
    ]


def test_error_message_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    text = HAND_WRITTEN.replace(", martian", "").replace(
        "legal_basis:\n      - instrument: Law\n", "legal_basis: []\n"
    )
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CatalogueError) as info:
        load_catalogue(path)
    assert str(info.value) == (
        f"{path}: categories[0].legal_basis (line 14): category TEST-PENALTY: no legal basis"
    )


HAND_WRITTEN = """\
id: hand
title: Hand-written
version: 1
categories:
  - code: TEST-PENALTY
    title: Test penalty
    title_zh: 测试处罚
    description: A fine imposed for a test violation.
    domain: market
    polarity: negative
    default_tier: general
    subject_kinds: [enterprise, martian]
    authorities: [market_regulation]
    legal_basis:
      - instrument: Law
"""


def test_problem_line_numbers_point_into_the_file() -> None:
    with pytest.raises(CatalogueError) as info:
        parse_catalogue(HAND_WRITTEN, "hand.yaml")
    [problem] = info.value.problems
    assert problem.startswith("categories[0].subject_kinds[1] (line 12): ")
    fixed = parse_catalogue(HAND_WRITTEN.replace(", martian", ""))
    assert fixed.version == "1"


def test_malformed_yaml_reports_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("id: x\ntitle: t\ncategories:\n  - code: [A\n    title: x\n", encoding="utf-8")
    with pytest.raises(CatalogueError) as info:
        load_catalogue(path)
    message = str(info.value)
    assert message.startswith(f"{path}: line ")
    assert "malformed YAML" in message
    assert info.value.problems[0].startswith("line 5, column")


def test_duplicate_yaml_key_reports_line() -> None:
    text = "id: x\ntitle: t\ntitle: u\nversion: '1'\ncategories: []\n"
    with pytest.raises(CatalogueError) as info:
        parse_catalogue(text, "dup.yaml")
    assert str(info.value).startswith("dup.yaml: line 3, column 1: malformed YAML: duplicate key")


def test_top_level_must_be_a_mapping() -> None:
    with pytest.raises(CatalogueError, match="must be a YAML mapping"):
        parse_catalogue("- a\n- b\n")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CatalogueError, match="cannot read"):
        load_catalogue(tmp_path / "absent.yaml")


def test_national_file_with_a_category_stripped_of_its_basis(tmp_path: Path) -> None:
    data = yaml.safe_load(NATIONAL_CATALOGUE_PATH.read_text(encoding="utf-8"))
    broken = copy.deepcopy(data)
    index = next(i for i, c in enumerate(broken["categories"]) if c["code"] == "PROC-DEBARMENT")
    broken["categories"][index]["legal_basis"] = []
    with pytest.raises(CatalogueError) as info:
        parse_catalogue(yaml.safe_dump(broken, allow_unicode=True))
    assert info.value.problems[0].startswith(f"categories[{index}].legal_basis")
    assert info.value.problems[0].endswith("category PROC-DEBARMENT: no legal basis")


# ── CLI ─────────────────────────────────────────────────────────────────────────────────

runner = CliRunner()


def write(tmp_path: Path, name: str, data: dict[str, Any]) -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def test_cli_validate_ok(tmp_path: Path) -> None:
    good = write(tmp_path, "good.yaml", catalogue_data())
    result = runner.invoke(app, ["validate", str(NATIONAL_CATALOGUE_PATH), str(good)])
    assert result.exit_code == 0, result.output
    assert f"OK {good}: 1 categories" in result.output
    assert f"{len(national_catalogue())} categories" in result.output


def test_cli_validate_invalid_lists_every_problem(tmp_path: Path) -> None:
    good = write(tmp_path, "good.yaml", catalogue_data())
    bad = write(
        tmp_path,
        "bad.yaml",
        catalogue_data(category_data(legal_basis=[]), category_data(code="B", title_zh="信访")),
    )
    result = runner.invoke(app, ["validate", str(good), str(bad)])
    assert result.exit_code == 1
    assert f"OK {good}" in result.output
    assert f"INVALID {bad}: 2 problem(s)" in result.output
    assert "categories[0].legal_basis" in result.output
    assert "category TEST-PENALTY: no legal basis" in result.output
    assert "prohibited ground 'petitioning' (matched '信访' in title_zh)" in result.output


def test_cli_validate_missing_file_fails(tmp_path: Path) -> None:
    result = runner.invoke(app, ["validate", str(tmp_path / "absent.yaml")])
    assert result.exit_code == 1
    assert "cannot read" in result.output


def test_cli_validate_json(tmp_path: Path) -> None:
    bad = write(tmp_path, "bad.yaml", catalogue_data(category_data(legal_basis=[])))
    result = runner.invoke(app, ["validate", "--json", str(bad)])
    assert result.exit_code == 1
    [entry] = json.loads(result.output)
    assert entry["ok"] is False
    assert entry["problems"][0].endswith("no legal basis")


def test_cli_show_national() -> None:
    result = runner.invoke(app, ["show"], terminal_width=200)
    assert result.exit_code == 0, result.output
    for code in ("TAX-PENALTY-GENERAL", "JUD-DEBTOR-G6", "ENV-EXCEEDANCE-AUTOMATED"):
        assert code in result.output


def test_cli_show_file_and_invalid_file(tmp_path: Path) -> None:
    good = write(tmp_path, "good.yaml", catalogue_data())
    result = runner.invoke(app, ["show", str(good)], terminal_width=200)
    assert result.exit_code == 0 and "TEST-PENALTY" in result.output
    bad = write(tmp_path, "bad.yaml", catalogue_data(category_data(legal_basis=[])))
    result = runner.invoke(app, ["show", str(bad)])
    assert result.exit_code == 1 and "no legal basis" in result.output


def test_cli_no_args_shows_help() -> None:
    result = runner.invoke(app, [])
    assert "validate" in result.output and "show" in result.output


def test_problems_name_the_category_even_when_its_code_is_refused() -> None:
    data = catalogue_data(category_data(code="SOC-PETITION", title="上访人员"))
    assert problems_of(data) == [
        "categories[0].code: category SOC-PETITION: prohibited ground 'petitioning' "
        "(matched 'PETITION' in code)",
        "categories[0].title: category SOC-PETITION: prohibited ground 'petitioning' "
        "(matched '上访' in title)",
    ]


def test_the_shipped_catalogue_passes_the_full_wording_scan() -> None:
    """national_catalogue() skips the prohibited-ground scan at load (it costs the
    lexicon's start-up in every process); this is where the shipped file gets it."""
    from trustledger.catalogue import NATIONAL_CATALOGUE_PATH, load_catalogue

    assert load_catalogue(NATIONAL_CATALOGUE_PATH) == national_catalogue()


def test_a_catalogue_from_a_file_is_always_scanned(tmp_path: Path) -> None:
    from trustledger.catalogue import NATIONAL_CATALOGUE_PATH, CatalogueError, load_catalogue

    text = NATIONAL_CATALOGUE_PATH.read_text(encoding="utf-8")
    path = tmp_path / "local.yaml"
    first_title = next(line for line in text.splitlines() if line.strip().startswith("title_zh:"))
    path.write_text(text.replace(first_title, first_title + "（越级反映问题人员）", 1), "utf-8")
    with pytest.raises(CatalogueError, match="prohibited ground 'petitioning'"):
        load_catalogue(path)
