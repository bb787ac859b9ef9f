"""Bulk files: CSV and JSON Lines, streamed line by line through the intake.

Memory stays flat whatever the file size: lines are read with a length bound, batches are
committed as they fill, and rejected lines go straight to the rejects file. A crash loses
at most the batch in flight, which was never reported accepted; rerunning the file finds
what was committed and reports it as duplicates.
"""

from __future__ import annotations

import csv
import gc
import multiprocessing
import os
import queue
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import orjson

from trustledger.intake.service import Counts, Intake, Outcome
from trustledger.intake.validate import Reject, Submission, Validator

Line = tuple[int, dict[str, Any] | Reject, bytes]
_LIST_FIELDS = ("former_names", "aliases")


@dataclass
class FileReport:
    path: Path
    rejects_path: Path | None
    counts: Counts = field(default_factory=Counts)
    # subjects whose files changed: evaluation refreshes just these
    touched: set[str] = field(default_factory=set)


def file_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    if suffix == ".csv":
        return "csv"
    raise ValueError(f"{path}: unknown file type {suffix!r}; use .csv, .jsonl or .ndjson")


def _raw_lines(f: IO[bytes], max_bytes: int) -> Iterator[tuple[int, bytes | None, bool]]:
    """(line number, bytes or None if too long, whether it ended with a newline).

    Blank lines are skipped; a UTF-8 byte-order mark at the start is dropped.
    """
    lineno = 0
    while True:
        line = f.readline(max_bytes + 1)
        if not line:
            return
        lineno += 1
        if len(line) > max_bytes and not line.endswith(b"\n"):
            # skip the rest of an over-long line without holding it
            while True:
                rest = f.readline(1 << 16)
                if not rest or rest.endswith(b"\n"):
                    break
            yield lineno, None, True
            continue
        ended = line.endswith(b"\n")
        if lineno == 1 and line.startswith(b"\xef\xbb\xbf"):
            line = line[3:]  # a byte-order mark some spreadsheet tools write
        if line.strip():
            yield lineno, line.rstrip(b"\r\n"), ended


def _decode(line: bytes) -> str:
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Reject(
            f"line is not UTF-8: byte 0x{line[exc.start]:02x} at byte {exc.start + 1} "
            "cannot be decoded"
        ) from None


def read_jsonl(f: IO[bytes], max_bytes: int) -> Iterator[Line]:
    for lineno, line, ended in _raw_lines(f, max_bytes):
        if line is None:
            yield lineno, Reject(f"line is longer than {max_bytes} bytes"), b""
            continue
        try:
            _decode(line)
            obj = orjson.loads(line)
            if not isinstance(obj, dict):
                raise Reject(f"line is JSON {type(obj).__name__}, not an object")
            yield lineno, obj, line
        except orjson.JSONDecodeError as exc:
            hint = "; the file ends mid-line (truncated?)" if not ended else ""
            yield lineno, Reject(f"malformed JSON: {exc}{hint}"), line
        except Reject as exc:
            yield lineno, exc, line


def read_csv(f: IO[bytes], max_bytes: int) -> Iterator[Line]:
    header: list[str] | None = None
    for lineno, line, ended in _raw_lines(f, max_bytes):
        if line is None:
            if header is None:
                raise ValueError(f"CSV header line is longer than {max_bytes} bytes")
            yield lineno, Reject(f"line is longer than {max_bytes} bytes"), b""
            continue
        try:
            text = _decode(line)
            cells = next(csv.reader([text], strict=True))
        except Reject as exc:
            if header is None:
                raise ValueError(f"CSV header: {exc.reason}") from None
            yield lineno, exc, line
            continue
        except csv.Error as exc:
            if header is None:
                raise ValueError(f"CSV header is malformed: {exc}") from None
            yield lineno, Reject(f"malformed CSV: {exc}"), line
            continue
        if header is None:
            header = [c.strip() for c in cells]
            if len(set(header)) != len(header) or "" in header:
                raise ValueError(f"CSV header has empty or repeated column names: {header}")
            continue
        if len(cells) != len(header):
            hint = "; the file ends mid-line (truncated?)" if not ended else ""
            yield lineno, Reject(f"expected {len(header)} fields, found {len(cells)}{hint}"), line
            continue
        row: dict[str, Any] = {k: v for k, v in zip(header, cells, strict=True) if v != ""}
        if "changes" in row:
            try:
                row["changes"] = orjson.loads(row["changes"])
            except orjson.JSONDecodeError as exc:
                yield lineno, Reject(f"changes: not a JSON object: {exc}"), line
                continue
        for name in _LIST_FIELDS:
            if name in row:
                row[name] = [v for v in row[name].split("|") if v.strip()]
        yield lineno, row, line


Checked = tuple[int, Submission | Reject, bytes]
# below this size a second process costs more to start than it saves
PARALLEL_MIN_BYTES = 8 << 20


