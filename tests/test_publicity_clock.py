"""The publicity window as the law sets it: no fixed term where the law gives none, counted
from the decision or from the publication as the regime says, and, where a version says
so, judged for earlier decisions by the version in force on their decision day.

The worked case, by hand (regimes.md §8; the shipped national regime in its two versions):

- NDRC Order No. 58 (to 2026-03-31) counts a general penalty's 1-year maximum from
  publication; NDRC Order No. 36 (from 2026-04-01) counts it from the decision taking
  effect, and keeps earlier decisions on their Order No. 58 window (its transitional rule).
- Penalty A, decided 2026-02-10 and published 2026-02-20: 2026-02-20 + 1 year, so it
  stops counting on 2027-02-20 — under Order No. 58, and under Order No. 36 too (decided
  before 2026-04-01). Without the transitional rule Order No. 36 would end it on
  2027-02-10 (2026-02-10 + 1 year).
- Penalty B, decided 2026-04-10 and published 2026-04-20: 2026-04-10 + 1 year, so it stops
  counting on 2027-04-10, ten days before a publication-counted window would end.
- A serious penalty decided 2026-02-10, published 2026-02-20 (3 years at most) puts the
  firm on the serious-dishonesty list from 2026-02-20 to the end of Order No. 58's window
  and then, under Order No. 36, until 2029-02-20; another firm's, decided 2026-04-10 and
  published 2026-04-20, from 2026-04-20 until 2029-04-10.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import pytest
import yaml
from builders import FIRM, FIRM2, MARKET, authorities, debtor, issue
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_evaluate_intervals import SUBJECTS as INTERVAL_SUBJECTS
from test_evaluate_intervals import _python_runs as python_runs
from test_evaluate_intervals import records as interval_records
from test_evaluate_intervals import rulebooks as interval_rulebooks
from typer.testing import CliRunner

from trustledger.catalogue import national_catalogue
from trustledger.cli import app
from trustledger.dueprocess.procedures import earliest_repair
from trustledger.evaluate.batch import load_inputs, sql_runs
from trustledger.evaluate.profile import compile_rulebook
from trustledger.evaluate.service import subject_profiles
from trustledger.evaluate.state import Engine, evaluate_all
from trustledger.exports.opendata import write_open_data
from trustledger.ids import PersonKeyer
from trustledger.intake import Intake
from trustledger.ledger.projection import RecordRow
from trustledger.ledger.store import Store, open_store
from trustledger.legality import LegalBasis
from trustledger.rulebook.lint import lint_rulebook
from trustledger.rulebook.load import RulebookError, load_rulebook, parse_rulebook
from trustledger.rulebook.publish import publish_rulebook, regime_versions, version_on
from trustledger.rulebook.schema import Effective, Rulebook, Transitional

KEYER = PersonKeyer(bytes(range(32)))
SHIPPED = Path(__file__).parent.parent / "trustledger" / "rulebooks_shipped"
ORDER_58 = SHIPPED / "cn-national-admin-penalty-2023.yaml"
ORDER_36 = SHIPPED / "cn-national-admin-penalty.yaml"
RID = "cn-national-admin-penalty"
LIST = "serious-dishonesty-publicity"
TODAY = date(2026, 12, 1)

A = {"decision_date": "2026-02-10", "publication_date": "2026-02-20"}
B = {"decision_date": "2026-04-10", "publication_date": "2026-04-20"}


def _penalties() -> list[dict[str, Any]]:
    def penalty(category: str, number: str, dates: dict[str, str], **more: Any) -> Any:
        return issue(authority=MARKET, category=category, document_number=number,
                     title="违法行为", **dates, **more)  # fmt: skip

    return [
        *authorities(),
        penalty("MKT-PENALTY-GENERAL", "深市监罚〔2026〕1号", A),
        penalty("MKT-PENALTY-GENERAL", "深市监罚〔2026〕2号", B),
        penalty("MKT-PENALTY-SERIOUS", "深市监罚〔2026〕3号", A),
        penalty("MKT-PENALTY-SERIOUS", "深市监罚〔2026〕4号", B, subject=FIRM2,
                subject_name="北京某某"),
    ]  # fmt: skip


def _without_transitional(tmp_path: Path) -> Path:
    data = yaml.safe_load(ORDER_36.read_text(encoding="utf-8"))
    data.pop("transitional")
    path = tmp_path / "order-36-plain.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def _store(db_url: str, order_36: Path = ORDER_36) -> Store:
    store = open_store(db_url)
    store.init(KEYER.fingerprint())
    for path in (ORDER_58, order_36):
        publish_rulebook(store, path, national_catalogue())
    results = Intake(store, national_catalogue(), KEYER, today=TODAY).submit_many(_penalties())
    assert all(r.outcome == "accepted" for r in results), results
    return store


@pytest.fixture
def store(db_url: str) -> Store:
    return _store(db_url)


def _ends(store: Store, on: str, subject: str = FIRM) -> tuple[str, dict[str, str | None]]:
    (profile,) = subject_profiles(store, national_catalogue(), subject, at_us=None,
                                  on=date.fromisoformat(on), rulebook_id=RID)  # fmt: skip
    numbers = {r.id: r.document_number for r in map(RecordRow._make, store.iter_rows("records"))}
    return profile.rulebook, {numbers[v.record_id]: v.publicity_ends for v in profile.records}


# ── the worked case ─────────────────────────────────────────────────────────────────────


def test_under_order_58_the_window_counts_from_publication(store: Store) -> None:
    ref, ends = _ends(store, "2026-03-15")
    assert ref == f"{RID}@2025.3"
    assert ends["深市监罚〔2026〕1号"] == "2027-02-20"  # A: 2026-02-20 + 1 year


def test_under_order_36_a_new_decision_counts_from_the_decision(store: Store) -> None:
    ref, ends = _ends(store, "2026-06-01")
    assert ref == f"{RID}@2026.2"
    assert ends["深市监罚〔2026〕2号"] == "2027-04-10"  # B: 2026-04-10 + 1 year
    # A was decided under Order No. 58: it keeps that window (the transitional rule)
    assert ends["深市监罚〔2026〕1号"] == "2027-02-20"


def test_without_the_transitional_rule_an_earlier_decision_takes_the_new_window(
    db_url: str, tmp_path: Path
) -> None:
    store = _store(db_url, _without_transitional(tmp_path))
    _, ends = _ends(store, "2026-06-01")
    assert ends["深市监罚〔2026〕1号"] == "2027-02-10"  # A: 2026-02-10 + 1 year
    assert ends["深市监罚〔2026〕2号"] == "2027-04-10"


def _runs(store: Store) -> list[tuple[str, str, str, str | None]]:
    return sorted((str(r[0]), str(r[2]), str(r[4]), r[5]) for r in store.state_rows("state_lists")
                  if r[1] == LIST)  # fmt: skip


@pytest.mark.parametrize("transitional", [True, False])
def test_every_engine_lists_for_exactly_the_window(
    db_url: str, tmp_path: Path, transitional: bool
) -> None:
    store = _store(db_url, ORDER_36 if transitional else _without_transitional(tmp_path))
    end = "2029-02-20" if transitional else "2029-02-10"  # publication or decision + 3y
    expected = sorted([
        (f"{RID}@2025.3", FIRM, "2026-02-20", "2026-04-01"),  # Order No. 58 until replaced
        (f"{RID}@2026.2", FIRM, "2026-04-01", end),
        (f"{RID}@2026.2", FIRM2, "2026-04-20", "2029-04-10"),  # 2026-04-10 + 3 years
    ])  # fmt: skip
    engines: list[Engine] = ["python", "duckdb"]
    if db_url.startswith("postgres"):
        engines.append("postgres")
    for engine in engines:
        evaluate_all(store, national_catalogue(), at_us=None, on=TODAY, engine=engine)
        assert _runs(store) == expected, engine


def test_open_data_publishes_for_exactly_the_window(store: Store, tmp_path: Path) -> None:
    def published(on: str) -> dict[str, str | None]:
        out = tmp_path / on
        out.mkdir()
        write_open_data(store, national_catalogue(), out, ["jsonl"],
                        on=date.fromisoformat(on), generated_us=0)  # fmt: skip
        rows = [json.loads(line) for line in (out / "records.jsonl").read_text().splitlines()]
        return {r["document_number"]: r["publicity_ends"] for r in rows}

    assert published("2027-02-15")["深市监罚〔2026〕1号"] == "2027-02-20"
    assert "深市监罚〔2026〕1号" not in published("2027-02-20")
    assert published("2027-04-09")["深市监罚〔2026〕2号"] == "2027-04-10"
    assert "深市监罚〔2026〕2号" not in published("2027-04-10")


def test_profile_on_a_past_day_uses_the_version_in_force_that_day(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = CliRunner()
    monkeypatch.setenv("TRUSTLEDGER_DB", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("TRUSTLEDGER_PERSON_KEY_FILE", str(tmp_path / "person.key"))
    assert runner.invoke(app, ["init", "--new-person-key"]).exit_code == 0
    for path in (ORDER_58, ORDER_36):
        assert runner.invoke(app, ["rulebook", "publish", str(path)]).exit_code == 0
    lines = tmp_path / "penalties.jsonl"
    lines.write_text("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in _penalties()))
    assert runner.invoke(app, ["ingest", str(lines)]).exit_code == 0

    def profile(on: str) -> dict[str, Any]:
        result = runner.invoke(app, ["profile", FIRM, "--on", on, "--rulebook", RID, "--json"])
        assert result.exit_code == 0, result.output
        found: dict[str, Any] = json.loads(result.stdout)
        return found

    def ends(found: dict[str, Any]) -> dict[str, str | None]:
        (p,) = found["profiles"]
        return {r["record_id"]: r["publicity_ends"] for r in p["records"]}

    before, after = profile("2026-03-15"), profile("2026-06-01")
    assert [p["rulebook"] for p in before["profiles"]] == [f"{RID}@2025.3"]
    assert [p["rulebook"] for p in after["profiles"]] == [f"{RID}@2026.2"]
    numbers = {r["record_id"]: r["document_number"] for r in after["records"]}
    by_number = {numbers[k]: v for k, v in ends(after).items()}
    assert by_number["深市监罚〔2026〕1号"] == "2027-02-20"
    assert by_number["深市监罚〔2026〕2号"] == "2027-04-10"
    assert {numbers[k]: v for k, v in ends(before).items()}["深市监罚〔2026〕1号"] == "2027-02-20"
    # the people's reading says the same
    text = runner.invoke(app, ["profile", FIRM, "--on", "2026-06-01", "--rulebook", RID]).stdout
    assert "published 2026-04-20, publicity until 2027-04-10" in text


# ── no fixed term ───────────────────────────────────────────────────────────────────────


def test_spc_ground_1_has_no_fixed_term(db_url: str) -> None:
    spc = load_rulebook(SHIPPED / "cn-spc-dishonest-debtors.yaml")
    (ground_1,) = [t for t in spc.treatments if t.select.codes == ["JUD-DEBTOR-G1"]]
    assert ground_1.publicity.max is None
    assert ground_1.publicity_override is not None and ground_1.publicity_override.article
    text = (SHIPPED / "cn-spc-dishonest-debtors.yaml").read_text(encoding="utf-8")
    assert "99" not in text and "stand-in" not in text
    store = open_store(db_url)
    store.init(KEYER.fingerprint())
    publish_rulebook(store, SHIPPED / "cn-spc-dishonest-debtors.yaml", national_catalogue())
    Intake(store, national_catalogue(), KEYER, today=TODAY).submit_many(
        [*authorities(), debtor(decision_date="2024-03-01", publication_date="2024-03-05")]
    )
    (profile,) = subject_profiles(store, national_catalogue(), FIRM, at_us=None,
                                  on=date(2124, 1, 1))  # fmt: skip
    (view,) = profile.records
    assert (view.standing, view.publicity_ends) == ("in force", None)
    (listing,) = profile.lists
    assert listing.until is None


def _one_treatment(**publicity: Any) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(ORDER_36.read_text(encoding="utf-8"))
    data["treatments"] = [{
        "select": {"codes": ["MKT-PENALTY-SERIOUS"]},
        "publicity": {"min": "1y", "max": None},
        "legal_basis": [{"instrument": "test basis"}],
        **publicity,
    }]  # fmt: skip
    return data


def test_no_maximum_without_the_law_that_gives_none_is_refused() -> None:
    text = yaml.safe_dump(_one_treatment(), allow_unicode=True, sort_keys=False)
    with pytest.raises(RulebookError) as caught:
        parse_rulebook(text, "no-max.yaml")
    (problem,) = caught.value.problems
    assert "treatments[0]" in problem
    assert (
        "treatment (codes MKT-PENALTY-SERIOUS): publicity max null (no fixed term) needs a "
        "publicity_override citing the law that gives no term"
    ) in problem
    with pytest.raises(ValueError, match="publicity_no_maximum"):
        Rulebook.model_validate(_one_treatment())


def test_no_maximum_needs_the_article_that_gives_no_term() -> None:
    data = _one_treatment(publicity_override={"instrument": "SPC Fashi [2013] No. 17"})
    problems = [str(p) for p in lint_rulebook(Rulebook.model_validate(data), national_catalogue())]
    assert problems == [
        "treatments[0].publicity_override: treatment (codes MKT-PENALTY-SERIOUS): publicity "
        "max null (no fixed term) needs the article of the law that gives no term in "
        "publicity_override"
    ]
    data["treatments"][0]["publicity_override"]["article"] = "2"
    assert lint_rulebook(Rulebook.model_validate(data), national_catalogue()) == []


# ── the clock and the transitional rule, refused ───────────────────────────────────────


def test_an_unknown_clock_is_refused() -> None:
    data: dict[str, Any] = yaml.safe_load(ORDER_36.read_text(encoding="utf-8"))
    data["publicity_from"] = "notification"
    with pytest.raises(RulebookError) as caught:
        parse_rulebook(yaml.safe_dump(data, allow_unicode=True), "clock.yaml")
    (problem,) = caught.value.problems
    assert "publicity_from" in problem and "'decision'" in problem


def test_a_transitional_rule_without_legal_basis_is_refused() -> None:
    data: dict[str, Any] = yaml.safe_load(ORDER_36.read_text(encoding="utf-8"))
    data["transitional"]["legal_basis"] = []
    problems = [str(p) for p in lint_rulebook(Rulebook.model_validate(data), national_catalogue())]
    assert problems == ["transitional: transitional rule: no legal basis"]


def test_the_shipped_versions_say_their_clock() -> None:
    order_58, order_36 = load_rulebook(ORDER_58), load_rulebook(ORDER_36)
    assert (order_58.publicity_from, order_58.transitional) == ("publication", None)
    assert order_36.publicity_from == "decision"
    assert order_36.transitional is not None
    assert order_36.transitional.earlier_decisions_keep_prior_publicity
    # the default keeps what every other regime did: from publication
    others = [p for p in SHIPPED.glob("*.yaml") if p not in (ORDER_58, ORDER_36)]
    assert {load_rulebook(p).publicity_from for p in others} == {"publication"}


def test_repair_counts_the_minimum_from_the_same_day_as_the_window(store: Store) -> None:
    # the 3-month minimum of a general penalty, after the day the regime counts from: B
    # from its decision (2026-04-10 + 3 months), A from its publication (Order No. 58's
    # window, kept by the transitional rule: 2026-02-20 + 3 months)
    versions = regime_versions(store)[RID]
    cr = compile_rulebook(version_on(versions, TODAY), national_catalogue(), versions)
    rows = {r.document_number: r for r in map(RecordRow._make, store.iter_rows("records"))}
    a, b = rows["深市监罚〔2026〕1号"], rows["深市监罚〔2026〕2号"]
    assert cr.repair_from(b) == date(2026, 7, 10)
    assert cr.repair_from(a) == date(2026, 5, 20)
    first = cr.repair_from(b)
    assert first is not None
    assert earliest_repair(b, (), [first]) == date(2026, 7, 10)


# ── every engine, random regimes in two versions ───────────────────────────────────────

SPLIT = date(2024, 2, 29)  # the later version's first day: a leap day, inside the records


def _two_versions(earlier: Rulebook, later: Rulebook) -> tuple[Rulebook, Rulebook]:
    """``earlier`` until the day before SPLIT, ``later`` from SPLIT with a transitional
    rule: records decided before SPLIT keep ``earlier``'s windows."""
    ended = Effective.model_validate({"from": earlier.effective.from_, "until": "2024-02-28"})
    first = earlier.model_copy(update={"effective": ended})
    rule = Transitional(
        earlier_decisions_keep_prior_publicity=True,
        legal_basis=[LegalBasis(instrument="test basis")],
    )
    begun = Effective.model_validate({"from": SPLIT})
    second = later.model_copy(update={"version": "2", "effective": begun, "transitional": rule})
    return first, second


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(earlier=interval_rulebooks(), later=interval_rulebooks(), data=st.data())
def test_duckdb_keeps_earlier_windows_as_python_does(
    earlier: Rulebook, later: Rulebook, data: st.DataObject
) -> None:
    first, second = _two_versions(earlier, later)
    cr = compile_rulebook(second, national_catalogue(), [first, second])
    recs = {s.id: data.draw(interval_records(s.id)) for s in INTERVAL_SUBJECTS}
    for rows in recs.values():
        for r in rows:
            window = cr.window_of(r)
            if window is not None and date.fromisoformat(r.decision_date) < SPLIT:
                treated = r.category in compile_rulebook(first, national_catalogue()).treatment_of
                assert window.ref == ("random@1" if treated else cr.ref)
    con = duckdb.connect()
    load_inputs(con, INTERVAL_SUBJECTS, [r for rs in recs.values() for r in rs])
    assert sql_runs(con, cr) == python_runs(cr, recs)


@pytest.mark.postgres
@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(earlier=interval_rulebooks(), later=interval_rulebooks(), data=st.data())
def test_postgres_keeps_earlier_windows_as_python_does(
    pg_url: str, earlier: Rulebook, later: Rulebook, data: st.DataObject
) -> None:
    first, second = _two_versions(earlier, later)
    cr = compile_rulebook(second, national_catalogue(), [first, second])
    recs = {s.id: data.draw(interval_records(s.id)) for s in INTERVAL_SUBJECTS}
    with psycopg.connect(pg_url, autocommit=True) as con:
        load_inputs(con, INTERVAL_SUBJECTS, [r for rs in recs.values() for r in rs])
        found = sql_runs(con, cr)
    assert found == python_runs(cr, recs)
