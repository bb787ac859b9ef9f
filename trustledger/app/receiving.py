"""Receiving HJ 212 traffic: listening for loggers (TCP) and an MQTT broker, and replaying
capture files through the receiver's path. Every accepted packet is stored before it is
acknowledged: in the store, or, with ``TRUSTLEDGER_NATS_URL`` set, in a NATS JetStream
stream that ``monitor consume`` (``app.streaming``) stores from.

A face checks what it was asked with ``listen_plan`` (before it opens anything), builds a
``Listener`` over its context, and runs the loop: ``start`` until the face's stop event
is set, then ``stop`` and ``close``. The signals and the waiting stay in the face.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from trustledger.app.errors import BadInput, ConfigError, Unavailable
from trustledger.app.monitoring import monitoring_store

if TYPE_CHECKING:
    from trustledger.app.context import Context
    from trustledger.monitoring.jetstream import JetStreamConfig, JetStreamWriter
    from trustledger.monitoring.receiver import GroupWriter, Tally


@dataclass(frozen=True)
class ListenPlan:
    """What to listen on, checked: a TCP address and/or a broker with its topics."""

    hj212: tuple[str, int] | None = None
    mqtt: str | None = None
    topics: tuple[str, ...] = ()
    client_id: str | None = None


def host_port(text: str) -> tuple[str, int]:
    """``HOST:PORT`` → (host, port); BadInput otherwise."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise BadInput(f"{text!r} is not HOST:PORT (e.g. 0.0.0.0:9212)")
    return host, int(port)


def listen_plan(
    hj212: str | None = None,
    mqtt: str | None = None,
    topics: Sequence[str] = (),
    client_id: str | None = None,
) -> ListenPlan:
    """The listening asked for, or BadInput naming what is wrong (nothing is opened)."""
    if hj212 is None and mqtt is None:
        raise BadInput("give --hj212 HOST:PORT and/or --mqtt URL --topic T")
    if mqtt is not None and not topics:
        raise BadInput("--mqtt needs at least one --topic")
    address = host_port(hj212) if hj212 is not None else None
    if mqtt is not None:
        from trustledger.monitoring.mqtt import parse_mqtt_url

        try:
            parse_mqtt_url(mqtt)
        except ValueError as exc:
            raise BadInput(str(exc)) from None
    return ListenPlan(address, mqtt, tuple(topics), client_id)


def jetstream_config(ctx: Context) -> JetStreamConfig:
    """The JetStream settings, checked (nothing is opened); ConfigError naming the setting
    that is wrong, or saying TRUSTLEDGER_NATS_URL is not set."""
    from trustledger.monitoring.jetstream import JetStreamConfig

    try:
        return JetStreamConfig.from_settings(ctx.settings)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


@dataclass
class Listener:
    """The receiver and the MQTT bridge of a plan over one context's store, writing through
    one group writer, or, with ``TRUSTLEDGER_NATS_URL`` set, publishing to JetStream (the
    store only read, for the registered points). ``summary`` adds up what every source
    received."""

    ctx: Context
    plan: ListenPlan
    _writer: GroupWriter | JetStreamWriter | None = field(default=None, repr=False)
    _tallies: list[Tally] = field(default_factory=list, repr=False)
    _server: asyncio.Server | None = field(default=None, repr=False)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        from trustledger.monitoring.receiver import GroupWriter

        if self.ctx.settings.nats_url:
            from trustledger.monitoring.jetstream import JetStreamWriter

            self._writer = JetStreamWriter(jetstream_config(self.ctx), monitoring_store(self.ctx))
            return
        # spooled: acknowledgements do not wait for the ledger database's write lock
        self._writer = GroupWriter(monitoring_store(self.ctx), spool=self.ctx.settings.hj212_spool)

    async def start(self, stop: asyncio.Event) -> list[str]:
        """Listen as planned until ``stop`` is set; one line per source listened on.
        BadInput when the address cannot be listened on or the bridge cannot be made,
        Unavailable when JetStream cannot be reached or its stream not made."""
        from trustledger.monitoring.receiver import GroupWriter, Receiver, ReceiverLimits

        assert self._writer is not None
        plan = self.plan
        started = []
        if not isinstance(self._writer, GroupWriter):
            from trustledger.monitoring.jetstream import JetStreamError

            try:
                await self._writer.connect()
            except JetStreamError as exc:
                raise Unavailable(str(exc)) from None
            config = self._writer.config
            servers = ", ".join(config.servers)
            started.append(
                f"publishing to JetStream stream {config.stream} "
                f"({config.subject}.frames.<MN>) at {servers}"
            )
        if plan.hj212 is not None:
            host, port = plan.hj212
            limits = ReceiverLimits.from_settings(self.ctx.settings)
            receiver = Receiver(self._writer, limits=limits)
            self._tallies.append(receiver.tally)
            try:
                self._server = await receiver.serve(host, port)
            except OSError as exc:
                raise BadInput(f"cannot listen on {host}:{port}: {exc}") from None
            started.append(f"HJ 212 over TCP on {host}:{port}")
        if plan.mqtt is not None:
            from trustledger.monitoring.mqtt import MqttBridge

            # the bridge uses only ``save``, which both writers have alike
            writer = cast("GroupWriter", self._writer)
            try:
                bridge = MqttBridge(writer, plan.mqtt, list(plan.topics),
                                    client_id=plan.client_id)  # fmt: skip
            except (TypeError, ValueError) as exc:
                raise BadInput(str(exc)) from None
            self._tallies.append(bridge.tally)
            self._tasks.append(asyncio.create_task(bridge.run(stop)))
            started.append(f"MQTT {plan.mqtt} topics {', '.join(plan.topics)}")
        return started

    async def stop(self) -> None:
        """Once ``stop`` is set: close the TCP server; the bridge stops by itself once its
        current batch is stored (cancelled after 10 s)."""
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 5)
        if self._tasks:
            _, pending = await asyncio.wait(self._tasks, timeout=10)
            for task in pending:
                task.cancel()
        from trustledger.monitoring.receiver import GroupWriter

        if self._writer is not None and not isinstance(self._writer, GroupWriter):
            await self._writer.aclose()

    def close(self) -> None:
        """Flush and stop the writer (the context is the caller's to close)."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def summary(self) -> dict[str, Any]:
        """What every source received, added up (``Tally.to_json``)."""
        from trustledger.monitoring.receiver import Tally

        total = Tally()
        for tally in self._tallies:
            total.add(tally)
        return total.to_json()


@dataclass(frozen=True)
class ReplayResult:
    files: dict[str, dict[str, Any]]  # file → what it held (``Tally.to_json``)
    total: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {"files": self.files, "total": self.total}


def check_files(paths: Sequence[Path]) -> None:
    """BadInput naming the first path that is not a file."""
    for path in paths:
        if not path.is_file():
            raise BadInput(f"{path} is not a file")


def replay(ctx: Context, paths: Sequence[Path]) -> ReplayResult:
    """Feed capture files through the receiver's path (stored, nothing acknowledged) and
    count what they held, per file and in all."""
    from trustledger.monitoring.receiver import Tally, replay_file

    check_files(paths)
    mstore = monitoring_store(ctx)
    total = Tally()
    per_file = {}
    for path in paths:
        tally = replay_file(mstore, path)
        per_file[str(path)] = tally.to_json()
        total.add(tally)
    return ReplayResult(per_file, total.to_json())
