"""How long an HJ 212 acknowledgement waits while a bulk ingest writes to the same SQLite
database, against the same loggers with no ingest running, in the same run.

    python bench/hj212_ack_delay.py [--subjects 50000] [--loggers 50] [--interval 0.1]

`trustledger monitor listen` runs as a child process on a real socket over a fresh
database; this process plays ``--loggers`` data loggers, each sending a 2017-dialect
upload with Flag=5 every ``--interval`` seconds and timing its acknowledgement. First
``--baseline`` seconds with nothing else running, then the demo data of ``--subjects``
subjects (about 310,000 records and changes for 50,000) is ingested by a second child
process the way bench/ingest.py drives the bulk path (``ingest_file``, batches of
10,000 lines), then (unless --no-evaluate) the shipped rulebooks are published and every
subject evaluated, as `trustledger demo` does and an ingest into an evaluated database
does for the subjects it touched; every acknowledgement until that child ends is timed.
The listener spools (trustledger.monitoring.spool); with --no-spool its writer commits
into the ledger's database as before, for the comparison. Printed: the
worst and the p99 delay in each phase and their ratio; the target is a worst delay of at
most 1 s during the ingest.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from common import save

from trustledger.monitoring.codec import Framer, PacketError, build_data

START = datetime(2025, 6, 1, 0, 0, 0)
FILES = ("authorities.jsonl", "subjects.jsonl", "records.jsonl", "changes.jsonl")
BATCH = 10_000


# --- the ingest (run as a child: `--ingest-child URL DIR`) --------------------------------


def ingest_child(url: str, data: Path, evaluate: bool) -> None:
    from trustledger.app.rulebooks import in_law_order, shipped_paths
    from trustledger.catalogue import national_catalogue
    from trustledger.evaluate.state import evaluate_all
    from trustledger.ids import PersonKeyer
    from trustledger.intake import Intake, ingest_file
    from trustledger.ledger.store import open_store
    from trustledger.rulebook.publish import publish_rulebook

    keyer = PersonKeyer(b"bench person key, 32 bytes long!")
    store = open_store(url)
    catalogue = national_catalogue()
    intake = Intake(store, catalogue, keyer, today=date(2026, 11, 26))
    records = 0
    for name in FILES:
        report = ingest_file(intake, data / name, data / "rejects", batch=BATCH)
        if name in ("records.jsonl", "changes.jsonl"):
            records += report.counts.accepted
    if evaluate:
        # what `trustledger demo` does next, and an ingest into an evaluated database
        # (its re-evaluation of the subjects touched): one long write transaction
        with shipped_paths() as paths:
            for path in in_law_order(paths):
                publish_rulebook(store, path, catalogue)
        evaluate_all(store, catalogue, at_us=None, on=date(2026, 11, 26))
    store.close()
    print(records, flush=True)


# --- the loggers --------------------------------------------------------------------------


@dataclass
class Phase:
    name: str
    delays: list[float] = field(default_factory=list)

    def figures(self) -> dict[str, Any]:
        lat = sorted(self.delays)
        if not lat:
            raise AssertionError(f"no acknowledgement arrived during {self.name}")
        return {
            "acknowledgements": len(lat),
            "ack_p50_ms": round(1000 * statistics.median(lat), 1),
            "ack_p99_ms": round(1000 * lat[int(0.99 * (len(lat) - 1))], 1),
            "ack_max_ms": round(1000 * lat[-1], 1),
        }


@dataclass
class Run:
    phase: Phase
    stop: bool = False
    unanswered: int = 0


def packet(conn: int, seq: int) -> tuple[bytes, bytes]:
    moment = START + timedelta(seconds=seq)
    qn = f"{moment:%Y%m%d%H%M%S}{conn % 1000:03d}"
    frame = build_data(
        f"98{conn:012d}", "2011", moment,
        {"a34013": {"Rtd": 12.5, "Flag": "N"}, "a21026": {"Rtd": 35.0, "Flag": "N"}},
        qn=qn, flag=5,
    )  # fmt: skip
    return frame, qn.encode()


def ack_qn(frame: bytes) -> bytes:
    # replies are built as "##dddd" + "QN=…;ST=91;…": the QN is the first field
    return frame[9 : frame.index(b";", 9)]


async def logger(port: int, conn: int, interval: float, run: Run) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    framer = Framer()
    in_flight: dict[bytes, tuple[float, Phase]] = {}

    async def read_acks() -> None:
        while chunk := await reader.read(65536):
            now = time.perf_counter()
            for frame in framer.feed(chunk):
                if isinstance(frame, PacketError):
                    raise AssertionError(f"bad reply: {frame}")
                sent_at, phase = in_flight.pop(ack_qn(frame))
                phase.delays.append(now - sent_at)

    reading = asyncio.create_task(read_acks())
    seq = 0
    # loggers do not start in step
    await asyncio.sleep(interval * conn / 997 % interval)
    while not run.stop:
        frame, qn = packet(conn, seq)
        seq += 1
        in_flight[qn] = (time.perf_counter(), run.phase)
        writer.write(frame)
        await writer.drain()
        await asyncio.sleep(interval)
    deadline = time.monotonic() + 60
    while in_flight and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    run.unanswered += len(in_flight)
    writer.close()
    reading.cancel()


async def drive(
    port: int, args: argparse.Namespace, url: str, data: Path
) -> tuple[dict[str, Any], dict[str, Any], float, int, int]:
    baseline, during = Phase("baseline"), Phase("ingest")
    run_warm = Phase("warm-up")
    run = Run(run_warm)
    tasks = [asyncio.create_task(logger(port, c, args.interval, run)) for c in range(args.loggers)]
    await asyncio.sleep(1.0)
    run.phase = baseline
    await asyncio.sleep(args.baseline)
    run.phase = during
    start = time.perf_counter()
    evaluate = ["--evaluate"] if args.evaluate else []
    child = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--ingest-child", url, str(data), *evaluate,
        stdout=subprocess.PIPE,
    )  # fmt: skip
    out, _ = await child.communicate()
    seconds = time.perf_counter() - start
    if child.returncode != 0:
        raise SystemExit(f"ingest exited with {child.returncode}")
    run.stop = True
    await asyncio.gather(*tasks)
    if run.unanswered:
        raise SystemExit(f"{run.unanswered} packets never acknowledged")
    warm = len(run_warm.delays)
    return baseline.figures(), during.figures(), seconds, int(out.split()[-1]), warm


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
            raise SystemExit(f"listener exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise SystemExit(f"listener never listened on {port}") from None
            time.sleep(0.05)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--subjects", type=int, default=50_000)
    parser.add_argument("--loggers", type=int, default=50)
    parser.add_argument("--interval", type=float, default=0.1)
    parser.add_argument("--baseline", type=float, default=10.0)
    parser.add_argument(
        "--evaluate",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="publish the shipped rulebooks and evaluate every subject after the ingest",
    )
    parser.add_argument("--spool", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--ingest-child", nargs=2, metavar=("URL", "DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.ingest_child is not None:
        ingest_child(args.ingest_child[0], Path(args.ingest_child[1]), args.evaluate)
        return

    from trustledger.demo import write_demo_files
    from trustledger.ids import PersonKeyer
    from trustledger.ledger.store import open_store

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        data = work / "data"
        write_demo_files(data, seed=7, subjects=args.subjects, as_of=date(2026, 11, 1))
        url = f"sqlite:///{work / 'ledger.db'}"
        store = open_store(url)
        store.init(PersonKeyer(b"bench person key, 32 bytes long!").fingerprint())
        store.close()
        port = free_port()
        listen = [sys.executable, "-m", "trustledger", "monitor", "listen",
                  "--hj212", f"127.0.0.1:{port}", "--db", url]  # fmt: skip
        env = {**os.environ, "TRUSTLEDGER_HJ212_SPOOL": "1" if args.spool else "0"}
        proc = subprocess.Popen(listen, stdout=subprocess.DEVNULL, env=env)
        try:
            wait_for_port(proc, port)
            baseline, during, seconds, records, warm = asyncio.run(drive(port, args, url, data))
        finally:
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(timeout=60)
        if code != 0:
            raise SystemExit(f"listener exited with {code}")
        from trustledger.monitoring.store import MonitoringStore

        store = open_store(url)
        stored = MonitoringStore(store).packet_count()
        store.close()
        # every packet was unique and acknowledged once stored; spooled ones are moved in
        if stored != baseline["acknowledgements"] + during["acknowledgements"] + warm:
            raise SystemExit(f"{stored} stored, not every acknowledged packet")
    save(
        "hj212_ack_delay" + ("" if args.spool else "_no_spool"),
        {
            "database": "sqlite",
            "loggers": args.loggers,
            "packets_per_second": round(args.loggers / args.interval),
            "ingest_records": records,
            "ingest_then_evaluate": args.evaluate,
            "spool": args.spool,
            "ingest_seconds": round(seconds, 1),
            "baseline_no_ingest": baseline,
            "during_ingest": during,
            "worst_ratio_ingest_to_baseline": round(
                during["ack_max_ms"] / max(baseline["ack_max_ms"], 0.1), 1
            ),
            "p99_ratio_ingest_to_baseline": round(
                during["ack_p99_ms"] / max(baseline["ack_p99_ms"], 0.1), 1
            ),
            "target_worst_ms": 1000,
        },
    )


if __name__ == "__main__":
    main()
