"""Where monitoring data lives: packets as received, points, notices and episodes.

Packets are not ledger entries (a province sends millions a day); they sit in tables of
their own beside the ledger, keyed by the SHA-256 of the raw frame so a packet stored
twice is stored once. What the ledger gets is the outcome: one record per exceedance
episode, citing these packets' digests as evidence.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

import orjson

from trustledger.domain import EntryKind
from trustledger.ledger.store import Store
from trustledger.ledger.tabledigest import committed
from trustledger.monitoring import queries
from trustledger.monitoring.codec import Packet, PacketError
from trustledger.monitoring.spool import Spool, spool_path


class Received(NamedTuple):
    """A packet as it arrived: where from and when (UTC microseconds)."""

    packet: Packet
    received_us: int
    peer: str


class Rejected(NamedTuple):
    """Frames refused for one reason: one frame, or a run of them from one connection (the
    first one's error, time and bytes kept as the sample, the others counted)."""

    error: PacketError
    received_us: int
    peer: str
    head: str  # the first bytes of what was refused, for the operator (never the whole line)
    frames: int = 1
    last_us: int = 0  # when the run's last frame came (0: the first is the last)


class Recount(NamedTuple):
    """A run of rejects stored before has grown: its row, named by (peer, reason, first
    received_us), now counts ``frames`` frames, the last at ``last_us``."""

    peer: str
    reason: str
    received_us: int
    frames: int
    last_us: int


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
    writes from a thread of its own). The SQL is in :mod:`trustledger.monitoring.queries`."""

    def __init__(self, store: Store) -> None:
        self.store = store
        queries.create_tables(store)
        adopt_legacy_points(store)
        self.spool_path = spool_path(store.url)
        self._spool: Spool | None = None
        if self.spool_path is not None and os.path.exists(self.spool_path):
            # what a receiver acknowledged and had not moved yet (it stopped, or crashed)
            self.move_spooled()

    # --- packets -------------------------------------------------------------------
    def save(
        self,
        received: Sequence[Received],
        rejected: Sequence[Rejected] = (),
        recounts: Sequence[Recount] = (),
    ) -> list[bool]:
        """Store packets, runs of rejects and the growth of runs stored before durably in one
        transaction; True for each packet new to the store, False for one already there
        (same raw frame)."""
        if not received and not rejected and not recounts:
            return []
        digests = [r.packet.digest for r in received]
        known = self._commit(packet_rows(received), rejected, recounts)
        return _fresh(digests, known)

    def _commit(
        self, rows: Sequence[tuple[Any, ...]], rejected: Sequence[Rejected] = (),
        recounts: Sequence[Recount] = (),
    ) -> set[str]:  # fmt: skip
        """Packet rows (not stored yet unless their digest says so), runs of rejects and
        recounts in one transaction; the digests that were stored already."""
        # each batch is committed to the ledger by digest in the same transaction
        with committed(self.store, "monitoring packets received") as commit:
            known = queries.existing(self.store, "monitor_packets", [r[0] for r in rows])
            fresh = {r[0]: r for r in rows if r[0] not in known}
            if fresh:
                new = list(fresh.values())
                queries.insert_packets(self.store, new)
                commit.added("monitor_packets", new)
            if rejected:
                refused = [(r.received_us, r.peer, r.error.reason.value, r.error.detail, r.head,
                            r.frames, r.last_us or r.received_us)
                           for r in rejected]  # fmt: skip
                commit.added("monitor_rejects", queries.insert_rejects(self.store, refused))
            for run in recounts:
                key = (run.peer, run.reason, run.received_us)
                with commit.touching("monitor_rejects", queries.REJECT_RUN, key):
                    queries.recount_reject(self.store, key, run.frames, run.last_us)
        return known

    # --- the receiver's spool (trustledger.monitoring.spool) -----------------------------
    def spool(self, received: Sequence[Received]) -> list[bool]:
        """Make packets durable in the spool, not waiting for the ledger's database (only
        read here, which a writer there never blocks); True for each packet new to both."""
        if self.spool_path is None:
            return self.save(received)
        if self._spool is None:
            self._spool = Spool(self.spool_path)
        digests = [r.packet.digest for r in received]
        stored = queries.existing(self.store, "monitor_packets", digests)
        rows = [row for row in packet_rows(received) if row[0] not in stored]
        spooled = self._spool.add(rows) if rows else set()
        return _fresh(digests, stored | spooled)

    def move_spooled(
        self, rejected: Sequence[Rejected] = (), recounts: Sequence[Recount] = (),
        batch: int = 20_000,
    ) -> int:  # fmt: skip
        """Move spooled packets into the ledger's database (with ``rejected`` and
        ``recounts`` in the first transaction), each batch deleted from the spool once
        committed there; how many were moved."""
        if self.spool_path is None:
            self.save([], rejected, recounts)
            return 0
        if self._spool is None:
            self._spool = Spool(self.spool_path)
        moved = 0
        while True:
            rows = self._spool.oldest(batch)
            if rows or rejected or recounts:
                self._commit(rows, rejected, recounts)
                rejected, recounts = (), ()
            if not rows:
                return moved
            # a crash between the two commits leaves rows in both: moved again, kept once
            self._spool.remove([r[0] for r in rows])
            moved += len(rows)

    def close_spool(self) -> None:
        if self._spool is not None:
            self._spool.close()
            self._spool = None

    def packet_count(self) -> int:
        return queries.packet_count(self.store)

    def digests(self) -> list[str]:
        return queries.digests(self.store)

    def reject_counts(self) -> dict[str, int]:
        """Frames rejected, by reason."""
        return queries.reject_counts(self.store)

    def registered_mns(self) -> set[str]:
        """The MNs of every registered monitoring point."""
        return queries.point_ids(self.store)

    def packets(
        self,
        mn: str,
        commands: Iterable[str],
        since: tuple[str, int] | None = None,
    ) -> list[StoredPacket]:
        """A point's packets of these commands; with ``since`` = (device-local ISO time,
        receive time in µs) only those for periods from that time or received since then
        (a clock far off is still seen)."""
        rows = queries.packets(self.store, mn, commands, since)
        return [StoredPacket(r[0], int(r[1]), r[2], r[3], r[4], orjson.loads(r[5])) for r in rows]

    def unregistered(self) -> list[tuple[str, int]]:
        """Points that send data but are registered to no subject: kept, reported, not
        judged."""
        return queries.unregistered(self.store)

    # --- points --------------------------------------------------------------------
    def register(self, point: Point) -> None:
        """A ledger entry: which organisation a logger belongs to decides whose record its
        data founds, so the binding is a fact of the ledger, projected into ``points``."""
        self.store.append_one(EntryKind.POINT_REGISTERED.value, point_payload(point))

    def point(self, mn: str) -> Point | None:
        row = queries.point(self.store, mn)
        return None if row is None else _point(row)

    def points(self, subject: str | None = None) -> list[Point]:
        return [_point(r) for r in queries.points(self.store, subject)]

    # --- outcomes ------------------------------------------------------------------
    def save_notices(self, notices: Sequence[Notice], now_us: int) -> int:
        """Store notices not stored before (same point, pollutant, kind and start);
        returns how many were new."""
        if not notices:
            return 0
        rows = {f"{n.mn}|{n.pollutant}|{n.kind}|{n.start_s}": n for n in notices}
        with committed(self.store, "monitoring notices") as commit:
            known = queries.existing(self.store, "monitor_notices", rows)
            new = [
                (k, n.mn, n.pollutant, n.kind, n.start_s, n.end_s, n.count, n.detail, now_us)
                for k, n in rows.items()
                if k not in known
            ]
            if new:
                queries.insert_notices(self.store, new)
                commit.added("monitor_notices", new)
        return len(new)

    def notices(self, mn: str | None = None) -> list[Notice]:
        rows = queries.notices(self.store, mn)
        return [Notice(r[0], r[1], r[2], int(r[3]), int(r[4]), int(r[5]), r[6]) for r in rows]

    def save_episode(self, row: tuple[Any, ...]) -> None:
        """An episode's row (key first); the change is committed to the ledger with it."""
        with (
            committed(self.store, "monitoring episode judged") as commit,
            commit.touching("monitor_episodes", "key = ?", (row[0],)),
        ):
            queries.replace_episode(self.store, row)

    def episode(self, key: str) -> tuple[Any, ...] | None:
        return queries.episode(self.store, key)

    def episode_reaching(
        self, mn: str, pollutant: str, limit_set: str, before: int, reaching: int
    ) -> tuple[Any, ...] | None:
        """The latest episode that began before ``before`` and lasted until ``reaching`` or
        later: the one a window's first episode may continue."""
        return queries.episode_reaching(self.store, mn, pollutant, limit_set, before, reaching)

    def episodes(self, mn: str | None = None) -> list[tuple[Any, ...]]:
        return queries.episodes(self.store, mn)

    def save_assessment(self, row: tuple[Any, ...]) -> None:
        with (
            committed(self.store, "compliance assessment") as commit,
            commit.touching("monitor_assessments", "digest = ?", (row[0],)),
        ):
            queries.save_assessment(self.store, row)

    def assessments(self, subject: str) -> list[tuple[Any, ...]]:
        return queries.assessments(self.store, subject)


