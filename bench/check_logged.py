"""Check latency with the access log on (every check logged, person checks with their
purpose), against the same checks with the access log off, in the same run: in process
(the API app through Starlette's TestClient) and over HTTP (uvicorn on 127.0.0.1, one
worker, one keep-alive connection). Also the log written before each answer (interval 0).

    python bench/check_logged.py [--subjects 2000] [--checks 5000]

Target: logged / unlogged throughput >= 0.8 (issue 10).
"""

from __future__ import annotations

import argparse
import http.client
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import date
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from common import save
from fastapi.testclient import TestClient

from trustledger.access import create_key
from trustledger.access.log import read_access_log, verify_access_log
from trustledger.api import create_app
from trustledger.catalogue import national_catalogue
from trustledger.demo import write_demo_files
from trustledger.evaluate.state import evaluate_all
from trustledger.ids import PersonKeyer
from trustledger.intake import Intake, ingest_file
from trustledger.ledger.store import open_store
from trustledger.rulebook.publish import publish_rulebook
from trustledger.settings import Settings

ON = date(2026, 11, 26)
WRITER: list[float] = []  # rows/s the access log's writer chained and stored
FACTORY = """
import os
from trustledger.api import create_app
from trustledger.settings import Settings
def app():
    return create_app(Settings.from_env(), access_log=os.environ["BENCH_LOG"] == "1")
"""


def build(work: Path, subjects: int) -> tuple[str, str, list[str]]:
    """A demo ledger, evaluated; a checker key; the paths of person and firm checks."""
    keyer = PersonKeyer(b"bench person key, 32 bytes long!")
    db = f"sqlite:///{work / 'b.db'}"
    store = open_store(db)
    store.init(keyer.fingerprint())
    intake = Intake(store, national_catalogue(), keyer, today=ON)
    for path in write_demo_files(work, seed=7, subjects=subjects, as_of=ON):
        if path.suffix == ".jsonl":
            ingest_file(intake, path, work)
    root = Path(__file__).parent.parent
    for path in sorted((root / "trustledger" / "rulebooks_shipped").glob("*.yaml")):
        publish_rulebook(store, path, national_catalogue())
    evaluate_all(store, national_catalogue(), at_us=None, on=ON)
    key = create_key(store, "checker", "bench", ["air_travel"])
    rows = list(store.iter_rows("subjects"))
    store.close()
    persons = [r[0] for r in rows if r[1] == "person"]
    firms = [r[0] for r in rows if r[1] != "person"]
    # half persons (logged with their purpose), half organisations
    paths = []
    for i in range(max(len(persons), 1) * 2):
        if i % 2 == 0 and persons:
            paths.append(f"/v1/check?subject={persons[(i // 2) % len(persons)]}"
                         "&action=air_travel&purpose=boarding")  # fmt: skip
        else:
            paths.append(f"/v1/check?subject={firms[i % len(firms)]}&action=air_travel")
    return db, key, paths


def in_process(
    settings: Settings, key: str, paths: list[str], n: int, **kw: Any
) -> tuple[float, float]:
    """Checks per second through the app in process (TestClient), and through the check
    path alone (the index's answer, a checker's view of a person, the log's append): the
    best of three runs each."""
    from trustledger.app import access

    auth = {"Authorization": f"Bearer {key}"}
    with TestClient(create_app(settings, **kw)) as client:
        for path in paths[:200]:  # warm: caches, the key, the index
            assert client.get(path, headers=auth).status_code == 200
        best = 0.0
        for _ in range(3):
            start = time.perf_counter()
            for i in range(n):
                client.get(paths[i % len(paths)], headers=auth)
            best = max(best, n / (time.perf_counter() - start))
        state = client.app.state.server  # type: ignore[attr-defined]
        principal = state.authenticate(key)
        pairs = [(p.split("subject=")[1].split("&")[0], "purpose=" in p) for p in paths]
        # the request path: the writer's thread is kept out of the timed loop (its cost is
        # measured below, as the rows it writes per second)
        recorder = access.AccessRecorder(state.ctx.store, state.lock, interval=3600.0,
                                         enabled=kw.get("access_log", True))  # fmt: skip
        core, m = 0.0, n * 20
        for _ in range(3):
            start = time.perf_counter()
            for i in range(m):
                sid, person = pairs[i % len(pairs)]
                index = state.checks.current()
                body = {"subject": sid, "action": "air_travel",
                        **index.check(sid, "air_travel", ON).to_json()}  # fmt: skip
                if person:
                    body = access.for_checker(body, True)
                recorder.add(principal, "check", subject_id=sid,
                             purpose="boarding" if person else None,
                             detail={"action": "air_travel", "status": body["status"]})  # fmt: skip
            core = max(core, m / (time.perf_counter() - start))
        pending = len(recorder._pending)
        start = time.perf_counter()
        recorder.close()
        write_s = time.perf_counter() - start
    rows_per_s = pending / write_s if pending else 0.0
    WRITER.append(rows_per_s)
    return best, core


