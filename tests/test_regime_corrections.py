"""Worked cases for the corrections of regimes.md §8 (issue 12, item 2 and the SPC
ground-1 term of item 3), each computed by hand from the cited rule, not from the engine.

- SPC Fashi [2013] No. 17 as revised by Fashi [2017] No. 7, art. 2: grounds 2–6 are
  listed for 2 years; ground 1 has no fixed term and lasts until performance; art. 10:
  deletion within 3 working days of full performance.
- Guobanfa [2025] No. 22 and NDRC Order No. 36 (in force 2026-04-01, repealing NDRC Order
  No. 58): general tier at least 3 months, at most 1 year; serious at least 1 year, at most
  3 years; minor in principle not published, at most 3 months, repairable as soon as the
  obligations are performed.
- SAIC Order No. 68: removal from the abnormal list decided within 5 working days of the
  application; Decree No. 654 art. 17: after 3 years on the abnormal list, the serious list.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from builders import COURT, FIRM, authorities, debtor

from trustledger.app.context import Clock, Context
from trustledger.catalogue import national_catalogue
from trustledger.dueprocess.calendar import WorkingCalendar
from trustledger.dueprocess.procedures import earliest_repair
from trustledger.evaluate.profile import CompiledRulebook, compile_rulebook, evaluate_subject
from trustledger.evaluate.state import evaluate_all, refresh_if_evaluated
from trustledger.ids import PersonKeyer
from trustledger.intake import Intake
from trustledger.ledger.projection import RecordRow, SubjectRow
from trustledger.rulebook.durations import Duration
from trustledger.rulebook.lint import lint_rulebook
from trustledger.rulebook.load import load_rulebook
from trustledger.rulebook.publish import publish_rulebook
from trustledger.rulebook.schema import Rulebook
from trustledger.sanctions.check import CheckIndex
from trustledger.settings import Settings

SHIPPED = Path(__file__).parent.parent / "trustledger" / "rulebooks_shipped"
KEYER = PersonKeyer(bytes(range(32)))
TODAY = date(2026, 12, 1)  # a Tuesday
SUBJECT = SubjectRow(
    "914403001922038216", "enterprise", "深圳市某某科技有限公司", "440305", "[]", "[]", None,
    None, 0, 0,
)  # fmt: skip
# each corrected rulebook and its new version (a changed source is a new version)
CHANGED = {
    "cn-environmental-credit": "2026.2", "cn-market-abnormal-operations": "2026.2",
    "cn-national-admin-penalty": "2026.2", "cn-records-only-province": "2026.1",
    "cn-rongcheng-points": "2026.1", "cn-spc-dishonest-debtors": "2026.2",
}  # fmt: skip


def _rulebook(name: str) -> Rulebook:
    return load_rulebook(SHIPPED / f"{name}.yaml")


def _compiled(name: str) -> CompiledRulebook:
    return compile_rulebook(_rulebook(name), national_catalogue())


_seq = iter(range(1, 10_000))


def _record(
    category: str,
    published: str,
    *,
    tier: str,
    decision_type: str = "administrative_penalty",
    status: str = "issued",
    status_date: str | None = None,
) -> RecordRow:
    n = next(_seq)
    return RecordRow(
        f"R{n:024x}", SUBJECT.id, "11440305000000010X", category, tier, decision_type,
        f"文书〔2020〕{n}号", published, published, None, None, None, status, status_date,
        None, n, n,
    )  # fmt: skip


def _lists(rb: CompiledRulebook, records: list[RecordRow], on: date) -> list[str]:
    return [m.list_id for m in evaluate_subject(rb, SUBJECT, records, on).lists]


# ── SPC: ground 1 lasts until performance; grounds 2–6 two years ───────────────────────


def test_a_ground_1_debtor_is_still_listed_after_four_years_without_performance() -> None:
    rb = _compiled("cn-spc-dishonest-debtors")
    g1 = _record("JUD-DEBTOR-G1", "2020-03-05", tier="serious", decision_type="court_judgment")
    # art. 2 sets no term for ground 1: listed on every day until performance. The 1-month
    # grace before listing (Fafa [2019] No. 35) has long passed on these days.
    for on in (date(2024, 3, 6), date(2024, 6, 1), date(2030, 3, 5)):
        assert _lists(rb, [g1], on) == ["dishonest-judgment-debtors"], on
    p = evaluate_subject(rb, SUBJECT, [g1], date(2024, 6, 1))  # 4 years and 3 months on
    assert [v.standing for v in p.records] == ["in force"]
    assert {m.measure_id for m in p.measures} >= {"no-air-travel", "no-premium-rail"}
    # performed: the court's deletion entry ends it on its effective day
    performed = g1._replace(status="ended", status_date="2024-06-04")
    assert _lists(rb, [performed], date(2024, 6, 3)) == ["dishonest-judgment-debtors"]
    assert _lists(rb, [performed], date(2024, 6, 4)) == []


def test_grounds_2_to_6_end_after_two_years_while_ground_1_does_not() -> None:
    rb = _compiled("cn-spc-dishonest-debtors")
    published = "2022-03-05"  # two years later: 2024-03-05 (art. 2)
    for code in ["JUD-DEBTOR-G2", "JUD-DEBTOR-G3", "JUD-DEBTOR-G4", "JUD-DEBTOR-G5",
                 "JUD-DEBTOR-G6"]:  # fmt: skip
        fixed = _record(code, published, tier="serious", decision_type="court_judgment")
        assert _lists(rb, [fixed], date(2024, 3, 4)) == ["dishonest-judgment-debtors"], code
        assert _lists(rb, [fixed], date(2024, 3, 5)) == [], code
    g1 = _record("JUD-DEBTOR-G1", published, tier="serious", decision_type="court_judgment")
    assert _lists(rb, [g1], date(2024, 3, 5)) == ["dishonest-judgment-debtors"]


@pytest.fixture
def ctx(db_url: str) -> Iterator[Context]:
    noon = datetime.combine(TODAY, time(12), ZoneInfo("Asia/Shanghai")).astimezone(UTC)
    clock = Clock("Asia/Shanghai", fixed_us=int(noon.timestamp() * 1_000_000))
    context = Context.open(Settings(db_url=db_url), must_exist=False, clock=clock, keyer=KEYER)
    context.store.init(KEYER.fingerprint())
    yield context
    context.close()


def _ingest(ctx: Context, lines: list[dict[str, object]]) -> None:
    intake = Intake(ctx.store, national_catalogue(), KEYER, today=TODAY)
    results = intake.submit_many(lines)
    assert all(r.outcome == "accepted" for r in results), [r.reason for r in results]


def test_ground_1_through_the_ledger_denied_after_4_years_and_removed_after_performance(
    ctx: Context,
) -> None:
    firm = FIRM
    document = "(2022)粤0305执77号"
    _ingest(ctx, [*authorities(), debtor(document_number=document, decision_date="2022-03-01",
                                         publication_date="2022-03-05")])  # fmt: skip
    publish_rulebook(ctx.store, SHIPPED / "cn-spc-dishonest-debtors.yaml", national_catalogue())
    evaluate_all(ctx.store, national_catalogue(), at_us=None, on=TODAY)
    index = CheckIndex.load(ctx.store)
    # 2022-03-05 → 2026-12-01: four years and nine months, never performed: still denied
    assert index.check(firm, "air_travel", TODAY).status == "deny"
    # performed in full on Wednesday 25 November 2026; art. 10: deleted within 3 working
    # days — Thursday 26, Friday 27, (weekend), Monday 30 November
    performed = date(2026, 11, 25)
    deadline = WorkingCalendar().add_working_days(performed, 3)
    assert deadline == date(2026, 11, 30)
    _ingest(ctx, [{"op": "end", "authority": COURT, "subject": firm, "category": "JUD-DEBTOR-G1",
                   "target_document_number": document, "document_number": document + "之一",
                   "effective_date": deadline.isoformat(), "reason": "performed"}])  # fmt: skip
    refresh_if_evaluated(ctx.store, national_catalogue(), {firm}, on=TODAY)
    index = CheckIndex.load(ctx.store)
    assert index.check(firm, "air_travel", date(2026, 11, 29)).status == "deny"
    assert index.check(firm, "air_travel", date(2026, 11, 30)).status == "allow"
    assert index.check(firm, "air_travel", TODAY).status == "allow"


# ── National publicity tiers (Guobanfa [2025] No. 22, NDRC Order No. 36) ─────────────────


def test_a_general_penalty_is_public_from_3_months_to_1_year() -> None:
    rb = _compiled("cn-national-admin-penalty")
    fine = _record("MKT-PENALTY-GENERAL", "2026-04-15", tier="general")
    # at most 1 year: 2026-04-15 + 1 year = 2027-04-15, the first day it no longer counts
    before = evaluate_subject(rb, SUBJECT, [fine], date(2027, 4, 14))
    assert before.records[0].counted and before.records[0].publicity_ends == "2027-04-15"
    after = evaluate_subject(rb, SUBJECT, [fine], date(2027, 4, 15))
    assert [v.standing for v in after.records] == ["publicity period over"]
    # at least 3 months before repair: 2026-04-15 + 3 months = 2026-07-15
    treatment = rb.treatment_of["MKT-PENALTY-GENERAL"]
    assert earliest_repair(fine, [treatment.publicity.min]) == date(2026, 7, 15)


def test_a_serious_penalty_is_public_from_1_to_3_years() -> None:
    rb = _compiled("cn-national-admin-penalty")
    serious = _record("MKT-PENALTY-SERIOUS", "2026-05-20", tier="serious")
    treatment = rb.treatment_of["MKT-PENALTY-SERIOUS"]
    assert earliest_repair(serious, [treatment.publicity.min]) == date(2027, 5, 20)  # + 1 year
    on_list = evaluate_subject(rb, SUBJECT, [serious], date(2029, 5, 19))
    assert [m.list_id for m in on_list.lists] == ["serious-dishonesty-publicity"]
    assert on_list.records[0].publicity_ends == "2029-05-20"  # + 3 years
    assert _lists(rb, [serious], date(2029, 5, 20)) == []


def test_the_old_6_month_serious_minimum_is_refused() -> None:
    # Fagaiban Caijin [2019] No. 527 allowed 6 months; the tiers now in force say 1 year
    data = _rulebook("cn-national-admin-penalty").model_dump(mode="json", by_alias=True)
    data["treatments"][2]["publicity"] = {"min": "6m", "max": "3y"}
    problems = lint_rulebook(Rulebook.model_validate(data), national_catalogue())
    assert [p.path for p in problems] == ["treatments[2].publicity.min"]
    assert "under the 1 year minimum for serious records" in problems[0].message


def test_a_minor_penalty_is_repairable_at_once_and_counts_at_most_3_months() -> None:
    for name in ["cn-national-admin-penalty", "cn-records-only-province"]:
        rb = _compiled(name)
        minor = _record("MKT-PENALTY-MINOR", "2026-05-10", tier="minor")
        treatment = rb.treatment_of["MKT-PENALTY-MINOR"]
        # "not published" cannot be said; the closest: no waiting period (the shortest
        # duration, 1 day) and the 3-month ceiling where published
        assert treatment.publicity.min == Duration(1, "d"), name
        assert treatment.publicity.max == Duration(3, "m"), name
        # repairable as soon as the obligations are performed: from the first day
        assert earliest_repair(minor, [treatment.publicity.min]) == date(2026, 5, 10)
        # at most 3 months: 2026-05-10 + 3 months = 2026-08-10
        subject = SUBJECT._replace(division=rb.rulebook.scope.division_prefix.ljust(6, "0"))
        last = evaluate_subject(rb, subject, [minor], date(2026, 8, 9))
        assert last.records[0].counted and last.lists == [], name
        over = evaluate_subject(rb, subject, [minor], date(2026, 8, 10))
        assert [v.standing for v in over.records] == ["publicity period over"], name


# ── Market regulation: removal in working days; Decree No. 654 art. 17 ──────────────────


def test_abnormal_list_removal_is_decided_within_5_working_days() -> None:
    rb = _rulebook("cn-market-abnormal-operations")
    abnormal = rb.list_by_id("abnormal-operations")
    assert abnormal is not None
    assert "5 working days" in abnormal.removal and "7 days" not in abnormal.removal
    assert any(b.instrument == "SAIC Order No. 68 (2014)" and "5 working days" in (b.note or "")
               for b in abnormal.legal_basis)  # fmt: skip
    # an application on Thursday 3 December 2026: Fri 4, Mon 7, Tue 8, Wed 9, Thu 10
    assert WorkingCalendar().add_working_days(date(2026, 12, 3), 5) == date(2026, 12, 10)


def test_three_years_on_the_abnormal_list_is_the_serious_list_under_decree_654() -> None:
    rb = _compiled("cn-market-abnormal-operations")
    serious = rb.rulebook.list_by_id("serious-illegal-dishonest")
    assert serious is not None
    first = serious.legal_basis[0]
    assert "Decree No. 654" in first.instrument and first.article == "17"
    unreachable = _record("MKT-ABNORMAL-UNREACHABLE", "2022-01-10", tier="general")
    # 3 years = 365 + 365 + 366 (2024 is a leap year) = 1,096 days: 2025-01-10
    assert _lists(rb, [unreachable], date(2025, 1, 9)) == ["abnormal-operations"]
    assert set(_lists(rb, [unreachable], date(2025, 1, 10))) == {
        "abnormal-operations", "serious-illegal-dishonest",
    }  # fmt: skip


# ── Sources: the replaced instrument never stands alone; unconfirmed numbers say so ────


def test_no_shipped_treatment_rests_on_the_repealed_order_alone() -> None:
    for name in CHANGED:
        rb = _rulebook(name)
        for index, treatment in enumerate(rb.treatments):
            cited = [b.instrument for b in treatment.legal_basis]
            assert not any("Order No. 58" in c for c in cited), (name, index, cited)
    for category in national_catalogue():
        cited = [b.instrument for b in category.legal_basis]
        assert not any("NDRC Order No. 58" in c for c in cited), category.code


def test_unconfirmed_numbers_stay_marked() -> None:
    rongcheng = _rulebook("cn-rongcheng-points")
    assert any("thresholds" in s and "unconfirmed" in s for s in rongcheng.sources)
    assert any("Rongzhengfa [2021] No. 3" in s for s in rongcheng.sources)
    abnormal = _rulebook("cn-market-abnormal-operations")
    assert any("SAMR Order No. 107" in s and "unconfirmed" in s for s in abnormal.sources)


def test_gb13223_nox_200_for_w_flame_cfb_and_older_boilers() -> None:
    monitoring = _rulebook("cn-environmental-credit").monitoring
    assert monitoring is not None
    # GB 13223-2011 Table 1: NOx 100 for coal boilers, 200 for W-flame furnaces, existing
    # circulating fluidised-bed boilers and boilers from before 2004 (note 2); SO2 100 new,
    # 200 existing; dust 30
    expected = {
        "gb13223-2011-coal-new": {"a34013": 30, "a21026": 100, "a21002": 100},
        "gb13223-2011-coal-existing": {"a34013": 30, "a21026": 200, "a21002": 100},
        "gb13223-2011-coal-new-w-flame": {"a34013": 30, "a21026": 100, "a21002": 200},
        "gb13223-2011-coal-existing-nox200": {"a34013": 30, "a21026": 200, "a21002": 200},
    }
    for limit_set_id, limits in expected.items():
        found = monitoring.limit_set(limit_set_id)
        assert found is not None and found.limits == limits, limit_set_id
        assert found.reference_o2 == 6 and found.averaging == "hourly"


def test_every_changed_rulebook_is_a_new_version_and_lawful() -> None:
    catalogue = national_catalogue()
    assert catalogue.version == "2026.1"
    for name, version in CHANGED.items():
        rb = _rulebook(name)
        assert rb.version == version, name
        assert lint_rulebook(rb, catalogue) == [], name
