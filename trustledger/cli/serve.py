"""`trustledger serve` and `trustledger keys create`: the HTTP API and its keys.

Command functions only; they are registered on the Typer app in trustledger/cli/__init__.py.
"""

from __future__ import annotations

from typing import Annotated

import typer

from trustledger.cli.common import DbOption, console, open_db, out, settings_for


def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    db: DbOption = None,
) -> None:
    """Serve the HTTP API (/v1, OpenAPI at /openapi.json) with uvicorn."""
    import uvicorn

    from trustledger.api import create_app
    from trustledger.ids import PersonKeyError
    from trustledger.ledger.store import StoreError

    settings = settings_for(db)
    open_db(settings).close()  # a clean error for a missing or unsupported database
    try:
        app = create_app(settings)
        # access log off: query strings may carry resident ID numbers, never to be logged
        uvicorn.run(app, host=host, port=port, access_log=False)
    except (StoreError, PersonKeyError) as exc:
        console.print(f"error: {exc}", markup=False, highlight=False)
        raise typer.Exit(2) from None


def keys_create(
    role: Annotated[str, typer.Option(help="Role of the key: checker.")] = "checker",
    actions: Annotated[
        str, typer.Option(help="The actions the key may check, comma-separated (A,B).")
    ] = "",
    name: Annotated[str, typer.Option(help="Who uses the key (the agency).")] = "",
    db: DbOption = None,
) -> None:
    """Create an API key and print it once: only its hash is kept."""
    from trustledger.access import ApiKeyError, create_key

    if role != "checker":
        console.print(f"error: unknown role {role!r} (known: checker)", markup=False)
        raise typer.Exit(2)
    store = open_db(settings_for(db))
    try:
        key = create_key(
            store, "checker", name, [a.strip() for a in actions.split(",") if a.strip()]
        )
    except ApiKeyError as exc:
        console.print(f"error: {exc}", markup=False, highlight=False)
        raise typer.Exit(2) from None
    finally:
        store.close()
    out.print(key)
    console.print("Keep this key now: it is not stored and cannot be shown again.")
