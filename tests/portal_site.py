"""A small demo served in process, for the portal page tests (rulebooks, compare,
monitoring, ledger): built once per test process by the real use case
(``trustledger.app.demo.run``), then copied for each test module that asks, so a module
that writes (a confirmation, an ingest) changes only its own copy."""

from __future__ import annotations

import itertools
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from trustledger.app import demo
from trustledger.app.context import Context
from trustledger.app.demo import DemoResult
from trustledger.portal.server import create_server
from trustledger.settings import Settings

SUBJECTS = 300
_BUILT: dict[str, tuple[Path, DemoResult]] = {}


@dataclass
class Site:
    settings: Settings
    result: DemoResult
    client: TestClient

    def context(self) -> Context:
        return Context.open(self.settings)


def _built(factory: pytest.TempPathFactory) -> tuple[Path, DemoResult]:
    if "demo" not in _BUILT:
        work = factory.mktemp("portal-demo")
        settings = Settings(db_url=f"sqlite:///{work / 'demo.db'}",
                            person_key_file=work / "person.key")  # fmt: skip
        with Context.open(settings, must_exist=False) as ctx:
            result = demo.run(ctx, directory=work / "demo", subjects=SUBJECTS)
        _BUILT["demo"] = (work, result)
    return _BUILT["demo"]


def site(factory: pytest.TempPathFactory) -> Iterator[Site]:
    """A fresh copy of the demo database served by ``create_server`` (API and portal)."""
    work, result = _built(factory)
    mine = factory.mktemp("portal-site")
    for name in ("demo.db", "demo.db-wal", "demo.db-shm"):
        if (work / name).exists():
            shutil.copy(work / name, mine / name)
    shutil.copy(work / "person.key", mine / "person.key")
    settings = Settings(db_url=f"sqlite:///{mine / 'demo.db'}", person_key_file=mine / "person.key",
                        outbox_dir=mine / "outbox")  # fmt: skip
    with TestClient(create_server(settings, reload_interval=0.0)) as client:
        yield Site(settings, result, client)


class Outline(HTMLParser):
    """Headings in order, tables with their header cells, labelled form fields."""

    def __init__(self) -> None:
        super().__init__()
        self.headings: list[int] = []
        self.tables = 0
        self.tables_with_th = 0
        self._in_table: list[bool] = []
        self.inputs: list[str] = []  # ids of inputs and selects
        self.labels: list[str] = []  # the `for` of each label

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if re.fullmatch(r"h[1-6]", tag):
            self.headings.append(int(tag[1]))
        elif tag == "table":
            self.tables += 1
            self._in_table.append(False)
        elif tag == "th" and self._in_table:
            self._in_table[-1] = True
        elif tag in ("input", "select", "textarea") and found.get("type") != "hidden":
            self.inputs.append(found.get("id") or "")
        elif tag == "label":
            self.labels.append(found.get("for") or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "table" and self._in_table:
            self.tables_with_th += self._in_table.pop()


def check_structure(html: str) -> Outline:
    """One h1 first, no heading level skipped going down, every table with header cells,
    every field with a label."""
    outline = Outline()
    outline.feed(html)
    levels = outline.headings
    assert levels and levels[0] == 1 and levels.count(1) == 1, levels
    for before, after in itertools.pairwise(levels):
        assert after <= before + 1, f"heading h{after} after h{before}: {levels}"
    assert outline.tables == outline.tables_with_th, "a table without header cells"
    assert all(i and i in outline.labels for i in outline.inputs), (outline.inputs, outline.labels)
    return outline
