"""The receiver's tally counts what the codec tolerated on a packet (``Packet.quirks``:
a 17-digit DataTime, a repeated pollutant field), beside the framer's ``lf_only``."""

from __future__ import annotations

import json
from pathlib import Path

from test_monitoring_codec_strict import HEAD_2017, frame_of
from typer.testing import CliRunner

from trustledger.cli import app
from trustledger.ledger.store import open_store
from trustledger.monitoring.receiver import Tally, classify

MS_TIME = frame_of(HEAD_2017 + "CP=&&DataTime=20260105100000123&&")
REPEATED = frame_of(
    "ST=31;CN=2011;PW=123456;MN=ZG1;CP=&&DataTime=20160824000000;"
    "S05-Rtd=8.0,S05-Flag=N;S05-ZsRtd=8.1,S05-Flag=D&&"
)
PLAIN = frame_of(HEAD_2017 + "CP=&&DataTime=20260105100000&&")


def test_classify_counts_each_packets_quirks() -> None:
    tally = Tally()
    accepted, rejected = classify([MS_TIME, REPEATED, PLAIN, MS_TIME], "test", 1, tally)
    assert len(accepted) == 4 and not rejected
    assert tally.quirks == {"data_time_ms": 2, "duplicate_key": 1}
    assert all(type(k) is str for k in tally.quirks)  # plain names, as lf_only is


def test_replay_reports_packet_and_framing_quirks(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'q.db'}"
    open_store(url).init()
    capture = tmp_path / "quirks.h212"
    capture.write_bytes(MS_TIME + REPEATED + PLAIN.removesuffix(b"\r\n") + b"\n")
    result = CliRunner().invoke(app, ["monitor", "replay", "--json", "--db", url, str(capture)])
    assert result.exit_code == 0, result.output
    total = json.loads(result.stdout)["total"]
    assert total["valid"] == 3
    assert total["quirks"] == {"data_time_ms": 1, "duplicate_key": 1, "lf_only": 1}
