"""The top-level commands: init, ingest, verify, rebuild, demo, evaluate, compare, screen,
profile. Each parses, calls its use case in ``trustledger.app`` and renders."""

from __future__ import annotations

import dataclasses
import re
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

    from trustledger.app.entities import Identity, RecordLine, Standing
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


def verify(
    db: DbOption = None,
    json_output: JsonOption = False,
    reevaluate: Annotated[
        bool,
        typer.Option(
            "--reevaluate",
            help="Also evaluate the ledger again and compare the live state row for row "
            "(slow; the state's digests in the ledger are always checked).",
        ),
    ] = False,
    checkpoint: Annotated[
        list[Path] | None,
        typer.Option(
            "--checkpoint",
            help="A signed checkpoint held by someone else (a "
            "witness's cosigned one), to check this database against; repeatable.",
        ),
    ] = None,
    key: Annotated[
        list[str] | None,
        typer.Option(
            "--key",
            help="The log's verifier key the checkpoint must be signed by "
            "(default: the log's current and retired keys).",
        ),
    ] = None,
    witness_key: Annotated[
        list[str] | None,
        typer.Option(
            "--witness-key",
            help="A witness's cosigner key whose cosignature the "
            "checkpoint must carry; repeatable.",
        ),
    ] = None,
) -> None:
    """Recompute the whole chain, every tree head and the projections; with --checkpoint,
    also that this ledger's tree at each checkpoint's size has its root (a rewritten
    ledger does not, whatever its own hashes say) and that no two disagree (split view).
    Exit 1 if tampered."""
    from trustledger.app import ledger

    held = None
    if checkpoint:
        from trustledger.app import checkpoints
        from trustledger.app.errors import BadInput

        notes = []
        for path in checkpoint:
            try:
                notes.append((str(path), path.read_text("utf-8")))
            except (OSError, UnicodeDecodeError) as exc:
                raise BadInput(f"cannot read {path}: {exc}") from None
    with context(db) as ctx, console.status("verifying…", spinner="dots") as status:
        report = ledger.verify(
            ctx, lambda n: status.update(f"verifying… {n:,} entries"), reevaluate=reevaluate
        )
        if checkpoint:
            held = checkpoints.verify_held(ctx, notes, key or [], witness_key or [])
    if held is not None:
        if json_output:
            print_json({**report.to_json(), "checkpoints": held.to_json()})
        else:
            for fact in held.facts["checkpoints"]:
                witnesses = ", ".join(c["witness"] for c in fact["cosigned_by"]) or "no witness"
                say_line(f"checkpoint {fact['file']}: size {fact['size']:,} root {fact['root']}"
                         f" (cosigned by {witnesses})")  # fmt: skip
            for reason in held.reasons:
                say_line(f"CHECKPOINT MISMATCH: {reason}")
        if json_output:
            raise typer.Exit(0 if report.ok and held.ok else 1)
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
    raise typer.Exit(0 if report.ok and (held is None or held.ok) else 1)


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
        for rating in monitoring.ratings:
            out.print(f"  rated: {rating}")
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
    portal = "http://127.0.0.1:8000"
    if tries.denied is not None:
        yield (f"try: trustledger report {tries.denied} --out report.pdf, then  "
               "trustledger report verify report.pdf")  # fmt: skip
        yield f"portal (after trustledger serve): {portal}/entities/{tries.denied}"
    if tries.screen_name is not None:
        yield f"portal: {portal}/search?q={tries.screen_name}"
    yield f"portal: {portal}/lists · {portal}/compare · {portal}/ledger · {portal}/docs"


