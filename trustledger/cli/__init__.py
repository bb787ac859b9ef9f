"""`trustledger`: the command line. Thin: every rule lives in the modules it calls."""

from __future__ import annotations

import dataclasses
import os
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from trustledger.cli import catalogue as catalogue_cli
from trustledger.cli import check as check_cli
from trustledger.cli import ids as ids_cli
from trustledger.cli import monitor as monitor_cli
from trustledger.cli import rulebook as rulebook_cli
from trustledger.cli import serve as serve_cli
from trustledger.cli.common import (
    DbOption,
    JsonOption,
    console,
    instant_for,
    open_db,
    out,
    print_json,
    settings_for,
)
from trustledger.ids import PersonKeyError
from trustledger.intake import FileReport, Intake, ingest_file
from trustledger.ledger import merkle
from trustledger.ledger.store import Store, StoreError
from trustledger.settings import Settings

app = typer.Typer(
    help="trustledger: a public credit information platform with a tamper-evident ledger.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
ledger_app = typer.Typer(help="Tree heads and proofs of the ledger.", no_args_is_help=True)
app.add_typer(ids_cli.app, name="ids")
app.add_typer(catalogue_cli.app, name="catalogue")
app.add_typer(rulebook_cli.app, name="rulebook")
app.add_typer(ledger_app, name="ledger")
app.command(name="check")(check_cli.check)
app.command(name="serve")(serve_cli.serve)
keys_app = typer.Typer(help="API keys (shown once, stored only as a hash).", no_args_is_help=True)
keys_app.command(name="create")(serve_cli.keys_create)
app.add_typer(keys_app, name="keys")
app.add_typer(monitor_cli.app, name="monitor")


def _ingest_with_bar(
    intake: Intake, path: Path, rejects: Path, settings: Settings, quiet: bool = False
) -> FileReport:
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=quiet,
    ) as bar:
        task = bar.add_task(path.name, total=path.stat().st_size)

        def advance(position: int) -> None:
            bar.update(task, completed=position)

        return ingest_file(
            intake,
            path,
            rejects,
            batch=settings.batch_size,
            max_line_bytes=settings.max_line_bytes,
            progress=advance,
        )


def _print_fields(result: dict[str, Any]) -> None:
    for key, value in result.items():
        if isinstance(value, list):
            out.print(f"{key}:" + "".join(f"\n  {v}" for v in value))
        else:
            out.print(f"{key}: {value}")


@app.command()
def init(
    db: DbOption = None,
    new_person_key: Annotated[
        bool, typer.Option("--new-person-key", help="Create the person key file if missing.")
    ] = False,
) -> None:
    """Create the database (idempotent) and bind it to the person key, if one is set."""
    from trustledger.intake.factory import person_keyer

    settings = settings_for(db)
    keyer = person_keyer(settings, create=new_person_key)
    store = open_db(settings, must_exist=False)
    with store:
        store.init(keyer.fingerprint() if keyer else None)
        meta = store.meta()
    out.print(f"initialised {settings.db_url} (schema {meta['schema_version']})")
    if keyer is None:
        out.print(
            "no person key: records about persons will be refused until one is set "
            "(TRUSTLEDGER_PERSON_KEY, a key file, or `trustledger init --new-person-key`)"
        )


@app.command()
def ingest(
    files: Annotated[
        list[Path], typer.Argument(help="CSV or JSON Lines files.", exists=True, dir_okay=False)
    ],
    db: DbOption = None,
    rejects: Annotated[Path, typer.Option(help="Folder for the rejects files.")] = Path("."),
    json_output: JsonOption = False,
) -> None:
    """Stream files through the intake. Exit 0 if every line was accepted or a duplicate,
    2 if any line was rejected."""
    from trustledger.intake.factory import make_intake

    settings = settings_for(db)
    store = open_db(settings)
    reports = []
    with store:
        intake = make_intake(store, settings, console)
        for path in files:
            try:
                report = _ingest_with_bar(intake, path, rejects, settings, quiet=json_output)
            except ValueError as exc:
                console.print(f"[red]error:[/red] {path}: {exc}")
                raise typer.Exit(2) from None
            reports.append(report)
        refreshed = _refresh(store, set().union(*(r.touched for r in reports)), settings)
    rejected = sum(r.counts.rejected for r in reports)
    if refreshed and not json_output:
        out.print(f"re-evaluated {refreshed:,} subjects under the published rulebooks")
    if json_output:
        print_json(
            [
                {
                    "file": str(r.path),
                    "accepted": r.counts.accepted,
                    "duplicate": r.counts.duplicate,
                    "rejected": r.counts.rejected,
                    "rejects_file": str(r.rejects_path) if r.rejects_path else None,
                }
                for r in reports
            ]
        )
    else:
        table = Table("file", "accepted", "duplicate", "rejected", "rejects file")
        for r in reports:
            table.add_row(
                str(r.path),
                str(r.counts.accepted),
                str(r.counts.duplicate),
                str(r.counts.rejected),
                str(r.rejects_path or ""),
            )
        out.print(table)
    raise typer.Exit(2 if rejected else 0)


