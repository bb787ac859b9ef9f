"""`trustledger ledger …`: the tree head, RFC 6962 proofs and signed checkpoints."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from trustledger.cli.common import (
    DbOption,
    JsonOption,
    context,
    out,
    print_fields,
    print_json,
    say_line,
    settings_for,
)

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


@app.command("checkpoint")
def checkpoint(
    out_file: Annotated[
        Path | None, typer.Option("--out", help="Write the signed note to FILE too.")
    ] = None,
    size: Annotated[
        int | None, typer.Option(help="A checkpoint signed before, by its tree size.")
    ] = None,
    db: DbOption = None,
    json_output: JsonOption = False,
) -> None:
    """The latest tree head as a signed checkpoint (C2SP tlog-checkpoint, signed note),
    signed now with the log key (TRUSTLEDGER_LOG_KEY_FILE, made with mode 0600 if
    missing) unless that size is signed already, with the witnesses' cosignatures kept
    for it (C2SP tlog-cosignature); --size: one kept from before."""
    from trustledger.app import checkpoints

    with context(db) as ctx:
        note = checkpoints.checkpoint(ctx, size)
        key = checkpoints.verifier_key(ctx.settings)
    if out_file is not None:
        out_file.write_text(note, encoding="utf-8")
    if json_output:
        print_json({"checkpoint": note, "key": key})
    else:
        sys.stdout.write(note)


@app.command("checkpoint-key")
def checkpoint_key() -> None:
    """The log's verifier key (<origin>+<key hash>+<base64 key>), for checking checkpoints."""
    from trustledger.app import checkpoints

    sys.stdout.write(checkpoints.verifier_key(settings_for(None)) + "\n")


@app.command("verify-checkpoint")
def verify_checkpoint(
    note_file: Annotated[Path, typer.Argument(help="A signed checkpoint ('-': stdin).")],
    key: Annotated[
        str, typer.Option("--key", help="The verifier key: <name>+<hex hash>+<base64 key>.")
    ],
    db: DbOption = None,
    json_output: JsonOption = False,
) -> None:
    """Check a signed checkpoint: signed by KEY, and its size and root this ledger's tree
    at that size. Exit 0 verified, 1 bad signature or not this ledger, 2 bad input."""
    from trustledger.app import checkpoints
    from trustledger.app.errors import BadInput

    try:
        text = sys.stdin.read() if str(note_file) == "-" else note_file.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"cannot read {note_file}: {exc}") from None
    with context(db) as ctx:
        result = checkpoints.verify_checkpoint(ctx, text, key)
    if json_output:
        print_json(result.to_json())
    else:
        facts = result.facts
        say_line(("verified" if result.ok else "FAILED") + f": {note_file}")
        say_line(f"  {facts['origin']} size {facts['size']:,} root {facts['root']}")
        for reason in result.reasons:
            say_line(f"  {reason}")
    raise typer.Exit(result.exit_code)


@app.command("commit-baseline")
def commit_baseline(db: DbOption = None, json_output: JsonOption = False) -> None:
    """Commit to the ledger, once, what a database of an earlier release holds beside it:
    the rows of tables no entry commits yet, the live state, and its monitoring points as
    point.registered entries. A table already committed is never baselined again (verify
    names its rows if they differ). Only a database upgraded from an earlier release
    needs it: otherwise each table is committed as found at its next write."""
    from trustledger.app.verification import commit_baseline as run

    with context(db) as ctx:
        done = run(ctx)
    if json_output:
        print_json(done.to_json())
        return
    for table, rows in done.tables.items():
        out.print(f"committed {rows:,} rows of {table}")
    for mn in done.points:
        out.print(f"registered monitoring point {mn} in the ledger")
    if done.state_rows:
        out.print(f"committed the live state as found ({done.state_rows:,} rows)")
    if not done.tables and not done.points and not done.state_rows:
        out.print("nothing to commit: every table beside the ledger is committed already")


@app.command("tiles")
def build_tiles(db: DbOption = None, json_output: JsonOption = False) -> None:
    """Build the stored tiles of the Merkle tree (C2SP tlog-tiles) if they are not in step
    with the ledger: once, for a database made before tiles existed and upgraded (the first
    write or proof does it too). Prints the tiles written (0: already in step)."""
    from trustledger.app import ledger

    with context(db) as ctx:
        result = ledger.build_tiles(ctx)
    print_json(result) if json_output else print_fields(result)
