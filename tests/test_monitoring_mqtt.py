"""The MQTT bridge against the real Mosquitto broker at 127.0.0.1:1883.

Every test uses topics under a fresh UUID, so parallel runs on one broker do not see each
other's traffic. Without a broker the broker tests are skipped, except in CI where the
broker is part of the environment and its absence is a failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from trustledger.ledger.store import open_store
from trustledger.monitoring.codec import PacketError, RejectReason, build_data, parse
from trustledger.monitoring.mqtt import (
    MqttBridge,
    json_reading_packet,
    parse_mqtt_url,
    payload_frames,
)
from trustledger.monitoring.receiver import GroupWriter
from trustledger.monitoring.store import MonitoringStore, Received, Rejected

HOST, PORT = "127.0.0.1", 1883
URL = f"mqtt://{HOST}:{PORT}"
MN = "MQTT0000000000000000000001"
WAIT_S = 5.0

GOOD_JSON: dict[str, Any] = {
    "mn": MN,
    "cn": "2051",
    "data_time": "2026-11-26T10:00:00",
    "readings": {
        "a21026": {"Rtd": 12.5, "Flag": "N"},
        "a19001": {"Rtd": 8.1, "Flag": "N"},
    },
}


def _broker_problem() -> str | None:
    try:
        with socket.create_connection((HOST, PORT), timeout=2):
            return None
    except OSError as exc:
        return str(exc)


@pytest.fixture(scope="module")
def broker() -> str:
    problem = _broker_problem()
    if problem is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"Mosquitto at {HOST}:{PORT} is required in CI: {problem}")
        pytest.skip(f"no MQTT broker at {HOST}:{PORT} ({problem}); start Mosquitto to run")
    return URL


def logger_packet(minute: int = 0, *, flag: int = 5) -> bytes:
    """A 2017-dialect 2011 upload as a logger sends it; Flag 5 asks for an acknowledgement."""
    return build_data(
        MN,
        "2011",
        datetime(2026, 11, 26, 10, minute, 0),
        {"a21026": {"Rtd": 12.5, "Flag": "N"}, "a19001": {"Rtd": 8.1, "Flag": "N"}},
        flag=flag,
    )


async def until(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


@dataclass
class Site:
    bridge: MqttBridge
    store: MonitoringStore
    client: aiomqtt.Client
    topic: str

    async def publish(self, payload: bytes | str) -> None:
        await self.client.publish(self.topic, payload, qos=1)

    async def settled(self, packets: int) -> None:
        """Wait until the bridge has counted and stored ``packets`` frames."""
        tally = self.bridge.tally
        await until(
            lambda: (
                tally.packets >= packets
                and tally.accepted + tally.duplicates + sum(tally.rejected.values()) >= packets
            ),
            f"{packets} packets through the bridge (tally {tally.to_json()})",
        )

    def rejects(self) -> list[tuple[str, str, str]]:
        rows = self.store.store._query(
            "SELECT reason, detail, peer FROM monitor_rejects ORDER BY received_us", ()
        )
        return [(r[0], r[1], r[2]) for r in rows]


class FailingWriter(GroupWriter):
    """A writer whose database is down: every save fails."""

    def __init__(self, store: MonitoringStore) -> None:
        super().__init__(store)
        self.attempts = 0

    async def save(self, accepted: list[Received], rejected: list[Rejected]) -> list[bool]:
        self.attempts += 1
        raise RuntimeError("database unavailable")


@contextlib.asynccontextmanager
async def running_bridge(
    tmp_path: Path,
    *,
    client_id: str | None = None,
    base: str | None = None,
    writer_type: type[GroupWriter] = GroupWriter,
) -> AsyncIterator[Site]:
    store = open_store(f"sqlite:///{tmp_path / 'monitoring.db'}")
    store.init()
    mstore = MonitoringStore(store)
    writer = writer_type(mstore)
    base = base or f"trustledger-test/{uuid.uuid4().hex}"
    bridge = MqttBridge(writer, URL, [f"{base}/#"], client_id=client_id)
    stop = asyncio.Event()
    task = asyncio.create_task(bridge.run(stop))
    try:
        await asyncio.wait_for(bridge.subscribed.wait(), WAIT_S)
        async with aiomqtt.Client(HOST, PORT) as client:
            yield Site(bridge, mstore, client, f"{base}/site-1")
        assert not task.done(), "the bridge ended on its own"
    finally:
        stop.set()
        await asyncio.wait_for(task, WAIT_S)
        writer.close()
        store.close()


# --- without a broker ------------------------------------------------------------------------


def test_parse_mqtt_url() -> None:
    assert parse_mqtt_url("mqtt://127.0.0.1") == ("127.0.0.1", 1883)
    assert parse_mqtt_url("mqtt://broker.example:1884") == ("broker.example", 1884)
    assert parse_mqtt_url("mqtt://broker.example:1884/") == ("broker.example", 1884)
    assert parse_mqtt_url("mqtt://[::1]:1885") == ("::1", 1885)
    for url, problem in [
        ("tcp://host:1883", "scheme 'tcp'"),
        ("mqtts://host", "scheme 'mqtts'"),
        ("host:1883", "scheme 'host'"),
        ("//host", "no scheme"),
        ("mqtt://", "names no host"),
        ("mqtt://:1883", "names no host"),
        ("mqtt://host:port", "not a number"),
        ("mqtt://host:70000", "not a number"),
        ("mqtt://host:0", "port 0"),
        ("mqtt://host/topic", "path"),
        ("mqtt://user:secret@host", "credentials"),
        ("mqtt://[::1", "cannot be parsed"),
    ]:
        with pytest.raises(ValueError, match=problem):
            parse_mqtt_url(url)


def test_bridge_refuses_bad_configuration(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'monitoring.db'}")
    store.init()
    writer = GroupWriter(MonitoringStore(store))
    try:
        with pytest.raises(ValueError, match="scheme 'http'"):
            MqttBridge(writer, "http://127.0.0.1", ["a/#"])
        with pytest.raises(ValueError, match="at least one topic"):
            MqttBridge(writer, URL, [])
        with pytest.raises(TypeError, match="not one string"):
            MqttBridge(writer, URL, "a/#")
        with pytest.raises(ValueError):
            MqttBridge(writer, URL, ["a/#/b"])
        for suffix in ("", "/+", "/#"):
            with pytest.raises(ValueError, match="ack_topic_suffix"):
                MqttBridge(writer, URL, ["a/#"], ack_topic_suffix=suffix)
        MqttBridge(writer, URL, ["a/+/data", "b/#"], ack_topic_suffix=None)
    finally:
        writer.close()
        store.close()


def test_json_reading_packet_is_a_2017_frame() -> None:
    frame = json_reading_packet(GOOD_JSON)
    assert frame.endswith(b"\r\n")
    packet = parse(frame)
    assert (packet.mn, packet.cn, packet.st, packet.flag) == (MN, "2051", "31", 4)
    assert packet.data_time == datetime(2026, 11, 26, 10, 0, 0)
    values = {r.code: (dict(r.values), r.flag) for r in packet.readings}
    assert values == {"a21026": ({"Rtd": 12.5}, "N"), "a19001": ({"Rtd": 8.1}, "N")}
    # deterministic, so a republished reading is recognised as a duplicate
    assert json_reading_packet(dict(GOOD_JSON)) == frame
    # 2005 codes are written in their 2017 form, an explicit ST is kept
    old = json_reading_packet({**GOOD_JSON, "st": "32", "readings": {"02": {"Avg": 3}}})
    assert parse(old).st == "32"
    assert [r.code for r in parse(old).readings] == ["a21026"]


BAD_JSON: list[tuple[dict[str, Any] | list[int], RejectReason, str]] = [
    ({k: v for k, v in GOOD_JSON.items() if k != "mn"}, RejectReason.bad_field, "'mn' missing"),
    ({**GOOD_JSON, "mn": 42}, RejectReason.bad_field, "'mn' must be a string"),
    ({**GOOD_JSON, "cn": "9014"}, RejectReason.bad_field, "'cn'"),
    ({**GOOD_JSON, "cn": 2011}, RejectReason.bad_field, "'cn' must be a string"),
    ({**GOOD_JSON, "st": 31}, RejectReason.bad_field, "'st' must be a string"),
    ({**GOOD_JSON, "data_time": 1764150000}, RejectReason.bad_field, "'data_time' must be"),
    ({**GOOD_JSON, "data_time": "26/11/2026"}, RejectReason.bad_timestamp, "'data_time'"),
    (
        {**GOOD_JSON, "data_time": "2026-11-26T10:00:00+08:00"},
        RejectReason.bad_timestamp,
        "device-local",
    ),
    ({**GOOD_JSON, "readings": []}, RejectReason.bad_field, "'readings' must be an object"),
    ({**GOOD_JSON, "readings": {}}, RejectReason.bad_field, "'readings' is empty"),
    (
        {**GOOD_JSON, "readings": {"a21026": {"Rtd": "12.5"}}},
        RejectReason.bad_field,
        "'readings.a21026.Rtd' must be a number",
    ),
    (
        {**GOOD_JSON, "readings": {"a21026": {"Rtd": True}}},
        RejectReason.bad_field,
        "'readings.a21026.Rtd' must be a number",
    ),
    (
        {**GOOD_JSON, "readings": {"a21026": {"Rtd": 1.0, "Flag": 1}}},
        RejectReason.bad_field,
        "'readings.a21026.Flag' must be a string",
    ),
    (
        {**GOOD_JSON, "readings": {"a21026": {"Rtd": 1.0, "Colour": "red"}}},
        RejectReason.bad_field,
        "'readings.a21026.Colour'",
    ),
    (
        {**GOOD_JSON, "readings": {"a21026": {"Flag": "N"}}},
        RejectReason.bad_field,
        "'readings.a21026' has no value",
    ),
    ({**GOOD_JSON, "readings": {"a21026": 12.5}}, RejectReason.bad_field, "'readings.a21026'"),
    ({**GOOD_JSON, "qn": "x"}, RejectReason.bad_field, "'qn' is not understood"),
    ([1, 2], RejectReason.bad_field, "must be an object"),
    (
        {**GOOD_JSON, "readings": {"SO2": {"Rtd": 1.0}}},
        RejectReason.unknown_code,
        "'SO2'",
    ),
]


@pytest.mark.parametrize(("payload", "reason", "detail"), BAD_JSON)
def test_json_reading_packet_refuses(
    payload: dict[str, Any], reason: RejectReason, detail: str
) -> None:
    with pytest.raises(PacketError) as caught:
        json_reading_packet(payload)
    assert caught.value.reason is reason
    assert detail in caught.value.detail


def test_payload_frames() -> None:
    frame = logger_packet()
    assert payload_frames(b"  \n" + frame.rstrip(b"\r\n")) == [frame[:-2]]
    assert payload_frames(frame.rstrip(b"\r\n") + b"\n") == [frame[:-2]]
    assert payload_frames(frame + logger_packet(1)) == [frame[:-2], logger_packet(1)[:-2]]
    (nan,) = payload_frames(b'{"mn": NaN')
    assert isinstance(nan, PacketError) and "not valid JSON" in nan.detail
    (garbage,) = payload_frames(b"hello")
    assert isinstance(garbage, PacketError) and garbage.reason is RejectReason.no_header
    (empty,) = payload_frames(b"")
    assert isinstance(empty, PacketError) and empty.reason is RejectReason.no_header


def test_bridge_without_broker_retries_until_stopped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async def scenario() -> None:
        store = open_store(f"sqlite:///{tmp_path / 'monitoring.db'}")
        store.init()
        writer = GroupWriter(MonitoringStore(store))
        # port 9 (discard) is closed on a test machine: every connect is refused
        bridge = MqttBridge(writer, "mqtt://127.0.0.1:9", ["x/#"])
        stop = asyncio.Event()
        task = asyncio.create_task(bridge.run(stop))
        await asyncio.sleep(0.8)
        assert not task.done()
        stop.set()
        await asyncio.wait_for(task, 2)
        writer.close()
        store.close()

    asyncio.run(scenario())
    assert "reconnecting" in caplog.text


# --- against the broker ----------------------------------------------------------------------


def test_logger_packet_is_stored_then_acknowledged(broker: str, tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_bridge(tmp_path) as site:
            assert site.bridge.manual_ack
            await site.client.subscribe(site.topic + "/ack", qos=1)
            # published without its CR LF, as MQTT publishers tend to
            frame = logger_packet()
            await site.publish(frame.rstrip(b"\r\n"))
            ack = await asyncio.wait_for(anext(site.client.messages), WAIT_S)
            # the acknowledgement leaves only after the packet is stored
            assert site.store.packet_count() == 1
            assert ack.topic.value == site.topic + "/ack"
            assert isinstance(ack.payload, bytes)
            reply, request = parse(ack.payload), parse(frame)
            assert (reply.cn, reply.qn, reply.mn, reply.flag) == ("9014", request.qn, MN, 4)
            (stored,) = site.store.packets(MN, ["2011"])
            assert stored.digest == request.digest
            assert stored.readings["a21026"] == {"values": {"Rtd": 12.5}, "flag": "N"}
            peers = site.store.store._query("SELECT peer FROM monitor_packets", ())
            assert [tuple(p) for p in peers] == [(f"mqtt:{site.topic}",)]
            # the bridge's own ack came back through the wildcard and was not stored
            await site.publish(logger_packet(1, flag=4))
            await site.settled(2)
            assert site.store.packet_count() == 2
            assert site.bridge.tally.to_json()["acknowledged"] == 1

    asyncio.run(scenario())


def test_json_reading_is_stored_as_a_packet(broker: str, tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_bridge(tmp_path) as site:
            await site.publish(f"  {json.dumps(GOOD_JSON)}")
            await site.settled(1)
            (stored,) = site.store.packets(MN, ["2051"])
            assert stored.dialect == "2017"
            assert stored.data_time == "2026-11-26T10:00:00"
            assert stored.readings == {
                "a21026": {"values": {"Rtd": 12.5}, "flag": "N"},
                "a19001": {"values": {"Rtd": 8.1}, "flag": "N"},
            }
            assert stored.digest == parse(json_reading_packet(GOOD_JSON)).digest
            assert site.bridge.tally.accepted == 1

    asyncio.run(scenario())


def test_rejects_are_counted_and_the_bridge_goes_on(broker: str, tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_bridge(tmp_path) as site:
            good = logger_packet(flag=4)
            broken = bytearray(good)
            broken[-4:-2] = b"00" if broken[-4:-2] != b"00" else b"11"  # CRC digits
            await site.publish(b"\x00\xffnot a packet")
            await site.publish(bytes(broken))
            await site.publish(good)
            await site.settled(3)
            assert site.store.packet_count() == 1
            tally = site.bridge.tally
            assert dict(tally.rejected) == {"no_header": 1, "crc_mismatch": 1}
            assert (tally.packets, tally.accepted) == (3, 1)
            assert site.store.reject_counts() == {"crc_mismatch": 1, "no_header": 1}
            assert {peer for _, _, peer in site.rejects()} == {f"mqtt:{site.topic}"}

    asyncio.run(scenario())


def test_same_packet_twice_is_stored_once(broker: str, tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_bridge(tmp_path) as site:
            await site.publish(logger_packet(flag=4))
            await site.publish(logger_packet(flag=4))
            await site.settled(2)
            assert site.store.packet_count() == 1
            tally = site.bridge.tally
            assert (tally.accepted, tally.duplicates) == (1, 1)

    asyncio.run(scenario())


def test_bad_json_is_rejected_naming_the_field(broker: str, tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_bridge(tmp_path) as site:
            await site.publish('{"mn": "x", "cn": ')
            await site.publish(json.dumps({k: v for k, v in GOOD_JSON.items() if k != "data_time"}))
            await site.publish(json.dumps({**GOOD_JSON, "readings": {"a21026": {"Rtd": "high"}}}))
            await site.publish(json.dumps({**GOOD_JSON, "readings": {"NOX": {"Rtd": 1.0}}}))
            await site.publish(json.dumps(GOOD_JSON))
            await site.settled(5)
            rejects = site.rejects()
            assert [(reason, detail) for reason, detail, _ in rejects] == [
                ("bad_field", "JSON payload is not valid JSON: Expecting value at line 1"),
                ("bad_field", "JSON field 'data_time' missing"),
                ("bad_field", "JSON field 'readings.a21026.Rtd' must be a number, not str"),
                (
                    "unknown_code",
                    "pollutant code 'NOX' is neither a 2017 code nor a known 2005 code",
                ),
            ]
            assert dict(site.bridge.tally.rejected) == {"bad_field": 3, "unknown_code": 1}
            assert site.store.packet_count() == 1

    asyncio.run(scenario())


def test_persistent_session_receives_what_was_published_while_away(
    broker: str, tmp_path: Path
) -> None:
    base = f"trustledger-test/{uuid.uuid4().hex}"
    client_id = f"trustledger-test-{uuid.uuid4().hex[:12]}"

    async def scenario() -> None:
        async with running_bridge(tmp_path, client_id=client_id, base=base):
            pass  # the broker now holds a session with the subscription
        async with aiomqtt.Client(HOST, PORT) as client:
            await client.publish(f"{base}/site-1", logger_packet(flag=4), qos=1)
        async with running_bridge(tmp_path, client_id=client_id, base=base) as site:
            await site.settled(1)
            assert site.store.packet_count() == 1
        # leave no session behind on the broker
        async with aiomqtt.Client(HOST, PORT, identifier=client_id, clean_session=True):
            pass

    asyncio.run(scenario())


def test_unstored_message_is_not_acknowledged_and_comes_again(broker: str, tmp_path: Path) -> None:
    base = f"trustledger-test/{uuid.uuid4().hex}"
    client_id = f"trustledger-test-{uuid.uuid4().hex[:12]}"

    async def scenario() -> None:
        async with running_bridge(
            tmp_path, client_id=client_id, base=base, writer_type=FailingWriter
        ) as site:
            await site.client.subscribe(site.topic + "/ack", qos=1)
            await site.publish(logger_packet())
            writer = site.bridge.writer
            assert isinstance(writer, FailingWriter)
            await until(lambda: writer.attempts >= 2, "a retried save")
            # neither an HJ 212 acknowledgement nor (below) an MQTT PUBACK left
            assert len(site.client.messages) == 0
            assert site.store.packet_count() == 0
        # the broker still holds the unacknowledged message and delivers it again
        async with running_bridge(tmp_path, client_id=client_id, base=base) as site:
            await site.settled(1)
            assert site.store.packet_count() == 1
        async with aiomqtt.Client(HOST, PORT, identifier=client_id, clean_session=True):
            pass

    asyncio.run(scenario())


def test_bridge_reconnects_after_losing_the_broker(
    broker: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    client_id = f"trustledger-test-{uuid.uuid4().hex[:12]}"

    async def scenario() -> None:
        async with running_bridge(tmp_path, client_id=client_id) as site:
            # a second connection with the same client id makes the broker drop the bridge's
            async with aiomqtt.Client(HOST, PORT, identifier=client_id, clean_session=False):
                await until(lambda: not site.bridge.subscribed.is_set(), "the bridge dropped")
            await asyncio.wait_for(site.bridge.subscribed.wait(), WAIT_S)
            await site.publish(logger_packet(flag=4))
            await site.settled(1)
            assert site.store.packet_count() == 1
        async with aiomqtt.Client(HOST, PORT, identifier=client_id, clean_session=True):
            pass

    asyncio.run(scenario())
    assert "reconnecting" in caplog.text


def test_monitor_listen_bridges_a_broker_end_to_end(broker: str, tmp_path: Path) -> None:
    """`trustledger monitor listen --mqtt … --topic …` as a process: a logger's packet
    published to the broker is stored and its 9014 reply comes back on <topic>/ack."""
    import signal
    import subprocess
    import sys

    url = f"sqlite:///{tmp_path / 'listen.db'}"
    open_store(url).init()
    topic = f"trustledger-test/{uuid.uuid4().hex}/hj212"
    log = (tmp_path / "listen.err").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "trustledger", "monitor", "listen", "--mqtt", broker,
         "--topic", topic, "--client-id", f"tl-{uuid.uuid4().hex[:12]}", "--db", url],
        stdout=subprocess.DEVNULL, stderr=log,
    )  # fmt: skip

    async def publish_until_acknowledged() -> bytes:
        async with aiomqtt.Client(HOST, PORT) as client:
            await client.subscribe(f"{topic}/ack", qos=1)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:  # the bridge may not have subscribed yet
                await client.publish(topic, logger_packet(), qos=1)
                try:
                    async with asyncio.timeout(1.0):
                        async for message in client.messages:
                            return bytes(message.payload)  # type: ignore[arg-type]
                except TimeoutError:
                    continue
            raise AssertionError("no acknowledgement from the bridge")

    try:
        ack = asyncio.run(publish_until_acknowledged())
        assert parse(ack).cn == "9014"
        digest = parse(logger_packet()).digest
        assert MonitoringStore(open_store(url)).digests() == [digest]
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        log.close()
