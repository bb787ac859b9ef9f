"""Exact standing over time: runs found on the days time alone turns a condition, the live
state swapped in whole, what-if evaluations kept apart, incentives withheld from the
black-listed (DESIGN.md "Time", "Evaluation, lists, measures, checks")."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from datetime import date
from pathlib import Path

import pytest
from builders import (
    COURT,
    FIRM,
    FIRM2,
    MARKET,
    authorities,
    debtor,
    issue,
    monitoring_authority,
    rated_high,
)

from trustledger.catalogue import national_catalogue
from trustledger.evaluate.state import evaluate_all
from trustledger.ids import PersonKeyer
from trustledger.intake import Intake
from trustledger.ledger.store import Store, open_store
from trustledger.rulebook.publish import publish_rulebook
from trustledger.sanctions.check import INCENTIVES_WITHHELD, CheckIndex

KEYER = PersonKeyer(bytes(range(32)))
TODAY = date(2026, 12, 1)
SHIPPED = Path(__file__).parent.parent / "trustledger" / "rulebooks_shipped"


def _store(db_url: str, lines: list[dict[str, object]], rulebooks: list[str]) -> Store:
    store = open_store(db_url)
    store.init(KEYER.fingerprint())
    intake = Intake(store, national_catalogue(), KEYER, today=TODAY)
    results = intake.submit_many([*authorities(), *lines])
    assert all(r.outcome == "accepted" for r in results), [r for r in results if r.problems]
    for name in rulebooks:
        publish_rulebook(store, SHIPPED / f"{name}.yaml", national_catalogue())
    return store


def abnormal(**fields: object) -> dict[str, object]:
    return issue(authority=MARKET, category="MKT-ABNORMAL-NO-REPORT",
                 decision_type="administrative_decision", document_number="深市监异〔2023〕5号",
                 decision_date="2023-05-30", publication_date="2023-06-01", amount_cny=None,
                 title="未按规定报送年度报告", **fields)  # fmt: skip


@pytest.mark.parametrize("engine", ["python", "duckdb"])
def test_a_threshold_reached_by_time_alone_starts_the_listing_that_day(
    db_url: str, engine: str
) -> None:
    store = _store(db_url, [abnormal()], ["cn-market-abnormal-operations"])
    evaluate_all(store, national_catalogue(), at_us=None, on=TODAY, engine=engine)  # type: ignore[arg-type]
    runs = {r[1]: (r[4], r[5]) for r in store.state_rows("state_lists", FIRM)}
    # 1096 days after 2023-06-01; the abnormal record is public for 6 years
    assert runs == {
        "abnormal-operations": ("2023-06-01", "2029-06-01"),
        "serious-illegal-dishonest": ("2026-06-01", "2029-06-01"),
    }
    index = CheckIndex.load(store)
    assert index.check(FIRM, "public_procurement", date(2026, 5, 20)).status == "allow"
    barred = index.check(FIRM, "public_procurement", date(2026, 6, 10))
    assert barred.status == "deny"
    (reason,) = barred.reasons
    assert (reason["measure"], reason["start"], reason["end"]) == (
        "no-public-procurement", "2026-06-01", "2029-06-01"
    )  # fmt: skip
    # and on the day it was evaluated, long after both
    assert index.check(FIRM, "public_procurement", TODAY).status == "deny"


def test_incentives_are_withheld_from_a_black_listed_subject(db_url: str) -> None:
    # FIRM2 emits within its limits (green: fewer inspections) but is a judgment debtor
    # (black list of the court's rulebook); FIRM's tax penalty is no environmental record
    rated = [rated_high(s, d) for s in (FIRM, FIRM2) for d in (date(2025, 3, 20), TODAY)]
    lines = [debtor(subject=FIRM2, subject_name="北京某某", document_number="(2025)粤0305执9号",
                    decision_date="2025-05-01", publication_date="2025-05-02"),
             issue(subject=FIRM), monitoring_authority(), *rated]  # fmt: skip
    store = _store(db_url, lines, ["cn-environmental-credit", "cn-spc-dishonest-debtors"])
    evaluate_all(store, national_catalogue(), at_us=None, on=TODAY)
    index = CheckIndex.load(store)
    rewarded = index.check(FIRM, "reduced_inspection", TODAY)
    assert rewarded.status == "allow_with_incentives"
    withheld = index.check(FIRM2, "reduced_inspection", TODAY)
    assert withheld.status == "allow" and withheld.allowed
    assert withheld.why is not None and withheld.why.startswith(INCENTIVES_WITHHELD)
    assert "dishonest-judgment-debtors (cn-spc-dishonest-debtors@" in withheld.why
    (reason,) = withheld.reasons
    assert reason["measure"] == "green-fewer-inspections"
    assert reason["withheld_by"][0]["list"] == "dishonest-judgment-debtors"
    # before the listing the incentive reached FIRM2 like any green firm
    assert index.check(FIRM2, "reduced_inspection", date(2025, 4, 1)).status == (
        "allow_with_incentives"
    )


def test_compare_reports_subjects_both_red_and_black(db_url: str) -> None:
    from trustledger.evaluate.compare import compare

    lines = [debtor(subject=FIRM2, subject_name="北京某某", document_number="(2025)粤0305执9号",
                    decision_date="2025-05-01", publication_date="2025-05-02"),
             monitoring_authority(), rated_high(FIRM2, TODAY)]  # fmt: skip
    store = _store(db_url, lines, ["cn-environmental-credit", "cn-spc-dishonest-debtors"])
    result = compare(
        store,
        national_catalogue(),
        ["cn-environmental-credit", "cn-spc-dishonest-debtors"],
        at_us=None,
        on=TODAY,
    )
    assert result.red_and_black == [FIRM2]
    from typer.testing import CliRunner

    from trustledger.cli import app as cli_app

    args = ["compare", "cn-environmental-credit", "cn-spc-dishonest-debtors", "--db", db_url,
            "--on", TODAY.isoformat()]  # fmt: skip
    shown = CliRunner().invoke(cli_app, args)
    assert shown.exit_code == 0, shown.output
    assert f"both red- and black-listed: 1 (their incentives are withheld): {FIRM2}" in (
        shown.stdout
    )
    as_json = CliRunner().invoke(cli_app, [*args, "--json"])
    assert json.loads(as_json.stdout)["red_and_black"] == [FIRM2]


def test_a_what_if_never_changes_a_live_answer(db_url: str, tmp_path: Path) -> None:
    lines = [debtor(), abnormal(subject=FIRM2, subject_name="北京某某")]
    store = _store(db_url, lines, ["cn-spc-dishonest-debtors", "cn-market-abnormal-operations"])
    evaluate_all(store, national_catalogue(), at_us=None, on=TODAY)
    t = store.head().time_us
    intake = Intake(store, national_catalogue(), KEYER, today=TODAY)
    intake.submit({"op": "end", "authority": COURT, "subject": FIRM, "category": "JUD-DEBTOR-G1",
                   "target_document_number": "(2024)粤0305执1234号", "document_number": "执结1号",
                   "effective_date": "2024-09-01", "reason": "performed"})  # fmt: skip
    evaluate_all(store, national_catalogue(), at_us=None, on=TODAY)
    actions = ["air_travel", "public_procurement", "high_speed_rail", "reduced_inspection"]
    days = [date(2024, 6, 1), date(2026, 5, 20), date(2026, 6, 10), TODAY, date(2031, 6, 1)]
    pairs = [(s, a, d) for s in (FIRM, FIRM2) for a in actions for d in days]

    def answers() -> list[tuple[str, tuple[str, ...]]]:
        index = CheckIndex.load(store)
        return [
            (d.status, tuple(r["measure"] for r in d.reasons))
            for d in (index.check(s, a, day) for s, a, day in pairs)
        ]

    before = answers()
    assert ("deny", ("no-air-travel",)) in before  # FIRM before the end took effect
    evaluate_all(store, national_catalogue(), at_us=t, on=date(2031, 6, 1),
                 what_if=tmp_path / "then.sqlite")  # fmt: skip
    evaluate_all(store, national_catalogue(), at_us=None, on=date(2031, 6, 1),
                 what_if=tmp_path / "later.sqlite")  # fmt: skip
    assert answers() == before
    assert (tmp_path / "then.sqlite").exists() and not (tmp_path / "then.sqlite.partial").exists()


_KILLED_RUN = textwrap.dedent(
    """
    import sys, time
    from datetime import date
    from trustledger.catalogue import national_catalogue
    from trustledger.evaluate.state import evaluate_all
    from trustledger.ledger.store import open_store

    def step(ref, done, total):
        if done == 1:  # the first rulebook is staged: stop here until killed
            print("staged", flush=True)
            time.sleep(120)

    store = open_store(sys.argv[1])
    evaluate_all(store, national_catalogue(), at_us=None, on=date(2031, 6, 1), progress=step)
    """
)


def test_kill_9_during_evaluate_leaves_the_previous_state_whole(db_url: str) -> None:
    lines = [debtor(), abnormal(subject=FIRM2, subject_name="北京某某")]
    store = _store(db_url, lines, ["cn-spc-dishonest-debtors", "cn-market-abnormal-operations"])
    evaluate_all(store, national_catalogue(), at_us=None, on=TODAY)
    tables = ("state_profiles", "state_lists", "state_measures", "state_subjects")
    before = {t: store.state_rows(t) for t in tables}
    meta_before = {k: v for k, v in store.meta().items() if k.startswith("state_")}
    child = subprocess.Popen(
        [sys.executable, "-c", _KILLED_RUN, db_url],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)},
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "staged"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    store.close()
    store = open_store(db_url)
    assert {t: store.state_rows(t) for t in tables} == before
    meta = store.meta()
    assert {k: v for k, v in meta.items() if k.startswith("state_") and k != "state_rebuild"} == (
        meta_before
    )
    assert store.interrupted_state_rebuild() is not None  # the marker of the killed run
    from trustledger.ledger.verify import verify

    report = verify(store)  # the ledger is intact; the killed evaluation is named
    assert report.ok and any("did not finish" in note for note in report.notes)
    index = CheckIndex.load(store)
    assert index.check(FIRM, "air_travel", TODAY).status == "deny"
    notices: list[str] = []
    evaluate_all(store, national_catalogue(), at_us=None, on=TODAY, notice=notices.append)
    assert len(notices) == 1 and "did not finish" in notices[0]
    assert store.interrupted_state_rebuild() is None
