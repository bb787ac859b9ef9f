"""`trustledger catalogue …`: check and show record-category catalogues."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from trustledger.app import catalogues

app = typer.Typer(
    help="Check and show record-category catalogues (legal basis, prohibited grounds).",
    no_args_is_help=True,
)


def _say(console: Console, text: str) -> None:
    # Problems contain "[3]"-style paths, so Rich must print them literally; and one
    # problem per line, unwrapped, so the output can be grepped.
    console.print(text, markup=False, highlight=False, soft_wrap=True)


@app.command()
def validate(
    files: Annotated[list[Path], typer.Argument(help="Catalogue YAML files to check.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print results as JSON.")] = False,
) -> None:
    """Check catalogue files; exit 0 if all are valid, 1 if any is not."""
    console = Console()
    results = catalogues.validate(files)
    for result in results if not as_json else ():
        if result.ok:
            _say(console, f"OK {result.file}: {result.categories} categories")
        else:
            _say(console, f"INVALID {result.file}: {len(result.problems)} problem(s)")
            for problem in result.problems:
                _say(console, f"  {problem}")
    if as_json:
        typer.echo(json.dumps([r.to_json() for r in results], ensure_ascii=False, indent=2))
    raise typer.Exit(0 if all(r.ok for r in results) else 1)


@app.command()
def show(
    file: Annotated[
        Path | None,
        typer.Argument(help="Catalogue YAML file; the national catalogue if omitted."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print categories as JSON.")] = False,
) -> None:
    """List a catalogue's categories."""
    console = Console()
    try:
        catalogue = catalogues.load(file)
    except catalogues.CatalogueInvalid as exc:
        _say(console, str(exc))
        raise typer.Exit(1) from exc
    if as_json:
        typer.echo(catalogue.model_dump_json(indent=2))
        return
    table = Table(title=f"{catalogue.title} ({catalogue.id} {catalogue.version})")
    table.add_column("code", no_wrap=True, overflow="fold")
    for column in ("title", "domain", "polarity", "tier", "kinds", "authorities"):
        table.add_column(column)
    for category in catalogue:
        table.add_row(
            category.code,
            category.title,
            category.domain.value,
            category.polarity.value,
            category.default_tier.value,
            ", ".join(kind.value for kind in category.subject_kinds),
            ", ".join(authority.value for authority in category.authorities),
        )
    console.print(table)
