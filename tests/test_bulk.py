"""Bulk files: streaming, per-line rejects with line numbers, crash safety, reruns."""

from __future__ import annotations

import csv
import io
import os
import stat
from datetime import date
from pathlib import Path
from typing import Any

import orjson
import pytest
from builders import FIRM, FIRM2, PERSON_ID, authorities, debtor, issue, resident_id, wrong_check

from trustledger.catalogue import national_catalogue
from trustledger.ids import PersonKeyer, mask_code
from trustledger.intake import Intake, ingest_file
from trustledger.intake import service as intake_service
from trustledger.ledger.store import open_store
from trustledger.ledger.verify import verify

KEYER = PersonKeyer(bytes(range(32)))


@pytest.fixture
def intake(db_url: str) -> Any:
    store = open_store(db_url)
    store.init(KEYER.fingerprint())
    it = Intake(store, national_catalogue(), KEYER, today=date(2026, 11, 26))
    for line in authorities():
        it.submit(line)
    yield it
    store.close()


def jsonl(lines: list[Any]) -> bytes:
    return b"".join(
        (line if isinstance(line, bytes) else orjson.dumps(line)) + b"\n" for line in lines
    )


def records(n: int, **fields: Any) -> list[dict[str, Any]]:
    return [issue(document_number=f"深税稽罚〔2024〕{i}号", **fields) for i in range(n)]


def rejects_of(path: Path | None) -> list[dict[str, Any]]:
    assert path is not None
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


@pytest.mark.parametrize("parallel", [False, True], ids=["one-process", "reader-process"])
def test_jsonl_bad_lines_do_not_stop_the_batch(
    intake: Intake, tmp_path: Path, parallel: bool
) -> None:
    good = records(6)
    lines: list[Any] = [
        good[0],
        b'{"authority": "broken',  # 2 malformed JSON
        good[1],
        issue(subject=wrong_check(FIRM), document_number="w"),  # 4 wrong check character
        b"\xff\xfe not utf-8 \x80",  # 5 non-UTF-8 bytes
        good[2],
        b"[1, 2, 3]",  # 7 JSON, not an object
        issue(category="NOPE", document_number="n"),  # 8 unknown category
        good[3],
        b"",  # 10 blank lines are skipped
        good[4],
    ]
    data = jsonl(lines) + orjson.dumps(good[5])[:40]  # 12 truncated last line
    path = tmp_path / "batch.jsonl"
    path.write_bytes(data)
    report = ingest_file(intake, path, tmp_path / "rejects", batch=3, parallel=parallel)
    c = report.counts
    assert (c.accepted, c.duplicate, c.rejected) == (5, 0, 6)
    rows = rejects_of(report.rejects_path)
    assert [r["line"] for r in rows] == [2, 4, 5, 7, 8, 12]
    assert "malformed JSON" in rows[0]["reason"]
    assert "check character expected" in rows[1]["reason"]
    assert "not UTF-8: byte 0xff at byte 1" in rows[2]["reason"]
    assert "not an object" in rows[3]["reason"]
    assert "unknown category 'NOPE'" in rows[4]["reason"]
    assert "truncated" in rows[5]["reason"]
    assert verify(intake.store).ok


