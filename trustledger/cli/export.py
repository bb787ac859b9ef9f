"""`trustledger export`: the open data files (CSV, JSON Lines, Parquet, FollowTheMoney)
with their manifest, cut at the current tree head."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from trustledger.cli.common import DbOption, JsonOption, console, context, out, print_json


def export(
    formats: Annotated[
        str,
        typer.Option(
            "--format",
            help="Comma-separated: csv, jsonl, parquet, ftm (FollowTheMoney entities); "
            "default all.",
        ),
    ] = "csv,jsonl,parquet,ftm",
    out_dir: Annotated[
        Path,
        typer.Option(
            "--out",
            help="Folder to write (created; an earlier export in it is replaced whole).",
        ),
    ] = Path("open-data"),
    db: DbOption = None,
    json_output: JsonOption = False,
) -> None:
    """Published organisation records, effective list memberships and measures in force
    as open data, with manifest.json (tree head, rows and SHA-256 of every file). Nothing
    about a person is ever exported."""
    from trustledger.app.exports import export as run

    with context(db) as ctx:
        if json_output:
            result = run(ctx, formats, out_dir)
        else:
            with console.status("exporting…", spinner="dots") as status:
                result = run(ctx, formats, out_dir,
                             progress=lambda dataset, n: status.update(
                                 f"exporting… {dataset}: {n:,} rows"))  # fmt: skip
    if json_output:
        print_json(result.to_json())
        return
    from rich.table import Table

    table = Table("file", "format", "rows", "bytes", "sha256")
    for f in result.files:
        table.add_row(f.path.name, f.format, f"{f.rows:,}", f"{f.bytes:,}", f.sha256[:16] + "…")
    out.print(table)
    head = result.head
    out.print(
        f"cut at tree head: size {head.size:,}, root {head.root.hex()}; standing on "
        f"{result.on.isoformat()}\nmanifest: {result.manifest}"
    )
    withheld = result.withheld
    others = [f"{n:,} {k.replace('_', ' ')}" for k, n in withheld.items()
              if k != "records_about_persons" and n]  # fmt: skip
    out.print(
        f"withheld: {withheld.get('records_about_persons', 0):,} records about persons"
        + "".join(f", {o}" for o in others)
    )
