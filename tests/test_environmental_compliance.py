"""The environmental credit grade from monitoring: the compliance rate of valid means.

Expectations are computed by hand from the rule the rulebook cites (Huanfa [2013] No. 150:
compliant emissions scored by the compliance rate — at least 90 % gives 80–100 points,
75–90 % 50–79, 50–75 % 0–49, below 50 % none) and from the rulebook's own parameters,
not read back from the engine:

- A plant sends one day of minute data: SO₂ and dust, 24 valid hourly means each, so 48
  measurements. All within the limits: 48/48 = 100 % → band ≥ 90 %, 100 points → green.
- The next day 13 of SO₂'s 24 hours are above 35 mg/m³ at 6 % O₂ (dust stays within):
  (24 − 13 + 24) / 48 = 35/48 = 72.92 % → band 50–75 %, (72.92 − 50) / 25 × 49 = 44.9
  points → yellow, off the green list. The five-hour-plus exceedance episode is a record
  too, but it waits for a person and counts toward nothing.
- Data flagged invalid is no measurement; too little valid data gives no rate, no record
  and a notice: the firm is not graded (never green) — and a firm with no monitoring and
  no records is "unrated" too.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from builders import FIRM, authorities, uscc

from trustledger.catalogue import national_catalogue
from trustledger.evaluate.service import subject_profiles
from trustledger.ids import PersonKeyer
from trustledger.intake import Intake
from trustledger.ledger.store import Store, open_store
from trustledger.monitoring.codec import build_data, parse
from trustledger.monitoring.compliance import indicator_points
from trustledger.monitoring.judge import local_epoch
from trustledger.monitoring.points import judge_all, register_point
from trustledger.monitoring.store import MonitoringStore, Received
from trustledger.rulebook.load import load_rulebook, parse_rulebook
from trustledger.rulebook.publish import publish_rulebook
from trustledger.rulebook.schema import ComplianceDef

KEYER = PersonKeyer(bytes(range(32)))
MONITOR = uscc("11", "440305", "00000046")
OTHER_FIRM = uscc("91", "440305", "MA5EN0X1")
MN = "PLANT0000000009"
SHIPPED = Path(__file__).parent.parent / "trustledger" / "rulebooks_shipped"
RULEBOOK = SHIPPED / "cn-environmental-credit.yaml"
DAY_1 = date(2026, 11, 2)  # the first day of data
DAY_2 = DAY_1 + timedelta(days=1)

Minute = Callable[[int, int], tuple[float, str]]  # (hour, minute) → (SO₂, flag)


def daily_rulebook(tmp_path: Path) -> Path:
    """The shipped rulebook with a one-day period, assessed daily, each assessment standing
    one day: the bands and grade rules as shipped, the data to send small."""
    text = RULEBOOK.read_text(encoding="utf-8")
    changes = [
        ("period: 12m", "period: 1d"),
        ("assess_every: 1m", "assess_every: 1d"),
        ("publicity: {min: 1m, max: 1m}", "publicity: {min: 1d, max: 1d}"),
    ]
    for old, new in changes:
        assert old in text
        text = text.replace(old, new)
    path = tmp_path / "cn-environmental-credit.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def plant(db_url: str, rulebook: Path, today: date) -> tuple[Store, MonitoringStore, Intake]:
    store = open_store(db_url)
    store.init(KEYER.fingerprint())
    intake = Intake(store, national_catalogue(), KEYER, today=today)
    lines = [*authorities(),
             {"op": "authority", "id": MONITOR, "name": "深圳市生态环境监测站",
              "authority_type": "monitoring"},
             {"op": "subject", "subject": FIRM, "name": "深圳市华韵热电有限公司"},
             {"op": "subject", "subject": OTHER_FIRM,
              "name": "深圳市无监测贸易有限公司"}]  # fmt: skip
    assert all(r.outcome == "accepted" for r in intake.submit_many(lines))
    publish_rulebook(store, rulebook, national_catalogue())
    mstore = MonitoringStore(store)
    register_point(store, mstore, mn=MN, subject=FIRM, outlet="boiler 1 stack",
                   authority=MONITOR, rulebook_id="cn-environmental-credit",
                   limit_set="ultra-low-coal-power",
                   now_us=local_epoch(f"{DAY_1}T00:00:00") * 1_000_000)  # fmt: skip
    return store, mstore, intake


def o2(m: int) -> float:
    """Around 9 %, exactly 9 as each hour's mean: a real O₂ reading moves, and a constant one
    is a stuck analyser whose minutes are not judged. The steps are exact in binary."""
    return 9.0 + (0.0, 0.25, 0.0, -0.25)[m % 4]


def send(mstore: MonitoringStore, day: date, so2: Minute, hours: int = 24) -> None:
    """Minute data (CN 2051) for ``hours`` of ``day``, each received as its minute ends; O₂
    9 % converts ×15/12 to 6 %."""
    start = datetime.combine(day, datetime.min.time())
    items = []
    for h in range(hours):
        for m in range(60):
            value, flag = so2(h, m)
            moment = start + timedelta(hours=h, minutes=m)
            received = (local_epoch(moment.isoformat()) + 60) * 1_000_000
            frame = build_data(
                MN, "2051", moment,
                {"a21026": {"Avg": value, "Flag": flag}, "a19001": {"Avg": o2(m), "Flag": "N"},
                 "a34013": {"Avg": 3.0 + (m % 7) * 0.1, "Flag": "N"}},
            )  # fmt: skip
            items.append(Received(parse(frame), received, "test"))
    mstore.save(items)


def clean(h: int, m: int) -> tuple[float, str]:
    return 20.0 + (m % 3) * 0.5, "N"  # 25 mg/m³ at 6 % O₂, below 35


def exceeding(hours: range, flag: str = "N") -> Minute:
    def so2(h: int, m: int) -> tuple[float, str]:
        if h in hours:
            return 32.0 + (m % 5) * 0.2, flag  # 40 mg/m³ at 6 % O₂, above 35
        return clean(h, m)

    return so2


def judge(store: Store, mstore: MonitoringStore, db_url: str, today: date) -> list[object]:
    intake = Intake(store, national_catalogue(), KEYER, today=today)
    now = local_epoch(f"{today}T08:00:00") * 1_000_000
    outcomes = judge_all(store, mstore, intake, today=today, now_us=now)
    return [a for o in outcomes for a in o.assessments]


def standing(store: Store, subject: str, on: date) -> tuple[str | None, set[str]]:
    (profile,) = subject_profiles(store, national_catalogue(), subject, at_us=None, on=on,
                                  rulebook_id="cn-environmental-credit")  # fmt: skip
    return profile.grade, {m.list_id for m in profile.lists}


def test_the_grade_falls_with_the_valid_data_compliance_rate(db_url: str, tmp_path: Path) -> None:
    store, mstore, _ = plant(db_url, daily_rulebook(tmp_path), DAY_2)
    send(mstore, DAY_1, clean)
    (first,) = judge(store, mstore, db_url, DAY_2)
    # 48 of 48 valid hourly means within their limits
    assert (first.rate.valid, first.rate.compliant, first.rate.expected) == (48, 48, 48)
    assert first.outcome == "issued" and first.band.category == "ENV-EMISSIONS-RATE-HIGH"
    assert first.indicator_points == 100
    record = store.get_row("records", first.record)
    assert record.confirmation is None  # a measurement counts at once
    assert record.evidence_digest.startswith("sha256:") and "100.0 %" in record.title
    assert standing(store, FIRM, DAY_2) == ("green", {"environmental-green"})

    day_3 = DAY_2 + timedelta(days=1)
    send(mstore, DAY_2, exceeding(range(5, 18)))  # 13 hours above the SO₂ limit
    (second,) = judge(store, mstore, db_url, day_3)
    assert (second.rate.valid, second.rate.compliant) == (48, 35)
    assert second.rate.rate == pytest.approx(100 * 35 / 48)  # 72.92 %
    assert second.band.category == "ENV-EMISSIONS-RATE-LOW"
    assert second.indicator_points == pytest.approx((100 * 35 / 48 - 50) / 25 * 49)  # 44.9
    grade, lists = standing(store, FIRM, day_3)
    assert grade == "yellow" and "environmental-green" not in lists
    # the exceedance episode is a record too, but it waits for a person
    rows = store.rows_where("records", "subject_id", [FIRM])
    (episode,) = [r for r in rows if r.category == "ENV-EXCEEDANCE-AUTOMATED"]
    assert episode.confirmation == "pending"
    # on day 2 the firm was green: the day's own assessment, as known then
    assert standing(store, FIRM, DAY_2)[0] == "green"


def test_judging_again_the_same_day_issues_nothing_new(db_url: str, tmp_path: Path) -> None:
    store, mstore, _ = plant(db_url, daily_rulebook(tmp_path), DAY_2)
    send(mstore, DAY_1, clean)
    (first,) = judge(store, mstore, db_url, DAY_2)
    (again,) = judge(store, mstore, db_url, DAY_2)
    assert first.outcome == "issued" and again.outcome == "not_due"
    codes = [r.category for r in store.rows_where("records", "subject_id", [FIRM])]
    assert codes == ["ENV-EMISSIONS-RATE-HIGH"]


def test_the_shipped_rulebook_assesses_monthly_over_twelve_months(
    db_url: str,
) -> None:
    # a plant whose first reading was yesterday is rated on the day since: 24 due hours
    store, mstore, _ = plant(db_url, RULEBOOK, DAY_2)
    send(mstore, DAY_1, exceeding(range(0, 3)))  # 3 of SO₂'s hours above: 45/48 = 93.75 %
    (found,) = judge(store, mstore, db_url, DAY_2)
    assert found.rate.period_start == date(2025, 11, 3) and found.rate.period_end == DAY_1
    assert found.band.category == "ENV-EMISSIONS-RATE-HIGH"
    assert found.indicator_points == pytest.approx(80 + (93.75 - 90) / 10 * 20)  # 87.5
    # two weeks later the assessment still stands; the next is due a month after the first
    later = DAY_2 + timedelta(days=14)
    assert standing(store, FIRM, later)[0] == "green"
    assert standing(store, FIRM, date(2026, 12, 3))[0] == "unrated"  # no newer assessment


def test_invalid_data_is_no_measurement(db_url: str, tmp_path: Path) -> None:
    # the same 13 hours, flagged M (maintenance): 11 valid SO₂ hours + 24 dust = 35, all within
    store, mstore, _ = plant(db_url, daily_rulebook(tmp_path), DAY_2)
    send(mstore, DAY_1, exceeding(range(5, 18), flag="M"))
    (found,) = judge(store, mstore, db_url, DAY_2)
    assert (found.rate.valid, found.rate.compliant, found.rate.expected) == (35, 35, 48)
    # 35/48 = 72.9 % of the hours due are valid: below the 75 % coverage, so no rate at all
    assert found.outcome == "unrated" and found.record is None
    assert any(n.kind == "unrated" for n in mstore.notices(MN))
    assert standing(store, FIRM, DAY_2)[0] == "unrated"


def test_a_stuck_analyser_is_no_measurement(db_url: str, tmp_path: Path) -> None:
    # SO₂ stuck at 80 mg/m³ (100 at 6 % O₂) for the same 13 hours, flagged N: the stuck
    # minutes are not judged, so as with M flags 35 valid means, all within, and no rate —
    # neither a low rate nor an exceedance record rests on a broken sensor
    store, mstore, _ = plant(db_url, daily_rulebook(tmp_path), DAY_2)
    send(mstore, DAY_1, lambda h, m: (80.0, "N") if 5 <= h < 18 else clean(h, m))
    (found,) = judge(store, mstore, db_url, DAY_2)
    assert (found.rate.valid, found.rate.compliant, found.rate.expected) == (35, 35, 48)
    assert found.outcome == "unrated" and found.record is None
    assert not [r for r in store.rows_where("records", "subject_id", [FIRM])
                if r.category == "ENV-EXCEEDANCE-AUTOMATED"]  # fmt: skip
    (flat,) = [n for n in mstore.notices(MN) if n.kind == "flatline"]
    assert flat.pollutant == "a21026" and "not judged: 13 hours" in flat.detail


def test_too_little_data_gives_no_grade_and_a_notice(db_url: str, tmp_path: Path) -> None:
    store, mstore, _ = plant(db_url, daily_rulebook(tmp_path), DAY_2)
    send(mstore, DAY_1, clean, hours=10)  # 20 valid means, fewer than 24
    (found,) = judge(store, mstore, db_url, DAY_2)
    assert found.outcome == "unrated" and found.rate.valid == 20
    (notice,) = [n for n in mstore.notices(MN) if n.kind == "unrated"]
    assert "20 valid of" in notice.detail and "24 and 75 % needed" in notice.detail
    assert store.rows_where("records", "subject_id", [FIRM]) == []
    grade, lists = standing(store, FIRM, DAY_2)
    assert grade == "unrated" and lists == set()


def test_no_monitoring_and_no_record_is_unrated_not_green(db_url: str, tmp_path: Path) -> None:
    store, _, _ = plant(db_url, daily_rulebook(tmp_path), DAY_2)
    assert standing(store, OTHER_FIRM, DAY_2) == ("unrated", set())


def test_a_veto_outranks_a_good_rate(db_url: str, tmp_path: Path) -> None:
    store, mstore, intake = plant(db_url, daily_rulebook(tmp_path), DAY_2)
    send(mstore, DAY_1, clean)
    judge(store, mstore, db_url, DAY_2)
    eco = uscc("11", "440305", "00000047")
    lines = [
        {"op": "authority", "id": eco, "name": "深圳市生态环境局",
         "authority_type": "ecology_environment"},
        {"authority": eco, "category": "ENV-MONITORING-FRAUD", "subject": FIRM,
         "document_number": "深环罚〔2026〕77号", "decision_type": "administrative_penalty",
         "decision_date": DAY_2.isoformat(), "publication_date": DAY_2.isoformat(),
         "title": "篡改自动监测数据"},
    ]  # fmt: skip
    assert [r.outcome for r in intake.submit_many(lines)] == ["accepted", "accepted"]
    grade, lists = standing(store, FIRM, DAY_2)
    assert grade == "red" and lists == {"environmental-red"}


@pytest.mark.parametrize(
    ("rate", "band", "points"),
    [(100.0, "HIGH", 100.0), (90.0, "HIGH", 80.0), (89.99, "FAIR", 50 + 14.99 / 15 * 29),
     (75.0, "FAIR", 50.0), (74.0, "LOW", 24 / 25 * 49), (50.0, "LOW", 0.0),
     (49.9, "FAILING", 0.0), (0.0, "FAILING", 0.0)],
)  # fmt: skip
def test_bands_and_points_follow_huanfa_150(rate: float, band: str, points: float) -> None:
    rulebook = load_rulebook(RULEBOOK)
    assert rulebook.monitoring is not None and rulebook.monitoring.compliance is not None
    found, got = indicator_points(rulebook.monitoring.compliance, rate)
    assert found.category == f"ENV-EMISSIONS-RATE-{band}"
    assert got == pytest.approx(points)


def _compliance(**changes: object) -> dict[str, object]:
    base: dict[str, object] = {
        "period": "12m", "assess_every": "1m", "min_valid_hours": 24, "min_coverage": 75,
        "bands": [{"min_rate": 90, "category": "ENV-EMISSIONS-RATE-HIGH", "points": [80, 100]},
                  {"min_rate": 0, "category": "ENV-EMISSIONS-RATE-FAILING", "points": [0, 0]}],
    }  # fmt: skip
    base.update(changes)
    return base


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"bands": [{"min_rate": 90, "category": "ENV-EMISSIONS-RATE-HIGH", "points": [80, 100]}]},
         "the last band must start at 0 %"),
        ({"bands": [{"min_rate": 0, "category": "ENV-EMISSIONS-RATE-HIGH", "points": [80, 100]},
                    {"min_rate": 50, "category": "ENV-EMISSIONS-RATE-LOW", "points": [0, 49]}]},
         "min_rate must fall"),
        ({"bands": [{"min_rate": 90, "category": "ENV-EMISSIONS-RATE-HIGH", "points": [100, 80]},
                    {"min_rate": 0, "category": "ENV-EMISSIONS-RATE-LOW", "points": [0, 0]}]},
         "bottom <= top"),
        ({"min_coverage": 0}, "min_coverage"),
        ({"period": "twelve months"}, "period"),
    ],
)  # fmt: skip
def test_a_malformed_compliance_section_is_refused(
    changes: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        ComplianceDef.model_validate(_compliance(**changes))


def test_a_band_on_a_category_that_is_not_a_measurement_fails_the_lint() -> None:
    text = RULEBOOK.read_text(encoding="utf-8").replace(
        "category: ENV-EMISSIONS-RATE-FAILING, points", "category: ENV-PENALTY-GENERAL, points"
    )
    rulebook = parse_rulebook(text)
    from trustledger.rulebook.lint import lint_rulebook

    problems = [p.message for p in lint_rulebook(rulebook, national_catalogue())]
    assert any("ENV-PENALTY-GENERAL is not a measured category" in m for m in problems)


def test_a_measured_record_cannot_be_confirmed(db_url: str, tmp_path: Path) -> None:
    store, mstore, _ = plant(db_url, daily_rulebook(tmp_path), DAY_2)
    send(mstore, DAY_1, clean)
    (found,) = judge(store, mstore, db_url, DAY_2)
    intake = Intake(store, national_catalogue(), KEYER, today=DAY_2)
    size = store.size()
    result = intake.submit({"op": "confirm", "authority": MONITOR, "record": found.record,
                            "document_number": "CONFIRM-1", "effective_date": DAY_2.isoformat(),
                            "reason": "reviewed"})  # fmt: skip
    assert result.outcome == "rejected" and "does not await confirmation" in str(result.reason)
    assert store.size() == size  # nothing written


def test_a_failing_rate_alone_never_reaches_red_or_a_black_list(
    db_url: str, tmp_path: Path
) -> None:
    # below 50 %: no points, a warning grade — red and the red-card list need a decision
    store, _, intake = plant(db_url, daily_rulebook(tmp_path), DAY_2)
    line = {"authority": MONITOR, "category": "ENV-EMISSIONS-RATE-FAILING", "subject": FIRM,
            "document_number": f"HJ212-RATE-{FIRM}-20261103", "basis": "automated",
            "decision_type": "administrative_decision", "decision_date": DAY_2.isoformat(),
            "publication_date": DAY_2.isoformat()}  # fmt: skip
    result = intake.submit(line)
    assert result.outcome == "accepted"
    assert store.get_row("records", str(result.ref)).confirmation is None
    assert standing(store, FIRM, DAY_2) == ("yellow", set())
