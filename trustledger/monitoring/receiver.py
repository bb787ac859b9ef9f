"""Receiving HJ 212 traffic: one path for TCP loggers, the MQTT bridge and capture files.

Bytes are framed (`Framer`), each frame parsed (`parse`), and every accepted packet stored
durably before its acknowledgement leaves: the TCP server hands a connection's packets to
a writer thread that commits many connections' packets in one transaction (group commit)
and only then releases the acknowledgements. A connection is not read while its packets
wait for the disk, so a fast logger is slowed by TCP itself instead of filling memory.

Hostile or broken peers are bounded (``ReceiverLimits``): connections per address and in
all, with a reserve only a registered monitoring point may use; a connection that sends
too many rejects in a row is dropped; rejects are stored as runs (one row per connection
and reason, with a count and the first one's bytes as the sample), not a row per frame;
and what is refused is logged once per interval with a count, never a traceback a frame.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import errno
import logging
import math
import queue
import resource
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar

from trustledger.monitoring.codec import Framer, PacketError, ack_for, parse
from trustledger.monitoring.store import MonitoringStore, Received, Recount, Rejected
from trustledger.settings import Settings

log = logging.getLogger(__name__)

READ_SIZE = 64 * 1024
IDLE_TIMEOUT_S = 600.0  # loggers send at least a heartbeat every few minutes
RECOUNT_S = 5.0  # a run of rejects that keeps growing is recounted on disk at most this often
POINTS_REFRESH_S = 5.0  # an MN not known to be registered asks the database at most this often
MOVE_EVERY_S = 0.5  # the mover looks at the spool at least this often (and after each commit)
MAX_UNMOVED = 10_000  # batches of rejects kept while the ledger's database is unavailable
FD_MARGIN = 64  # descriptors kept for the database files, the listener, logs and the MQTT bridge
T = TypeVar("T")


@dataclass(frozen=True)
class ReceiverLimits:
    """What one peer, and all of them together, may take of the receiver."""

    max_connections: int = 1024
    # of max_connections, the part only a connection whose first valid frame names a
    # registered monitoring point may use: unknown peers filling the rest lock no logger out
    reserved_connections: int = 128
    per_address: int = 256  # loggers behind one carrier NAT share an address
    # rejects in a row (no valid frame between) before the connection is dropped
    reject_budget: int = 100
    # how long a connection let into the reserve has to send a registered point's frame
    registration_grace_s: float = 10.0
    # a connection without a valid frame for this long is closed (slowloris, dead peers)
    idle_timeout_s: float = IDLE_TIMEOUT_S
    log_interval_s: float = 60.0  # the same complaint is logged at most once per interval

    @classmethod
    def from_settings(cls, settings: Settings) -> ReceiverLimits:
        return cls(
            max_connections=settings.hj212_max_connections,
            reserved_connections=settings.hj212_reserved_connections,
            per_address=settings.hj212_connections_per_address,
            reject_budget=settings.hj212_reject_budget,
            registration_grace_s=settings.hj212_registration_grace,
            idle_timeout_s=settings.hj212_idle_timeout,
            log_interval_s=settings.hj212_log_interval,
        )


class LogLimiter:
    """Log a complaint at most once per interval per key; the next one that is logged says
    how many were left out meanwhile. Keys are kinds of complaint, never peers, so the
    table stays small whatever arrives."""

    def __init__(self, logger: logging.Logger, interval_s: float) -> None:
        self._log = logger
        self._interval = interval_s
        self._seen: dict[str, tuple[float, int]] = {}

    def __call__(
        self, key: str, level: int, msg: str, *args: object, exc_info: bool = False
    ) -> bool:
        """True if logged, False if only counted."""
        now = time.monotonic()
        last, left_out = self._seen.get(key, (-math.inf, 0))
        if now - last < self._interval:
            self._seen[key] = (last, left_out + 1)
            return False
        if left_out:
            msg += " (and %d more like it in the last %.0f s)"
            args = (*args, left_out, now - last)
        self._seen[key] = (now, 0)
        self._log.log(level, msg, *args, exc_info=exc_info)
        return True


@dataclass
class _Run:
    first: Rejected
    count: int
    last_us: int
    stored: int  # of count, how many the stored row says
    recounted: float  # monotonic time of the last recount


class RejectRuns:
    """One connection's rejects as runs: one per reason, its first frame kept as the sample
    and the rest counted. A new reason gives a row at once; a run that grows is recounted
    at most every ``recount_s`` and when the connection ends (``pending``)."""

    def __init__(self, recount_s: float = RECOUNT_S) -> None:
        self._runs: dict[str, _Run] = {}
        self._recount_s = recount_s

    def add(self, rejected: Iterable[Rejected]) -> tuple[list[Rejected], list[Recount]]:
        now = time.monotonic()
        fresh: list[_Run] = []
        for r in rejected:
            reason = r.error.reason.value
            run = self._runs.get(reason)
            if run is None:
                run = self._runs[reason] = _Run(r, 0, r.received_us, 0, now)
                fresh.append(run)
            run.count += 1
            run.last_us = r.received_us
        rows = []
        for run in fresh:
            rows.append(run.first._replace(frames=run.count, last_us=run.last_us))
            run.stored = run.count
        due = [r for r in self._runs.values() if now - r.recounted >= self._recount_s]
        return rows, self._recount(due, now)

    def pending(self) -> list[Recount]:
        """Every run whose stored count is behind."""
        return self._recount(list(self._runs.values()), time.monotonic())

    def _recount(self, runs: list[_Run], now: float) -> list[Recount]:
        out = []
        for run in runs:
            if run.count > run.stored:
                f = run.first
                out.append(Recount(f.peer, f.error.reason.value, f.received_us, run.count,
                                   run.last_us))  # fmt: skip
                run.stored = run.count
                run.recounted = now
        return out


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
        tally.quirks.update(q.value for q in packet.quirks)
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
    recounts: list[Recount]
    done: Callable[[list[bool] | BaseException], None]


@dataclass
class _Call:
    fn: Callable[[MonitoringStore], Any]
    done: Callable[[Any], None]


def _resolver(future: asyncio.Future[T]) -> Callable[[T | BaseException], None]:
    """A callback for another thread that settles ``future`` on its loop."""
    loop = future.get_loop()

    def done(result: T | BaseException) -> None:
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

    return done


class GroupWriter:
    """Stores packets from many connections in few transactions, on a thread of its own
    (the database calls block; the event loop must not).

    With ``spool`` (and a SQLite ledger) packets are made durable in the spool and their
    acknowledgements released at once; a second thread, over a connection of its own,
    moves them into the ledger's database with the rejects, whenever that database takes
    a write (:mod:`trustledger.monitoring.spool`)."""

    def __init__(
        self, store: MonitoringStore, *, max_batch: int = 5000, spool: bool = False
    ) -> None:
        self._store = store
        self._max_batch = max_batch
        self._jobs: queue.SimpleQueue[_Job | _Call | None] = queue.SimpleQueue()
        self._complain = LogLimiter(log, 60.0)
        self._spooling = spool and store.spool_path is not None
        # rejects and recounts waiting for the mover, in order (bounded: they are counts
        # of refused frames, never data a logger was told is stored)
        self._unmoved: list[tuple[list[Rejected], list[Recount]]] = []
        self._unmoved_lock = threading.Lock()
        self._wake = threading.Event()
        self._closing = threading.Event()
        self._mover: threading.Thread | None = None
        if self._spooling:
            self._mover = threading.Thread(target=self._move, name="hj212-mover", daemon=True)
            self._mover.start()
        self._thread = threading.Thread(target=self._run, name="hj212-writer", daemon=True)
        self._thread.start()

    async def save(
        self, accepted: list[Received], rejected: list[Rejected], recounts: Sequence[Recount] = ()
    ) -> list[bool]:
        future: asyncio.Future[list[bool]] = asyncio.get_running_loop().create_future()
        self._jobs.put(_Job(accepted, rejected, list(recounts), _resolver(future)))
        return await future

    async def call(self, fn: Callable[[MonitoringStore], T]) -> T:
        """``fn(store)`` on the writer's thread, between two commits (a read the receiver
        needs, over the writer's connection)."""
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._jobs.put(_Call(fn, _resolver(future)))
        return await future

    def close(self) -> None:
        self._jobs.put(None)
        self._thread.join(timeout=30)
        if self._mover is not None:
            self._closing.set()
            self._wake.set()
            # the ledger's database may be locked by a long transaction: what is not moved
            # now stays spooled and is moved at the next start
            self._mover.join(timeout=60)

    def _move(self) -> None:
        from trustledger.ledger.store import open_store

        store = open_store(self._store.store.url)
        try:
            mover = MonitoringStore(store)
            while True:
                self._wake.wait(MOVE_EVERY_S)
                self._wake.clear()
                closing = self._closing.is_set()
                with self._unmoved_lock:
                    unmoved, self._unmoved = self._unmoved, []
                rejected = [r for part, _ in unmoved for r in part]
                recounts = [r for _, part in unmoved for r in part]
                try:
                    mover.move_spooled(rejected, recounts)
                except Exception:
                    self._complain("move", logging.ERROR, "moving spooled packets failed",
                                   exc_info=True)  # fmt: skip
                    with self._unmoved_lock:
                        self._unmoved = (unmoved + self._unmoved)[-MAX_UNMOVED:]
                    if closing:
                        return
                    time.sleep(1.0)
                    continue
                if closing:
                    return
        finally:
            with contextlib.suppress(Exception):
                mover.close_spool()
            store.close()

    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            if isinstance(job, _Call):
                self._answer(job)
                continue
            jobs = [job]
            calls: list[_Call] = []
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
                if isinstance(more, _Call):
                    calls.append(more)
                    continue
                jobs.append(more)
                size += len(more.accepted)
            self._commit(jobs)
            for call in calls:
                self._answer(call)
            if stop:
                return

    def _answer(self, call: _Call) -> None:
        try:
            result = call.fn(self._store)
        except Exception as exc:
            call.done(exc)
        else:
            call.done(result)

    def _commit(self, jobs: list[_Job]) -> None:
        accepted = [item for j in jobs for item in j.accepted]
        rejected = [item for j in jobs for item in j.rejected]
        recounts = [item for j in jobs for item in j.recounts]
        try:
            if self._spooling:
                new = self._store.spool(accepted)
                if rejected or recounts:
                    with self._unmoved_lock:
                        self._unmoved = [*self._unmoved, (rejected, recounts)][-MAX_UNMOVED:]
                self._wake.set()
            else:
                new = self._store.save(accepted, rejected, recounts)
        except Exception as exc:  # nothing was stored: no acknowledgement may leave
            # a full disk fails every commit: one traceback per interval, not per batch
            self._complain("store", logging.ERROR, "storing %d packets failed",
                           len(accepted), exc_info=True)  # fmt: skip
            for j in jobs:
                j.done(exc)
            return
        start = 0
        for j in jobs:
            j.done(new[start : start + len(j.accepted)])
            start += len(j.accepted)