def adopt_legacy_points(store: Store) -> list[str]:
    """The points an earlier release kept in ``monitor_points`` (a table of its own, not the
    ledger), registered as ``point.registered`` entries once, as found; their MNs."""
    rows = queries.legacy_points(store)
    if not rows or all(store.get_row("points", str(r[0])) is not None for r in rows):
        return []
    adopted = []
    with store.writer() as w:
        for row in rows:
            if w.get("points", str(row[0])) is None:
                w.append(EntryKind.POINT_REGISTERED.value, point_payload(_point(row)))
                adopted.append(str(row[0]))
    return adopted


def point_payload(point: Point) -> dict[str, Any]:
    return {
        "mn": point.mn, "subject": point.subject, "outlet": point.outlet,
        "authority": point.authority, "rulebook": point.rulebook,
        "limit_set": point.limit_set, "pollutants": list(point.pollutants),
        "flow_unit": point.flow_unit, "registered_us": point.registered_us,
    }  # fmt: skip


def packet_rows(received: Iterable[Received]) -> list[tuple[Any, ...]]:
    """``monitor_packets`` rows of packets, each digest once."""
    rows: dict[str, tuple[Any, ...]] = {}
    for item in received:
        p = item.packet
        if p.digest not in rows:
            rows[p.digest] = (
                p.digest, item.received_us, item.peer, p.mn, p.cn, p.st, p.dialect.value,
                _iso(p.data_time), readings_json(p), p.raw,
            )  # fmt: skip
    return list(rows.values())


def _fresh(digests: Sequence[str], known: set[str]) -> list[bool]:
    """For each digest, in order: True the first time it is seen and not in ``known``."""
    seen: set[str] = set()
    out = []
    for d in digests:
        out.append(d not in known and d not in seen)
        seen.add(d)
    return out


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat(timespec="seconds")


def _point(row: Sequence[Any]) -> Point:
    return Point(
        row[0], row[1], row[2], row[3], row[4], row[5], json.loads(row[6]), row[7], int(row[8])
    )
