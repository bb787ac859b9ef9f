"""HJ 212 receivers behind NATS JetStream, with real processes: `monitor listen` with
TRUSTLEDGER_NATS_URL publishing to the NATS server on 127.0.0.1:4222 (a private
nats-server where the test kills it), `monitor consume` storing from it.

The promise under test is "stored once, acknowledged only when durable": a logger's
acknowledgement names a frame JetStream holds, a consumer stores every such frame exactly
once whatever is killed with -9 (receiver or consumer), and a frame published again is
not stored again. Every test has a stream and subjects of its own, deleted afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from test_monitoring_judge import (  # noqa: F401
    MN,
    OTHER_MN,
    START,
    exceeding,
    plant,
    second_point,
    wiggle,
)
from test_monitoring_receiver import (  # noqa: F401
    LISTEN_CMD,
    AckReader,
    FakeLogger,
    Listener,
    duplicate_free,
    free_port,
    init_db,
    listener_factory,
    logger_packet,
    monitoring,
    needs_subprocess,
    sqlite_url,
    stored_digests,
)
from typer.testing import CliRunner

from trustledger.cli import app
from trustledger.intake import Intake
from trustledger.ledger.store import Store
from trustledger.monitoring.codec import build_data, parse
from trustledger.monitoring.jetstream import (
    MSG_ID,
    PEER,
    RECEIVED_US,
    FrameConsumer,
    JetStreamConfig,
    JetStreamWriter,
    check_servers,
    mn_token,
    read_frame,
)
from trustledger.monitoring.judge import local_epoch
from trustledger.monitoring.receiver import now_us
from trustledger.monitoring.store import MonitoringStore, Received
from trustledger.settings import Settings

NATS_URL = os.environ.get("TRUSTLEDGER_TEST_NATS", "nats://127.0.0.1:4222")
NATS_SERVER = shutil.which("nats-server") or "/usr/sbin/nats-server"
LOGGERS = 40
PACKETS_EACH = 25


def _nats_problem() -> str | None:
    async def probe() -> None:
        import nats

        nc = await nats.connect(NATS_URL, connect_timeout=2, max_reconnect_attempts=1)
        try:
            await nc.jetstream().account_info()
        finally:
            await nc.close()

    try:
        asyncio.run(asyncio.wait_for(probe(), 10))
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


@pytest.fixture(scope="session")
def nats_server() -> str:
    problem = _nats_problem()
    if problem is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"NATS with JetStream at {NATS_URL} is required in CI: {problem}")
        pytest.skip(f"NATS with JetStream at {NATS_URL} not usable: {problem}")
    return NATS_URL


def _tag() -> str:
    return uuid.uuid4().hex[:10]


def _env(url: str, tag: str) -> dict[str, str]:
    return {
        "TRUSTLEDGER_NATS_URL": url,
        "TRUSTLEDGER_NATS_STREAM": f"TEST_{tag}",
        "TRUSTLEDGER_NATS_SUBJECT": f"test.{tag}",
        # a message a killed consumer held is delivered again after 2 s, not 30
        "TRUSTLEDGER_NATS_ACK_WAIT": "2",
    }


async def _delete_stream(config: JetStreamConfig) -> None:
    import nats
    from nats.js.errors import NotFoundError

    nc = await nats.connect(list(config.servers), connect_timeout=2, max_reconnect_attempts=1)
    try:
        with contextlib.suppress(NotFoundError):
            await nc.jetstream().delete_stream(config.stream)
    finally:
        await nc.close()


@pytest.fixture
def jetstream(nats_server: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[JetStreamConfig]:
    """A stream and subject prefix of this test's own, in the environment (so child
    processes get them too); the stream deleted afterwards."""
    for key, value in _env(nats_server, _tag()).items():
        monkeypatch.setenv(key, value)
    config = JetStreamConfig.from_settings(Settings.from_env())
    yield config
    asyncio.run(_delete_stream(config))


async def _stream_frames(config: JetStreamConfig) -> list[str]:
    """The message ids (digests) of every frame message the stream holds."""
    import nats

    nc = await nats.connect(list(config.servers), connect_timeout=2, max_reconnect_attempts=1)
    try:
        js = nc.jetstream()
        state = (await js.stream_info(config.stream)).state
        out = []
        for seq in range(state.first_seq, state.last_seq + 1):
            msg = await js.get_msg(config.stream, seq)
            if msg.subject.startswith(f"{config.subject}.frames."):
                assert msg.headers is not None
                out.append(msg.headers[MSG_ID])
        return out
    finally:
        await nc.close()


def stream_frames(config: JetStreamConfig) -> list[str]:
    return asyncio.run(_stream_frames(config))


class ConsumerProcess:
    """`trustledger monitor consume` as a child process."""

    def __init__(self, url: str, logs: Path, *extra: str) -> None:
        self.url = url
        self.logs = logs
        self.extra = extra
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        out = (self.logs / f"consume-{self.starts}.out").open("wb")
        err = (self.logs / f"consume-{self.starts}.err").open("wb")
        with out, err:
            self.proc = subprocess.Popen(
                [sys.executable, *LISTEN_CMD, "monitor", "consume", "--db", self.url,
                 "--no-judge", *self.extra],
                stdout=out, stderr=err,
            )  # fmt: skip

    def wait(self, timeout: float = 120) -> int:
        assert self.proc is not None
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"consumer did not finish: {self.log()}") from None

    def kill(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop_quietly(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def log(self) -> str:
        return "\n".join(
            p.read_text(errors="replace")[-2000:] for p in sorted(self.logs.glob("consume-*"))
        )

    def summary(self) -> str:
        """The last run's closing line."""
        text = "".join(
            (self.logs / f"consume-{self.starts}.{kind}").read_text(errors="replace")
            for kind in ("out", "err")
        )
        (line,) = [ln for ln in text.splitlines() if ln.startswith("stopped:")]
        return line

    def drain(self) -> None:
        """Run until nothing is pending or unacknowledged; exit 0."""
        self.extra = (
            (*self.extra, "--until-idle") if "--until-idle" not in self.extra else self.extra
        )
        self.start()
        assert self.wait() == 0, self.log()


