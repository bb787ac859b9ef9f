"""The reference pages at the default demo size: server time (first request, p50, p95) of
/rulebooks, /rulebooks/{id}, /compare, /monitoring/{MN} and /ledger/entries/{seq}, each
beside a baseline measured in the same run where one answers the same question:

- /compare beside a fresh comparison of the same rulebooks (``app.evaluation.compare``, what
  `trustledger compare` runs): the page reads the live state and keeps its figures;
- /monitoring/{MN} beside the JSON API's /v1/monitoring/points/{MN} (an operator key);
- /ledger/entries/{seq} beside the ledger's own proof (``app.ledger.inclusion``, what
  `trustledger ledger proof` runs), which hashes every leaf.

Target: p95 <= 100 ms for each page. Requests are made in process (FastAPI's TestClient), so
the time is the server's. The demo is bench/portal_pages.py's (bench/results/portal-demo/,
or TRUSTLEDGER_BENCH_DEMO); it is copied first, so the run writes nothing to it.
"""

from __future__ import annotations

import random
import shutil
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from common import save
from portal_pages import _demo, _settings

warnings.filterwarnings("ignore", category=DeprecationWarning)

from fastapi.testclient import TestClient  # noqa: E402

from trustledger.app import evaluation, ledger  # noqa: E402
from trustledger.app.context import Context  # noqa: E402
from trustledger.app.time import when  # noqa: E402
from trustledger.portal.server import create_server  # noqa: E402

ROUNDS = 50


def _ms(xs: list[float]) -> dict[str, float]:
    return {"p50_ms": round(statistics.median(xs) * 1000, 2),
            "p95_ms": round(statistics.quantiles(xs, n=20)[-1] * 1000, 2)}  # fmt: skip


def _time(call: Callable[[], Any], rounds: int = ROUNDS) -> list[float]:
    out = []
    for _ in range(rounds):
        start = time.perf_counter()
        answer = call()
        out.append(time.perf_counter() - start)
        status = getattr(answer, "status_code", 200)
        assert status == 200, (status, getattr(answer, "text", "")[:300])
    return out


def _first(call: Callable[[], Any]) -> float:
    start = time.perf_counter()
    call()
    return round((time.perf_counter() - start) * 1000, 1)


def main() -> None:
    source = _demo()
    work = Path(tempfile.mkdtemp(prefix="portal-reference-"))
    for name in ("trustledger.db", "person.key"):
        shutil.copy(source / name, work / name)
    settings = _settings(work)
    with Context.open(settings) as ctx:
        from trustledger.access import create_key

        size = ctx.store.size()
        refs = sorted(rid for (rid,) in ctx.store.query(
            "SELECT DISTINCT rulebook_id FROM rulebooks", ()))  # fmt: skip
        (mn,) = ctx.store.query("SELECT mn FROM monitor_points ORDER BY mn LIMIT 1", ())[0]
        operator = create_key(ctx.store, "operator", "bench")
        moment = when(None, None, timezone=ctx.settings.timezone, now_us=ctx.now_us(),
                      today=ctx.today())  # fmt: skip
        fresh_compare = _time(lambda: evaluation.compare(ctx, refs, moment), rounds=3)
        seqs = random.Random(7).sample(range(size), 5)
        fresh_proof = _time(lambda: ledger.inclusion(ctx, seqs[0]), rounds=5)
    rnd = random.Random(11)
    results: dict[str, Any] = {"subjects_demo": str(source), "ledger_size": size,
                               "rounds": ROUNDS}  # fmt: skip
    with TestClient(create_server(settings)) as client:
        pages: dict[str, Callable[[], Any]] = {
            "rulebooks": lambda: client.get("/rulebooks"),
            "rulebook": lambda: client.get("/rulebooks/cn-market-abnormal-operations"),
            "compare": lambda: client.get("/compare"),
            "monitoring_point": lambda: client.get(f"/monitoring/{mn}"),
            "ledger_entry": lambda: client.get(f"/ledger/entries/{rnd.randrange(size)}"),
        }
        for name, call in pages.items():
            results[name] = {"first_ms": _first(call), **_ms(_time(call))}
        bearer = {"Authorization": f"Bearer {operator}"}
        api = _time(lambda: client.get(f"/v1/monitoring/points/{mn}", headers=bearer))
    results["compare"]["baseline"] = "app.evaluation.compare of every rulebook"
    results["compare"]["baseline_p50_ms"] = _ms(fresh_compare)["p50_ms"]
    results["monitoring_point"]["baseline"] = "GET /v1/monitoring/points/{MN} (JSON)"
    results["monitoring_point"]["baseline_p50_ms"] = _ms(api)["p50_ms"]
    results["ledger_entry"]["baseline"] = "app.ledger.inclusion (every leaf hashed)"
    results["ledger_entry"]["baseline_p50_ms"] = _ms(fresh_proof)["p50_ms"]
    for name in ("compare", "monitoring_point", "ledger_entry"):
        page = results[name]
        page["ratio_p50_page_to_baseline"] = round(page["p50_ms"] / page["baseline_p50_ms"], 4)
    results["target"] = "p95_ms <= 100 for every page (first_ms: the first request after start)"
    save("portal_reference", results)
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
