"""The HJ 212 receiver under load: `trustledger monitor listen` on SQLite (WAL,
synchronous=FULL: an acknowledgement means the packet survives power loss), against the
same receiver with storage taken out, in the same run.

    python bench/hj212_receiver.py [--seconds 10] [--connections 200] [--window 10]

Both servers are child processes on a real socket; this process plays the loggers:
``--connections`` connections, each sending 2017-dialect uploads with Flag=5 (acknowledge
me), each packet unique (so every one is an INSERT), keeping ``--window`` unacknowledged
packets in flight and sending a new one whenever an acknowledgement comes back. The
baseline runs the same Receiver code (framing, parsing, acknowledgement) with a writer
that claims every packet new without touching a database, so the ratio is the cost of
durability, group commit included.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, cast

sys.path.insert(0, str(Path(__file__).parent))

from common import save

from trustledger.ledger.store import open_store
from trustledger.monitoring.codec import Framer, PacketError, build_data
from trustledger.monitoring.store import MonitoringStore, Received, Rejected

WARMUP_S = 1.0  # connections opened and SQLite's first pages allocated before counting
START = datetime(2025, 6, 1, 0, 0, 0)


# --- the baseline server (run as a child: `--bare-server PORT`) ---------------------------


class NullWriter:
    """GroupWriter's interface, storing nothing: every packet "new", at once."""

    async def save(self, accepted: list[Received], rejected: list[Rejected]) -> list[bool]:
        return [True] * len(accepted)


def bare_server(port: int) -> None:
    from trustledger.monitoring.receiver import GroupWriter, Receiver

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        receiver = Receiver(cast(GroupWriter, NullWriter()))
        server = await receiver.serve("127.0.0.1", port)
        await stop.wait()
        server.close()

    asyncio.run(run())


# --- the loggers --------------------------------------------------------------------------


@dataclass
class Load:
    end: float
    count_from: float
    count_to: float
    sent: int = 0
    acked: int = 0
    counted: int = 0
    latencies: list[float] = field(default_factory=list)


def packet(conn: int, seq: int) -> tuple[bytes, bytes]:
    """A unique upload and its QN; QN = DataTime + 3 digits, unique per connection and seq."""
    moment = START + timedelta(seconds=seq // 1000)
    qn = f"{moment:%Y%m%d%H%M%S}{seq % 1000:03d}"
    frame = build_data(
        f"99{conn:012d}",
        "2011",
        moment,
        {"a34013": {"Rtd": 12.5, "Flag": "N"}, "a21026": {"Rtd": 35.0, "Flag": "N"}},
        qn=qn,
        flag=5,
    )
    return frame, qn.encode()


def ack_qn(frame: bytes) -> bytes:
    # replies are built as "##dddd" + "QN=…;ST=91;…": the QN is the first field
    if frame[6:9] != b"QN=":
        raise AssertionError(f"unexpected reply {frame[:40]!r}")
    return frame[9 : frame.index(b";", 9)]


async def logger(port: int, conn: int, window: int, load: Load) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    framer = Framer()
    in_flight: dict[bytes, float] = {}
    seq = 0

    def send(n: int) -> None:
        nonlocal seq
        frames = []
        now = time.perf_counter()
        for _ in range(n):
            frame, qn = packet(conn, seq)
            seq += 1
            in_flight[qn] = now
            frames.append(frame)
        writer.write(b"".join(frames))
        load.sent += n

    send(window)
    while in_flight:
        chunk = await reader.read(65536)
        if not chunk:
            raise AssertionError(f"connection {conn} closed with {len(in_flight)} in flight")
        now = time.perf_counter()
        done = 0
        for frame in framer.feed(chunk):
            if isinstance(frame, PacketError):
                raise AssertionError(f"bad reply: {frame}")
            sent_at = in_flight.pop(ack_qn(frame))
            done += 1
            if load.count_from <= now < load.count_to:
                load.counted += 1
                load.latencies.append(now - sent_at)
        load.acked += done
        if done and now < load.end:
            send(done)
    writer.close()


async def drive(port: int, connections: int, window: int, seconds: float) -> dict[str, Any]:
    start = time.perf_counter()
    load = Load(
        end=start + WARMUP_S + seconds,
        count_from=start + WARMUP_S,
        count_to=start + WARMUP_S + seconds,
    )
    await asyncio.gather(*(logger(port, c, window, load) for c in range(connections)))
    lat = sorted(load.latencies)
    if not lat:
        raise AssertionError("no acknowledgement arrived in the measured interval")
    return {
        "packets_sent": load.sent,
        "packets_acked": load.acked,
        "measured_seconds": seconds,
        "packets_per_second": round(load.counted / seconds),
        "ack_p50_ms": round(1000 * statistics.median(lat), 2),
        "ack_p99_ms": round(1000 * lat[int(0.99 * (len(lat) - 1))], 2),
        "ack_max_ms": round(1000 * lat[-1], 2),
    }


# --- orchestration ------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_for_port(proc: subprocess.Popen[bytes], port: int) -> None:
    deadline = time.monotonic() + 30
    while True:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise SystemExit(f"server never listened on {port}") from None
            time.sleep(0.05)


def measure(command: list[str], port: int, args: argparse.Namespace) -> dict[str, Any]:
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    try:
        wait_for_port(proc, port)
        figures = asyncio.run(drive(port, args.connections, args.window, args.seconds))
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=60)
    if code != 0:
        raise SystemExit(f"server exited with {code}")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=200)
    parser.add_argument("--window", type=int, default=10)
    parser.add_argument("--bare-server", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare_server is not None:
        bare_server(args.bare_server)
        return

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'monitor.db'}"
        store = open_store(url)
        store.init()
        store.close()
        port = free_port()
        listen = [sys.executable, "-m", "trustledger", "monitor", "listen",
                  "--hj212", f"127.0.0.1:{port}", "--db", url]  # fmt: skip
        durable = measure(listen, port, args)
        store = open_store(url)
        pragmas = {
            p: store._query(f"PRAGMA {p}", ())[0][0] for p in ("journal_mode", "synchronous")
        }
        stored = MonitoringStore(store).packet_count()
        store.close()
        # every packet was unique and acknowledged only once stored
        if stored != durable["packets_acked"]:
            raise SystemExit(f"{stored} stored but {durable['packets_acked']} acknowledged")

    port = free_port()
    bare = measure([sys.executable, __file__, "--bare-server", str(port)], port, args)
    save(
        "hj212_receiver",
        {
            "connections": args.connections,
            "window_per_connection": args.window,
            "database": "sqlite",
            # read through open_store, which the listener uses too: the same settings
            "sqlite_journal_mode": pragmas["journal_mode"],
            "sqlite_synchronous": {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}.get(
                pragmas["synchronous"], pragmas["synchronous"]
            ),
            "stored_packets": stored,
            "durable": durable,
            "bare_no_storage": bare,
            "throughput_ratio_bare_to_durable": round(
                bare["packets_per_second"] / max(durable["packets_per_second"], 1), 2
            ),
            "target_packets_per_second": 10_000,
        },
    )


if __name__ == "__main__":
    main()
