"""The browser test rig: the portal as it runs (`create_server`, uvicorn on a real socket)
over a small demo database, driven by Debian's Chromium through Playwright, with the
network outside the live server blocked.

Fixtures (session-scoped unless said otherwise; with ``pytest -n 2`` each xdist worker has
its own demo database, server and browser):

- ``demo_site`` → ``DemoSite``: the demo built once by the real use case
  (``trustledger.app.demo.run``, ``DEMO_SUBJECTS`` subjects): ``db_path``, ``settings``,
  ``tries`` (the demo's ``Tries``: ``denied`` a firm a restriction bars from public
  procurement, so black-listed with a measure; ``profiled``; ``screen_name``; ``compare``),
  ``result`` (the ``DemoResult``: checker ``key``, ``reviewer``, ``monitoring`` points),
  ``person_number`` / ``person_id`` (a person's resident ID number with records, and its
  keyed id as stored), ``monitoring_points``; ``context()`` opens a ``Context`` on it and
  ``make_key(role, name, …)`` creates an API key (e.g. a subject key for the self-service
  pages). The database is shared by every test of the worker: a test that writes (an
  objection) should use a subject no other test looks at, or expect its own change.
- ``live_server`` → ``LiveServer`` (``url``, ``port``, ``host``): uvicorn serving
  ``create_server(demo_site.settings)`` on 127.0.0.1, a free port; ``base_url`` is its URL.
- ``browser`` (per module, like ``playwright_driver``: see there why): Chromium
  (``executable_path`` = Debian's ``chromium``, or ``TRUSTLEDGER_CHROMIUM``;
  ``--no-sandbox`` as root), launched by ``playwright_driver``
  (``sync_playwright().start()``); skipped with the reason when Chromium is missing, a
  failure when ``CI=true``.
- ``page`` (per test): a fresh context and page whose every request to anything but the
  live server is aborted (recorded in ``browser_log.blocked``, and the test fails at
  teardown if there is any); console errors and page errors are collected in
  ``browser_log``; a full-page screenshot of each test is saved to
  ``test-artifacts/screenshots/<test name>.png`` whatever the outcome.
- ``browser_log`` (per test) → ``BrowserLog``: ``blocked``, ``console_errors``,
  ``page_errors``, ``requests`` (every URL the page asked for).
- ``axe`` → ``Axe``: ``axe(page)`` injects the vendored axe-core and runs ``axe.run()``,
  returning the violations of impact serious or critical (``axe(page, impacts=…)`` for
  others); ``axe.report(violations)`` formats them for an assertion message.

Every test under tests/browser/ gets the ``browser`` marker (``-m browser`` / ``-m "not
browser"``).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import pickle
import re
import shutil
import socket
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import uvicorn
from playwright.sync_api import Browser, ConsoleMessage, Page, Playwright, Route, sync_playwright

from trustledger.app import demo
from trustledger.app.context import Context
from trustledger.app.demo import DemoResult
from trustledger.domain import SubjectKind
from trustledger.ids import check_identifier
from trustledger.portal.server import create_server
from trustledger.settings import Settings

from .rig import ROOT, Axe, BrowserLog, DemoSite, LiveServer

SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
DEMO_SUBJECTS = 2_000  # ~3.5 s to build on this machine; enough for every kind of page
CHROMIUM_FALLBACK = "/usr/bin/chromium"
HOST = "127.0.0.1"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.browser)


# ---- the demo database


def _a_person_with_records(directory: Path) -> str:
    """The resident ID number of the first person the demo gave a court record."""
    with (directory / "records.jsonl").open(encoding="utf-8") as lines:
        for line in lines:
            row = json.loads(line)
            subject = str(row.get("subject", ""))
            # an all-digit USCC looks like an ID number too: the scheme decides
            if (
                re.fullmatch(r"\d{17}[\dX]", subject)
                and check_identifier(subject).kind is SubjectKind.PERSON
                and str(row.get("category", "")).startswith("JUD-")
            ):
                return subject
    raise AssertionError(f"the demo in {directory} has no person with a court record")


def _settings(work: Path) -> Settings:
    return Settings(db_url=f"sqlite:///{work / 'portal.db'}", person_key_file=work / "person.key",
                    outbox_dir=work / "outbox")  # fmt: skip


def _build(work: Path) -> tuple[DemoResult, str, str]:
    """The demo in ``work`` (database, person key, files): its result, a person's number
    and that person's keyed id."""
    with Context.open(_settings(work), must_exist=False) as ctx:
        result = demo.run(ctx, directory=work / "demo", subjects=DEMO_SUBJECTS)
        person_number = _a_person_with_records(work / "demo")
        keyer = ctx.keyer
        assert keyer is not None
        return result, person_number, keyer.person_id(person_number)


