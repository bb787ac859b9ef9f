"""`trustledger catalogue …`: check and show record-category catalogues."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from trustledger.catalogue import Catalogue, CatalogueError, load_catalogue, national_catalogue

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
    results: list[dict[str, object]] = []
    for path in files:
        try:
            catalogue = load_catalogue(path)
        except CatalogueError as exc:
            results.append({"file": str(path), "ok": False, "problems": exc.problems})
            if not as_json:
                _say(console, f"INVALID {path}: {len(exc.problems)} problem(s)")
                for problem in exc.problems:
                    _say(console, f"  {problem}")
        else:
            results.append({"file": str(path), "ok": True, "categories": len(catalogue)})
            if not as_json:
                _say(console, f"OK {path}: {len(catalogue)} categories")
    if as_json:
        typer.echo(json.dumps(results, ensure_ascii=False, indent=2))
    raise typer.Exit(0 if all(r["ok"] for r in results) else 1)


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
        catalogue: Catalogue = national_catalogue() if file is None else load_catalogue(file)
    except CatalogueError as exc:
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
