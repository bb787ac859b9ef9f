"""The HJ 212 receiver's limits (issue 14, item 3): connections per address and in all with
a reserve only registered points may use, the reject budget of a connection, rejects
stored as runs instead of a row a frame, the idle limit on connections that send no valid
frame, and complaints logged once per interval.

The receiver runs in this process on a real socket; peers connect from different loopback
addresses (127.0.0.0/8 is all loopback on Linux), so per-address limits can be told apart.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import sqlite3
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from trustledger.ledger.store import Store, open_store
from trustledger.ledger.tabledigest import committed, fold, live_digest
from trustledger.monitoring import queries
from trustledger.monitoring.codec import Framer, PacketError, build_data, parse
from trustledger.monitoring.receiver import (
    GroupWriter,
    LogLimiter,
    PointRegistry,
    Receiver,
    ReceiverLimits,
    RejectRuns,
    Tally,
    classify,
    fit_fd_limit,
)
from trustledger.monitoring.store import MonitoringStore, Point, Rejected
from trustledger.settings import Settings

linux_only = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="binds 127.0.0.x (Linux loopback)"
)
REGISTERED = "55555550000001"
UNREGISTERED = "55555550000099"
WHEN = datetime(2025, 4, 1, 8, 0, 0)
TINY = b"##x\r\n"  # the finding: 5 bytes that used to become a ~110-byte row each


def packet(mn: str, seq: int = 0) -> bytes:
    moment = WHEN + timedelta(seconds=seq)
    return build_data(
        mn, "2011", moment, {"a34013": {"Rtd": 10.0 + seq, "Flag": "N"}},
        qn=f"{moment:%Y%m%d%H%M%S}{seq % 1000:03d}", flag=5,
    )  # fmt: skip


@contextlib.contextmanager
def monitoring_store(tmp_path: Path) -> Iterator[MonitoringStore]:
    store = open_store(f"sqlite:///{tmp_path / 'limits.db'}")
    store.init()
    try:
        ms = MonitoringStore(store)
        point = Point(REGISTERED, "91110000MA00000000", "stack 1", "auth", "rb", "ls",
                      ["a34013"], "m3/s", 0)  # fmt: skip
        ms.register(point)
        yield ms
    finally:
        store.close()


def committed_matches(store: Store, table: str = "monitor_rejects") -> bool:
    """The table hashes to what the ledger's commits say it holds (what verify checks)."""
    return fold(store).get(table) == live_digest(store, table)


@dataclass
class Site:
    receiver: Receiver
    store: MonitoringStore
    port: int


@contextlib.asynccontextmanager
async def serving(ms: MonitoringStore, limits: ReceiverLimits) -> AsyncIterator[Site]:
    writer = GroupWriter(ms)
    receiver = Receiver(writer, limits=limits)
    server = await receiver.serve("127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield Site(receiver, ms, port)
    finally:
        server.close()
        await server.wait_closed()
        # let handlers finish their last recounts before the writer stops
        deadline = time.monotonic() + 5
        while receiver.connections and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)
        writer.close()


async def connect(
    port: int, source: str = "127.0.0.1"
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))


async def closed_by_peer(reader: asyncio.StreamReader, within: float = 5.0) -> bool:
    """True if the receiver closes the connection within ``within`` seconds (whatever it
    sent first is skipped)."""
    try:
        async with asyncio.timeout(within):
            while await reader.read(65536):
                pass
    except TimeoutError:
        return False
    except ConnectionError:
        return True
    return True


async def ack_for(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, frame: bytes
) -> str | None:
    """Send ``frame``; the QN acknowledged, or None if the connection closed first."""
    writer.write(frame)
    await writer.drain()
    framer = Framer()
    try:
        async with asyncio.timeout(5):
            while chunk := await reader.read(4096):
                for f in framer.feed(chunk):
                    assert not isinstance(f, PacketError)
                    return parse(f).qn
    except ConnectionError:
        return None
    return None


async def until(condition: object, what: str, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.01)


# --- rejects as runs -------------------------------------------------------------------------