class PacketWriter(Protocol):
    """What the receiver needs of a writer: `GroupWriter` (the store) or
    :class:`trustledger.monitoring.jetstream.JetStreamWriter` (a stream)."""

    async def save(
        self, accepted: list[Received], rejected: list[Rejected], recounts: Sequence[Recount] = ()
    ) -> list[bool]: ...

    async def call(self, fn: Callable[[MonitoringStore], T]) -> T: ...


class PointRegistry:
    """Which MNs are registered monitoring points, as the receiver asks at a connection's
    first valid frame: a cached set, read again (on the writer's thread) when an MN it
    lacks is asked about, at most every ``refresh_s``, so unknown MNs cannot make the
    receiver query the database at their pace."""

    def __init__(self, writer: PacketWriter, refresh_s: float = POINTS_REFRESH_S) -> None:
        self._writer = writer
        self._refresh_s = refresh_s
        self._mns: frozenset[str] = frozenset()
        self._read_at = -math.inf
        self._reading = asyncio.Lock()

    async def registered(self, mn: str) -> bool:
        if mn in self._mns:
            return True
        # one read at a time: the misses that arrive during it wait for its answer (a
        # registered logger must not be told no because another one asked first)
        async with self._reading:
            if mn not in self._mns and time.monotonic() - self._read_at >= self._refresh_s:
                self._mns = frozenset(await self._writer.call(MonitoringStore.registered_mns))
                self._read_at = time.monotonic()
            return mn in self._mns