@pytest.fixture
def consumer_factory(tmp_path: Path) -> Iterator[Any]:
    made: list[ConsumerProcess] = []

    def make(url: str, *extra: str) -> ConsumerProcess:
        logs = tmp_path / f"consumer-{len(made)}"
        logs.mkdir()
        made.append(ConsumerProcess(url, logs, *extra))
        return made[-1]

    yield make
    for consumer in made:
        consumer.stop_quietly()


def make_loggers(seed: int, count: int = LOGGERS) -> list[FakeLogger]:
    rng = random.Random(seed)
    start = datetime(2025, 3, 1, 8, 0, 0)
    loggers = []
    for i in range(count):
        mn = f"77777770{i:06d}"
        frames = {}
        for seq in range(PACKETS_EACH):
            frame = logger_packet(mn, seq, start + timedelta(minutes=i))
            packet = parse(frame)
            assert packet.qn is not None
            frames[packet.qn] = frame
        loggers.append(FakeLogger(mn, frames, random.Random(rng.randrange(1 << 30))))
    return loggers


def digests_of(loggers: list[FakeLogger]) -> dict[str, str]:
    """QN (unique across these loggers, with the MN) → digest."""
    return {f"{lg.mn}/{qn}": parse(f).digest for lg in loggers for qn, f in lg.frames.items()}


def acked_digests(loggers: list[FakeLogger]) -> set[str]:
    return {parse(lg.frames[qn]).digest for lg in loggers for qn in lg.acked}


def wait_until(what: str, done: Any, timeout: float = 60, log: Any = None) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, f"{what} never happened: {log() if log else ''}"
        time.sleep(0.01)


async def _run_loggers(loggers: list[FakeLogger], port: int, timeout: float = 90) -> None:
    await asyncio.wait_for(asyncio.gather(*(lg.run(port) for lg in loggers)), timeout)


