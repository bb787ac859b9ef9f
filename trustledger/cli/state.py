"""`trustledger state snapshot`: the state a check server answers from, as files a replica
starts from."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from trustledger.cli.common import DbOption, JsonOption, console, context, out

app = typer.Typer(help="The evaluated state check servers answer from.", no_args_is_help=True)


@app.command("snapshot")
def snapshot(
    path: Annotated[Path, typer.Argument(help="A new directory for the snapshot.")],
    db: DbOption = None,
    json_output: JsonOption = False,
) -> None:
    """Write the live state (profiles, lists, measures, the subjects known, their ledger
    positions, the courts' exceptions) as Parquet files with the state signature they
    reflect: `trustledger serve --replica --snapshot PATH` starts from it and catches up."""
    from trustledger.app import replicas

    with context(db) as ctx:
        taken = replicas.write_snapshot(ctx, path)
    if json_output:
        import json

        out.print(json.dumps(taken.to_json()))
        return
    rows = ", ".join(f"{n:,} {t}" for t, n in taken.rows.items())
    console.print(f"snapshot of the state at ledger position {taken.position:,} in {path} "
                  f"({rows})", markup=False)  # fmt: skip