def fit_fd_limit(connections: int) -> int:
    """Raise this process's soft limit on open files towards what ``connections`` need
    (within the hard limit); how many connections the limit leaves room for. Past the
    limit accept() fails for every logger alike, so the receiver stays below it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = connections + FD_MARGIN
    if soft != resource.RLIM_INFINITY and soft < need:
        target = need if hard == resource.RLIM_INFINITY else min(need, hard)
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
    if soft == resource.RLIM_INFINITY:
        return connections
    return max(1, min(connections, soft - FD_MARGIN))


# the errors of accept() when the process or the system is out of descriptors or memory
_RESOURCE_ERRNOS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})


# --- the TCP server -----------------------------------------------------------------------


class Receiver:
    """The asyncio TCP server loggers connect to."""

    def __init__(
        self,
        writer: PacketWriter,
        *,
        limits: ReceiverLimits | None = None,
        idle_timeout: float | None = None,
    ) -> None:
        limits = limits or ReceiverLimits()
        if idle_timeout is not None:
            limits = dataclasses.replace(limits, idle_timeout_s=idle_timeout)
        self.writer = writer
        self.limits = limits
        self.tally = Tally()
        self.connections = 0
        # connections turned away or dropped, by why: per_address, full, reserve (no
        # registered point's frame in time), reject_budget, idle
        self.refused: Counter[str] = Counter()
        self.points = PointRegistry(writer)
        self._max_connections = limits.max_connections
        self._by_address: Counter[str] = Counter()
        self._complain = LogLimiter(log, limits.log_interval_s)

    def _admit(self, address: str) -> str | None:
        """The pool a new connection from ``address`` may use ("open" or "reserve"), or why
        it is turned away."""
        limits = self.limits
        if self._by_address[address] >= limits.per_address:
            return None
        if self.connections >= self._max_connections:
            return None
        reserved = min(limits.reserved_connections, self._max_connections)
        return "open" if self.connections < self._max_connections - reserved else "reserve"

    def _refuse(self, why: str, peer: str, detail: str = "") -> None:
        self.refused[why] += 1
        self._complain(f"refused:{why}", logging.WARNING, "HJ 212 connection %s %s: %s",
                       peer, "refused" if why in ("per_address", "full") else "dropped",
                       detail or why)  # fmt: skip

    async def handle(self, reader: asyncio.StreamReader, stream: asyncio.StreamWriter) -> None:
        peername = stream.get_extra_info("peername")
        address = str(peername[0]) if peername else "?"
        peer = f"tcp:{address}:{peername[1]}" if peername else "tcp:?"
        pool = self._admit(address)
        if pool is None:
            why = "per_address" if self._by_address[address] >= self.limits.per_address else "full"
            self._refuse(why, peer, f"{why.replace('_', ' ')} limit reached")
            stream.close()
            return
        self.connections += 1
        self._by_address[address] += 1
        framer = Framer()
        runs = RejectRuns()
        try:
            await self._serve_connection(reader, stream, peer, framer, runs, pool == "reserve")
        except (ConnectionError, asyncio.IncompleteReadError, TimeoutError):
            pass
        except Exception:
            self._complain("failed", logging.ERROR, "connection %s failed", peer, exc_info=True)
        finally:
            self.connections -= 1
            self._by_address[address] -= 1
            if not self._by_address[address]:
                del self._by_address[address]
            self.tally.quirks.update(framer.quirks)
            stream.close()
            # the counts of runs that grew since their last recount; a failure here loses
            # counts of refused frames, never a packet
            final = runs.pending()
            if final:
                with contextlib.suppress(Exception):
                    await self.writer.save([], [], final)

    async def _serve_connection(
        self,
        reader: asyncio.StreamReader,
        stream: asyncio.StreamWriter,
        peer: str,
        framer: Framer,
        runs: RejectRuns,
        in_reserve: bool,
    ) -> None:
        limits = self.limits
        loop = asyncio.get_running_loop()
        opened = last_valid = loop.time()
        unproven = in_reserve  # until its first valid frame names a registered point
        in_a_row = 0  # rejects since the last valid frame
        while True:
            now = loop.time()
            # valid frames, not bytes, keep a connection open: one byte a minute does not
            wait = last_valid + limits.idle_timeout_s - now
            if unproven:
                wait = min(wait, opened + limits.registration_grace_s - now)
            if wait <= 0:
                self._refuse("reserve" if unproven else "idle", peer,
                             "no registered point's frame in time" if unproven
                             else "no valid frame for the idle time")  # fmt: skip
                return
            try:
                # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow the
                # shutdown's cancellation when the read completes at the same moment
                async with asyncio.timeout(wait):
                    chunk = await reader.read(READ_SIZE)
            except TimeoutError:
                continue  # the checks above say which limit ran out
            # at the end of the stream a last frame without CR LF still counts
            frames = framer.feed(chunk) if chunk else framer.flush()
            if frames:
                accepted, rejected = classify(frames, peer, now_us(), self.tally)
                if unproven and accepted:
                    mn = accepted[0].packet.mn
                    if not await self.points.registered(mn):
                        self._refuse("reserve", peer, f"MN {mn[:40]!r} is not registered")
                        return
                    unproven = False
                in_a_row = 0 if accepted else in_a_row + len(rejected)
                if accepted:
                    last_valid = loop.time()
                rows, recounts = runs.add(rejected)
                if accepted or rows or recounts:
                    await self._store_and_acknowledge(accepted, rows, recounts, stream)
                if in_a_row > limits.reject_budget:
                    self._refuse("reject_budget", peer, f"{in_a_row} rejects in a row")
                    return
            if not chunk:
                return

    async def _store_and_acknowledge(
        self,
        accepted: list[Received],
        rejected: list[Rejected],
        recounts: list[Recount],
        stream: asyncio.StreamWriter,
    ) -> None:
        # nothing is read from this logger until its packets are on disk; recounts only
        # when there are any, so a writer of the older two-argument shape still serves
        new = await (
            self.writer.save(accepted, rejected, recounts)
            if recounts
            else self.writer.save(accepted, rejected)
        )
        acks = settle(accepted, new, self.tally, datetime.now(UTC))
        if acks:
            stream.write(b"".join(acks))
            # a logger that never reads its acknowledgements is dropped after the idle
            # time rather than holding its handler and buffers forever
            async with asyncio.timeout(self.limits.idle_timeout_s):
                await stream.drain()

    def _exception_handler(
        self, previous: Callable[[asyncio.AbstractEventLoop, dict[str, Any]], object] | None
    ) -> Callable[[asyncio.AbstractEventLoop, dict[str, Any]], object]:
        def handle(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> object:
            exc = context.get("exception")
            if isinstance(exc, OSError) and exc.errno in _RESOURCE_ERRNOS:
                # asyncio pauses accepting for a second and logs a traceback each time:
                # one line per interval with a count says the same
                return self._complain("accept", logging.ERROR,
                                      "cannot accept HJ 212 connections: %s", exc)  # fmt: skip
            if previous is not None:
                return previous(loop, context)
            loop.default_exception_handler(context)
            return None

        return handle

    async def serve(self, host: str, port: int) -> asyncio.Server:
        usable = fit_fd_limit(self.limits.max_connections)
        if usable < self.limits.max_connections:
            log.warning("the open-file limit leaves room for %d HJ 212 connections, not %d",
                        usable, self.limits.max_connections)  # fmt: skip
        self._max_connections = usable
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(self._exception_handler(loop.get_exception_handler()))
        return await asyncio.start_server(self.handle, host, port, limit=READ_SIZE)
