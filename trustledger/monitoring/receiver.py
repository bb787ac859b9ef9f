"""Receiving HJ 212 traffic: one path for TCP loggers, the MQTT bridge and capture files.

Bytes are framed (`Framer`), each frame parsed (`parse`), and every accepted packet stored
durably before its acknowledgement leaves: the TCP server hands a connection's packets to
a writer thread that commits many connections' packets in one transaction (group commit)
and only then releases the acknowledgements. A connection is not read while its packets
wait for the disk, so a fast logger is slowed by TCP itself instead of filling memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from trustledger.monitoring.codec import Framer, PacketError, ack_for, parse
from trustledger.monitoring.store import MonitoringStore, Received, Rejected

log = logging.getLogger(__name__)

READ_SIZE = 64 * 1024
IDLE_TIMEOUT_S = 600.0  # loggers send at least a heartbeat every few minutes


@dataclass
class Tally:
    """What a stream of traffic held: packets (frames), valid ones stored as new
    (``accepted``) or already stored (``duplicates``), rejects by reason, and the valid
    packets by command code."""

    packets: int = 0
    accepted: int = 0
    duplicates: int = 0
    acknowledged: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    commands: Counter[str] = field(default_factory=Counter)
    # frames read although they bend the standard (``lf_only``: ended by LF, not CR LF)
    quirks: Counter[str] = field(default_factory=Counter)

    def add(self, other: Tally) -> None:
        self.packets += other.packets
        self.accepted += other.accepted
        self.duplicates += other.duplicates
        self.acknowledged += other.acknowledged
        self.rejected.update(other.rejected)
        self.commands.update(other.commands)
        self.quirks.update(other.quirks)

    def to_json(self) -> dict[str, Any]:
        return {
            "packets": self.packets,
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "valid": self.accepted + self.duplicates,
            "acknowledged": self.acknowledged,
            "rejected": dict(sorted(self.rejected.items())),
            "rejected_total": sum(self.rejected.values()),
            "commands": dict(sorted(self.commands.items())),
            "quirks": dict(sorted(self.quirks.items())),
        }


def now_us() -> int:
    return time.time_ns() // 1000


def classify(
    frames: Iterable[bytes | PacketError], peer: str, received_us: int, tally: Tally
) -> tuple[list[Received], list[Rejected]]:
    """Parse framed bytes; every frame is counted as a packet, accepted or rejected."""
    accepted: list[Received] = []
    rejected: list[Rejected] = []
    for frame in frames:
        tally.packets += 1
        if isinstance(frame, PacketError):
            rejected.append(Rejected(frame, received_us, peer, ""))
            tally.rejected[frame.reason.value] += 1
            continue
        try:
            packet = parse(frame)
        except PacketError as exc:
            head = frame[:80].decode("utf-8", "replace")
            rejected.append(Rejected(exc, received_us, peer, head))
            tally.rejected[exc.reason.value] += 1
            continue
        accepted.append(Received(packet, received_us, peer))
    return accepted, rejected


def settle(
    accepted: Sequence[Received], new: Sequence[bool], tally: Tally, moment: datetime
) -> list[bytes]:
    """Count what the store said of each packet; the acknowledgements owed, in order."""
    acks = []
    for item, fresh in zip(accepted, new, strict=True):
        tally.commands[item.packet.cn] += 1
        if fresh:
            tally.accepted += 1
        else:
            # the same frame again: a logger resending after a lost acknowledgement, or a
            # heartbeat that never changes; stored once, acknowledged again
            tally.duplicates += 1
        ack = ack_for(item.packet, moment)
        if ack is not None:
            acks.append(ack)
            tally.acknowledged += 1
    return acks


# --- files ----------------------------------------------------------------------------


def replay_file(store: MonitoringStore, path: Path, *, batch: int = 5000) -> Tally:
    """Feed a capture file through the same framing, parsing and storage as live traffic."""
    tally = Tally()
    framer = Framer()
    peer = f"file:{path.name}"
    pending: list[bytes | PacketError] = []

    def flush(frames: list[bytes | PacketError]) -> None:
        received = now_us()
        accepted, rejected = classify(frames, peer, received, tally)
        new = store.save(accepted, rejected)
        settle(accepted, new, tally, datetime.now(UTC))

    with path.open("rb") as f:
        while chunk := f.read(READ_SIZE):
            pending += framer.feed(chunk)
            if len(pending) >= batch:
                flush(pending)
                pending = []
    pending += framer.flush()
    flush(pending)
    tally.quirks.update(framer.quirks)
    return tally


# --- the group-commit writer ------------------------------------------------------------


@dataclass
class _Job:
    accepted: list[Received]
    rejected: list[Rejected]
    done: Callable[[list[bool] | BaseException], None]


class GroupWriter:
    """Stores packets from many connections in few transactions, on a thread of its own
    (the database calls block; the event loop must not)."""

    def __init__(self, store: MonitoringStore, *, max_batch: int = 5000) -> None:
        self._store = store
        self._max_batch = max_batch
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="hj212-writer", daemon=True)
        self._thread.start()

    async def save(self, accepted: list[Received], rejected: list[Rejected]) -> list[bool]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[list[bool]] = loop.create_future()

        def done(result: list[bool] | BaseException) -> None:
            def resolve() -> None:
                if future.cancelled():
                    return
                if isinstance(result, BaseException):
                    future.set_exception(result)
                else:
                    future.set_result(result)

            # RuntimeError: the loop has shut down; nobody awaits this answer, and the
            # logger resends whatever it never saw acknowledged
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(resolve)

        self._jobs.put(_Job(accepted, rejected, done))
        return await future

    def close(self) -> None:
        self._jobs.put(None)
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            jobs = [job]
            size = len(job.accepted)
            stop = False
            # everything that queued up while the last commit ran goes into this one
            while size < self._max_batch:
                try:
                    more = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stop = True
                    break
                jobs.append(more)
                size += len(more.accepted)
            self._commit(jobs)
            if stop:
                return

    def _commit(self, jobs: list[_Job]) -> None:
        accepted = [item for j in jobs for item in j.accepted]
        rejected = [item for j in jobs for item in j.rejected]
        try:
            new = self._store.save(accepted, rejected)
        except Exception as exc:  # nothing was stored: no acknowledgement may leave
            log.exception("storing %d packets failed", len(accepted))
            for j in jobs:
                j.done(exc)
            return
        start = 0
        for j in jobs:
            j.done(new[start : start + len(j.accepted)])
            start += len(j.accepted)


# --- the TCP server -----------------------------------------------------------------------


class Receiver:
    """The asyncio TCP server loggers connect to."""

    def __init__(self, writer: GroupWriter, *, idle_timeout: float = IDLE_TIMEOUT_S) -> None:
        self.writer = writer
        self.tally = Tally()
        self.connections = 0
        self._idle = idle_timeout

    async def handle(self, reader: asyncio.StreamReader, stream: asyncio.StreamWriter) -> None:
        peername = stream.get_extra_info("peername")
        peer = f"tcp:{peername[0]}:{peername[1]}" if peername else "tcp:?"
        framer = Framer()
        self.connections += 1
        try:
            while True:
                try:
                    # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow the
                    # shutdown's cancellation when the read completes at the same moment
                    async with asyncio.timeout(self._idle):
                        chunk = await reader.read(READ_SIZE)
                except TimeoutError:
                    break
                # at the end of the stream a last frame without CR LF still counts
                frames = framer.feed(chunk) if chunk else framer.flush()
                if frames:
                    await self._store_and_acknowledge(frames, peer, stream)
                if not chunk:
                    break
        except (ConnectionError, asyncio.IncompleteReadError, TimeoutError):
            pass
        except Exception:
            log.exception("connection %s failed", peer)
        finally:
            self.connections -= 1
            self.tally.quirks.update(framer.quirks)
            stream.close()

    async def _store_and_acknowledge(
        self, frames: list[bytes | PacketError], peer: str, stream: asyncio.StreamWriter
    ) -> None:
        accepted, rejected = classify(frames, peer, now_us(), self.tally)
        # nothing is read from this logger until its packets are on disk
        new = await self.writer.save(accepted, rejected)
        acks = settle(accepted, new, self.tally, datetime.now(UTC))
        if acks:
            stream.write(b"".join(acks))
            # a logger that never reads its acknowledgements is dropped after the idle
            # time rather than holding its handler and buffers forever
            async with asyncio.timeout(self._idle):
                await stream.drain()

    async def serve(self, host: str, port: int) -> asyncio.Server:
        return await asyncio.start_server(self.handle, host, port, limit=READ_SIZE)
