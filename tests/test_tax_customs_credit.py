"""Tax and fee payment credit grades and customs enterprise credit, as worked cases.

Each expectation is written out by hand from the rule the rulebook cites, not read back
from the engine:

- Grade D (STA Announcement 2025 No. 12, art. 34 as summarised): invoices in limited
  quantity (item 2) and key monitoring (item 3) — the two measures of the tax authority's
  own that name an action. Passing the result to other departments (item 5) names no
  measure, so a D grade by itself restricts nothing else: not procurement, not travel.
- Grade A: invoices on demand, a tax green channel, and the joint green channel of the
  A-grade memorandum (Fagaicaijin [2016] No. 1467).
- Major tax violation entity (STA Order No. 54): graded D directly, and kept out of
  government procurement (Government Procurement Law art. 22).
- Customs dishonest enterprise (GAC Order No. 282): stricter inspection and no relief
  from guarantees; a dishonesty decision outranks an AEO certification.
- Time: a grade record counts one year from its publication; the customs rulebook is in
  force only from 2026-04-01, the day Order No. 282 took effect.

Subjects are in Shenzhen (division 440305), outside the provincial and municipal regimes
of Shandong, so every shipped rulebook is published and only the national ones apply.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from builders import authorities, issue, uscc

from trustledger.catalogue import national_catalogue
from trustledger.evaluate.state import evaluate_all
from trustledger.ids import PersonKeyer
from trustledger.intake import Intake
from trustledger.ledger.store import Store, open_store
from trustledger.rulebook.load import load_rulebook
from trustledger.rulebook.publish import publish_rulebook
from trustledger.sanctions.actions import load_actions
from trustledger.sanctions.check import CheckIndex

KEYER = PersonKeyer(bytes(range(32)))
ON = date(2026, 6, 1)
SHIPPED = Path(__file__).parent.parent / "trustledger" / "rulebooks_shipped"
RULEBOOKS = sorted(SHIPPED.glob("*.yaml"))
CUSTOMS = uscc("11", "440300", "00000009")

D_FIRM = uscc("91", "440305", "MA5DB0A1")
A_FIRM = uscc("91", "440305", "MA5DB0B2")
MTV_FIRM = uscc("91", "440305", "MA5DB0C3")
DISHONEST = uscc("91", "440305", "MA5DB0D4")
AEO_FIRM = uscc("91", "440305", "MA5DB0E5")
AEO_THEN_DISHONEST = uscc("91", "440305", "MA5DB0F6")
EARLY_DISHONEST = uscc("91", "440305", "MA5DB0G7")

# Publication dates, and the day each record stops counting, by hand: a grade record
# counts one year from publication (the rulebook's treatment, max 1y), a customs
# certification up to 5 years, a dishonesty decision (general tier) one year.
D_PUBLISHED = date(2026, 4, 20)
D_ENDS = date(2027, 4, 20)
A_PUBLISHED = date(2026, 4, 20)
A_ENDS = date(2027, 4, 20)
DISHONEST_PUBLISHED = date(2026, 4, 10)
DISHONEST_ENDS = date(2027, 4, 10)
EARLY_PUBLISHED = date(2026, 2, 10)
AEO_DAY = date(2026, 4, 15)
LATER = date(2026, 5, 6)  # the certified enterprise's dishonesty decision
ORDER_282_IN_FORCE = date(2026, 4, 1)

# What each case's rules name (hand-written from the cited articles).
D_RESTRICTED = {"tax_invoice_supply", "tax_key_monitoring"}
A_INCENTIVES = {"tax_invoice_supply", "tax_green_channel", "green_channel"}
MTV_RESTRICTED = D_RESTRICTED | {"public_procurement"}
DISHONEST_RESTRICTED = {"customs_priority_inspection", "customs_guarantee_relief"}
AEO_INCENTIVES = {
    "customs_reduced_inspection",
    "customs_priority_clearance",
    "aeo_mutual_recognition",
    "customs_guarantee_relief",  # advanced certified only
}


def _grade(
    subject: str, category: str, number: str, published: date, **extra: Any
) -> dict[str, Any]:
    return issue(
        subject=subject,
        subject_name=f"深圳市{number}有限公司",
        category=category,
        decision_type="administrative_decision",
        document_number=number,
        decision_date=(published - timedelta(days=5)).isoformat(),
        publication_date=published.isoformat(),
        title="信用等级评价结果",
        amount_cny=None,
        **extra,
    )


def _customs(subject: str, category: str, number: str, published: date) -> dict[str, Any]:
    return _grade(subject, category, number, published, authority=CUSTOMS)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    path = tmp_path_factory.mktemp("credit") / "ledger.sqlite"
    store = open_store(f"sqlite:///{path}")
    store.init(KEYER.fingerprint())
    intake = Intake(store, national_catalogue(), KEYER, today=ON)
    lines = [
        *authorities(),
        {"op": "authority", "id": CUSTOMS, "name": "深圳海关", "authority_type": "customs"},
        _grade(D_FIRM, "TAX-CREDIT-GRADE-D", "深税信D〔2026〕1号", D_PUBLISHED),
        _grade(A_FIRM, "TAX-CREDIT-GRADE-A", "深税信A〔2026〕2号", A_PUBLISHED),
        _grade(MTV_FIRM, "TAX-MAJOR-VIOLATION", "深税稽处〔2026〕3号", date(2026, 3, 2)),
        _customs(DISHONEST, "CUSTOMS-CREDIT-DISHONEST", "深关信〔2026〕4号", DISHONEST_PUBLISHED),
        _customs(AEO_FIRM, "CUSTOMS-CREDIT-ADVANCED", "深关信〔2026〕5号", AEO_DAY),
        _customs(AEO_THEN_DISHONEST, "CUSTOMS-CREDIT-ADVANCED", "深关信〔2026〕6号", AEO_DAY),
        _customs(AEO_THEN_DISHONEST, "CUSTOMS-CREDIT-DISHONEST", "深关信〔2026〕7号", LATER),
        _customs(EARLY_DISHONEST, "CUSTOMS-CREDIT-DISHONEST", "深关信〔2026〕8号", EARLY_PUBLISHED),
    ]
    outcomes = intake.submit_many(lines)
    assert [o.outcome for o in outcomes] == ["accepted"] * len(lines), outcomes
    for rulebook in RULEBOOKS:
        publish_rulebook(store, rulebook, national_catalogue())
    evaluate_all(store, national_catalogue(), at_us=None, on=ON)
    return store


@pytest.fixture(scope="module")
def index(store: Store) -> CheckIndex:
    return CheckIndex.load(store)


ALL_ACTIONS = sorted(load_actions().codes)


def _denied(index: CheckIndex, subject: str, on: date = ON) -> set[str]:
    decisions = index.check_many([(subject, action) for action in ALL_ACTIONS], on)
    for action, decision in zip(ALL_ACTIONS, decisions, strict=True):
        assert decision.status != "unknown", (action, decision.why)
    return {a for a, d in zip(ALL_ACTIONS, decisions, strict=True) if d.status == "deny"}


def _rewarded(index: CheckIndex, subject: str, rulebook: str, on: date = ON) -> set[str]:
    out: set[str] = set()
    for action in ALL_ACTIONS:
        decision = index.check(subject, action, on)
        if decision.status == "allow_with_incentives" and any(
            r["rulebook"].startswith(f"{rulebook}@") for r in decision.reasons
        ):
            out.add(action)
    return out


def test_the_new_rulebooks_validate_and_name_catalogued_actions() -> None:
    codes = load_actions().codes
    for name in ("cn-tax-credit.yaml", "cn-customs-credit.yaml"):
        rulebook = load_rulebook(SHIPPED / name)
        for measure in rulebook.measures:
            assert set(measure.actions) <= codes
            assert measure.legal_basis, measure.id  # each measure cites what provides it
            assert measure.until_removed or measure.duration is not None


def test_grade_d_restricts_exactly_what_the_sta_rules_name(index: CheckIndex) -> None:
    assert _denied(index, D_FIRM) == D_RESTRICTED
    for action in D_RESTRICTED:
        (reason,) = index.check(D_FIRM, action, ON).reasons
        assert reason["rulebook"].startswith("cn-tax-credit@")
        assert reason["list"] == "tax-grade-d" and reason["agency"] == "税务机关"
        assert reason["end"] == D_ENDS.isoformat()
    # every other catalogued action stays allowed, incentives of other regimes withheld
    for action in sorted(set(ALL_ACTIONS) - D_RESTRICTED):
        decision = index.check(D_FIRM, action, ON)
        assert decision.status == "allow", (action, decision.status)
    # and a D grade earns none of grade A's incentives
    assert index.check(D_FIRM, "tax_green_channel", ON).status == "allow"


def test_grade_d_runs_one_year_from_publication(index: CheckIndex) -> None:
    day_before = D_PUBLISHED - timedelta(days=1)
    assert _denied(index, D_FIRM, day_before) == set()
    assert _denied(index, D_FIRM, D_PUBLISHED) == D_RESTRICTED
    assert _denied(index, D_FIRM, D_ENDS - timedelta(days=1)) == D_RESTRICTED
    assert _denied(index, D_FIRM, D_ENDS) == set()


def test_grade_a_gets_its_incentives(index: CheckIndex) -> None:
    assert _denied(index, A_FIRM) == set()
    assert _rewarded(index, A_FIRM, "cn-tax-credit") == A_INCENTIVES
    decision = index.check(A_FIRM, "tax_invoice_supply", ON)
    assert decision.status == "allow_with_incentives"
    (reason,) = decision.reasons
    assert (reason["measure"], reason["list"], reason["kind"]) == (
        "a-invoices-on-demand", "tax-grade-a", "incentive"
    )  # fmt: skip
    assert reason["end"] == A_ENDS.isoformat()
    # after the grade's year the incentives end (no grade record, no grade)
    assert _rewarded(index, A_FIRM, "cn-tax-credit", A_ENDS) == set()


def test_a_major_tax_violation_entity_is_graded_d_and_out_of_procurement(
    index: CheckIndex,
) -> None:
    assert _denied(index, MTV_FIRM) == MTV_RESTRICTED
    (reason,) = index.check(MTV_FIRM, "public_procurement", ON).reasons
    assert reason["measure"] == "mtv-no-public-procurement"
    assert reason["list"] == "major-tax-violation"
    # the listing lasts at most 3 years from publication (serious tier)
    assert reason["end"] == "2029-03-02"


def test_a_customs_dishonest_enterprise(index: CheckIndex) -> None:
    assert _denied(index, DISHONEST) == DISHONEST_RESTRICTED
    for action in DISHONEST_RESTRICTED:
        (reason,) = index.check(DISHONEST, action, ON).reasons
        assert reason["rulebook"].startswith("cn-customs-credit@")
        assert reason["list"] == "customs-dishonest" and reason["agency"] == "海关"
        assert reason["end"] == DISHONEST_ENDS.isoformat()
    assert _denied(index, DISHONEST, DISHONEST_ENDS) == set()


def test_advanced_certified_enterprise_gets_aeo_facilitation(index: CheckIndex) -> None:
    assert _denied(index, AEO_FIRM) == set()
    assert _rewarded(index, AEO_FIRM, "cn-customs-credit") == AEO_INCENTIVES


def test_dishonesty_outranks_certification(index: CheckIndex) -> None:
    # worst level in force wins; and no incentive reaches a black-listed enterprise
    assert _denied(index, AEO_THEN_DISHONEST) == DISHONEST_RESTRICTED
    assert _rewarded(index, AEO_THEN_DISHONEST, "cn-customs-credit") == set()
    # before the dishonesty decision it was an AEO
    assert _rewarded(index, AEO_THEN_DISHONEST, "cn-customs-credit", LATER - timedelta(days=1)) == (
        AEO_INCENTIVES
    )


def test_order_282_measures_start_on_its_day_of_force(index: CheckIndex) -> None:
    # decided and published under Order No. 251; this rulebook encodes Order No. 282 only,
    # so its measures start on 2026-04-01 and end one year after publication
    assert _denied(index, EARLY_DISHONEST, ORDER_282_IN_FORCE - timedelta(days=1)) == set()
    assert _denied(index, EARLY_DISHONEST, ORDER_282_IN_FORCE) == DISHONEST_RESTRICTED
    (reason,) = index.check(EARLY_DISHONEST, "customs_priority_inspection", ON).reasons
    assert reason["start"] == ORDER_282_IN_FORCE.isoformat()
    assert reason["end"] == date(2027, 2, 10).isoformat()
