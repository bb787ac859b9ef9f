"""Replica follow: a record ingested at the writer, then both check replicas answering the
new decision — against a bare PostgreSQL NOTIFY → LISTEN round trip in the same run.

    python bench/replica_follow.py [--subjects 20000] [--writes 40]

A PostgreSQL store (a fresh schema) holds the demo, evaluated; two `trustledger serve
--replica` processes follow it. Each write is a new dishonest judgment debtor taken in and
evaluated as an ingest does (Intake + refresh_if_evaluated); two threads poll one replica
each over a kept-alive connection until it answers deny. Reported, median and p99:

- ``write_ms``: the writer's own time (record committed, subject re-evaluated);
- ``follow_ms``: from the evaluation's commit to both replicas answering deny;
- ``notify_ms``: the bare baseline, a NOTIFY committed until a LISTEN connection has it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import date
from pathlib import Path
from socket import socket

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).parent))

from common import pg_schema, save

from trustledger.access import create_key
from trustledger.catalogue import national_catalogue
from trustledger.demo import write_demo_files
from trustledger.evaluate.state import evaluate_all, refresh_if_evaluated
from trustledger.ids import PersonKeyer, org_code_check_char, uscc_check_char
from trustledger.intake import Intake, ingest_file
from trustledger.ledger.store import open_store
from trustledger.rulebook.publish import publish_rulebook

ON = date(2026, 11, 26)
KEY = b"bench person key, 32 bytes long!"
COURT_CATEGORY = "JUD-DEBTOR-G1"
POLL_S = 0.002


def new_firm(n: int) -> str:
    org8 = f"MB{n:06d}"
    body = "91" + "440305" + org8 + org_code_check_char(org8)
    return body + uscc_check_char(body)


def free_port() -> int:
    with socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_replica(url: str, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "trustledger", "serve", "--replica", "--port", str(port),
         "--db", url], env=env, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            urllib.request.urlopen(f"{base}/openapi.json", timeout=1)
            return proc, base
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("a replica did not start")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summary(values: list[float]) -> dict[str, float]:
    return {"median": round(statistics.median(values), 2),
            "p99": round(percentile(values, 0.99), 2),
            "max": round(max(values), 2)}  # fmt: skip


def notify_round_trips(url: str, n: int) -> list[float]:
    """A committed NOTIFY until the listening connection has it, in ms."""
    times = []
    with psycopg.connect(url, autocommit=True) as listener, \
            psycopg.connect(url, autocommit=True) as sender:  # fmt: skip
        listener.execute("LISTEN bench_follow")
        for i in range(n):
            started = time.perf_counter()
            sender.execute(f"NOTIFY bench_follow, '{i}'")
            got = list(listener.notifies(timeout=5, stop_after=1))
            assert got, "a notification was lost"
            times.append((time.perf_counter() - started) * 1000)
    return times


def poll(
    client: httpx.Client, params: dict[str, str], ready: threading.Barrier, seen: list[float]
) -> None:
    """Ask until the replica answers deny; when it first did goes to ``seen``."""
    ready.wait()
    while client.get("/v1/check", params=params).json()["status"] != "deny":
        # a pause between asks: a replica asked without one spends its core answering
        # them, not following (the resolution is this pause plus one answer)
        time.sleep(POLL_S)
    seen.append(time.perf_counter())


def debtor_line(template: dict[str, object], firm: str, n: int) -> dict[str, object]:
    return {**template, "subject": firm, "subject_name": f"深圳市追随测试{n}有限公司",
            "document_number": f"(2026)粤0305执{90000 + n}号",
            "decision_date": "2026-10-01", "publication_date": "2026-10-02",
            "amount_cny": None}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--subjects", type=int, default=20_000)
    ap.add_argument("--writes", type=int, default=40)
    args = ap.parse_args()
    root = Path(__file__).parent.parent
    import orjson

    with tempfile.TemporaryDirectory() as tmp, pg_schema() as url:
        work = Path(tmp)
        keyer = PersonKeyer(KEY)
        (work / "person.key").write_text(KEY.hex())
        os.chmod(work / "person.key", 0o600)
        store = open_store(url)
        store.init(keyer.fingerprint())
        catalogue = national_catalogue()
        intake = Intake(store, catalogue, keyer, today=ON)
        template: dict[str, object] | None = None
        for path in write_demo_files(work, seed=7, subjects=args.subjects, as_of=ON):
            if path.suffix == ".jsonl":
                ingest_file(intake, path, work)
            if path.name == "records.jsonl":
                with path.open("rb") as lines:
                    for raw in lines:
                        line = orjson.loads(raw)
                        if line.get("category") == COURT_CATEGORY:
                            template = line
                            break
        assert template is not None, "the demo holds no judgment debtor to copy"
        for path in sorted((root / "trustledger" / "rulebooks_shipped").glob("*.yaml")):
            publish_rulebook(store, path, catalogue)
        evaluate_all(store, catalogue, at_us=None, on=ON)
        key = create_key(store, "checker", "bench", ["air_travel"])
        env = {**os.environ, "TRUSTLEDGER_PERSON_KEY_FILE": str(work / "person.key")}
        replicas = [start_replica(url, env) for _ in range(2)]
        clients = [httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"})
                   for _, base in replicas]  # fmt: skip
        writes, follows = [], []
        try:
            for n in range(args.writes):
                firm = new_firm(n)
                params = {"subject": firm, "action": "air_travel", "on": ON.isoformat()}
                for client in clients:
                    assert client.get("/v1/check", params=params).json()["status"] == "unknown"
                seen: list[float] = []
                ready = threading.Barrier(len(clients) + 1)
                pollers = [threading.Thread(target=poll, args=(c, params, ready, seen))
                           for c in clients]  # fmt: skip
                for t in pollers:
                    t.start()
                ready.wait()
                started = time.perf_counter()
                outcome = intake.submit_many([debtor_line(template, firm, n)])
                assert [r.outcome for r in outcome] == ["accepted"], outcome
                refresh_if_evaluated(store, catalogue, {firm}, on=ON)
                committed = time.perf_counter()
                for t in pollers:
                    t.join(30)
                assert len(seen) == len(clients), "a replica never answered the new decision"
                writes.append((committed - started) * 1000)
                follows.append((max(seen) - committed) * 1000)
        finally:
            for client in clients:
                client.close()
            for proc, _ in replicas:
                proc.terminate()
                proc.wait()
            store.close()
        bare = notify_round_trips(url, args.writes)
    follow, notify = summary(follows), summary(bare)
    save("replica_follow", {
        "subjects": args.subjects,
        "writes": args.writes,
        "replicas": 2,
        "write_ms": summary(writes),
        "follow_ms": follow,
        "notify_ms": notify,
        "follow_median_ratio_to_notify": round(follow["median"] / max(notify["median"], 1e-6), 1),
        "what": "ingest + evaluate at the writer, then both replicas answering deny",
    })  # fmt: skip


if __name__ == "__main__":
    main()
