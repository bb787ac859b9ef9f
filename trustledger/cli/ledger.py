"""`trustledger ledger …`: the tree head and RFC 6962 proofs."""

from __future__ import annotations

from typing import Annotated

import typer

from trustledger.cli.common import DbOption, JsonOption, context, out, print_fields, print_json

app = typer.Typer(help="Tree heads and proofs of the ledger.", no_args_is_help=True)


@app.command("head")
def head(db: DbOption = None, json_output: JsonOption = False) -> None:
    """The latest tree head: size, root hash and time."""
    from trustledger.app import ledger

    with context(db) as ctx:
        found = ledger.head(ctx)
    if json_output:
        print_json(found.to_json())
    else:
        out.print(f"size {found.size:,}\nroot {found.root.hex()}\ntime_us {found.time_us}")


@app.command("proof")
def proof(
    seq: Annotated[int, typer.Argument(help="Sequence number of the entry.")],
    size: Annotated[
        int | None, typer.Option(help="Tree size to prove against (default: the latest head).")
    ] = None,
    db: DbOption = None,
    json_output: JsonOption = False,
) -> None:
    """An RFC 6962 inclusion proof of one entry in the tree of the given size."""
    from trustledger.app import ledger

    with context(db) as ctx:
        result = ledger.inclusion(ctx, seq, size)
    print_json(result) if json_output else print_fields(result)


@app.command("consistency")
def consistency(
    old_size: Annotated[int, typer.Argument(help="The older tree size.")],
    new_size: Annotated[
        int | None, typer.Argument(help="The newer tree size (default: the latest head).")
    ] = None,
    db: DbOption = None,
    json_output: JsonOption = False,
) -> None:
    """An RFC 6962 consistency proof between two tree sizes."""
    from trustledger.app import ledger

    with context(db) as ctx:
        result = ledger.consistency(ctx, old_size, new_size)
    print_json(result) if json_output else print_fields(result)
