"""`trustledger check SUBJECT ACTION`: may this subject do this action? With reasons.

Exit codes are the answer, so scripts need not parse output: 0 allow (with or without
incentives), 3 deny, 4 unknown (cannot be answered; never read it as allow), 2 usage or
configuration problems.
"""

from __future__ import annotations

from typing import Annotated

import typer

from trustledger.cli.common import (
    DbOption,
    JsonOption,
    console,
    open_db,
    out,
    print_json,
    settings_for,
)
from trustledger.ids import PersonKeyError
from trustledger.ledger.store import StoreError

EXIT_BY_STATUS = {"allow": 0, "allow_with_incentives": 0, "deny": 3, "unknown": 4}


def check(
    subject: Annotated[
        str,
        typer.Argument(help="USCC, resident ID number (hashed, never stored) or person id."),
    ],
    action: Annotated[str, typer.Argument(help="Action code, e.g. air_travel.")],
    at: Annotated[
        str | None,
        typer.Option(
            help="Judge on this day (YYYY-MM-DD or ISO date-time; default today). "
            "The answer comes from the current evaluation state."
        ),
    ] = None,
    json_output: JsonOption = False,
    db: DbOption = None,
) -> None:
    """May SUBJECT do ACTION? Exit 0 allow, 3 deny, 4 unknown."""
    from trustledger.evaluate.service import resolve_instant, resolve_subject
    from trustledger.intake.factory import person_keyer
    from trustledger.sanctions.check import CheckIndex

    settings = settings_for(db)
    try:
        subject_id = resolve_subject(subject, person_keyer(settings))
        _, on = resolve_instant(at, settings.timezone)
    except (ValueError, PersonKeyError) as exc:
        # markup off: the message may quote the input, which can contain "[...]"
        console.print(f"error: {exc}", markup=False, highlight=False)
        raise typer.Exit(2) from None
    store = open_db(settings)
    try:
        index = CheckIndex.load(store, timezone=settings.timezone)
    except StoreError as exc:
        console.print(f"error: {exc}", markup=False, highlight=False)
        raise typer.Exit(2) from None
    finally:
        store.close()
    decision = index.check(subject_id, action, on)
    if json_output:
        # subject_id is the keyed hash for a person: the clear ID number is never printed
        print_json({"subject": subject_id, "action": action, "on": on.isoformat(),
                    **decision.to_json()})  # fmt: skip
    else:
        out.print(f"{decision.status.upper()}  {subject_id}  {action}  on {on.isoformat()}")
        if decision.why:
            out.print(f"  why: {decision.why}")
        for r in decision.reasons:
            out.print(
                f"  {r['kind']} {r['measure']} ({r['rulebook']}), list {r['list']}, "
                f"{r['start']} → {r['end'] or 'until removed from the list'}, by {r['agency']}"
            )
            if "via" in r:
                role = r["via"]["role"].replace("_", " ")
                out.print(f"    as {role} of {r['via']['subject']}, whose records name them")
            out.print(f"    records: {', '.join(r['records']) or '—'}")
        out.print(f"  as of ledger size {decision.ledger_size:,}")
    raise typer.Exit(EXIT_BY_STATUS[decision.status])
