"""The action catalogue covers every shipped measure and refuses malformed files clearly."""

from __future__ import annotations

from pathlib import Path

import pytest

from trustledger.rulebook.load import load_rulebook
from trustledger.sanctions.actions import ActionCatalogueError, load_actions, parse_actions

RULEBOOKS = sorted(
    (Path(__file__).parent.parent / "trustledger" / "rulebooks_shipped").glob("*.yaml")
)
ISSUE_ACTIONS = {
    "public_procurement", "public_bidding", "bond_issuance", "licence_application",
    "subsidies", "air_travel", "rail_g_series_seat", "rail_first_class", "star_hotel",
    "golf_course", "property_purchase", "private_school_high_fees", "green_channel",
    "reduced_inspection",
}  # fmt: skip


def test_every_shipped_measure_action_is_catalogued() -> None:
    used = {
        (path.name, action)
        for path in RULEBOOKS
        for measure in load_rulebook(path).measures
        for action in measure.actions
    }
    assert used, "the shipped rulebooks name no actions at all?"
    missing = sorted(pair for pair in used if pair[1] not in load_actions().codes)
    assert missing == []


def test_the_issue_list_is_catalogued_with_titles_and_agencies() -> None:
    catalogue = load_actions()
    assert sorted(ISSUE_ACTIONS - catalogue.codes) == []
    for action in catalogue.actions:
        assert action.title and action.title_zh and action.agencies
    air = catalogue.get("air_travel")
    assert air is not None and [a.value for a in air.agencies] == ["civil_aviation"]
    assert catalogue.get("teleportation") is None
    assert load_actions() is catalogue  # read once


GOOD = """\
version: "1"
actions:
  - code: air_travel
    title: Air travel
    title_zh: 乘坐飞机
    agencies: [civil_aviation]
"""


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (GOOD + GOOD.split("actions:\n")[1], r"action air_travel is listed twice"),
        (GOOD.replace("air_travel", "Air-Travel"), r"x\.yaml:3: actions\[0\]\.code: .*pattern"),
        (GOOD.replace("civil_aviation", "astrology"), r"x\.yaml:6: actions\[0\]\.agencies\[0\]"),
        (GOOD.replace("    title_zh: 乘坐飞机\n", ""), r"actions\[0\]\.title_zh: Field required"),
        (GOOD + "version: 2\n", r"x\.yaml: line 7, column 1: malformed YAML: duplicate key"),
        (GOOD.replace("[civil_aviation]", "[]"), r"agencies: .*at least 1"),
    ],
)
def test_malformed_catalogues_are_refused_with_the_place(text: str, message: str) -> None:
    with pytest.raises(ActionCatalogueError, match=message):
        parse_actions(text, "x.yaml")


def test_an_unreadable_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ActionCatalogueError, match="cannot read the action catalogue"):
        load_actions(tmp_path / "missing.yaml")


def test_one_code_per_action_and_narrower_actions() -> None:
    catalogue = load_actions()
    # one code for one thing: a checker asking the general code must see the measure
    assert "reduced_inspection_frequency" not in catalogue.codes
    assert "government_subsidies" not in catalogue.codes
    assert catalogue.narrower["subsidies"] == ("environmental_subsidies",)


BASE_ACTION = "    agencies: [government]\n    title: T\n    title_zh: 题\n"


@pytest.mark.parametrize(
    ("within", "message"),
    [
        ({"a_b": "nowhere"}, "action a_b is within nowhere, which is not catalogued"),
        ({"a_b": "c_d", "c_d": "a_b"}, "actions within each other: a_b → c_d → a_b"),
    ],
)
def test_within_must_name_a_catalogued_action_without_cycles(
    within: dict[str, str], message: str
) -> None:
    text = 'version: "1"\nactions:\n'
    for code in ("a_b", "c_d"):
        text += f"  - code: {code}\n{BASE_ACTION}"
        if code in within:
            text += f"    within: {within[code]}\n"
    with pytest.raises(ActionCatalogueError, match=message):
        parse_actions(text)


def test_a_restriction_on_the_broader_action_reaches_the_narrower() -> None:
    from datetime import date

    from trustledger.sanctions.check import CheckIndex

    profiles = [("rb@1", s, None, None, "[]", "2025-01-01", 5) for s in ("ALL", "ENV")]
    measures = [
        ("rb@1", "m", "ALL", "restriction", "black", '["subsidies"]', "2025-01-01", None, "a",
         "{}"),
        ("rb@1", "m", "ENV", "restriction", "black", '["environmental_subsidies"]',
         "2025-01-01", None, "a", "{}"),
    ]  # fmt: skip
    index = CheckIndex(subjects=["ALL", "ENV"], profiles=profiles, lists=[], measures=measures)
    day = date(2025, 6, 1)
    assert index.check("ALL", "environmental_subsidies", day).status == "deny"
    assert index.check("ALL", "subsidies", day).status == "deny"
    assert index.check("ENV", "environmental_subsidies", day).status == "deny"
    assert index.check("ENV", "subsidies", day).status == "allow"  # narrower does not widen
