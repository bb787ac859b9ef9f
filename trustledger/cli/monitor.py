"""`trustledger monitor …`: receive HJ 212 traffic, register points, judge, confirm.

Thin: each command parses, calls ``trustledger.app.monitoring`` (points) or
``trustledger.app.receiving`` (traffic), and renders; refusals are ``TrustledgerError``s,
reported once by the command group. ``listen`` keeps only its loop here: the signals and
the wait.
"""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from trustledger.cli.common import DbOption, JsonOption, console, context, out, print_json

if TYPE_CHECKING:
    from trustledger.app.monitoring import PointTable

app = typer.Typer(help="Third-party emission monitoring (HJ 212).", no_args_is_help=True)


@app.command()
def listen(
    hj212: Annotated[
        str | None, typer.Option("--hj212", help="HOST:PORT for loggers' TCP connections.")
    ] = None,
    mqtt: Annotated[
        str | None, typer.Option("--mqtt", help="Broker URL, e.g. mqtt://127.0.0.1:1883.")
    ] = None,
    topic: Annotated[
        list[str] | None, typer.Option("--topic", help="MQTT topic to subscribe (repeatable).")
    ] = None,
    client_id: Annotated[
        str | None,
        typer.Option(
            help="MQTT client id: with one, the broker keeps the session and redelivers what "
            "was published while the bridge was away; without one, it does not."
        ),
    ] = None,
    db: DbOption = None,
) -> None:
    """Receive packets until stopped (Ctrl-C or SIGTERM); each is stored before it is
    acknowledged (with TRUSTLEDGER_NATS_URL: published to JetStream, and acknowledged once
    JetStream stored it; `monitor consume` stores it)."""
    from trustledger.app import receiving

    plan = receiving.listen_plan(hj212, mqtt, topic or (), client_id)
    with context(db) as ctx:
        listener = receiving.Listener(ctx, plan)

        async def run() -> None:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            try:
                for line in await listener.start(stop):
                    console.print(line, markup=False)
                await stop.wait()
            finally:
                await listener.stop()

        try:
            asyncio.run(run())
        finally:
            listener.close()
    summary = listener.summary()
    console.print(
        f"stopped: {summary['packets']} packets, {summary['valid']} valid "
        f"({summary['accepted']} new, {summary['duplicates']} duplicates), "
        f"{summary['rejected_total']} rejected, {summary['acknowledged']} acknowledged",
        markup=False,
    )


@app.command()
def consume(
    batch: Annotated[int, typer.Option(help="Messages fetched and stored per transaction.")] = 500,
    judge_every: Annotated[
        float,
        typer.Option(
            help="Judge the points whose frames this consumer took, after a batch, at "
            "most this often (seconds; 0: after every batch)."
        ),
    ] = 60.0,
    no_judge: Annotated[
        bool, typer.Option("--no-judge", help="Only store (`monitor judge` judges).")
    ] = False,
    until_idle: Annotated[
        bool,
        typer.Option(
            "--until-idle",
            help="Stop once nothing is pending and nothing delivered is unacknowledged.",
        ),
    ] = False,
    db: DbOption = None,
) -> None:
    """Store the frames receivers published to JetStream (TRUSTLEDGER_NATS_URL), each once,
    acknowledging them to JetStream after they are committed; until stopped (Ctrl-C or
    SIGTERM). Exit 5 if JetStream cannot be reached."""
    from trustledger.app import streaming

    plan = streaming.consume_plan(batch, judge_every, no_judge, until_idle)
    with context(db) as ctx:
        consumer = streaming.Consumer(ctx, plan)

        async def run() -> None:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            for line in await consumer.start():
                console.print(line, markup=False)
            await consumer.run(stop)

        try:
            asyncio.run(run())
        finally:
            consumer.close()
    s = consumer.summary()
    console.print(
        f"stopped: {s['messages']} messages, {s['frames']} frames ({s['stored']} stored, "
        f"{s['already_stored']} already stored), {s['reject_runs']} reject runs, "
        f"{s['unreadable']} unreadable, {s['redelivered']} redelivered, judged {s['judged']} "
        "times",
        markup=False,
    )


