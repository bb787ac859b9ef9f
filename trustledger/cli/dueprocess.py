"""`trustledger objection …` and `trustledger repair …`: due process from the command line.

Thin: parse, call ``trustledger.app.dueprocess``, render. Every step names the principal
acting (`--as`, a key's id from `trustledger keys list`), never a free-text name.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from trustledger.cli.common import DbOption, JsonOption, context, print_json, say_line

if TYPE_CHECKING:
    from trustledger.app.dueprocess import Step

objection_app = typer.Typer(
    help="Objections to records, listings, publicity periods and repair decisions.",
    no_args_is_help=True,
)
repair_app = typer.Typer(help="Credit repair applications and decisions.", no_args_is_help=True)
hold_app = typer.Typer(help="Holding a pending listing for human review.", no_args_is_help=True)

AsOption = Annotated[
    str, typer.Option("--as", help="The acting principal's id (trustledger keys list).")
]
ReasonsOption = Annotated[str, typer.Option(help="The reasons, in words.")]


def _show(step: Step, json_output: bool) -> None:
    if json_output:
        print_json(step.to_json())
        return
    row = step.row._asdict()
    for key, value in row.items():
        if value is not None:
            say_line(f"{key}: {value}")
    if step.reevaluated:
        say_line(f"re-evaluated {step.reevaluated} subject(s): checks see the change now")


@objection_app.command("file")
def objection_file(
    record: Annotated[str, typer.Argument(help="The record objected to.")],
    actor: AsOption,
    ground: Annotated[
        str, typer.Option(help="content, publicity, listing or repair_decision.")
    ] = "content",
    reasons: ReasonsOption = "",
    evidence: Annotated[
        list[str] | None, typer.Option(help="SHA-256 digest of a piece of evidence (repeat).")
    ] = None,
    db: DbOption = None,
    json_output: JsonOption = False,
) -> None:
    """Object to RECORD; it and what rests on it show `under objection` until decided."""
    from trustledger.app import dueprocess

    with context(db) as ctx:
        step = dueprocess.file_objection(
            ctx, dueprocess.principal(ctx, actor), record_id=record, ground=ground,
            reasons=reasons, evidence=evidence or [],
        )  # fmt: skip
    _show(step, json_output)


@objection_app.command("decide")
def objection_decide(
    objection: Annotated[str, typer.Argument(help="The objection's id.")],
    actor: AsOption,
    outcome: Annotated[str, typer.Option(help="upheld or dismissed.")],
    reasons: ReasonsOption = "",
    db: DbOption = None,
    json_output: JsonOption = False,
) -> None:
    """A reviewer's decision: upheld withdraws the record at once; dismissed keeps it."""
    from trustledger.app import dueprocess

    with context(db) as ctx:
        step = dueprocess.decide_objection(
            ctx, dueprocess.principal(ctx, actor), objection_id=objection, outcome=outcome,
            reasons=reasons,
        )  # fmt: skip
    _show(step, json_output)


@objection_app.command("overdue")
def objection_overdue(db: DbOption = None, json_output: JsonOption = False) -> None:
    """Open objections and repair applications past their deadline (exit 1 if any)."""
    from trustledger.app import dueprocess

    with context(db) as ctx:
        late = dueprocess.overdue(ctx)
    if json_output:
        print_json([row._asdict() for row in late])
    elif not late:
        say_line("nothing overdue")
    for row in late if not json_output else []:
        say_line(f"{row.id}  record {row.record_id}  due {row.deadline}  ({row.status})")
    raise typer.Exit(1 if late else 0)


@repair_app.command("apply")
def repair_apply(
    record: Annotated[str, typer.Argument(help="The record to repair.")],
    actor: AsOption,
    correction: Annotated[str, typer.Option(help="SHA-256 of the proof of correction.")],
    obligations: Annotated[str, typer.Option(help="SHA-256 of the proof obligations are met.")],
    commitment: Annotated[str, typer.Option(help="SHA-256 of the signed credit commitment.")],
    db: DbOption = None,
    json_output: JsonOption = False,
) -> None:
    """Apply for credit repair of RECORD (refused before its publicity minimum, naming the
    first day it becomes possible)."""
    from trustledger.app import dueprocess

    with context(db) as ctx:
        step = dueprocess.apply_repair(
            ctx, dueprocess.principal(ctx, actor), record_id=record, correction=correction,
            obligations=obligations, commitment=commitment,
        )  # fmt: skip
    _show(step, json_output)


@repair_app.command("decide")
def repair_decide(
    repair: Annotated[str, typer.Argument(help="The repair application's id.")],
    actor: AsOption,
    outcome: Annotated[str, typer.Option(help="granted or refused.")],
    reasons: ReasonsOption = "",
    db: DbOption = None,
    json_output: JsonOption = False,
) -> None:
    """A reviewer's decision: granted stops the record counting from today."""
    from trustledger.app import dueprocess

    with context(db) as ctx:
        step = dueprocess.decide_repair(
            ctx, dueprocess.principal(ctx, actor), repair_id=repair, outcome=outcome,
            reasons=reasons,
        )  # fmt: skip
    _show(step, json_output)


@hold_app.command("place")
def hold_place(
    subject: Annotated[str, typer.Argument(help="The subject's ledger id.")],
    rulebook: Annotated[str, typer.Option(help="The rulebook's id.")],
    list_id: Annotated[str, typer.Option("--list", help="The list's id.")],
    actor: AsOption,
    reasons: ReasonsOption = "",
    db: DbOption = None,
    json_output: JsonOption = False,
) -> None:
    """An operator holds SUBJECT's pending listing: it stays pending until released."""
    from trustledger.app import dueprocess

    with context(db) as ctx:
        step = dueprocess.hold_listing(
            ctx, dueprocess.principal(ctx, actor), subject_id=subject, rulebook_id=rulebook,
            list_id=list_id, reasons=reasons,
        )  # fmt: skip
    _show(step, json_output)


@hold_app.command("release")
def hold_release(
    hold: Annotated[str, typer.Argument(help="The hold's id.")],
    actor: AsOption,
    reasons: ReasonsOption = "",
    db: DbOption = None,
    json_output: JsonOption = False,
) -> None:
    """Release a hold after review: the listing takes effect from today at the earliest."""
    from trustledger.app import dueprocess

    with context(db) as ctx:
        step = dueprocess.release_hold(
            ctx, dueprocess.principal(ctx, actor), hold_id=hold, reasons=reasons
        )
    _show(step, json_output)
