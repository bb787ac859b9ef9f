"""The MQTT bridge: sites that publish HJ 212 traffic to a broker instead of opening TCP.

Every message goes through the receiver's one path (``classify`` → ``GroupWriter.save`` →
``settle``), so a packet that came over MQTT is stored exactly like a logger's TCP packet.
A site may publish either HJ 212 text (one or more ``##…`` frames) or JSON readings, which
are first rewritten into an HJ 212-2017 frame by :func:`json_reading_packet`: there is one
storage format, and the stored frame is the evidence.

Stored before acknowledged, at both levels:

* HJ 212 acknowledgements (9014/9013 for packets whose Flag asks for one) are published to
  ``<topic><ack_topic_suffix>`` only after the writer reported the packets stored.
* MQTT QoS 1: aiomqtt 2.5 has no public manual acknowledgement (its PUBACK leaves as soon
  as paho hands the message to aiomqtt's queue, before any application code runs; upstream
  issue empicano/aiomqtt#345, PR #346 unmerged). The bridge therefore switches on paho-mqtt's
  own ``manual_ack`` on aiomqtt's underlying paho client (``Client._client``, a private
  attribute) and sends each PUBACK only after the message was stored. Should a later aiomqtt
  drop that attribute, the bridge logs a warning and falls back to aiomqtt's automatic
  acknowledgement; then a message that reached the bridge but was not yet stored when the
  bridge died is lost to the platform (the broker considers it delivered).

Redelivery of unacknowledged messages across a disconnect needs a broker session that
outlives the connection: give ``client_id`` and the bridge connects with a persistent
session (MQTT 3.1.1 ``clean_session=False``), so the broker also keeps QoS 1 messages that
arrive while the bridge is away. Without ``client_id`` the session is clean and anything
published while the bridge is disconnected is not delivered to it. Redelivered messages
cost nothing but a duplicate count: packets are keyed by the digest of their frame.

With manual acknowledgement the broker's in-flight limit per client (Mosquitto:
``max_inflight_messages``, 20 by default) bounds how many messages wait in the bridge, so a
slow database slows the broker's delivery instead of filling memory, as TCP does for
loggers.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import uuid
from collections.abc import Awaitable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit

import aiomqtt
import paho.mqtt.client as paho
from paho.mqtt.reasoncodes import ReasonCode

from trustledger.monitoring.codec import (
    NUMERIC_FIELDS,
    TEXT_FIELDS,
    Dialect,
    Framer,
    PacketError,
    RejectReason,
    build_data,
    require_known,
)
from trustledger.monitoring.receiver import GroupWriter, Tally, classify, now_us, settle
from trustledger.monitoring.store import Received, Rejected

log = logging.getLogger(__name__)

DEFAULT_PORT = 1883
BACKOFF_START_S = 0.5
BACKOFF_MAX_S = 30.0
# One save per batch: what queued up while the previous batch was stored goes in one
# transaction (the broker's in-flight limit usually keeps batches far smaller).
MAX_BATCH = 500
# On stop, a batch being stored is allowed to finish and be acknowledged; only a connect
# attempt that hangs longer than this is cut off.
STOP_GRACE_S = 5.0

JSON_COMMANDS = frozenset({"2011", "2051", "2061", "2031"})
_JSON_KEYS = frozenset({"mn", "cn", "data_time", "st", "readings"})
_FLAG_FIELDS = frozenset({"Flag", "EFlag"})
_UNSENDABLE = frozenset(";,=&")

T = TypeVar("T")


# --- configuration ----------------------------------------------------------------------


def parse_mqtt_url(url: str) -> tuple[str, int]:
    """``mqtt://host[:port]`` as (host, port); the port defaults to 1883."""
    try:
        parts = urlsplit(url)
    except ValueError as exc:  # e.g. an unbalanced '[' of an IPv6 host
        raise ValueError(f"MQTT URL {url!r} cannot be parsed: {exc}") from None
    if parts.scheme != "mqtt":
        got = f"scheme {parts.scheme!r}" if parts.scheme else "no scheme"
        raise ValueError(
            f"MQTT URL {url!r} has {got}: only mqtt://host[:port] is supported (no TLS)"
        )
    if parts.username is not None or parts.password is not None:
        raise ValueError(f"MQTT URL {url!r} carries credentials, which are not supported")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError(
            f"MQTT URL {url!r} has a path, query or fragment: expected mqtt://host[:port]"
        )
    host = parts.hostname
    if not host:
        raise ValueError(f"MQTT URL {url!r} names no host: expected mqtt://host[:port]")
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"MQTT URL {url!r} has a port that is not a number in 0-65535") from None
    if port == 0:
        raise ValueError(f"MQTT URL {url!r} has port 0")
    return host, DEFAULT_PORT if port is None else port