def test_reject_runs_keep_one_row_per_reason_with_the_first_as_sample() -> None:
    tally = Tally()
    frames = Framer().feed(b"##0010QN=1;\r\n" + TINY * 50 + b"##0010QN=2;\r\n")
    _, rejected = classify(frames, "tcp:127.0.0.1:1", 1000, tally)
    assert len(rejected) == 52
    runs = RejectRuns(recount_s=3600)
    rows, recounts = runs.add(rejected)
    assert recounts == []
    assert sum(r.frames for r in rows) == 52
    assert len(rows) == len({r.error.reason for r in rejected}) < 5
    for row in rows:
        first = next(r for r in rejected if r.error.reason == row.error.reason)
        assert (row.head, row.error.detail, row.received_us) == (
            first.head, first.error.detail, first.received_us)  # fmt: skip
    # more of the same: counted in memory, recounted when the connection ends
    _, more = classify(Framer().feed(TINY * 10), "tcp:127.0.0.1:1", 2000, tally)
    rows2, recounts2 = runs.add(more)
    assert rows2 == [] and recounts2 == []
    (final,) = [r for r in runs.pending() if r.reason == more[0].error.reason.value]
    assert final.last_us == 2000
    before = sum(r.frames for r in rows if r.error.reason == more[0].error.reason)
    assert final.frames == 10 + before
    assert runs.pending() == []


def test_a_run_that_keeps_growing_is_recounted_on_disk(tmp_path: Path) -> None:
    with monitoring_store(tmp_path) as ms:
        runs = RejectRuns(recount_s=0.0)
        total = 0
        for i in range(20):
            _, rejected = classify(Framer().feed(TINY * 100), "tcp:10.0.0.1:5", i, Tally())
            rows, recounts = runs.add(rejected)
            ms.save([], rows, recounts)
            total += len(rejected)
        assert ms.reject_counts() == {rejected[0].error.reason.value: total}
        rows_stored = ms.store.query("SELECT count(*), max(last_us) FROM monitor_rejects")
        assert rows_stored == [(1, 19)]
        assert committed_matches(ms.store)


def test_a_run_or_recount_delivered_again_is_counted_once(tmp_path: Path) -> None:
    # what a JetStream consumer killed between its commit and its acknowledgement does:
    # the same runs and recounts stored again, and an older recount after a newer one
    with monitoring_store(tmp_path) as ms:
        runs = RejectRuns(recount_s=0.0)
        _, first = classify(Framer().feed(TINY * 100), "tcp:10.0.0.1:5", 1, Tally())
        rows, _ = runs.add(first)
        ms.save([], rows, [])
        _, more = classify(Framer().feed(TINY * 50), "tcp:10.0.0.1:5", 2, Tally())
        _, recount = runs.add(more)
        _, later = classify(Framer().feed(TINY * 25), "tcp:10.0.0.1:5", 3, Tally())
        _, recount_later = runs.add(later)
        assert recount and recount_later
        ms.save([], [], recount_later)
        ms.save([], rows, recount)  # both delivered again, the recount now stale
        reason = first[0].error.reason.value
        assert ms.reject_counts() == {reason: 175}
        assert ms.store.query("SELECT count(*), max(last_us) FROM monitor_rejects") == [(1, 3)]
        assert committed_matches(ms.store)


def test_five_thousand_tiny_frames_are_one_row_not_five_thousand(tmp_path: Path) -> None:
    """The finding: ``##x\\r\\n`` became a row each. Over a real socket, the budget set high
    enough to let them all in."""
    garbage = TINY * 5000

    async def scenario(ms: MonitoringStore) -> None:
        async with serving(ms, ReceiverLimits(reject_budget=10_000)) as site:
            reader, writer = await connect(site.port)
            writer.write(garbage)
            writer.write_eof()
            assert await closed_by_peer(reader)
            writer.close()

    with monitoring_store(tmp_path) as ms:
        asyncio.run(scenario(ms))
        counts = ms.reject_counts()
        assert sum(counts.values()) == 5000, counts
        rows, stored_bytes = ms.store.query(
            "SELECT count(*), sum(length(peer) + length(reason) + length(detail) + "
            "length(head) + 24) FROM monitor_rejects"
        )[0]
        assert rows == len(counts) <= 2
        # what 25,000 bytes of garbage cost on disk: a few hundred bytes, not 550,000
        assert stored_bytes < 600, stored_bytes
        assert committed_matches(ms.store)


