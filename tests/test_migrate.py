"""Schema migrations: databases made by the previous release (schema 4), kept as SQL dumps in
tests/data/schema4 (made by scripts/make_schema_fixture.sh from that release's own code),
upgraded in place on SQLite and PostgreSQL; their ledgers verify before and after, answers
stay the same, and what cannot be upgraded is refused with nothing changed."""

from __future__ import annotations

import gzip
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from typer.testing import CliRunner

from trustledger.cli import app as cli
from trustledger.ledger import migrate
from trustledger.ledger.sqlite import sqlite_path
from trustledger.ledger.store import SCHEMA_REVISION, SCHEMA_VERSION, open_store

FIXTURE = Path(__file__).parent / "data" / "schema4"
# in the fixture: a subject the previous release denied public procurement, its ledger size
DENIED = "91140105MAP962L88G"
FIXTURE_SIZE = 1259
runner = CliRunner()


def load_fixture(url: str) -> None:
    """The previous release's database, as it dumped it, into the database at ``url``."""
    if url.startswith("sqlite"):
        with gzip.open(FIXTURE / "sqlite.sql.gz", "rt", encoding="utf-8") as f:
            dump = f.read()
        conn = sqlite3.connect(sqlite_path(url))
        conn.executescript(dump)
        conn.close()
    else:
        with gzip.open(FIXTURE / "postgres.sql.gz", "rt", encoding="utf-8") as f:
            dump = f.read()
        with psycopg.connect(url, autocommit=True) as pg:
            pg.execute(dump.encode())


@pytest.fixture
def old_db(db_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    load_fixture(db_url)
    monkeypatch.setenv("TRUSTLEDGER_PERSON_KEY_FILE", str(FIXTURE / "person.key"))
    monkeypatch.setenv("TRUSTLEDGER_DB", db_url)
    return db_url


def run(*args: str) -> Any:
    return runner.invoke(cli, list(args), catch_exceptions=False)


def meta_of(url: str) -> dict[str, str]:
    with open_store(url) as store:
        return dict(store._query("SELECT key, value FROM meta", ()))


def test_old_database_is_refused_until_upgraded_then_verifies_and_answers_alike(
    old_db: str,
) -> None:
    refused = run("verify")
    assert refused.exit_code == 2
    assert "schema 4" in refused.output and "trustledger db upgrade" in refused.output

    pending = run("db", "status")
    assert pending.exit_code == 1
    # every revision after the fixture's schema 4, in order
    revisions = ", ".join(f"{n:04d}" for n in range(5, int(SCHEMA_VERSION) + 1))
    assert revisions.endswith(SCHEMA_REVISION)
    assert f"upgrade pending: {revisions} (trustledger db upgrade)" in pending.output

    upgraded = run("db", "upgrade")
    assert upgraded.exit_code == 0, upgraded.output
    assert f"schema 4 → {SCHEMA_VERSION}" in upgraded.output
    before = next(line for line in upgraded.output.splitlines() if "ledger before" in line)
    after = next(line for line in upgraded.output.splitlines() if "ledger after" in line)
    assert f"intact, {FIXTURE_SIZE:,} entries" in before and "intact" in after
    assert before.split("root ")[1] == after.split("root ")[1]  # the same tree, untouched

    assert run("db", "status").exit_code == 0
    verified = run("verify")
    assert verified.exit_code == 0 and f"intact: {FIXTURE_SIZE:,} entries" in verified.output
    # the state the previous release evaluated still answers, the same way
    assert run("check", DENIED, "public_procurement").exit_code == 3
    again = run("db", "upgrade")
    assert again.exit_code == 0 and "nothing to do" in again.output
    assert meta_of(old_db)["schema_version"] == SCHEMA_VERSION


def test_upgraded_schema_is_the_schema_a_new_database_gets(old_db: str, tmp_path: Path) -> None:
    """Every table, column (in order, with its type) and index a fresh database has, an
    upgraded one has too: a schema change without its migration fails here."""
    migrate.upgrade(old_db)
    fresh = (
        f"sqlite:///{tmp_path / 'fresh.db'}" if old_db.startswith("sqlite") else _fresh_pg(old_db)
    )
    with open_store(fresh) as store:
        store.init()
    for url in (old_db, fresh):
        _create_module_tables(url)
    want, got = _catalogue(fresh), _catalogue(old_db)
    missing = sorted(set(want) - set(got))
    assert not missing, f"tables a new database has and an upgraded one lacks: {missing}"
    for table, shape in want.items():
        assert got[table] == shape, f"table {table} differs after the upgrade"


def test_a_tampered_ledger_is_not_upgraded(old_db: str) -> None:
    with open_store(old_db) as store:
        store.execute("UPDATE entries SET time_us = time_us + 1 WHERE seq = 7")
    refused = run("db", "upgrade")
    assert refused.exit_code == 2
    assert "does not verify" in refused.output and "entry 7" in refused.output
    assert migrate.status(old_db).schema == "4"  # left as it was: it is evidence


def test_a_failing_revision_leaves_the_old_schema_whole(
    old_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from trustledger.ledger.migrations import steps

    def fail(version: str) -> None:
        raise RuntimeError("disk full (simulated)")

    # the revision's tables are created first, then the failure: all of it must roll back
    monkeypatch.setattr(steps, "set_schema", fail)
    tables_before = set(_catalogue(old_db))
    with pytest.raises(RuntimeError, match="disk full"):
        migrate.upgrade(old_db)
    status = migrate.status(old_db)
    assert (status.schema, status.revision) == ("4", None)
    assert set(_catalogue(old_db)) == tables_before


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("UPDATE meta SET value = '3' WHERE key = 'schema_version'", "from before schema 4"),
        ("UPDATE meta SET value = '99' WHERE key = 'schema_version'", "made by a newer"),
        ("UPDATE meta SET value = 'four' WHERE key = 'schema_version'", "unreadable schema"),
    ],
)
def test_what_cannot_be_upgraded_is_refused_by_name(old_db: str, change: str, message: str) -> None:
    with open_store(old_db) as store:
        store.execute(change)
    refused = run("db", "upgrade")
    assert refused.exit_code == 2 and message in refused.output


