"""Objection upheld → check answer changed: how long from the reviewer's decision until
`GET /v1/check` answers allow, through the HTTP API in process with the server's default
follow interval (1 s), for a number of judgment debtors each objecting in turn. Baseline in
the same run: one check's round trip.

    python bench/objection_follow.py [--firms 20]
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))

from builders import TAX, authorities, debtor, uscc
from common import save
from fastapi.testclient import TestClient

from trustledger.access import create_key
from trustledger.api import create_app
from trustledger.catalogue import national_catalogue
from trustledger.evaluate.state import evaluate_all
from trustledger.ids import PersonKeyer
from trustledger.intake import Intake
from trustledger.ledger.store import open_store
from trustledger.rulebook.publish import publish_rulebook
from trustledger.settings import Settings

KEY = bytes(range(32))
SPC = Path(__file__).parent.parent / "trustledger/rulebooks_shipped/cn-spc-dishonest-debtors.yaml"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--firms", type=int, default=20)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="trustledger-bench-"))
    url = f"sqlite:///{work / 'ledger.db'}"
    keyer = PersonKeyer(KEY)
    store = open_store(url)
    store.init(keyer.fingerprint())
    today = Settings().today()
    firms = [uscc("91", "440305", f"MB{n:06d}") for n in range(args.firms)]
    lines = [*authorities()] + [
        debtor(subject=f, subject_name=f"深圳市测试{n}有限公司",
               document_number=f"(2024)粤0305执{n}号")
        for n, f in enumerate(firms)
    ]  # fmt: skip
    intake = Intake(store, national_catalogue(), keyer, today=today)
    assert all(r.outcome == "accepted" for r in intake.submit_many(lines))
    publish_rulebook(store, SPC, national_catalogue())
    evaluate_all(store, national_catalogue(), at_us=None, on=today)
    subject_keys = {f: create_key(store, "subject", f"firm {n}", subject=f)
                    for n, f in enumerate(firms)}  # fmt: skip
    reviewer = {"Authorization": f"Bearer {create_key(store, 'reviewer', 'r', authority=TAX)}"}
    checker = {"Authorization": f"Bearer {create_key(store, 'checker', 'c', ['air_travel'])}"}
    records = {f: next(r.id for r in store.rows_where("records", "subject_id", [f]))
               for f in firms}  # fmt: skip
    store.close()
    key_file = work / "person.key"
    key_file.write_text(KEY.hex() + "\n")
    proof = hashlib.sha256(b"proof").hexdigest()
    follow: list[float] = []
    checks: list[float] = []
    with TestClient(create_app(Settings(db_url=url, person_key_file=key_file))) as client:

        def status(firm: str) -> str:
            t0 = time.perf_counter()
            answer = client.get("/v1/check", headers=checker,
                                params={"subject": firm, "action": "air_travel"})  # fmt: skip
            checks.append(time.perf_counter() - t0)
            found: str = answer.json()["status"]
            return found

        for firm in firms:
            assert status(firm) == "deny"
            filed = client.post(
                "/v1/objections",
                json={
                    "record": records[firm],
                    "ground": "content",
                    "reasons": "已履行",
                    "evidence": [proof],
                },
                headers={"Authorization": f"Bearer {subject_keys[firm]}"},
            )
            assert filed.status_code == 201, filed.text
            t0 = time.perf_counter()
            decided = client.post(f"/v1/objections/{filed.json()['id']}/decision",
                                  headers=reviewer,
                                  json={"outcome": "upheld", "reasons": "属实"})  # fmt: skip
            assert decided.status_code == 200, decided.text
            while status(firm) != "allow":
                assert time.perf_counter() - t0 < 10, "the check never changed"
                time.sleep(0.005)
            follow.append(time.perf_counter() - t0)
    median_ms = statistics.median(follow) * 1000
    check_ms = statistics.median(checks) * 1000
    save(
        "objection_follow",
        {
            "firms": args.firms,
            "decision_to_changed_check_median_ms": round(median_ms, 1),
            "decision_to_changed_check_max_ms": round(max(follow) * 1000, 1),
            "one_check_round_trip_median_ms": round(check_ms, 2),
            "ratio_to_one_check": round(median_ms / check_ms, 1),
            "target": "median <= 1000 ms including the index follow",
        },
    )


if __name__ == "__main__":
    main()