def serve(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "bench_factory:app", "--port", str(port),
         "--no-access-log", "--log-level", "warning"], env=env)  # fmt: skip
    for _ in range(150):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/health", timeout=1)
            return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("the server did not start")


def over_http(
    env: dict[str, str], port: int, key: str, paths: list[str], n: int
) -> dict[str, float]:
    proc = serve(env, port)
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port)
        auth = {"Authorization": f"Bearer {key}"}

        def get(path: str) -> float:
            start = time.perf_counter()
            conn.request("GET", path, headers=auth)
            response = conn.getresponse()
            response.read()
            assert response.status == 200, response.status
            return time.perf_counter() - start

        for path in paths[:200]:
            get(path)
        start = time.perf_counter()
        times = [get(paths[i % len(paths)]) for i in range(n)]
        seconds = time.perf_counter() - start
        conn.close()
    finally:
        proc.terminate()
        proc.wait()
    times.sort()
    return {"checks_per_s": round(n / seconds, 1),
            "p50_ms": round(statistics.median(times) * 1000, 3),
            "p99_ms": round(times[int(len(times) * 0.99)] * 1000, 3)}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--subjects", type=int, default=2_000)
    ap.add_argument("--checks", type=int, default=5_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        db, key, paths = build(work, args.subjects)
        settings = Settings(db_url=db)
        n = args.checks
        off, core_off = in_process(settings, key, paths, n, access_log=False)
        on, core_on = in_process(settings, key, paths, n, access_log=True)
        sync, _ = in_process(settings, key, paths, n // 10, access_log=True, log_interval=0.0)
        store = open_store(db)
        logged = len(read_access_log(store, limit=10_000_000))
        persons_logged = len([r for r in read_access_log(store, limit=10_000_000)
                              if r.subject_id and r.subject_id.startswith("P")])  # fmt: skip
        intact = verify_access_log(store) == []
        store.close()
        (work / "bench_factory.py").write_text(FACTORY)
        env = {**os.environ, "TRUSTLEDGER_DB": db, "PYTHONPATH": str(work)}
        # alternated, the best of two each: the machine is shared
        runs: dict[str, list[dict[str, float]]] = {"0": [], "1": []}
        for port in (8793, 8794):
            for log in ("0", "1"):
                runs[log].append(over_http({**env, "BENCH_LOG": log}, port, key, paths, n))
        http_off, http_on = (max(runs[log], key=lambda r: r["checks_per_s"]) for log in "01")
    save("check_logged", {
        "subjects": args.subjects,
        "checks_per_run": n,
        "person_share": 0.5,
        "in_process_checks_per_s": {"log_off": round(off), "log_on": round(on),
                                    "log_on_written_before_each_answer": round(sync)},
        "in_process_ratio": round(on / off, 3),
        "check_path_checks_per_s": {"log_off": round(core_off), "log_on": round(core_on)},
        "check_path_ratio": round(core_on / core_off, 3),
        "log_writer_rows_per_s": round(max(WRITER)),
        "in_process_ratio_written_before_each_answer": round(sync / off, 3),
        "http": {"log_off": http_off, "log_on": http_on},
        "http_ratio": round(http_on["checks_per_s"] / http_off["checks_per_s"], 3),
        "rows_logged_in_process": logged,
        "person_rows_logged_in_process": persons_logged,
        "access_log_intact": intact,
        "target": "ratio >= 0.8",
    })  # fmt: skip


if __name__ == "__main__":
    main()
