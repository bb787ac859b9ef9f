"""HJ 212 through NATS JetStream against the direct receiver, in the same run.

    python bench/hj212_jetstream.py [--seconds 10] [--connections 200] [--window 10]

The same loggers as bench/hj212_receiver.py (its ``drive``: ``--connections``
connections of 2017-dialect uploads with Flag=5, each packet unique, ``--window`` in
flight per connection) against two child processes on a real socket:

- direct: `trustledger monitor listen` on SQLite (WAL, synchronous=FULL, the spool on as
  by default): acknowledged once the packet is in the spool;
- jetstream: the same command with TRUSTLEDGER_NATS_URL (the NATS server on
  127.0.0.1:4222, a stream of this run's own, file storage): acknowledged once JetStream's
  PubAck says the frame is stored.

Then `trustledger monitor consume --until-idle` stores what the JetStream receiver
published into a fresh SQLite database, timed: the consumer's frames per second. Both
counts are checked: every acknowledged packet is stored, once. Printed: packets/s and
ack p50/p99/max for both receivers and their ratios, the consumer's rate.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from common import save
from hj212_receiver import free_port, measure

from trustledger.ledger.store import open_store
from trustledger.monitoring.store import MonitoringStore

NATS_URL = os.environ.get("TRUSTLEDGER_TEST_NATS", "nats://127.0.0.1:4222")


def fresh_db(directory: Path, name: str) -> str:
    url = f"sqlite:///{directory / name}"
    store = open_store(url)
    store.init()
    store.close()
    return url


def stored(url: str) -> tuple[int, int]:
    store = open_store(url)
    try:
        MonitoringStore(store)  # moves what a receiver left spooled
        row = store._query("SELECT count(*), count(DISTINCT digest) FROM monitor_packets", ())
        return int(row[0][0]), int(row[0][1])
    finally:
        store.close()


def listen(url: str, port: int) -> list[str]:
    return [sys.executable, "-m", "trustledger", "monitor", "listen",
            "--hj212", f"127.0.0.1:{port}", "--db", url]  # fmt: skip


async def delete_stream(stream: str) -> None:
    import nats
    from nats.js.errors import NotFoundError

    nc = await nats.connect(NATS_URL, max_reconnect_attempts=1)
    try:
        with contextlib.suppress(NotFoundError):
            await nc.jetstream().delete_stream(stream)
    finally:
        await nc.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=200)
    parser.add_argument("--window", type=int, default=10)
    parser.add_argument("--batch", type=int, default=1000, help="the consumer's batch")
    args = parser.parse_args()
    tag = uuid.uuid4().hex[:10]
    stream = f"BENCH_{tag}"
    nats_env = {
        "TRUSTLEDGER_NATS_URL": NATS_URL,
        "TRUSTLEDGER_NATS_STREAM": stream,
        "TRUSTLEDGER_NATS_SUBJECT": f"bench.{tag}",
    }

    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        direct_url = fresh_db(directory, "direct.db")
        port = free_port()
        direct = measure(listen(direct_url, port), port, args)
        direct_stored = stored(direct_url)
        if direct_stored != (direct["packets_acked"],) * 2:
            raise SystemExit(f"direct: {direct_stored} stored, {direct['packets_acked']} acked")

        # the receivers' database is read only (registered points); the consumer writes
        receiver_url = fresh_db(directory, "receiver.db")
        consumer_url = fresh_db(directory, "consumer.db")
        os.environ.update(nats_env)
        try:
            port = free_port()
            through = measure(listen(receiver_url, port), port, args)
            if stored(receiver_url) != (0, 0):
                raise SystemExit("the JetStream receiver wrote packets to its database")
            started = time.perf_counter()
            consume = subprocess.run(
                [sys.executable, "-m", "trustledger", "monitor", "consume", "--until-idle",
                 "--no-judge", "--batch", str(args.batch), "--db", consumer_url],
                capture_output=True, text=True, check=False,
            )  # fmt: skip
            consume_s = time.perf_counter() - started
            if consume.returncode != 0:
                raise SystemExit(f"consume failed: {consume.stderr[-2000:]}")
            consumed = stored(consumer_url)
        finally:
            for key in nats_env:
                os.environ.pop(key, None)
            asyncio.run(delete_stream(stream))
        if consumed != (through["packets_acked"],) * 2:
            raise SystemExit(f"jetstream: {consumed} stored, {through['packets_acked']} acked")

    figures: dict[str, Any] = {
        "connections": args.connections,
        "window_per_connection": args.window,
        "direct_sqlite_spool": direct,
        "jetstream_file_storage": through,
        "throughput_ratio_direct_to_jetstream": round(
            direct["packets_per_second"] / max(through["packets_per_second"], 1), 2
        ),
        "ack_p99_ratio_jetstream_to_direct": round(
            through["ack_p99_ms"] / max(direct["ack_p99_ms"], 0.01), 2
        ),
        "consumer": {
            "batch": args.batch,
            "frames_stored": consumed[0],
            # includes the process's start and the last idle check (about 1 s)
            "seconds": round(consume_s, 2),
            "frames_per_second": round(consumed[0] / consume_s),
        },
    }
    save("hj212_jetstream", figures)


if __name__ == "__main__":
    main()