def _checked_chunks(
    path: Path, validator: Validator, batch: int, max_line_bytes: int
) -> Iterator[tuple[list[Checked], int]]:
    """Lines read and checked without the ledger, in chunks, with the file position."""
    reader = read_jsonl if file_format(path) == "jsonl" else read_csv
    check = validator.check
    with path.open("rb") as f:
        chunk: list[Checked] = []
        for lineno, item, raw in reader(f, max_line_bytes):
            chunk.append((lineno, item if isinstance(item, Reject) else check(item), raw))
            if len(chunk) >= batch:
                yield chunk, f.tell()
                chunk = []
        yield chunk, f.tell()


def _pack(chunk: list[Checked]) -> list[tuple[Any, ...]]:
    """Plain tuples without the payload dict: pickling them is several times cheaper, and
    the payload is one `orjson.loads` of its canonical bytes away."""
    return [
        (n, item, raw) if isinstance(item, Reject) else (n, (*item[:2], *item[3:]), raw)
        for n, item, raw in chunk
    ]


def _unpack(packed: list[tuple[Any, ...]]) -> list[Checked]:
    loads = orjson.loads
    return [
        (n, item, raw)
        if isinstance(item, Reject)
        else (n, Submission(item[0], item[1], loads(item[2]), *item[2:]), raw)
        for n, item, raw in packed
    ]


def _check_in_child(
    path: Path, validator: Validator, batch: int, max_line_bytes: int, out: Any
) -> None:
    # the parent's objects are only read here: keep the collector off them, or its passes
    # would touch (and so copy) every page inherited from the parent
    gc.freeze()
    parent = os.getppid()

    def send(message: object) -> bool:
        # a parent killed outright cannot stop us; notice it instead of waiting forever
        while True:
            try:
                out.put(message, timeout=0.5)
                return True
            except queue.Full:
                if os.getppid() != parent:
                    # nobody will read the rest: exit without flushing it
                    out.cancel_join_thread()
                    return False

    try:
        for chunk, position in _checked_chunks(path, validator, batch, max_line_bytes):
            if not send((_pack(chunk), position)):
                return
        send(None)
    except BaseException as exc:
        send(exc)


def _checked_chunks_in_child(
    path: Path, validator: Validator, batch: int, max_line_bytes: int
) -> Iterator[tuple[list[Checked], int]]:
    """The same chunks, read and checked by a second process while this one writes.

    The queue is bounded, so a fast reader waits for the writer instead of filling memory.
    """
    # fork: the child starts at once with the validator it needs, and only computes
    # (it touches no lock, connection or file of the parent's)
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue(maxsize=3)
    child = ctx.Process(
        target=_check_in_child, args=(path, validator, batch, max_line_bytes, out), daemon=True
    )
    child.start()
    try:
        while True:
            try:
                message = out.get(timeout=1.0)
            except queue.Empty:
                if not child.is_alive():
                    raise RuntimeError(
                        f"the process reading {path} stopped (exit code {child.exitcode})"
                    ) from None
                continue
            if message is None:
                return
            if isinstance(message, BaseException):
                raise message
            packed, position = message
            yield _unpack(packed), position
    finally:
        if child.is_alive():
            child.terminate()
        child.join()


def ingest_file(
    intake: Intake,
    path: Path,
    rejects_dir: Path,
    *,
    batch: int = 10_000,
    max_line_bytes: int = 1 << 20,
    progress: Callable[[int], None] | None = None,
    parallel: bool | None = None,
) -> FileReport:
    """Stream one file through the intake; write every rejected line to a rejects file.

    With ``parallel`` (default: for files of 8 MiB or more on a machine with two cores or
    more) a second process reads and checks lines while this one appends them.
    """
    file_format(path)  # refuse an unknown type before starting anything
    if parallel is None:
        parallel = (os.cpu_count() or 1) > 1 and path.stat().st_size >= PARALLEL_MIN_BYTES
    source = _checked_chunks_in_child if parallel else _checked_chunks
    report = FileReport(path, None)
    rejects: IO[bytes] | None = None

    def flush(chunk: list[Checked]) -> None:
        nonlocal rejects
        results = intake.commit([item for _, item, _ in chunk])
        for (lineno, _, raw), result in zip(chunk, results, strict=True):
            report.counts.add(result)
            if result.subject is not None:
                report.touched.add(result.subject)
            if result.outcome is Outcome.REJECTED:
                if rejects is None:
                    rejects_dir.mkdir(parents=True, exist_ok=True)
                    report.rejects_path = rejects_dir / f"{path.name}.rejects.jsonl"
                    rejects = report.rejects_path.open("wb")
                text = raw[:500].decode("utf-8", "replace")
                rejects.write(
                    orjson.dumps(
                        {"file": str(path), "line": lineno, "reason": result.reason, "text": text}
                    )
                    + b"\n"
                )

    try:
        for chunk, position in source(path, intake.validator, batch, max_line_bytes):
            if chunk:
                flush(chunk)
            if progress is not None:
                progress(position)
    finally:
        if rejects is not None:
            rejects.close()
    return report
