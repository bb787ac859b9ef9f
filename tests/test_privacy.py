"""Privacy everywhere (DESIGN.md principle 6; issue 10, item 8): run the demo and every
workflow available, then read every file the platform wrote — the database with its -wal
and -shm files, rejects files, what-if files, whatever else lands in the run's folder —
and everything it printed or logged, and find none of the demo's resident ID numbers.

The numbers are collected from the demo's generated source files: those are the issuers'
files, the only ones allowed to hold them, and are left out of the search by name. The
issuer's file with bad lines lives outside the run's folder for the same reason. Files with
personal data must be readable by their owner only (0600). On SQLite and PostgreSQL (there
through the rows of every table of the test schema).
"""

from __future__ import annotations

import csv
import logging
import os
import re
import stat
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
import psycopg
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from trustledger.api import create_app
from trustledger.cli import app
from trustledger.demo.generate import SAMPLE_FILE
from trustledger.ids import ENV_PERSON_KEY, check_resident_id, mask_code, resident_id_check_char
from trustledger.settings import Settings

# the demo's generated source files (trustledger.demo.generate.write_demo_files)
SOURCES = ("authorities.jsonl", "subjects.jsonl", "records.jsonl", "changes.jsonl", SAMPLE_FILE)
ACTION = "public_procurement"
DEBTOR = "JUD-DEBTOR-G1"

runner = CliRunner()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def run_dir(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    root = tmp_path / "run"
    root.mkdir()
    if backend == "sqlite":
        url = f"sqlite:///{root / 'trustledger.db'}"
    else:
        url = str(request.getfixturevalue("pg_url"))
    monkeypatch.setenv("TRUSTLEDGER_DB", url)
    monkeypatch.delenv(ENV_PERSON_KEY, raising=False)
    monkeypatch.setenv("TRUSTLEDGER_PERSON_KEY_FILE", str(root / "person.key"))
    monkeypatch.setenv("TRUSTLEDGER_OUTBOX_DIR", str(root / "outbox"))
    monkeypatch.chdir(root)  # anything written to the working folder is searched too
    yield root


def invoke(outputs: list[str], args: list[str], *codes: int) -> str:
    result = runner.invoke(app, args)
    outputs.append(result.output)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code in (codes or (0,)), (args, result.output)
    return result.output


def resident_ids_in(value: Any, found: set[str]) -> None:
    """Every value anywhere in ``value`` that is a valid resident ID number."""
    if isinstance(value, dict):
        for v in value.values():
            resident_ids_in(v, found)
    elif isinstance(value, list):
        for v in value:
            resident_ids_in(v, found)
    elif isinstance(value, str) and len(value) == 18 and check_resident_id(value).valid:
        found.add(value)


def demo_numbers(data: Path) -> tuple[set[str], dict[str, dict[str, Any]], dict[str, Any]]:
    """The resident ID numbers in the demo's source files, a record line about each person
    that has one, and a record naming an organisation's legal representative (to build
    bad lines from)."""
    numbers: set[str] = set()
    person_lines: dict[str, dict[str, Any]] = {}
    representative: dict[str, Any] = {}
    for name in SOURCES[:-1]:
        for raw in (data / name).read_bytes().splitlines():
            line = orjson.loads(raw)
            resident_ids_in(line, numbers)
            if line.get("op", "issue") != "issue":
                continue
            if line["subject"] in numbers:
                # a dishonest debtor's record if the person has one: a new one lists them
                kept = person_lines.setdefault(line["subject"], line)
                if line["category"] == DEBTOR and kept["category"] != DEBTOR:
                    person_lines[line["subject"]] = line
            elif "legal_representative" in line and not representative:
                representative = line
    with (data / SAMPLE_FILE).open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            resident_ids_in(dict(row), numbers)
    assert representative, "the demo names no legal representative"
    return numbers, person_lines, representative


def wrong_check(number: str) -> str:
    expected = resident_id_check_char(number[:17])
    return number[:17] + ("0" if expected != "0" else "1")


def _debtors_first(item: tuple[str, dict[str, Any]]) -> tuple[bool, str]:
    return item[1]["category"] != DEBTOR, item[0]


def issuer_files(
    directory: Path,
    numbers: set[str],
    lines: dict[str, dict[str, Any]],
    representative: dict[str, Any],
) -> list[Path]:
    """An issuer's files with deliberately bad lines about the demo's persons."""
    directory.mkdir()
    (first, line), (second, _) = sorted(lines.items(), key=_debtors_first)[:2]
    digits = next(n for n in sorted(numbers) if not n.endswith("X"))
    bad: list[bytes] = [
        orjson.dumps(dict(line, category="NOPE")),  # a person's record: unknown category
        orjson.dumps(dict(line, subject=wrong_check(first))),  # a mistyped number
        # an organisation's record naming a person as its representative, refused
        orjson.dumps(dict(representative, legal_representative=second, category="NOPE")),
        orjson.dumps(dict(line, subject=int(digits))),  # a number as a JSON number
        orjson.dumps(dict(line, title=f"被执行人{first}", category="NOPE")),
        orjson.dumps({**line, first: "a number as a field name"}),
        b'{"subject": "' + first.encode() + b'", "category": ',  # malformed
        first.encode() + b" \xff not UTF-8",
    ]
    jsonl = directory / "bad.jsonl"
    jsonl.write_bytes(b"\n".join(bad) + b"\n")
    header = list(line)
    sheet = directory / "bad.csv"
    with sheet.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, header)
        writer.writeheader()
        writer.writerow({k: str(v) for k, v in dict(line, category="NOPE").items()})
        f.write(f"{second},{first},too few cells\n")
    good = directory / "good.jsonl"  # a further record about a person, accepted
    recent = (Settings().today() - timedelta(days=2)).isoformat()  # a notice is due
    good.write_bytes(orjson.dumps(dict(line, document_number=f"{line['document_number']}-2",
                                       decision_date=recent, publication_date=recent)))  # fmt: skip
    return [jsonl, sheet, good]