class EngineChoice(StrEnum):
    DUCKDB = "duckdb"
    POSTGRES = "postgres"
    PYTHON = "python"
    SPARK = "spark"


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
            "PostgreSQL store; spark: the same SQL on Apache Spark (--master); python: one "
            "subject at a time."
        ),
    ] = EngineChoice.DUCKDB,
    master: Annotated[
        str | None,
        typer.Option(
            "--master",
            help="With --engine spark: the Spark master URL, local[N] or a cluster's "
            "spark://HOST:PORT, yarn, k8s://… (default TRUSTLEDGER_SPARK_MASTER, local[2]).",
        ),
    ] = None,
    rulebook: Annotated[str | None, typer.Option(help="Only this rulebook (its id).")] = None,
    db: DbOption = None,
    json_output: JsonOption = False,
) -> None:
    """Evaluate every subject under the published rulebooks. Known now, the result becomes
    the live state, swapped in whole; known at another instant, it goes to --what-if."""
    from rich.progress import BarColumn, Progress, TaskID, TextColumn

    from trustledger.app.evaluation import evaluate as run

    with context(db) as ctx, Progress(TextColumn("{task.description}"), BarColumn(),
            TextColumn("{task.completed}/{task.total} rulebooks"), console=real(console),
            disable=json_output) as bar:  # fmt: skip
        when = when_for(ctx, known_at, on)
        # the bar appears with the first rulebook: a refusal before any (an unreachable
        # Spark master, say) is then the only thing printed
        tasks: list[TaskID] = []

        def step(ref: str, done: int, total: int) -> None:
            if not tasks:
                tasks.append(bar.add_task("evaluating", total=total))
            bar.update(tasks[0], description=f"evaluating {ref}", completed=done, total=total)

        result = run(ctx, when, engine=engine.value, rulebook_id=rulebook, what_if=what_if,
                     progress=step, notice=lambda text: say(console, f"note: {text}"),
                     spark_master=master)  # fmt: skip
        if tasks:
            bar.update(tasks[0], completed=len(result.summaries), total=len(result.summaries))
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
    """Ranked candidates for a name, with the features behind each score and whether each
    is on a list today. A name match is only ever a reason for review: it never clears or
    denies anyone."""
    from trustledger.app.screening import LISTED, screen_file

    with context(db) as ctx, console.status("screening…"):
        found = screen_file(ctx, name, region=region, address=address, limit=limit)
    if json_output:
        print_json(found.to_json())
        return
    # the query is not echoed: someone may have pasted an ID number into it
    out.print("candidates, best first — each one for a person to review: a name match "
              "never clears or denies anyone")  # fmt: skip
    if not found.candidates:
        out.print("no candidates")
        return
    # each feature once, with the short label the rows use
    labels = {feature: feature.split("_")[0] for feature in found.features}
    out.print("score: the weighted sum of these features")
    for feature, (weight, meaning) in found.features.items():
        out.print(f"  {labels[feature]:<8} {feature:<18} {weight:+.2f}  {meaning}")
    table = Table("score", "candidate", "features", f"effective listings on {found.on}")
    table.columns[1].min_width = 20
    table.columns[3].overflow = "fold"  # on a narrow terminal: wrapped, never cut off
    for screened in found.candidates:
        c = screened.candidate
        who = [screened.name, c.subject_id]
        if screened.division:
            who.append(" ".join(screened.division_names) or screened.division)
        if c.matched_name != screened.name:
            who.append(f"(matched its {c.name_form.replace('_', ' ')} {c.matched_name})")
        features = "\n".join(f"{labels.get(k, k)} {v:.2f}" for k, v in c.features.items() if v)
        if screened.standing == LISTED:
            listed = "\n".join(
                f"{m.kind}: {m.list_title}\n  {m.rulebook.split('@')[0]}\n"
                f"  {m.effective_from} → {m.until or 'no end date'}"
                for m in screened.listed
            )
        else:
            listed = screened.standing
        table.add_row(f"{c.score:.3f}\n{c.outcome}", "\n".join(who), features, listed)
    out.print(table)


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
    """Who the subject is, its records (title, authority, document, dates, status) and,
    under each rulebook, its score, grade, lists, measures and explanation, as known at an
    instant and judged on a day."""
    from trustledger.app.profiles import profile as run

    with context(db) as ctx:
        when = when_for(ctx, known_at, on)
        # first: it refuses an unknown subject or rulebook, and logs a read of a person
        found = run(ctx, subject, when, rulebook_id=rulebook)
        if found.subject_id.startswith("P"):
            from trustledger.app.entities import person_file

            person = person_file(ctx, found)
            header = [f"{person.name} — person {found.subject_id}",
                      "  (a read of a person's file: it is written to the access log)"]  # fmt: skip
            records, standings = person.records, person.standings
            extra: dict[str, object] = {"name": person.name, "kind": person.kind}
        else:
            from trustledger.app.entities import entity_file

            file = entity_file(ctx, found.subject_id, when, public=False)
            header = list(_identity_lines(file.identity))
            records, standings = file.records, file.standings
            extra = {"identity": dataclasses.asdict(file.identity)}
    if rulebook is not None:
        standings = [s for s in standings if s.rulebook.split("@")[0] == rulebook]
    if json_output:
        # the profiles as they always were; who it is, its records and standings beside
        print_json({**found.to_json(), **extra,
                    "records": [dataclasses.asdict(r) for r in records],
                    "standings": [_standing_json(s) for s in standings]})  # fmt: skip
        return
    for line in header:
        say_line(line)
    say_line(when.line())
    for line in _record_lines(records):
        say_line(line)
    documents = {r.record_id: r.document_number for r in records}
    if not standings:
        say_line("no rulebook has been published yet (trustledger rulebook publish FILE)")
    for s in standings:
        for line in _standing_lines(s, documents):
            say_line(line)


