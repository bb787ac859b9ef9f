"""Worked cases from the real regimes, evaluated for one subject (issue 3's must-shows)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from trustledger.catalogue import national_catalogue
from trustledger.evaluate.profile import CompiledRulebook, compile_rulebook, evaluate_subject
from trustledger.ledger.projection import RecordRow, SubjectRow
from trustledger.rulebook.load import load_rulebook

RULEBOOKS = Path(__file__).parent.parent / "trustledger" / "rulebooks_shipped"
FIRM = SubjectRow(
    "914403001922038216", "enterprise", "深圳市某某科技有限公司", "440305", "[]", "[]", None,
    None, 0, 0,
)  # fmt: skip
RONGCHENG_FIRM = FIRM._replace(id="91371082MA3C000001", division="371082")


def rulebook(name: str) -> CompiledRulebook:
    return compile_rulebook(load_rulebook(RULEBOOKS / f"{name}.yaml"), national_catalogue())


_seq = iter(range(1, 10_000))


def record(
    category: str,
    published: str,
    *,
    tier: str = "general",
    status: str = "issued",
    status_date: str | None = None,
    decision_type: str = "administrative_penalty",
) -> RecordRow:
    n = next(_seq)
    return RecordRow(
        f"R{n:024x}", FIRM.id, "11440305000000010X", category, tier, decision_type,
        f"文书〔2024〕{n}号", published, published, None, None, None, status, status_date,
        None, n, n,
    )  # fmt: skip


def test_serious_penalty_in_force_at_14_months_not_at_37() -> None:
    rb = rulebook("cn-national-admin-penalty")
    r = record("MKT-PENALTY-SERIOUS", "2023-01-10", tier="serious")
    at_14 = evaluate_subject(rb, FIRM, [r], date(2024, 3, 10))
    at_37 = evaluate_subject(rb, FIRM, [r], date(2026, 2, 10))
    assert [v.standing for v in at_14.records] == ["in force"]
    assert at_14.records[0].counted and at_14.records[0].publicity_ends == "2026-01-10"
    assert [v.standing for v in at_37.records] == ["publicity period over"]
    assert not at_37.records[0].counted


def test_ground_2_debtor_listed_two_years_and_off_after_performance() -> None:
    rb = rulebook("cn-spc-dishonest-debtors")
    listed = record("JUD-DEBTOR-G2", "2024-03-05", tier="serious", decision_type="court_judgment")
    p = evaluate_subject(rb, FIRM, [listed], date(2024, 6, 1))
    (membership,) = p.lists
    assert membership.list_id == "dishonest-judgment-debtors"
    assert (membership.since, membership.until) == ("2024-03-05", "2026-03-05")
    assert membership.records == [listed.id]
    assert {m.measure_id for m in p.measures} >= {"no-air-travel", "no-premium-rail"}
    air = next(m for m in p.measures if m.measure_id == "no-air-travel")
    assert air.end == "2026-03-05" and "air_travel" in air.actions
    assert evaluate_subject(rb, FIRM, [listed], date(2026, 3, 5)).lists == []  # two years on

    performed = listed._replace(status="ended", status_date="2024-09-01")
    assert evaluate_subject(rb, FIRM, [performed], date(2024, 8, 31)).lists  # still listed
    after = evaluate_subject(rb, FIRM, [performed], date(2024, 9, 2))  # the day after
    assert after.lists == [] and after.measures == []


def test_one_major_environmental_incident_is_red() -> None:
    rb = rulebook("cn-environmental-credit")
    incident = record("ENV-MAJOR-INCIDENT", "2025-05-01", tier="serious")
    p = evaluate_subject(rb, FIRM, [incident], date(2025, 6, 1))
    assert p.grade == "red"
    assert any("Grade red" in line for line in p.explanation)
    # the red list reads the grade, so it rests on the record behind the grade
    (red,) = [m for m in p.lists if m.kind == "black"]
    assert red.records == [incident.id]
    # no data and no record: nothing to grade on (not green)
    assert evaluate_subject(rb, FIRM, [], date(2025, 6, 1)).grade == "unrated"
    rated = record("ENV-EMISSIONS-RATE-HIGH", "2025-05-20", tier="minor",
                   decision_type="administrative_decision")  # fmt: skip
    assert evaluate_subject(rb, FIRM, [rated], date(2025, 6, 1)).grade == "green"
    assert evaluate_subject(rb, FIRM, [rated, incident], date(2025, 6, 1)).grade == "red"


def test_rongcheng_minus_60_points_is_grade_b() -> None:
    rb = rulebook("cn-rongcheng-points")
    records = [
        record("MKT-PENALTY-SERIOUS", "2025-01-10", tier="serious"),  # −50
        record("TAX-PENALTY-GENERAL", "2025-03-01", tier="general"),  # −10
    ]
    p = evaluate_subject(rb, RONGCHENG_FIRM, records, date(2025, 6, 1))
    assert (p.score, p.grade) == (940, "B")
    assert "Score 940 = base 1000 − 60" in " ".join(p.explanation)


def test_scope_and_kind_make_a_rulebook_not_apply() -> None:
    rb = rulebook("cn-rongcheng-points")
    p = evaluate_subject(rb, FIRM, [], date(2025, 6, 1))  # Shenzhen firm, Rongcheng rulebook
    assert not p.applicable and "scope" in p.explanation[0]
    person = FIRM._replace(kind="person", division=None)
    assert not evaluate_subject(rb, person, [], date(2025, 6, 1)).applicable


@pytest.mark.parametrize("name", sorted(p.stem for p in RULEBOOKS.glob("*.yaml")))
def test_every_shipped_rulebook_evaluates(name: str) -> None:
    rb = rulebook(name)
    records = [
        record("MKT-PENALTY-GENERAL", "2025-01-10"),
        record("JUD-DEBTOR-G1", "2025-02-01", tier="serious", decision_type="court_judgment"),
        record("ENV-PENALTY-GENERAL", "2025-03-01"),
    ]
    subject = FIRM._replace(division=rb.rulebook.scope.division_prefix.ljust(6, "0"))
    if "enterprise" not in rb.rulebook.subject_kinds:  # a regime for persons only
        subject = subject._replace(kind="person")
    p = evaluate_subject(rb, subject, records, date(2025, 6, 1))
    assert p.applicable and p.explanation
    assert p.to_json()["rulebook"] == rb.ref