@app.command()
def verify(db: DbOption = None, json_output: JsonOption = False) -> None:
    """Recompute the whole chain, every tree head and the projections. Exit 1 if tampered."""
    from trustledger.ledger.verify import verify as run_verify

    store = open_db(settings_for(db))
    with store, console.status("verifying…", spinner="dots") as status:
        report = run_verify(store, lambda n: status.update(f"verifying… {n:,} entries"))
    if json_output:
        print_json(report.to_json())
    elif report.ok:
        out.print(f"intact: {report.size:,} entries, root {report.root.hex()}")
    else:
        out.print(f"TAMPERED: first bad entry is seq {report.first_bad_seq}")
        for seq, problem in sorted(report.problems):
            out.print(f"  seq {seq}: {problem}")
    raise typer.Exit(0 if report.ok else 1)


@app.command()
def rebuild(db: DbOption = None) -> None:
    """Drop the projections and rebuild them from the ledger alone."""
    store = open_db(settings_for(db))
    with store:
        counts = store.rebuild()
    out.print("rebuilt: " + ", ".join(f"{n:,} {t}" for t, n in counts.items()))


@ledger_app.command("head")
def ledger_head(db: DbOption = None, json_output: JsonOption = False) -> None:
    """The latest tree head: size, root hash and time."""
    store = open_db(settings_for(db))
    with store:
        head = store.head()
    if json_output:
        print_json(head.to_json())
    else:
        out.print(f"size {head.size:,}\nroot {head.root.hex()}\ntime_us {head.time_us}")


@ledger_app.command("proof")
def ledger_proof(
    seq: Annotated[int, typer.Argument(help="Sequence number of the entry.")],
    size: Annotated[
        int | None, typer.Option(help="Tree size to prove against (default: the latest head).")
    ] = None,
    db: DbOption = None,
    json_output: JsonOption = False,
) -> None:
    """An RFC 6962 inclusion proof of one entry in the tree of the given size."""
    store = open_db(settings_for(db))
    with store:
        tree_size = store.size() if size is None else size
        if not 0 <= seq < tree_size or tree_size > store.size():
            console.print(
                f"[red]error:[/red] no entry {seq} in a tree of size {tree_size} "
                f"(the ledger holds {store.size()})"
            )
            raise typer.Exit(2)
        leaves = store.leaf_hashes(tree_size)
        entry = store.entry(seq)
    assert entry is not None
    proof = merkle.inclusion_proof(leaves, seq, tree_size)
    result = {
        "seq": seq,
        "tree_size": tree_size,
        "root": merkle.root(leaves).hex(),
        "leaf_hash": entry.hash.hex(),
        "entry": entry.envelope().decode(),
        "proof": [p.hex() for p in proof],
    }
    if json_output:
        print_json(result)
    else:
        _print_fields(result)


@ledger_app.command("consistency")
def ledger_consistency(
    old_size: int,
    new_size: Annotated[int | None, typer.Argument()] = None,
    db: DbOption = None,
    json_output: JsonOption = False,
) -> None:
    """An RFC 6962 consistency proof between two tree sizes."""
    store = open_db(settings_for(db))
    with store:
        size = store.size() if new_size is None else new_size
        if not 0 < old_size <= size <= store.size():
            console.print(f"[red]error:[/red] need 0 < old size ≤ new size ≤ {store.size()}")
            raise typer.Exit(2)
        leaves = store.leaf_hashes(size)
    result = {
        "old_size": old_size,
        "new_size": size,
        "old_root": merkle.root(leaves[:old_size]).hex(),
        "new_root": merkle.root(leaves).hex(),
        "proof": [p.hex() for p in merkle.consistency_proof(leaves, old_size, size)],
    }
    if json_output:
        print_json(result)
    else:
        _print_fields(result)


