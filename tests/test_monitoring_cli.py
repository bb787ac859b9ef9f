"""`trustledger monitor …`: every refusal exits 2 with a message naming the problem."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
from test_monitoring_judge import MN, START, TODAY, exceeding, plant, send  # noqa: F401
from typer.testing import CliRunner

from trustledger.cli import app
from trustledger.intake import Intake
from trustledger.ledger.store import Store, open_store
from trustledger.monitoring.points import judge_all, point_view
from trustledger.monitoring.receiver import now_us
from trustledger.monitoring.store import MonitoringStore


@pytest.fixture
def db(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'm.db'}"
    open_store(url).init()
    return url


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["listen"], "give --hj212 HOST:PORT and/or --mqtt URL --topic T"),
        (["listen", "--hj212", "9212"], "'9212' is not HOST:PORT"),
        (["listen", "--hj212", "0.0.0.0:99999"], "is not HOST:PORT"),
        (["listen", "--mqtt", "mqtt://127.0.0.1:1883"], "--mqtt needs at least one --topic"),
        (["listen", "--mqtt", "http://x", "--topic", "t"], "http://x"),
        (["replay", "no-such-file.h212"], "no-such-file.h212 is not a file"),
        (["confirm", "R" + "0" * 24, "--reviewer", "X"], "no record R000"),
        (["show", "NOPE"], "no monitoring point NOPE"),
        (
            [
                "register",
                "MN1",
                "--subject",
                "91440300MA5DA0A14X",
                "--outlet",
                "stack",
                "--authority",
                "11440305000000019U",
                "--limit-set",
                "ultra-low-coal-power",
            ],
            "subject: USCC",
        ),
    ],
)
def test_refusals(db: str, args: list[str], message: str) -> None:
    result = CliRunner().invoke(app, ["monitor", *args, "--db", db])
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split())


def test_points_and_judge_on_an_empty_database(db: str) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["monitor", "points", "--json", "--db", db])
    assert result.exit_code == 0 and '"points": []' in result.output
    result = runner.invoke(app, ["monitor", "judge", "--json", "--db", db])
    assert result.exit_code == 0 and result.stdout.strip() == "[]"


def test_listen_on_a_port_in_use_is_refused(db: str) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(
            app, ["monitor", "listen", "--hj212", f"127.0.0.1:{port}", "--db", db]
        )
    assert result.exit_code == 2, result.output
    assert f"cannot listen on 127.0.0.1:{port}" in result.output


# --- `monitor show`: a table for people, the JSON for machines ------------------------
Plant = tuple[Store, MonitoringStore, Intake]
WIDE = {"COLUMNS": "200"}  # one table row per line, whatever the terminal


def test_show_is_a_table_with_pollutant_names_local_times_and_exceedances(
    plant: Plant,  # noqa: F811 (the fixture imported above)
    db_url: str,
) -> None:
    store, mstore, intake = plant
    send(mstore, exceeding())
    (outcome,) = judge_all(store, mstore, intake, today=TODAY, now_us=now_us())
    (record_id,) = outcome.records
    result = CliRunner().invoke(app, ["monitor", "show", MN, "--db", db_url], env=WIDE)
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert f"monitoring point {MN} — 深圳市华韵热电有限公司" in text and "boiler 1 stack" in text
    # pollutant names, units and limits, never the codes
    assert "SO2 mg/m³" in text and "dust mg/m³" in text and "limit 35 at 6% O₂" in text
    assert "a21026" not in text and "a34013" not in text
    # hours in local time on the configured calendar, never epoch seconds
    assert "hour (Asia/Shanghai)" in text and not re.search(r"\b1\d{9}\b", text)
    rows = {line.split("│")[1].strip(): line for line in text.splitlines() if "│" in line}
    hours = [f"{START + timedelta(hours=h):%Y-%m-%d %H:%M}" for h in range(8)]
    assert set(hours) <= set(rows)
    # the exceedance hours (02:00–06:00) are marked, the others are not
    assert [("▲" in rows[h]) for h in hours] == [False, False, True, True, True, True, True, False]
    # below: the episode, with its local times, and the record it became, awaiting a person
    assert (f"SO2 above 35 mg/m³ (ultra-low-coal-power) for 5 valid hours, {hours[2]} to "
            f"{START + timedelta(hours=7):%Y-%m-%d %H:%M}") in text  # fmt: skip
    assert f"→ record {record_id}" in text
    assert f"{record_id} " in text and "awaiting a person's confirmation" in text

    # --json: the view as before
    shown = CliRunner().invoke(app, ["monitor", "show", MN, "--json", "--db", db_url])
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.stdout) == json.loads(json.dumps(point_view(store, mstore, MN)))


def test_show_names_notices_in_the_configured_timezone(
    plant: Plant,  # noqa: F811 (the fixture imported above)
    db_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store, mstore, intake = plant
    send(mstore, lambda h, m: (12.5, "N"))  # a stuck SO₂ analyser
    judge_all(store, mstore, intake, today=TODAY, now_us=now_us())
    text = CliRunner().invoke(app, ["monitor", "show", MN, "--db", db_url], env=WIDE).stdout
    assert "data-quality notices" in text and "never a penalty" in text
    assert f"SO2 flatline, {START:%Y-%m-%d %H:%M} to " in text
    assert "exceedance episodes" not in text
    # another calendar: the same hours, told in its time (China Standard Time is UTC+8)
    monkeypatch.setenv("TRUSTLEDGER_TIMEZONE", "UTC")
    text = CliRunner().invoke(app, ["monitor", "show", MN, "--db", db_url], env=WIDE).stdout
    assert "hour (UTC)" in text
    assert f"│ {START - timedelta(hours=8):%Y-%m-%d %H:%M} " in text
    assert f"SO2 flatline, {START - timedelta(hours=8):%Y-%m-%d %H:%M} to " in text