# --- JSON readings --------------------------------------------------------------------------


def _bad(detail: str) -> PacketError:
    return PacketError(RejectReason.bad_field, detail)


def _text(payload: Mapping[str, Any], key: str) -> str:
    if key not in payload:
        raise _bad(f"JSON field {key!r} missing")
    value = payload[key]
    if not isinstance(value, str):
        raise _bad(f"JSON field {key!r} must be a string, not {type(value).__name__}")
    if not value:
        raise _bad(f"JSON field {key!r} is empty")
    return value


def _data_time(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise PacketError(
            RejectReason.bad_timestamp,
            f"JSON field 'data_time' {text!r} is not an ISO date and time",
        ) from None
    if moment.tzinfo is not None:
        # HJ 212 DataTime is the device's local clock; turning an offset into local time
        # would need the site's zone, which the bridge does not know.
        raise PacketError(
            RejectReason.bad_timestamp,
            f"JSON field 'data_time' {text!r} must be device-local time without a UTC offset",
        )
    return moment


def _reading(code: str, items: object) -> dict[str, float | str]:
    where = f"readings.{code}"
    if not isinstance(items, dict):
        raise _bad(f"JSON field {where!r} must be an object, not {type(items).__name__}")
    out: dict[str, float | str] = {}
    for name, value in items.items():
        field = f"{where}.{name}"
        if name in NUMERIC_FIELDS:
            # bool is an int in Python but never a measured value
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise _bad(f"JSON field {field!r} must be a number, not {type(value).__name__}")
            if isinstance(value, float) and not math.isfinite(value):
                raise _bad(f"JSON field {field!r} is not a finite number")
            out[name] = value
        elif name in _FLAG_FIELDS or name in TEXT_FIELDS:
            if not isinstance(value, str):
                raise _bad(f"JSON field {field!r} must be a string, not {type(value).__name__}")
            if not value or _UNSENDABLE.intersection(value):
                raise _bad(f"JSON field {field!r} value {value!r} cannot be sent in HJ 212")
            out[name] = value
        else:
            raise _bad(f"JSON field {field!r} is not an HJ 212 item field")
    if not any(name in NUMERIC_FIELDS for name in out):
        raise _bad(f"JSON field {where!r} has no value (Rtd, Avg, …)")
    return out


def json_reading_packet(payload: Mapping[str, Any]) -> bytes:
    """The HJ 212-2017 frame (CR LF included) for a site's JSON readings.

    ``{"mn", "cn" (2011/2051/2061/2031), "data_time" (device-local ISO), "st" (optional,
    default 31), "readings": {code: {"Rtd": 12.5, "Flag": "N", …}}}``. The frame is built
    deterministically (QN from DataTime, the 2017 Flag without an acknowledgement request),
    so the same JSON published twice is the same stored packet.

    Raises :class:`PacketError`: ``unknown_code`` for a pollutant code that is neither of the
    2017 form nor a known 2005 code, ``bad_timestamp`` for a ``data_time`` that is not a
    device-local ISO time, ``bad_field`` naming the field for anything else.
    """
    if not isinstance(payload, Mapping):
        raise _bad(f"JSON payload must be an object, not {type(payload).__name__}")
    # A key the bridge does not know would be silently dropped from the evidence.
    unexpected = sorted(str(k) for k in payload if k not in _JSON_KEYS)
    if unexpected:
        raise _bad(f"JSON field {', '.join(map(repr, unexpected))} is not understood")
    mn = _text(payload, "mn")
    cn = _text(payload, "cn")
    if cn not in JSON_COMMANDS:
        raise _bad(f"JSON field 'cn' {cn!r} must be one of {', '.join(sorted(JSON_COMMANDS))}")
    data_time = _data_time(_text(payload, "data_time"))
    st = _text(payload, "st") if "st" in payload else "31"
    if len(st) != 2 or not st.isascii() or not st.isdigit():
        raise _bad(f"JSON field 'st' {st!r} is not a 2-digit system code")
    if "readings" not in payload:
        raise _bad("JSON field 'readings' missing")
    readings = payload["readings"]
    if not isinstance(readings, dict):
        raise _bad(f"JSON field 'readings' must be an object, not {type(readings).__name__}")
    if not readings:
        raise _bad("JSON field 'readings' is empty")
    values: dict[str, dict[str, float | str]] = {}
    for code, items in readings.items():
        require_known(code)
        values[code] = _reading(code, items)
    return build_data(mn, cn, data_time, values, st=st, dialect=Dialect.hj212_2017)


def _json_frames(payload: bytes) -> list[bytes | PacketError]:
    try:
        document = json.loads(payload)
    except UnicodeDecodeError as exc:
        return [_bad(f"JSON payload is not valid UTF-8 (byte {exc.start})")]
    except json.JSONDecodeError as exc:
        return [_bad(f"JSON payload is not valid JSON: {exc.msg} at line {exc.lineno}")]
    except RecursionError:
        return [_bad("JSON payload is nested too deeply")]
    try:
        return [json_reading_packet(document)]
    except PacketError as exc:
        return [exc]


def payload_frames(payload: bytes) -> list[bytes | PacketError]:
    """What one MQTT message holds, as the frames ``classify`` takes."""
    body = payload.strip()
    if body.startswith(b"##"):
        # Publishers often leave out the CR LF that ends a frame on TCP, or end with a
        # bare LF; the message boundary already ends the last frame.
        framer = Framer()
        return framer.feed(body + b"\r\n") + framer.flush()
    if body.startswith(b"{"):
        return _json_frames(body)
    preview = body[:40].decode("utf-8", "backslashreplace")
    return [
        PacketError(
            RejectReason.no_header,
            f"MQTT payload is neither HJ 212 text ('##…') nor JSON ('{{…'): {preview!r}",
        )
    ]


# --- the bridge -----------------------------------------------------------------------------


async def _until(stop: asyncio.Event, work: Awaitable[T]) -> tuple[bool, T | None]:
    """(True, result) when ``work`` finished, (False, None) when ``stop`` came first."""
    task = asyncio.ensure_future(work)
    if stop.is_set():
        task.cancel()
    stopper = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopper.cancel()
    if task.done() and not task.cancelled():
        return True, task.result()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    return False, None


async def _pause(stop: asyncio.Event, seconds: float) -> bool:
    """Wait ``seconds``; True if ``stop`` was set meanwhile."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
    return stop.is_set()


def _refused(code: object) -> bool:
    """Whether a SUBACK entry refuses the subscription (paho reports reason codes for both
    protocol versions, older versions plain integers)."""
    if isinstance(code, ReasonCode):
        return code.is_failure
    return isinstance(code, int) and code >= 0x80


def _manual_ack(client: aiomqtt.Client) -> paho.Client | None:
    """aiomqtt's paho client with manual acknowledgement on, or None where that is not
    reachable (see the module docstring)."""
    inner = getattr(client, "_client", None)
    if isinstance(inner, paho.Client) and hasattr(inner, "manual_ack_set"):
        inner.manual_ack_set(True)
        return inner
    log.warning(
        "aiomqtt offers no manual acknowledgement: MQTT messages are acknowledged to the "
        "broker before they are stored"
    )
    return None


class MqttBridge:
    """Subscribes to the sites' topics and stores what they publish.

    ``tally`` counts all traffic since construction; ``subscribed`` is set while the bridge
    is connected and subscribed (for callers that must not publish before it listens).
    Messages on topics ending in ``ack_topic_suffix`` are the bridge's own replies seen
    through a wildcard subscription and are never stored, so a site must not publish on
    such a topic. The writer must outlive :meth:`run`: a save on a closed writer never
    returns.
    """

    def __init__(
        self,
        writer: GroupWriter,
        url: str,
        topics: Sequence[str],
        *,
        ack_topic_suffix: str | None = "/ack",
        client_id: str | None = None,
    ) -> None:
        if isinstance(topics, str):
            raise TypeError("topics must be a sequence of topic filters, not one string")
        if not topics:
            raise ValueError("the MQTT bridge needs at least one topic to subscribe to")
        for topic in topics:
            # checked here, not at subscribe time, where a bad filter would only show as a
            # session failing over and over
            aiomqtt.Wildcard(topic)
        if ack_topic_suffix is not None and (
            not ack_topic_suffix or {"+", "#", "\0"} & set(ack_topic_suffix)
        ):
            raise ValueError(
                f"ack_topic_suffix {ack_topic_suffix!r} must be non-empty text without "
                "wildcards (acks go to <site topic><suffix>)"
            )
        self.writer = writer
        self.host, self.port = parse_mqtt_url(url)
        self.topics = list(topics)
        self.ack_topic_suffix = ack_topic_suffix
        self.client_id = client_id
        self.tally = Tally()
        self.subscribed = asyncio.Event()
        self.manual_ack = False
        self._connected = False

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Bridge until ``stop`` is set, reconnecting with a bounded backoff."""
        stop = stop if stop is not None else asyncio.Event()
        delay = BACKOFF_START_S
        while not stop.is_set():
            self._connected = False
            session = asyncio.create_task(self._session(stop))
            stopper = asyncio.create_task(stop.wait())
            try:
                await asyncio.wait({session, stopper}, return_when=asyncio.FIRST_COMPLETED)
                if not session.done():
                    await asyncio.wait({session}, timeout=STOP_GRACE_S)
            finally:
                stopper.cancel()
                # also when run() itself is cancelled: the session must not outlive it
                if not session.done():
                    session.cancel()
            try:
                await session
            except asyncio.CancelledError:
                if not stop.is_set():
                    raise
            except aiomqtt.MqttError as exc:
                log.warning(
                    "MQTT broker %s:%d unavailable (%s); reconnecting in %.1f s",
                    self.host, self.port, exc, delay,
                )  # fmt: skip
            except Exception:
                # A bug must not end the bridge: the broker redelivers what was not acked.
                log.exception("MQTT bridge session failed; reconnecting in %.1f s", delay)
            finally:
                self.subscribed.clear()
            if stop.is_set():
                break
            if self._connected:
                delay = BACKOFF_START_S
            if await _pause(stop, delay):
                break
            delay = min(delay * 2, BACKOFF_MAX_S)
        log.info("MQTT bridge to %s:%d stopped", self.host, self.port)

    async def _session(self, stop: asyncio.Event) -> None:
        client = aiomqtt.Client(
            self.host,
            self.port,
            identifier=self.client_id or f"trustledger-{uuid.uuid4().hex[:12]}",
            clean_session=self.client_id is None,
            logger=log,
        )
        # Before connecting: a persistent session's queued messages arrive right after
        # CONNACK, and each one must wait for the store.
        inner = _manual_ack(client)
        self.manual_ack = inner is not None
        async with client:
            self._connected = True
            granted = await client.subscribe([(topic, 1) for topic in self.topics])
            refused = [
                topic for topic, code in zip(self.topics, granted, strict=False) if _refused(code)
            ]
            if refused:
                # e.g. the broker's ACL: the bridge keeps serving the topics it was granted
                log.error("MQTT broker refused the subscription to %s", ", ".join(refused))
            log.info(
                "MQTT bridge connected to %s:%d, subscribed to %s",
                self.host, self.port, ", ".join(self.topics),
            )  # fmt: skip
            self.subscribed.set()
            messages = client.messages
            while not stop.is_set():
                if len(messages):
                    first: aiomqtt.Message | None = await anext(messages)
                else:
                    _, first = await _until(stop, anext(messages))
                if first is None:
                    return
                batch = [first]
                while len(messages) and len(batch) < MAX_BATCH:
                    batch.append(await anext(messages))
                await self._handle(client, inner, batch, stop)

    def _is_ack_topic(self, topic: str) -> bool:
        # A wildcard subscription also matches the bridge's own acknowledgement topics;
        # storing those would file the platform's replies as the site's packets.
        suffix = self.ack_topic_suffix
        return suffix is not None and topic.endswith(suffix)

    async def _handle(
        self,
        client: aiomqtt.Client,
        inner: paho.Client | None,
        batch: list[aiomqtt.Message],
        stop: asyncio.Event,
    ) -> None:
        received = now_us()
        parts: list[tuple[str, list[Received]]] = []
        accepted: list[Received] = []
        rejected: list[Rejected] = []
        for message in batch:
            topic = message.topic.value
            if self._is_ack_topic(topic):
                continue
            try:
                frames = payload_frames(bytes(message.payload))
            except Exception as exc:
                # With manual acknowledgement a message that crashed the bridge would come
                # back after every reconnect and block all sites behind it.
                log.exception("MQTT message on %s could not be read", topic)
                frames = [_bad(f"MQTT payload could not be read: {type(exc).__name__}: {exc}")]
            ok, bad = classify(frames, f"mqtt:{topic}", received, self.tally)
            parts.append((topic, ok))
            accepted += ok
            rejected += bad
        new = await self._save(accepted, rejected, stop)
        if new is None:
            return  # stopped before the packets were stored: nothing may be acknowledged
        moment = datetime.now(UTC)
        owed: list[tuple[str, bytes]] = []
        start = 0
        for topic, ok in parts:
            acks = settle(ok, new[start : start + len(ok)], self.tally, moment)
            start += len(ok)
            if self.ack_topic_suffix is not None:
                owed += [(topic + self.ack_topic_suffix, ack) for ack in acks]
        if inner is not None:
            # In arrival order, as MQTT 3.1.1 §4.6 asks of PUBACKs. A PUBACK that cannot
            # leave (connection just lost) is harmless: the broker redelivers, the store
            # counts a duplicate.
            for message in batch:
                if message.qos > 0:
                    inner.ack(message.mid, message.qos)
        if owed:
            await asyncio.gather(*(client.publish(topic, ack, qos=1) for topic, ack in owed))

    async def _save(
        self, accepted: list[Received], rejected: list[Rejected], stop: asyncio.Event
    ) -> list[bool] | None:
        """The writer's answer, retried while the database is unavailable; None if stopped
        first. Nothing is acknowledged meanwhile, so the broker holds further messages."""
        if not accepted and not rejected:
            return []
        delay = BACKOFF_START_S
        while True:
            try:
                return await self.writer.save(accepted, rejected)
            except Exception as exc:
                log.warning(
                    "storing %d MQTT packets failed (%s); retrying in %.1f s",
                    len(accepted) + len(rejected), exc, delay,
                )  # fmt: skip
            if await _pause(stop, delay):
                return None
            delay = min(delay * 2, BACKOFF_MAX_S)