# --- (a) loggers → receiver → JetStream → consumer → store, each frame once -----------------


@needs_subprocess
def test_frames_through_jetstream_are_stored_once(
    db_url: str,
    jetstream: JetStreamConfig,
    listener_factory: Any,  # noqa: F811 (the fixture imported above)
    consumer_factory: Any,
) -> None:
    init_db(db_url)
    loggers = make_loggers(15)
    expected = set(digests_of(loggers).values())
    listener: Listener = listener_factory(db_url)
    listener.start()
    try:
        asyncio.run(_run_loggers(loggers, listener.port))
    finally:
        assert listener.stop() == 0, listener.log()
    assert all(lg.done for lg in loggers)
    # every acknowledgement was given before anything reached the store: what the loggers
    # hold rests on JetStream alone, which holds each frame once (the digest as message id)
    assert stored_digests(db_url) == []
    in_stream = stream_frames(jetstream)
    assert acked_digests(loggers) == expected
    assert sorted(in_stream) == sorted(expected)
    # partitioned by point: one subject per MN
    assert {jetstream.frames_subject(lg.mn) for lg in loggers} == {
        f"{jetstream.subject}.frames.{lg.mn}" for lg in loggers
    }

    consumer = consumer_factory(db_url)
    consumer.drain()
    assert set(stored_digests(db_url)) == expected
    assert duplicate_free(db_url) == (len(expected), len(expected))
    with monitoring(db_url) as ms:
        row = ms.store._query("SELECT peer, received_us FROM monitor_packets LIMIT 1", ())
    peer, received_us = row[0]
    assert peer.startswith("tcp:127.0.0.1:") and int(received_us) > 0
    # a second run finds nothing to do and stores nothing again
    consumer.drain()
    assert duplicate_free(db_url) == (len(expected), len(expected))
    assert consumer.summary().startswith("stopped: 0 messages"), consumer.summary()


# --- (b) kill -9 of a receiver mid-stream ----------------------------------------------------


@needs_subprocess
def test_receiver_killed_mid_stream_loses_no_acknowledged_frame(
    tmp_path: Path,
    jetstream: JetStreamConfig,
    listener_factory: Any,  # noqa: F811 (the fixture imported above)
    consumer_factory: Any,
) -> None:
    url = sqlite_url(tmp_path)
    loggers = make_loggers(2026)
    expected = set(digests_of(loggers).values())
    total = len(expected)
    listener: Listener = listener_factory(url)

    def acked() -> int:
        return sum(len(lg.acked) for lg in loggers)

    async def scenario() -> set[str]:
        listener.start()
        tasks = [asyncio.create_task(lg.run(listener.port)) for lg in loggers]
        deadline = time.monotonic() + 30
        while acked() < total // 5:
            assert time.monotonic() < deadline, f"only {acked()} acks: {listener.log()}"
            await asyncio.sleep(0.005)
        listener.kill()
        deadline = time.monotonic() + 10
        while any(lg.connected for lg in loggers) and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        assert not any(lg.connected for lg in loggers)
        held = acked_digests(loggers)
        assert 0 < len(held) < total, "the kill must land mid-stream"
        # the receiver is dead and nothing consumed yet: every acknowledged frame is in
        # the stream
        missing = held - set(await _stream_frames(jetstream))
        assert not missing, f"{len(missing)} frames acknowledged but not in JetStream"
        listener.start()
        await asyncio.wait_for(asyncio.gather(*tasks), 90)
        return held

    try:
        held = asyncio.run(scenario())
    finally:
        exit_status = listener.stop()
    assert exit_status == 0, listener.log()
    assert all(lg.done for lg in loggers)
    assert sum(lg.resent_acked for lg in loggers) > 0, "acknowledged frames must be resent"

    consumer_factory(url).drain()
    stored = stored_digests(url)
    assert held <= set(stored)
    assert set(stored) == expected
    assert duplicate_free(url) == (total, total)


