"""A full disk or failing storage under the database: one line and exit 5, never a
traceback, and nothing stored before the failure lost (app.errors.storage_failure)."""

from __future__ import annotations

import errno
import sqlite3
from pathlib import Path
from typing import Any

import orjson
import psycopg
import pytest
from builders import authorities, issue
from typer.testing import CliRunner

from trustledger.app.errors import storage_failure
from trustledger.cli import app as cli

runner = CliRunner()


def run(*args: str) -> Any:
    return runner.invoke(cli, list(args))


def write_jsonl(path: Path, lines: list[dict[str, Any]]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(line) + b"\n" for line in lines))
    return path


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("TRUSTLEDGER_PERSON_KEY_FILE", str(tmp_path / "person.key"))
    url = f"sqlite:///{tmp_path / 'full.db'}"
    monkeypatch.setenv("TRUSTLEDGER_DB", url)
    assert run("init", "--new-person-key").exit_code == 0
    return url


def records(n: int) -> list[dict[str, Any]]:
    return [issue(document_number=f"深税稽罚〔2024〕{i}号", title="未按规定期限申报纳税 " * 20)
            for i in range(n)]  # fmt: skip


def test_a_full_disk_during_ingest_is_one_line_and_loses_nothing_stored(
    db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = write_jsonl(tmp_path / "first.jsonl", [*authorities(), *records(5)])
    assert run("ingest", str(first)).exit_code == 0
    before = run("ledger", "head", "--json").output

    later = write_jsonl(tmp_path / "later.jsonl", records(3000)[5:])
    real = sqlite3.connect

    # each connection opened from here may grow the file by a few pages only: SQLite's own
    # limit, which fails a write exactly as a full disk does (SQLITE_FULL)
    def connect(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        conn: sqlite3.Connection = real(*args, **kwargs)
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count = {pages + 8}")
        return conn

    monkeypatch.setattr(sqlite3, "connect", connect)
    failed = run("ingest", str(later))
    monkeypatch.setattr(sqlite3, "connect", real)

    assert failed.exit_code == 5, failed.output
    assert "Traceback" not in failed.output
    lines = [line for line in failed.output.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "storage failure: SQLite: database or disk is full" in lines[0]
    assert "nothing stored before it is lost" in lines[0]

    # what was stored before is intact and the ledger verifies; the failed batch left nothing
    assert run("verify").exit_code == 0
    assert run("ledger", "head", "--json").output == before
    # with space again, rerunning the file finishes the job
    assert run("ingest", str(later)).exit_code == 0
    assert run("verify").exit_code == 0


@pytest.mark.parametrize(
    ("exc", "detail"),
    [
        (OSError(errno.ENOSPC, "No space left on device", "/data/x.db"), "No space left"),
        (OSError(errno.EIO, "Input/output error"), "Input/output error"),
        (OSError(errno.EROFS, "Read-only file system"), "Read-only"),
        (psycopg.errors.DiskFull("could not extend file"), "PostgreSQL: could not extend"),
        (psycopg.OperationalError("server closed the connection"), "PostgreSQL connection"),
    ],
)
def test_storage_failures_are_named(exc: BaseException, detail: str) -> None:
    message = storage_failure(exc)
    assert message is not None and message.startswith("storage failure: ") and detail in message


@pytest.mark.parametrize(
    "exc",
    [
        OSError(errno.ENOENT, "No such file or directory"),  # a path, not the storage
        ValueError("bad"),
        sqlite3.IntegrityError("UNIQUE constraint failed"),
        KeyError("x"),
    ],
)
def test_other_errors_are_not_storage_failures(exc: BaseException) -> None:
    assert storage_failure(exc) is None
