"""The application layer's use cases on a small demo: single-subject checks agree with the
whole index, ingest re-evaluates stale subjects, proofs are bounded, screening's persisted
index finds what the in-memory one finds, and the two time flags parse as documented."""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import psycopg
import pytest
from builders import authorities, issue

from trustledger.app import checks, demo, ingest, ledger, profiles, screening
from trustledger.app.context import Clock, Context
from trustledger.app.errors import BadInput, NotFound, TrustledgerError
from trustledger.app.time import When, parse_known_at, parse_on, when
from trustledger.ledger.projection import SubjectRow
from trustledger.sanctions.check import CheckIndex
from trustledger.sanctions.screening import ScreeningIndex
from trustledger.settings import Settings

ACTIONS = ("public_procurement", "air_travel", "green_channel", "reduced_inspection")


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def demo_ctx(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Context, Path]]:
    work = tmp_path_factory.mktemp("app")
    url, schema = f"sqlite:///{work / 'app.db'}", None
    if request.param == "postgres":
        server: str = request.getfixturevalue("pg_server")
        schema = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")
        url = f"{server}{'&' if '?' in server else '?'}options=-csearch_path%3D{schema}"
    settings = Settings(db_url=url, person_key_file=work / "p.key")
    ctx = Context.open(settings, must_exist=False)
    demo.run(ctx, directory=work / "demo", subjects=300)
    yield ctx, work
    ctx.close()
    if schema is not None:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def now(ctx: Context) -> When:
    return when(None, None, timezone=ctx.settings.timezone, now_us=ctx.now_us(), today=ctx.today())


def test_single_subject_checks_agree_with_the_whole_index(demo_ctx: tuple[Context, Path]) -> None:
    ctx, _ = demo_ctx
    full = CheckIndex.load(ctx.store)
    today = ctx.today()
    subjects = [row[0] for row in ctx.store.iter_rows("subjects")]
    # persons reached through an organisation's records are in the comparison too
    persons = {
        p
        for row in ctx.store.state_rows("state_measures")
        for ps in json.loads(row[9]).values()
        for p in ps
    }
    seen = set()
    for sid in [*subjects, *sorted(persons)]:
        one = checks.subject_index(ctx, sid)
        for action in ACTIONS:
            a, b = one.check(sid, action, today), full.check(sid, action, today)
            assert (a.status, a.reasons, a.why) == (b.status, b.reasons, b.why), (sid, action)
            seen.add(a.status)
    assert {"allow", "deny"} <= seen


def test_the_demo_try_lines_are_true(demo_ctx: tuple[Context, Path]) -> None:
    ctx, _ = demo_ctx
    tries = demo.pick_tries(ctx)
    assert tries.denied is not None and tries.profiled is not None
    answer = checks.check_subject(ctx, tries.denied, demo.TRY_ACTION, now(ctx))
    assert answer.decision.status == "deny" and answer.exit_code == 3
    found = profiles.profile(ctx, tries.profiled, now(ctx))
    assert found.profiles and any(p.applicable for p in found.profiles)
    assert found.to_json()["known_at"] and found.to_json()["on"] == ctx.today().isoformat()


def test_a_check_known_at_an_earlier_instant_reads_the_ledger_then(
    demo_ctx: tuple[Context, Path],
) -> None:
    ctx, _ = demo_ctx
    tries = demo.pick_tries(ctx)
    assert tries.denied is not None
    live = checks.check_subject(ctx, tries.denied, demo.TRY_ACTION, now(ctx))
    head = ctx.store.head()
    then = dataclasses.replace(now(ctx), at_us=head.time_us)
    replayed = checks.check_subject(ctx, tries.denied, demo.TRY_ACTION, then)
    assert replayed.decision.status == live.decision.status == "deny"
    before = dataclasses.replace(then, at_us=1)
    assert checks.check_subject(ctx, tries.denied, demo.TRY_ACTION, before).decision.status == (
        "unknown"
    )


def test_errors_carry_their_exit_code_and_status() -> None:
    assert issubclass(NotFound, TrustledgerError) and NotFound.http_status == 404
    assert BadInput.exit_code == 2 and BadInput.http_status == 422
    assert str(NotFound("no such thing")) == "no such thing"


def test_unknown_subjects_and_bad_ids(demo_ctx: tuple[Context, Path]) -> None:
    ctx, _ = demo_ctx
    with pytest.raises(BadInput):
        checks.check_subject(ctx, "not-an-id", "air_travel", now(ctx))
    with pytest.raises(NotFound):
        profiles.profile(ctx, "914403001922038216", now(ctx))