@app.command()
def replay(
    files: Annotated[
        list[Path], typer.Argument(help="Capture files (HJ 212 text, any line ends).")
    ],
    json_out: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Feed capture files through the receiver's path and count what they held."""
    from trustledger.app import receiving

    receiving.check_files(files)
    with context(db) as ctx:
        result = receiving.replay(ctx, files)
    if json_out:
        print_json(result.to_json())
        return
    summary = result.total
    out.print(
        f"{summary['packets']} packets: {summary['valid']} valid "
        f"({summary['accepted']} new, {summary['duplicates']} duplicates), "
        f"{summary['rejected_total']} rejected"
    )
    table = Table("rejected: reason", "packets")
    for reason, n in summary["rejected"].items():
        table.add_row(reason, str(n))
    out.print(table)
    table = Table("command (CN)", "valid packets")
    for cn, n in summary["commands"].items():
        table.add_row(cn, str(n))
    out.print(table)


@app.command()
def register(
    mn: Annotated[str, typer.Argument(help="The logger's monitoring point id (MN).")],
    subject: Annotated[str, typer.Option(help="USCC of the registered organisation.")],
    outlet: Annotated[str, typer.Option(help="The outlet, e.g. 'boiler 1 stack'.")],
    authority: Annotated[str, typer.Option(help="USCC of the monitoring authority.")],
    limit_set: Annotated[str, typer.Option(help="A limit set of the rulebook.")],
    rulebook: Annotated[
        str, typer.Option(help="Published rulebook with the limit sets.")
    ] = "cn-environmental-credit",
    pollutant: Annotated[
        list[str] | None, typer.Option(help="Pollutant code (repeatable; default: the limits').")
    ] = None,
    flow_unit: Annotated[str, typer.Option(help="Flow unit the logger sends.")] = "m3/s",
    db: DbOption = None,
) -> None:
    """Register a monitoring point to a subject and a limit set (again: replace it)."""
    from trustledger.app import monitoring

    with context(db) as ctx:
        point = monitoring.register(
            ctx, mn=mn, subject=subject, outlet=outlet, authority=authority,
            limit_set=limit_set, rulebook=rulebook, pollutants=pollutant, flow_unit=flow_unit,
        )  # fmt: skip
    out.print(f"registered {point.mn} → {point.subject} ({point.outlet}), {point.limit_set}")


@app.command()
def points(
    subject: Annotated[str | None, typer.Option(help="Only this subject's points.")] = None,
    json_out: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Registered points, and points that send data but are not registered."""
    from trustledger.app import monitoring

    with context(db) as ctx:
        listing = monitoring.points(ctx, subject)
    if json_out:
        print_json(listing.to_json())
        return
    table = Table("MN", "subject", "outlet", "limit set", "pollutants")
    for p in listing.registered:
        table.add_row(
            p["mn"], p["subject"], p["outlet"], p["limit_set"], ", ".join(p["pollutants"])
        )
    out.print(table)
    if listing.unregistered:
        count = len(listing.unregistered)
        out.print(f"{count} unregistered points send data (kept, not judged):")
        for mn, n in listing.unregistered:
            out.print(f"  {mn}: {n} packets")


@app.command()
def judge(
    point: Annotated[
        list[str] | None,
        typer.Option("--point", help="Judge only this point (MN; repeatable). Default: all."),
    ] = None,
    json_out: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Judge every registered point: hourly means, episodes → records, faults → notices.
    Exit 2 if a --point is not a registered point (nothing is judged then)."""
    from trustledger.app import monitoring

    with context(db) as ctx:
        if point:
            outcomes = monitoring.judge_points(ctx, point, notes=console)
        else:
            outcomes = monitoring.judge(ctx, notes=console)
    if json_out:
        print_json([o.to_json() for o in outcomes])
        return
    table = Table("MN", "valid hours", "episodes", "new records", "notices", "problems")
    for o in outcomes:
        table.add_row(o.mn, str(o.hours_judged), str(o.episodes), str(len(o.records)),
                      str(o.notices), "; ".join(o.rejected))  # fmt: skip
    out.print(table)
    for assessment in (a for o in outcomes for a in o.assessments):
        out.print(assessment.summary())
    if any(o.records for o in outcomes):
        out.print("New records rest on automated data and count toward nothing until a "
                  "reviewer confirms them: trustledger monitor confirm RECORD "
                  "--reviewer PRINCIPAL")  # fmt: skip


@app.command()
def confirm(
    record: Annotated[str, typer.Argument(help="The record id (R…).")],
    reviewer: Annotated[
        str, typer.Option(help="The reviewer's principal id (a reviewer key: keys list).")
    ],
    note: Annotated[str, typer.Option(help="What the review found.")] = "evidence reviewed",
    document_number: Annotated[
        str | None, typer.Option(help="Reference of the confirmation (default: derived).")
    ] = None,
    db: DbOption = None,
) -> None:
    """Confirm a record resting on automated data after a person reviewed its evidence.
    Exit 1 if the intake refuses it, 2 if there is no such record."""
    from trustledger.app import monitoring

    with context(db) as ctx:
        outcome = monitoring.confirm(ctx, record, reviewer=reviewer, note=note,
                                     document_number=document_number, notes=console)  # fmt: skip
    out.print(f"{record}: {outcome}" + (" (already confirmed)" if outcome == "duplicate" else ""))


@app.command()
def show(
    mn: Annotated[str, typer.Argument(help="Monitoring point id (MN).")],
    days: Annotated[int, typer.Option(help="Days of hourly values.")] = 7,
    json_out: JsonOption = False,
    db: DbOption = None,
) -> None:
    """A point's hourly means per pollutant with its limits (local time), exceedance hours
    marked, then its episodes, data-quality notices and records."""
    from trustledger.app import monitoring

    with context(db) as ctx:
        if json_out:
            print_json(monitoring.point_view(ctx, mn, days))
            return
        view = monitoring.point_table(ctx, mn, days)
    _show_table(view)


def _show_table(view: PointTable) -> None:
    from rich.text import Text

    who = f"{view.subject_name} ({view.subject})" if view.subject_name else view.subject
    out.print(f"monitoring point {view.mn} — {who}, {view.outlet}")
    if not view.pollutants:
        out.print("no judged pollutant has data in this period")
    table = Table(title="valid hourly means at the reference O₂")
    table.add_column(f"hour ({view.timezone})", no_wrap=True)
    for p in view.pollutants:
        o2 = f" at {p.reference_o2:g}% O₂" if p.reference_o2 is not None else ""
        table.add_column(f"{p.name} {p.unit}\nlimit {p.limit:g}{o2}", justify="right")
    for hour, cells in view.hours:
        row: list[Text | str] = [hour]
        for p in view.pollutants:
            cell = cells.get(p.code)
            if cell is None or cell.value is None:
                row.append(Text("—", style="dim"))
            elif cell.exceeded:
                row.append(Text(f"{cell.value:.1f} ▲", style="bold red"))
            elif not cell.valid:
                row.append(Text(f"({cell.value:.1f})", style="dim"))
            else:
                row.append(f"{cell.value:.1f}")
        table.add_row(*row)
    if view.pollutants:
        out.print(table)
        out.print("▲ exceedance hour: a valid mean above the limit · (…) not valid: fewer than "
                  "45 valid minutes, not judged · — no data")  # fmt: skip
    if view.episodes:
        out.print(f"exceedance episodes ({len(view.episodes)}):")
    units = {p.code: p.unit for p in view.pollutants}
    for e in view.episodes:
        became = f"record {e['record']}" if e.get("record") else "no record (below the threshold)"
        unit = units.get(e["pollutant"], "")
        out.print(f"  {e['pollutant_name']} above {e['limit']:g} {unit} ({e['limit_set']}) for "
                  f"{e['hours']} valid hours, {e['first_hour']} to {e['until']}, "
                  f"max {e['max']:.1f} → {became}")  # fmt: skip
    if view.notices:
        out.print(
            f"data-quality notices ({len(view.notices)}; about the instrument, never a penalty):"
        )
    for n in view.notices:
        out.print(f"  {n['pollutant_name']} {n['kind']}, {n['start']} to {n['end']} "
                  f"({n['count']} readings): {n['detail']}")  # fmt: skip
    if view.records:
        out.print(f"records ({len(view.records)}):")
    for r in view.records:
        # the document number is left to --json: it spells the pollutant's code
        out.print(f"  {r['record_id']} of {r['decision_date']}: {r['state']}")
    if not (view.episodes or view.notices):
        out.print("no exceedance episode and no data-quality notice")
