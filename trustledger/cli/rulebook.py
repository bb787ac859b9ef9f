"""`trustledger rulebook …`: validate and show rulebook files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from trustledger.catalogue import national_catalogue
from trustledger.cli.common import DbOption, JsonOption, open_db, out, print_json, settings_for
from trustledger.cli.common import console as err
from trustledger.rulebook.load import RulebookError, load_rulebook, validate_rulebook_file
from trustledger.rulebook.publish import PublishError, publish_rulebook
from trustledger.rulebook.schema import BandedScore, GradesScore, Rulebook

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
    files: Annotated[list[Path], typer.Argument(help="Rulebook YAML files to check.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print results as JSON.")] = False,
) -> None:
    """Check rulebooks against the national catalogue; exit 0 if all are clean, 1 if not."""
    console = Console()
    catalogue = national_catalogue()
    results: list[dict[str, object]] = []
    for path in files:
        problems = validate_rulebook_file(path, catalogue)
        if problems:
            results.append({"file": str(path), "ok": False, "problems": problems})
            if not as_json:
                _say(console, f"INVALID {path}: {len(problems)} problem(s)")
                for problem in problems:
                    _say(console, f"  {problem}")
            continue
        rulebook = load_rulebook(path)
        results.append(
            {
                "file": str(path),
                "ok": True,
                "id": rulebook.id,
                "treatments": len(rulebook.treatments),
                "lists": len(rulebook.lists),
                "measures": len(rulebook.measures),
            }
        )
        if not as_json:
            _say(console, f"OK {path}: {rulebook.id} {rulebook.version}: {_counts(rulebook)}")
    if as_json:
        typer.echo(json.dumps(results, ensure_ascii=False, indent=2))
    raise typer.Exit(0 if all(r["ok"] for r in results) else 1)


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
            f"publicity {treatment.publicity.min}–{treatment.publicity.max}"
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
    file: Annotated[Path, typer.Argument(help="Rulebook YAML file.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the parsed rulebook.")] = False,
) -> None:
    """Show a rulebook: treatments, score form, lists and measures."""
    console = Console()
    try:
        rulebook = load_rulebook(file)
    except RulebookError as exc:
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
    files: Annotated[list[Path], typer.Argument(help="Rulebook YAML files.")],
    db: DbOption = None,
    json_output: JsonOption = False,
) -> None:
    """Publish rulebooks to the ledger (only ones that validate clean). Exit 1 if any fails."""
    store = open_db(settings_for(db))
    results: list[dict[str, object]] = []
    failed = False
    with store:
        for path in files:
            try:
                done = publish_rulebook(store, path, national_catalogue())
            except (PublishError, RulebookError, OSError) as exc:
                failed = True
                results.append({"file": str(path), "published": False, "problems": str(exc)})
                if not json_output:
                    _say(err, str(exc))
                continue
            results.append(
                {"file": str(path), "published": True, "rulebook": done.ref,
                 "seq": done.seq, "sha256": done.sha256}
            )  # fmt: skip
            if not json_output:
                what = f"entry {done.seq}" if done.seq is not None else "already published"
                _say(out, f"published {done.ref} from {path} ({what})")
    if json_output:
        print_json(results)
    raise typer.Exit(1 if failed else 0)