# --- (c) kill -9 of a consumer mid-stream, and a restart ---------------------------------------


@needs_subprocess
def test_consumer_killed_mid_stream_and_restarted_stores_each_frame_once(
    db_url: str,
    jetstream: JetStreamConfig,
    listener_factory: Any,  # noqa: F811 (the fixture imported above)
    consumer_factory: Any,
) -> None:
    init_db(db_url)
    loggers = make_loggers(7)
    expected = set(digests_of(loggers).values())
    total = len(expected)
    listener: Listener = listener_factory(db_url)
    listener.start()
    try:
        asyncio.run(_run_loggers(loggers, listener.port))
    finally:
        assert listener.stop() == 0, listener.log()
    assert acked_digests(loggers) == expected

    # small batches: many commits, so the kill lands between some of them
    consumer = consumer_factory(db_url, "--batch", "5")
    consumer.start()

    def stored_now() -> int:
        with monitoring(db_url) as ms:
            return ms.packet_count()

    wait_until("a first batch stored", lambda: stored_now() > 0, log=consumer.log)
    consumer.kill()
    at_kill = stored_now()
    assert 0 < at_kill < total, f"the kill must land mid-stream ({at_kill} of {total})"

    # the restart gets what the killed one had fetched and not acknowledged (after the
    # ack wait) and the rest
    consumer.drain()
    assert set(stored_digests(db_url)) == expected
    assert duplicate_free(db_url) == (total, total)


# --- the window between commit and acknowledgement -------------------------------------------


def test_a_batch_committed_but_not_acknowledged_is_redelivered_and_not_stored_twice(
    db_url: str, jetstream: JetStreamConfig
) -> None:
    init_db(db_url)
    frames = [logger_packet("66666660000001", seq, datetime(2025, 3, 1, 8)) for seq in range(30)]

    async def scenario(ms: MonitoringStore) -> dict[str, Any]:
        writer = JetStreamWriter(jetstream)
        await writer.connect()
        items = [Received(parse(f), now_us(), "tcp:test:1") for f in frames]
        assert await writer.save(items, []) == [True] * len(items)
        await writer.aclose()
        writer.close()

        # a consumer that commits its batch and dies before acknowledging it
        dying = FrameConsumer(jetstream, ms)
        await dying.connect()
        sub = await dying.subscribe()
        msgs = await sub.fetch(len(frames), timeout=5)
        assert len(msgs) == len(frames)
        assert ms.save([read_frame(m.data, m.headers) for m in msgs]) == [True] * len(frames)
        await dying.aclose()
        dying.close()

        consumer = FrameConsumer(jetstream, ms)
        await consumer.connect()
        try:
            tally = await consumer.run(asyncio.Event(), until_idle=True)
        finally:
            await consumer.aclose()
            consumer.close()
        return tally.to_json()

    with monitoring(db_url) as ms:
        tally = asyncio.run(scenario(ms))
    assert tally["frames"] == len(frames) and tally["redelivered"] == len(frames)
    assert tally["stored"] == 0 and tally["already_stored"] == len(frames)
    assert duplicate_free(db_url) == (len(frames), len(frames))


# --- (d) a frame published again -------------------------------------------------------------


