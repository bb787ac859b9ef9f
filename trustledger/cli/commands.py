"""The top-level commands: init, ingest, verify, rebuild, demo, evaluate, compare, screen,
profile. Each parses, calls its use case in ``trustledger.app`` and renders."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from trustledger.cli.common import (
    DbOption,
    JsonOption,
    KnownAtOption,
    OnOption,
    console,
    context,
    out,
    print_json,
    real,
    say,
    say_line,
    when_for,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

    from rich.progress import Progress as RichProgress

    from trustledger.app.ingest import Progress


def _file_bar(quiet: bool = False) -> RichProgress:
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeRemainingColumn,
    )

    return Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                    DownloadColumn(), TimeRemainingColumn(), console=real(console),
                    disable=quiet)  # fmt: skip


def _tracker(bar: RichProgress) -> Progress:
    tasks: dict[Path, object] = {}

    def track(path: Path, position: int, total: int) -> None:
        task = tasks.get(path)
        if task is None:
            task = tasks[path] = bar.add_task(path.name, total=total)
        bar.update(task, completed=position)  # type: ignore[arg-type]

    return track


def init(
    db: DbOption = None,
    new_person_key: Annotated[
        bool, typer.Option("--new-person-key", help="Create the person key file if missing.")
    ] = False,
) -> None:
    """Create the database (idempotent) and bind it to the person key, if one is set."""
    with context(db, must_exist=False) as ctx:
        keyer = ctx.person_keyer(create=new_person_key)
        ctx.store.init(keyer.fingerprint() if keyer else None)
        meta = ctx.store.meta()
    out.print(f"initialised {ctx.settings.db_url} (schema {meta['schema_version']})")
    if keyer is None:
        out.print(
            "no person key: records about persons will be refused until one is set "
            "(TRUSTLEDGER_PERSON_KEY, a key file, or `trustledger init --new-person-key`)"
        )


def ingest(
    files: Annotated[
        list[Path], typer.Argument(help="CSV or JSON Lines files.", exists=True, dir_okay=False)
    ],
    db: DbOption = None,
    rejects: Annotated[Path, typer.Option(help="Folder for the rejects files.")] = Path("."),
    json_output: JsonOption = False,
) -> None:
    """Stream files through the intake, then re-evaluate the subjects they touched and any
    whose evaluation is older than their entries. Exit 0 if every line was accepted or a
    duplicate, 2 if any line was rejected."""
    from trustledger.app.ingest import ingest as run

    with context(db) as ctx, _file_bar(quiet=json_output) as bar:
        result = run(ctx, files, rejects, notes=console, progress=_tracker(bar))
    if json_output:
        print_json(result.to_json())
        raise typer.Exit(result.exit_code)
    if result.refreshed:
        out.print(f"re-evaluated {result.refreshed:,} subjects under the published rulebooks")
    table = Table("file", "accepted", "duplicate", "rejected", "rejects file")
    for r in result.reports:
        table.add_row(str(r.path), str(r.counts.accepted), str(r.counts.duplicate),
                      str(r.counts.rejected), str(r.rejects_path or ""))  # fmt: skip
    out.print(table)
    raise typer.Exit(result.exit_code)


def verify(db: DbOption = None, json_output: JsonOption = False) -> None:
    """Recompute the whole chain, every tree head and the projections. Exit 1 if tampered."""
    from trustledger.app import ledger

    with context(db) as ctx, console.status("verifying…", spinner="dots") as status:
        report = ledger.verify(ctx, lambda n: status.update(f"verifying… {n:,} entries"))
    if json_output:
        print_json(report.to_json())
    else:
        if report.ok:
            out.print(f"intact: {report.size:,} entries, root {report.root.hex()}")
        else:
            out.print(f"TAMPERED: first bad entry is seq {report.first_bad_seq}")
            for seq, problem in sorted(report.problems):
                out.print(f"  seq {seq}: {problem}")
        for note in report.notes:
            out.print(f"note: {note}")
    raise typer.Exit(0 if report.ok else 1)


def rebuild(db: DbOption = None) -> None:
    """Drop the projections and rebuild them from the ledger alone."""
    from trustledger.app import ledger

    with context(db) as ctx:
        counts = ledger.rebuild(ctx)
    out.print("rebuilt: " + ", ".join(f"{n:,} {t}" for t, n in counts.items()))


def demo(
    db: DbOption = None,
    subjects: Annotated[int, typer.Option(help="Number of subjects to generate.")] = 50_000,
    seed: Annotated[int, typer.Option(help="Seed: the same seed gives the same data.")] = 7,
    directory: Annotated[Path, typer.Option("--dir", help="Where to write the files.")] = Path(
        "demo-data"
    ),
    rulebooks: Annotated[
        Path | None, typer.Option(help="Rulebooks to publish (default: the shipped ones).")
    ] = None,
) -> None:
    """Generate realistic synthetic data, ingest it, publish the shipped rulebooks and
    evaluate every subject under them."""
    from trustledger.app import demo as run

    with context(db, must_exist=False) as ctx, _file_bar() as bar:
        step_task = bar.add_task("", total=None)

        def step(text: str) -> None:
            bar.update(step_task, description=text)

        result = run.run(ctx, directory=directory, subjects=subjects, seed=seed,
                         rulebooks=rulebooks, step=step, progress=_tracker(bar),
                         notes=console)  # fmt: skip
        bar.update(step_task, description="done", total=1, completed=1)
    table = Table("file", "accepted", "duplicate", "rejected")
    for r in result.files:
        c = r.counts
        table.add_row(r.path.name, f"{c.accepted:,}", f"{c.duplicate:,}", f"{c.rejected:,}")
    out.print(table)
    if result.published:
        out.print("rulebooks published: " + ", ".join(result.published))
    for summary in result.summaries:
        listed = ", ".join(f"{k} {v:,}" for k, v in sorted(summary.listed.items())) or "none"
        out.print(f"  {summary.rulebook}: {summary.subjects:,} subjects; on lists: {listed}")
    monitoring = result.monitoring
    if monitoring is not None:
        out.print(
            f"monitoring: {monitoring.packets:,} HJ 212 packets from {len(monitoring.points)} "
            f"plants stored; {len(monitoring.records)} exceedance record(s) awaiting a "
            f"person's confirmation; {monitoring.notices} data-quality notice(s)"
        )
        for mn, subject, what in monitoring.points:
            out.print(f"  {mn} → {subject}: {what}  (trustledger monitor show {mn})")
        for record in monitoring.records:
            out.print(
                f"  confirm after review: trustledger monitor confirm {record} "
                f"--reviewer {result.reviewer or 'PRINCIPAL'}"
            )
    head = result.head
    out.print(f"ledger {ctx.settings.db_url}: {head.size:,} entries, root {head.root.hex()}")
    if result.screened:
        out.print(f"names of {result.screened:,} organisations indexed for screening")
    tries = result.tries
    if result.key is not None:
        out.print(f"checker API key (shown once, only its hash is stored): {result.key}")
    for line in _try_lines(result.key, tries):
        out.print(line)


def _try_lines(key: str | None, tries: object) -> Iterator[str]:
    from trustledger.app.demo import TRY_ACTION, Tries

    assert isinstance(tries, Tries)
    if tries.denied is not None:
        yield f"try: trustledger check {tries.denied} {TRY_ACTION}   (denied: a restriction)"
        if key is not None:
            yield ("try: trustledger serve, then  curl -H 'Authorization: Bearer "
                   f"{key}' 'http://127.0.0.1:8000/v1/check?subject={tries.denied}"
                   f"&action={TRY_ACTION}'")  # fmt: skip
    if tries.profiled is not None:
        yield f"try: trustledger profile {tries.profiled}"
    if tries.screen_name is not None:
        yield f"try: trustledger screen {tries.screen_name}"
    if len(tries.compare) == 2:
        yield f"try: trustledger compare {' '.join(tries.compare)}"
    yield "try: trustledger verify"


class EngineChoice(StrEnum):
    DUCKDB = "duckdb"
    POSTGRES = "postgres"
    PYTHON = "python"


def evaluate(
    known_at: KnownAtOption = None,
    on: OnOption = None,
    what_if: Annotated[
        Path | None,
        typer.Option(
            "--what-if",
            help="Write the evaluation to this file instead of the live state (needed with a "
            "--known-at other than now; never changes a live answer).",
        ),
    ] = None,
    engine: Annotated[
        EngineChoice,
        typer.Option(
            help="duckdb: SQL for all subjects, embedded; postgres: the same SQL inside a "
            "PostgreSQL store; python: one subject at a time."
        ),
    ] = EngineChoice.DUCKDB,
    rulebook: Annotated[str | None, typer.Option(help="Only this rulebook (its id).")] = None,
    db: DbOption = None,
    json_output: JsonOption = False,
) -> None:
    """Evaluate every subject under the published rulebooks. Known now, the result becomes
    the live state, swapped in whole; known at another instant, it goes to --what-if."""
    from rich.progress import BarColumn, Progress, TextColumn

    from trustledger.app.evaluation import evaluate as run

    with context(db) as ctx, Progress(TextColumn("{task.description}"), BarColumn(),
            TextColumn("{task.completed}/{task.total} rulebooks"), console=real(console),
            disable=json_output) as bar:  # fmt: skip
        when = when_for(ctx, known_at, on)
        task = bar.add_task("evaluating", total=None)

        def step(ref: str, done: int, total: int) -> None:
            bar.update(task, description=f"evaluating {ref}", completed=done, total=total)

        result = run(ctx, when, engine=engine.value, rulebook_id=rulebook, what_if=what_if,
                     progress=step, notice=lambda text: say(console, f"note: {text}"))  # fmt: skip
        bar.update(task, completed=len(result.summaries), total=len(result.summaries))
    if json_output:
        print_json(result.to_json())
        return
    out.print(when.line() + (f"; written to {what_if} (what-if)" if what_if else "; live state"))
    table = Table("rulebook", "subjects", "on lists", "grades", "measures")
    for s in result.summaries:
        table.add_row(
            s.rulebook, f"{s.subjects:,}",
            ", ".join(f"{k} {v:,}" for k, v in sorted(s.listed.items())) or "—",
            ", ".join(f"{k} {v:,}" for k, v in sorted(s.grades.items())) or "—",
            f"{s.measures:,}",
        )  # fmt: skip
    out.print(table)
    if not result.summaries:
        out.print("no rulebook has been published yet (trustledger rulebook publish FILE)")


def compare(
    rulebooks: Annotated[list[str], typer.Argument(help="Ids of published rulebooks.")],
    known_at: KnownAtOption = None,
    on: OnOption = None,
    db: DbOption = None,
    json_output: JsonOption = False,
) -> None:
    """The same subjects under several rulebooks: lists, grades and pairwise agreement."""
    from trustledger.app.evaluation import compare as run

    with context(db) as ctx, console.status("evaluating…"):
        when = when_for(ctx, known_at, on)
        found = run(ctx, rulebooks, when)
    if json_output:
        print_json(found.to_json())
        return
    result = found.comparison
    out.print(when.line())
    table = Table("rulebook", "subjects", "black-listed", "red-listed", "grades")
    for f in result.figures:
        grades = ", ".join(f"{g} {n:,}" for g, n in f.grades.items()) or "—"
        table.add_row(f.rulebook, f"{f.subjects:,}", f"{f.blacklisted:,}", f"{f.redlisted:,}",
                      grades)  # fmt: skip
    out.print(table)
    pairs = Table("rulebooks", "common subjects", "agree on black-listing", "Jaccard")
    for a in result.agreements:
        pairs.add_row(f"{a.left} × {a.right}", f"{a.common_subjects:,}", f"{a.agree:.1%}",
                      f"{a.jaccard:.2f}")  # fmt: skip
    out.print(pairs)
    both = result.red_and_black
    if both:
        shown = ", ".join(both[:5]) + (f", … ({len(both) - 5:,} more)" if len(both) > 5 else "")
        out.print(
            f"both red- and black-listed: {len(both):,} (their incentives are withheld): {shown}"
        )
    else:
        out.print("both red- and black-listed: none")


def screen(
    name: Annotated[
        str, typer.Argument(help="A company or organisation name, Chinese or romanised.")
    ],
    region: Annotated[
        str | None, typer.Option(help="Division code of the region (2, 4 or 6 digits).")
    ] = None,
    address: Annotated[str | None, typer.Option(help="An address to compare.")] = None,
    limit: Annotated[int, typer.Option(help="How many candidates.")] = 10,
    db: DbOption = None,
    json_output: JsonOption = False,
) -> None:
    """Ranked candidates for a name, with the features behind each score. A name match is
    only ever a reason for review: it never clears or denies anyone."""
    import dataclasses

    from trustledger.app.screening import screen as run

    with context(db) as ctx, console.status("screening…"):
        candidates = run(ctx, name, region=region, address=address, limit=limit)
    if json_output:
        print_json([dataclasses.asdict(c) for c in candidates])
        return
    if not candidates:
        out.print("no candidates")
    for c in candidates:
        out.print(f"{c.score:.3f}  {c.outcome}  {c.subject_id}  {c.matched_name} ({c.name_form})")
        for line in c.explain():
            out.print(f"         {line}")


def profile(
    subject: Annotated[str, typer.Argument(help="USCC, resident ID number or internal id.")],
    known_at: KnownAtOption = None,
    on: OnOption = None,
    rulebook: Annotated[
        str | None, typer.Option(help="Only this rulebook (its id); default: all published.")
    ] = None,
    db: DbOption = None,
    json_output: JsonOption = False,
) -> None:
    """A subject's records, score, grade, lists, measures and explanation, as known at an
    instant and judged on a day."""
    from trustledger.app.profiles import profile as run

    with context(db) as ctx:
        found = run(ctx, subject, when_for(ctx, known_at, on), rulebook_id=rulebook)
    if json_output:
        print_json(found.to_json())
        return
    say_line(f"{found.subject_id}: {found.when.line()}")
    if not found.profiles:
        say_line("no rulebook has been published yet (trustledger rulebook publish FILE)")
    for p in found.profiles:
        say_line(f"== {p.rulebook}")
        for line in p.explanation:
            say_line(f"  {line}")