def search(data: bytes, pattern: re.Pattern[bytes]) -> list[bytes]:
    return sorted(set(pattern.findall(data)))


def table_rows(url: str) -> Iterator[tuple[str, bytes]]:
    """Every table of the test schema, each row as bytes (bytea as its raw bytes)."""
    with psycopg.connect(url) as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'")]  # fmt: skip
        assert "entries" in tables
        for table in tables:
            for row in conn.execute(f'SELECT * FROM "{table}"'):
                parts = [v if isinstance(v, bytes) else str(v).encode() for v in row]
                yield table, b"\x1f".join(parts)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_no_resident_id_number_in_anything_the_platform_writes(
    run_dir: Path,
    backend: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.DEBUG, logger="trustledger")
    outputs: list[str] = []
    data = run_dir / "data"

    # the demo, through the CLI
    invoke(outputs, ["demo", "--subjects", "400", "--dir", str(data)])
    numbers, person_lines, representative = demo_numbers(data)
    assert len(numbers) >= 10 and len(person_lines) >= 3
    persons = [p for p, _ in sorted(person_lines.items(), key=_debtors_first)]
    assert person_lines[persons[0]]["category"] == DEBTOR

    # an issuer's file with bad lines about persons: a rejects file is written
    issuer = issuer_files(tmp_path / "issuer", numbers, person_lines, representative)
    mistyped = {wrong_check(persons[0])}
    invoke(outputs, ["ingest", "--rejects", str(run_dir / "rejects"), *map(str, issuer[:2])], 2)
    rejects = sorted((run_dir / "rejects").iterdir())
    assert [p.name for p in rejects] == ["bad.csv.rejects.jsonl", "bad.jsonl.rejects.jsonl"]
    lines = [orjson.loads(raw) for p in rejects for raw in p.read_bytes().splitlines()]
    assert [r["line"] for r in lines] == [2, 3, 1, 2, 3, 4, 5, 6, 7, 8]  # every bad line
    # what the issuer needs to find the line is there, masked
    first = orjson.loads((run_dir / "rejects" / "bad.jsonl.rejects.jsonl").read_bytes()
                         .splitlines()[0])  # fmt: skip
    assert first["line"] == 1 and first["fields"]["subject"] == mask_code(persons[0])
    assert first["fields"]["document_number"] == person_lines[persons[0]]["document_number"]

    # evaluation, live and what-if
    invoke(outputs, ["evaluate"])
    what_if = run_dir / "what-if.db"
    invoke(outputs, ["evaluate", "--what-if", str(what_if)])
    assert what_if.exists()

    # a person's profile and checks by resident ID number, and their error paths
    for person in persons[:3]:
        invoke(outputs, ["profile", person])
        invoke(outputs, ["profile", "--json", person])
        invoke(outputs, ["check", person, ACTION], 0, 1, 3)
        invoke(outputs, ["check", "--json", person, "air_travel"], 0, 1, 3)
        invoke(outputs, ["ids", "check", person])
        invoke(outputs, ["ids", "check", "--json", person])
    for bad in (wrong_check(persons[0]), persons[1][:16]):
        invoke(outputs, ["profile", bad], 2)
        invoke(outputs, ["check", bad, ACTION], 2)
        invoke(outputs, ["ids", "check", bad], 1)
    mistyped.add(persons[1][:16])

    invoke(outputs, ["verify"])
    invoke(outputs, ["monitor", "judge"])
    invoke(outputs, ["monitor", "points"], 0)
    invoke(outputs, ["screen", persons[0]])  # someone pasting a number into the name
    key_output = invoke(outputs, ["keys", "create", "--actions", f"{ACTION},air_travel",
                                  "--name", "privacy test"])  # fmt: skip
    key = re.search(r"tlk_[A-Za-z0-9_-]+", key_output)
    assert key is not None
    headers = {"Authorization": f"Bearer {key.group()}"}

    with TestClient(create_app(Settings.from_env(), reload_interval=0.0)) as client:
        why = {"purpose": "privacy test"}  # a check on a person states its purpose
        pairs = [{"subject": p, "action": ACTION} for p in persons[:3]]
        responses = [
            client.get("/v1/check", params={"subject": persons[0], "action": ACTION, **why},
                       headers=headers),
            client.get("/v1/check", params={"subject": persons[1], "action": "air_travel"},
                       headers=headers),  # without one
            client.post("/v1/check/batch", headers=headers, json={"pairs": pairs, **why}),
            client.post("/v1/check/batch", headers=headers, json={"pairs": pairs}),
            client.get(f"/v1/subjects/{persons[0]}/profile", params=why, headers=headers),
            client.get(f"/v1/subjects/{persons[0]}/monitoring-points", params=why,
                       headers=headers),
            client.get("/v1/check", params={"subject": wrong_check(persons[0]),
                                            "action": ACTION, **why}, headers=headers),
            client.get("/v1/check", params={"subject": persons[1][:16], "action": ACTION,
                                            **why}, headers=headers),
            client.get("/v1/check", params={"subject": persons[2], "action": ACTION}),
        ]  # fmt: skip
        assert responses[0].status_code == 200, responses[0].text
        assert any(r.status_code == 200 for r in responses[2:4])
        outputs += [r.text for r in responses]
        # a write while the API keeps the database open: it stays in the WAL
        invoke(outputs, ["ingest", str(issuer[2])])
        # the notices that ingest made for the person, delivered to the outbox
        invoke(outputs, ["notices", "list", persons[0]])
        invoke(outputs, ["notices", "deliver"], 0, 5)
        notices = sorted(p for p in (run_dir / "outbox").rglob("*") if p.is_file())
        assert notices, "the new listing of a person was not notified"

        # the database files while the API holds the database open (so the WAL is there)
        forbidden = numbers | mistyped | {n[:14] for n in numbers}
        longest_first = sorted(forbidden, key=lambda n: (-len(n), n))
        pattern = re.compile(b"|".join(re.escape(n.encode()) for n in longest_first))
        sources = {data / name for name in SOURCES}
        assert all(p.is_file() for p in sources)
        written = sorted(p for p in run_dir.rglob("*") if p.is_file() and p not in sources)
        if backend == "sqlite":
            db = run_dir / "trustledger.db"
            wal, shm = db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")
            assert {db, wal, shm} <= set(written)
            assert wal.stat().st_size > 0
            for path in (db, wal, shm):
                assert mode(path) == 0o600, path
        else:
            rows = list(table_rows(os.environ["TRUSTLEDGER_DB"]))
            assert len(rows) > 3000
            leaks = {(t, hit) for t, row in rows for hit in search(row, pattern)}
            assert not leaks, f"resident ID numbers in tables: {sorted(leaks)[:5]}"
        leaks_in_files = {(str(p.relative_to(run_dir)), hit)
                          for p in written for hit in search(p.read_bytes(), pattern)}  # fmt: skip
        assert not leaks_in_files, f"resident ID numbers in files: {sorted(leaks_in_files)[:5]}"

    # modes of the files with personal data
    for path in (*rejects, what_if, run_dir / "person.key", *sources, *notices):
        assert mode(path) == 0o600, path
    # data files hold the numbers, so the search could find them: it looked
    assert search((data / "records.jsonl").read_bytes(), pattern)

    # what was printed, to the terminal or a log
    captured = capfd.readouterr()
    # every log record but the test's own HTTP client's (it logs the URLs it requests)
    logged = "\n".join(caplog.handler.format(r) for r in caplog.records
                       if not r.name.startswith(("httpx", "httpcore")))  # fmt: skip
    printed = "\n".join([*outputs, captured.out, captured.err, logged])
    assert "ALLOW" in printed or "DENY" in printed  # the checks above were answered
    leaks_printed = sorted(set(pattern.findall(printed.encode())))
    where = [t[:300] for t in [*outputs, captured.out, captured.err, logged]
             if pattern.search(t.encode())]  # fmt: skip
    assert not leaks_printed, f"resident ID numbers printed or logged: {leaks_printed[:5]} {where}"