def test_a_republished_frame_is_not_stored_twice(db_url: str, jetstream: JetStreamConfig) -> None:
    init_db(db_url)
    # a short duplicate window, so the test also sees a republish JetStream lets through
    config = dataclasses.replace(jetstream, duplicate_window_s=0.5)
    frame = logger_packet("66666660000002", 1, datetime(2025, 3, 1, 8))

    async def scenario(ms: MonitoringStore) -> tuple[list[bool], list[bool], dict[str, Any]]:
        writer = JetStreamWriter(config)
        await writer.connect()
        first = Received(parse(frame), now_us(), "tcp:a:1")
        # the same frame from another receiver, inside the window: JetStream drops it
        inside = await writer.save([first], [])
        again = await writer.save([first._replace(peer="tcp:b:2")], [])
        assert inside == [True]
        # past the window JetStream takes it again; only the store can tell
        for _ in range(100):
            await asyncio.sleep(0.1)
            if await writer.save([first._replace(peer="tcp:c:3", received_us=now_us())], []) == [
                True
            ]:
                break
        else:
            raise AssertionError("JetStream's duplicate window never ended")
        await writer.aclose()
        writer.close()
        consumer = FrameConsumer(config, ms)
        await consumer.connect()
        try:
            tally = await consumer.run(asyncio.Event(), until_idle=True)
        finally:
            await consumer.aclose()
            consumer.close()
        return inside, again, tally.to_json()

    with monitoring(db_url) as ms:
        _, again, tally = asyncio.run(scenario(ms))
    assert again == [False]  # the PubAck said duplicate: the receiver counts it so
    assert tally["frames"] == 2 and tally["stored"] == 1 and tally["already_stored"] == 1
    assert stored_digests(db_url) == [parse(frame).digest]
    with monitoring(db_url) as ms:
        (peer,) = ms.store._query("SELECT peer FROM monitor_packets", ())[0]
    assert peer == "tcp:a:1"  # the first one stored is kept


# --- rejects travel too ----------------------------------------------------------------------


@needs_subprocess
def test_rejects_are_published_and_stored_as_runs(
    tmp_path: Path,
    jetstream: JetStreamConfig,
    listener_factory: Any,  # noqa: F811 (the fixture imported above)
    consumer_factory: Any,
) -> None:
    url = sqlite_url(tmp_path)
    listener: Listener = listener_factory(url)
    listener.start()
    good = logger_packet("66666660000003", 1, datetime(2025, 3, 1, 8))

    async def send() -> list[str]:
        reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)
        writer.write(b"\x00garbage\r\n" + good)
        await writer.drain()
        acks = AckReader()
        got: list[str] = []
        while not got:
            got += [a.qn or "" for a in acks.feed(await reader.read(4096))]
        writer.close()
        return got

    try:
        assert asyncio.run(send()) == [parse(good).qn]
    finally:
        assert listener.stop() == 0, listener.log()
    consumer_factory(url).drain()
    with monitoring(url) as ms:
        assert ms.reject_counts() == {"no_header": 1}
    assert stored_digests(url) == [parse(good).digest]


# --- (e) refusals ---------------------------------------------------------------------------


