"""verify covers every table: tamper one row of each (from the database's own catalogue),
verify exits 1 naming the table; SQLite and PostgreSQL."""

from __future__ import annotations

import multiprocessing
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from typer.testing import CliRunner

from trustledger.access.log import record_access
from trustledger.app import demo, ledger, notices, person_keys
from trustledger.app.context import Context
from trustledger.app.verification import classify, database_tables
from trustledger.cli import app as cli_app
from trustledger.domain import EntryKind
from trustledger.dueprocess.senders import OutboxSender
from trustledger.ledger.store import Store
from trustledger.monitoring.codec import PacketError, parse
from trustledger.monitoring.store import MonitoringStore, Rejected
from trustledger.settings import Settings


def _entries_for_empty_projections(ctx: Context) -> None:
    """One row in each projection table the demo leaves empty, written as entries."""
    store = ctx.store
    record = next(iter(store.iter_rows("records")))
    rid, sid, authority = record[0], record[1], record[2]
    day = ctx.today().isoformat()
    store.append_one(EntryKind.OBJECTION_FILED.value, {
        "objection_id": "O-test", "record_id": rid, "subject": sid, "ground": "content",
        "filed_date": day, "deadline": day, "filed_by": "p_test"})  # fmt: skip
    store.append_one(EntryKind.REPAIR_APPLIED.value, {
        "repair_id": "R-test", "record_id": rid, "subject": sid, "applied_date": day,
        "deadline": day, "applicant": "p_test"})  # fmt: skip
    store.append_one(EntryKind.LISTING_HELD.value, {
        "hold_id": "H-test", "subject": sid, "rulebook": "cn-spc-dishonest-debtors",
        "list": "dishonest-judgment-debtors", "held_date": day, "held_by": "p_test",
        "reasons": "review"})  # fmt: skip
    store.append_one(EntryKind.CONSENT_GIVEN.value, {
        "record_id": rid, "subject": sid, "display_name": "x", "shown": ["title"],
        "date": day, "given_by": "p_test"})  # fmt: skip
    store.append_one(EntryKind.EXCEPTION_GRANTED.value, {
        "exception_id": "E-test", "subject": sid, "authority": authority,
        "document_number": "(2026)test", "decision_date": day, "actions": ["air_travel"],
        "valid_from": day, "valid_until": day})  # fmt: skip
    # a person-key rotation (person_keys) and a person linked to the new key
    rotation = person_keys.rotate(ctx)
    (person,) = store.query("SELECT id FROM subjects WHERE kind = 'person' LIMIT 1")[0]
    store.append_one(EntryKind.PERSON_KEY_LINKED.value, {
        "hash": "P" + "e" * 32, "version": rotation.version, "subject": person,
        "from_version": rotation.old_version})  # fmt: skip


def build(ctx: Context, work: Path) -> None:
    """A demo database with a row in every table the schema creates."""
    demo.run(ctx, directory=work / "demo", subjects=300)
    store = ctx.store
    _entries_for_empty_projections(ctx)
    # due process notices, delivered (attempts) to an address
    listed = store.query("SELECT DISTINCT subject_id FROM state_lists ORDER BY 1 LIMIT 3")
    for (sid,) in listed:
        notices.notify_changes(ctx, str(sid), before_at_us=None)
    notices.set_address(ctx, str(listed[0][0]), "credit@example.cn")
    notices.deliver(ctx, sender=OutboxSender(work / "outbox", "centre@example.cn"))
    record_access(store, None, "test.read", subject_id=str(listed[0][0]), purpose="test")
    try:
        parse("##0000garbage")
    except PacketError as exc:
        MonitoringStore(store).save([], [Rejected(exc, ctx.now_us(), "127.0.0.1:1", "##00")])
    # a whole evaluation again, after the projections above changed
    from trustledger.evaluate.state import evaluate_all

    evaluate_all(store, ctx.catalogue, at_us=None, on=ctx.today())


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def built(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Context, Path]]:
    work = tmp_path_factory.mktemp("coverage")
    url, schema, server = f"sqlite:///{work / 'db.sqlite'}", None, ""
    if request.param == "postgres":
        server = request.getfixturevalue("pg_server")
        schema = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")
        url = f"{server}{'&' if '?' in server else '?'}options=-csearch_path%3D{schema}"
    settings = Settings(db_url=url, person_key_file=work / "p.key",
                        outbox_dir=work / "outbox")  # fmt: skip
    ctx = Context.open(settings, must_exist=False)
    build(ctx, work)
    yield ctx, work
    ctx.close()
    if schema is not None:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture(autouse=True)
def _one_process(monkeypatch: pytest.MonkeyPatch) -> None:
    # verify's projection check in this process: the test runs verify 60 times
    monkeypatch.setattr(multiprocessing, "cpu_count", lambda: 1)


