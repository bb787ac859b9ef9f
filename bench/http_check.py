"""HTTP checks over loopback with wrk: a single check against a bare endpoint of the same
stack (FastAPI under uvicorn, one worker) returning a constant, and batches of 1,000 pairs.

    python bench/http_check.py [--subjects 5000] [--seconds 10]

Needs `wrk` (Debian package wrk).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from common import save

from trustledger.access import create_key
from trustledger.catalogue import national_catalogue
from trustledger.demo import write_demo_files
from trustledger.evaluate.state import evaluate_all
from trustledger.ids import PersonKeyer
from trustledger.intake import Intake, ingest_file
from trustledger.ledger.store import open_store
from trustledger.rulebook.publish import publish_rulebook

ON = date(2026, 11, 26)
BARE = """
from fastapi import FastAPI
app = FastAPI()
@app.get("/v1/bare")
async def bare() -> dict[str, str]:
    return {"status": "allow"}
"""


def serve(args: list[str], env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", *args, "--port", str(port), "--no-access-log",
         "--log-level", "warning"], env=env)  # fmt: skip
    for _ in range(100):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/openapi.json", timeout=1)
            return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("the server did not start")


def wrk(
    url: str, seconds: int, headers: dict[str, str], script: Path | None = None
) -> dict[str, float]:
    cmd = ["wrk", "-t1", "-c32", f"-d{seconds}s", "--latency", url]
    for k, v in headers.items():
        cmd += ["-H", f"{k}: {v}"]
    if script is not None:
        cmd += ["-s", str(script)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout

    def ms(label: str) -> float:
        m = re.search(rf"{label}\s+([\d.]+)(us|ms|s)", out)
        assert m, out
        return float(m[1]) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m[2]]

    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    assert rps, out
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"requests_per_s": float(rps[1]), "p50_ms": ms("50%"), "p99_ms": ms("99%"),
            "non_2xx": float(non2xx[1]) if non2xx else 0.0}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--subjects", type=int, default=5_000)
    ap.add_argument("--seconds", type=int, default=10)
    args = ap.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("bench/http_check.py needs wrk (apt-get install wrk)")
    root = Path(__file__).parent.parent
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        keyer = PersonKeyer(b"bench person key, 32 bytes long!")
        db = f"sqlite:///{work / 'h.db'}"
        store = open_store(db)
        store.init(keyer.fingerprint())
        intake = Intake(store, national_catalogue(), keyer, today=ON)
        for path in write_demo_files(work, seed=7, subjects=args.subjects, as_of=ON):
            if path.suffix == ".jsonl":
                ingest_file(intake, path, work)
        for path in sorted((root / "trustledger" / "rulebooks_shipped").glob("*.yaml")):
            publish_rulebook(store, path, national_catalogue())
        evaluate_all(store, national_catalogue(), at_us=None, on=ON)
        key = create_key(store, "checker", "bench", ["air_travel"])
        firms = [r[0] for r in store.iter_rows("subjects") if r[1] == "enterprise"]
        store.close()
        (work / "bare_app.py").write_text(BARE)
        env = {**os.environ, "TRUSTLEDGER_DB": db, "PYTHONPATH": str(work)}
        auth = {"Authorization": f"Bearer {key}"}
        pairs = [{"subject": firms[i % len(firms)], "action": "air_travel"} for i in range(1000)]
        body = work / "batch.lua"
        body.write_text('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
                        f"wrk.body = [[{json.dumps({'pairs': pairs})}]]\n")  # fmt: skip

        app = serve(["--factory", "trustledger.api.app:create_app_from_env"], env, 8791)
        try:
            url = f"http://127.0.0.1:8791/v1/check?subject={firms[0]}&action=air_travel"
            # a deny carries reasons and costs more than the shared allow: say which was timed
            with urllib.request.urlopen(urllib.request.Request(url, headers=auth)) as response:
                answer = json.loads(response.read())["status"]
            single = wrk(url, args.seconds, auth)
            batch = wrk("http://127.0.0.1:8791/v1/check/batch", args.seconds, auth, body)
        finally:
            app.terminate()
            app.wait()
        bare_app = serve(["bare_app:app"], env, 8792)
        try:
            bare = wrk("http://127.0.0.1:8792/v1/bare", args.seconds, {})
        finally:
            bare_app.terminate()
            bare_app.wait()
    save("http_check", {
        "single_check": single,
        "single_check_answer": answer,
        "bare_endpoint": bare,
        "single_ratio_to_bare": round(single["requests_per_s"] / bare["requests_per_s"], 3),
        "batch_1000_pairs": batch,
        "batch_checks_per_s": round(batch["requests_per_s"] * 1000),
        "targets": "single ratio >= 0.7; batch >= 200,000 checks/s",
    })  # fmt: skip


if __name__ == "__main__":
    main()