class PrivateNats:
    """A nats-server of this test's own (JetStream on, file storage in ``dir``) it may kill."""

    def __init__(self, dir: Path) -> None:
        self.dir = dir
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> None:
        log = (self.dir / "nats-server.log").open("ab")
        with log:
            self.proc = subprocess.Popen(
                [NATS_SERVER, "-a", "127.0.0.1", "-p", str(self.port), "-js",
                 "-sd", str(self.dir / "js")],
                stdout=log, stderr=log,
            )  # fmt: skip

        def up() -> bool:
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5),
            ):
                return True
            return False

        wait_until("nats-server listening", up, timeout=30)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(timeout=10)

    def stop_quietly(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def private_nats(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[PrivateNats]:
    if not os.path.exists(NATS_SERVER):
        if os.environ.get("CI") == "true":
            pytest.fail(f"nats-server is required in CI ({NATS_SERVER} not found)")
        pytest.skip(f"{NATS_SERVER} not found")
    server = PrivateNats(tmp_path)
    server.start()
    for key, value in _env(server.url, _tag()).items():
        monkeypatch.setenv(key, value)
    yield server
    server.stop_quietly()


@needs_subprocess
def test_nats_gone_means_no_acknowledgement_and_a_logged_reason(
    tmp_path: Path,
    private_nats: PrivateNats,
    listener_factory: Any,  # noqa: F811 (the fixture imported above)
    consumer_factory: Any,
) -> None:
    url = sqlite_url(tmp_path)
    listener: Listener = listener_factory(url)
    listener.start()
    mn = "66666660000004"
    first, second = (logger_packet(mn, seq, datetime(2025, 3, 1, 8)) for seq in (1, 2))

    async def exchange(frame: bytes) -> tuple[list[str], bool]:
        """Send one frame; the acknowledgements until one comes or the receiver closes."""
        reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)
        writer.write(frame)
        await writer.drain()
        acks = AckReader()
        got: list[str] = []
        closed = False
        while not got:
            chunk = await reader.read(4096)
            if not chunk:
                closed = True
                break
            got += [a.qn or "" for a in acks.feed(chunk)]
        writer.close()
        return got, closed

    try:
        assert asyncio.run(exchange(first)) == ([parse(first).qn], False)
        private_nats.kill()
        # JetStream cannot answer: the receiver gives up on the PubAck, acknowledges
        # nothing and closes the connection, so the logger will send the frame again
        assert asyncio.run(exchange(second)) == ([], True)

        def logged() -> str:
            return "".join(p.read_text(errors="replace") for p in tmp_path.glob("listen-*.err"))

        wait_until("the failure logged", lambda: "none acknowledged" in logged(), log=logged)
        assert "JetStream stream TEST_" in logged() and "nats: timeout" in logged()
        # NATS back (its stream on disk): the receiver reconnects and the resend is taken
        private_nats.start()
        for _ in range(200):
            got, _closed = asyncio.run(exchange(second))
            if got:
                break
        assert got == [parse(second).qn]
    finally:
        assert listener.stop() == 0, listener.log()
    consumer_factory(url).drain()
    assert sorted(stored_digests(url)) == sorted(parse(f).digest for f in (first, second))


def test_nats_unreachable_at_the_start_is_a_clear_refusal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = sqlite_url(tmp_path)
    for key, value in _env(f"nats://127.0.0.1:{free_port()}", _tag()).items():
        monkeypatch.setenv(key, value)
    runner = CliRunner()
    port = free_port()
    result = runner.invoke(app, ["monitor", "listen", "--hj212", f"127.0.0.1:{port}", "--db", url])
    assert result.exit_code == 5, result.output
    assert "is unreachable" in result.output and "NATS at nats://127.0.0.1:" in result.output
    result = runner.invoke(app, ["monitor", "consume", "--db", url])
    assert result.exit_code == 5, result.output
    assert "is unreachable" in result.output


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"TRUSTLEDGER_NATS_URL": "http://127.0.0.1:4222"}, "is not a NATS server URL"),
        ({"TRUSTLEDGER_NATS_URL": "nats://127.0.0.1:99999"}, "the port is not a number"),
        ({"TRUSTLEDGER_NATS_URL": "nats://"}, "no host"),
        ({"TRUSTLEDGER_NATS_URL": "nats://a:4222,,nats://b:4222"}, "empty"),
        ({"TRUSTLEDGER_NATS_URL": "nats://a:4222", "TRUSTLEDGER_NATS_SUBJECT": "hj.*"},
         "TRUSTLEDGER_NATS_SUBJECT: 'hj.*' is not a subject prefix"),
        ({"TRUSTLEDGER_NATS_URL": "nats://a:4222", "TRUSTLEDGER_NATS_STREAM": "a.b"},
         "TRUSTLEDGER_NATS_STREAM: 'a.b' is not a name"),
        ({"TRUSTLEDGER_NATS_URL": "nats://a:4222", "TRUSTLEDGER_NATS_DUPLICATE_WINDOW": "0"},
         "TRUSTLEDGER_NATS_DUPLICATE_WINDOW: must be more than 0"),
        ({"TRUSTLEDGER_NATS_URL": "nats://a:4222", "TRUSTLEDGER_NATS_MAX_AGE": "60"},
         "TRUSTLEDGER_NATS_MAX_AGE: must be at least the duplicate window"),
    ],
)  # fmt: skip
@pytest.mark.parametrize("command", ["listen", "consume"])
def test_bad_nats_settings_are_refused_by_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, env: dict[str, str], message: str,
    command: str,
) -> None:  # fmt: skip
    url = sqlite_url(tmp_path)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    args = ["--hj212", f"127.0.0.1:{free_port()}"] if command == "listen" else []
    result = CliRunner().invoke(app, ["monitor", command, *args, "--db", url])
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split())