def test_an_old_reject_table_gains_the_columns_and_stays_committed(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'old.db'}")
    store.init()
    old = ("received_us BIGINT NOT NULL, peer TEXT NOT NULL, reason TEXT NOT NULL, "
           "detail TEXT NOT NULL, head TEXT NOT NULL")  # fmt: skip
    store.create_tables([f"CREATE TABLE monitor_rejects ({old})"])
    row = (7, "tcp:10.0.0.2:9", "no_header", "3 bytes outside a frame", "")
    with committed(store, "an earlier release") as commit:
        store.execute("INSERT INTO monitor_rejects VALUES (?, ?, ?, ?, ?)", [row])
        commit.added("monitor_rejects", [row])
    assert committed_matches(store)
    try:
        ms = MonitoringStore(store)
        assert store.query("SELECT * FROM monitor_rejects") == [(*row, 1, 0)]
        assert ms.reject_counts() == {"no_header": 1}
        assert committed_matches(store)
        MonitoringStore(store)  # a second open adds nothing
        assert len(fold(store)) >= 1 and committed_matches(store)
    finally:
        store.close()
    conn = sqlite3.connect(tmp_path / "old.db")
    cols = [r[1] for r in conn.execute("PRAGMA table_info(monitor_rejects)")]
    conn.close()
    assert cols == ["received_us", "peer", "reason", "detail", "head", "count", "last_us"]
    assert [c for c in cols if c in queries.DDL] == cols


# --- the reject budget -------------------------------------------------------------------------


def test_a_connection_past_its_reject_budget_is_dropped(tmp_path: Path) -> None:
    async def scenario(ms: MonitoringStore) -> None:
        async with serving(ms, ReceiverLimits(reject_budget=10)) as site:
            reader, writer = await connect(site.port)
            for _ in range(200):
                writer.write(TINY)
            with contextlib.suppress(ConnectionError):
                await writer.drain()
            assert await closed_by_peer(reader)
            writer.close()
            await until(lambda: site.receiver.refused["reject_budget"] == 1, "dropped")
            # a logger whose frames are good is not dropped for the odd bad one among them
            reader, writer = await connect(site.port)
            for seq in range(30):
                writer.write(TINY)
                assert await ack_for(reader, writer, packet(REGISTERED, seq)) is not None
            writer.close()
            assert site.receiver.refused["reject_budget"] == 1

    with monitoring_store(tmp_path) as ms:
        asyncio.run(scenario(ms))
        assert ms.packet_count() == 30


# --- connection limits -------------------------------------------------------------------------


@linux_only
def test_per_address_limit_refuses_the_extra_connection_only(tmp_path: Path) -> None:
    async def scenario(ms: MonitoringStore) -> None:
        async with serving(ms, ReceiverLimits(per_address=2)) as site:
            held = [await connect(site.port, "127.0.0.2") for _ in range(2)]
            await until(lambda: site.receiver.connections == 2, "two held")
            extra_r, extra_w = await connect(site.port, "127.0.0.2")
            assert await closed_by_peer(extra_r, 2)
            assert site.receiver.refused["per_address"] == 1
            # another address is served, and so is the first once a slot frees
            other = await connect(site.port, "127.0.0.3")
            assert await ack_for(*other, packet(REGISTERED, 1)) is not None
            held[0][1].close()
            await until(lambda: site.receiver.connections == 2, "one slot freed")
            again = await connect(site.port, "127.0.0.2")
            assert await ack_for(*again, packet(REGISTERED, 2)) is not None
            for _, w in [*held, other, again, (extra_r, extra_w)]:
                w.close()

    with monitoring_store(tmp_path) as ms:
        asyncio.run(scenario(ms))


@linux_only
def test_the_reserve_is_for_registered_points_only(tmp_path: Path) -> None:
    limits = ReceiverLimits(max_connections=4, reserved_connections=2, registration_grace_s=0.5)

    async def scenario(ms: MonitoringStore) -> None:
        async with serving(ms, limits) as site:
            receiver = site.receiver
            # unknown peers take the open part and hold it
            squatters = [await connect(site.port, f"127.0.1.{i}") for i in (1, 2)]
            await until(lambda: receiver.connections == 2, "open part full")
            # in the reserve: an unregistered MN is closed unacknowledged and unstored
            r, w = await connect(site.port, "127.0.2.1")
            assert await ack_for(r, w, packet(UNREGISTERED)) is None
            assert receiver.refused["reserve"] == 1
            # in the reserve: silence is closed after the grace time
            r, w = await connect(site.port, "127.0.2.2")
            started = time.monotonic()
            assert await closed_by_peer(r, 3)
            assert 0.4 < time.monotonic() - started < 2.5
            assert receiver.refused["reserve"] == 2
            # a registered point gets in, and stays (past the grace time)
            logger = await connect(site.port, "127.0.2.3")
            assert await ack_for(*logger, packet(REGISTERED, 1)) == parse(packet(REGISTERED, 1)).qn
            await asyncio.sleep(0.8)
            assert await ack_for(*logger, packet(REGISTERED, 2)) == parse(packet(REGISTERED, 2)).qn
            second = await connect(site.port, "127.0.2.4")
            assert await ack_for(*second, packet(REGISTERED, 3)) is not None
            # all four slots taken: the next one is refused outright
            r, w = await connect(site.port, "127.0.2.5")
            assert await closed_by_peer(r, 2)
            assert receiver.refused["full"] == 1
            for _, sw in [*squatters, logger, second]:
                sw.close()

    with monitoring_store(tmp_path) as ms:
        asyncio.run(scenario(ms))
        digests = set(ms.digests())
        assert parse(packet(UNREGISTERED)).digest not in digests
        assert {parse(packet(REGISTERED, s)).digest for s in (1, 2, 3)} <= digests


