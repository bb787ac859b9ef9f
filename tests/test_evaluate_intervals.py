"""The stored runs are the truth on every day: for random rulebooks (whose conditions read
time through windows, ages and days_since) and random records, membership judged directly
on each day of a range equals membership read from the runs; and the SQL engines find the
same runs as Python (DESIGN.md "Time"): DuckDB, PostgreSQL and Spark."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date, timedelta
from typing import Any

import duckdb
import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trustledger.catalogue import national_catalogue
from trustledger.evaluate.batch import load_inputs, sql_runs
from trustledger.evaluate.inforce import Standing, publicity_ends, standing_until
from trustledger.evaluate.profile import CompiledRulebook, compile_rulebook, evaluate_subject
from trustledger.evaluate.spark import SparkConnection
from trustledger.ledger.projection import RecordRow, SubjectRow
from trustledger.rulebook.lint import lint_rulebook
from trustledger.rulebook.pyeval import RecordFacts, SubjectFacts, compile_condition
from trustledger.rulebook.schema import BandedScore, GradesScore, Rulebook
from trustledger.rulebook.timeline import time_problems, window_exit

ON = date(2025, 3, 31)
CODES = ["MKT-PENALTY-GENERAL", "MKT-PENALTY-SERIOUS", "TAX-PENALTY-GENERAL",
         "HON-COMMENDATION", "ENV-MAJOR-INCIDENT"]  # fmt: skip
BASIS = [{"instrument": "test basis"}]
# a range wide enough for every record's life and every threshold the conditions use
FIRST, LAST = ON - timedelta(days=1400), ON + timedelta(days=1500)

durations = st.sampled_from(["30d", "1m", "3m", "6m", "1y", "2y", "13m"])
# no fixed term (a law giving none, SPC ground 1) and either clock (NDRC Order No. 36 counts
# from the decision, SAMR Order No. 45 from publication)
maxima = st.one_of(durations, st.none())
clocks = st.sampled_from([None, "decision", "publication"])
codes = st.sampled_from(CODES)
atoms = st.one_of(
    st.builds(lambda c, w, k: f"count(category == '{c}', within='{w}') >= {k}",
              codes, durations, st.integers(1, 2)),
    st.builds(lambda c, a: f"count(category == '{c}' and age >= {a}) >= 1",
              codes, st.sampled_from([0, 1, 30, 365, 366, 400, 1096])),
    st.builds(lambda a, k: f"count(age < {a}) >= {k}", st.integers(0, 800), st.integers(1, 2)),
    st.builds(lambda a, b: f"count(age in [{a}, {b}]) >= 1", st.integers(0, 400),
              st.integers(0, 400)),
    st.builds(lambda k: f"days_since(polarity == 'negative') < {k}", st.integers(0, 400)),
    st.builds(lambda c, k: f"days_since(category == '{c}' and age > 10) >= {k}", codes,
              st.integers(0, 500)),
    st.builds(lambda k: f"sum(points) < -{k}", st.integers(0, 60)),
    st.builds(lambda k: f"score <= {k}", st.integers(900, 1010)),
    st.builds(lambda g: f"grade == '{g}'", st.sampled_from(["A", "B", "C", "red"])),
    st.builds(lambda w: f"count(polarity == 'positive', within='{w}') == 0", durations),
)  # fmt: skip
conditions = st.one_of(
    atoms,
    st.builds(lambda a, b, op: f"({a}) {op} ({b})", atoms, atoms, st.sampled_from(["and", "or"])),
    atoms.map(lambda a: f"not ({a})"),
)


@st.composite
def rulebooks(draw: Any) -> Rulebook:
    treatments = [
        {"select": {"codes": [code]}, "points": draw(st.sampled_from([-50, -10, 5, 20])),
         "tier": draw(st.sampled_from([None, "general", "serious"])),
         "publicity": {"min": "1d", "max": draw(maxima)}, "publicity_override": BASIS[0],
         "publicity_from": draw(clocks), "legal_basis": BASIS}
        for code in draw(st.lists(codes, min_size=1, max_size=5, unique=True))
    ]  # fmt: skip
    form = draw(st.sampled_from(["none", "points", "grades"]))
    score: dict[str, Any] = {"form": form}
    if form == "points":
        score |= {"base": 1000, "floor": draw(st.sampled_from([None, 900])),
                  "bands": [{"grade": "A", "min": 1000}, {"grade": "B", "min": 960},
                            {"grade": "C", "min": None}]}  # fmt: skip
    else:
        for t in treatments:
            t["points"] = 0
    if form == "grades":
        rules = draw(st.lists(atoms.filter(lambda c: "grade" not in c and "score" not in c),
                              min_size=1, max_size=2))  # fmt: skip
        score["rules"] = [{"grade": g, "when": w} for g, w in zip(["red", "A"], rules,
                                                                   strict=False)]  # fmt: skip
        score["rules"].append({"grade": "B", "when": "true"})
    whens = draw(st.lists(conditions, min_size=1, max_size=3))
    if form == "grades":
        whens = [w for w in whens if "score" not in w] or ["grade == 'red'"]
    lists = [
        {"id": f"list-{i}", "kind": "black", "title": f"list {i}", "when": when,
         "removal": "when the condition stops holding", "legal_basis": BASIS}
        for i, when in enumerate(whens)
    ]  # fmt: skip
    return Rulebook.model_validate({
        "id": "random", "version": "1", "title": "random", "authority": "test",
        "legal_basis": BASIS, "sources": ["generated"],
        "publicity_from": draw(clocks.filter(bool)),
        "effective": {"from": (ON - timedelta(days=1200)).isoformat()},
        "subject_kinds": ["enterprise"], "treatments": treatments, "score": score,
        "lists": lists,
    })  # fmt: skip


@st.composite
def records(draw: Any, subject_id: str) -> list[RecordRow]:
    out = []
    for n in range(draw(st.integers(0, 6))):
        # month ends and a leap day among them: where windows and publicity clamp
        published = draw(st.one_of(
            st.integers(-1300, 0).map(lambda d: ON + timedelta(days=d)),
            st.sampled_from([date(2024, 2, 29), date(2023, 1, 31), date(2022, 3, 31)]),
        ))  # fmt: skip
        # decided on the day of publication or before it, a window's length before at most
        decided = published - timedelta(days=draw(st.sampled_from([0, 0, 1, 20, 95, 400])))
        status = draw(st.sampled_from(["issued", "issued", "corrected", "ended", "revoked"]))
        status_date = None
        if status in ("ended", "revoked"):
            status_date = (published + timedelta(days=draw(st.integers(0, 900)))).isoformat()
        out.append(RecordRow(
            f"R{subject_id[-4:]}{n:020x}", subject_id, "11440305000000010X",
            draw(st.sampled_from([*CODES, "CUS-PENALTY-GENERAL"])),
            draw(st.sampled_from(["minor", "general", "serious"])), "administrative_penalty",
            f"doc-{n}", decided.isoformat(), published.isoformat(), None, None, None,
            status, status_date, None, n, n,
        ))  # fmt: skip
    return out


SUBJECTS = [
    SubjectRow(f"914403000000000{i:03d}", "enterprise", f"s{i}", "440305", "[]", "[]", None,
               None, 0, 0)
    for i in range(4)
]  # fmt: skip


def _holds_directly(cr: CompiledRulebook, records: Sequence[RecordRow], day: date) -> list[bool]:
    """Each list's condition on ``day``, from the rules alone: no change days, no runs."""
    rb = cr.rulebook
    facts = []
    for r in records:
        treatment, category = cr.treatment_of.get(r.category), cr.categories.get(r.category)
        if treatment is None or category is None:
            continue
        end = publicity_ends(r, treatment.publicity.max, rb.clock_of(treatment))
        if standing_until(r, day, end) != Standing.IN_FORCE:
            continue
        facts.append(RecordFacts(r.category, category.domain.value, treatment.tier or r.tier,
                                 category.polarity.value, r.decision_type, treatment.points,
                                 date.fromisoformat(r.publication_date)))  # fmt: skip
    score, grade = 0, ""
    if isinstance(rb.score, BandedScore):
        score = rb.score.base + sum(f.points for f in facts)
        if rb.score.floor is not None:
            score = max(score, rb.score.floor)
        grade = next(b.grade for b in rb.score.bands if b.min is None or score >= b.min)
    elif isinstance(rb.score, GradesScore):
        plain = SubjectFacts(0, "", "enterprise", "440305")
        grade = next(
            (g.grade for g in rb.score.rules if compile_condition(g.when.tree)(plain, facts, day)),
            "",
        )
    subject = SubjectFacts(score, grade, "enterprise", "440305")
    return [compile_condition(spec.when.tree)(subject, facts, day) for spec in rb.lists]