def test_consume_without_a_nats_url_and_bad_options_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = sqlite_url(tmp_path)
    monkeypatch.delenv("TRUSTLEDGER_NATS_URL", raising=False)
    runner = CliRunner()
    result = runner.invoke(app, ["monitor", "consume", "--db", url])
    assert result.exit_code == 2 and "TRUSTLEDGER_NATS_URL is not set" in result.output
    monkeypatch.setenv("TRUSTLEDGER_NATS_URL", "nats://127.0.0.1:4222")
    result = runner.invoke(app, ["monitor", "consume", "--batch", "0", "--db", url])
    assert result.exit_code == 2 and "--batch 0: must be from 1 to" in result.output
    result = runner.invoke(app, ["monitor", "consume", "--judge-every", "-1", "--db", url])
    assert result.exit_code == 2 and "--judge-every -1" in result.output


def test_a_stream_that_does_not_take_our_subjects_is_refused(
    tmp_path: Path, jetstream: JetStreamConfig
) -> None:
    async def other_stream() -> None:
        import nats

        nc = await nats.connect(list(jetstream.servers))
        try:
            await nc.jetstream().add_stream(name=jetstream.stream, subjects=[f"x{_tag()}.>"])
        finally:
            await nc.close()

    asyncio.run(other_stream())
    url = sqlite_url(tmp_path)
    result = CliRunner().invoke(app, ["monitor", "consume", "--db", url])
    assert result.exit_code == 5, result.output
    assert f"JetStream stream {jetstream.stream} takes" in " ".join(result.output.split())


def test_subject_tokens_are_safe_and_distinct() -> None:
    mns = ["88888880000001", "PLANT-1_a", "a.b", "a*b", "a>b", "a b", "~41", "", "中文", "x" * 65]
    tokens = [mn_token(mn) for mn in mns]
    assert tokens[:2] == mns[:2]
    assert len(set(tokens)) == len(tokens)
    for token in tokens:
        assert token and not set(token) & set(".*> \t\r\n"), token
    assert check_servers("nats://a:4222, tls://b") == ("nats://a:4222", "tls://b")


# --- judging after a batch -------------------------------------------------------------------


def exceeding_frames(mn: str) -> list[Received]:
    """Eight hours of a point's minute data with five valid hours above its SO₂ limit:
    judged, one record."""
    minute = exceeding()
    items = []
    for h in range(8):
        for m in range(60):
            so2, flag = minute(h, m)
            moment = START + timedelta(hours=h, minutes=m)
            frame = build_data(
                mn, "2051", moment,
                {"a21026": {"Avg": so2, "Flag": flag},
                 "a19001": {"Avg": 9.0 + wiggle(m), "Flag": "N"},
                 "a34013": {"Avg": 3.0 + (m % 7) * 0.1, "Flag": "N"}},
            )  # fmt: skip
            received = (local_epoch(moment.isoformat()) + 60) * 1_000_000
            items.append(Received(parse(frame), received, "test"))
    return items


def publish(config: JetStreamConfig, items: list[Received]) -> None:
    async def run() -> None:
        writer = JetStreamWriter(config)
        await writer.connect()
        assert all(await writer.save(items, []))
        await writer.aclose()
        writer.close()

    asyncio.run(run())


