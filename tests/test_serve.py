"""End to end over a real socket: `trustledger demo`, `keys create`, `serve`, then checks —
a debtor denied air travel with reasons, the court's end entry allowing within a second,
a green-listed enterprise getting its green channel, unknowns never allowed."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest


def cli(args: list[str], env: dict[str, str]) -> str:
    done = subprocess.run([sys.executable, "-m", "trustledger", *args], env=env,
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode in (0, 2), done.stderr
    return done.stdout


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    work = tmp_path_factory.mktemp("serve")
    env = {**os.environ, "TRUSTLEDGER_DB": f"sqlite:///{work / 'd.db'}",
           "TRUSTLEDGER_PERSON_KEY_FILE": str(work / "person.key")}  # fmt: skip
    cli(["demo", "--subjects", "400", "--dir", str(work / "demo")], env)
    key = cli(["keys", "create", "--name", "国家发展和改革委员会",
               "--actions", "air_travel,green_channel"], env).split()[0]  # fmt: skip
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "trustledger", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(150):
        try:
            urllib.request.urlopen(f"{base}/v1/health", timeout=1)
            break
        except OSError:
            time.sleep(0.1)
    try:
        yield {"base": base, "key": key, "env": env, "db": work / "d.db", "work": work}
    finally:
        server.terminate()
        server.wait(timeout=10)


def get(served: dict[str, Any], path: str, **params: str) -> tuple[int, dict[str, Any]]:
    url = f"{served['base']}{path}?{urllib.parse.urlencode(params)}"
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {served['key']}"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


# a state interval [start, end) holding today (the demo's calendar: Asia/Shanghai)
TODAY = datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat()
IN_FORCE = "{t}.{start} <= '" + TODAY + "' AND ({t}.{end} IS NULL OR {t}.{end} > '" + TODAY + "')"


def one(db: Path, sql: str) -> tuple[Any, ...]:
    with sqlite3.connect(db) as conn:
        row = conn.execute(sql).fetchone()
    assert row is not None, sql
    return tuple(row)


def test_a_debtor_is_denied_then_allowed_after_the_courts_end(served: dict[str, Any]) -> None:
    # a firm on the debtor list through exactly one ground-1 record of a court
    firm, record = one(served["db"], f"""
        SELECT m.subject_id, r.id FROM state_measures m
        JOIN records r ON r.subject_id = m.subject_id AND r.category = 'JUD-DEBTOR-G1'
                      AND r.status IN ('issued', 'corrected')
        WHERE m.measure_id = 'no-air-travel' AND m.subject_id NOT LIKE 'P%'
          AND {IN_FORCE.format(t="m", start="starts", end="ends")}
          AND (SELECT count(*) FROM records x WHERE x.subject_id = m.subject_id
               AND x.category LIKE 'JUD-DEBTOR-%' AND x.status IN ('issued', 'corrected')) = 1
        LIMIT 1""")  # fmt: skip
    status, body = get(served, "/v1/check", subject=firm, action="air_travel")
    assert (status, body["status"]) == (200, "deny")
    (reason,) = [r for r in body["reasons"] if r["measure"] == "no-air-travel"]
    assert reason["list"] == "dishonest-judgment-debtors"
    assert reason["rulebook"].startswith("cn-spc-dishonest-debtors@")
    assert record in reason["records"]

    authority, document, category, published = one(
        served["db"], f"SELECT authority_id, document_number, category, publication_date "
        f"FROM records WHERE id = '{record}'")  # fmt: skip
    end = {"op": "end", "authority": authority, "record": record,
           "document_number": f"{document}之结", "effective_date": published,
           "reason": "performed"}  # fmt: skip
    path = served["work"] / "end.jsonl"
    path.write_text(json.dumps(end, ensure_ascii=False) + "\n")
    cli(["ingest", "--rejects", str(served["work"]), str(path)], served["env"])
    ingested = time.monotonic()
    while time.monotonic() - ingested < 3:
        if get(served, "/v1/check", subject=firm, action="air_travel")[1]["status"] == "allow":
            break
        time.sleep(0.05)
    assert get(served, "/v1/check", subject=firm, action="air_travel")[1]["status"] == "allow"
    assert time.monotonic() - ingested <= 1.5  # one second, plus a busy machine's slack
    assert category == "JUD-DEBTOR-G1"


def test_a_green_listed_enterprise_gets_its_green_channel(served: dict[str, Any]) -> None:
    # an incentive in force today, for a firm on no black list today (a black list
    # anywhere withholds every incentive)
    (firm,) = one(
        served["db"],
        f"""SELECT subject_id FROM state_measures m
        WHERE kind = 'incentive' AND actions LIKE '%green_channel%'
          AND {IN_FORCE.format(t="m", start="starts", end="ends")}
          AND NOT EXISTS (SELECT 1 FROM state_lists b WHERE b.subject_id = m.subject_id
                          AND b.kind = 'black'
                          AND {IN_FORCE.format(t="b", start="since", end="until")})
        LIMIT 1""",
    )
    status, body = get(served, "/v1/check", subject=firm, action="green_channel")
    assert (status, body["status"]) == (200, "allow_with_incentives")


def test_unknowns_are_never_allowed(served: dict[str, Any]) -> None:
    assert get(served, "/v1/check", subject="914403001922038216",
               action="air_travel")[1]["status"] == "unknown"  # fmt: skip
    (firm,) = one(served["db"], "SELECT id FROM subjects WHERE kind = 'enterprise' LIMIT 1")
    assert get(served, "/v1/check", subject=firm, action="teleportation")[1]["status"] == "unknown"
