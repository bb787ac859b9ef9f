"""State tables: both engines write the same state; ingest keeps it current; --at replays."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from builders import COURT, FIRM, FIRM2, authorities, debtor, issue

from trustledger.catalogue import national_catalogue
from trustledger.evaluate.state import WhatIfRequired, evaluate_all, refresh_subjects
from trustledger.evaluate.whatif import read_state_file
from trustledger.ids import PersonKeyer
from trustledger.intake import Intake
from trustledger.ledger.store import Store, open_store
from trustledger.rulebook.publish import publish_rulebook

KEYER = PersonKeyer(bytes(range(32)))
ON = date(2026, 11, 26)
RULEBOOKS = sorted(
    (Path(__file__).parent.parent / "trustledger" / "rulebooks_shipped").glob("*.yaml")
)


@pytest.fixture
def filled(db_url: str) -> Store:
    store = open_store(db_url)
    store.init(KEYER.fingerprint())
    intake = Intake(store, national_catalogue(), KEYER, today=ON)
    lines = [*authorities(), debtor(), issue(), debtor(subject=FIRM2, subject_name="北京某某",
             document_number="(2025)粤0305执9号", decision_date="2025-05-01",
             publication_date="2025-05-02")]  # fmt: skip
    assert all(r.outcome == "accepted" for r in intake.submit_many(lines))
    for path in RULEBOOKS:
        publish_rulebook(store, path, national_catalogue())
    return store


def in_force(since: str, until: str | None, on: date = ON) -> bool:
    return since <= on.isoformat() and (until is None or on.isoformat() < until)


def state(store: Store) -> dict[str, list[tuple[object, ...]]]:
    return {t: store.state_rows(t) for t in ("state_profiles", "state_lists", "state_measures")}


def test_every_engine_writes_the_same_state(filled: Store, db_url: str) -> None:
    evaluate_all(filled, national_catalogue(), at_us=None, on=ON, engine="python")
    by_python = state(filled)
    summaries = evaluate_all(filled, national_catalogue(), at_us=None, on=ON, engine="duckdb")
    assert state(filled) == by_python
    if db_url.startswith("postgresql"):
        evaluate_all(filled, national_catalogue(), at_us=None, on=ON, engine="postgres")
        assert state(filled) == by_python
    else:
        with pytest.raises(ValueError, match="inside a PostgreSQL store"):
            evaluate_all(filled, national_catalogue(), at_us=None, on=ON, engine="postgres")
    spc = next(s for s in summaries if s.rulebook.startswith("cn-spc"))
    assert spc.listed == {"dishonest-judgment-debtors": 2}
    listed = {row[2] for row in by_python["state_lists"] if row[1] == "dishonest-judgment-debtors"}
    assert listed == {FIRM, FIRM2}


def test_refresh_after_an_end_and_history(filled: Store) -> None:
    evaluate_all(filled, national_catalogue(), at_us=None, on=ON)
    intake = Intake(filled, national_catalogue(), KEYER, today=ON)
    end = {"op": "end", "authority": COURT, "subject": FIRM, "category": "JUD-DEBTOR-G1",
           "target_document_number": "(2024)粤0305执1234号", "document_number": "执结1号",
           "effective_date": "2024-09-01", "reason": "performed"}  # fmt: skip
    (result,) = intake.submit_many([end])
    assert result.subject == FIRM
    assert refresh_subjects(filled, national_catalogue(), [FIRM], on=ON) == 1
    runs = [r for r in filled.state_rows("state_lists") if r[1] == "dishonest-judgment-debtors"]
    assert {r[2] for r in runs if in_force(r[4], r[5])} == {FIRM2}
    # the state keeps the past: FIRM was listed until the end took effect
    assert [(r[4], r[5]) for r in runs if r[2] == FIRM] == [("2024-03-05", "2024-09-01")]
    spc_measures = [r for r in filled.state_rows("state_measures") if r[0].startswith("cn-spc")]
    assert {r[2] for r in spc_measures if in_force(r[6], r[7])} == {FIRM2}
    assert all(r[7] is not None and r[7] <= "2024-09-01" for r in spc_measures if r[2] == FIRM)


def test_evaluate_as_of_before_the_end(filled: Store, tmp_path: Path) -> None:
    t = filled.head().time_us
    intake = Intake(filled, national_catalogue(), KEYER, today=ON)
    intake.submit({"op": "end", "authority": COURT, "subject": FIRM, "category": "JUD-DEBTOR-G1",
                   "target_document_number": "(2024)粤0305执1234号", "document_number": "执结1号",
                   "effective_date": "2024-09-01", "reason": "performed"})  # fmt: skip
    evaluate_all(
        filled, national_catalogue(), at_us=None, on=ON, rulebook_id="cn-spc-dishonest-debtors"
    )
    live = filled.state_rows("state_lists")
    # known at t, before the end: a what-if, written to its own file
    out = tmp_path / "before-the-end.sqlite"
    evaluate_all(
        filled,
        national_catalogue(),
        at_us=t,
        on=ON,
        rulebook_id="cn-spc-dishonest-debtors",
        what_if=out,
    )
    then = {r[2] for r in read_state_file(out, "state_lists") if in_force(r[4], r[5])}
    now = {r[2] for r in filled.state_rows("state_lists") if in_force(r[4], r[5])}
    assert then == {FIRM, FIRM2} and now == {FIRM2}
    assert filled.state_rows("state_lists") == live  # the what-if changed no live row
    meta = dict(read_state_file(out, "meta"))
    assert meta["state_known_at_us"] == str(t) and meta["state_on"] == ON.isoformat()
    with pytest.raises(WhatIfRequired, match="what-if"):
        evaluate_all(filled, national_catalogue(), at_us=t, on=ON)


def test_compare_counts_and_agreement(filled: Store) -> None:
    from trustledger.evaluate.compare import UnknownRulebooks, compare

    result = compare(
        filled,
        national_catalogue(),
        ["cn-spc-dishonest-debtors", "cn-national-admin-penalty"],
        at_us=None,
        on=ON,
    )
    spc, admin = result.figures
    assert (spc.blacklisted, admin.blacklisted) == (2, 0)
    (pair,) = result.agreements
    # both subjects are black-listed by the court's rulebook only: no agreement at all
    assert (pair.common_subjects, pair.agree) == (2, 0.0)
    assert pair.jaccard == 0.0
    with pytest.raises(UnknownRulebooks, match="not published then: nope"):
        compare(filled, national_catalogue(), ["nope"], at_us=None, on=ON)


def test_automated_records_count_once_a_person_confirms_them(filled: Store, db_url: str) -> None:
    from builders import uscc

    monitor = uscc("11", "440305", "00000046")
    intake = Intake(filled, national_catalogue(), KEYER, today=ON)
    lines = [{"op": "authority", "id": monitor, "name": "深圳市生态环境监测站",
              "authority_type": "monitoring"}]  # fmt: skip
    lines += [
        issue(authority=monitor, category="ENV-EXCEEDANCE-AUTOMATED",
              decision_type="administrative_decision", document_number=f"EP-{n}",
              decision_date="2026-10-01", publication_date="2026-10-02", amount_cny=None)
        for n in range(5)
    ]  # fmt: skip
    results = intake.submit_many(lines)
    assert all(r.outcome == "accepted" for r in results)
    engines = ["python", "duckdb"] + (["postgres"] if db_url.startswith("postgresql") else [])

    def grades() -> set[object]:
        rows = filled.state_rows("state_profiles", FIRM)
        return {row[3] for row in rows if row[0].startswith("cn-environmental-credit@")}

    for engine in engines:  # pending: none of the five counts, on every engine — as if
        # there were no record at all, and with no compliance rate either: not graded
        evaluate_all(filled, national_catalogue(), at_us=None, on=ON, engine=engine)  # type: ignore[arg-type]
        assert grades() == {"unrated"}
    confirms = [
        {"op": "confirm", "authority": monitor, "record": r.ref, "document_number": f"R-{n}",
         "effective_date": "2026-10-05", "reason": "reviewed: readings valid"}
        for n, r in enumerate(results[1:])
    ]  # fmt: skip
    assert all(r.outcome == "accepted" for r in intake.submit_many(confirms))
    for engine in engines:
        evaluate_all(filled, national_catalogue(), at_us=None, on=ON, engine=engine)  # type: ignore[arg-type]
        assert grades() == {"yellow"}


def test_a_streamed_evaluation_reads_listed_subjects_back_in_chunks(
    filled: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The SQL engines stream the facts in and read back only the listed subjects, a chunk
    at a time: chunks of one subject give the state the Python engine gives."""
    import trustledger.evaluate.state as evaluating

    evaluate_all(filled, national_catalogue(), at_us=None, on=ON, engine="python")
    by_python = state(filled)
    read: list[list[str]] = []
    facts_of = evaluating._facts_of

    def spy(store: Store, ids: list[str]) -> object:
        read.append(list(ids))
        return facts_of(store, ids)

    monkeypatch.setattr(evaluating, "LISTED_CHUNK", 1)
    monkeypatch.setattr(evaluating, "_facts_of", spy)
    evaluate_all(filled, national_catalogue(), at_us=None, on=ON, engine="duckdb")
    assert state(filled) == by_python
    # one subject a read, and only subjects on some list were read back
    assert read and all(len(ids) == 1 for ids in read)
    listed = {row[2] for row in by_python["state_lists"]}
    assert {sid for ids in read for sid in ids} <= listed
