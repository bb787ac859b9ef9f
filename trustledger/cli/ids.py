"""`trustledger ids`: check subject identifiers from the command line.

Only presentation lives here; every rule is in trustledger.ids.
"""

from __future__ import annotations

import json
import os
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from trustledger.ids import IdCheck, check_identifier, load_allowlist

ENV_ALLOWLIST = "TRUSTLEDGER_USCC_ALLOWLIST"

app = typer.Typer(
    help="Check USCCs and resident ID numbers (resident ID numbers are always shown masked).",
    no_args_is_help=True,
)


class KindHint(StrEnum):
    PERSON = "person"
    ORGANISATION = "organisation"


@app.callback()
def _group() -> None:
    # Without a callback Typer would collapse the single command into the group itself,
    # and `trustledger ids check ...` would stop working once a second command is added.
    """Check USCCs and resident ID numbers."""


def _allowlist() -> frozenset[str]:
    path = os.environ.get(ENV_ALLOWLIST, "").strip()
    if not path:
        return frozenset()
    try:
        return load_allowlist(Path(path))
    except OSError as exc:
        typer.echo(f"cannot read allow-list {path} ({ENV_ALLOWLIST}): {exc.strerror}", err=True)
        raise typer.Exit(2) from None


def _describe(result: IdCheck) -> list[str]:
    status = "valid" if result.valid else "invalid"
    parts = [result.display_code, status, result.scheme or "scheme undecided"]
    if result.kind is not None:
        parts.append(result.kind.value)
    if result.division is not None:
        parts.append(f"division {result.division.county}")
    lines = ["  ".join(parts)]
    lines += [f"  error: {e}" for e in result.errors]
    lines += [f"  warning: {w}" for w in result.warnings]
    return lines


@app.command()
def check(
    codes: Annotated[list[str], typer.Argument(help="USCCs or resident ID numbers.")],
    json_output: Annotated[
        bool, typer.Option("--json", help="Print a JSON array, one object per code.")
    ] = False,
    kind: Annotated[
        KindHint | None,
        typer.Option("--kind", help="Say what the subjects are when a code is ambiguous."),
    ] = None,
) -> None:
    """Check each code; exit 0 only if all are valid, else 1."""
    allowlist = _allowlist()
    hint = None if kind is None else kind.value
    results = [check_identifier(code, hint, allowlist) for code in codes]
    if json_output:
        typer.echo(json.dumps([r.to_json() for r in results], ensure_ascii=False, indent=2))
    else:
        for result in results:
            for line in _describe(result):
                typer.echo(line)
    if not all(r.valid for r in results):
        raise typer.Exit(1)
