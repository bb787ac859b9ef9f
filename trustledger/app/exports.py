"""Open data: the export the command line writes and the cached one the portal serves.

Files are written into a fresh folder beside the destination and moved into place only
when every file and the manifest are complete, so a reader never sees half an export and
a failed one leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trustledger.app.errors import BadInput, Conflict, Unavailable

if TYPE_CHECKING:
    from trustledger.app.context import Context
    from trustledger.ledger.store import TreeHead

# the formats, named here too so a face can list them without importing the exporter
FORMATS: tuple[str, ...] = ("csv", "jsonl", "parquet", "ftm")
ATTEMPTS = 3  # cuts tried while entries keep arriving before giving up
_KEEP = 2  # cached exports kept: the current one and the one a download may still read


@dataclass(frozen=True)
class ExportedFile:
    path: Path
    format: str
    dataset: str
    rows: int
    bytes: int
    sha256: str

    def to_json(self) -> dict[str, Any]:
        return {"path": str(self.path), "name": self.path.name, "format": self.format,
                "dataset": self.dataset, "rows": self.rows, "bytes": self.bytes,
                "sha256": self.sha256}  # fmt: skip


@dataclass(frozen=True)
class ExportResult:
    out_dir: Path
    files: list[ExportedFile]
    head: TreeHead
    on: date
    manifest: Path
    rows: dict[str, int]
    withheld: dict[str, int]

    def to_json(self) -> dict[str, Any]:
        return {
            "out_dir": str(self.out_dir),
            "manifest": str(self.manifest),
            "tree_head": self.head.to_json(),
            "on": self.on.isoformat(),
            "rows": self.rows,
            "withheld": self.withheld,
            "files": [f.to_json() for f in self.files],
        }


def parse_formats(formats: str | Sequence[str] | None) -> list[str]:
    """``"csv,ftm"`` or ``["csv", "ftm"]`` → the formats in canonical order (None or
    ``"all"``: every one); BadInput naming an unknown one."""
    if formats is None:
        return list(FORMATS)
    items = formats.split(",") if isinstance(formats, str) else list(formats)
    wanted = [f.strip().lower() for f in items if f.strip()]
    if wanted == ["all"]:
        return list(FORMATS)
    unknown = [f for f in wanted if f not in FORMATS]
    if unknown:
        raise BadInput(
            f"unknown format {', '.join(repr(f) for f in unknown)}: choose from "
            f"{', '.join(FORMATS)} (comma-separated)"
        )
    if not wanted:
        raise BadInput(f"no format named: choose from {', '.join(FORMATS)}")
    return [f for f in FORMATS if f in wanted]


def _check_destination(out_dir: Path) -> None:
    """BadInput unless ``out_dir`` can receive an export: absent (its parent an existing,
    writable folder), an empty folder, or a folder holding an earlier export."""
    from trustledger.exports.opendata import MANIFEST

    if out_dir.exists() or out_dir.is_symlink():
        if not out_dir.is_dir():
            raise BadInput(f"--out {out_dir}: exists and is not a folder")
        entries = list(out_dir.iterdir())
        if entries and not (out_dir / MANIFEST).is_file():
            raise BadInput(
                f"--out {out_dir}: a folder that is neither empty nor an earlier export "
                "(no manifest.json): refusing to replace what is in it"
            )
    parent = out_dir.parent
    if parent.exists() and not parent.is_dir():
        raise BadInput(f"--out {out_dir}: {parent} is not a folder")
    if not parent.is_dir():
        raise BadInput(f"--out {out_dir}: its parent folder {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise BadInput(f"--out {out_dir}: the folder {parent} is not writable")


def _install(staged: Path, out_dir: Path) -> None:
    """Move the finished export into place; an earlier one there is replaced."""
    if out_dir.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.old-", dir=out_dir.parent))
        os.rename(out_dir, old / "export")
        try:
            os.rename(staged, out_dir)
        except OSError:
            os.rename(old / "export", out_dir)  # put the earlier export back
            raise
        finally:
            shutil.rmtree(old, ignore_errors=True)
    else:
        os.rename(staged, out_dir)
    os.chmod(out_dir, 0o755)  # mkdtemp's 0700 is for the staging, not for open data


def _write(
    ctx: Context,
    formats: list[str],
    out_dir: Path,
    on: date,
    progress: Callable[[str, int], None] | None,
) -> ExportResult:
    from trustledger.exports.opendata import ExportError, LedgerMoved, write_open_data

    for _attempt in range(ATTEMPTS):
        try:
            staged = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
        except OSError as exc:
            raise BadInput(f"--out {out_dir}: cannot write in {out_dir.parent}: {exc}") from None
        try:
            manifest = write_open_data(ctx.store, ctx.catalogue, staged, formats, on=on,
                                       generated_us=ctx.now_us(), progress=progress)  # fmt: skip
            _install(staged, out_dir)
        except LedgerMoved:
            shutil.rmtree(staged, ignore_errors=True)
            continue
        except ExportError as exc:
            shutil.rmtree(staged, ignore_errors=True)
            raise Conflict(f"the data cannot be exported: {exc}") from None
        except OSError as exc:
            shutil.rmtree(staged, ignore_errors=True)
            raise BadInput(f"--out {out_dir}: cannot write the export: {exc}") from None
        except BaseException:
            shutil.rmtree(staged, ignore_errors=True)
            raise
        files = [
            ExportedFile(out_dir / f.name, f.format, f.dataset, f.rows, f.bytes, f.sha256)
            for f in manifest.files
        ]
        return ExportResult(out_dir, files, manifest.head, on, out_dir / "manifest.json",
                            manifest.rows, manifest.withheld)  # fmt: skip
    raise Unavailable(
        f"the ledger moved during each of {ATTEMPTS} attempts to cut an export; try again "
        "when intake is quieter"
    )


def export(
    ctx: Context,
    formats: str | Sequence[str] | None,
    out_dir: Path,
    *,
    on: date | None = None,
    progress: Callable[[str, int], None] | None = None,
) -> ExportResult:
    """Write the open data in ``formats`` to ``out_dir``, cut at the current tree head and
    judged on ``on`` (default today). BadInput for an unknown format or a destination that
    cannot take it; nothing is left behind by a failed export."""
    wanted = parse_formats(formats)
    out_dir = Path(out_dir)
    _check_destination(out_dir)
    return _write(ctx, wanted, out_dir, on or ctx.today(), progress)


def _result_from(directory: Path) -> ExportResult:
    from trustledger.exports.opendata import read_manifest
    from trustledger.ledger.store import TreeHead

    m = read_manifest(directory)
    head = m["tree_head"]
    files = [
        ExportedFile(directory / f["name"], f["format"], f["dataset"], f["rows"], f["bytes"],
                     f["sha256"])
        for f in m["files"]
    ]  # fmt: skip
    return ExportResult(
        directory, files, TreeHead(head["size"], bytes.fromhex(head["root"]), head["time_us"]),
        date.fromisoformat(m["on"]), directory / "manifest.json", m["rows"], m["withheld"],
    )  # fmt: skip


def _cache_key(ctx: Context, on: date) -> str:
    """What an export depends on: the tree head, the day standing is judged on (a record's
    publicity ends at midnight with no new entry) and the state's generation (a whole
    re-evaluation changes no entry)."""
    head = ctx.store.head()
    meta = dict(ctx.store.query("SELECT key, value FROM meta WHERE key = 'state_generation'"))
    return f"{head.size}-{head.root.hex()[:16]}-{on.isoformat()}-g{meta.get('state_generation', 0)}"


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    # one generator at a time across processes and threads (flock is per open file)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def open_data(ctx: Context, cache_dir: Path) -> ExportResult:
    """Every format, cut at the current tree head, from ``cache_dir``: made again only
    when the ledger head moved, the day changed or the state was re-evaluated. The files
    of the result stay in place until two newer exports have been made."""
    cache_dir = Path(cache_dir)
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BadInput(f"open data cache {cache_dir}: {exc}") from None
    on = ctx.today()
    key = _cache_key(ctx, on)
    ready = cache_dir / key
    if (ready / "manifest.json").is_file():
        return _result_from(ready)
    with _locked(cache_dir / ".lock"):
        key = _cache_key(ctx, on)
        ready = cache_dir / key
        if not (ready / "manifest.json").is_file():
            # under the lock nobody else is writing: a staging folder here is a killed run's
            for stale in cache_dir.glob(".next.*"):
                shutil.rmtree(stale, ignore_errors=True)
            result = _write(ctx, list(FORMATS), cache_dir / "next", on, None)
            # the cut names its own head: the ledger may have moved since the key was read
            key = _key_of(result)
            ready = cache_dir / key
            if ready.exists():
                shutil.rmtree(cache_dir / "next", ignore_errors=True)
            else:
                os.rename(cache_dir / "next", ready)
            _prune(cache_dir, keep=ready)
        return _result_from(ready)


def _key_of(result: ExportResult) -> str:
    from trustledger.exports.opendata import read_manifest

    generation = read_manifest(result.out_dir)["state"].get("generation") or 0
    return f"{result.head.size}-{result.head.root.hex()[:16]}-{result.on.isoformat()}-g{generation}"


def _prune(cache_dir: Path, keep: Path) -> None:
    exports = sorted(
        (p for p in cache_dir.iterdir() if p.is_dir() and (p / "manifest.json").is_file()
         and p.name != "next"),
        key=lambda p: p.stat().st_mtime,
    )  # fmt: skip
    for old in exports[:-_KEEP]:
        if old != keep:
            shutil.rmtree(old, ignore_errors=True)