def _problems(ctx: Context) -> list[str]:
    report = ledger.verify(ctx)
    assert report.ok == (not report.problems)
    return [p for _, p in report.problems]


def _last_row(store: Store, table: str) -> tuple[list[str], tuple[Any, ...]]:
    columns = [c[0] for c in _columns(store, table)]
    rows = store.query(
        f"SELECT * FROM {table} ORDER BY {', '.join(str(i + 1) for i in range(len(columns)))}"
    )
    return columns, tuple(bytes(v) if isinstance(v, memoryview) else v for v in rows[-1])


def _columns(store: Store, table: str) -> list[tuple[str]]:
    if store.url.startswith("sqlite"):
        return [(str(r[1]),) for r in store.query(f"PRAGMA table_info({table})")]
    rows = store.query(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = "
        "current_schema() AND table_name = ? ORDER BY ordinal_position",
        (table,),
    )
    return [(str(r[0]),) for r in rows]


def _where(store: Store, columns: list[str], row: tuple[Any, ...]) -> tuple[str, list[Any]]:
    same = "IS" if store.url.startswith("sqlite") else "IS NOT DISTINCT FROM"
    return " AND ".join(f"{c} {same} ?" for c in columns), list(row)


def _changed(value: Any) -> Any:
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, float):
        return value + 1.5
    if isinstance(value, bytes):
        return bytes([value[0] ^ 1]) + value[1:] if value else b"\x01"
    return str(value) + "x"


def test_a_clean_database_verifies(built: tuple[Context, Path]) -> None:
    ctx, _ = built
    assert _problems(ctx) == []


def test_every_table_is_classified_and_has_rows(built: tuple[Context, Path]) -> None:
    ctx, _ = built
    tables = database_tables(ctx.store)
    unclassified = [t for t in tables if classify(t) is None]
    assert not unclassified, (
        f"tables verify does not classify: {unclassified} — add each to "
        "trustledger.app.verification.TABLES (and docs/ledger.md)"
    )
    empty = [t for t in tables if not ctx.store.query(f"SELECT 1 FROM {t} LIMIT 1")]
    assert not empty, f"the built database leaves these tables empty: {empty}"