def _built_once(shared: Path) -> tuple[DemoResult, str, str]:
    """The demo built in ``shared`` by the first xdist worker to get there (the others wait
    for it, under a file lock, rather than build the same bytes again at the same time)."""
    shared.mkdir(exist_ok=True)
    built = shared / "built.pickle"
    with (shared / "lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not built.exists():
                made = _build(shared)
                built.write_bytes(pickle.dumps(made))
            loaded: tuple[DemoResult, str, str] = pickle.loads(built.read_bytes())
            return loaded
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@pytest.fixture(scope="session")
def demo_site(tmp_path_factory: pytest.TempPathFactory) -> DemoSite:
    """Built once per run; with xdist each worker serves its own copy of the database, so
    what one worker's tests write is not seen by the other's."""
    work = tmp_path_factory.mktemp("browser-demo")
    started = time.perf_counter()
    if not os.environ.get("PYTEST_XDIST_WORKER"):  # not under xdist
        result, person_number, person_id = _build(work)
    else:
        # the run's base directory, shared by its workers (basetemp is .../popen-gwN)
        shared = tmp_path_factory.getbasetemp().parent / "browser-demo-shared"
        result, person_number, person_id = _built_once(shared)
        for name in ("portal.db", "person.key"):
            shutil.copy2(shared / name, work / name)
    seconds = time.perf_counter() - started
    tries = result.tries
    assert tries.denied is not None, "the demo has no firm denied public procurement"
    assert tries.profiled is not None and tries.screen_name is not None, tries
    assert result.monitoring is not None and result.monitoring.points, "no monitoring points"
    points = [mn for mn, _, _ in result.monitoring.points]
    settings = _settings(work)
    return DemoSite(work, work / "portal.db", settings, result, person_number, person_id,
                    points, seconds)  # fmt: skip


# ---- the live server


def _wait_healthy(url: str, thread: threading.Thread, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    problem = "no answer"
    while time.monotonic() < deadline:
        if not thread.is_alive():
            raise AssertionError("the live server stopped while starting (see its log above)")
        try:
            with urllib.request.urlopen(f"{url}/v1/health", timeout=2) as answer:
                if answer.status == 200:
                    return
                problem = f"status {answer.status}"
        except OSError as exc:
            problem = str(exc)
        time.sleep(0.05)
    raise AssertionError(f"the live server at {url} did not answer /v1/health: {problem}")


@pytest.fixture(scope="session")
def live_server(demo_site: DemoSite) -> Iterator[LiveServer]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((HOST, 0))  # the port is ours from here on: no race with another worker
    port = int(sock.getsockname()[1])
    config = uvicorn.Config(create_server(demo_site.settings), log_level="warning",
                            access_log=False, lifespan="on")  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]},
                              name="live-server", daemon=True)  # fmt: skip
    thread.start()
    live = LiveServer(HOST, port)
    try:
        _wait_healthy(live.url, thread)
        yield live
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@pytest.fixture(scope="session")
def base_url(live_server: LiveServer) -> str:
    return live_server.url


# ---- the browser


def chromium_path() -> str | None:
    """Debian's Chromium (``TRUSTLEDGER_CHROMIUM`` names another executable)."""
    found = os.environ.get("TRUSTLEDGER_CHROMIUM") or shutil.which("chromium") or CHROMIUM_FALLBACK
    return found if os.access(found, os.X_OK) else None


# module-scoped, not session-scoped: while Playwright's sync API is started, its event loop
# is the running loop of the main thread, and every later test in the same process that
# calls asyncio.run() (the HJ 212 listener, the report's signature check) would fail with
# "cannot be called from a running event loop". pytest stops it when the next test belongs
# to another module, so only browser tests ever run beside it.
@pytest.fixture(scope="module")
def playwright_driver() -> Iterator[Playwright]:
    driver = sync_playwright().start()
    try:
        yield driver
    finally:
        driver.stop()


@pytest.fixture(scope="module")
def browser(playwright_driver: Playwright) -> Iterator[Browser]:
    executable = chromium_path()
    if executable is None:
        why = (f"Chromium is missing (no `chromium` on PATH, no {CHROMIUM_FALLBACK}, or "
               "TRUSTLEDGER_CHROMIUM is not executable); "
               "`make test` installs it as root (apt-get install chromium)")  # fmt: skip
        if os.environ.get("CI") == "true":
            pytest.fail(f"browser tests need Chromium in CI: {why}")
        pytest.skip(why)
    args = ["--no-sandbox"] if os.geteuid() == 0 else []
    launched = playwright_driver.chromium.launch(executable_path=executable, args=args)
    try:
        yield launched
    finally:
        launched.close()


@pytest.fixture
def browser_log() -> BrowserLog:
    return BrowserLog()


def _screenshot_name(node_name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", node_name).strip("_")[:150] + ".png"


@pytest.fixture
def page(
    browser: Browser, live_server: LiveServer, browser_log: BrowserLog,
    request: pytest.FixtureRequest,
) -> Iterator[Page]:  # fmt: skip
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900},
                                  locale="zh-CN", timezone_id="Asia/Shanghai")  # fmt: skip

    def only_the_live_server(route: Route) -> None:
        url = route.request.url
        browser_log.requests.append(url)
        parts = urlsplit(url)
        if parts.scheme in ("http", "https", "ws", "wss") and parts.netloc == live_server.netloc:
            route.continue_()
        else:
            browser_log.blocked.append(url)
            route.abort("blockedbyclient")

    def console(message: ConsoleMessage) -> None:
        if message.type == "error":
            browser_log.console_errors.append(f"{message.text} ({message.location.get('url')})")

    context.route("**/*", only_the_live_server)
    new_page = context.new_page()
    new_page.on("console", console)
    new_page.on("pageerror", lambda error: browser_log.page_errors.append(str(error)))
    try:
        yield new_page
    finally:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(Exception):  # a crashed page has no screenshot to give
            new_page.screenshot(path=SCREENSHOTS / _screenshot_name(request.node.name),
                                full_page=True, timeout=15_000)  # fmt: skip
        context.close()
    if browser_log.blocked:
        pytest.fail("the page asked for something other than the live server (blocked): "
                    + ", ".join(browser_log.blocked[:10]))  # fmt: skip


# ---- accessibility


@pytest.fixture(scope="session")
def axe() -> Axe:
    return Axe()
