"""Ingest: stream files through the intake (the one write path), then bring the state up to
date for every subject it touched and every subject whose entries are newer than its
evaluation (a run that crashed before re-evaluating leaves such subjects behind; the next
ingest, whatever it writes, re-evaluates them)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trustledger.app import person_keys
from trustledger.app.errors import BadInput

if TYPE_CHECKING:
    from trustledger.app.context import Context
    from trustledger.intake import FileReport, Intake
    from trustledger.intake.factory import Notes

# (file, bytes read so far, file size): the face draws its progress bar from this
Progress = Callable[[Path, int, int], None]


@dataclass(frozen=True)
class IngestResult:
    reports: list[FileReport]
    refreshed: int  # subjects re-evaluated under the published rulebooks
    notices: int = 0  # adverse-action notices built for the subjects it touched

    @property
    def rejected(self) -> int:
        return sum(r.counts.rejected for r in self.reports)

    @property
    def exit_code(self) -> int:
        return 2 if self.rejected else 0

    def to_json(self) -> list[dict[str, Any]]:
        return [
            {
                "file": str(r.path),
                "accepted": r.counts.accepted,
                "duplicate": r.counts.duplicate,
                "rejected": r.counts.rejected,
                "rejects_file": str(r.rejects_path) if r.rejects_path else None,
            }
            for r in self.reports
        ]


def make_intake(ctx: Context, notes: Notes | None = None) -> Intake:
    from trustledger.intake.factory import make_intake as make

    # the context's keyer: after a person-key rotation it finds persons under older keys
    return make(ctx.store, ctx.settings, notes, keyer=ctx.keyer)


def ingest_one(
    ctx: Context, intake: Intake, path: Path, rejects: Path, progress: Progress | None = None
) -> FileReport:
    """One file through the intake, without re-evaluating (the demo evaluates once)."""
    from trustledger.intake import ingest_file

    total = path.stat().st_size

    def advance(position: int) -> None:
        if progress is not None:
            progress(path, position, total)

    try:
        return ingest_file(intake, path, rejects, batch=ctx.settings.batch_size,
                           max_line_bytes=ctx.settings.max_line_bytes,
                           progress=advance)  # fmt: skip
    except ValueError as exc:
        raise BadInput(f"{path}: {exc}") from None


def refresh(ctx: Context, touched: set[str]) -> int:
    """Re-evaluate ``touched`` and every stale subject, once anything has been evaluated."""
    from trustledger.evaluate.queries import stale_subjects
    from trustledger.evaluate.state import refresh_if_evaluated

    subjects = touched | stale_subjects(ctx.store)
    return refresh_if_evaluated(ctx.store, ctx.catalogue, subjects, on=ctx.today())


def ingest(
    ctx: Context,
    files: Sequence[Path],
    rejects: Path,
    *,
    notes: Notes | None = None,
    progress: Progress | None = None,
) -> IngestResult:
    intake = make_intake(ctx, notes)
    before = ctx.store.head().time_us if ctx.store.size() else None
    reports = [ingest_one(ctx, intake, path, rejects, progress) for path in files]
    person_keys.record_links(ctx)  # persons found through a retired person key
    touched: set[str] = set().union(*(r.touched for r in reports))
    refreshed = refresh(ctx, touched)
    return IngestResult(reports, refreshed, notify(ctx, touched, before) if refreshed else 0)


# Notices are built per subject (its profiles before and after); past this many subjects
# in one ingest — a bulk load — they are left to evaluation's own notices, not built here.
NOTIFY_AT_ONCE = 1_000


def notify(ctx: Context, touched: set[str], before_us: int | None) -> int:
    """The adverse-action notices of what an ingest changed for the subjects it touched
    (a new negative record, a listing pending or in effect, a measure starting)."""
    from trustledger.app.notices import log_notices, notify_changes

    if len(touched) > NOTIFY_AT_ONCE:
        return 0
    count = 0
    for sid in sorted(touched):
        built = notify_changes(ctx, sid, before_at_us=before_us)
        log_notices(ctx, None, sid, built, cause="ingest")
        count += len(built)
    return count