def test_meta_and_revision_that_disagree_are_refused(old_db: str) -> None:
    migrate.upgrade(old_db)
    with open_store(old_db) as store:
        store.execute("UPDATE alembic_version SET version_num = '0004'")
    refused = run("db", "status")
    assert refused.exit_code == 2 and "disagree" in refused.output


def test_not_a_trustledger_database(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    sqlite3.connect(path).execute("CREATE TABLE t (x)").connection.commit()
    refused = run("db", "upgrade", "--db", f"sqlite:///{path}")
    assert refused.exit_code == 2 and "not a trustledger database" in refused.output


def test_a_new_database_is_stamped_current(db_url: str) -> None:
    with open_store(db_url) as store:
        store.init()
    status = migrate.status(db_url)
    assert status.current and status.revision == SCHEMA_REVISION and not status.pending


def test_init_does_not_patch_an_old_database(old_db: str) -> None:
    """New DDL run over an old schema would half-upgrade it: init refuses instead."""
    tables_before = set(_catalogue(old_db))
    refused = run("init")
    assert refused.exit_code == 2 and "trustledger db upgrade" in refused.output
    assert set(_catalogue(old_db)) == tables_before


# -- helpers


def _fresh_pg(old_url: str) -> str:
    # a second schema beside the test's own, dropped with the session's other leftovers
    import uuid

    name = f"t_fresh_{uuid.uuid4().hex[:10]}"
    base = old_url.split("?")[0]
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {name}")
    _FRESH_SCHEMAS.append((base, name))
    return f"{base}?options=-csearch_path%3D{name}"


_FRESH_SCHEMAS: list[tuple[str, str]] = []


@pytest.fixture(autouse=True)
def _drop_fresh_schemas() -> Iterator[None]:
    yield
    while _FRESH_SCHEMAS:
        base, name = _FRESH_SCHEMAS.pop()
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {name} CASCADE")


def _create_module_tables(url: str) -> None:
    """The tables modules create on first use (monitoring, notices, access, screening)."""
    from trustledger.access import queries as access_queries
    from trustledger.app import queries as app_queries
    from trustledger.dueprocess import queries as dueprocess_queries
    from trustledger.monitoring import queries as monitoring_queries

    with open_store(url) as store:
        monitoring_queries.create_tables(store)
        dueprocess_queries.create_tables(store)
        access_queries.ensure_tables(store)
        app_queries.screen_tables(store)


def _catalogue(url: str) -> dict[str, tuple[Any, ...]]:
    """Table → (columns in order with type, nullability and key; sorted index definitions)."""
    if url.startswith("sqlite"):
        conn = sqlite3.connect(sqlite_path(url))
        try:
            tables = [r[0] for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]  # fmt: skip
            out: dict[str, tuple[Any, ...]] = {}
            for t in tables:
                cols = tuple(
                    (r[1], r[2].upper(), r[3], r[5])
                    for r in conn.execute(f"PRAGMA table_info({t})")
                )
                # by columns, not name: the state tables' index names carry the tag of the
                # evaluation that made them (renamed tables keep unique names)
                indexes = tuple(sorted(
                    (r[2], tuple(c[2] for c in conn.execute(f"PRAGMA index_info({r[1]})")))
                    for r in conn.execute(f"PRAGMA index_list({t})")
                    if not r[1].startswith("sqlite_autoindex")
                ))  # fmt: skip
                out[t] = (cols, indexes)
            return out
        finally:
            conn.close()
    with psycopg.connect(url) as pg:
        rows = pg.execute(
            "SELECT table_name, column_name, data_type, is_nullable, ordinal_position "
            "FROM information_schema.columns WHERE table_schema = current_schema() "
            "ORDER BY table_name, ordinal_position"
        ).fetchall()
        index_rows = pg.execute(
            "SELECT tablename, indexname, indexdef FROM pg_indexes "
            "WHERE schemaname = current_schema()"
        ).fetchall()
        schema = pg.execute("SELECT current_schema()").fetchone()
    assert schema is not None
    cols_of: dict[str, list[tuple[Any, ...]]] = {}
    for table, column, kind, nullable, _ in rows:
        cols_of.setdefault(table, []).append((column, kind, nullable))
    idx_of: dict[str, list[tuple[str, str]]] = {}
    for table, name, definition in index_rows:
        # the definition names the schema; two schemas are compared, so leave it out
        # neither the schema (two are compared) nor the name (the state tables' carry the tag
        # of the evaluation that made them)
        shape = definition.replace(f"{schema[0]}.", "").replace(f" {name} ON ", " ON ")
        idx_of.setdefault(table, []).append(("", shape))
    return {t: (tuple(c), tuple(sorted(idx_of.get(t, [])))) for t, c in cols_of.items()}