def _python_runs(cr: CompiledRulebook, recs: dict[str, list[RecordRow]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for subject in SUBJECTS:
        p = evaluate_subject(cr, subject, recs[subject.id], ON)
        runs: dict[str, list[tuple[str, str | None]]] = {}
        for m in p.history:
            runs.setdefault(m.list_id, []).append((m.since, m.until))
        if runs:
            out[subject.id] = runs
    return out


def _linted(rb: Rulebook) -> CompiledRulebook:
    problems = [p for p in lint_rulebook(rb, national_catalogue()) if "when" in p.loc]
    assert not problems, problems
    return compile_rulebook(rb, national_catalogue())


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rb=rulebooks(), data=st.data())
def test_runs_equal_membership_judged_on_every_day(rb: Rulebook, data: st.DataObject) -> None:
    cr = _linted(rb)
    recs = {s.id: data.draw(records(s.id)) for s in SUBJECTS}
    runs = _python_runs(cr, recs)
    for subject in SUBJECTS:
        mine = runs.get(subject.id, {})
        for spans in mine.values():
            # runs are maximal: ordered, non-empty, never touching
            for (since, until), nxt in zip(spans, [*spans[1:], None], strict=True):
                assert until is None or since < until
                assert nxt is None or (until is not None and until < nxt[0])
        day = FIRST
        while day <= LAST:
            direct = _holds_directly(cr, recs[subject.id], day)
            iso = day.isoformat()
            for spec, holds in zip(cr.rulebook.lists, direct, strict=True):
                in_run = any(s <= iso and (u is None or iso < u) for s, u in mine.get(spec.id, []))
                assert in_run == (holds and day >= cr.rulebook.effective.from_), (
                    spec.id, spec.when.text, iso, mine.get(spec.id), recs[subject.id]
                )  # fmt: skip
            day += timedelta(days=1)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rb=rulebooks(), data=st.data())
