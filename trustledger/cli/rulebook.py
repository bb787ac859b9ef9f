"""`trustledger rulebook …`: validate and show rulebook files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from trustledger.app import rulebooks
from trustledger.app.rulebooks import BandedScore, GradesScore, Rulebook
from trustledger.cli.common import DbOption, JsonOption, context, out, print_json
from trustledger.cli.common import console as err

app = typer.Typer(
    help="Validate and show rulebooks (schema, conditions and the legality lint).",
    no_args_is_help=True,
)


def _say(console: Console, text: str) -> None:
    # Problems and conditions contain "[2]" and "['A', 'B']", which Rich would take for
    # markup; one line per problem, unwrapped, so the output can be grepped.
    console.print(text, markup=False, highlight=False, soft_wrap=True)


def _counts(rulebook: Rulebook) -> str:
    return (
        f"{len(rulebook.treatments)} treatments, score {rulebook.score.form}, "
        f"{len(rulebook.lists)} lists, {len(rulebook.measures)} measures"
    )


@app.command()
def validate(
    files: Annotated[
        list[Path], typer.Argument(help="Rulebook YAML files (or names of shipped ones).")
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print results as JSON.")] = False,
) -> None:
    """Check rulebooks against the national catalogue; exit 0 if all are clean, 1 if not."""
    console = Console()
    results = rulebooks.validate([rulebooks.resolve_file(f) for f in files])
    for result in results if not as_json else ():
        if result.rulebook is None or result.problems:
            _say(console, f"INVALID {result.file}: {len(result.problems)} problem(s)")
            for problem in result.problems:
                _say(console, f"  {problem}")
        else:
            rb = result.rulebook
            _say(console, f"OK {result.file}: {rb.id} {rb.version}: {_counts(rb)}")
    if as_json:
        typer.echo(json.dumps([r.to_json() for r in results], ensure_ascii=False, indent=2))
    raise typer.Exit(0 if all(r.ok for r in results) else 1)


@app.command("list")
def list_(
    shipped: Annotated[
        bool, typer.Option("--shipped", help="The regimes shipped with trustledger instead.")
    ] = False,
    db: DbOption = None,
    json_output: JsonOption = False,
) -> None:
    """The published rulebooks (latest version of each), or the shipped ones."""
    if shipped:
        names = rulebooks.shipped_names()
        if json_output:
            print_json(names)
        for name in names if not json_output else ():
            _say(out, f"{name.removesuffix('.yaml')}  (trustledger rulebook show {name})")
        return
    with context(db) as ctx:
        found = rulebooks.published(ctx)
    rows = [
        {"id": rid, "version": rb.version, "title": rb.title} for rid, rb in sorted(found.items())
    ]
    if json_output:
        print_json(rows)
        return
    if not rows:
        _say(out, "no rulebook has been published yet (trustledger rulebook publish FILE)")
    for row in rows:
        _say(out, f"{row['id']}@{row['version']}  {row['title']}")


def _render(rulebook: Rulebook) -> list[str]:
    lines = [
        f"{rulebook.title}",
        f"  id {rulebook.id}, version {rulebook.version}, authority {rulebook.authority}",
        f"  effective from {rulebook.effective.from_}"
        + (f" until {rulebook.effective.until}" if rulebook.effective.until else ""),
        f"  scope: {rulebook.scope.division_prefix or 'national'}",
        f"  subjects: {', '.join(kind.value for kind in rulebook.subject_kinds)}",
        "  legal basis: " + "; ".join(str(basis) for basis in rulebook.legal_basis),
        "sources:",
        *(f"  - {source}" for source in rulebook.sources),
        "treatments (first match wins):",
    ]
    for index, treatment in enumerate(rulebook.treatments, 1):
        tier = f", tier {treatment.tier}" if treatment.tier else ""
        lines.append(
            f"  {index}. {treatment.select.describe()}: points {treatment.points:+d}{tier}, "
            f"publicity {treatment.publicity.min}–"
            + (str(treatment.publicity.max) if treatment.publicity.max else "no fixed term")
            + (f" from the {rulebook.clock_of(treatment)}")
        )
        if treatment.publicity_override is not None:
            lines.append(f"     publicity override: {treatment.publicity_override}")
    score = rulebook.score
    lines.append(f"score: {score.form}")
    if isinstance(score, BandedScore):
        lines.append(f"  base {score.base}, floor {score.floor}, ceiling {score.ceiling}")
        for band in score.bands:
            lines.append(
                f"  {band.grade}: " + (f"≥ {band.min}" if band.min is not None else "below")
            )
    elif isinstance(score, GradesScore):
        for rule in score.rules:
            lines.append(f"  {rule.grade} when {rule.when.text}")
    lines.append("lists:")
    for item in rulebook.lists:
        lines += [
            f"  {item.id} ({item.kind}): {item.title}",
            f"    when {' '.join(item.when.text.split())}",
            f"    removal: {' '.join(item.removal.split())}",
            "    legal basis: " + "; ".join(str(basis) for basis in item.legal_basis),
        ]
    lines.append("measures:")
    for measure in rulebook.measures:
        end = f"for {measure.duration}" if measure.duration else "until removed from the list"
        lines += [
            f"  {measure.id} ({measure.kind}) on list {measure.list}, {end}",
            f"    actions: {', '.join(measure.actions)}",
            f"    subjects: {', '.join(kind.value for kind in measure.subject_kinds)}; "
            f"agency: {measure.agency}",
            "    legal basis: " + "; ".join(str(basis) for basis in measure.legal_basis),
        ]
    return lines


@app.command()
def show(
    file: Annotated[
        Path, typer.Argument(help="Rulebook YAML file (or the name of a shipped one).")
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print the parsed rulebook.")] = False,
) -> None:
    """Show a rulebook: treatments, score form, lists and measures."""
    console = Console()
    try:
        rulebook = rulebooks.load(rulebooks.resolve_file(file))
    except rulebooks.RulebookInvalid as exc:
        for problem in exc.problems:
            _say(console, problem)
        raise typer.Exit(1) from exc
    if as_json:
        typer.echo(rulebook.model_dump_json(indent=2, by_alias=True))
        return
    for line in _render(rulebook):
        _say(console, line)


@app.command()
def publish(
    files: Annotated[
        list[Path] | None,
        typer.Argument(help="Rulebook YAML files (or names of shipped ones)."),
    ] = None,
    shipped: Annotated[
        bool, typer.Option("--shipped", help="Publish every regime shipped with trustledger.")
    ] = False,
    db: DbOption = None,
    json_output: JsonOption = False,
) -> None:
    """Publish rulebooks to the ledger (only ones that validate clean). Exit 1 if any fails."""
    if not files and not shipped:
        raise typer.BadParameter("give rulebook files, or --shipped")
    with context(db) as ctx, rulebooks.shipped_paths() as shipped_paths:
        paths = [rulebooks.resolve_file(f) for f in files or ()]
        results = rulebooks.publish(ctx, [*paths, *(shipped_paths if shipped else ())])
    for r in results if not json_output else ():
        if not r.published:
            _say(err, str(r.problems))
        else:
            what = f"entry {r.seq}" if r.seq is not None else "already published"
            _say(out, f"published {r.rulebook} from {r.file} ({what})")
    if json_output:
        print_json([r.to_json() for r in results])
    raise typer.Exit(0 if all(r.published for r in results) else 1)
