"""`trustledger serve` and `trustledger keys create`: the HTTP API and its keys."""

from __future__ import annotations

from typing import Annotated

import typer

from trustledger.cli.common import DbOption, console, context, out, settings_for

keys_app = typer.Typer(help="API keys (shown once, stored only as a hash).", no_args_is_help=True)


def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    db: DbOption = None,
) -> None:
    """Serve the HTTP API (/v1, OpenAPI at /openapi.json) with uvicorn."""
    import uvicorn

    from trustledger.api import create_app

    context(db).close()  # a clean error for a missing or unsupported database
    # access log off: query strings may carry resident ID numbers, never to be logged
    uvicorn.run(create_app(settings_for(db)), host=host, port=port, access_log=False)


@keys_app.command("create")
def keys_create(
    role: Annotated[str, typer.Option(help="Role of the key: checker.")] = "checker",
    actions: Annotated[
        str, typer.Option(help="The actions the key may check, comma-separated (A,B).")
    ] = "",
    name: Annotated[str, typer.Option(help="Who uses the key (the agency).")] = "",
    db: DbOption = None,
) -> None:
    """Create an API key and print it once: only its hash is kept."""
    from trustledger.app import keys

    with context(db) as ctx:
        key = keys.create(ctx, role, name, [a.strip() for a in actions.split(",") if a.strip()])
    out.print(key)
    console.print("Keep this key now: it is not stored and cannot be shown again.")