def _identity_lines(identity: Identity) -> Iterator[str]:
    yield f"{identity.name} — {identity.kind}, {identity.id}"
    if identity.division:
        names = " · ".join(identity.division_names) or "no name in GB/T 2260"
        yield f"  division {identity.division}: {names}"
    if identity.registering_authority:
        yield (f"  USCC registered by {identity.registering_authority}"
               f" (type code {identity.type_code})")  # fmt: skip
    if identity.former_names:
        yield "  former names: " + "; ".join(identity.former_names)
    if identity.aliases:
        yield "  also known as: " + "; ".join(identity.aliases)
    facts = [f"address {identity.address}" if identity.address else "",
             f"established {identity.established}" if identity.established else ""]  # fmt: skip
    if any(facts):
        yield "  " + "; ".join(f for f in facts if f)


def _record_lines(records: list[RecordLine]) -> Iterator[str]:
    yield ""
    if not records:
        yield "records: none"
        return
    yield f"records ({len(records)}, newest decision first):"
    for r in records:
        zh = f" · {r.category_title_zh}" if r.category_title_zh else ""
        yield f"  {r.category_title}{zh}"
        yield f"    {r.status.upper()}: {r.status_detail}"
        until = (
            f", publicity until {r.publicity_until}" if r.publicity_until
            else ", publicity: no fixed term" if r.no_fixed_term else ""
        )  # fmt: skip
        yield (f"    {r.document_number}, {r.authority}; decided {r.decision_date}, "
               f"published {r.publication_date}{until}")  # fmt: skip
        if r.title:
            yield f"    {r.title}"


_RECORD_ID = re.compile(r"\bR[0-9a-f]{24}\b")


def _standing_lines(s: Standing, documents: dict[str, str]) -> Iterator[str]:
    def cite(ids: list[str]) -> str:
        return ", ".join(documents.get(r, r) for r in ids) or "none"

    yield ""
    heading = f"{s.title} ({s.rulebook})"
    if not s.applicable:
        # the explanation names the rulebook again: said once
        reasons = [line.removeprefix(heading).strip() for line in s.explanation]
        yield f"== {heading}: " + " ".join(reasons or ["does not apply"])
        return
    yield f"== {heading}"
    if s.score is not None or s.grade is not None:
        score = "—" if s.score is None else str(s.score)
        yield f"  score {score}, grade {s.grade or '—'}"
        if len(s.history) > 1:
            steps = [f"{d} {'—' if sc is None else sc}/{g or '—'}" for d, sc, g in s.history[-6:]]
            yield "  history: " + " → ".join(steps)
    else:
        yield "  no score or grade (this rulebook keeps records and lists only)"
    if s.lists:
        yield "  lists:"
    for m in s.lists:
        until = f" until {m['until']}" if m.get("until") else " (no end date)"
        if m["status"] == "effective":
            since = m.get("effective_from") or m["since"]
            run = f" (the run since {m['since']})" if since != m["since"] else ""
            state = f"EFFECTIVE since {since}{until}{run}"
        elif m.get("effective_from"):
            state = f"PENDING: from {m['since']}, takes effect on {m['effective_from']}{until}"
        elif m.get("under_objection"):
            state = f"PENDING: from {m['since']}{until}, until the objection is decided"
        else:
            state = (f"PENDING: from {m['since']}{until}; held for review, or it ends before "
                     "its notice period does")  # fmt: skip
        yield f"    {m['kind']} list {m['title']} ({m['list_id']}): {state}"
        yield f"      records: {cite(m['records'])}"
        if m.get("under_objection"):
            yield f"      contested by objection: {cite(m['under_objection'])}"
    if s.measures:
        yield "  measures:"
    for m in s.measures:
        actions = "; ".join(m.get("action_titles") or m["actions"])
        end = m["end"] or "the day the subject leaves the list"
        yield f"    {m['kind']} {m['measure_id']} ({m['list_id']}): {actions}"
        yield f"      from {m['start']} to {end}; applied by {m['agency']}"
        for role in sorted(m.get("extends_to") or {}):
            # who they are stays in --json (a keyed id): the role is what a reader needs
            yield f"      extends to the {role.replace('_', ' ')} the court records name"
        if m["legal_basis"]:
            yield "      legal basis: " + "; ".join(m["legal_basis"])
    if s.explanation:
        yield "  why:"
    for line in s.explanation:
        yield "    " + _RECORD_ID.sub(lambda hit: documents.get(hit.group(), hit.group()), line)


def _standing_json(s: Standing) -> dict[str, object]:
    out = dataclasses.asdict(s)
    out["history"] = [{"day": d, "score": sc, "grade": g} for d, sc, g in s.history]
    return out
