"""The Spark engine end to end: the default demo evaluated on Spark (local[2]) gives the
state DuckDB gives, through evaluate_all and through `trustledger evaluate --engine spark`;
a master that cannot be used is refused by name before anything is staged. (The property
tests that Spark agrees with Python, DuckDB and PostgreSQL are in test_sqlgen.py,
test_evaluate_batch.py and test_evaluate_intervals.py.)"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import pytest
from typer.testing import CliRunner

from trustledger.app import demo
from trustledger.app.context import Context
from trustledger.catalogue import national_catalogue
from trustledger.cli import app
from trustledger.evaluate.batch import load_inputs, sql_timelines
from trustledger.evaluate.profile import compile_rulebook
from trustledger.evaluate.spark import SparkConnection, SparkUnavailable, check_master, session
from trustledger.evaluate.state import evaluate_all, subjects_and_records_as_of
from trustledger.ledger.store import Store
from trustledger.rulebook.publish import regime_versions
from trustledger.settings import Settings

SUBJECTS = 300
runner = CliRunner()


@pytest.fixture(scope="module")
def demo_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    work = tmp_path_factory.mktemp("spark-demo")
    settings = Settings(db_url=f"sqlite:///{work / 'demo.db'}",
                        person_key_file=work / "person.key")  # fmt: skip
    with Context.open(settings, must_exist=False) as ctx:
        demo.run(ctx, directory=work / "demo", subjects=SUBJECTS)
    return settings


def state(store: Store) -> dict[str, list[tuple[object, ...]]]:
    return {t: store.state_rows(t) for t in ("state_profiles", "state_lists", "state_measures")}


def test_the_demo_on_spark_is_the_demo_on_duckdb(demo_settings: Settings) -> None:
    with Context.open(demo_settings) as ctx:
        on = ctx.today()
        by_duckdb = evaluate_all(ctx.store, ctx.catalogue, at_us=None, on=on, engine="duckdb")
        want = state(ctx.store)
        by_spark = evaluate_all(ctx.store, ctx.catalogue, at_us=None, on=on, engine="spark",
                                spark_master="local[2]")  # fmt: skip
        assert state(ctx.store) == want
        assert [asdict(s) for s in by_spark] == [asdict(s) for s in by_duckdb]
        # not an empty agreement: the demo lists subjects, with runs and measures
        assert len(want["state_profiles"]) >= SUBJECTS
        assert want["state_lists"] and want["state_measures"]
        assert ctx.store.interrupted_state_rebuild() is None


def test_evaluate_engine_spark_on_the_command_line(
    demo_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRUSTLEDGER_DB", demo_settings.db_url)
    monkeypatch.setenv("TRUSTLEDGER_PERSON_KEY_FILE", str(demo_settings.person_key_file))
    duck = runner.invoke(app, ["evaluate", "--engine", "duckdb", "--json"])
    assert duck.exit_code == 0, duck.output
    with Context.open(demo_settings) as ctx:
        want = state(ctx.store)
    spark = runner.invoke(app, ["evaluate", "--engine", "spark", "--master", "local[2]", "--json"])
    assert spark.exit_code == 0, spark.output
    assert json.loads(spark.stdout)["rulebooks"] == json.loads(duck.stdout)["rulebooks"]
    with Context.open(demo_settings) as ctx:
        assert state(ctx.store) == want


def test_the_master_is_a_setting() -> None:
    assert Settings.from_env({}).spark_master == "local[2]"
    master = "spark://10.0.0.5:7077,10.0.0.6:7077"
    assert Settings.from_env({"TRUSTLEDGER_SPARK_MASTER": master}).spark_master == master


@pytest.mark.parametrize(
    ("master", "message"),
    [
        ("bogus", "invalid Spark master URL 'bogus'"),
        ("local[two]", "invalid Spark master URL 'local\\[two\\]'"),
        ("spark://", "invalid Spark master URL 'spark://'"),
        ("sc://localhost:15002", "invalid Spark master URL 'sc://localhost:15002'"),
        # a port nothing listens on: refused at once, not after Spark's minute of retries
        ("spark://127.0.0.1:1", "cannot reach the Spark master 'spark://127.0.0.1:1'"),
    ],
)
def test_a_bad_master_is_refused_and_nothing_is_staged(
    demo_settings: Settings, monkeypatch: pytest.MonkeyPatch, master: str, message: str
) -> None:
    with pytest.raises(SparkUnavailable, match=message):
        check_master(master)
    monkeypatch.setenv("TRUSTLEDGER_DB", demo_settings.db_url)
    monkeypatch.setenv("TRUSTLEDGER_PERSON_KEY_FILE", str(demo_settings.person_key_file))
    with Context.open(demo_settings) as ctx:
        before = state(ctx.store)
        assert ctx.store.interrupted_state_rebuild() is None
    result = runner.invoke(app, ["evaluate", "--engine", "spark", "--master", master])
    assert result.exit_code == 2, result.output
    assert master in result.output.replace("\n", "")
    # the refusal alone: no progress bar was drawn for rulebooks never begun
    assert "rulebooks" not in result.output, result.output
    with Context.open(demo_settings) as ctx:
        assert state(ctx.store) == before
        # no rebuild was begun, so the next run has nothing to report as interrupted
        assert ctx.store.interrupted_state_rebuild() is None
        with pytest.raises(SparkUnavailable, match="Spark master"):
            evaluate_all(ctx.store, ctx.catalogue, at_us=None, on=ctx.today(), engine="spark",
                         spark_master=master)  # fmt: skip
        assert state(ctx.store) == before


def test_a_master_without_the_spark_engine_is_refused(
    demo_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRUSTLEDGER_DB", demo_settings.db_url)
    monkeypatch.setenv("TRUSTLEDGER_PERSON_KEY_FILE", str(demo_settings.person_key_file))
    result = runner.invoke(app, ["evaluate", "--engine", "duckdb", "--master", "local[2]"])
    assert result.exit_code == 2, result.output
    assert "--master local[2] is for --engine spark only" in result.output.replace("\n", "")
    with Context.open(demo_settings) as ctx, pytest.raises(ValueError, match="spark engine only"):
        evaluate_all(ctx.store, ctx.catalogue, at_us=None, on=ctx.today(), engine="duckdb",
                     spark_master="local[2]")  # fmt: skip
    with Context.open(demo_settings) as ctx, pytest.raises(ValueError, match="unknown engine"):
        evaluate_all(ctx.store, ctx.catalogue, at_us=None, on=ctx.today(),
                     engine="sqlite")  # type: ignore[arg-type]  # fmt: skip


def test_inputs_sent_as_arrow_batches_give_the_same_answers(demo_settings: Settings) -> None:
    """On a cluster the inputs go from the driver as Arrow batches (a local Parquet file is
    not visible to remote executors): the same timelines as through Parquet."""
    with Context.open(demo_settings) as ctx:
        subjects, records, _ = subjects_and_records_as_of(ctx.store, None)
        (rid, versions), *_ = sorted(regime_versions(ctx.store, None).items())
        cr = compile_rulebook(versions[-1], national_catalogue(), versions)
        on = ctx.today()
    found = []
    for stage_parquet in (True, False):
        con = SparkConnection(session("local[2]"), stage_parquet=stage_parquet)
        try:
            load_inputs(con, subjects, records)
            found.append(sql_timelines(con, cr, on))
        finally:
            con.close()
    assert found[0] == found[1] and found[0], rid


def test_the_staging_directory_goes_with_the_connection(tmp_path: Path) -> None:
    con = SparkConnection(session("local[2]"), stage_parquet=True)
    con.load("numbers", {"n": "BIGINT", "d": "DATE"}, [(1, "2024-02-29"), (None, None)])
    assert con.execute("SELECT n, d FROM numbers ORDER BY n").fetchall()[1][0] == 1
    staging = con._staging
    assert staging is not None and any(staging.iterdir())
    con.close()
    assert not staging.exists()
    with pytest.raises(ValueError, match="no Spark input column type"):
        con.load("bad", {"x": "BLOB"}, [])
