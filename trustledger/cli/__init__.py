"""`trustledger`: the command line. Thin: parse, call ``trustledger.app``, render.

Startup is kept short: a command's module is imported only when that command runs (or
when help lists it), so ``trustledger --version`` imports Typer and nothing of ours
beyond this file. Errors of the application layer (``TrustledgerError``) are reported
here, once for every command: a one-line message and the error's exit code.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperGroup

if TYPE_CHECKING:
    # Typer vendors its own click
    from typer._click import Command, Context

# name → (module, attribute, kind): "group" is a Typer app, "command" a function
_COMMANDS: dict[str, tuple[str, str, str]] = {
    "init": ("trustledger.cli.commands", "init", "command"),
    "ingest": ("trustledger.cli.commands", "ingest", "command"),
    "verify": ("trustledger.cli.commands", "verify", "command"),
    "rebuild": ("trustledger.cli.commands", "rebuild", "command"),
    "db": ("trustledger.cli.db", "app", "group"),
    "demo": ("trustledger.cli.commands", "demo", "command"),
    "evaluate": ("trustledger.cli.commands", "evaluate", "command"),
    "compare": ("trustledger.cli.commands", "compare", "command"),
    "screen": ("trustledger.cli.commands", "screen", "command"),
    "profile": ("trustledger.cli.commands", "profile", "command"),
    "check": ("trustledger.cli.check", "check", "command"),
    "serve": ("trustledger.cli.serve", "serve", "command"),
    "keys": ("trustledger.cli.serve", "keys_app", "group"),
    "state": ("trustledger.cli.state", "app", "group"),
    "ledger": ("trustledger.cli.ledger", "app", "group"),
    "witness": ("trustledger.cli.witness", "app", "group"),
    "ids": ("trustledger.cli.ids", "app", "group"),
    "catalogue": ("trustledger.cli.catalogue", "app", "group"),
    "rulebook": ("trustledger.cli.rulebook", "app", "group"),
    "monitor": ("trustledger.cli.monitor", "app", "group"),
    "notices": ("trustledger.cli.notices", "app", "group"),
    "objection": ("trustledger.cli.dueprocess", "objection_app", "group"),
    "repair": ("trustledger.cli.dueprocess", "repair_app", "group"),
    "hold": ("trustledger.cli.dueprocess", "hold_app", "group"),
    "export": ("trustledger.cli.export", "export", "command"),
    "report": ("trustledger.cli.report", "app", "group"),
}


def _report(message: str, code: int) -> typer.Exit:
    from rich.console import Console

    # markup off: the message may quote input, which can contain "[...]"
    Console(stderr=True).print(f"error: {message}", markup=False, highlight=False,
                               soft_wrap=True)  # fmt: skip
    return typer.Exit(code)


class LazyGroup(TyperGroup):
    """Commands built on first use; TrustledgerError mapped to its exit code, once."""

    def list_commands(self, ctx: Context) -> list[str]:
        return list(_COMMANDS)

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        if cmd_name not in self.commands and cmd_name in _COMMANDS:
            module, attribute, kind = _COMMANDS[cmd_name]
            target = getattr(importlib.import_module(module), attribute)
            command: Command
            if kind == "group":
                command = typer.main.get_group(target)  # always a group, even of one command
            else:
                single = typer.Typer()
                single.command(name=cmd_name)(target)
                command = typer.main.get_command(single)
            command.name = cmd_name
            self.commands[cmd_name] = command
        return self.commands.get(cmd_name)

    def invoke(self, ctx: Context) -> Any:
        from trustledger.app.errors import TrustledgerError

        try:
            return super().invoke(ctx)
        except TrustledgerError as exc:
            raise _report(str(exc), exc.exit_code) from None
        except Exception as exc:
            # configuration problems raised below the application layer: a message too
            from trustledger.app.ledger import configuration_error

            message = configuration_error(exc)
            if message is not None:
                raise _report(message, 2) from None
            from trustledger.app.errors import Unavailable, storage_failure

            message = storage_failure(exc)
            if message is not None:
                raise _report(message, Unavailable.exit_code) from None
            raise


app = typer.Typer(
    cls=LazyGroup,
    help="trustledger: a public credit information platform with a tamper-evident ledger.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        from trustledger import __version__

        sys.stdout.write(f"trustledger {__version__}\n")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", is_eager=True, callback=_version, help="Print the version."),
    ] = False,
) -> None:
    """trustledger: a public credit information platform with a tamper-evident ledger."""


def main() -> None:
    os.environ.setdefault("COLUMNS", "120")
    app()