def test_a_person_key_file_readable_by_others_is_warned_about(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from trustledger.intake.factory import key_file_exposed

    key = tmp_path / "person.key"
    monkeypatch.setenv("TRUSTLEDGER_DB", f"sqlite:///{tmp_path / 'k.db'}")
    monkeypatch.setenv("TRUSTLEDGER_PERSON_KEY_FILE", str(key))
    monkeypatch.delenv(ENV_PERSON_KEY, raising=False)
    result = runner.invoke(app, ["init", "--new-person-key"])
    assert result.exit_code == 0 and mode(key) == 0o600
    assert key_file_exposed(key) is None
    path = tmp_path / "one.jsonl"
    path.write_bytes(b'{"op": "nope"}\n')
    args = ["ingest", "--rejects", str(tmp_path), str(path)]
    assert "readable by others" not in runner.invoke(app, args).output
    os.chmod(key, 0o644)
    output = " ".join(runner.invoke(app, args).output.split())  # unwrapped
    assert "readable by others (mode 0644)" in output and "chmod 600" in output


NUMBER = "11010519491231002X"


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        (f"ID {NUMBER}.", "ID 110105********002X."),
        (f"ID {NUMBER.lower()}", "ID 110105********002X"),
        ("ID " + NUMBER.translate({ord(c): 0xFF10 + int(c) for c in "0123456789"}),
         "ID 110105********002X"),  # full-width digits
        (f"99{NUMBER}77", "991101********002X77"),  # run into other digits
        (NUMBER[:16], "110105**********"),  # cut short: no digit of the birth date kept
        ("110105491231002", "110105*********"),  # a first-generation 15-digit number
        ("amount 20000.00, 911101085923662400, sha256:" + "0" * 64,
         "amount 20000.00, 911101085923662400, sha256:" + "0" * 64),  # nothing personal
    ],
)  # fmt: skip
def test_mask_personal_numbers(text: str, shown: str) -> None:
    from trustledger.ids import mask_personal_numbers

    assert mask_personal_numbers(text) == shown


def test_mask_resident_id() -> None:
    from trustledger.ids import mask_resident_id

    assert mask_resident_id(NUMBER) == mask_code(NUMBER) == "110105********002X"
    assert mask_resident_id(NUMBER[:14]) == "110105********"
    assert mask_resident_id("1101051") == "*******"
