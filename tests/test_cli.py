"""The command line end to end: init, ingest, verify, head, proofs, rebuild, exit codes."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import orjson
import pytest
from builders import authorities, debtor, issue
from test_merkle import ref_verify_consistency, ref_verify_inclusion
from typer.testing import CliRunner

from trustledger.cli import app

runner = CliRunner()


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TRUSTLEDGER_DB", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("TRUSTLEDGER_PERSON_KEY_FILE", str(tmp_path / "person.key"))
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["init", "--new-person-key"])
    assert result.exit_code == 0, result.output
    return tmp_path


def write_jsonl(path: Path, lines: list[object]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(line) + b"\n" for line in lines))
    return path


def test_ingest_exit_codes_and_rejects(env: Path) -> None:
    good = write_jsonl(env / "good.jsonl", [*authorities(), issue(), debtor()])
    result = runner.invoke(app, ["ingest", "--json", str(good)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)[0]["accepted"] == 5
    bad = write_jsonl(env / "bad.jsonl", [issue(document_number="n2"), issue(category="NOPE")])
    result = runner.invoke(app, ["ingest", "--json", "--rejects", str(env / "rj"), str(bad)])
    assert result.exit_code == 2
    summary = json.loads(result.stdout)[0]
    assert (summary["accepted"], summary["rejected"]) == (1, 1)
    reject = json.loads(Path(summary["rejects_file"]).read_text())
    assert reject["line"] == 2 and "unknown category 'NOPE'" in reject["reason"]
    # a rerun of the good file is all duplicates, and that is success
    result = runner.invoke(app, ["ingest", "--json", str(good)])
    assert result.exit_code == 0 and json.loads(result.stdout)[0]["duplicate"] == 5


def test_verify_head_proofs_and_tampering(env: Path) -> None:
    lines = [*authorities()] + [issue(document_number=f"D{i}") for i in range(30)]
    runner.invoke(app, ["ingest", str(write_jsonl(env / "a.jsonl", lines))])
    assert runner.invoke(app, ["verify"]).exit_code == 0
    head = json.loads(runner.invoke(app, ["ledger", "head", "--json"]).stdout)
    assert head["size"] == 34  # 3 authorities, 1 subject, 30 records

    proof = json.loads(runner.invoke(app, ["ledger", "proof", "7", "--json"]).stdout)
    assert proof["root"] == head["root"]
    assert ref_verify_inclusion(
        bytes.fromhex(proof["leaf_hash"]),
        7,
        proof["tree_size"],
        [bytes.fromhex(p) for p in proof["proof"]],
        bytes.fromhex(proof["root"]),
    )
    # the leaf hash is the hash of the printed entry, so a reader can check the content too
    from hashlib import sha256

    assert sha256(b"\x00" + proof["entry"].encode()).hexdigest() == proof["leaf_hash"]

    cons = json.loads(runner.invoke(app, ["ledger", "consistency", "10", "--json"]).stdout)
    assert ref_verify_consistency(
        10,
        34,
        bytes.fromhex(cons["old_root"]),
        bytes.fromhex(cons["new_root"]),
        [bytes.fromhex(p) for p in cons["proof"]],
    )
    assert runner.invoke(app, ["ledger", "proof", "99"]).exit_code == 2
    # plain output prints the entry verbatim: brackets are data, not markup
    plain = runner.invoke(app, ["ledger", "proof", "3"]).stdout
    assert '"former_names":[]' in plain

    with sqlite3.connect(env / "cli.db") as conn:
        conn.execute(
            "UPDATE entries SET payload = CAST(replace(CAST(payload AS TEXT), "
            "'D12', 'D13') AS BLOB) WHERE seq = 16"
        )
    result = runner.invoke(app, ["verify", "--json"])
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["first_bad_seq"] == 16 and "was altered" in report["problems"][0]["problem"]


def test_rebuild_restores_projections(env: Path) -> None:
    runner.invoke(app, ["ingest", str(write_jsonl(env / "a.jsonl", [*authorities(), issue()]))])
    with sqlite3.connect(env / "cli.db") as conn:
        conn.execute("DELETE FROM records")
    assert runner.invoke(app, ["verify"]).exit_code == 1
    result = runner.invoke(app, ["rebuild"])
    assert result.exit_code == 0 and "1 records" in result.stdout
    assert runner.invoke(app, ["verify"]).exit_code == 0


def test_uninitialised_database(tmp_path: Path) -> None:
    result = runner.invoke(app, ["verify", "--db", f"sqlite:///{tmp_path / 'none.db'}"])
    assert result.exit_code == 2
    assert "not a trustledger database" in result.output


def test_bad_url() -> None:
    result = runner.invoke(app, ["verify", "--db", "mysql://x/y"])
    assert result.exit_code == 2 and "unsupported database URL" in result.output


def test_demo_small(env: Path) -> None:
    result = runner.invoke(app, ["demo", "--subjects", "300", "--dir", str(env / "demo")])
    assert result.exit_code == 0, result.output
    assert "records.jsonl" in result.stdout
    assert runner.invoke(app, ["verify"]).exit_code == 0
    # screening finds a demo firm by its name, and only ever proposes review
    with sqlite3.connect(env / "cli.db") as conn:
        firm, name = conn.execute(
            "SELECT id, name FROM subjects WHERE kind = 'enterprise' ORDER BY id LIMIT 1"
        ).fetchone()
    screened = json.loads(runner.invoke(app, ["screen", name, "--json"]).stdout)
    assert screened[0]["subject_id"] == firm
    assert {c["outcome"] for c in screened} == {"review"}
    # and the check service answers from the evaluated state
    checked = runner.invoke(app, ["check", firm, "air_travel", "--json"])
    assert checked.exit_code in (0, 3) and json.loads(checked.stdout)["status"] in ("allow", "deny")
    assert runner.invoke(app, ["check", firm, "teleportation"]).exit_code == 4
    # the demo plants: one exceedance record waits for a person; it counts toward nothing
    assert "1 exceedance record(s) awaiting a person's confirmation" in result.stdout
    assert "checker API key (shown once, only its hash is stored): tlk_" in result.stdout
    with sqlite3.connect(env / "cli.db") as conn:
        ((pending,),) = conn.execute(
            "SELECT count(*) FROM records WHERE confirmation = 'pending'"
        ).fetchall()
        notices = conn.execute("SELECT kind, pollutant FROM monitor_notices").fetchall()
    assert pending == 1 and notices == [("flatline", "a21002")]


def test_publish_and_profile_as_of(env: Path) -> None:
    from builders import COURT, FIRM

    rulebooks = Path(__file__).parent.parent / "trustledger" / "rulebooks_shipped"
    result = runner.invoke(
        app, ["rulebook", "publish", *map(str, sorted(rulebooks.glob("*.yaml")))]
    )
    assert result.exit_code == 0, result.output
    lines = [*authorities(), debtor(publication_date="2024-03-05", decision_date="2024-03-01")]
    runner.invoke(app, ["ingest", str(write_jsonl(env / "d.jsonl", lines))])
    args = ["profile", FIRM, "--rulebook", "cn-spc-dishonest-debtors", "--json"]
    shown = json.loads(runner.invoke(app, args).stdout)
    # both time axes are printed: what was known when, and the day judged on
    assert shown["subject"] == FIRM and shown["known_at"] and shown["on"]
    (before,) = shown["profiles"]
    assert [m["list_id"] for m in before["lists"]] == ["dishonest-judgment-debtors"]
    assert any(m["measure_id"] == "no-air-travel" for m in before["measures"])

    # the court's end entry: the debtor comes off the list …
    end = {"op": "end", "authority": COURT, "subject": FIRM,
           "category": "JUD-DEBTOR-G1", "target_document_number": "(2024)粤0305执1234号",
           "document_number": "(2024)粤0305执1234号之一", "effective_date": "2024-09-01",
           "reason": "performed"}  # fmt: skip
    head = json.loads(runner.invoke(app, ["ledger", "head", "--json"]).stdout)
    runner.invoke(app, ["ingest", str(write_jsonl(env / "e.jsonl", [end]))])
    (after,) = json.loads(runner.invoke(app, args).stdout)["profiles"]
    assert after["lists"] == [] and after["measures"] == []
    # … but the profile as of before that entry is unchanged
    from datetime import UTC, datetime, timedelta

    t = (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=head["time_us"])).isoformat()
    (then,) = json.loads(runner.invoke(app, [*args, "--known-at", t]).stdout)["profiles"]
    assert then["lists"] == before["lists"] and then["measures"] == before["measures"]

    plain = runner.invoke(app, ["profile", FIRM]).stdout
    assert "cn-spc-dishonest-debtors" in plain
    assert runner.invoke(app, ["profile", FIRM, "--known-at", "not-a-date"]).exit_code == 2
    assert runner.invoke(app, ["profile", FIRM, "--on", "2024-13-01"]).exit_code == 2
    assert runner.invoke(app, ["profile", "914403001922038216"]).exit_code == 2  # unknown
    assert runner.invoke(app, [*args[:3], "no-such-rulebook"]).exit_code == 2


RECORD_ID = re.compile(r"\bR[0-9a-f]{24}\b")


def test_profile_reads_as_people_read_it(env: Path) -> None:
    from builders import COURT, FIRM

    runner.invoke(app, ["rulebook", "publish", "--shipped"])
    lines = [*authorities(), debtor(publication_date="2024-03-05", decision_date="2024-03-01"),
             issue(decision_date="2024-05-06", publication_date="2024-05-08")]  # fmt: skip
    assert runner.invoke(app, ["ingest", str(write_jsonl(env / "d.jsonl", lines))]).exit_code == 0
    plain = runner.invoke(app, ["profile", FIRM, "--on", "2024-06-01"])
    assert plain.exit_code == 0, plain.output
    text = plain.stdout
    # who: name, kind, division by name, the USCC decoded
    assert "深圳市华韵科技有限公司 — enterprise, " + FIRM in text
    assert "广东省 · 深圳市 · 南山区" in text and "market regulation" in text
    # each record: title, authority, document, dates, status
    assert "Dishonest judgment debtor — able to perform but refuses" in text
    assert "Tax administrative penalty (general)" in text
    assert "深圳市南山区人民法院" in text and "国家税务总局深圳市税务局" in text
    assert "(2024)粤0305执1234号" in text and "decided 2024-03-01, published 2024-03-05" in text
    assert "IN FORCE: publicity period until" in text
    # the standing: the list, its records by document number, measures by title, and why
    assert "black list 失信被执行人名单 (dishonest-judgment-debtors): EFFECTIVE" in text
    assert "      records: (2024)粤0305执1234号" in text
    assert "Air travel (乘坐飞机)" in text and "applied by 中国民用航空局" in text
    assert "  why:" in text
    assert not RECORD_ID.search(text), "records are named by document, not by internal id"
    # both time axes are printed
    assert "known at " in text and "(now), on 2024-06-01" in text
    # before its publication day the record is pending, and nothing is listed
    early = runner.invoke(app, ["profile", FIRM, "--on", "2024-03-02"]).stdout
    listed = "black list 失信被执行人名单 (dishonest-judgment-debtors): EFFECTIVE"
    assert "PENDING: to be published on 2024-03-05" in early and listed not in early

    # the court's end: the record is ended, with its date and reason; known before, in force
    head = json.loads(runner.invoke(app, ["ledger", "head", "--json"]).stdout)
    end = {"op": "end", "authority": COURT, "subject": FIRM,
           "category": "JUD-DEBTOR-G1", "target_document_number": "(2024)粤0305执1234号",
           "document_number": "(2024)粤0305执1234号之一", "effective_date": "2024-09-01",
           "reason": "performed"}  # fmt: skip
    runner.invoke(app, ["ingest", str(write_jsonl(env / "e.jsonl", [end]))])
    after = runner.invoke(app, ["profile", FIRM, "--on", "2024-10-01"]).stdout
    assert "ENDED: ended on 2024-09-01: performed" in after and listed not in after
    from datetime import UTC, datetime, timedelta

    t = (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=head["time_us"])).isoformat()
    then = runner.invoke(app, ["profile", FIRM, "--on", "2024-10-01", "--known-at", t]).stdout
    assert "ENDED: ended on 2024-09-01" not in then and listed in then
    (known,) = [line for line in then.splitlines() if line.startswith("known at ")]
    assert "(now)" not in known and known.endswith(", on 2024-10-01")

    # --rulebook: only that rulebook's standing
    one = runner.invoke(app, ["profile", FIRM, "--rulebook", "cn-spc-dishonest-debtors"]).stdout
    assert [line for line in one.splitlines() if line.startswith("== ")] == [
        "== List of dishonest judgment debtors and restrictions on high consumption "
        "(cn-spc-dishonest-debtors@2026.2)"
    ]


def test_profile_json_keeps_its_fields_and_adds_who_and_records(env: Path) -> None:
    from builders import FIRM

    runner.invoke(app, ["rulebook", "publish", "--shipped"])
    lines = [*authorities(), debtor(publication_date="2024-03-05", decision_date="2024-03-01")]
    runner.invoke(app, ["ingest", str(write_jsonl(env / "d.jsonl", lines))])
    args = ["profile", FIRM, "--rulebook", "cn-spc-dishonest-debtors", "--json"]
    shown = json.loads(runner.invoke(app, [*args, "--on", "2024-06-01"]).stdout)
    assert {"subject", "known_at", "on", "profiles"} <= set(shown)
    (p,) = shown["profiles"]
    assert {"subject_id", "rulebook", "on", "applicable", "records", "score", "grade", "lists",
            "measures", "explanation", "history", "measure_history"} <= set(p)  # fmt: skip
    assert p["records"][0]["standing"] == "in force"
    assert shown["identity"]["name"] == "深圳市华韵科技有限公司"
    assert shown["identity"]["division_names"] == ["广东省", "深圳市", "南山区"]
    (record,) = shown["records"]
    assert record["authority"] == "深圳市南山区人民法院" and record["status"] == "in force"
    assert record["category_title"].startswith("Dishonest judgment debtor")
    (standing,) = shown["standings"]
    assert standing["lists"][0]["status"] == "effective"


def test_a_persons_profile_reads_as_people_read_it_without_the_id_number(env: Path) -> None:
    from builders import PERSON_ID

    runner.invoke(app, ["rulebook", "publish", "--shipped"])
    line = debtor(subject=PERSON_ID, subject_name="张伟", document_number="(2024)粤0305执77号",
                  publication_date="2024-03-05", decision_date="2024-03-01")  # fmt: skip
    runner.invoke(app, ["ingest", str(write_jsonl(env / "p.jsonl", [*authorities(), line]))])
    result = runner.invoke(app, ["profile", PERSON_ID, "--on", "2024-06-01"])
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert PERSON_ID not in text and PERSON_ID[:14] not in text
    assert "张伟 — person P" in text and "access log" in text
    assert "Dishonest judgment debtor — able to perform but refuses" in text
    assert "深圳市南山区人民法院" in text and "(2024)粤0305执77号" in text
    # a ground-1 listing has no fixed term (SPC art. 2): until the court's deletion entry
    assert "IN FORCE: no fixed term: until an entry ends it" in text
    assert "publicity: no fixed term" in text
    assert "black list 失信被执行人名单 (dishonest-judgment-debtors): EFFECTIVE" in text
    shown = runner.invoke(app, ["profile", PERSON_ID, "--json", "--on", "2024-06-01"]).stdout
    assert PERSON_ID not in shown
    found = json.loads(shown)
    assert found["subject"].startswith("P") and found["name"] == "张伟"
    assert found["records"][0]["status"] == "in force" and found["profiles"]


def test_profile_shows_a_record_and_its_listing_under_objection(env: Path) -> None:
    from datetime import timedelta

    from builders import FIRM

    from trustledger.settings import Settings

    today = Settings().today()
    runner.invoke(app, ["rulebook", "publish", "cn-spc-dishonest-debtors"])
    line = debtor(decision_date=(today - timedelta(days=61)).isoformat(),
                  publication_date=(today - timedelta(days=60)).isoformat())  # fmt: skip
    runner.invoke(app, ["ingest", str(write_jsonl(env / "d.jsonl", [*authorities(), line]))])
    created = runner.invoke(app, ["keys", "create", "--role", "subject", "--name", "华韵",
                                  "--subject", FIRM])  # fmt: skip
    assert created.exit_code == 0, created.output
    (key,) = json.loads(runner.invoke(app, ["keys", "list", "--json"]).stdout)
    (record,) = json.loads(runner.invoke(app, ["profile", FIRM, "--json"]).stdout)["records"]
    filed = runner.invoke(app, ["objection", "file", record["record_id"], "--as", key["id"],
                                "--ground", "content", "--reasons", "已履行完毕"])  # fmt: skip
    assert filed.exit_code == 0, filed.output
    text = runner.invoke(app, ["profile", FIRM]).stdout
    assert "UNDER OBJECTION: objection O" in text and "(content) filed" in text
    assert "decision due" in text
    # the listing is in effect already: an objection contests it, it does not suspend it
    assert "失信被执行人名单 (dishonest-judgment-debtors): EFFECTIVE" in text
    assert "      contested by objection: (2024)粤0305执1234号" in text
