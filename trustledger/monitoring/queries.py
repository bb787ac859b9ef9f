"""Every SQL statement of the monitoring tables, over the store's public query interface
(``query``, ``execute``, ``transaction``, ``create_tables``).

One dialect for SQLite and PostgreSQL (``?`` placeholders, translated by the store);
BIGINT and DOUBLE PRECISION get the right affinity in SQLite. Callers pass and get plain
rows; :mod:`trustledger.monitoring.store` turns them into its types.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from trustledger.ledger.store import Store
from trustledger.ledger.tabledigest import committed

Row = tuple[Any, ...]

DDL = """
CREATE TABLE IF NOT EXISTS monitor_packets (
    digest TEXT PRIMARY KEY,
    received_us BIGINT NOT NULL,
    peer TEXT NOT NULL,
    mn TEXT NOT NULL,
    cn TEXT NOT NULL,
    st TEXT NOT NULL,
    dialect TEXT NOT NULL,
    data_time TEXT,
    readings TEXT NOT NULL,
    raw TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS monitor_packets_point ON monitor_packets (mn, cn, data_time);
CREATE TABLE IF NOT EXISTS monitor_rejects (
    received_us BIGINT NOT NULL,
    peer TEXT NOT NULL,
    reason TEXT NOT NULL,
    detail TEXT NOT NULL,
    head TEXT NOT NULL,
    count BIGINT NOT NULL DEFAULT 1,
    last_us BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS monitor_rejects_run ON monitor_rejects (peer, reason, received_us);
CREATE TABLE IF NOT EXISTS monitor_notices (
    id TEXT PRIMARY KEY,
    mn TEXT NOT NULL,
    pollutant TEXT NOT NULL,
    kind TEXT NOT NULL,
    start_s BIGINT NOT NULL,
    end_s BIGINT NOT NULL,
    count BIGINT NOT NULL,
    detail TEXT NOT NULL,
    created_us BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS monitor_notices_point ON monitor_notices (mn, start_s);
CREATE TABLE IF NOT EXISTS monitor_episodes (
    key TEXT PRIMARY KEY,
    mn TEXT NOT NULL,
    pollutant TEXT NOT NULL,
    limit_set TEXT NOT NULL,
    limit_value DOUBLE PRECISION NOT NULL,
    first_hour BIGINT NOT NULL,
    last_hour BIGINT NOT NULL,
    hours BIGINT NOT NULL,
    max_value DOUBLE PRECISION NOT NULL,
    evidence TEXT NOT NULL,
    record_id TEXT,
    judged_us BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS monitor_episodes_point ON monitor_episodes (mn, first_hour);
CREATE TABLE IF NOT EXISTS monitor_assessments (
    digest TEXT PRIMARY KEY,
    subject TEXT NOT NULL,
    rulebook TEXT NOT NULL,
    period_start TEXT NOT NULL,
    period_end TEXT NOT NULL,
    evidence TEXT NOT NULL,
    record_id TEXT,
    assessed_us BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS monitor_assessments_subject ON monitor_assessments (subject)
"""

# the keyed tables, each with its key column (the only ones `existing` may be asked about)
_KEYS = {"monitor_packets": "digest", "monitor_notices": "id"}
_CHUNK = 500


# Columns added to a table after a release created it, at the end and with a default. The
# tables here are created at first use, so a database of an earlier release (or one a
# migration upgraded: migrations do not know these tables) gets them when monitoring first
# opens it, in the shape a new database has.
_ADDED_COLUMNS: dict[str, list[tuple[str, str]]] = {
    # a reject row stands for a run of rejects: one connection's frames of one reason
    "monitor_rejects": [
        ("count", "BIGINT NOT NULL DEFAULT 1"),
        ("last_us", "BIGINT NOT NULL DEFAULT 0"),
    ],
}


def create_tables(store: Store) -> None:
    store.create_tables([s.strip() for s in DDL.split(";") if s.strip()])
    for table, added in _ADDED_COLUMNS.items():
        have = set(_columns(store, table))
        missing = [(n, kind) for n, kind in added if n not in have]
        if not missing:
            continue
        # every existing row gains the columns, so its committed digest changes: the rows
        # as they were are taken out of the table's digest and put back as they now read
        with (
            committed(
                store, f"{table}: columns {', '.join(n for n, _ in missing)} added"
            ) as commit,
            commit.touching(table, "", ()),
        ):
            for name, kind in missing:
                store.execute(f"ALTER TABLE {table} ADD COLUMN {name} {kind}")


def _columns(store: Store, table: str) -> list[str]:
    if store.url.startswith("sqlite"):
        return [r[1] for r in store.query(f"PRAGMA table_info({table})")]
    rows = store.query(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = "
        "current_schema() AND table_name = ? ORDER BY ordinal_position",
        (table,),
    )
    return [r[0] for r in rows]


def existing(store: Store, table: str, keys: Iterable[str]) -> set[str]:
    """Which of ``keys`` the table already holds in its key column."""
    column = _KEYS[table]
    found: set[str] = set()
    unique = sorted(set(keys))
    for i in range(0, len(unique), _CHUNK):
        part = unique[i : i + _CHUNK]
        marks = ", ".join("?" for _ in part)
        rows = store.query(f"SELECT {column} FROM {table} WHERE {column} IN ({marks})", part)
        found.update(r[0] for r in rows)
    return found


# --- packets -------------------------------------------------------------------------
def insert_packets(store: Store, rows: Sequence[Row]) -> None:
    store.execute("INSERT INTO monitor_packets VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)


def insert_rejects(store: Store, rows: Sequence[Row]) -> list[Row]:
    """Rows of (received_us, peer, reason, detail, head, count, last_us), each run not
    stored yet; the rows inserted. A run is known by everything but its count and last
    time, so a run delivered again (a JetStream consumer killed between its commit and its
    acknowledgement) is stored once, as a packet is by its digest; rejects of one batch
    alike in all of that (one garbage frame repeated, classified at one instant) are one
    run, their frames summed."""
    fresh: dict[tuple[Any, ...], Row] = {}
    for row in rows:
        key = (row[1], row[2], row[0], row[3], row[4])
        run = fresh.get(key)
        fresh[key] = row if run is None else (*run[:5], run[5] + row[5], max(run[6], row[6]))
    for key in list(fresh):
        if store.query(f"SELECT 1 FROM monitor_rejects WHERE {_SAME_RUN}", key):
            del fresh[key]
    new = list(fresh.values())
    store.execute("INSERT INTO monitor_rejects VALUES (?, ?, ?, ?, ?, ?, ?)", new)
    return new


REJECT_RUN = "peer = ? AND reason = ? AND received_us = ?"
_SAME_RUN = f"{REJECT_RUN} AND detail = ? AND head = ?"


def recount_reject(store: Store, key: Row, count: int, last_us: int) -> None:
    """The run of rejects ``key`` = (peer, reason, first received_us) now counts ``count``
    frames, the last at ``last_us`` (inside the caller's transaction). A run only grows,
    so a recount delivered again, or after a later one, changes nothing."""
    store.execute(
        "UPDATE monitor_rejects SET count = CASE WHEN ? > count THEN ? ELSE count END, "
        f"last_us = CASE WHEN ? > last_us THEN ? ELSE last_us END WHERE {REJECT_RUN}",
        [(count, count, last_us, last_us, *key)],
    )


def packet_count(store: Store) -> int:
    return int(store.query("SELECT count(*) FROM monitor_packets")[0][0])


def digests(store: Store) -> list[str]:
    return [r[0] for r in store.query("SELECT digest FROM monitor_packets")]


def reject_counts(store: Store) -> dict[str, int]:
    """Frames rejected, by reason (a row counts the frames of its run)."""
    rows = store.query(
        "SELECT reason, sum(count) FROM monitor_rejects GROUP BY reason ORDER BY reason"
    )
    return {r[0]: int(r[1]) for r in rows}


def packets(
    store: Store, mn: str, commands: Iterable[str], since: tuple[str, int] | None = None
) -> list[Row]:
    """(digest, received_us, cn, dialect, data_time, readings) of a point's packets of these
    commands; with ``since`` = (device-local ISO time, receive time in µs) only those for
    periods from that time or received since then."""
    cns = sorted(set(commands))
    marks = ", ".join("?" for _ in cns)
    where = ""
    params: tuple[Any, ...] = ()
    if since is not None:
        where, params = " AND (data_time >= ? OR received_us >= ?)", since
    return store.query(
        "SELECT digest, received_us, cn, dialect, data_time, readings FROM monitor_packets "
        f"WHERE mn = ? AND cn IN ({marks}){where} ORDER BY data_time, received_us",
        (mn, *cns, *params),
    )


def unregistered(store: Store) -> list[tuple[str, int]]:
    rows = store.query(
        "SELECT mn, count(*) FROM monitor_packets WHERE mn NOT IN "
        "(SELECT id FROM points) GROUP BY mn ORDER BY mn"
    )
    return [(r[0], int(r[1])) for r in rows]


def point_ids(store: Store) -> set[str]:
    return {str(r[0]) for r in store.query("SELECT id FROM points")}


# --- points: the ledger's projection of point.registered entries ----------------------
_POINT = ("SELECT id, subject, outlet, authority, rulebook, limit_set, pollutants, flow_unit, "
          "registered_us FROM points")  # fmt: skip


def point(store: Store, mn: str) -> Row | None:
    rows = store.query(f"{_POINT} WHERE id = ?", (mn,))
    return rows[0] if rows else None


def points(store: Store, subject: str | None = None) -> list[Row]:
    if subject is None:
        return store.query(f"{_POINT} ORDER BY id")
    return store.query(f"{_POINT} WHERE subject = ? ORDER BY id", (subject,))


def legacy_points(store: Store) -> list[Row]:
    """The rows of the table points were kept in before they were ledger entries (a
    database of an earlier release), or none."""
    if store.url.startswith("sqlite"):
        found = store.query("SELECT 1 FROM sqlite_master WHERE name = 'monitor_points'")
    else:
        found = store.query(
            "SELECT 1 FROM information_schema.tables WHERE table_schema = current_schema() "
            "AND table_name = 'monitor_points'"
        )
    return store.query("SELECT * FROM monitor_points ORDER BY mn") if found else []


# --- outcomes ------------------------------------------------------------------------
def insert_notices(store: Store, rows: Sequence[Row]) -> None:
    store.execute("INSERT INTO monitor_notices VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)


def notices(store: Store, mn: str | None = None) -> list[Row]:
    """(mn, pollutant, kind, start_s, end_s, count, detail), of one point or all."""
    sql = "SELECT mn, pollutant, kind, start_s, end_s, count, detail FROM monitor_notices"
    params: tuple[Any, ...] = ()
    if mn is not None:
        sql += " WHERE mn = ?"
        params = (mn,)
    return store.query(sql + " ORDER BY mn, start_s, kind", params)


def replace_episode(store: Store, row: Row) -> None:
    """One episode's row (key first), replacing the one stored under its key (inside the
    caller's transaction)."""
    store.execute("DELETE FROM monitor_episodes WHERE key = ?", [(row[0],)])
    store.execute("INSERT INTO monitor_episodes VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", [row])


def episode(store: Store, key: str) -> Row | None:
    rows = store.query("SELECT * FROM monitor_episodes WHERE key = ?", (key,))
    return rows[0] if rows else None


def episode_reaching(
    store: Store, mn: str, pollutant: str, limit_set: str, before: int, reaching: int
) -> Row | None:
    """The latest episode that began before ``before`` and lasted until ``reaching`` or
    later."""
    rows = store.query(
        "SELECT * FROM monitor_episodes WHERE mn = ? AND pollutant = ? AND limit_set = ? "
        "AND first_hour < ? AND last_hour >= ? ORDER BY first_hour DESC LIMIT 1",
        (mn, pollutant, limit_set, before, reaching),
    )
    return rows[0] if rows else None


def episodes(store: Store, mn: str | None = None) -> list[Row]:
    if mn is None:
        return store.query("SELECT * FROM monitor_episodes ORDER BY mn, first_hour")
    return store.query("SELECT * FROM monitor_episodes WHERE mn = ? ORDER BY first_hour", (mn,))


# --- compliance assessments ---------------------------------------------------------
def save_assessment(store: Store, row: Row) -> None:
    """One assessment's evidence (its digest first); the same evidence again is kept once
    (inside the caller's transaction)."""
    if not store.query("SELECT 1 FROM monitor_assessments WHERE digest = ?", [row[0]]):
        store.execute("INSERT INTO monitor_assessments VALUES (?, ?, ?, ?, ?, ?, ?, ?)", [row])


def assessments(store: Store, subject: str) -> list[Row]:
    return store.query(
        "SELECT digest, subject, rulebook, period_start, period_end, evidence, record_id, "
        "assessed_us FROM monitor_assessments WHERE subject = ? ORDER BY assessed_us",
        [subject],
    )