def test_a_connection_without_a_valid_frame_is_closed_after_the_idle_time(tmp_path: Path) -> None:
    """Slowloris: a byte now and then used to reset the idle timer forever."""

    async def scenario(ms: MonitoringStore) -> None:
        async with serving(ms, ReceiverLimits(idle_timeout_s=1.0)) as site:
            reader, writer = await connect(site.port)
            started = time.monotonic()
            writer.write(b"##0200QN=2025")
            for _ in range(40):
                if reader.at_eof():
                    break
                with contextlib.suppress(ConnectionError):
                    writer.write(b"0")
                    await writer.drain()
                await asyncio.sleep(0.1)
            assert await closed_by_peer(reader, 2)
            assert time.monotonic() - started < 2.5
            assert site.receiver.refused["idle"] == 1
            writer.close()

    with monitoring_store(tmp_path) as ms:
        asyncio.run(scenario(ms))


# --- logging -------------------------------------------------------------------------------------


def test_log_limiter_logs_once_per_interval_with_a_count(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("test.limiter")
    limiter = LogLimiter(logger, 0.2)
    with caplog.at_level(logging.WARNING, logger="test.limiter"):
        logged = [limiter("k", logging.WARNING, "refused %s", i) for i in range(1000)]
        assert logged.count(True) == 1
        time.sleep(0.25)
        assert limiter("k", logging.WARNING, "refused %s", "again")
        assert limiter("other", logging.WARNING, "another kind")
    messages = [r.getMessage() for r in caplog.records]
    assert messages == [
        "refused 0",
        messages[1],
        "another kind",
    ]
    assert messages[1].startswith("refused again (and 999 more like it in the last")


def test_accept_out_of_descriptors_is_one_line_per_interval(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async def scenario(ms: MonitoringStore) -> None:
        async with serving(ms, ReceiverLimits(log_interval_s=60)):
            loop = asyncio.get_running_loop()
            handler = loop.get_exception_handler()
            assert handler is not None
            context = {
                "message": "socket.accept() out of system resource",
                "exception": OSError(errno.EMFILE, "Too many open files"),
            }
            for _ in range(40_000):
                handler(loop, context)

    with monitoring_store(tmp_path) as ms, caplog.at_level(logging.WARNING):
        asyncio.run(scenario(ms))
    accept = [r for r in caplog.records if "cannot accept" in r.getMessage()]
    assert len(accept) == 1
    assert not accept[0].exc_info  # a line, not a traceback


def test_fd_limit_is_raised_within_the_hard_limit() -> None:
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (128, hard))
        usable = fit_fd_limit(1000)
        now_soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        if hard == resource.RLIM_INFINITY or hard >= 1064:
            assert (usable, now_soft) == (1000, 1064)
        else:
            assert now_soft == hard and usable == hard - 64
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_limits_come_from_settings() -> None:
    env = {
        "TRUSTLEDGER_HJ212_MAX_CONNECTIONS": "50",
        "TRUSTLEDGER_HJ212_RESERVED_CONNECTIONS": "5",
        "TRUSTLEDGER_HJ212_CONNECTIONS_PER_ADDRESS": "3",
        "TRUSTLEDGER_HJ212_REJECT_BUDGET": "7",
        "TRUSTLEDGER_HJ212_REGISTRATION_GRACE": "2.5",
        "TRUSTLEDGER_HJ212_IDLE_TIMEOUT": "30",
        "TRUSTLEDGER_HJ212_LOG_INTERVAL": "9",
    }
    assert ReceiverLimits.from_settings(Settings.from_env(env)) == ReceiverLimits(
        max_connections=50, reserved_connections=5, per_address=3, reject_budget=7,
        registration_grace_s=2.5, idle_timeout_s=30.0, log_interval_s=9.0,
    )  # fmt: skip
    assert ReceiverLimits.from_settings(Settings()) == ReceiverLimits()


def test_store_keeps_rejected_defaults_for_single_frames(tmp_path: Path) -> None:
    """MQTT and replay still store one row per rejected frame they pass (count 1)."""
    try:
        parse(b"##0000garbage")
    except PacketError as exc:
        error = exc
    with monitoring_store(tmp_path) as ms:
        ms.save([], [Rejected(error, 5, "mqtt:a/b", "##00")])
        assert ms.store.query("SELECT count, last_us FROM monitor_rejects") == [(1, 5)]
        assert committed_matches(ms.store)


def test_registered_points_asked_at_once_all_get_the_answer(tmp_path: Path) -> None:
    """The soak found it: while the first read of the registered MNs ran, the loggers that
    asked meanwhile were told no and dropped from the reserve."""

    async def scenario(ms: MonitoringStore) -> None:
        writer = GroupWriter(ms)
        try:
            registry = PointRegistry(writer, refresh_s=60)
            answers = await asyncio.gather(
                *(registry.registered(REGISTERED) for _ in range(50)),
                registry.registered(UNREGISTERED),
            )
            assert answers == [True] * 50 + [False]
            # an unknown MN asked again within the refresh time costs no read
            reads = 0
            real_call = writer.call

            async def counting(fn: Any) -> Any:
                nonlocal reads
                reads += 1
                return await real_call(fn)

            writer.call = counting  # type: ignore[method-assign]
            assert not await registry.registered(UNREGISTERED)
            assert reads == 0
        finally:
            writer.close()

    with monitoring_store(tmp_path) as ms:
        asyncio.run(scenario(ms))


# --- acknowledgements and the ledger's write lock --------------------------------------------


def test_acknowledgement_does_not_wait_for_a_long_ledger_transaction(tmp_path: Path) -> None:
    """The finding: an acknowledgement waited as long as an intake held the write lock."""
    db = tmp_path / "limits.db"

    async def scenario(ms: MonitoringStore) -> None:
        writer = GroupWriter(ms, spool=True)
        receiver = Receiver(writer)
        server = await receiver.serve("127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        # another process's long write transaction on the ledger's database
        other = sqlite3.connect(db, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        try:
            reader, w = await connect(port)
            for seq in range(3):
                started = time.monotonic()
                frame = packet(REGISTERED, seq)
                assert await ack_for(reader, w, frame) == parse(frame).qn
                assert time.monotonic() - started < 1.0
            w.close()
            await asyncio.sleep(0.5)
            assert ms.packet_count() == 0  # spooled, not yet in the ledger's database
        finally:
            other.execute("ROLLBACK")
            other.close()
        await until(lambda: ms.packet_count() == 3, "moved once the lock is free")
        server.close()
        await server.wait_closed()
        writer.close()

    with monitoring_store(tmp_path) as ms:
        asyncio.run(scenario(ms))
        assert committed_matches(ms.store, "monitor_packets")


def test_spooled_packets_are_moved_at_the_next_open(tmp_path: Path) -> None:
    """A receiver killed after acknowledging: the spool is moved in by whoever opens the
    monitoring store next, each packet once."""
    with monitoring_store(tmp_path) as ms:
        assert ms.spool_path is not None
        received = classify(
            Framer().feed(packet(REGISTERED, 1) + packet(REGISTERED, 2)), "tcp:x", 1, Tally()
        )[0]
        assert ms.spool(received) == [True, True]
        assert ms.spool(received) == [False, False]
        ms.close_spool()
        url = ms.store.url
    store = open_store(url)
    try:
        again = MonitoringStore(store)
        assert again.packet_count() == 2
        assert set(again.digests()) == {r.packet.digest for r in received}
        assert again.spool(received) == [False, False]  # stored in the ledger's database
        assert committed_matches(store, "monitor_packets")
    finally:
        store.close()


def test_rejects_alike_of_one_instant_are_one_run_with_their_frames_summed(
    tmp_path: Path,
) -> None:
    # a batch classified at one instant (an MQTT batch) may hold one garbage frame many
    # times and other rejects of the same reason: the alike are one run, every frame
    # counted; a reject with a detail of its own keeps its row
    with monitoring_store(tmp_path) as ms:
        _, rejected = classify(Framer().feed(TINY * 7), "mqtt:site/1", 5, Tally())
        _, other = classify(Framer().feed(b"##y\r\n"), "mqtt:site/1", 5, Tally())
        assert len(rejected) == 7 and other[0].error.reason == rejected[0].error.reason
        ms.save([], [*rejected, *other])
        assert ms.reject_counts() == {rejected[0].error.reason.value: 8}
        assert ms.store.query("SELECT count(*) FROM monitor_rejects") == [(2,)]
        assert committed_matches(ms.store)