def test_consume_judges_as_monitor_judge_does(
    plant: tuple[Store, MonitoringStore, Intake],  # noqa: F811 (the fixture imported above)
    jetstream: JetStreamConfig,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store, mstore, _ = plant
    items = exceeding_frames(MN)
    publish(jetstream, items)
    monkeypatch.setenv("TRUSTLEDGER_PERSON_KEY", bytes(range(32)).hex())  # KEYER's
    result = CliRunner().invoke(
        app, ["monitor", "consume", "--until-idle", "--judge-every", "0", "--db", store.url]
    )
    assert result.exit_code == 0, result.output
    assert "judged 1 times" in result.output
    assert mstore.packet_count() == len(items)
    (episode,) = mstore.episodes(MN)
    assert episode[10] is not None  # the episode became a record, as `monitor judge` makes it
    record = store.get_row("records", episode[10])
    assert record is not None and record.confirmation == "pending"
    assert json.loads(episode[9])["limit_set"] == "ultra-low-coal-power"


def test_a_consumer_judges_the_points_it_stored_and_no_other(
    plant: tuple[Store, MonitoringStore, Intake],  # noqa: F811 (the fixture imported above)
    jetstream: JetStreamConfig,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store, mstore, intake = plant
    # point B's data is stored (as by another consumer) and would make a record if judged
    second_point(store, mstore, intake)
    publish(jetstream, exceeding_frames(MN))
    monkeypatch.setenv("TRUSTLEDGER_PERSON_KEY", bytes(range(32)).hex())  # KEYER's
    result = CliRunner().invoke(
        app, ["monitor", "consume", "--until-idle", "--judge-every", "0", "--db", store.url]
    )
    assert result.exit_code == 0, result.output
    assert "judged 1 times" in result.output
    (episode,) = mstore.episodes(MN)
    assert episode[10] is not None
    # B's frames never passed through this consumer: B is left to its own consumer
    assert mstore.episodes(OTHER_MN) == [] and mstore.notices(OTHER_MN) == []
    assert len(mstore.episodes(MN)) == 1


@dataclasses.dataclass
class FakeMsg:
    """What FrameConsumer reads of a JetStream message, without a server."""

    subject: str
    data: bytes
    headers: dict[str, str]
    acked: bool = False

    @property
    def metadata(self) -> Any:
        from types import SimpleNamespace

        return SimpleNamespace(num_delivered=1, sequence=SimpleNamespace(stream=1))

    async def ack(self) -> None:
        self.acked = True


def frame_msg(config: JetStreamConfig, mn: str, seq: int) -> Any:
    packet = parse(logger_packet(mn, seq, datetime(2025, 3, 1, 8)))
    headers = {MSG_ID: packet.digest, RECEIVED_US: str(now_us()), PEER: "tcp:a:1"}
    return FakeMsg(config.frames_subject(mn), packet.raw.encode("utf-8"), headers)


def test_a_failed_judgement_keeps_its_points_for_the_next(tmp_path: Path) -> None:
    config = JetStreamConfig(servers=("nats://127.0.0.1:4222",), subject="unit")
    asked: list[frozenset[str]] = []

    def judge(mns: frozenset[str]) -> None:
        asked.append(mns)
        if len(asked) == 1:
            raise RuntimeError("database away")

    async def scenario(ms: MonitoringStore) -> FrameConsumer:
        consumer = FrameConsumer(config, ms, judge=judge, judge_every_s=0.0)
        try:
            first = frame_msg(config, "POINT-A", 1)
            await consumer._take([first])
            assert first.acked
            await consumer._maybe_judge()  # fails: A is kept
            await consumer._take([frame_msg(config, "POINT-B", 1)])
            await consumer._maybe_judge()  # A again, with B
            await consumer._maybe_judge()  # nothing taken since: not called
            # a frame found already stored (a redelivery) is judged too: the consumer
            # that stored it may have been killed before it judged
            await consumer._take([frame_msg(config, "POINT-A", 1)])
            await consumer._maybe_judge()
        finally:
            consumer.close()
        return consumer

    with monitoring(sqlite_url(tmp_path)) as ms:
        consumer = asyncio.run(scenario(ms))
    assert asked == [frozenset({"POINT-A"}), frozenset({"POINT-A", "POINT-B"}),
                     frozenset({"POINT-A"})]  # fmt: skip
    tally = consumer.tally
    assert tally.judged == 2 and tally.stored == 2 and tally.already_stored == 1