def test_proofs_are_bounded(demo_ctx: tuple[Context, Path]) -> None:
    ctx, _ = demo_ctx
    size = ctx.store.size()
    assert ledger.inclusion(ctx, size - 1)["tree_size"] == size
    assert ledger.inclusion(ctx, 0, 1)["root"] == ledger.consistency(ctx, 1, 1)["old_root"]
    for seq, tree in ((size, None), (-1, None), (5, 3)):
        with pytest.raises(NotFound):
            ledger.inclusion(ctx, seq, tree)
    # a tree size the ledger has not reached (or none at all) names no tree: not found
    for tree in (0, size + 1):
        with pytest.raises(NotFound, match=f"no tree of size {tree}"):
            ledger.inclusion(ctx, 0, tree)
    for old, new in ((0, None), (5, 4), (1, size + 1)):
        with pytest.raises(NotFound, match="no consistency proof"):
            ledger.consistency(ctx, old, new)


def test_persisted_screening_finds_what_the_in_memory_index_finds(
    demo_ctx: tuple[Context, Path],
) -> None:
    ctx, _ = demo_ctx
    rows = [SubjectRow._make(r) for r in ctx.store.iter_rows("subjects")]
    memory = ScreeningIndex.build(rows)
    firms = [r for r in rows if r.kind != "person"][:25]
    for row in firms:
        a = screening.screen(ctx, row.name, limit=3)
        b = memory.screen(row.name, limit=3)
        assert a[0].subject_id == b[0].subject_id == row.id
        assert a[0].score == pytest.approx(b[0].score)
    assert screening.update_index(ctx) == 0  # nothing new since the demo indexed
    with pytest.raises(BadInput):
        screening.screen(ctx, "  ")


def test_ingest_reevaluates_subjects_left_stale_by_a_crash(demo_ctx: tuple[Context, Path]) -> None:
    ctx, work = demo_ctx
    # a run that committed its lines but died before re-evaluating: intake only
    firm = next(
        r
        for r in (SubjectRow._make(x) for x in ctx.store.iter_rows("subjects"))
        if r.kind == "enterprise" and r.id.startswith("91")
    )
    sample = work / "demo" / "records-sample.csv"
    changed = work / "late.jsonl"
    lines = [*authorities(), issue(subject=firm.id, subject_name=firm.name)]
    changed.write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines), "utf-8")
    report = ingest.ingest_one(ctx, ingest.make_intake(ctx), changed, work)
    assert report.counts.rejected == 0, report
    assert checks.subject_index(ctx, firm.id).check(firm.id, "air_travel").status == "unknown"
    # the rerun writes nothing new (all duplicates) yet brings the stale subject up to date
    result = ingest.ingest(ctx, [sample], work)
    assert result.refreshed >= 1
    assert checks.subject_index(ctx, firm.id).check(firm.id, "air_travel").status != "unknown"


def test_time_flags() -> None:
    zone = "Asia/Shanghai"
    assert parse_known_at(None, zone) is None and parse_known_at("now", zone) is None
    end_of_day = parse_known_at("2026-06-01", zone)
    assert end_of_day == parse_known_at("2026-06-01T23:59:59.999999+08:00", zone)
    assert parse_known_at("2026-06-01T00:00", zone) == parse_known_at("2026-05-31T16:00Z", zone)
    assert parse_on(None, date(2026, 1, 2)) == date(2026, 1, 2)
    assert parse_on("2026-06-10", date(2026, 1, 2)) == date(2026, 6, 10)
    for bad in ("yesterday", "2026-13-01"):
        with pytest.raises(BadInput):
            parse_on(bad, date(2026, 1, 2))
        with pytest.raises(BadInput):
            parse_known_at(bad, zone)
    w = when("2026-06-01", "2026-06-10", timezone=zone, now_us=10**18, today=date(2026, 1, 2))
    assert (w.live, w.on, w.to_json()["known_at"]) == (
        False,
        date(2026, 6, 10),
        "2026-06-01T23:59:59.999999+08:00",
    )
    # the ledger knows nothing later than now: a future instant is now
    assert when("2999-01-01", None, timezone=zone, now_us=10**15, today=date(2026, 1, 2)).live


def test_a_fixed_clock() -> None:
    clock = Clock("Asia/Shanghai", fixed_us=0)
    assert clock.now_us() == 0 and clock.today() == date(1970, 1, 1)
