"""kill -9 in the middle of a bulk file: nothing committed is lost, a rerun finishes the job."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
from builders import authorities, issue

from trustledger.ledger.store import open_store
from trustledger.ledger.verify import verify

LINES = 30_000


def _run(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "trustledger", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _state(pid: str) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return "gone"


def test_kill_during_ingest_then_rerun(db_url: str, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "TRUSTLEDGER_DB": db_url,
        "TRUSTLEDGER_PERSON_KEY_FILE": str(tmp_path / "person.key"),
        "TRUSTLEDGER_BATCH_SIZE": "500",
    }
    assert _run(["init", "--new-person-key"], env).wait() == 0
    path = tmp_path / "big.jsonl"
    with path.open("wb") as f:
        for line in authorities():
            f.write(orjson.dumps(line) + b"\n")
        for i in range(LINES):
            f.write(orjson.dumps(issue(document_number=f"深税稽罚〔2024〕{i}号")) + b"\n")

    proc = _run(["ingest", "--rejects", str(tmp_path), str(path)], env)
    store = open_store(db_url)
    deadline = time.monotonic() + 60
    while store.size() < 5_000 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    # the file is big enough for a reader process; it must not outlive its parent
    readers = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
    assert readers, "expected a reader process for a file of this size"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    for pid in readers:
        for _ in range(100):
            if not Path(f"/proc/{pid}").exists() or "Z" in _state(pid):
                break
            time.sleep(0.05)
        else:
            raise AssertionError(f"reader process {pid} outlived its killed parent")
    stored = store.size()
    assert 0 < stored < 3 + 1 + LINES, "the kill should land mid-file"
    # whatever was committed is whole: the chain, the tree heads and the projections agree
    assert verify(store).ok

    rerun = _run(["ingest", "--json", "--rejects", str(tmp_path), str(path)], env)
    out, err = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, err.decode()
    (summary,) = orjson.loads(out)
    assert summary["rejected"] == 0
    assert summary["accepted"] + summary["duplicate"] == 3 + LINES
    assert store.size() == 3 + 1 + LINES  # authorities, one subject, every record once
    assert sum(1 for _ in store.iter_rows("records")) == LINES
    assert verify(store).ok
    store.close()