def test_rerun_reports_duplicates_only(intake: Intake, tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    path.write_bytes(jsonl(records(25)))
    first = ingest_file(intake, path, tmp_path, batch=4)
    size = intake.store.size()
    second = ingest_file(intake, path, tmp_path, batch=7)
    assert first.counts.accepted == 25 and first.rejects_path is None
    assert (second.counts.accepted, second.counts.duplicate) == (0, 25)
    assert intake.store.size() == size


def test_crash_mid_file_then_rerun(
    intake: Intake, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "crash.jsonl"
    path.write_bytes(jsonl(records(50)))
    reported: list[int] = []
    calls = {"n": 0}
    real = intake_service._Batch.run

    def dying_run(self: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt("power cut")  # dies inside the 4th transaction
        return real(self)

    monkeypatch.setattr(intake_service._Batch, "run", dying_run)
    with pytest.raises(KeyboardInterrupt):
        ingest_file(
            intake,
            path,
            tmp_path,
            batch=10,
            progress=lambda _: reported.append(intake.store.size()),
        )
    monkeypatch.undo()
    # what was committed (three batches of ten records + one subject) is exactly what is stored
    committed = intake.store.size()
    assert committed == 3 + 1 + 30
    rerun = ingest_file(intake, path, tmp_path, batch=10)
    assert (rerun.counts.accepted, rerun.counts.duplicate, rerun.counts.rejected) == (20, 30, 0)
    assert intake.store.size() == 3 + 1 + 50
    assert verify(intake.store).ok


def test_huge_line_is_rejected_without_loss(intake: Intake, tmp_path: Path) -> None:
    big = orjson.dumps(issue(title="长" * 100, document_number="big"))
    big = big[:-1] + b', "pad": "' + b"x" * (10 * 1024 * 1024) + b'"}'
    path = tmp_path / "big.jsonl"
    path.write_bytes(jsonl([records(1)[0], big, records(2)[1]]))
    report = ingest_file(intake, path, tmp_path, max_line_bytes=1 << 20)
    assert (report.counts.accepted, report.counts.rejected) == (2, 1)
    row = rejects_of(report.rejects_path)[0]
    assert row["line"] == 2 and "longer than 1048576 bytes" in row["reason"]


def _csv(rows: list[dict[str, Any]], header: list[str]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, header, lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow(r)
    return buf.getvalue()


def test_csv(intake: Intake, tmp_path: Path) -> None:
    header = list(issue().keys())
    good = records(3)
    text = _csv(good, header)
    text += "only,three,fields\n"  # wrong field count
    text += '"unterminated,quote\n'
    path = tmp_path / "rec.csv"
    path.write_bytes(text.encode() + b"\xc3\x28,a\n")
    report = ingest_file(intake, path, tmp_path)
    assert (report.counts.accepted, report.counts.rejected) == (3, 3)
    rows = rejects_of(report.rejects_path)
    assert [r["line"] for r in rows] == [5, 6, 7]
    assert "expected 10 fields, found 3" in rows[0]["reason"]
    assert "malformed CSV" in rows[1]["reason"] or "expected 10 fields" in rows[1]["reason"]
    assert "not UTF-8" in rows[2]["reason"]


def test_csv_lists_and_changes(intake: Intake, tmp_path: Path) -> None:
    header = ["op", "subject", "name", "former_names", "aliases"]
    text = _csv(
        [
            {
                "op": "subject",
                "subject": FIRM2,
                "name": "北京某某科技有限公司",
                "former_names": "旧名一|旧名二",
                "aliases": "Beijing Moumou",
            }
        ],
        header,
    )
    path = tmp_path / "subjects.csv"
    path.write_text(text, encoding="utf-8")
    report = ingest_file(intake, path, tmp_path)
    assert report.counts.accepted == 1
    assert orjson.loads(intake.store.get_row("subjects", FIRM2).former_names) == [
        "旧名一",
        "旧名二",
    ]


@pytest.mark.parametrize("parallel", [False, True], ids=["one-process", "reader-process"])
def test_bad_csv_header_and_unknown_type(intake: Intake, tmp_path: Path, parallel: bool) -> None:
    path = tmp_path / "h.csv"
    path.write_text("a,a\n1,2\n")
    with pytest.raises(ValueError, match="repeated column names"):
        ingest_file(intake, path, tmp_path, parallel=parallel)
    other = tmp_path / "x.xml"
    other.write_text("<x/>")
    with pytest.raises(ValueError, match="unknown file type"):
        ingest_file(intake, other, tmp_path, parallel=parallel)


def test_two_intakes_at_once_share_one_chain(db_url: str, tmp_path: Path) -> None:
    """Two processes' worth of intake on one database: one chain, each record once."""
    import threading

    setup = open_store(db_url)
    setup.init(KEYER.fingerprint())
    first = Intake(setup, national_catalogue(), KEYER, today=date(2026, 11, 26))
    for line in authorities():
        first.submit(line)
    path = tmp_path / "same.jsonl"
    path.write_bytes(jsonl(records(120)))
    reports: list[Any] = []

    def run() -> None:
        store = open_store(db_url)
        intake = Intake(store, national_catalogue(), KEYER, today=date(2026, 11, 26))
        reports.append(ingest_file(intake, path, tmp_path, batch=15, parallel=False))
        store.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    accepted = sum(r.counts.accepted for r in reports)
    duplicates = sum(r.counts.duplicate for r in reports)
    assert (accepted, duplicates) == (120, 120)
    assert setup.size() == 3 + 1 + 120
    assert verify(setup).ok
    setup.close()


def test_csv_with_byte_order_mark_and_crlf(intake: Intake, tmp_path: Path) -> None:
    header = list(issue().keys())
    text = _csv(records(2), header).replace("\n", "\r\n")
    path = tmp_path / "excel.csv"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())
    report = ingest_file(intake, path, tmp_path)
    assert (report.counts.accepted, report.counts.rejected) == (2, 0)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# a second person, named only inside free text and as a representative
OTHER_ID = resident_id("110108", "19751231", "042")
FULL_WIDTH = OTHER_ID.translate({ord(c): 0xFF10 + int(c) for c in "0123456789"})


@pytest.mark.parametrize("parallel", [False, True], ids=["one-process", "reader-process"])
def test_rejects_file_masks_persons_and_never_copies_the_line(
    intake: Intake, tmp_path: Path, parallel: bool
) -> None:
    lines: list[Any] = [
        # 1 a person's record refused: subject and name masked, the rest kept to find it
        debtor(
            subject=PERSON_ID,
            subject_kind="person",
            subject_name="张伟",
            category="NOPE",
            document_number="(2024)粤0305执77号",
        ),
        # 2 a mistyped number is personal data all the same
        debtor(subject=wrong_check(PERSON_ID), subject_kind="person"),
        # 3 a representative, and numbers in free text (one in full-width digits)
        issue(
            legal_representative=OTHER_ID,
            category="NOPE",
            title=f"法定代表人{OTHER_ID}，又名{FULL_WIDTH}" + "很长" * 500,
        ),
        # 4 a number given as a JSON number: the validator's reason echoes it
        debtor(subject=int(PERSON_ID[:17] + "0") if PERSON_ID[17] == "X" else int(PERSON_ID)),
        # 5 a number as a field name
        {**issue(document_number="k"), PERSON_ID: "x"},
        # 6 malformed: nothing of it can be read as fields, and nothing is copied
        b'{"subject": "' + PERSON_ID.encode() + b'", "broken',
        # 7 not UTF-8
        PERSON_ID.encode() + b"\xff",
    ]
    path = tmp_path / "people.jsonl"
    path.write_bytes(jsonl(lines))
    report = ingest_file(intake, path, tmp_path / "rejects", batch=3, parallel=parallel)
    assert report.counts.rejected == 7 and report.rejects_path is not None
    data = report.rejects_path.read_bytes()
    for number in (PERSON_ID, wrong_check(PERSON_ID), OTHER_ID, FULL_WIDTH, PERSON_ID[:14]):
        assert number.encode() not in data, number
    assert "张伟".encode() not in data
    assert _mode(report.rejects_path) == 0o600
    rows = rejects_of(report.rejects_path)
    assert [r["line"] for r in rows] == [1, 2, 3, 4, 5, 6, 7]
    assert all(set(r) == {"file", "line", "reason", "fields"} for r in rows)
    first = rows[0]["fields"]
    assert "unknown category 'NOPE'" in rows[0]["reason"]
    assert first["subject"] == mask_code(PERSON_ID) == PERSON_ID[:6] + "********" + PERSON_ID[-4:]
    assert (first["document_number"], first["category"]) == ("(2024)粤0305执77号", "NOPE")
    assert first["subject_name"] == "张**" and first["authority"] == lines[0]["authority"]
    assert rows[1]["fields"]["subject"] == mask_code(wrong_check(PERSON_ID))
    assert "check character expected" in rows[1]["reason"]
    third = rows[2]["fields"]
    assert third["legal_representative"] == mask_code(OTHER_ID)
    assert third["subject"] == FIRM  # an organisation's code stays readable
    assert third["title"].startswith(f"法定代表人{mask_code(OTHER_ID)}，又名{mask_code(OTHER_ID)}")
    assert len(third["title"]) <= 81 and third["title"].endswith("…")
    assert rows[3]["reason"].startswith("subject: expected text")
    assert PERSON_ID[:6] + "********" in rows[3]["reason"]
    assert rows[4]["fields"][mask_code(PERSON_ID)] == "x"
    assert rows[5]["fields"] is None and "malformed JSON" in rows[5]["reason"]
    assert rows[6]["fields"] is None and "not UTF-8" in rows[6]["reason"]


def test_rejects_file_of_a_csv_masks_persons(intake: Intake, tmp_path: Path) -> None:
    header = [*issue().keys(), "subject_kind", "legal_representative"]
    person = debtor(subject=PERSON_ID, subject_kind="person", category="NOPE")
    text = _csv([person], header) + f"{PERSON_ID},only,three\n"
    path = tmp_path / "people.csv"
    path.write_text(text, encoding="utf-8")
    report = ingest_file(intake, path, tmp_path)
    assert report.rejects_path is not None
    assert PERSON_ID.encode() not in report.rejects_path.read_bytes()
    first, second = rejects_of(report.rejects_path)
    assert first["line"] == 2 and "unknown category" in first["reason"]
    assert first["fields"]["subject"] == mask_code(PERSON_ID)
    assert first["fields"]["document_number"] == person["document_number"]
    assert second["line"] == 3 and second["fields"]["authority"] == mask_code(PERSON_ID)


def test_rejects_file_is_private_even_when_it_existed(intake: Intake, tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    path.write_bytes(jsonl([issue(category="NOPE")]))
    old = tmp_path / "r.jsonl.rejects.jsonl"
    old.write_text(f'{{"text": "{PERSON_ID}"}}\n' * 3)
    os.chmod(old, 0o644)
    report = ingest_file(intake, path, tmp_path)
    assert report.rejects_path == old and _mode(old) == 0o600
    assert [r["line"] for r in rejects_of(old)] == [1]  # replaced, not appended to