@app.command()
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
    from trustledger.demo import write_demo_files
    from trustledger.intake.factory import make_intake, person_keyer

    settings = settings_for(db)
    keyer = person_keyer(settings, create=True)
    with console.status(f"generating {subjects:,} subjects…"):
        files = write_demo_files(directory, seed=seed, subjects=subjects, as_of=settings.today())
    store = open_db(settings, must_exist=False)
    with store:
        store.init(keyer.fingerprint() if keyer else None)
        intake = make_intake(store, settings, console)
        table = Table("file", "accepted", "duplicate", "rejected")
        # the CSV sample repeats lines of records.jsonl: ingested last, it shows the
        # format and that a resubmission is reported as duplicates, not stored twice
        for path in sorted(files, key=lambda p: p.suffix == ".csv"):
            report = _ingest_with_bar(intake, path, directory, settings)
            c = report.counts
            table.add_row(path.name, f"{c.accepted:,}", f"{c.duplicate:,}", f"{c.rejected:,}")
        published = _publish_shipped(store, rulebooks)
        summaries = []
        if published:
            from trustledger.catalogue import national_catalogue
            from trustledger.evaluate.state import evaluate_all

            with console.status("evaluating every subject under the published rulebooks…"):
                summaries = evaluate_all(
                    store, national_catalogue(), at_us=None, on=settings.today()
                )
        monitoring = None
        if published:
            from datetime import datetime
            from zoneinfo import ZoneInfo

            from trustledger.demo.monitoring import run_monitoring_demo
            from trustledger.monitoring.receiver import now_us

            with console.status("replaying and judging the demo plants' HJ 212 traffic…"):
                monitoring = run_monitoring_demo(
                    store, intake, directory,
                    now=datetime.now(ZoneInfo(settings.timezone)).replace(tzinfo=None),
                    now_us=now_us(),
                )  # fmt: skip
        key, denied = None, None
        if published:
            from trustledger.access import create_key
            from trustledger.sanctions.actions import load_actions

            # one key to try the API with; like every key, only its hash is kept
            key = create_key(store, "checker", "demo checker (every action)",
                             sorted(load_actions().codes))  # fmt: skip
            from trustledger.evaluate.state import restricted_from

            denied = restricted_from(store, "public_procurement", settings.today(), prefix="91")
        head = store.head()
    out.print(table)
    if published:
        out.print("rulebooks published: " + ", ".join(published))
    for summary in summaries:
        listed = ", ".join(f"{k} {v:,}" for k, v in sorted(summary.listed.items())) or "none"
        out.print(f"  {summary.rulebook}: {summary.subjects:,} subjects; on lists: {listed}")
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
                f"  confirm after review: trustledger monitor confirm {record} --reviewer NAME"
            )
    out.print(f"ledger {settings.db_url}: {head.size:,} entries, root {head.root.hex()}")
    if key is not None:
        out.print(f"checker API key (shown once, only its hash is stored): {key}")
        if denied is not None:
            out.print(
                "try: trustledger serve, then  curl -H 'Authorization: Bearer "
                f"{key}' 'http://127.0.0.1:8000/v1/check?subject={denied}"
                "&action=public_procurement'"
            )
    out.print(
        "next: trustledger profile 91440607MA5JA4BC7E · trustledger compare "
        "cn-spc-dishonest-debtors cn-national-admin-penalty · trustledger verify"
    )


def _refresh(store: Store, subjects: set[str], settings: Settings) -> int:
    from trustledger.catalogue import national_catalogue
    from trustledger.evaluate.state import refresh_if_evaluated

    return refresh_if_evaluated(store, national_catalogue(), subjects, on=settings.today())


def _publish_shipped(store: Store, directory: Path | None) -> list[str]:
    from trustledger.catalogue import national_catalogue
    from trustledger.rulebook.publish import publish_rulebook

    if directory is None:
        # the shipped regimes live beside the package in a checkout
        directory = Path(__file__).resolve().parents[2] / "rulebooks"
    if not directory.is_dir():
        console.print(f"[yellow]note:[/yellow] no rulebooks at {directory}; none published")
        return []
    return [
        publish_rulebook(store, path, national_catalogue()).ref
        for path in sorted(directory.glob("*.yaml"))
    ]


class EngineChoice(StrEnum):
    DUCKDB = "duckdb"
    POSTGRES = "postgres"
    PYTHON = "python"


