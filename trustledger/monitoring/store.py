"""Where monitoring data lives: packets as received, points, notices and episodes.

Packets are not ledger entries (a province sends millions a day); they sit in tables of
their own beside the ledger, keyed by the SHA-256 of the raw frame so a packet stored
twice is stored once. What the ledger gets is the outcome: one record per exceedance
episode, citing these packets' digests as evidence.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

import orjson

from trustledger.ledger.store import Store
from trustledger.monitoring.codec import Packet, PacketError

# One dialect of SQL for SQLite and PostgreSQL: BIGINT and DOUBLE PRECISION get the
# right affinity in SQLite.
_DDL = """
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
    head TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS monitor_points (
    mn TEXT PRIMARY KEY,
    subject TEXT NOT NULL,
    outlet TEXT NOT NULL,
    authority TEXT NOT NULL,
    rulebook TEXT NOT NULL,
    limit_set TEXT NOT NULL,
    pollutants TEXT NOT NULL,
    flow_unit TEXT NOT NULL,
    registered_us BIGINT NOT NULL
);
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
CREATE INDEX IF NOT EXISTS monitor_episodes_point ON monitor_episodes (mn, first_hour)
"""


class Received(NamedTuple):
    """A packet as it arrived: where from and when (UTC microseconds)."""

    packet: Packet
    received_us: int
    peer: str


class Rejected(NamedTuple):
    error: PacketError
    received_us: int
    peer: str
    head: str  # the first bytes of what was refused, for the operator (never the whole line)


class Point(NamedTuple):
    mn: str
    subject: str
    outlet: str
    authority: str
    rulebook: str
    limit_set: str
    pollutants: list[str]
    flow_unit: str
    registered_us: int


class StoredPacket(NamedTuple):
    digest: str
    received_us: int
    cn: str
    dialect: str
    data_time: str | None
    readings: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Notice:
    mn: str
    pollutant: str
    kind: str
    start_s: int
    end_s: int
    count: int
    detail: str


def readings_json(packet: Packet) -> str:
    """The parsed values kept beside the raw text: code → {values, flag}."""
    return orjson.dumps(
        {r.code: {"values": dict(r.values), "flag": r.flag} for r in packet.readings if r.values}
    ).decode()


class MonitoringStore:
    """Monitoring tables in the database of ``store`` (its own connection: the receiver
    writes from a thread of its own)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        store.create_tables([s.strip() for s in _DDL.split(";") if s.strip()])

    # --- packets -------------------------------------------------------------------
    def save(self, received: Sequence[Received], rejected: Sequence[Rejected] = ()) -> list[bool]:
        """Store packets durably in one transaction; True for each packet new to the store,
        False for one already there (same raw frame)."""
        if not received and not rejected:
            return []
        digests = [r.packet.digest for r in received]
        with self.store._transaction():
            known = self._existing("monitor_packets", "digest", digests)
            fresh: dict[str, tuple[Any, ...]] = {}
            for item in received:
                p = item.packet
                if p.digest in known or p.digest in fresh:
                    continue
                fresh[p.digest] = (
                    p.digest, item.received_us, item.peer, p.mn, p.cn, p.st, p.dialect.value,
                    _iso(p.data_time), readings_json(p), p.raw,
                )  # fmt: skip
            if fresh:
                self.store._run(
                    "INSERT INTO monitor_packets VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    list(fresh.values()),
                )
            if rejected:
                self.store._run(
                    "INSERT INTO monitor_rejects VALUES (?, ?, ?, ?, ?)",
                    [(r.received_us, r.peer, r.error.reason.value, r.error.detail, r.head)
                     for r in rejected],
                )  # fmt: skip
        seen: set[str] = set()
        out = []
        for d in digests:
            out.append(d not in known and d not in seen)
            seen.add(d)
        return out

    def _existing(self, table: str, column: str, keys: Iterable[str]) -> set[str]:
        """Which of ``keys`` the table already holds in its key ``column``."""
        found: set[str] = set()
        unique = sorted(set(keys))
        for i in range(0, len(unique), 500):
            part = unique[i : i + 500]
            marks = ", ".join("?" for _ in part)
            rows = self.store._query(
                f"SELECT {column} FROM {table} WHERE {column} IN ({marks})", tuple(part)
            )
            found.update(r[0] for r in rows)
        return found

    def packet_count(self) -> int:
        return int(self.store._query("SELECT count(*) FROM monitor_packets", ())[0][0])

    def digests(self) -> list[str]:
        return [r[0] for r in self.store._query("SELECT digest FROM monitor_packets", ())]

    def reject_counts(self) -> dict[str, int]:
        rows = self.store._query(
            "SELECT reason, count(*) FROM monitor_rejects GROUP BY reason ORDER BY reason", ()
        )
        return {r[0]: int(r[1]) for r in rows}

    def packets(
        self,
        mn: str,
        commands: Iterable[str],
        since: tuple[str, int] | None = None,
    ) -> list[StoredPacket]:
        """A point's packets of these commands; with ``since`` = (device-local ISO time,
        receive time in µs) only those for periods from that time or received since then
        (a clock far off is still seen)."""
        cns = sorted(set(commands))
        marks = ", ".join("?" for _ in cns)
        where = ""
        params: tuple[Any, ...] = ()
        if since is not None:
            where, params = " AND (data_time >= ? OR received_us >= ?)", since
        rows = self.store._query(
            "SELECT digest, received_us, cn, dialect, data_time, readings FROM monitor_packets "
            f"WHERE mn = ? AND cn IN ({marks}){where} ORDER BY data_time, received_us",
            (mn, *cns, *params),
        )
        return [StoredPacket(r[0], int(r[1]), r[2], r[3], r[4], orjson.loads(r[5])) for r in rows]

    def unregistered(self) -> list[tuple[str, int]]:
        """Points that send data but are registered to no subject: kept, reported, not
        judged."""
        rows = self.store._query(
            "SELECT mn, count(*) FROM monitor_packets WHERE mn NOT IN "
            "(SELECT mn FROM monitor_points) GROUP BY mn ORDER BY mn",
            (),
        )
        return [(r[0], int(r[1])) for r in rows]

    # --- points --------------------------------------------------------------------
    def register(self, point: Point) -> None:
        with self.store._transaction():
            self.store._run("DELETE FROM monitor_points WHERE mn = ?", [(point.mn,)])
            self.store._run(
                "INSERT INTO monitor_points VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(*point[:6], json.dumps(point.pollutants), *point[7:])],
            )

    def point(self, mn: str) -> Point | None:
        rows = self.store._query("SELECT * FROM monitor_points WHERE mn = ?", (mn,))
        return _point(rows[0]) if rows else None

    def points(self, subject: str | None = None) -> list[Point]:
        if subject is None:
            rows = self.store._query("SELECT * FROM monitor_points ORDER BY mn", ())
        else:
            rows = self.store._query(
                "SELECT * FROM monitor_points WHERE subject = ? ORDER BY mn", (subject,)
            )
        return [_point(r) for r in rows]

    # --- outcomes ------------------------------------------------------------------
    def save_notices(self, notices: Sequence[Notice], now_us: int) -> int:
        """Store notices not stored before (same point, pollutant, kind and start);
        returns how many were new."""
        if not notices:
            return 0
        rows = {f"{n.mn}|{n.pollutant}|{n.kind}|{n.start_s}": n for n in notices}
        with self.store._transaction():
            known = self._existing("monitor_notices", "id", rows)
            new = [
                (k, n.mn, n.pollutant, n.kind, n.start_s, n.end_s, n.count, n.detail, now_us)
                for k, n in rows.items()
                if k not in known
            ]
            if new:
                self.store._run(
                    "INSERT INTO monitor_notices VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", new
                )
        return len(new)

    def notices(self, mn: str | None = None) -> list[Notice]:
        sql = "SELECT mn, pollutant, kind, start_s, end_s, count, detail FROM monitor_notices"
        params: tuple[Any, ...] = ()
        if mn is not None:
            sql += " WHERE mn = ?"
            params = (mn,)
        rows = self.store._query(sql + " ORDER BY mn, start_s, kind", params)
        return [Notice(r[0], r[1], r[2], int(r[3]), int(r[4]), int(r[5]), r[6]) for r in rows]

    def save_episode(self, row: tuple[Any, ...]) -> None:
        with self.store._transaction():
            self.store._run("DELETE FROM monitor_episodes WHERE key = ?", [(row[0],)])
            self.store._run(
                "INSERT INTO monitor_episodes VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", [row]
            )

    def episode(self, key: str) -> tuple[Any, ...] | None:
        rows = self.store._query("SELECT * FROM monitor_episodes WHERE key = ?", (key,))
        return rows[0] if rows else None

    def episode_reaching(
        self, mn: str, pollutant: str, limit_set: str, before: int, reaching: int
    ) -> tuple[Any, ...] | None:
        """The latest episode that began before ``before`` and lasted until ``reaching`` or
        later: the one a window's first episode may continue."""
        rows = self.store._query(
            "SELECT * FROM monitor_episodes WHERE mn = ? AND pollutant = ? AND limit_set = ? "
            "AND first_hour < ? AND last_hour >= ? ORDER BY first_hour DESC LIMIT 1",
            (mn, pollutant, limit_set, before, reaching),
        )
        return rows[0] if rows else None

    def episodes(self, mn: str | None = None) -> list[tuple[Any, ...]]:
        if mn is None:
            return self.store._query("SELECT * FROM monitor_episodes ORDER BY mn, first_hour", ())
        return self.store._query(
            "SELECT * FROM monitor_episodes WHERE mn = ? ORDER BY first_hour", (mn,)
        )


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat(timespec="seconds")


def _point(row: Sequence[Any]) -> Point:
    return Point(
        row[0], row[1], row[2], row[3], row[4], row[5], json.loads(row[6]), row[7], int(row[8])
    )
