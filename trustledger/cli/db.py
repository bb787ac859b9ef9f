"""`trustledger db …`: the database's schema, and upgrading it in place."""

from __future__ import annotations

import typer

from trustledger.cli.common import DbOption, JsonOption, console, out, print_json, settings_for

app = typer.Typer(help="The database's schema: status and in-place upgrade.", no_args_is_help=True)


@app.command("status")
def status(db: DbOption = None, json_output: JsonOption = False) -> None:
    """The schema and migration revision of the database, and what an upgrade would run.
    Exit 0 if current, 1 if an upgrade is pending."""
    from trustledger.app import schema

    found = schema.status(settings_for(db))
    if json_output:
        print_json(found.to_json())
    else:
        out.print(f"{found.url}: schema {found.schema}, revision {found.revision or 'none'}")
        if found.pending:
            out.print(f"upgrade pending: {', '.join(found.pending)} (trustledger db upgrade)")
        else:
            out.print("current")
    raise typer.Exit(0 if found.current else 1)


@app.command("upgrade")
def upgrade(db: DbOption = None, json_output: JsonOption = False) -> None:
    """Verify the ledger, upgrade the schema in one transaction, verify everything again.
    Refused (exit 2, nothing changed) if the ledger does not verify first; exit 1 if it
    does not verify after."""
    from trustledger.app import schema

    with console.status("verifying the ledger…", spinner="dots") as spinner:
        done = schema.upgrade(
            settings_for(db), progress=lambda n: spinner.update(f"verifying… {n:,} entries")
        )
    after = done.verified_after
    if json_output:
        print_json(done.to_json())
    elif not done.upgraded:
        out.print(f"{done.before.url}: already at schema {done.before.schema}; nothing to do")
    else:
        b, a = done.before, done.after
        out.print(f"ledger before: intact, {done.checked_before.size:,} entries, "
                  f"root {done.checked_before.root.hex()}")  # fmt: skip
        out.print(f"upgraded {b.url}: schema {b.schema} → {a.schema} "
                  f"(ran {', '.join(b.pending)})")  # fmt: skip
        if after is not None and after.ok:
            out.print(f"ledger after: intact, {after.size:,} entries, root {after.root.hex()}")
        elif after is not None:
            out.print(f"ledger after: TAMPERED, first bad entry {after.first_bad_seq}")
            for seq, problem in sorted(after.problems):
                out.print(f"  seq {seq}: {problem}")
    raise typer.Exit(0 if after is None or after.ok else 1)