@app.command()
def evaluate(
    at: Annotated[str | None, typer.Option(help="As of this instant (default: now).")] = None,
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
    """Evaluate every subject under the published rulebooks and rewrite the state tables."""
    from trustledger.catalogue import national_catalogue
    from trustledger.evaluate.state import evaluate_all

    settings = settings_for(db)
    at_us, on = instant_for(at, settings)
    store = open_db(settings)
    with store, Progress(TextColumn("{task.description}"), BarColumn(), TextColumn(
            "{task.completed}/{task.total} rulebooks"), console=console,
            disable=json_output) as bar:  # fmt: skip
        task = bar.add_task("evaluating", total=None)

        def step(ref: str, done: int, total: int) -> None:
            bar.update(task, description=f"evaluating {ref}", completed=done, total=total)

        summaries = evaluate_all(
            store,
            national_catalogue(),
            at_us=at_us,
            on=on,
            engine=engine.value,
            rulebook_id=rulebook,
            progress=step,
        )
        bar.update(task, completed=len(summaries), total=len(summaries))
    if json_output:
        print_json([dataclasses.asdict(s) for s in summaries])
        return
    table = Table("rulebook", "subjects", "on lists", "grades", "measures")
    for s in summaries:
        table.add_row(
            s.rulebook, f"{s.subjects:,}",
            ", ".join(f"{k} {v:,}" for k, v in sorted(s.listed.items())) or "—",
            ", ".join(f"{k} {v:,}" for k, v in sorted(s.grades.items())) or "—",
            f"{s.measures:,}",
        )  # fmt: skip
    out.print(table)
    if not summaries:
        out.print("no rulebook has been published yet (trustledger rulebook publish FILE)")


@app.command()
def compare(
    rulebooks: Annotated[list[str], typer.Argument(help="Ids of published rulebooks.")],
    at: Annotated[str | None, typer.Option(help="As of this instant (default: now).")] = None,
    db: DbOption = None,
    json_output: JsonOption = False,
) -> None:
    """The same subjects under several rulebooks: lists, grades and pairwise agreement."""
    from trustledger.catalogue import national_catalogue
    from trustledger.evaluate.compare import UnknownRulebooks
    from trustledger.evaluate.compare import compare as run_compare

    settings = settings_for(db)
    at_us, on = instant_for(at, settings)
    store = open_db(settings)
    with store, console.status("evaluating…"):
        try:
            result = run_compare(store, national_catalogue(), rulebooks, at_us=at_us, on=on)
        except UnknownRulebooks as exc:
            console.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(2) from None
    if json_output:
        print_json(dataclasses.asdict(result))
        return
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


@app.command()
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
    from trustledger.ledger.projection import SubjectRow
    from trustledger.sanctions.screening import ScreeningIndex

    store = open_db(settings_for(db))
    with store, console.status("indexing names…"):
        index = ScreeningIndex.build(SubjectRow._make(r) for r in store.iter_rows("subjects"))
    candidates = index.screen(name, region=region, address=address, limit=limit)
    if json_output:
        print_json([dataclasses.asdict(c) for c in candidates])
        return
    if not candidates:
        out.print("no candidates")
    for c in candidates:
        out.print(f"{c.score:.3f}  {c.outcome}  {c.subject_id}  {c.matched_name} ({c.name_form})")
        for line in c.explain():
            out.print(f"         {line}")


@app.command()
def profile(
    subject: Annotated[str, typer.Argument(help="USCC, resident ID number or internal id.")],
    at: Annotated[
        str | None,
        typer.Option(
            help="As of this instant (YYYY-MM-DD: the end of that day; or ISO "
            "date-time). Default: now."
        ),
    ] = None,
    rulebook: Annotated[
        str | None, typer.Option(help="Only this rulebook (its id); default: all published.")
    ] = None,
    db: DbOption = None,
    json_output: JsonOption = False,
) -> None:
    """A subject's records, score, grade, lists, measures and explanation as of an instant."""
    from trustledger.catalogue import national_catalogue
    from trustledger.evaluate.service import (
        UnknownRulebook,
        UnknownSubject,
        resolve_subject,
        subject_profiles,
    )
    from trustledger.intake.factory import person_keyer

    settings = settings_for(db)
    at_us, on = instant_for(at, settings)
    try:
        subject_id = resolve_subject(subject, person_keyer(settings))
    except ValueError as exc:
        console.print(f"[red]error:[/red] {exc}", markup=True)
        raise typer.Exit(2) from None
    store = open_db(settings)
    with store:
        try:
            profiles = subject_profiles(
                store, national_catalogue(), subject_id, at_us=at_us, on=on, rulebook_id=rulebook
            )
        except (UnknownSubject, UnknownRulebook) as exc:
            console.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(2) from None
    if json_output:
        print_json([p.to_json() for p in profiles])
        return
    if not profiles:
        out.print("no rulebook has been published yet (trustledger rulebook publish FILE)")
    for p in profiles:
        out.print(f"== {p.rulebook}")
        for line in p.explanation:
            out.print(f"  {line}")


def main() -> None:
    os.environ.setdefault("COLUMNS", "120")
    try:
        app()
    except (PersonKeyError, StoreError) as exc:
        # configuration problems are the user's to fix: a message, not a traceback
        console.print(f"[red]error:[/red] {exc}")
        sys.exit(2)