def test_tampering_any_row_of_any_table_is_found_and_named(built: tuple[Context, Path]) -> None:
    ctx, _ = built
    store = ctx.store
    missed: list[str] = []
    for table in database_tables(store):
        if not store.query(f"SELECT 1 FROM {table} LIMIT 1"):
            missed.append(f"{table} is empty in the built database: make build() write a row")
            continue
        columns, row = _last_row(store, table)
        # one column value changed: the last column that holds a value
        index = max(i for i, v in enumerate(row) if v is not None)
        where, params = _where(store, columns, row)
        changed = _changed(row[index])
        with store.transaction():
            store.execute(f"UPDATE {table} SET {columns[index]} = ? WHERE {where}",
                          [(changed, *params)])  # fmt: skip
        found = _problems(ctx)
        if not any(p.startswith(f"{table}:") or p.startswith(f"{table} ") for p in found):
            missed.append(f"{table}.{columns[index]} changed: {found[:3]}")
        after = (*row[:index], changed, *row[index + 1 :])
        where2, params2 = _where(store, columns, after)
        with store.transaction():
            store.execute(f"UPDATE {table} SET {columns[index]} = ? WHERE {where2}",
                          [(row[index], *params2)])  # fmt: skip
        # one row deleted, then put back
        with store.transaction():
            store.execute(f"DELETE FROM {table} WHERE {where}", [params])
        found = _problems(ctx)
        if not any(p.startswith(f"{table}:") or p.startswith(f"{table} ") for p in found):
            missed.append(f"{table} row deleted: {found[:3]}")
        with store.transaction():
            marks = ", ".join("?" for _ in row)
            store.execute(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", [row])
        assert _problems(ctx) == [], f"restoring {table} left the database failing"
    assert not missed, "\n".join(missed)


def test_the_cli_exits_1_naming_the_table(
    built: tuple[Context, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx, work = built
    monkeypatch.setenv("TRUSTLEDGER_DB", ctx.settings.db_url)
    monkeypatch.setenv("TRUSTLEDGER_PERSON_KEY_FILE", str(work / "p.key"))
    runner = CliRunner()
    result = runner.invoke(cli_app, ["verify"])
    assert result.exit_code == 0, result.output
    store = ctx.store
    columns, row = _last_row(store, "state_profiles")
    where, params = _where(store, columns, row)
    with store.transaction():
        store.execute(f"DELETE FROM state_profiles WHERE {where}", [params])
    try:
        result = runner.invoke(cli_app, ["verify"])
        assert result.exit_code == 1
        assert "TAMPERED" in result.output and "state_profiles:" in result.output
    finally:
        with store.transaction():
            marks = ", ".join("?" for _ in row)
            store.execute(f"INSERT INTO state_profiles VALUES ({marks})", [row])
    assert runner.invoke(cli_app, ["verify"]).exit_code == 0


def test_a_table_nobody_classified_fails_verify_by_name(built: tuple[Context, Path]) -> None:
    ctx, _ = built
    store = ctx.store
    store.create_tables(["CREATE TABLE IF NOT EXISTS unheard_of (id TEXT PRIMARY KEY)"])
    try:
        found = _problems(ctx)
        assert any(p.startswith("unheard_of: a table verify does not know") for p in found)
    finally:
        with store.transaction():
            store.execute("DROP TABLE unheard_of")
    assert _problems(ctx) == []


def test_reevaluate_compares_the_state_row_for_row(
    built: tuple[Context, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx, work = built
    monkeypatch.setenv("TRUSTLEDGER_DB", ctx.settings.db_url)
    monkeypatch.setenv("TRUSTLEDGER_PERSON_KEY_FILE", str(work / "p.key"))
    result = CliRunner().invoke(cli_app, ["verify", "--reevaluate"])
    assert result.exit_code == 0, result.output
    report = ledger.verify(ctx, reevaluate=True)
    assert report.ok
    # a grade changed in a row and in the digest would still differ from evaluating again
    store = ctx.store
    columns, row = _last_row(store, "state_profiles")
    where, params = _where(store, columns, row)
    with store.transaction():
        store.execute(f"DELETE FROM state_profiles WHERE {where}", [params])
    try:
        found = [p for _, p in ledger.verify(ctx, reevaluate=True).problems]
        assert any(p.startswith("state_profiles: evaluating the ledger again") for p in found)
    finally:
        with store.transaction():
            marks = ", ".join("?" for _ in row)
            store.execute(f"INSERT INTO state_profiles VALUES ({marks})", [row])


class _Writes(dict[str, Any]):
    """A projection table that notes which entry kind wrote into it."""

    def __init__(self, table: str, seen: set[tuple[str, str]], kind: list[str]) -> None:
        super().__init__()
        self._table, self._seen, self._kind = table, seen, kind

    def __setitem__(self, key: str, value: Any) -> None:
        self._seen.add((self._kind[0], self._table))
        super().__setitem__(key, value)


def test_each_entry_kind_writes_only_the_tables_verify_replays_it_for(
    built: tuple[Context, Path],
) -> None:
    # verify replays the records in one process and the other tables in another, each from
    # the entries of the kinds that write them (TABLES_OF_KIND): a kind writing elsewhere
    # would leave rows that no replay produces
    from trustledger.domain import EntryKind
    from trustledger.ledger.projection import TABLES, TABLES_OF_KIND, Projector

    ctx, _ = built
    seen: set[tuple[str, str]] = set()
    kind = [""]
    projector = Projector()
    projector.changed = {t: _Writes(t, seen, kind) for t in TABLES}
    kinds = set()
    for entry in ctx.store.iter_entries():
        kind[0] = entry.kind
        kinds.add(entry.kind)
        projector.apply(entry)
    # the kinds the built ledger lacks, applied to rows it has
    from trustledger.ledger.entry import Entry

    def first(table: str) -> str:
        return next(iter(projector.changed[table]))

    decided = {"outcome": "dismissed", "decided_date": "2026-01-05", "reviewer": "r",
               "reasons": "none"}  # fmt: skip
    event = {"event_id": "E" + "9" * 24, "document_number": "(2026)x号",
             "effective_date": "2026-01-05", "reason": "test"}  # fmt: skip
    more = {
        EntryKind.OBJECTION_DECIDED: {"objection_id": first("objections"), **decided},
        EntryKind.REPAIR_DECIDED: {"repair_id": first("repairs"), **decided},
        EntryKind.LISTING_RELEASED: {
            "hold_id": first("holds"),
            "released_date": "2026-01-05",
            "released_by": "r",
        },
        EntryKind.CONSENT_WITHDRAWN: {"record_id": first("consents"), "date": "2026-01-05"},
        EntryKind.RECORD_CONFIRMED: {"record_id": first("records"), **event},
        EntryKind.RECORD_REPAIRED: {"record_id": first("records"), **event},
    }
    for n, (k, payload) in enumerate(more.items()):
        kind[0] = k.value
        kinds.add(k.value)
        projector.apply(Entry(10**9 + n, 0, k.value, b"", b"", b""), payload)
    assert kinds == {k.value for k in EntryKind}, {k.value for k in EntryKind} - kinds
    stray = sorted((k, t) for k, t in seen if t not in TABLES_OF_KIND.get(k, ()))
    assert not stray, f"entry kinds writing tables TABLES_OF_KIND does not give them: {stray}"
    assert {t for _, t in seen} == set(TABLES)
    unknown = set(TABLES_OF_KIND) - {k.value for k in EntryKind}
    assert not unknown, unknown
