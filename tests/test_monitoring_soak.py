"""The receiver soak (issue 14): 300 hostile connections (garbage, slowloris, endless frames)
and 200 well-behaved loggers at once against `trustledger monitor listen` as a real
process on a real socket.

Every good frame must be acknowledged and stored exactly once, the rejects' storage must
stay bounded (runs, not rows a frame) and the receiver's memory too. The soak runs
``TRUSTLEDGER_SOAK_SECONDS`` (20 by default so it fits the normal suite; the issue's full
run is 60). Hostile peers connect from 127.0.3.x, loggers from 127.0.4.x (all of
127.0.0.0/8 is loopback on Linux), so the per-address limit bites the hostile ones; they
start first and fill the open part of the connection pool, so the loggers get in through
the reserve for registered points.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import resource
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from trustledger.ledger.store import open_store
from trustledger.monitoring.codec import Framer, PacketError, build_data, parse
from trustledger.monitoring.store import MonitoringStore, Point

SOAK_S = float(os.environ.get("TRUSTLEDGER_SOAK_SECONDS", "20"))
LOGGERS = 200
HOSTILE = 300  # a third each: garbage, slowloris, endless frames
HOSTILE_ADDRESSES = 10
LIMITS = {
    "TRUSTLEDGER_HJ212_MAX_CONNECTIONS": "480",
    "TRUSTLEDGER_HJ212_RESERVED_CONNECTIONS": "250",
    "TRUSTLEDGER_HJ212_CONNECTIONS_PER_ADDRESS": "25",  # 10 hostile addresses: 250 at most
    "TRUSTLEDGER_HJ212_REJECT_BUDGET": "100",
    "TRUSTLEDGER_HJ212_REGISTRATION_GRACE": "5",
    "TRUSTLEDGER_HJ212_IDLE_TIMEOUT": "8",  # slowloris is cut within the soak
    "TRUSTLEDGER_HJ212_LOG_INTERVAL": "5",
}
START = datetime(2025, 5, 1, 0, 0, 0)

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="needs /proc and 127.0.0.0/8 (Linux)"
)


def raise_fd_limit(need: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < need:
        if hard != resource.RLIM_INFINITY and hard < need:
            pytest.skip(f"the hard open-file limit {hard} is below the {need} the soak needs")
        resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def status_kb(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise AssertionError(f"{key} not in /proc/{pid}/status")


def mn_of(i: int) -> str:
    return f"4444444{i:07d}"


def frame_of(i: int, seq: int) -> bytes:
    moment = START + timedelta(seconds=seq)
    return build_data(
        mn_of(i), "2011", moment, {"a34013": {"Rtd": 10.0 + seq % 50, "Flag": "N"}},
        qn=f"{moment:%Y%m%d%H%M%S}{i % 1000:03d}", flag=5,
    )  # fmt: skip


@dataclass
class Figures:
    hostile_bytes: int = 0
    hostile_sessions: int = 0
    logger_sessions: int = 0
    sent: int = 0
    frames: dict[str, bytes] = field(default_factory=dict)  # QN|MN -> frame


@dataclass
class GoodLogger:
    """Sends a packet every half second, resends whatever is unacknowledged when it has to
    reconnect, and counts the acknowledgements it gets."""

    index: int
    figures: Figures
    pending: dict[str, bytes] = field(default_factory=dict)  # QN -> frame
    acked: set[str] = field(default_factory=set)
    seq: int = 0

    async def run(self, port: int, stop_sending: asyncio.Event, done: asyncio.Event) -> None:
        source = f"127.0.4.{1 + self.index % 50}"
        while not (stop_sending.is_set() and not self.pending) and not done.is_set():
            try:
                reader, writer = await asyncio.open_connection(
                    "127.0.0.1", port, local_addr=(source, 0)
                )
            except OSError:
                await asyncio.sleep(0.1)
                continue
            self.figures.logger_sessions += 1
            try:
                await self._session(reader, writer, stop_sending, done)
            except OSError:
                pass
            finally:
                writer.close()
            await asyncio.sleep(0.1)

    async def _session(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        stop_sending: asyncio.Event,
        done: asyncio.Event,
    ) -> None:
        framer = Framer()

        async def read_acks() -> None:
            while chunk := await reader.read(4096):
                for f in framer.feed(chunk):
                    assert not isinstance(f, PacketError), f
                    ack = parse(f)
                    assert ack.mn == mn_of(self.index) and ack.qn
                    self.acked.add(ack.qn)
                    self.pending.pop(ack.qn, None)

        reading = asyncio.create_task(read_acks())
        try:
            # whatever was not acknowledged before goes again
            for frame in list(self.pending.values()):
                writer.write(frame)
            await writer.drain()
            while not done.is_set() and not reading.done():
                if stop_sending.is_set():
                    if not self.pending:
                        return
                else:
                    frame = frame_of(self.index, self.seq)
                    qn = parse(frame).qn
                    assert qn is not None
                    self.seq += 1
                    self.pending[qn] = frame
                    self.figures.frames[f"{qn}|{self.index}"] = frame
                    self.figures.sent += 1
                    writer.write(frame)
                    await writer.drain()
                await asyncio.wait([reading], timeout=0.5)
        finally:
            reading.cancel()
            with contextlib.suppress(asyncio.CancelledError, OSError):
                await reading


async def hostile(kind: str, n: int, port: int, done: asyncio.Event, figures: Figures) -> None:
    """One hostile peer: reconnects whenever the receiver drops it, until the soak ends."""
    rng = random.Random(n)
    source = f"127.0.3.{1 + n % HOSTILE_ADDRESSES}"
    while not done.is_set():
        try:
            reader, writer = await asyncio.open_connection(
                "127.0.0.1", port, local_addr=(source, 0)
            )
        except OSError:
            await asyncio.sleep(0.2)
            continue
        figures.hostile_sessions += 1
        drain = asyncio.create_task(_discard(reader))
        try:
            if kind == "slowloris":
                writer.write(b"##0300QN=")
            elif kind == "endless":
                writer.write(b"##9999QN=20250501000000000;ST=22;CN=2011;CP=&&")
            while not done.is_set() and not drain.done():
                if kind == "garbage":
                    data = rng.randbytes(rng.randint(1, 400)) + b"##x\r\n" * rng.randint(1, 20)
                    pause = 0.05
                elif kind == "slowloris":
                    data, pause = b"0", 1.0
                else:
                    data, pause = b"A" * 8192, 0.05
                writer.write(data)
                figures.hostile_bytes += len(data)
                await writer.drain()
                await asyncio.sleep(pause)
        except OSError:
            pass
        finally:
            drain.cancel()
            writer.close()
        await asyncio.sleep(0.05)


async def _discard(reader: asyncio.StreamReader) -> None:
    with contextlib.suppress(OSError):
        while await reader.read(65536):
            pass


def _register_points(url: str) -> None:
    store = open_store(url)
    try:
        store.init()
        ms = MonitoringStore(store)
        for i in range(LOGGERS):
            ms.register(Point(mn_of(i), "91110000MA00000000", "stack", "auth", "rb", "ls",
                              ["a34013"], "m3/s", 0))  # fmt: skip
    finally:
        store.close()


def test_soak_hostile_and_good_at_once(tmp_path: Path) -> None:
    raise_fd_limit(4096)
    url = f"sqlite:///{tmp_path / 'soak.db'}"
    _register_points(url)
    port = free_port()
    err_path = tmp_path / "listen.err"
    with err_path.open("wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "trustledger", "monitor", "listen",
             "--hj212", f"127.0.0.1:{port}", "--db", url],
            stdout=subprocess.DEVNULL, stderr=err, env={**os.environ, **LIMITS},
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, err_path.read_text()
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "the listener never listened"
                time.sleep(0.05)
        time.sleep(0.5)
        rss_start_kb = status_kb(proc.pid, "VmRSS")
        figures = Figures()
        loggers = [GoodLogger(i, figures) for i in range(LOGGERS)]

        async def soak() -> float:
            done, stop_sending = asyncio.Event(), asyncio.Event()
            kinds = ["garbage", "slowloris", "endless"]
            bad = [asyncio.create_task(hostile(kinds[n % 3], n, port, done, figures))
                   for n in range(HOSTILE)]  # fmt: skip
            await asyncio.sleep(1.0)  # the hostile peers fill the open part first
            good = [asyncio.create_task(lg.run(port, stop_sending, done)) for lg in loggers]
            await asyncio.sleep(SOAK_S)
            stop_sending.set()
            started = time.monotonic()
            # the hostile peers keep at it while the last acknowledgements come
            while any(lg.pending for lg in loggers) and time.monotonic() - started < 60:
                await asyncio.sleep(0.1)
            drained = time.monotonic() - started
            done.set()
            await asyncio.wait_for(asyncio.gather(*good, *bad), 30)
            return drained

        drained = asyncio.run(soak())
        peak_kb = status_kb(proc.pid, "VmHWM")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    stderr = err_path.read_text(errors="replace")
    assert code == 0, stderr[-3000:]

    unacked = sum(len(lg.pending) for lg in loggers)
    acked = sum(len(lg.acked) for lg in loggers)
    assert unacked == 0, f"{unacked} good frames never acknowledged (drain {drained:.1f} s)"
    assert acked == figures.sent == len(figures.frames)
    # no logger was ever turned away or dropped: one session each, from start to end
    assert figures.logger_sessions == LOGGERS, stderr[-3000:]

    store = open_store(url)
    try:
        ms = MonitoringStore(store)
        rows, distinct = store.query(
            "SELECT count(*), count(DISTINCT digest) FROM monitor_packets"
        )[0]
        digests = set(ms.digests())
        runs, frames, logical = store.query(
            "SELECT count(*), coalesce(sum(count), 0), coalesce(sum(length(peer) + "
            "length(reason) + length(detail) + length(head) + 24), 0) FROM monitor_rejects"
        )[0]
        counts = ms.reject_counts()
    finally:
        store.close()
    # stored exactly once: every good frame, nothing else (no hostile frame is valid)
    assert rows == distinct == figures.sent
    assert digests == {parse(f).digest for f in figures.frames.values()}
    # rejects: a run per connection and reason, whatever the bytes
    assert frames == sum(counts.values())
    assert runs <= 4 * figures.hostile_sessions
    assert logical < 300 * figures.hostile_sessions
    growth_kb = peak_kb - rss_start_kb
    assert growth_kb < 150 * 1024, f"the receiver's peak RSS grew by {growth_kb} KiB"
    assert "Traceback" not in stderr
    assert len(stderr) < 64 * 1024, f"{len(stderr)} bytes on stderr"
    print(
        f"\nsoak {SOAK_S:.0f} s: {figures.sent} good frames from {LOGGERS} loggers "
        f"({figures.logger_sessions} sessions), all acknowledged and stored once "
        f"(last acks {drained:.1f} s after sending stopped); {HOSTILE} hostile peers "
        f"sent {figures.hostile_bytes / 1e6:.1f} MB in {figures.hostile_sessions} sessions: "
        f"{frames} rejected frames kept as {runs} runs, {logical} bytes of row data "
        f"({dict(counts)}); receiver RSS {rss_start_kb / 1024:.0f} MiB at start, peak "
        f"{peak_kb / 1024:.0f} MiB; stderr {len(stderr)} bytes"
    )
