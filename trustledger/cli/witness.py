"""`trustledger witness init|key|run`: an independent witness of a trustledger log, with
its own key and state in a directory of its own (never the log's database)."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from trustledger.cli.common import JsonOption, print_json, say_line

app = typer.Typer(
    help="Witness a log: check its checkpoints are consistent, cosign them (C2SP "
    "tlog-cosignature).",
    no_args_is_help=True,
)

DirOption = Annotated[
    Path, typer.Option("--dir", help="The witness's own directory (key, state, evidence).")
]


@app.command("init")
def init(
    name: Annotated[str, typer.Option(help="The witness's name, e.g. witness.example.org/w1.")],
    log_key: Annotated[
        list[str],
        typer.Option(
            "--log-key", help="The log's verifier key (`trustledger ledger checkpoint-key`)."
        ),
    ],
    directory: DirOption = Path("witness"),
) -> None:
    """Make a witness: its Ed25519 key (mode 0600) and the log key it trusts, in DIR.
    Prints its cosigner key for the log's TRUSTLEDGER_WITNESS_KEYS file."""
    from trustledger.app import witness

    origin = log_key[0].split("+", 1)[0] if log_key else ""
    sys.stdout.write(witness.init(directory, name, origin, log_key) + "\n")


@app.command("key")
def key(directory: DirOption = Path("witness")) -> None:
    """The witness's cosigner verifier key (<name>+<hex id>+<base64(0x04 || key)>)."""
    from trustledger.app import witness

    sys.stdout.write(witness.cosigner_key(directory) + "\n")


@app.command("run")
def run(
    log: Annotated[str, typer.Option("--log", help="The log's base URL (http://host:port).")],
    directory: DirOption = Path("witness"),
    interval: Annotated[float, typer.Option(help="Seconds between rounds.")] = 30.0,
    once: Annotated[bool, typer.Option("--once", help="One round, then exit.")] = False,
    json_output: JsonOption = False,
) -> None:
    """Fetch the log's checkpoint, check its signature and its consistency with the last
    one cosigned, cosign it and send the cosignature to the log. Exit 0 cosigned, 1
    refused (rollback, split view, inconsistent, bad signature, malformed: the evidence
    is kept in DIR/evidence), 5 the log unreachable; without --once, rounds go on."""
    from trustledger.app import witness
    from trustledger.app.errors import TrustledgerError

    with witness.client(log) as client:
        while True:
            try:
                outcome = witness.run_once(directory, client)
            except witness.Refused as exc:
                if once:
                    raise
                say_line(f"refused: {exc}")
            except TrustledgerError as exc:
                if once:
                    raise
                say_line(f"error: {exc}")
            else:
                if json_output:
                    print_json(outcome.to_json())
                else:
                    sent = "sent" if outcome.submitted else "NOT accepted by the log"
                    say_line(f"cosigned size {outcome.size:,} root {outcome.root} ({sent})")
                    for reason in outcome.reasons:
                        say_line(f"  {reason}")
                if once:
                    raise typer.Exit(0 if outcome.submitted else 1)
            time.sleep(interval)


@app.command("show")
def show(directory: DirOption = Path("witness")) -> None:
    """The last checkpoint the witness cosigned (for `trustledger verify --checkpoint`)."""
    from trustledger.app import witness

    found = witness.last_cosigned(directory)
    if found is None:
        say_line("nothing cosigned yet")
        raise typer.Exit(1)
    sys.stdout.write(found)
