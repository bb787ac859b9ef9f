"""`trustledger check SUBJECT ACTION`: may this subject do this action? With reasons.

Exit codes are the answer, so scripts need not parse output: 0 allow (with or without
incentives), 3 deny, 4 unknown (cannot be answered; never read it as allow), 2 usage or
configuration problems. Only this subject's state rows are read.
"""

from __future__ import annotations

from typing import Annotated

import typer

from trustledger.cli.common import (
    DbOption,
    JsonOption,
    KnownAtOption,
    OnOption,
    context,
    print_json,
    say_line,
    when_for,
)


def check(
    subject: Annotated[
        str,
        typer.Argument(help="USCC, resident ID number (hashed, never stored) or person id."),
    ],
    action: Annotated[str, typer.Argument(help="Action code, e.g. air_travel.")],
    known_at: KnownAtOption = None,
    on: OnOption = None,
    json_output: JsonOption = False,
    db: DbOption = None,
) -> None:
    """May SUBJECT do ACTION? Exit 0 allow, 3 deny, 4 unknown."""
    from trustledger.app.checks import check_subject

    with context(db) as ctx:
        answer = check_subject(ctx, subject, action, when_for(ctx, known_at, on))
    decision = answer.decision
    if json_output:
        # subject is the keyed hash for a person: the clear ID number is never printed
        print_json(answer.to_json())
    else:
        say_line(f"{decision.status.upper()}  {answer.subject_id}  {action}  "
                  f"on {answer.when.on.isoformat()}")  # fmt: skip
        if decision.why:
            say_line(f"  why: {decision.why}")
        for r in decision.reasons:
            if "exception" in r:  # a court's grant lifting a restriction (SPC art. 3)
                say_line(
                    f"  exception {r['document_number']} by {r['authority']}, "
                    f"{r['valid_from']} → {r['valid_until']}"
                    + (f", measure {r['measure']}" if r["measure"] else "")
                    + (f", restriction through {r['entity']}" if r["entity"] else "")
                )
                continue
            say_line(
                f"  {r['kind']} {r['measure']} ({r['rulebook']}), list {r['list']}, "
                f"{r['start']} → {r['end'] or 'until removed from the list'}, by {r['agency']}"
            )
            if "via" in r:
                role = r["via"]["role"].replace("_", " ")
                say_line(f"    as {role} of {r['via']['subject']}, whose records name them")
            say_line(f"    records: {', '.join(r['records']) or '—'}")
        say_line(f"  {answer.when.line()}; ledger size {decision.ledger_size:,}")
    raise typer.Exit(answer.exit_code)
