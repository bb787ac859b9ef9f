"""HJ 212 frames through NATS JetStream: receivers that publish, consumers that store.

Past one machine the receiver (:mod:`trustledger.monitoring.receiver`) does not write the
store itself: :class:`JetStreamWriter` publishes every accepted frame to a JetStream
stream and the receiver acknowledges the logger once JetStream answered that it stored
the frame (the PubAck). :class:`FrameConsumer` fetches the frames in batches through one
durable pull consumer (any number of consumer processes share it), stores each batch in
one transaction and only then acknowledges the messages to JetStream.

Why nothing acknowledged is lost, and nothing is stored twice:

- a frame is acknowledged to a logger only after its PubAck, and the stream is on file
  storage, so a receiver killed at any point loses only frames no logger was told of;
- every frame's message id (``Nats-Msg-Id``) is the packet's digest, the key the store
  deduplicates by: a logger resending after a lost acknowledgement, through any receiver,
  within the duplicate window is dropped by JetStream (the PubAck says ``duplicate``),
  later by the store;
- a consumer acknowledges messages only after the transaction holding them committed: a
  consumer killed before that gets them delivered again (after the ack wait) and a
  consumer killed between commit and acknowledgement gets them again too, which the
  store's digest check turns into "already stored".

Subjects are ``<subject>.frames.<MN>`` (partitioned by point, the MN made a safe subject
token by :func:`mn_token`) and ``<subject>.rejects`` for the runs of refused frames and
their recounts, published as the direct receiver stores them so ``monitor_rejects`` sees
every receiver's refusals. Rejects are counts of refused frames, never data a logger was
told is stored: a consumer killed between its commit and its acknowledgement may store a
run's row twice (the frames are deduplicated, these counts are not).

nats-py is imported only when JetStream is configured (the ``scale`` extra).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import re
import time
import urllib.parse
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import orjson

from trustledger.monitoring.codec import PacketError, RejectReason, parse
from trustledger.monitoring.receiver import LogLimiter
from trustledger.monitoring.store import MonitoringStore, Received, Recount, Rejected
from trustledger.settings import Settings

if TYPE_CHECKING:
    from nats.aio.client import Client
    from nats.aio.msg import Msg
    from nats.js.client import JetStreamContext

log = logging.getLogger(__name__)
T = TypeVar("T")

MSG_ID = "Nats-Msg-Id"
RECEIVED_US = "Trustledger-Received-Us"
PEER = "Trustledger-Peer"
SCHEMES = ("nats", "tls", "ws", "wss")
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_SUBJECT = re.compile(r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$")
PUBLISH_TIMEOUT_S = 5.0  # a PubAck later than this: the logger is not acknowledged, and resends
CONNECT_TIMEOUT_S = 2.0
FETCH_WAIT_S = 1.0  # a consumer looks at its stop event at least this often
MAX_ACK_PENDING = 20_000


class JetStreamError(Exception):
    """JetStream cannot be used: unreachable, or the stream is not as it must be."""


def mn_token(mn: str) -> str:
    """The MN as one NATS subject token: as sent when it is letters, digits, ``-`` and
    ``_`` (every registrable MN), otherwise ``~`` and its UTF-8 bytes in hex (``~`` is no
    registrable MN's character, so two MNs never share a token)."""
    if _TOKEN.match(mn):
        return mn
    return "~" + mn.encode("utf-8", "surrogatepass").hex()


def check_servers(url: str) -> tuple[str, ...]:
    """``TRUSTLEDGER_NATS_URL`` (one URL, or several separated by commas) → the servers;
    ValueError naming what is wrong."""
    servers = tuple(part.strip() for part in url.split(","))
    for server in servers:
        problem = _url_problem(server)
        if problem:
            raise ValueError(
                f"TRUSTLEDGER_NATS_URL: {server!r} is not a NATS server URL ({problem}; "
                "e.g. nats://127.0.0.1:4222)"
            )
    return servers


def _url_problem(server: str) -> str | None:
    if not server:
        return "empty"
    parts = urllib.parse.urlsplit(server)
    if parts.scheme not in SCHEMES:
        return f"the scheme must be one of {', '.join(SCHEMES)}"
    try:
        port = parts.port
    except ValueError:
        return "the port is not a number from 1 to 65535"
    if not parts.hostname:
        return "no host"
    if port == 0:
        return "the port is not a number from 1 to 65535"
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        return "a server URL has no path, query or fragment"
    return None


@dataclass(frozen=True)
class JetStreamConfig:
    """Where frames go: the servers, the stream and its subjects, the durable consumer."""

    servers: tuple[str, ...]
    stream: str = "HJ212"
    subject: str = "hj212"
    consumer: str = "hj212-store"
    duplicate_window_s: float = 120.0
    max_age_s: float = 7 * 86400.0
    ack_wait_s: float = 30.0
    publish_timeout_s: float = PUBLISH_TIMEOUT_S

    def __post_init__(self) -> None:
        for name, value in (("TRUSTLEDGER_NATS_STREAM", self.stream),
                            ("TRUSTLEDGER_NATS_CONSUMER", self.consumer)):  # fmt: skip
            if not _NAME.match(value):
                raise ValueError(f"{name}: {value!r} is not a name of 1 to 64 letters, digits, - _")
        if not _SUBJECT.match(self.subject):
            raise ValueError(
                f"TRUSTLEDGER_NATS_SUBJECT: {self.subject!r} is not a subject prefix (tokens of "
                "letters, digits, - _ separated by dots, no wildcards)"
            )
        if not self.duplicate_window_s > 0:
            raise ValueError("TRUSTLEDGER_NATS_DUPLICATE_WINDOW: must be more than 0 seconds")
        if not self.max_age_s >= self.duplicate_window_s:
            raise ValueError(
                "TRUSTLEDGER_NATS_MAX_AGE: must be at least the duplicate window "
                f"({self.duplicate_window_s:g} s)"
            )
        if not self.ack_wait_s > 0:
            raise ValueError("TRUSTLEDGER_NATS_ACK_WAIT: must be more than 0 seconds")

    @classmethod
    def from_settings(cls, settings: Settings) -> JetStreamConfig:
        """ValueError naming the setting when one is wrong or the URL is not set."""
        if not settings.nats_url:
            raise ValueError("TRUSTLEDGER_NATS_URL is not set (e.g. nats://127.0.0.1:4222)")
        return cls(
            servers=check_servers(settings.nats_url),
            stream=settings.nats_stream,
            subject=settings.nats_subject,
            consumer=settings.nats_consumer,
            duplicate_window_s=settings.nats_duplicate_window,
            max_age_s=settings.nats_max_age,
            ack_wait_s=settings.nats_ack_wait,
        )

    def frames_subject(self, mn: str) -> str:
        return f"{self.subject}.frames.{mn_token(mn)}"

    @property
    def rejects_subject(self) -> str:
        return f"{self.subject}.rejects"

    @property
    def subjects(self) -> list[str]:
        return [f"{self.subject}.frames.*", self.rejects_subject]


async def connect(config: JetStreamConfig, name: str) -> tuple[Client, JetStreamContext]:
    """A connection that reconnects for ever once made, and its JetStream context, with the
    stream made if missing; JetStreamError when the servers cannot be reached or the stream
    is not usable."""
    import nats

    complain = LogLimiter(log, 60.0)

    async def error(exc: Exception) -> None:
        complain("error", logging.WARNING, "NATS: %s", exc or type(exc).__name__)

    made: list[Client] = []

    async def disconnected() -> None:
        if made and made[0].is_closed:
            return  # closed by us
        log.warning("NATS: disconnected from %s, reconnecting", ", ".join(config.servers))

    async def reconnected() -> None:
        log.warning("NATS: reconnected")

    try:
        # one retry per server at the start (unlimited retries would make an unreachable
        # server hang the start instead of failing it), then unlimited once connected: a
        # receiver outlives any restart of NATS
        nc = await nats.connect(
            servers=list(config.servers), name=name, connect_timeout=int(CONNECT_TIMEOUT_S),
            allow_reconnect=True, max_reconnect_attempts=1, reconnect_time_wait=1,
            error_cb=error, disconnected_cb=disconnected, reconnected_cb=reconnected,
        )  # fmt: skip
    except Exception as exc:
        raise JetStreamError(
            f"NATS at {', '.join(config.servers)} is unreachable: {exc or type(exc).__name__}"
        ) from None
    nc.options["max_reconnect_attempts"] = -1
    made.append(nc)
    js = nc.jetstream(timeout=config.publish_timeout_s)
    try:
        await ensure_stream(js, config)
    except BaseException:
        with contextlib.suppress(Exception):
            await nc.close()
        raise
    return nc, js


async def ensure_stream(js: JetStreamContext, config: JetStreamConfig) -> None:
    """The stream, on file storage with the duplicate window and a limit policy; made if
    missing. An existing stream that does not take our subjects is an error, not changed."""
    from nats.js.api import RetentionPolicy, StorageType, StreamConfig
    from nats.js.errors import NotFoundError

    try:
        info = await js.stream_info(config.stream)
    except NotFoundError:
        info = None
    except Exception as exc:
        raise JetStreamError(
            f"JetStream at {', '.join(config.servers)} does not answer (is the server run with "
            f"-js?): {exc or type(exc).__name__}"
        ) from None
    if info is None:
        try:
            await js.add_stream(
                StreamConfig(
                    name=config.stream, subjects=config.subjects, storage=StorageType.FILE,
                    retention=RetentionPolicy.LIMITS, max_age=config.max_age_s,
                    duplicate_window=config.duplicate_window_s,
                    description="HJ 212 frames accepted by trustledger receivers",
                )
            )  # fmt: skip
        except Exception as exc:
            raise JetStreamError(
                f"cannot create JetStream stream {config.stream} for {', '.join(config.subjects)}: "
                f"{exc or type(exc).__name__}"
            ) from None
        log.info("JetStream stream %s created", config.stream)
        return
    have = set(info.config.subjects or ())
    if not set(config.subjects) <= have:
        raise JetStreamError(
            f"JetStream stream {config.stream} takes {', '.join(sorted(have)) or 'no subjects'}, "
            f"not {', '.join(config.subjects)}: set TRUSTLEDGER_NATS_STREAM or "
            "TRUSTLEDGER_NATS_SUBJECT to match"
        )
    storage = info.config.storage
    if storage is not None and str(getattr(storage, "value", storage)) != "file":
        raise JetStreamError(
            f"JetStream stream {config.stream} keeps messages in memory: an acknowledgement "
            "would not survive a restart of the server (file storage is needed)"
        )


def rejects_payload(rejected: Sequence[Rejected], recounts: Sequence[Recount]) -> bytes:
    return orjson.dumps({
        "rejected": [[r.received_us, r.peer, r.error.reason.value, r.error.detail, r.head,
                      r.frames, r.last_us] for r in rejected],
        "recounts": [list(r) for r in recounts],
    })  # fmt: skip


def read_rejects(data: bytes) -> tuple[list[Rejected], list[Recount]]:
    """A rejects message → its runs and recounts; ValueError if it is not one."""
    body = orjson.loads(data)
    rejected = [
        Rejected(PacketError(RejectReason(r[2]), str(r[3])), int(r[0]), str(r[1]), str(r[4]),
                 int(r[5]), int(r[6]))
        for r in body["rejected"]
    ]  # fmt: skip
    recounts = [Recount(str(r[0]), str(r[1]), int(r[2]), int(r[3]), int(r[4]))
                for r in body["recounts"]]  # fmt: skip
    return rejected, recounts


def read_frame(data: bytes, headers: dict[str, str] | None) -> Received:
    """A frame message → the packet as received; ValueError (PacketError is one) if the
    bytes do not parse, a header is missing, or the digest is not the message id."""
    headers = headers or {}
    packet = parse(data)
    if headers.get(MSG_ID) != packet.digest:
        raise ValueError(f"message id {headers.get(MSG_ID)!r} is not the frame's digest")
    received_us = int(headers[RECEIVED_US])
    return Received(packet, received_us, urllib.parse.unquote(headers[PEER]))


# --- the receivers' side --------------------------------------------------------------


class JetStreamWriter:
    """`GroupWriter`'s interface for the receiver, publishing instead of storing:
    ``save`` returns once JetStream has stored every accepted frame (True: new to the
    duplicate window), or raises, and then nothing may be acknowledged. ``call`` reads the
    store (the registered points) on a thread of its own."""

    def __init__(self, config: JetStreamConfig, store: MonitoringStore | None = None) -> None:
        self.config = config
        self._store = store
        self._nc: Client | None = None
        self._js: JetStreamContext | None = None
        self._reads = ThreadPoolExecutor(1, thread_name_prefix="hj212-reads")
        self._complain = LogLimiter(log, 60.0)

    async def connect(self) -> None:
        self._nc, self._js = await connect(self.config, "trustledger-hj212-receiver")

    async def save(
        self, accepted: list[Received], rejected: list[Rejected], recounts: Sequence[Recount] = ()
    ) -> list[bool]:
        js = self._js
        if js is None:
            raise JetStreamError("the JetStream writer is not connected")
        config = self.config
        timeout = config.publish_timeout_s
        publishing = [
            js.publish(
                config.frames_subject(item.packet.mn),
                item.packet.raw.encode("utf-8"),
                timeout=timeout,
                headers={
                    MSG_ID: item.packet.digest,
                    RECEIVED_US: str(item.received_us),
                    PEER: urllib.parse.quote(item.peer, safe=":/@"),
                },
            )
            for item in accepted
        ]
        if rejected or recounts:
            body = rejects_payload(rejected, recounts)
            digest = hashlib.sha256(body).hexdigest()
            publishing.append(
                js.publish(config.rejects_subject, body, timeout=timeout, headers={MSG_ID: digest})
            )
        try:
            # concurrently: one round trip for a connection's frames, not one per frame
            acks = await asyncio.gather(*publishing)
        except Exception as exc:
            why = str(exc) or type(exc).__name__
            self._complain("publish", logging.ERROR, "publishing %d frames to JetStream stream "
                           "%s failed, none acknowledged to the logger: %s", len(accepted),
                           config.stream, why)  # fmt: skip
            raise JetStreamError(f"JetStream did not store the frames: {why}") from exc
        return [not ack.duplicate for ack in acks[: len(accepted)]]

    async def call(self, fn: Callable[[MonitoringStore], T]) -> T:
        if self._store is None:
            raise JetStreamError("this receiver has no store to read")
        store = self._store
        return await asyncio.get_running_loop().run_in_executor(self._reads, fn, store)

    async def aclose(self) -> None:
        """Flush and close the connection (what is not flushed in 5 s was never acknowledged
        to anyone)."""
        nc, self._nc, self._js = self._nc, None, None
        if nc is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(nc.close(), 5)

    def close(self) -> None:
        self._reads.shutdown(wait=True)


# --- the consumers' side --------------------------------------------------------------


@dataclass
class ConsumeTally:
    """What a consumer took from the stream: messages, frames stored as new or found
    already stored (a redelivery, or a resend past the duplicate window), runs of rejects,
    messages that could not be read (terminated, logged), and redeliveries."""

    messages: int = 0
    frames: int = 0
    stored: int = 0
    already_stored: int = 0
    reject_runs: int = 0
    recounts: int = 0
    unreadable: int = 0
    redelivered: int = 0
    batches: int = 0
    judged: int = 0
    mns: set[str] = field(default_factory=set)

    def to_json(self) -> dict[str, Any]:
        return {
            "messages": self.messages, "frames": self.frames, "stored": self.stored,
            "already_stored": self.already_stored, "reject_runs": self.reject_runs,
            "recounts": self.recounts, "unreadable": self.unreadable,
            "redelivered": self.redelivered, "batches": self.batches, "judged": self.judged,
            "points": len(self.mns),
        }  # fmt: skip


class FrameConsumer:
    """One process's share of the durable pull consumer: fetch a batch, store it in one
    transaction (on a thread of its own: the database calls block), acknowledge it.

    ``judge`` (run on the store's thread, between batches) is given the MNs of the frames
    this consumer took since its last judgement that succeeded, at most every
    ``judge_every_s`` seconds and once more at the end if any are left: each consumer
    judges the points its own batches held, so M consumers do not judge every point M
    times over. A judgement that fails keeps its MNs for the next one."""

    def __init__(
        self,
        config: JetStreamConfig,
        store: MonitoringStore,
        *,
        batch: int = 500,
        judge: Callable[[frozenset[str]], object] | None = None,
        judge_every_s: float = 60.0,
    ) -> None:
        self.config = config
        self.store = store
        self.batch = batch
        self.tally = ConsumeTally()
        self._judge = judge
        self._judge_every_s = judge_every_s
        self._judged_at = -float("inf")
        self._unjudged: set[str] = set()  # MNs taken since the last judgement that succeeded
        self._nc: Client | None = None
        self._js: JetStreamContext | None = None
        self._db = ThreadPoolExecutor(1, thread_name_prefix="hj212-consumer")
        self._complain = LogLimiter(log, 60.0)

    async def connect(self) -> None:
        self._nc, self._js = await connect(self.config, "trustledger-hj212-consumer")

    async def _on_store(self, fn: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._db, fn)

    async def subscribe(self) -> JetStreamContext.PullSubscription:
        """This process's binding to the durable pull consumer (made if missing)."""
        from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

        assert self._js is not None, "connect first"
        config = self.config
        try:
            return await self._js.pull_subscribe(
                f"{config.subject}.>", durable=config.consumer, stream=config.stream,
                config=ConsumerConfig(
                    ack_policy=AckPolicy.EXPLICIT, deliver_policy=DeliverPolicy.ALL,
                    ack_wait=config.ack_wait_s, max_ack_pending=MAX_ACK_PENDING,
                ),
            )  # fmt: skip
        except Exception as exc:
            raise JetStreamError(
                f"cannot bind the durable consumer {config.consumer} of stream {config.stream}: "
                f"{exc or type(exc).__name__}"
            ) from None

    async def run(self, stop: asyncio.Event, *, until_idle: bool = False) -> ConsumeTally:
        """Consume until ``stop`` is set (or, with ``until_idle``, until the consumer has
        nothing pending and nothing delivered unacknowledged)."""
        from nats.errors import TimeoutError as NatsTimeout

        sub = await self.subscribe()
        while not stop.is_set():
            try:
                msgs = await sub.fetch(self.batch, timeout=FETCH_WAIT_S)
            except (TimeoutError, NatsTimeout):
                await self._maybe_judge()
                if until_idle and await self._idle(sub):
                    break
                continue
            except Exception as exc:  # the server went away: the client reconnects
                self._complain("fetch", logging.WARNING, "fetching from JetStream failed: %s",
                               exc or type(exc).__name__)  # fmt: skip
                await asyncio.sleep(1.0)
                continue
            if msgs:
                await self._take(msgs)
                await self._maybe_judge()
        if self._unjudged:
            await self._maybe_judge(final=True)
        return self.tally

    async def _idle(self, sub: JetStreamContext.PullSubscription) -> bool:
        try:
            info = await sub.consumer_info()
        except Exception:
            return False
        return info.num_pending == 0 and info.num_ack_pending == 0

    async def _take(self, msgs: list[Msg]) -> None:
        tally = self.tally
        received: list[Received] = []
        rejected: list[Rejected] = []
        recounts: list[Recount] = []
        good: list[Msg] = []
        bad: list[tuple[Msg, str]] = []
        frames_prefix = f"{self.config.subject}.frames."
        for msg in msgs:
            try:
                if msg.subject.startswith(frames_prefix):
                    received.append(read_frame(msg.data, msg.headers))
                else:
                    runs, counts = read_rejects(msg.data)
                    rejected += runs
                    recounts += counts
            except (ValueError, KeyError, TypeError, IndexError) as exc:
                bad.append((msg, str(exc) or type(exc).__name__))
                continue
            good.append(msg)
        try:
            new = await self._on_store(lambda: self.store.save(received, rejected, recounts))
        except Exception as exc:
            # nothing committed: delivered again (to this consumer or another), stored then
            self._complain("store", logging.ERROR, "storing %d frames from JetStream failed, "
                           "left unacknowledged: %s", len(received), exc,
                           exc_info=True)  # fmt: skip
            for msg in msgs:
                with contextlib.suppress(Exception):
                    await msg.nak(delay=1.0)
            await asyncio.sleep(1.0)
            return
        # only now: a consumer killed before this point gets the batch again
        for msg in good:
            await msg.ack()
        for msg, why in bad:
            # it would fail again on every delivery; it was parsed once by a receiver, so
            # this is a different codec version or a message someone else published
            self._complain("unreadable", logging.ERROR, "JetStream message %s on %s is not a "
                           "frame trustledger can store, terminated: %s",
                           msg.metadata.sequence.stream, msg.subject, why)  # fmt: skip
            await msg.term()
        if self._nc is not None:
            with contextlib.suppress(Exception):
                await self._nc.flush(timeout=5)
        fresh = sum(new)
        tally.batches += 1
        tally.messages += len(msgs)
        tally.frames += len(received)
        tally.stored += fresh
        tally.already_stored += len(received) - fresh
        tally.reject_runs += len(rejected)
        tally.recounts += len(recounts)
        tally.unreadable += len(bad)
        tally.redelivered += sum(1 for m in good if m.metadata.num_delivered > 1)
        tally.mns.update(r.packet.mn for r, n in zip(received, new, strict=True) if n)
        # frames found already stored count too: a consumer killed between its commit and
        # its acknowledgement stored them but may never have judged them
        self._unjudged.update(r.packet.mn for r in received)

    async def _maybe_judge(self, *, final: bool = False) -> None:
        if self._judge is None or not self._unjudged:
            return
        if not final and time.monotonic() - self._judged_at < self._judge_every_s:
            return
        judge = self._judge
        mns = frozenset(self._unjudged)
        self._judged_at = time.monotonic()
        try:
            await self._on_store(lambda: judge(mns))
        except Exception:
            # the frames are stored and their MNs kept: the next judgement covers them
            self._complain("judge", logging.ERROR, "judging %d points after a batch failed, "
                           "kept for the next judgement", len(mns), exc_info=True)  # fmt: skip
            return
        self._unjudged -= mns
        self.tally.judged += 1

    async def aclose(self) -> None:
        nc, self._nc, self._js = self._nc, None, None
        if nc is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(nc.close(), 5)

    def close(self) -> None:
        self._db.shutdown(wait=True)
