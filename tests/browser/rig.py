"""The browser rig's types (the fixtures are in conftest.py): tests import them from here
for their annotations, e.g. ``from .rig import Axe, BrowserLog, DemoSite, LiveServer``."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playwright.sync_api import Page

from trustledger.app.context import Context
from trustledger.app.demo import DemoResult, Tries
from trustledger.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
AXE_JS = ROOT / "trustledger" / "portal" / "static" / "vendor" / "axe-core" / "axe.min.js"


@dataclass
class DemoSite:
    work: Path
    db_path: Path
    settings: Settings
    result: DemoResult
    person_number: str  # a person's resident ID number that has records (never on a page)
    person_id: str  # the same person's keyed id, as the database stores it
    monitoring_points: list[str]  # MNs of the demo plants (registered, with data)
    seconds: float  # how long building it took

    @property
    def tries(self) -> Tries:
        return self.result.tries

    @contextlib.contextmanager
    def context(self) -> Iterator[Context]:
        """The application layer's context on the demo database (closed afterwards)."""
        ctx = Context.open(self.settings)
        try:
            yield ctx
        finally:
            ctx.close()

    def make_key(self, role: str, name: str, actions: Sequence[str] = (), **scope: Any) -> str:
        """A new API key (``role``: checker, subject, operator, reviewer, …; ``scope``:
        ``subject=…``, ``authority=…``, ``expires=…``), as ``trustledger keys create``."""
        from trustledger.access import create_key

        with self.context() as ctx:
            return create_key(ctx.store, role, name, actions, **scope)


@dataclass
class LiveServer:
    host: str
    port: int

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def netloc(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass
class BrowserLog:
    """What one test's page did: every URL asked for, those blocked, errors it logged."""

    requests: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)


IMPACTS = ("serious", "critical")


class Axe:
    """axe-core (vendored, static/vendor/axe-core) run in a page."""

    source = AXE_JS

    def __call__(
        self, page: Page, *, impacts: Sequence[str] = IMPACTS, context: str | None = None,
        options: dict[str, Any] | None = None,
    ) -> list[dict[str, Any]]:  # fmt: skip
        """The violations in ``page`` (or in the elements ``context`` selects) whose impact
        is one of ``impacts``; every rule axe runs by default is run."""
        if not page.evaluate("() => typeof window.axe !== 'undefined'"):
            page.add_script_tag(path=self.source)  # inlined: no request for it
        run_options = {"resultTypes": ["violations"], **(options or {})}
        violations: list[dict[str, Any]] = page.evaluate(
            "async ([ctx, opts]) => (await axe.run(ctx ?? document, opts)).violations",
            [context, run_options],
        )
        return [v for v in violations if v.get("impact") in impacts]

    @staticmethod
    def report(violations: Sequence[dict[str, Any]]) -> str:
        """One line per violation and node: rule, impact, help, the element's target."""
        lines = []
        for v in violations:
            lines.append(f"{v['id']} ({v['impact']}): {v['help']} — {v['helpUrl']}")
            for node in v.get("nodes", [])[:5]:
                lines.append(f"    {node.get('target')}: {node.get('failureSummary', '')!r}"[:300])
        return "\n".join(lines)
