"""`trustledger rulebook validate|show`."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from trustledger.cli import app as main_app
from trustledger.cli.rulebook import app

RULEBOOKS = Path(__file__).resolve().parent.parent / "trustledger" / "rulebooks_shipped"
SHIPPED = sorted(RULEBOOKS.glob("*.yaml"))
runner = CliRunner()

BAD = """\
id: bad-book
version: "1"
title: Persistent petitioners
authority: somebody
legal_basis: [{instrument: X}]
sources: [x]
effective: {from: 2024-01-01}
subject_kinds: [enterprise]
lists:
  - id: l
    kind: black
    title: t
    when: "count() >= 1"
    removal: r
    legal_basis: [{instrument: X}]
measures:
  - id: m
    kind: restriction
    list: l
    actions: [public_bidding]
    subject_kinds: [enterprise]
    legal_basis: [{instrument: X}]
    agency: a
"""


def test_validate_all_shipped() -> None:
    result = runner.invoke(app, ["validate", *map(str, SHIPPED)])
    assert result.exit_code == 0, result.output
    # one line per shipped rulebook (test_rulebook_schema names them: ten with the tax and
    # customs credit, the travel restrictions and the penalty regime's version before
    # 2026-04-01 of issue 12)
    assert result.output.count("OK ") == len(SHIPPED) == 10
    assert "cn-rongcheng-points 2026.1: 4 treatments, score points, 2 lists, 2 measures" in (
        result.output
    )


def test_validate_reports_every_problem(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(BAD, encoding="utf-8")
    result = runner.invoke(app, ["validate", str(SHIPPED[0]), str(bad)])
    assert result.exit_code == 1
    assert f"INVALID {bad}: 2 problem(s)" in result.output
    assert (
        f"{bad}: (top level) (line 1): rulebook bad-book: prohibited ground 'petitioning' "
        "(matched 'petitioners' in title)"
    ) in result.output
    assert f"{bad}: measures[0] (line 17): measure m: has no end" in result.output


def test_validate_json(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: [\n", encoding="utf-8")
    result = runner.invoke(app, ["validate", "--json", str(SHIPPED[0]), str(bad)])
    assert result.exit_code == 1
    results = json.loads(result.output)
    assert results[0]["ok"] is True
    assert results[1]["ok"] is False
    assert "malformed YAML" in results[1]["problems"][0]


def test_show_renders_lists_and_measures() -> None:
    result = runner.invoke(app, ["show", str(RULEBOOKS / "cn-spc-dishonest-debtors.yaml")])
    assert result.exit_code == 0, result.output
    assert "dishonest-judgment-debtors (black): 失信被执行人名单" in result.output
    assert "when count(category == 'JUD-DEBTOR-G1') >= 1" in result.output
    assert "no-air-travel (restriction) on list dishonest-judgment-debtors, until removed" in (
        result.output
    )
    assert "actions: air_travel" in result.output


def test_show_bands_and_grades() -> None:
    points = runner.invoke(app, ["show", str(RULEBOOKS / "cn-rongcheng-points.yaml")])
    assert "AAA: ≥ 1050" in points.output
    assert "D: below" in points.output
    grades = runner.invoke(app, ["show", str(RULEBOOKS / "cn-environmental-credit.yaml")])
    assert "red when count(category in ['ENV-MAJOR-INCIDENT'" in grades.output
    assert "unrated when true" in grades.output


def test_show_json() -> None:
    result = runner.invoke(app, ["show", "--json", str(RULEBOOKS / "cn-rongcheng-points.yaml")])
    assert result.exit_code == 0
    data = json.loads(result.output)
    assert data["score"]["bands"][0] == {"grade": "AAA", "min": 1050}
    assert data["effective"]["from"] == "2024-01-01"
    assert data["lists"][1]["when"].startswith("grade == 'D'")


def test_show_invalid_file(tmp_path: Path) -> None:
    bad = tmp_path / "dup.yaml"
    bad.write_text("id: a\nid: b\n", encoding="utf-8")
    result = runner.invoke(app, ["show", str(bad)])
    assert result.exit_code == 1
    assert f"{bad}: line 2, column 1: malformed YAML: duplicate key 'id'" in result.output


def test_registered_in_main_cli() -> None:
    result = runner.invoke(main_app, ["rulebook", "validate", str(SHIPPED[0])])
    assert result.exit_code == 0, result.output
