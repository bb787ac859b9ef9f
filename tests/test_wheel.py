"""Every CLI command from an installed wheel, not the editable checkout.

How, offline and fast: the wheel is built from this checkout (`pip wheel --no-deps`); a
fresh venv (no system site packages, no pip of its own) gets one `.pth` line naming the
running venv's site-packages, so the dependencies resolve there without downloading or
reinstalling anything; the wheel is installed into the fresh venv by pip run from that
path (`--no-deps --ignore-installed`, so the checkout's editable install is never touched).
A path added by a `.pth` line is not a site directory, so the editable install's own
`.pth` finder is not loaded in the fresh venv: `import trustledger` there can only find the
wheel's copy, which the test asserts before anything else. Commands run from a scratch
folder, so the checkout is not on the path either.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import sysconfig
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent


class Installed:
    def __init__(self, venv: Path, work: Path) -> None:
        self.venv = venv
        self.work = work
        self.bin = venv / "bin" / "trustledger"
        self.env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("PYTHONPATH", "VIRTUAL_ENV") and not k.startswith("TRUSTLEDGER_")
        }
        self.env.update(
            TRUSTLEDGER_DB=f"sqlite:///{work / 'w.db'}",
            TRUSTLEDGER_PERSON_KEY_FILE=str(work / "person.key"),
            COLUMNS="200",
        )

    def run(self, *args: str, codes: tuple[int, ...] = (0,)) -> str:
        done = subprocess.run(
            [str(self.bin), *args],
            cwd=self.work,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode in codes, (args, done.returncode, done.stdout, done.stderr)
        return done.stdout

    def json(self, *args: str, codes: tuple[int, ...] = (0,)) -> Any:
        return json.loads(self.run(*args, "--json", codes=codes))


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    base = tmp_path_factory.mktemp("wheel")
    # built from a copy: setuptools leaves a build/ folder beside the sources it builds
    source = base / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    shutil.copytree(
        ROOT / "trustledger",
        source / "trustledger",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )
    wheels = base / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(source)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = wheels.glob("trustledger-*.whl")
    venv = base / "venv"
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120
    )
    python = venv / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    (Path(site) / "_deps_from_running_venv.pth").write_text(sysconfig.get_path("purelib") + "\n")
    subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--no-index",
            "--ignore-installed",
            "--disable-pip-version-check",
            str(wheel),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    work = base / "work"
    work.mkdir()
    yield Installed(venv, work)


def test_every_command_from_the_installed_wheel(installed: Installed) -> None:
    t = installed
    where = subprocess.run(
        [str(t.venv / "bin" / "python"), "-c", "import trustledger; print(trustledger.__file__)"],
        cwd=t.work,
        env=t.env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert where.startswith(str(t.venv)), where  # the wheel's copy, not the checkout

    from trustledger import __version__

    assert t.run("--version").strip() == f"trustledger {__version__}"
    assert "init" in t.run("init", "--new-person-key")

    # the demo publishes the shipped rulebooks from package data
    shown = t.run("demo", "--subjects", "300", "--dir", str(t.work / "demo"))
    assert "rulebooks published: cn-" in shown
    tries = [line.split("try: ", 1)[1] for line in shown.splitlines() if line.startswith("try: ")]
    denied = next(x.split()[2] for x in tries if x.startswith("trustledger check "))
    profiled = next(x.split()[2] for x in tries if x.startswith("trustledger profile "))
    compared = next(x.split()[2:] for x in tries if x.startswith("trustledger compare "))

    # the "try" lines are true of the data they were picked from
    checked = t.json("check", denied, "public_procurement", codes=(3,))
    assert checked["status"] == "deny" and checked["known_at"] and checked["on"]
    earlier = t.json("check", denied, "public_procurement", "--on", "2000-01-01")
    assert earlier["status"] in ("allow", "allow_with_incentives") and earlier["on"] == "2000-01-01"
    profile = t.json("profile", profiled)
    assert profile["subject"] == profiled and profile["profiles"]
    compare = t.json("compare", *compared)
    assert compare["on"] and len(compare["figures"]) == 2

    ingest = t.json("ingest", str(t.work / "demo" / "records-sample.csv"), "--rejects", str(t.work))
    assert ingest[0]["rejected"] == 0 and ingest[0]["duplicate"] > 0
    evaluated = t.json("evaluate", "--rulebook", "cn-spc-dishonest-debtors")
    assert evaluated["rulebooks"][0]["rulebook"].startswith("cn-spc-dishonest-debtors@")
    what_if = t.work / "what-if.db"
    t.json("evaluate", "--known-at", "2000-01-01", "--what-if", str(what_if))
    assert what_if.exists()
    # the live answer is unchanged by the what-if
    assert t.json("check", denied, "public_procurement", codes=(3,))["status"] == "deny"

    with sqlite3.connect(t.work / "w.db") as conn:
        (name,) = conn.execute("SELECT name FROM subjects WHERE id = ?", (denied,)).fetchone()
    screened = t.json("screen", name)
    assert screened[0]["subject_id"] == denied
    assert {c["outcome"] for c in screened} == {"review"}

    head = t.json("ledger", "head")
    proof = t.json("ledger", "proof", "3")
    assert proof["root"] == head["root"]
    consistency = t.json("ledger", "consistency", "5")
    assert consistency["new_root"] == head["root"]
    t.run("ledger", "proof", str(head["size"]), codes=(2,))  # out of range: a clear error
    t.run("ledger", "consistency", str(head["size"] + 1), codes=(2,))
    assert "intact" in t.run("verify")
    assert "rebuilt" in t.run("rebuild")

    shipped = t.json("rulebook", "list", "--shipped")
    assert "cn-spc-dishonest-debtors.yaml" in shipped
    published = t.json("rulebook", "list")
    assert {r["id"] for r in published} >= {"cn-spc-dishonest-debtors"}
    assert "measures:" in t.run("rulebook", "show", "cn-rongcheng-points")
    assert t.json("rulebook", "validate", "cn-rongcheng-points")[0]["ok"]
    again = t.json("rulebook", "publish", "--shipped")
    assert all(r["published"] and r["seq"] is None for r in again)  # already published

    national = Path(where).parent / "catalogue" / "national.yaml"
    assert t.json("catalogue", "validate", str(national))[0]["ok"]
    assert t.run("catalogue", "show").strip()
    assert "valid" in t.run("ids", "check", denied).lower()
    key = t.run("keys", "create", "--name", "wheel test", "--actions", "air_travel").split()[0]
    assert key.startswith("tlk_")

    points = t.json("monitor", "points")["points"]
    assert len(points) == 3
    assert points[0]["mn"] in t.run("monitor", "show", points[0]["mn"])
    t.run("monitor", "replay", str(t.work / "demo" / "monitoring" / "plants.h212"))
    assert isinstance(t.json("monitor", "judge"), list)
    first = points[0]
    t.run(
        "monitor",
        "register",
        "WHEELTEST00000000001",
        "--subject",
        first["subject"],
        "--outlet",
        "boiler 2 stack",
        "--authority",
        first["authority"],
        "--limit-set",
        first["limit_set"],
        "--rulebook",
        first["rulebook"],
    )
    assert len(t.json("monitor", "points")["points"]) == 4
    # the demo prints each pending record with the reviewer principal it made
    pending = [
        line.split("monitor confirm ", 1)[1].split()[:3]
        for line in shown.splitlines()
        if "monitor confirm " in line
    ]
    for record, flag, reviewer in pending:
        assert flag == "--reviewer" and reviewer.startswith("p_")
        t.run("monitor", "confirm", record, "--reviewer", reviewer)

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [str(t.bin), "serve", "--port", str(port)],
        cwd=t.work,
        env=t.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(200):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/health", timeout=1) as r:
                    assert r.status == 200
                    break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail("the served API never answered /v1/health")
    finally:
        server.terminate()
        server.wait(timeout=10)