def test_duckdb_finds_the_same_runs(rb: Rulebook, data: st.DataObject) -> None:
    cr = _linted(rb)
    recs = {s.id: data.draw(records(s.id)) for s in SUBJECTS}
    con = duckdb.connect()
    load_inputs(con, SUBJECTS, [r for rs in recs.values() for r in rs])
    assert sql_runs(con, cr) == _python_runs(cr, recs)


@pytest.mark.postgres
@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(rb=rulebooks(), data=st.data())
def test_postgres_finds_the_same_runs(pg_url: str, rb: Rulebook, data: st.DataObject) -> None:
    cr = _linted(rb)
    recs = {s.id: data.draw(records(s.id)) for s in SUBJECTS}
    with psycopg.connect(pg_url, autocommit=True) as con:
        load_inputs(con, SUBJECTS, [r for rs in recs.values() for r in rs])
        found = sql_runs(con, cr)
    assert found == _python_runs(cr, recs)


@pytest.fixture(scope="module")
def spark() -> Iterator[SparkConnection]:
    # one Spark session per test process (evaluate/spark.py shares it)
    con = SparkConnection.open("local[2]")
    yield con
    con.close()


# a sweep or a grid is a dozen Spark jobs (a few seconds an example): 25 examples, not 80
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rb=rulebooks(), data=st.data())
def test_spark_finds_the_same_runs(
    spark: SparkConnection, rb: Rulebook, data: st.DataObject
) -> None:
    cr = _linted(rb)
    recs = {s.id: data.draw(records(s.id)) for s in SUBJECTS}
    load_inputs(spark, SUBJECTS, [r for rs in recs.values() for r in rs])
    assert sql_runs(spark, cr) == _python_runs(cr, recs)


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("count(age >= 1096) >= 1", True),
        ("days_since(tier == 'serious') < 365", True),
        ("count(age in [30, 60]) >= 1", True),
        ("count(1096 <= age) >= 1", True),
        ("count(age >= 365 * 3) >= 1", True),
        ("count(age * 2 >= 10) >= 1", False),
        ("days_since() - score > 0", False),
        ("count(age >= points) >= 1", False),
        ("days_since() > days_since(tier == 'serious')", False),
    ],
)
def test_time_terms_must_be_compared_with_a_number(text: str, ok: bool) -> None:
    from trustledger.rulebook.condition import parse_condition

    problems = time_problems(parse_condition(text, scope="list").root)
    assert (not problems) == ok, problems
    if not ok:
        assert "compared straight with a number" in problems[0]


def test_window_exit_is_the_first_day_out_of_the_window() -> None:
    from trustledger.rulebook.durations import parse_duration

    for text in ("1m", "1y", "13m", "30d"):
        window = parse_duration(text)
        for published in (date(2024, 2, 29), date(2024, 1, 31), date(2023, 3, 31)):
            exit_day = window_exit(window, published)
            assert window.before(exit_day) > published
            assert window.before(exit_day - timedelta(days=1)) <= published
