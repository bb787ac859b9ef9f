"""The demo run: generate realistic synthetic data, ingest it, publish the shipped
rulebooks, evaluate every subject, replay the monitoring demo, index names for screening
and create a checker key — then pick, from the data just generated, subjects worth trying
(a firm that is actually denied, a subject that actually has a profile)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trustledger.app import queries
from trustledger.app.ingest import Progress, ingest_one, make_intake
from trustledger.app.rulebooks import publish_shipped

if TYPE_CHECKING:
    from trustledger.app.context import Context
    from trustledger.demo.monitoring import MonitoringDemo
    from trustledger.evaluate.state import Summary
    from trustledger.intake import FileReport
    from trustledger.intake.factory import Notes
    from trustledger.ledger.store import TreeHead

TRY_ACTION = "public_procurement"


@dataclass
class Tries:
    """Subjects picked from the generated data, each checked to be what it is named as."""

    denied: str | None = None  # a firm a restriction bars from TRY_ACTION today
    profiled: str | None = None  # an organisation with an evaluated profile (on a list if any)
    compare: list[str] = field(default_factory=list)  # two published rulebook ids
    screen_name: str | None = None  # a name the screening finds


@dataclass
class DemoResult:
    files: list[FileReport]
    published: list[str]
    summaries: list[Summary]
    monitoring: MonitoringDemo | None
    key: str | None
    head: TreeHead
    tries: Tries
    screened: int = 0  # organisations indexed for name screening
    reviewer: str | None = None  # a reviewer principal's id, to confirm automated records

    def to_json(self) -> dict[str, Any]:
        return {
            "files": [{"file": r.path.name, "accepted": r.counts.accepted,
                       "duplicate": r.counts.duplicate, "rejected": r.counts.rejected}
                      for r in self.files],
            "published": self.published,
            "ledger": self.head.to_json(),
            "key": self.key,
            "reviewer": self.reviewer,
            "try": {"denied": self.tries.denied, "profile": self.tries.profiled,
                    "compare": self.tries.compare, "screen": self.tries.screen_name},
        }  # fmt: skip


def pick_tries(ctx: Context) -> Tries:
    """Subjects to try, chosen from the state and confirmed by the same use cases the
    commands run (so a "try" line never names a subject that answers otherwise)."""
    from trustledger.app.checks import subject_index

    store, today, tries = ctx.store, ctx.today(), Tries()
    # organisations (a USCC starts with 9 for enterprises): persons are never shown
    for sid in queries.restricted_candidates(store, TRY_ACTION, prefix="91"):
        if subject_index(ctx, sid).check(sid, TRY_ACTION, today).status == "deny":
            tries.denied = sid
            break
    listed = queries.listed_subjects(store, kind="black", prefix="9", limit=1)
    profiled = listed or queries.evaluated_subjects(store, prefix="9", limit=1)
    tries.profiled = profiled[0] if profiled else None
    if tries.denied is not None:
        (row,) = queries.subjects_by_id(store, [tries.denied])
        tries.screen_name = row.name
    tries.compare = sorted({ref.split("@")[0] for ref in _published_refs(ctx)})[:2]
    return tries


def _published_refs(ctx: Context) -> list[str]:
    from trustledger.app.rulebooks import published

    return [f"{rid}@{rb.version}" for rid, rb in published(ctx).items()]


def run(
    ctx: Context,
    *,
    directory: Path,
    subjects: int = 50_000,
    seed: int = 7,
    rulebooks: Path | None = None,
    step: Callable[[str], None] = lambda text: None,
    progress: Progress | None = None,
    notes: Notes | None = None,
) -> DemoResult:
    """The whole demo in ``ctx``'s store (created if new)."""
    from trustledger.demo import write_demo_files

    keyer = ctx.person_keyer(create=True)
    step(f"generating {subjects:,} subjects…")
    files = write_demo_files(directory, seed=seed, subjects=subjects, as_of=ctx.today())
    store = ctx.store
    store.init(keyer.fingerprint() if keyer else None)
    intake = make_intake(ctx, notes)
    # the CSV sample repeats lines of records.jsonl: ingested last, it shows the format
    # and that a resubmission is reported as duplicates, not stored twice
    reports = [
        ingest_one(ctx, intake, path, directory, progress)
        for path in sorted(files, key=lambda p: p.suffix == ".csv")
    ]
    published = publish_shipped(ctx, rulebooks)
    summaries: list[Summary] = []
    monitoring = None
    key = None
    reviewer: str | None = None
    if published:
        from trustledger.evaluate.state import evaluate_all

        step("evaluating every subject under the published rulebooks…")
        summaries = evaluate_all(store, ctx.catalogue, at_us=None, on=ctx.today())
        from trustledger.demo.monitoring import run_monitoring_demo

        step("replaying and judging the demo plants' HJ 212 traffic…")
        monitoring = run_monitoring_demo(store, intake, directory,
                                         now=ctx.clock.now().replace(tzinfo=None),
                                         now_us=ctx.now_us())  # fmt: skip
        from trustledger.access import create_key
        from trustledger.sanctions.actions import load_actions

        # one key to try the API with; like every key, only its hash is kept
        key = create_key(store, "checker", "demo checker (every action)",
                         sorted(load_actions().codes))  # fmt: skip
        reviewer = demo_reviewer(ctx)
    from trustledger.app.screening import update_index

    step("indexing names for screening…")
    screened = update_index(ctx)
    tries = pick_tries(ctx) if published else Tries()
    return DemoResult(reports, published, summaries, monitoring, key, store.head(), tries,
                      screened, reviewer)  # fmt: skip


def demo_reviewer(ctx: Context) -> str | None:
    """A reviewer of the credit centre's own (an authority that issues no automated
    records), to confirm the demo plants' records; its principal id."""
    from trustledger.access import authenticate, create_key

    authority = next(
        (row[0] for row in ctx.store.iter_rows("authorities") if row[2] != "monitoring"), None
    )
    if authority is None:
        return None
    key = create_key(ctx.store, "reviewer", "demo reviewer (credit centre)",
                     authority=authority)  # fmt: skip
    found = authenticate(ctx.store, key)
    return None if found is None else found.id
