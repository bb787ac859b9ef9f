"""Bulk files: CSV and JSON Lines, streamed line by line through the intake.

Memory stays flat whatever the file size: lines are read with a length bound, batches are
committed as they fill, and rejected lines go straight to the rejects file. A crash loses
at most the batch in flight, which was never reported accepted; rerunning the file finds
what was committed and reports it as duplicates.

The rejects file never copies a line: it holds the line number, the reason and the line's
fields with every person identifier masked and long text cut short (see docs/intake.md),
and it is readable by its owner only.
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

from trustledger.ids import (
    check_identifier,
    mask_personal_numbers,
    mask_resident_id,
    normalise_code,
)
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
            # orjson reads only valid UTF-8, so the line is decoded separately only to
            # explain a line it refuses
            obj = orjson.loads(line)
            if not isinstance(obj, dict):
                raise Reject(f"line is JSON {type(obj).__name__}, not an object")
            yield lineno, obj, line
        except orjson.JSONDecodeError as exc:
            try:
                _decode(line)
            except Reject as bad_text:
                yield lineno, bad_text, line
                continue
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
    header: list[str] | None = None

    def fields(raw: bytes) -> dict[str, Any] | None:
        """A rejected line's fields, read again from its bytes (only rejects pay this)."""
        nonlocal header
        if not raw:
            return None  # too long: never read whole
        if path.suffix.lower() != ".csv":
            return jsonl_fields(raw)
        if header is None:
            header = csv_header(path, max_line_bytes)
        return csv_fields(raw, header)

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
                    rejects = open_private(report.rejects_path)
                line = reject_line(path, lineno, result.reason, fields(raw))
                rejects.write(orjson.dumps(line) + b"\n")

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


# --- the rejects file ------------------------------------------------------------------

# a person's name and address are not identifiers, but they point at the person too
_PERSON_NAME_FIELDS = frozenset({"subject_name", "name", "former_names", "aliases"})
_TEXT_KEPT = 80  # characters of a field value kept (document numbers: their own limit)
_TEXT_KEPT_BY_FIELD = {"document_number": 200, "target_document_number": 200}
_ITEMS_KEPT = 40  # fields of a line, items of a list
_DEPTH_KEPT = 3


def open_private(path: Path) -> IO[bytes]:
    """``path`` truncated (or created) for writing, readable and writable by its owner only,
    also when it already existed with a wider mode."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)  # the mode of open applies only to a file it creates
        return os.fdopen(fd, "wb")
    except BaseException:
        os.close(fd)
        raise


def reject_line(
    path: Path, lineno: int, reason: str | None, fields: dict[str, Any] | None
) -> dict[str, Any]:
    """One line of the rejects file: where the line is, why it was refused and what it
    says, with nothing that identifies a person. ``fields`` is None when the line could not
    be read as fields (not UTF-8, malformed, too long)."""
    return {
        "file": str(path),
        "line": lineno,
        "reason": mask_personal_numbers(reason or ""),
        "fields": None if fields is None else masked_fields(fields),
    }


def masked_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """A line's fields fit for the rejects file: the subject and legal representative
    masked when they are or may be a person's ID number, every other digit run that may
    be one masked wherever it is, a person's names reduced to their first character, long
    text cut short."""
    hint = fields.get("subject_kind")
    subject = fields.get("subject")
    person = hint == "person" or (subject is not None and _identifier_is_personal(subject, hint))
    out: dict[str, Any] = {}
    for key, value in list(fields.items())[:_ITEMS_KEPT]:
        name = _cut(mask_personal_numbers(str(key)), _TEXT_KEPT)
        if key == "subject":
            out[name] = _masked_subject(value, hint)
        elif key == "legal_representative":
            out[name] = _masked_person(value)
        elif person and key in _PERSON_NAME_FIELDS:
            out[name] = _masked_name(value)
        elif person and key == "address":
            out[name] = "***"
        else:
            out[name] = _scrubbed(value, _TEXT_KEPT_BY_FIELD.get(key, _TEXT_KEPT), 0)
    if len(fields) > _ITEMS_KEPT:
        out["…"] = f"{len(fields) - _ITEMS_KEPT} more fields not shown"
    return out


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else orjson.dumps(value).decode()


def _identifier_is_personal(value: Any, hint: Any) -> bool:
    text = _as_text(value)
    if len(text) > 40:  # no identifier: only what it holds can be personal
        return mask_personal_numbers(text) != text
    try:
        check = check_identifier(text, hint if hint in ("person", "organisation") else None)
    except ValueError:
        return True
    return check.is_personal or mask_personal_numbers(text) != text


def _masked_person(value: Any) -> Any:
    if value is None or value == "":
        return value
    return _cut(mask_resident_id(normalise_code(_as_text(value))), _TEXT_KEPT)


def _masked_subject(value: Any, hint: Any) -> Any:
    # The ids check's rule: a person's number is masked, an organisation's code shown.
    if value is None or value == "" or _identifier_is_personal(value, hint):
        return _masked_person(value)
    return _cut(normalise_code(_as_text(value)), _TEXT_KEPT)


def _masked_name(value: Any) -> Any:
    if isinstance(value, list):
        return [_masked_name(v) for v in value[:_ITEMS_KEPT]]
    text = _as_text(value).strip()
    return text[:1] + "**" if text else text


def _scrubbed(value: Any, limit: int, depth: int) -> Any:
    if isinstance(value, str):
        return _cut(mask_personal_numbers(value), limit)
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        whole = int(value) if isinstance(value, float) and value.is_integer() else value
        text = str(whole)
        masked = mask_personal_numbers(text)
        return value if masked == text else masked
    if depth >= _DEPTH_KEPT:
        return "…"
    if isinstance(value, list):
        return [_scrubbed(v, _TEXT_KEPT, depth + 1) for v in value[:_ITEMS_KEPT]]
    if isinstance(value, dict):
        return {
            _cut(mask_personal_numbers(str(k)), _TEXT_KEPT): _scrubbed(v, _TEXT_KEPT, depth + 1)
            for k, v in list(value.items())[:_ITEMS_KEPT]
        }
    return _cut(mask_personal_numbers(str(value)), limit)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def jsonl_fields(raw: bytes) -> dict[str, Any] | None:
    """The fields of a JSON Lines line, or None when it is not a JSON object."""
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    return obj if isinstance(obj, dict) else None


def csv_header(path: Path, max_bytes: int) -> list[str]:
    """The column names of a CSV file, as ``read_csv`` reads them."""
    with path.open("rb") as f:
        for _, line, _ in _raw_lines(f, max_bytes):
            if line is None:
                break
            return [c.strip() for c in next(csv.reader([_decode(line)], strict=True))]
    raise ValueError(f"{path}: no CSV header")


def csv_fields(raw: bytes, header: list[str]) -> dict[str, Any] | None:
    """The cells of a CSV line under their column names (as far as both go), or None when
    the line cannot be read as CSV."""
    try:
        cells = next(csv.reader([raw.decode("utf-8")], strict=True))
    except (UnicodeDecodeError, csv.Error, StopIteration):
        return None
    row: dict[str, Any] = {k: v for k, v in zip(header, cells, strict=False) if v != ""}
    if len(cells) > len(header):
        row["(extra cells)"] = cells[len(header) :]
    return row
