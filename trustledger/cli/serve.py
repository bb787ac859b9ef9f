"""`trustledger serve` and `trustledger keys create|list|revoke`: the HTTP API and its keys."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from trustledger.cli.common import DbOption, JsonOption, console, context, out, settings_for

keys_app = typer.Typer(help="API keys (shown once, stored only as a hash).", no_args_is_help=True)


def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    replica: Annotated[
        bool,
        typer.Option(help="Answer reads only and follow the writer's database as it commits "
                     "(run many behind a load balancer)."),
    ] = False,
    snapshot: Annotated[
        Path | None,
        typer.Option(help="Start the check index from this state snapshot "
                     "(`trustledger state snapshot`), then catch up."),
    ] = None,
    db: DbOption = None,
) -> None:
    """Serve the portal (/) and the HTTP API (/v1, OpenAPI at /openapi.json, docs at
    /docs) with uvicorn."""
    import uvicorn

    from trustledger.api.serving import server_config
    from trustledger.portal.server import create_server

    context(db).close()  # a clean error for a missing or unsupported database
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    role = "replica (reads only)   " if replica else ""
    console.print(f"{role}portal: http://{shown}:{port}/   API: http://{shown}:{port}/v1 "
                  "(docs at /docs, OpenAPI at /openapi.json)   Ctrl-C stops it",
                  soft_wrap=True)  # fmt: skip
    # access log off: query strings may carry resident ID numbers, never to be logged
    app = create_server(settings_for(db), replica=replica, snapshot=snapshot)
    config = server_config(app, host, port, access_log=False)
    uvicorn.Server(config).run()


@keys_app.command("create")
def keys_create(
    role: Annotated[
        str,
        typer.Option(help="issuer, operator, reviewer, checker, subject or auditor."),
    ] = "checker",
    name: Annotated[str, typer.Option(help="Who uses the key (the agency, the person).")] = "",
    actions: Annotated[str, typer.Option(help="A checker's actions, comma-separated (A,B).")] = "",
    authority: Annotated[
        str | None, typer.Option(help="An issuer's or reviewer's authority (its USCC).")
    ] = None,
    subject: Annotated[
        str | None,
        typer.Option(
            help="A subject key's subject: USCC, resident ID number (hashed, never kept) or "
            "person id."
        ),
    ] = None,
    expires: Annotated[
        str | None, typer.Option(help="Refused after this instant (ISO 8601 with offset).")
    ] = None,
    db: DbOption = None,
) -> None:
    """Create an API key and print it once: only its hash is kept."""
    from trustledger.app import keys

    with context(db) as ctx:
        key = keys.create(ctx, role, name, [a.strip() for a in actions.split(",") if a.strip()],
                          authority=authority, subject=subject, expires=expires)  # fmt: skip
    out.print(key)
    console.print("Keep this key now: it is not stored and cannot be shown again.")


@keys_app.command("list")
def keys_list(db: DbOption = None, json_output: JsonOption = False) -> None:
    """Every key's principal: id, role, name, scope, expiry, revoked (never the key)."""
    from trustledger.app import keys

    with context(db) as ctx:
        found = keys.list_keys(ctx)
    if json_output:
        import json

        out.print(json.dumps([p.to_json() for p in found], ensure_ascii=False))
        return
    from rich.table import Column, Table

    table = Table("role", "name", "scope", "expires", "revoked")
    table.columns.insert(0, Column("id", no_wrap=True, min_width=18))
    for p in found:
        scope = ",".join(sorted(p.actions)) or p.authority or p.subject or ""
        table.add_row(p.id, p.role, p.name, scope, p.expires or "", "yes" if p.revoked else "")
    from trustledger.cli.common import real

    real(out).print(table)


@keys_app.command("revoke")
def keys_revoke(
    principal_id: Annotated[str, typer.Argument(help="The principal id (keys list).")],
    db: DbOption = None,
) -> None:
    """Revoke a key at once (a running server refuses it within a second)."""
    from trustledger.app import keys

    with context(db) as ctx:
        revoked = keys.revoke(ctx, principal_id)
    console.print(f"revoked {revoked.id} ({revoked.role}, {revoked.name})", markup=False)


@keys_app.command("rotate-log-key")
def keys_rotate_log_key(db: DbOption = None, json_output: JsonOption = False) -> None:
    """Replace the log's checkpoint key (TRUSTLEDGER_LOG_KEY_FILE): the old key signs the
    head a last time, a link note signed by both keys names the new one, the old public
    key is kept (its checkpoints stay verifiable), the new key signs from then on."""
    from trustledger.app import checkpoints

    with context(db) as ctx:
        rotation = checkpoints.rotate_log_key(ctx)
    if json_output:
        import json

        out.print(json.dumps(rotation.to_json()))
        return
    console.print(f"retired {rotation.old_key} at tree size {rotation.size:,}", markup=False)
    out.print(rotation.new_key, markup=False)
    console.print("Publish the new key; the link note (signed by both keys):", markup=False)
    out.print(rotation.link_note, markup=False, end="")


@keys_app.command("rotate-person-key")
def keys_rotate_person_key(db: DbOption = None, json_output: JsonOption = False) -> None:
    """Make a new person key current (written 0600 beside the key file as <file>.vN); the
    old key is kept: a person is linked to the new key the next time their ID number is
    presented. Keep every key file backed up outside the database."""
    from trustledger.app import person_keys

    with context(db) as ctx:
        rotation = person_keys.rotate(ctx)
    if json_output:
        import json

        out.print(json.dumps(rotation.to_json()))
        return
    console.print(f"retired person key version {rotation.old_version} (fingerprint "
                  f"{rotation.old_fingerprint}), kept for lookups", markup=False)  # fmt: skip
    console.print(f"current person key version {rotation.version} (fingerprint "
                  f"{rotation.fingerprint}) in {rotation.path}", markup=False)  # fmt: skip
    console.print("Restart running servers so they use it; back the new file up.", markup=False)


@keys_app.command("person-key-status")
def keys_person_key_status(db: DbOption = None, json_output: JsonOption = False) -> None:
    """The person-key versions on record, whether each key file is kept, and how many
    persons whose id an older key derived are linked to the current key or still need it."""
    from trustledger.app import person_keys

    with context(db) as ctx:
        status = person_keys.status(ctx)
    if json_output:
        import json

        out.print(json.dumps(status.to_json()))
        return
    from rich.table import Table

    table = Table("version", "fingerprint", "key file", "persons", "linked", "unlinked")
    for v in status.versions:
        current = v.version == status.current
        table.add_row(
            f"{v.version}{' (current)' if current else ''}", v.fingerprint or "?",
            f"{v.key_file}{'' if v.kept else ' (destroyed)'}", str(v.persons),
            "-" if current else str(v.linked), "-" if current else str(v.unlinked),
        )  # fmt: skip
    out.print(table)
    lost = sum(v.unlinked for v in status.versions if not v.kept)
    if lost:
        console.print(f"{lost} persons of destroyed key versions can no longer be found by "
                      "ID number (their records remain, under their person ids)",
                      markup=False)  # fmt: skip
