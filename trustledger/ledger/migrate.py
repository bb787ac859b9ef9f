"""Schema migrations: a database made by an earlier release, upgraded in place (Alembic).

A new database is created from the current DDL and stamped with the newest revision, so
the revisions in ``migrations/versions`` are only ever run on databases of earlier
releases. Each upgrade runs in one transaction (SQLite and PostgreSQL both roll DDL back),
so it lands whole or not at all; the ledger's entries and tree heads are never rewritten
by a revision (``trustledger db upgrade`` verifies the chain before and everything after).

The store's own ``meta.schema_version`` stays the number operators see; Alembic's
``alembic_version`` table records the revision, named after the schema it brings
(revision "0005" is schema 5).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from typing import Any

from trustledger.ledger.schema import VERSION_TABLE
from trustledger.ledger.sqlite import sqlite_path
from trustledger.ledger.store import SCHEMA_REVISION, SCHEMA_VERSION, StoreError

# databases of this schema were made before migrations existed: stamped, then upgraded
BASELINE = "4"


class MigrationError(StoreError):
    """The database cannot be upgraded (too old, too new, or not a trustledger database)."""


def revision_of(schema: str) -> str:
    return f"{int(schema):04d}"


HEAD = SCHEMA_REVISION


@dataclass(frozen=True)
class Status:
    url: str
    schema: str | None  # meta.schema_version; None: not a trustledger database
    revision: str | None  # alembic_version; None: made before migrations existed
    pending: tuple[str, ...]  # revisions an upgrade would run, oldest first

    @property
    def current(self) -> bool:
        return self.schema == SCHEMA_VERSION and not self.pending

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": self.schema,
            "revision": self.revision,
            "head": HEAD,
            "pending": list(self.pending),
            "current": self.current,
        }


def _location() -> str:
    return str(resources.files("trustledger.ledger") / "migrations")


def _script() -> Any:
    from alembic.script import ScriptDirectory

    return ScriptDirectory(_location())


def _config(connection: Any) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", _location())
    config.attributes["connection"] = connection
    return config


def _engine(url: str) -> Any:
    """An engine over the same database the store opens for ``url`` (same URL forms)."""
    from sqlalchemy import create_engine, event
    from sqlalchemy.pool import NullPool

    if url.startswith("sqlite://"):
        path = sqlite_path(url)
        if path == ":memory:":
            raise MigrationError("an in-memory database has nothing to upgrade")

        def connect_sqlite() -> sqlite3.Connection:
            # the driver's own transaction handling would commit before DDL; begun by hand
            # below instead, so the whole upgrade is one transaction
            conn = sqlite3.connect(path, isolation_level=None)
            conn.execute("PRAGMA busy_timeout=30000")
            return conn

        engine = create_engine("sqlite://", creator=connect_sqlite, poolclass=NullPool)

        @event.listens_for(engine, "begin")
        def begin_immediate(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    if url.startswith(("postgresql://", "postgres://")):
        import psycopg

        return create_engine(
            "postgresql+psycopg://",
            creator=lambda: psycopg.connect(url),
            poolclass=NullPool,
        )
    raise MigrationError(f"unsupported database URL {url!r}")


@contextmanager
def _connection(url: str) -> Iterator[Any]:
    """One connection in one transaction: committed if the block finishes, else rolled back."""
    from sqlalchemy.exc import OperationalError

    engine = _engine(url)
    try:
        try:
            conn = engine.connect()
        except OperationalError as exc:
            raise MigrationError(f"cannot open {url}: {exc.orig}".strip()) from None
        with conn, conn.begin():
            yield conn
    finally:
        engine.dispose()


def _read(conn: Any) -> tuple[str | None, str | None]:
    from sqlalchemy import inspect, text

    tables = set(inspect(conn).get_table_names())
    schema = None
    if "meta" in tables:
        row = conn.execute(text("SELECT value FROM meta WHERE key = 'schema_version'")).first()
        schema = None if row is None else str(row[0])
    revision = None
    if VERSION_TABLE in tables:
        row = conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).first()
        revision = None if row is None else str(row[0])
    return schema, revision


def _pending(revision: str | None) -> tuple[str, ...]:
    script = _script()
    start = "base" if revision is None else revision
    # walk_revisions lists newest first, up to and including the lower bound
    steps = [s.revision for s in script.walk_revisions(base=start, head="heads")]
    return tuple(r for r in reversed(steps) if r != revision)


def _checked(url: str, schema: str | None, revision: str | None) -> str:
    """The revision the database is at, or the stamp it must get; refuses what cannot be
    upgraded, naming why."""
    if schema is None:
        raise MigrationError(f"{url} is not a trustledger database (run `trustledger init`)")
    if not schema.isdigit():
        raise MigrationError(f"{url} has an unreadable schema version {schema!r} in meta")
    if int(schema) > int(SCHEMA_VERSION):
        raise MigrationError(
            f"{url} has schema {schema}, made by a newer trustledger; this version reads "
            f"schema {SCHEMA_VERSION}: upgrade trustledger instead"
        )
    if revision is None:
        if int(schema) < int(BASELINE):
            raise MigrationError(
                f"{url} has schema {schema}, from before schema {BASELINE}, the oldest one "
                "that can be upgraded in place: create a new database and ingest the data again"
            )
        return revision_of(schema)
    if revision != revision_of(schema):
        raise MigrationError(
            f"{url} says schema {schema} in meta but revision {revision} in {VERSION_TABLE}: "
            "the two disagree; restore the database from a backup"
        )
    return revision


def status(url: str) -> Status:
    with _connection(url) as conn:
        schema, revision = _read(conn)
    if schema is None:
        return Status(url, None, revision, ())
    at = _checked(url, schema, revision)
    return Status(url, schema, revision, _pending(at))


def upgrade(url: str) -> Status:
    """Bring the database to the current schema in one transaction; the status before."""
    from alembic import command

    with _connection(url) as conn:
        schema, revision = _read(conn)
        at = _checked(url, schema, revision)
        before = Status(url, schema, revision, _pending(at))
        config = _config(conn)
        if revision is None:
            command.stamp(config, at)
        if before.pending:
            command.upgrade(config, "head")
    return before
