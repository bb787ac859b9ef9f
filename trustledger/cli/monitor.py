"""`trustledger monitor …`: receive HJ 212 traffic, register points, judge, confirm."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from trustledger.cli.common import (
    DbOption,
    JsonOption,
    console,
    open_db,
    out,
    print_json,
    settings_for,
)

app = typer.Typer(help="Third-party emission monitoring (HJ 212).", no_args_is_help=True)


def _host_port(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        console.print(f"error: {text!r} is not HOST:PORT (e.g. 0.0.0.0:9212)", markup=False)
        raise typer.Exit(2)
    return host, int(port)


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
    acknowledged."""
    from trustledger.monitoring.receiver import GroupWriter, Receiver, Tally
    from trustledger.monitoring.store import MonitoringStore

    if hj212 is None and mqtt is None:
        console.print("error: give --hj212 HOST:PORT and/or --mqtt URL --topic T", markup=False)
        raise typer.Exit(2)
    if mqtt is not None and not topic:
        console.print("error: --mqtt needs at least one --topic", markup=False)
        raise typer.Exit(2)
    address = _host_port(hj212) if hj212 is not None else None
    if mqtt is not None:
        from trustledger.monitoring.mqtt import parse_mqtt_url

        try:
            parse_mqtt_url(mqtt)
        except ValueError as exc:
            console.print(f"error: {exc}", markup=False, highlight=False)
            raise typer.Exit(2) from None
    store = open_db(settings_for(db))
    writer = GroupWriter(MonitoringStore(store))

    tallies: list[Tally] = []

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        tasks: list[asyncio.Task[None]] = []
        server = None
        if address is not None:
            receiver = Receiver(writer)
            tallies.append(receiver.tally)
            try:
                server = await receiver.serve(*address)
            except OSError as exc:
                console.print(f"error: cannot listen on {hj212}: {exc}", markup=False)
                raise typer.Exit(2) from None
            console.print(f"HJ 212 over TCP on {address[0]}:{address[1]}", markup=False)
        if mqtt is not None:
            from trustledger.monitoring.mqtt import MqttBridge

            bridge = MqttBridge(writer, mqtt, topic or [], client_id=client_id)
            tallies.append(bridge.tally)
            tasks.append(asyncio.create_task(bridge.run(stop)))
            console.print(f"MQTT {mqtt} topics {', '.join(topic or [])}", markup=False)
        await stop.wait()
        if server is not None:
            server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 5)
        # the bridge stops by itself once its current batch is stored
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=10)
            for task in pending:
                task.cancel()

    try:
        asyncio.run(run())
    finally:
        writer.close()
        store.close()
    total = Tally()
    for tally in tallies:
        total.add(tally)
    summary = total.to_json()
    console.print(
        f"stopped: {summary['packets']} packets, {summary['valid']} valid "
        f"({summary['accepted']} new, {summary['duplicates']} duplicates), "
        f"{summary['rejected_total']} rejected, {summary['acknowledged']} acknowledged",
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
    from trustledger.monitoring.receiver import Tally, replay_file
    from trustledger.monitoring.store import MonitoringStore

    for path in files:
        if not path.is_file():
            console.print(f"error: {path} is not a file", markup=False)
            raise typer.Exit(2)
    store = open_db(settings_for(db))
    mstore = MonitoringStore(store)
    total = Tally()
    per_file = {}
    for path in files:
        tally = replay_file(mstore, path)
        per_file[str(path)] = tally.to_json()
        total.add(tally)
    store.close()
    if json_out:
        print_json({"files": per_file, "total": total.to_json()})
        return
    summary = total.to_json()
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
    from trustledger.monitoring.points import PointError, register_point
    from trustledger.monitoring.receiver import now_us
    from trustledger.monitoring.store import MonitoringStore

    store = open_db(settings_for(db))
    try:
        point = register_point(
            store, MonitoringStore(store), mn=mn, subject=subject, outlet=outlet,
            authority=authority, rulebook_id=rulebook, limit_set=limit_set,
            pollutants=pollutant, flow_unit=flow_unit, now_us=now_us(),
        )  # fmt: skip
    except PointError as exc:
        console.print(f"error: {exc}", markup=False, highlight=False)
        raise typer.Exit(2) from None
    finally:
        store.close()
    out.print(f"registered {point.mn} → {point.subject} ({point.outlet}), {point.limit_set}")


@app.command()
def points(
    subject: Annotated[str | None, typer.Option(help="Only this subject's points.")] = None,
    json_out: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Registered points, and points that send data but are not registered."""
    from trustledger.monitoring.store import MonitoringStore

    store = open_db(settings_for(db))
    mstore = MonitoringStore(store)
    registered = [p._asdict() for p in mstore.points(subject)]
    unregistered = [] if subject else mstore.unregistered()
    store.close()
    if json_out:
        silent = [{"mn": m, "packets": n} for m, n in unregistered]
        print_json({"points": registered, "unregistered": silent})
        return
    table = Table("MN", "subject", "outlet", "limit set", "pollutants")
    for p in registered:
        table.add_row(
            p["mn"], p["subject"], p["outlet"], p["limit_set"], ", ".join(p["pollutants"])
        )
    out.print(table)
    if unregistered:
        out.print(f"{len(unregistered)} unregistered points send data (kept, not judged):")
        for mn, n in unregistered:
            out.print(f"  {mn}: {n} packets")


@app.command()
def judge(json_out: JsonOption = False, db: DbOption = None) -> None:
    """Judge every registered point: hourly means, episodes → records, faults → notices."""
    from trustledger.intake.factory import make_intake
    from trustledger.monitoring.points import judge_all
    from trustledger.monitoring.receiver import now_us
    from trustledger.monitoring.store import MonitoringStore

    settings = settings_for(db)
    store = open_db(settings)
    try:
        outcomes = judge_all(
            store, MonitoringStore(store), make_intake(store, settings, console),
            today=settings.today(), now_us=now_us(),
        )  # fmt: skip
    finally:
        store.close()
    if json_out:
        print_json([o.__dict__ for o in outcomes])
        return
    table = Table("MN", "valid hours", "episodes", "new records", "notices", "problems")
    for o in outcomes:
        table.add_row(o.mn, str(o.hours_judged), str(o.episodes), str(len(o.records)),
                      str(o.notices), "; ".join(o.rejected))  # fmt: skip
    out.print(table)
    if any(o.records for o in outcomes):
        out.print("New records rest on automated data and count toward nothing until a person "
                  "confirms them: trustledger monitor confirm RECORD --reviewer NAME")  # fmt: skip


@app.command()
def confirm(
    record: Annotated[str, typer.Argument(help="The record id (R…).")],
    reviewer: Annotated[str, typer.Option(help="Who reviewed the evidence.")],
    note: Annotated[str, typer.Option(help="What the review found.")] = "evidence reviewed",
    document_number: Annotated[
        str | None, typer.Option(help="Reference of the confirmation (default: derived).")
    ] = None,
    db: DbOption = None,
) -> None:
    """Confirm a record resting on automated data after a person reviewed its evidence."""
    from trustledger.intake.factory import make_intake
    from trustledger.monitoring.points import PointError, confirm_record

    settings = settings_for(db)
    store = open_db(settings)
    try:
        result = confirm_record(
            store, make_intake(store, settings, console), record, reviewer=reviewer,
            note=note, document_number=document_number, today=settings.today(),
        )  # fmt: skip
    except PointError as exc:
        console.print(f"error: {exc}", markup=False, highlight=False)
        raise typer.Exit(2) from None
    finally:
        store.close()
    if result.outcome == "rejected":
        console.print(f"error: {result.reason}", markup=False, highlight=False)
        raise typer.Exit(1)
    out.print(f"{record}: {result.outcome}" + (" (already confirmed)" if result.outcome ==
                                                "duplicate" else ""))  # fmt: skip


@app.command()
def show(
    mn: Annotated[str, typer.Argument(help="Monitoring point id (MN).")],
    days: Annotated[int, typer.Option(help="Days of hourly values.")] = 7,
    db: DbOption = None,
) -> None:
    """A point's hourly series with its limits, episodes and notices (JSON)."""
    from trustledger.monitoring.points import PointError, point_view
    from trustledger.monitoring.store import MonitoringStore

    store = open_db(settings_for(db))
    try:
        print_json(point_view(store, MonitoringStore(store), mn, days))
    except PointError as exc:
        console.print(f"error: {exc}", markup=False, highlight=False)
        raise typer.Exit(2) from None
    finally:
        store.close()
