"""`trustledger notices …`: a subject's notices, delivering them, and where they go.

Thin: parse, call ``trustledger.app.notices``, render. A resident ID number given as
SUBJECT is keyed by the application layer and never printed: output names persons by
their keyed id only.
"""

from __future__ import annotations

from typing import Annotated

import typer

from trustledger.cli.common import DbOption, JsonOption, context, print_json, say_line

app = typer.Typer(help="Adverse-action notices to subjects.", no_args_is_help=True)

SubjectArgument = Annotated[
    str, typer.Argument(help="USCC, resident ID number (hashed, never stored) or person id.")
]


@app.command("list")
def list_(
    subject: SubjectArgument,
    text: Annotated[
        bool, typer.Option("--text", help="Print each notice's full text (Chinese, English).")
    ] = False,
    json_output: JsonOption = False,
    db: DbOption = None,
) -> None:
    """SUBJECT's notices, oldest first, with when and how each was delivered."""
    from trustledger.app import notices

    with context(db) as ctx:
        found = notices.list_notices(ctx, subject)
        bodies = [notices.rendered_text(ctx, n.notice.id) for n in found.notices] if text else []
    if json_output:
        print_json(found.to_json())
        return
    say_line(f"{len(found.notices)} notices to {found.subject_id}")
    for i, stored in enumerate(found.notices):
        n = stored.notice
        state = f"delivered {stored.delivered_at} by {stored.channel}" if stored.delivered_at \
            else "undelivered"  # fmt: skip
        say_line(f"  {n.id}  {n.kind.value}  {n.created}  {state}")
        if text:
            say_line("")
            for line in bodies[i].splitlines():
                say_line(f"    {line}")
            say_line("")


@app.command()
def deliver(
    limit: Annotated[int, typer.Option(help="At most this many notices in one run.")] = 1000,
    json_output: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Send the undelivered notices with the configured sender (TRUSTLEDGER_NOTICE_SENDER:
    outbox or smtp). Exit 5 when some could not be sent (they stay undelivered)."""
    from trustledger.app import notices

    with context(db) as ctx:
        done = notices.deliver(ctx, limit=limit)
    if json_output:
        print_json(done.to_json())
    else:
        c = done.counts
        say_line(f"{c.delivered} delivered by {done.channel}, {c.failed} failed, "
                 f"{c.no_address} without an address (kept in the outbox)")  # fmt: skip
    if done.counts.failed:
        raise typer.Exit(5)


@app.command()
def address(
    subject: SubjectArgument,
    email: Annotated[str, typer.Argument(help="Where SUBJECT's notices are sent.")],
    json_output: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Set where SUBJECT's notices are sent (replaces the address set before)."""
    from trustledger.app import notices

    with context(db) as ctx:
        done = notices.set_address(ctx, subject, email)
    if json_output:
        print_json(done.to_json())
    else:
        say_line(f"notices to {done.subject_id} go to {done.address}")


@app.command("scan")
def scan(
    after: Annotated[
        str | None,
        typer.Option(help="Listings that took effect after this day (YYYY-MM-DD; default a "
                     "week ago) and by today."),
    ] = None,
    json_output: JsonOption = False,
    db: DbOption = None,
) -> None:  # fmt: skip
    """Tell the subjects whose pending listings took effect since AFTER (their notice
    period ended): run daily; each is told once."""
    from datetime import date

    from trustledger.app import notices
    from trustledger.app.errors import BadInput

    try:
        day = None if after is None else date.fromisoformat(after)
    except ValueError:
        raise BadInput(f"--after {after!r} is not a date (YYYY-MM-DD)") from None
    with context(db) as ctx:
        found = notices.scan(ctx, after=day)
    if json_output:
        print_json(found.to_json())
        return
    say_line(
        f"{found.notices} notice(s) to {found.subjects} subject(s) whose listings took effect "
        f"after {found.after} and by {found.through}"
    )
