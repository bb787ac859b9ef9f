"""`trustledger monitor …`: every refusal exits 2 with a message naming the problem."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from trustledger.cli import app
from trustledger.ledger.store import open_store


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
