"""What every command shares: the context, the consoles, common options, JSON output."""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

from trustledger.settings import Settings

if TYPE_CHECKING:
    from rich.console import Console

    from trustledger.app.context import Context
    from trustledger.app.time import When


class _LazyConsole:
    """A Rich console made on first use: commands that print plain lines (check, profile)
    never import Rich, which keeps their start-up short."""

    def __init__(self, **options: Any) -> None:
        self._options = options
        self._console: Console | None = None
        self._columns: str | None = None

    def real(self) -> Console:
        # Rich reads the terminal's width (COLUMNS) once, when the console is made: made
        # again when it changed, so commands run one after another in one process (tests)
        # each get the width they were run with
        columns = os.environ.get("COLUMNS")
        if self._console is None or columns != self._columns:
            from rich.console import Console

            self._console = Console(**self._options)
            self._columns = columns
        return self._console

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real(), name)


console: Console = _LazyConsole(stderr=True)  # type: ignore[assignment]
# data: no markup, no wrapping
out: Console = _LazyConsole(highlight=False, markup=False, soft_wrap=True)  # type: ignore[assignment]


def real(lazy: Console) -> Console:
    """The Rich console itself, for Rich objects that take one (Progress, Live)."""
    return lazy.real() if isinstance(lazy, _LazyConsole) else lazy


def say_line(text: str = "") -> None:
    """A plain line on stdout, without Rich."""
    sys.stdout.write(text + "\n")


DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="Database URL (sqlite:///path or postgresql://…); "
        "default $TRUSTLEDGER_DB or sqlite:///./trustledger.db",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for machines.")]
KnownAtOption = Annotated[
    str | None,
    typer.Option(
        "--known-at",
        help="Ledger time: answer with what the platform knew at this instant (YYYY-MM-DD "
        "is the end of that day; or an ISO date-time). Default: now.",
    ),
]
OnOption = Annotated[
    str | None,
    typer.Option(
        "--on",
        help="The legal day on which standing is judged (YYYY-MM-DD, on the configured "
        "calendar). Default: today.",
    ),
]


def say(console: Console, text: str) -> None:
    """One line printed literally: messages quote input, which may contain "[...]"."""
    console.print(text, markup=False, highlight=False, soft_wrap=True)


def settings_for(db: str | None) -> Settings:
    settings = Settings.from_env()
    if db:
        settings = dataclasses.replace(settings, db_url=db)
    return settings


def context(db: str | None, *, must_exist: bool = True) -> Context:
    """The use cases' context for this command (errors are TrustledgerError: the group
    reports them once)."""
    from trustledger.app.context import Context

    return Context.open(settings_for(db), must_exist=must_exist)


def when_for(ctx: Context, known_at: str | None, on: str | None) -> When:
    from trustledger.app.time import when

    return when(known_at, on, timezone=ctx.settings.timezone, now_us=ctx.now_us(),
                today=ctx.today())  # fmt: skip


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, ensure_ascii=False, indent=2, default=str) + "\n")


def print_fields(result: dict[str, Any]) -> None:
    for key, value in result.items():
        if isinstance(value, list):
            out.print(f"{key}:" + "".join(f"\n  {v}" for v in value))
        else:
            out.print(f"{key}: {value}")
