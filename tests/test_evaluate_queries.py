"""The state's queries: the signature a check server watches and the subjects it patches."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import pytest
from builders import FIRM, FIRM2, authorities, debtor, issue
from test_api import KEYER, ON, RULEBOOKS

from trustledger.catalogue import national_catalogue
from trustledger.evaluate.queries import changed_subjects, state_signature
from trustledger.evaluate.state import evaluate_all, refresh_if_evaluated
from trustledger.intake import Intake
from trustledger.ledger.sqlite import sqlite_path
from trustledger.ledger.store import Store, open_store
from trustledger.rulebook.publish import publish_rulebook


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    s = open_store(db_url)
    s.init(KEYER.fingerprint())
    intake = Intake(s, national_catalogue(), KEYER, today=ON)
    lines = [*authorities(), debtor(), issue(), debtor(subject=FIRM2, subject_name="北京某某",
             document_number="(2025)粤0305执9号", decision_date="2025-05-01",
             publication_date="2025-05-02")]  # fmt: skip
    assert all(r.outcome == "accepted" for r in intake.submit_many(lines))
    for path in RULEBOOKS:
        publish_rulebook(s, path, national_catalogue())
    yield s
    s.close()


def test_before_any_evaluation_nothing_is_evaluated(store: Store) -> None:
    signature = state_signature(store)
    assert signature.ledger_size == store.size()
    assert signature.evaluated_to is None and signature.generation == 0


def test_an_ingest_moves_the_signature_and_names_only_its_subject(store: Store) -> None:
    evaluate_all(store, national_catalogue(), at_us=None, on=ON)
    before = state_signature(store)
    assert before.generation == 1 and before.evaluated_to is not None
    assert changed_subjects(store, before.ledger_size, before.evaluated_to) == set()

    intake = Intake(store, national_catalogue(), KEYER, today=ON)
    (result,) = intake.submit_many([debtor(document_number="(2025)粤0305执12号")])
    assert result.outcome == "accepted"
    refresh_if_evaluated(store, national_catalogue(), {FIRM}, on=ON)
    after = state_signature(store)
    assert after.ledger_size > before.ledger_size
    assert after.evaluated_to is not None and after.evaluated_to > before.evaluated_to
    assert after.generation == before.generation  # a patch, not a whole evaluation
    assert changed_subjects(store, before.ledger_size, before.evaluated_to) == {FIRM}


def test_a_whole_evaluation_counts_a_generation(store: Store) -> None:
    evaluate_all(store, national_catalogue(), at_us=None, on=ON)
    first = state_signature(store)
    evaluate_all(store, national_catalogue(), at_us=None, on=ON)
    second = state_signature(store)
    assert second.generation == first.generation + 1
    # the same facts: the newest evaluation reflects the same position
    assert second.evaluated_to == first.evaluated_to


def test_a_look_reads_through_indexes_not_the_whole_state(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a check server runs at every look must not scan a table that grows with the
    register: the plan of each query the look makes, on SQLite, searches an index."""
    if not store.url.startswith("sqlite"):
        pytest.skip("the plans are read on SQLite; PostgreSQL gets the same indexes")
    evaluate_all(store, national_catalogue(), at_us=None, on=ON)
    ran: list[tuple[str, tuple[object, ...]]] = []
    query = store.query

    def recording(sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
        ran.append((sql, params))
        return query(sql, params)

    monkeypatch.setattr(store, "query", recording)
    signature = state_signature(store)
    changed_subjects(store, signature.ledger_size, signature.evaluated_to)
    assert len(ran) == 5
    conn = sqlite3.connect(sqlite_path(store.url))
    try:
        for sql, params in ran:
            plan = " | ".join(r[3] for r in conn.execute("EXPLAIN QUERY PLAN " + sql, params))
            assert "INDEX" in plan and not plan.startswith("SCAN"), (sql, plan)
            assert " SCAN " not in f" {plan} ", (sql, plan)
    finally:
        conn.close()


@pytest.mark.postgres
def test_a_look_never_runs_a_plan_made_for_any_position(pg_url: str) -> None:
    # the driver prepares a statement after five runs and PostgreSQL may then plan it once
    # for any bound value: for "ledger_size > $1" that plan scans the whole state. A look
    # binds no position, so every plan knows the position it looks past
    with open_store(pg_url) as s:
        s.init(KEYER.fingerprint())
        for _ in range(12):
            signature = state_signature(s)
            changed_subjects(s, signature.ledger_size, signature.evaluated_to)
        conn = getattr(s, "conn")  # noqa: B009
        prepared = conn.execute(
            "SELECT statement, parameter_types::text, generic_plans FROM pg_prepared_statements"
        ).fetchall()
    looks = [p for p in prepared if "last_seq >=" in p[0] or "ledger_size >" in p[0]]
    assert looks, "the look's statements were expected to be prepared after twelve runs"
    assert all(types == "{}" for _, types, _ in looks), looks


def test_a_change_larger_than_a_look_reads_is_read_whole(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a look reads a bounded number of rows in index order; past that it reads the rest
    import trustledger.evaluate.queries as queries

    monkeypatch.setattr(queries, "_LOOK_ROWS", 1)
    changed = changed_subjects(store, 0, None)
    assert {FIRM, FIRM2} <= changed
    monkeypatch.setattr(queries, "_LOOK_ROWS", 10_000)
    assert changed_subjects(store, 0, None) == changed
