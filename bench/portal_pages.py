"""Portal pages at the default demo size: server time (p50, p95) of the organisation's
page, a list page and the search page, each beside the JSON API answering the same
question in the same run (the ratio). Target: p95 <= 100 ms for each page.

The demo (50,000 subjects, `trustledger demo`'s use case) is built once into
bench/results/portal-demo/ and reused; TRUSTLEDGER_BENCH_DEMO names another directory
holding a demo's trustledger.db and person.key. Requests are made in process (FastAPI's
TestClient), so the time is the server's: routing, the application layer, rendering.
"""

from __future__ import annotations

import os
import statistics
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from common import RESULTS, save

warnings.filterwarnings("ignore", category=DeprecationWarning)

from fastapi.testclient import TestClient  # noqa: E402

from trustledger.app import demo  # noqa: E402
from trustledger.app.context import Context  # noqa: E402
from trustledger.portal.server import create_server  # noqa: E402
from trustledger.settings import Settings  # noqa: E402

SUBJECTS = 50_000
ROUNDS = 60


def _settings(work: Path) -> Settings:
    return Settings(db_url=f"sqlite:///{work / 'trustledger.db'}",
                    person_key_file=work / "person.key", outbox_dir=work / "outbox")  # fmt: skip


def _demo() -> Path:
    named = os.environ.get("TRUSTLEDGER_BENCH_DEMO")
    if named:
        return Path(named)
    work = RESULTS / "portal-demo"
    if not (work / "trustledger.db").exists():
        work.mkdir(parents=True, exist_ok=True)
        with Context.open(_settings(work), must_exist=False) as ctx:
            demo.run(ctx, directory=work / "demo-data", subjects=SUBJECTS)
    return work


def _time(call: Callable[[], Any]) -> list[float]:
    out = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        response = call()
        out.append(time.perf_counter() - start)
        assert response.status_code == 200, (response.status_code, response.text[:300])
    return out


def _figures(page: list[float], api: list[float]) -> dict[str, float]:
    def p95(xs: list[float]) -> float:
        return statistics.quantiles(xs, n=20)[-1]

    return {
        "page_p50_ms": round(statistics.median(page) * 1000, 2),
        "page_p95_ms": round(p95(page) * 1000, 2),
        "api_p50_ms": round(statistics.median(api) * 1000, 2),
        "api_p95_ms": round(p95(api) * 1000, 2),
        "ratio_p95_page_to_api": round(p95(page) / p95(api), 2),
    }


def main() -> None:
    work = _demo()
    settings = _settings(work)
    results_head: dict[str, Any] = {"demo": str(work)}
    with Context.open(settings) as ctx:
        from trustledger.access import create_key

        ((subjects,),) = ctx.store.query("SELECT count(*) FROM subjects", ())
        results_head["subjects"] = subjects
        key = create_key(ctx.store, "checker", "bench", ["public_procurement"])
        firms = [r[0] for r in ctx.store.query(
            "SELECT DISTINCT l.subject_id FROM state_lists l JOIN subjects s ON s.id = l.subject_id"
            " WHERE s.kind <> 'person' AND l.kind = 'black' ORDER BY l.subject_id LIMIT ?",
            (ROUNDS,))]  # fmt: skip
        names = [ctx.store.get_row("subjects", f).name for f in firms]
        (biggest,) = ctx.store.query(
            "SELECT rulebook, list_id FROM state_lists GROUP BY rulebook, list_id"
            " ORDER BY count(*) DESC LIMIT 1", ())  # fmt: skip
    rulebook, list_id = biggest[0].split("@")[0], biggest[1]
    bearer = {"Authorization": f"Bearer {key}"}
    results: dict[str, Any] = {
        "subjects": SUBJECTS,
        "rounds": ROUNDS,
        "list": f"{rulebook}/{list_id}",
    }
    with TestClient(create_server(settings)) as client:
        # warm: the first request of each kind loads rulebooks, templates and the index
        client.get(f"/entities/{firms[0]}")
        client.get(f"/v1/subjects/{firms[0]}/profile")
        client.get(f"/lists/{rulebook}/{list_id}")
        client.get(f"/search?q={names[0][2:6]}")
        it = iter(range(10**9))

        def nth(xs: list[str]) -> str:
            return xs[next(it) % len(xs)]

        results["entity"] = _figures(
            _time(lambda: client.get(f"/entities/{nth(firms)}")),
            _time(lambda: client.get(f"/v1/subjects/{nth(firms)}/profile")),
        )
        results["list"] = _figures(
            _time(lambda: client.get(f"/lists/{rulebook}/{list_id}")),
            _time(lambda: client.get(f"/v1/lists/{rulebook}/{list_id}", params={"limit": 50})),
        )
        results["search"] = _figures(
            _time(lambda: client.get("/search", params={"q": nth(names)[2:6]})),
            _time(
                lambda: client.post(
                    "/v1/screen", json={"name": nth(names)[2:6], "limit": 20}, headers=bearer
                )
            ),
        )
    results["target"] = "page_p95_ms <= 100 for entity, list and search"
    save("portal_pages", results)


if __name__ == "__main__":
    main()
