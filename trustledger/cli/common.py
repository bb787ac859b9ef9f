"""What every command shares: settings, the store, the consoles, common options."""

from __future__ import annotations

import dataclasses
import json
import sys
from datetime import date
from typing import Annotated, Any

import typer
from rich.console import Console

from trustledger.ledger.store import Store, StoreError, open_store
from trustledger.settings import Settings

console = Console(stderr=True)
out = Console(highlight=False, markup=False, soft_wrap=True)  # data: no markup, no wrapping

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="Database URL (sqlite:///path or postgresql://…); "
        "default $TRUSTLEDGER_DB or sqlite:///./trustledger.db",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for machines.")]


def settings_for(db: str | None) -> Settings:
    settings = Settings.from_env()
    if db:
        settings = dataclasses.replace(settings, db_url=db)
    return settings


def open_db(settings: Settings, must_exist: bool = True) -> Store:
    try:
        store = open_store(settings.db_url)
        if must_exist:
            store.meta()
            # tables added by later versions are created here; nothing existing changes
            store.init()
    except StoreError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    return store


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, ensure_ascii=False, indent=2) + "\n")


def instant_for(at: str | None, settings: Settings) -> tuple[int | None, date]:
    """`--at` as (ledger time, calendar day), or a clean exit naming what is wrong."""
    from trustledger.evaluate.service import resolve_instant

    try:
        return resolve_instant(at, settings.timezone)
    except ValueError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
