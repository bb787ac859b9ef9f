"""A database of the previous release, upgraded: its rows beside the ledger are noted until
committed as found (at their table's first write, or by `ledger commit-baseline`), and
from then on tampering with them is found like any other."""

from __future__ import annotations

import dataclasses

import pytest
from test_migrate import old_db, run  # noqa: F401  (the fixture and the CLI runner)

from trustledger.app import ledger
from trustledger.app.context import Context
from trustledger.app.verification import commit_baseline
from trustledger.settings import Settings


def _ctx(url: str) -> Context:
    return Context.open(dataclasses.replace(Settings.from_env(), db_url=url))


def test_an_upgraded_database_is_noted_then_baselined_then_covered(old_db: str) -> None:  # noqa: F811
    assert run("db", "upgrade").exit_code == 0
    verified = run("verify")
    assert verified.exit_code == 0, verified.output
    assert "no entry commits" in verified.output and "upgraded at ledger size" in verified.output
    with _ctx(old_db) as ctx:
        store = ctx.store
        (key_hash,) = store.query("SELECT key_hash FROM api_keys ORDER BY 1 LIMIT 1")[0]
        done = commit_baseline(ctx)
        assert done.tables["monitor_packets"] > 0 and done.state_rows > 0
        assert sorted(done.points) == sorted(
            str(r[0]) for r in store.query("SELECT mn FROM monitor_points")
        )
        report = ledger.verify(ctx)
        assert report.ok and not [n for n in report.notes if "no entry commits" in n]
        # a second baseline commits nothing: a committed table is never taken as found again
        again = commit_baseline(ctx)
        assert not again.tables and not again.points and not again.state_rows
        with store.transaction():
            store.execute("UPDATE api_keys SET role = 'operator' WHERE key_hash = ?",
                          [(key_hash,)])  # fmt: skip
        found = [p for _, p in ledger.verify(ctx).problems]
        assert any(p.startswith("api_keys:") for p in found), found


def test_a_first_write_commits_its_table_as_found(old_db: str) -> None:  # noqa: F811
    from trustledger.access.log import record_access

    assert run("db", "upgrade").exit_code == 0
    with _ctx(old_db) as ctx:
        record_access(ctx.store, None, "test.read", subject_id=None, purpose="test")
        report = ledger.verify(ctx)
        assert report.ok
        assert not [n for n in report.notes if n.startswith("access_log:")]
        with ctx.store.transaction():
            ctx.store.execute("DELETE FROM access_log")
        assert any(p.startswith("access_log:") for _, p in ledger.verify(ctx).problems)


@pytest.fixture(autouse=True)
def _one_process(monkeypatch: pytest.MonkeyPatch) -> None:
    import multiprocessing

    monkeypatch.setattr(multiprocessing, "cpu_count", lambda: 1)
