"""The SQL compiler of conditions: worked examples and agreement with pyeval, on DuckDB, on
PostgreSQL and on Spark, for every subject at once."""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, TypeAlias, get_args

import duckdb
import psycopg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyspark.errors import ArithmeticException as SparkArithmeticException
from test_condition import VOCABULARY, exprs

from trustledger.evaluate.spark import SparkConnection
from trustledger.rulebook.condition import (
    Aggregate,
    Arith,
    BoolLit,
    Compare,
    Condition,
    Expr,
    InList,
    IntLit,
    Logic,
    Name,
    Neg,
    Not,
    TextLit,
    parse_condition,
)
from trustledger.rulebook.durations import Duration, parse_duration
from trustledger.rulebook.pyeval import (
    NO_RECORD_DAYS,
    RecordFacts,
    SubjectFacts,
    Value,
    compile_condition,
)
from trustledger.rulebook.sqlgen import (
    INT64_MAX,
    INT64_MIN,
    Dialect,
    compile_sql,
    compile_sql_many,
    shift_date,
)

# Column types are the compiler's contract; NOT NULL is the caller's promise it relies on.
SUBJECTS_DDL = (
    "CREATE TABLE subjects (subject_id TEXT NOT NULL, score BIGINT NOT NULL,"
    " grade TEXT{collate} NOT NULL, kind TEXT NOT NULL, division TEXT NOT NULL)"
)
FACTS_DDL = (
    "CREATE TABLE facts (subject_id TEXT NOT NULL, category TEXT NOT NULL, domain TEXT NOT NULL,"
    " tier TEXT NOT NULL, polarity TEXT NOT NULL, decision_type TEXT NOT NULL,"
    " points BIGINT NOT NULL, published DATE NOT NULL)"
)

Population: TypeAlias = Mapping[str, tuple[SubjectFacts, Sequence[RecordFacts]]]
Rows: TypeAlias = dict[str, tuple[Value, ...]]


class Engine(ABC):
    """One database holding `subjects` and `facts`, refilled per population."""

    def __init__(self, dialect: Dialect, execute: Callable[[str], list[tuple[Any, ...]]]) -> None:
        self.dialect: Dialect = dialect
        self._execute = execute

    @abstractmethod
    def load(self, population: Population) -> None: ...

    def run(self, sql: str) -> Rows:
        return {row[0]: tuple(row[1:]) for row in self._execute(sql)}

    def evaluate(self, conds: Mapping[str, Condition], at: date) -> Rows:
        return self.run(compile_sql_many(conds, self.dialect, at))


def _rows(population: Population) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    subjects = [(sid, *subject) for sid, (subject, _) in population.items()]
    facts = [(sid, *r) for sid, (_, records) in population.items() for r in records]
    return subjects, facts


class DuckEngine(Engine):
    def __init__(self, conn: duckdb.DuckDBPyConnection) -> None:
        super().__init__("duckdb", lambda sql: conn.execute(sql).fetchall())
        self.conn = conn

    def load(self, population: Population) -> None:
        subjects, facts = _rows(population)
        self.conn.execute("DELETE FROM subjects")
        self.conn.execute("DELETE FROM facts")
        if subjects:
            self.conn.executemany("INSERT INTO subjects VALUES (?, ?, ?, ?, ?)", subjects)
        if facts:
            self.conn.executemany("INSERT INTO facts VALUES (?, ?, ?, ?, ?, ?, ?, ?)", facts)


class PgEngine(Engine):
    def __init__(self, conn: psycopg.Connection[tuple[Any, ...]]) -> None:
        super().__init__("postgres", lambda sql: conn.execute(sql.encode()).fetchall())
        self.conn = conn

    def load(self, population: Population) -> None:
        subjects, facts = _rows(population)
        with self.conn.cursor() as cur:
            cur.execute("TRUNCATE subjects, facts")
            cur.executemany("INSERT INTO subjects VALUES (%s, %s, %s, %s, %s)", subjects)
            cur.executemany("INSERT INTO facts VALUES (%s, %s, %s, %s, %s, %s, %s, %s)", facts)


SPARK_SUBJECTS = {"subject_id": "VARCHAR", "score": "BIGINT", "grade": "VARCHAR",
                  "kind": "VARCHAR", "division": "VARCHAR"}  # fmt: skip
SPARK_FACTS = {"subject_id": "VARCHAR", "category": "VARCHAR", "domain": "VARCHAR",
               "tier": "VARCHAR", "polarity": "VARCHAR", "decision_type": "VARCHAR",
               "points": "BIGINT", "published": "DATE"}  # fmt: skip


class SparkEngine(Engine):
    def __init__(self, conn: SparkConnection) -> None:
        super().__init__("spark", lambda sql: conn.execute(sql).fetchall())
        self.conn = conn

    def load(self, population: Population) -> None:
        subjects, facts = _rows(population)
        self.conn.load("subjects", SPARK_SUBJECTS, subjects)
        self.conn.load("facts", SPARK_FACTS, facts)


def duck_engine(collate: str = "") -> DuckEngine:
    conn = duckdb.connect()
    conn.execute(SUBJECTS_DDL.format(collate=collate))
    conn.execute(FACTS_DDL)
    return DuckEngine(conn)


@pytest.fixture
def duck() -> Iterator[DuckEngine]:
    engine = duck_engine()
    yield engine
    engine.conn.close()


@pytest.fixture
def pg_conn(pg_url: str) -> Iterator[psycopg.Connection[tuple[Any, ...]]]:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        yield conn


@pytest.fixture
def pg(pg_conn: psycopg.Connection[tuple[Any, ...]]) -> PgEngine:
    pg_conn.execute(SUBJECTS_DDL.format(collate="").encode())
    pg_conn.execute(FACTS_DDL.encode())
    return PgEngine(pg_conn)


@pytest.fixture(scope="module")
def spark() -> Iterator[SparkEngine]:
    # one Spark session per test process (evaluate/spark.py shares it), slow to start
    conn = SparkConnection.open("local[2]")
    yield SparkEngine(conn)
    conn.close()


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres), "spark"])
def engine(request: pytest.FixtureRequest) -> Engine:
    fixture = {"duckdb": "duck", "postgres": "pg", "spark": "spark"}[request.param]
    found: Engine = request.getfixturevalue(fixture)
    return found


def expected(conds: Mapping[str, Condition], population: Population, at: date) -> Rows:
    evaluators = [compile_condition(c) for c in conds.values()]
    return {
        sid: tuple(ev(subject, records, at) for ev in evaluators)
        for sid, (subject, records) in population.items()
    }


def typed(rows: Rows) -> dict[str, tuple[tuple[type, Value], ...]]:
    # True == 1 in Python: compare types too, so a BOOLEAN column cannot pass for a BIGINT.
    return {sid: tuple((type(v), v) for v in values) for sid, values in rows.items()}


# ── worked examples ──────────────────────────────────────────────────────────────────────

T = date(2024, 2, 29)


def rec(
    published: date,
    *,
    category: str = "TAX-ARREARS",
    domain: str = "tax",
    tier: str = "general",
    polarity: str = "negative",
    points: int = -10,
) -> RecordFacts:
    return RecordFacts(
        category, domain, tier, polarity, "administrative_penalty", points, published
    )


POPULATION: Population = {
    "firm": (
        SubjectFacts(980, "A", "enterprise", "371082"),
        [
            # 2024-02-29 minus 1y is 2023-02-28: on the edge of a one-year window.
            rec(
                date(2023, 2, 28),
                category="ENV-MAJOR",
                domain="environment",
                tier="serious",
                points=-50,
            ),
            rec(date(2023, 2, 27)),
            rec(
                date(2024, 1, 31), category="HONOUR", domain="market", polarity="positive", points=5
            ),
        ],
    ),
    "clean": (SubjectFacts(1000, "AA", "enterprise", "371082"), []),
    "shop": (
        SubjectFacts(-7, "B", "individual_business", ""),
        [rec(T, points=0)],
    ),
}
ORDER = ("firm", "clean", "shop")


def int_condition(expr: str) -> Condition:
    """An int expression as a condition of its own (the compilers take any tree)."""
    root = parse_condition(f"({expr}) == 0").root
    assert isinstance(root, Compare)
    return Condition(root.left, expr)


@pytest.mark.parametrize(
    ("expr", "values"),
    [
        ("count(within='1y')", (2, 0, 1)),
        ("count(within='1m')", (1, 0, 1)),  # 2024-01-29 onwards
        ("count(within='999999999y')", (3, 0, 1)),  # the window starts at date.min
        ("sum(points)", (-55, 0, 0)),
        ("max(points, polarity == 'negative')", (-10, 0, 0)),
        ("min(points, tier == 'serious')", (-50, 0, 0)),
        ("min(points, tier == 'none')", (0, 0, 0)),
        ("days_since(polarity == 'negative')", (366, NO_RECORD_DAYS, 0)),
        ("days_since()", (29, NO_RECORD_DAYS, 0)),
        ("count(age > 365)", (2, 0, 0)),
        ("count(age == 366)", (1, 0, 0)),
        ("score / -3", (-326, -333, 2)),  # floor division would give -327, -334, 2
        ("-score / 2", (-490, -500, 3)),
        ("score / (score - score)", (0, 0, 0)),
        ("score * 3 - 7 / 2", (2937, 2997, -24)),
        ("sum(points, points / 0 == 0)", (-55, 0, 0)),
        ("count(points / 3 == -3)", (1, 0, 0)),  # -10 / 3 truncates to -3
        ("count(points / -3 == -1)", (1, 0, 0)),  # 5 / -3 truncates to -1
        ("- -score", (980, 1000, -7)),
    ],
)
def test_int_values(engine: Engine, expr: str, values: tuple[int, ...]) -> None:
    engine.load(POPULATION)
    conds = {"v": int_condition(expr)}
    got = engine.evaluate(conds, T)
    assert typed(got) == typed(expected(conds, POPULATION, T))
    assert tuple(got[sid][0] for sid in ORDER) == values


@pytest.mark.parametrize(
    ("text", "values"),
    [
        # Code-point order: every upper-case letter sorts before every lower-case one.
        ("grade < 'a'", (True, True, True)),
        ("grade > 'AAA'", (False, False, True)),
        ("grade < 'É' and 'é' > 'z'", (True, True, True)),
        ("division == ''", (False, False, True)),
        ("kind in ['enterprise', 'person']", (True, True, False)),
        ("kind not in ['enterprise']", (False, False, True)),
        ("grade in []", (False, False, False)),
        ("grade not in []", (True, True, True)),
        ("(score > 0) in [true]", (True, True, False)),
        ("(score > 0) == (count() == 0)", (False, True, True)),
        ("not count() > 0 or sum(points) < -50", (True, True, False)),
        (
            "count(tier == 'serious' and polarity == 'negative', within='1y') >= 1"
            " and sum(points, domain in ['tax', 'environment'], within='18m') < -30",
            (True, False, False),
        ),
    ],
)
def test_bool_values(engine: Engine, text: str, values: tuple[bool, ...]) -> None:
    engine.load(POPULATION)
    conds = {"v": parse_condition(text)}
    got = engine.evaluate(conds, T)
    assert typed(got) == typed(expected(conds, POPULATION, T))
    assert tuple(got[sid][0] for sid in ORDER) == values


def test_compile_sql_yields_subject_id_and_value(engine: Engine) -> None:
    engine.load(POPULATION)
    sql = compile_sql(parse_condition("sum(points) < 0"), engine.dialect, T)
    assert engine.run(sql) == {"firm": (True,), "clean": (False,), "shop": (False,)}
    text = Condition(Name("grade"), "grade")
    assert engine.run(compile_sql(text, engine.dialect, T)) == {
        "firm": ("A",),
        "clean": ("AA",),
        "shop": ("B",),
    }


def test_many_conditions_in_one_pass(engine: Engine) -> None:
    engine.load(POPULATION)
    conds = {
        "serious": parse_condition("count(tier == 'serious') >= 1"),
        "total": int_condition("sum(points) + count(tier == 'serious')"),
        "grade": Condition(Name("grade"), "grade"),
        "first_2": parse_condition("count(tier == 'serious') >= 1 and score > 0"),
    }
    sql = compile_sql_many(conds, engine.dialect, T)
    # The shared aggregate is computed once.
    assert sql.count("count(*) FILTER") == 1
    got = engine.run(sql)
    assert got == expected(conds, POPULATION, T)
    assert got["firm"] == (True, -54, "A", True)
    assert got["clean"] == (False, 0, "AA", False)


def test_many_without_aggregates_or_subjects(engine: Engine) -> None:
    engine.load({})
    assert engine.evaluate({"v": parse_condition("score > 0")}, T) == {}
    engine.load(POPULATION)
    assert engine.evaluate({}, T) == {"firm": (), "clean": (), "shop": ()}


@pytest.mark.parametrize(
    "name", ["", "Serious", "serious-dishonest", 'a"b', "a b", "subject_id", "x" * 64, "é"]
)
def test_column_names_are_checked(name: str) -> None:
    with pytest.raises(ValueError, match="invalid column name"):
        compile_sql_many({name: parse_condition("true")}, "duckdb", T)


def test_refusals() -> None:
    with pytest.raises(ValueError, match="filter condition"):
        compile_sql(parse_condition("tier == 'serious'", "filter"), "duckdb", T)
    with pytest.raises(ValueError, match="'tier' is not valid at the top level"):
        compile_sql(Condition(Compare("==", Name("tier"), TextLit("x")), "x"), "duckdb", T)
    with pytest.raises(ValueError, match="'score' is not valid inside a filter"):
        tree = Compare(">", Aggregate("count", Compare(">", Name("score"), IntLit(0))), IntLit(0))
        compile_sql(Condition(tree, "x"), "duckdb", T)
    # the parser refuses such a number; the compiler still guards trees built without it
    beyond = Condition(Compare("<", Name("score"), IntLit(INT64_MAX + 1)), "x")
    with pytest.raises(ValueError, match="outside the 64-bit range"):
        compile_sql(beyond, "postgres", T)
    with pytest.raises(ValueError, match="unknown SQL dialect"):
        compile_sql(parse_condition("true"), "sqlite", T)  # type: ignore[arg-type]
    nul = Condition(Compare("<", Name("grade"), TextLit("A\x00")), "x")
    with pytest.raises(ValueError, match="U\\+0000"):
        compile_sql(nul, "postgres", T)


def test_duckdb_keeps_nul_in_text(duck: DuckEngine) -> None:
    duck.load(POPULATION)
    nul = Condition(Compare("<", Name("grade"), TextLit("A\x00")), "x")
    assert duck.run(compile_sql(nul, "duckdb", T)) == {
        "firm": (True,),
        "clean": (False,),
        "shop": (False,),
    }


# Trees built by hand from here: the parser refuses arithmetic that can leave 64 bits
# (test_condition), and these show what the engines do with such a tree regardless.


def test_int64_bounds(engine: Engine) -> None:
    engine.load(POPULATION)
    edge = Condition(Arith("+", Arith("-", Name("score"), Name("score")), IntLit(INT64_MAX)), "x")
    assert engine.evaluate({"v": edge}, T)["firm"] == (INT64_MAX,)
    lowest = Condition(Arith("-", Neg(IntLit(INT64_MAX)), IntLit(1)), "x")
    assert engine.evaluate({"v": lowest}, T)["firm"] == (INT64_MIN,)


@pytest.mark.parametrize(
    "tree",
    [
        Arith("+", IntLit(INT64_MAX), Name("score")),
        Arith("+", Arith("*", IntLit(99999999999), IntLit(99999999999)), Name("score")),
    ],
)
def test_overflow_is_an_error_not_a_wrong_value(engine: Engine, tree: Expr) -> None:
    engine.load(POPULATION)
    with pytest.raises(
        (
            duckdb.OutOfRangeException,
            psycopg.errors.NumericValueOutOfRange,
            SparkArithmeticException,
        )
    ):
        engine.evaluate({"v": Condition(tree, "x")}, T)


def test_text_order_ignores_the_default_collation_in_duckdb() -> None:
    engine = duck_engine()
    engine.conn.execute("SET default_collation = 'nocase'")
    engine.load(POPULATION)
    conds = {
        "lt": parse_condition("grade < 'a'"),
        "eq": parse_condition("grade == 'a'"),
        "in": parse_condition("grade in ['a', 'aa']"),
    }
    assert engine.evaluate(conds, T) == {sid: (True, False, False) for sid in ORDER}


@pytest.mark.postgres
def test_text_order_ignores_the_column_collation_in_postgres(
    pg_conn: psycopg.Connection[tuple[Any, ...]],
) -> None:
    # ICU's root collation sorts "B" after "a"; the condition language does not.
    pg_conn.execute(SUBJECTS_DDL.format(collate=' COLLATE "und-x-icu"').encode())
    pg_conn.execute(FACTS_DDL.encode())
    engine = PgEngine(pg_conn)
    engine.load(POPULATION)
    assert engine.run("SELECT subject_id, grade < 'a' FROM subjects")["shop"] == (False,)
    conds = {"lt": parse_condition("grade < 'a'"), "gt": parse_condition("'a' > grade")}
    assert engine.evaluate(conds, T) == {sid: (True, True) for sid in ORDER}


# Quotes of both kinds, statement separators and comment starters: each must stay inside
# its literal and compare as the text it is.
HOSTILE = [
    "'",
    "''",
    '"',
    "O'Brien",
    "x'; DROP TABLE subjects; --",
    "'); DELETE FROM facts; --",
    '" OR 1=1 --',
    "--",
    "/* not a comment */",
    "$$; SELECT 1; $$",
    "A' OR 'a' = 'a",
]


def test_injection(engine: Engine) -> None:
    population: Population = {
        f"s{i}": (SubjectFacts(i, value, "enterprise", ""), [rec(T, tier=value)])
        for i, value in enumerate(HOSTILE)
    }
    engine.load(population)
    conds: dict[str, Condition] = {}
    for i, value in enumerate(HOSTILE):
        literal = "'" + value.replace("'", "\\'") + "'"
        cond = parse_condition(f"grade == {literal} and count(tier == {literal}) == 1")
        assert isinstance(cond.root, Logic) and cond.root.left == Compare(
            "==", Name("grade"), TextLit(value)
        )
        conds[f"c{i}"] = cond
    conds["order"] = parse_condition(f'grade in {_list(HOSTILE)} and grade < "x\'; --"')
    got = engine.evaluate(conds, T)
    assert got == expected(conds, population, T)
    for i in range(len(HOSTILE)):
        assert got[f"s{i}"][:-1] == tuple(j == i for j in range(len(HOSTILE)))
    # The tables are intact.
    assert len(engine.run("SELECT subject_id FROM subjects")) == len(HOSTILE)
    assert len(engine.run("SELECT subject_id FROM facts")) == len(HOSTILE)


def _list(values: Sequence[str]) -> str:
    return "[" + ", ".join("'" + v.replace("'", "\\'") + "'" for v in values) + "]"


def test_spark_literals_are_read_as_written(spark: SparkEngine) -> None:
    # Spark reads backslash escapes and `${…}` substitutions in SQL text, and joins
    # adjacent literals: none of them may change what a literal holds
    values = ["${spark.app.name}", "$${x}", "\\u0041", "a\\", "\\'", "''", "'a''b'",
              "\x00", "nul\x00in", "😀", "é\U0010ffff", "\n\t", "`", "x` --"]  # fmt: skip
    population: Population = {
        f"s{i}": (SubjectFacts(i, value, "enterprise", ""), []) for i, value in enumerate(values)
    }
    spark.load(population)
    conds = {
        f"c{i}": Condition(Compare("==", Name("grade"), TextLit(value)), "x")
        for i, value in enumerate(values)
    }
    got = spark.evaluate(conds, T)
    assert got == {f"s{i}": tuple(j == i for j in range(len(values))) for i in range(len(values))}
    # and each literal reads back as the text it is
    texts = {f"t{i}": Condition(TextLit(value), "x") for i, value in enumerate(values)}
    assert spark.evaluate(texts, T)["s0"] == tuple(values)


def test_backslashes_in_hand_built_trees(engine: Engine) -> None:
    # The parser never yields a backslash, but a hand-built tree may hold one; it must not
    # escape the closing quote whatever standard_conforming_strings says.
    population: Population = {"s": (SubjectFacts(1, "a\\", "x", ""), [])}
    engine.load(population)
    for value in ("a\\", "\\'", "a\\'; --"):
        cond = Condition(Compare("==", Name("grade"), TextLit(value)), "x")
        assert engine.evaluate({"v": cond}, T) == {"s": (value == "a\\",)}


# ── month arithmetic in the engines ──────────────────────────────────────────────────────

CLAMP_DATES = [
    date(2024, 2, 29),
    date(2024, 3, 31),
    date(2024, 3, 30),
    date(2024, 3, 29),
    date(2023, 3, 31),
    date(2024, 5, 31),
    date(2024, 12, 31),
    date(2025, 2, 28),
    date(2028, 2, 29),
    date(2024, 1, 31),
]


@pytest.mark.parametrize(
    "dialect", ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres), "spark"]
)
def test_engines_clamp_months_like_duration_before(
    request: pytest.FixtureRequest, dialect: Dialect
) -> None:
    """The windows are cut in Python, but the specification promises that this is what the
    engines' interval arithmetic does too: check that the promise holds."""
    durations = [parse_duration(d) for d in ("1m", "2m", "3m", "12m", "13m", "1y", "4y", "7d")]
    unit = {"d": "days", "m": "months", "y": "years"}
    exprs_ = [
        f"CAST(DATE '{t.isoformat()}' - INTERVAL '{d.count} {unit[d.unit]}' AS DATE)"
        for t in CLAMP_DATES
        for d in durations
    ]
    want = [d.before(t) for t in CLAMP_DATES for d in durations]
    if dialect == "spark":
        # no INTERVAL arithmetic on dates there: the compiler's date steps
        exprs_ = [
            shift_date(f"DATE '{t.isoformat()}'", f"CAST({-d.count} AS BIGINT)", d.unit, "spark")
            for t in CLAMP_DATES
            for d in durations
        ]
    sql = "SELECT " + ", ".join(exprs_)
    if dialect == "spark":
        spark: SparkEngine = request.getfixturevalue("spark")
        row = spark.conn.execute(sql).fetchone()
    elif dialect == "duckdb":
        row = duckdb.connect().execute(sql).fetchone()
    else:
        pg_url: str = request.getfixturevalue("pg_url")
        with psycopg.connect(pg_url) as conn:
            row = conn.execute(sql.encode()).fetchone()
    assert row is not None
    assert list(row) == want


def test_windows_are_cut_at_duration_before() -> None:
    sql = compile_sql(parse_condition("count(within='1m') > 0"), "duckdb", date(2024, 3, 31))
    assert "f.published >= DATE '2024-02-29'" in sql
    sql = compile_sql(parse_condition("count(within='1y') > 0"), "postgres", date(2024, 2, 29))
    assert "f.published >= DATE '2023-02-28'" in sql


# ── agreement with pyeval on generated conditions and data ──────────────────────────────

EDGE_DATES = (
    date(2024, 2, 29),
    date(2024, 2, 28),
    date(2024, 3, 1),
    date(2024, 3, 31),
    date(2024, 1, 31),
    date(2023, 2, 28),
    date(2023, 3, 1),
    date(2024, 4, 30),
    date(2024, 5, 31),
    date(2024, 12, 31),
    date(2025, 3, 31),
    date(2021, 2, 28),
    date(2020, 2, 29),
)
_WORDS = st.sampled_from(VOCABULARY)
_POINTS = st.sampled_from([0, -1, -10, -50, 5]) | st.integers(min_value=-100, max_value=100)


def _durations(node: Expr) -> Iterator[Duration]:
    match node:
        case Aggregate():
            if node.within is not None:
                yield node.within
            if node.filter is not None:
                yield from _durations(node.filter)
        case Neg() | Not():
            yield from _durations(node.operand)
        case Arith() | Compare() | Logic():
            yield from _durations(node.left)
            yield from _durations(node.right)
        case InList():
            yield from _durations(node.operand)
        case _:
            pass


def _shift(d: date, days: int) -> date:
    try:
        return d + timedelta(days=days)
    except OverflowError:
        return d


@dataclass(frozen=True)
class Case:
    conds: dict[str, Condition]
    at: date
    population: Population


@st.composite
def cases(draw: st.DrawFn) -> Case:
    trees = {
        "b": draw(exprs("bool", "list", 4)),
        "i": draw(exprs("int", "list", 4)),
        "t": draw(exprs("text", "list", 1)),
    }
    at = draw(st.sampled_from(EDGE_DATES) | st.dates(date(2022, 1, 1), date(2026, 12, 31)))
    # Publication dates on and beside the edges of the trees' own windows, so that `within`
    # boundaries are hit, besides month ends and arbitrary days.
    edges = sorted(
        {
            _shift(d.before(at), k)
            for tree in trees.values()
            for d in _durations(tree)
            for k in (-1, 0, 1)
        }
    )
    published = (
        st.sampled_from(EDGE_DATES)
        | st.dates(date(2018, 1, 1), at + timedelta(days=2))
        | st.sampled_from([at, at - timedelta(days=1), *edges])
    )
    record = st.builds(RecordFacts, _WORDS, _WORDS, _WORDS, _WORDS, _WORDS, _POINTS, published)
    subject = st.builds(
        SubjectFacts, st.integers(min_value=-5, max_value=1200), _WORDS, _WORDS, _WORDS
    )
    people = draw(st.lists(st.tuples(subject, st.lists(record, max_size=8)), max_size=5))
    population = {f"s{i}": (s, records) for i, (s, records) in enumerate(people)}
    conds = {name: Condition(tree, "generated") for name, tree in trees.items()}
    return Case(conds, at, population)


def _beyond_int64(
    node: Expr, subject: SubjectFacts, records: Sequence[RecordFacts], at: date
) -> bool:
    """Whether any int the engine might compute for this subject falls outside 64 bits.

    Every branch and every record's filter is evaluated (SQL need not short-circuit as
    Python does, nor apply the window before the filter).
    """
    beyond = False

    def seen(value: Value) -> Value:
        nonlocal beyond
        if type(value) is int and not INT64_MIN <= value <= INT64_MAX:
            beyond = True
        return value

    def run(node: Expr, record: RecordFacts | None) -> Value:
        match node:
            case IntLit() | TextLit() | BoolLit():
                return node.value
            case Name():
                if record is None:
                    found: Value = getattr(subject, node.name)
                    return found
                if node.name == "age":
                    return (at - record.published).days
                found = getattr(record, node.name)
                return found
            case Neg():
                return seen(-int(run(node.operand, record)))
            case Not():
                return not run(node.operand, record)
            case Arith():
                a, b = int(run(node.left, record)), int(run(node.right, record))
                if node.op == "/":
                    q = 0 if b == 0 else abs(a) // abs(b) * (1 if (a < 0) == (b < 0) else -1)
                    return seen(q)
                return seen({"+": a + b, "-": a - b, "*": a * b}[node.op])
            case Compare() | Logic():
                run(node.left, record)
                run(node.right, record)
                return False
            case InList():
                run(node.operand, record)
                return False
            case Aggregate():
                kept = [node.filter is None or bool(run(node.filter, r)) for r in records]
                lo = None if node.within is None else node.within.before(at)
                chosen = [r for r, k in zip(records, kept, strict=True) if k]
                chosen = [r for r in chosen if lo is None or r.published >= lo]
                if node.func == "count":
                    return len(chosen)
                if node.func == "days_since":
                    latest = max((r.published for r in chosen), default=None)
                    return NO_RECORD_DAYS if latest is None else (at - latest).days
                points = [r.points for r in chosen] or [0]
                if node.func == "sum":
                    return seen(sum(points))
                return max(points) if node.func == "max" else min(points)

    run(node, None)
    return beyond


def check_case(engine: Engine, case: Case) -> None:
    texts = [n.value for c in case.conds.values() for n in _nodes(c.root) if isinstance(n, TextLit)]
    if engine.dialect == "postgres" and any("\x00" in t for t in texts):
        with pytest.raises(ValueError, match="U\\+0000"):
            compile_sql_many(case.conds, engine.dialect, case.at)
        return
    engine.load(case.population)
    try:
        got = engine.evaluate(case.conds, case.at)
    except (
        duckdb.OutOfRangeException,
        duckdb.ConversionException,
        psycopg.errors.NumericValueOutOfRange,
        SparkArithmeticException,
    ):
        # Python's ints do not overflow; the engine may refuse only what leaves 64 bits.
        # With no subjects at all an engine may still fold a constant expression, so a
        # stand-in subject with no records judges that case.
        subjects = list(case.population.values()) or [(SubjectFacts(0, "", "enterprise", ""), [])]
        assert any(
            _beyond_int64(c.root, s, records, case.at)
            for c in case.conds.values()
            for s, records in subjects
        )
        return
    assert typed(got) == typed(expected(case.conds, case.population, case.at))


def _nodes(node: Expr) -> Iterator[Expr]:
    yield node
    match node:
        case Aggregate():
            if node.filter is not None:
                yield from _nodes(node.filter)
        case Neg() | Not():
            yield from _nodes(node.operand)
        case Arith() | Compare() | Logic():
            yield from _nodes(node.left)
            yield from _nodes(node.right)
        case InList():
            yield from _nodes(node.operand)
            yield from node.values
        case _:
            pass


def test_duckdb_agrees_with_pyeval(duck: DuckEngine) -> None:
    @settings(max_examples=300, deadline=None)
    @given(case=cases())
    def check(case: Case) -> None:
        check_case(duck, case)

    check()


@pytest.mark.postgres
def test_postgres_agrees_with_pyeval(pg: PgEngine) -> None:
    @settings(max_examples=60, deadline=None)
    @given(case=cases())
    def check(case: Case) -> None:
        check_case(pg, case)

    check()


def test_spark_agrees_with_pyeval(spark: SparkEngine) -> None:
    # each example is a Spark job of its own (about half a second): 40, not DuckDB's 300
    @settings(max_examples=40, deadline=None)
    @given(case=cases())
    def check(case: Case) -> None:
        check_case(spark, case)

    check()


def test_generated_sql_never_splices_text() -> None:
    """Outside quoted literals the SQL holds only keywords, fixed names and numbers."""
    for text in ("grade == 'x\"; --' or kind in ['a''b']", "count(tier == '--') > 0"):
        for dialect in get_args(Dialect):
            sql = compile_sql(parse_condition(text.replace("''", "\\'")), dialect, T)
            bare = re.sub(r"E?'(?:[^']|'')*'", "''", sql)
            assert "--" not in bare and ";" not in bare


def test_the_parts_are_the_pieces_of_the_whole_query() -> None:
    from trustledger.rulebook.sqlgen import compile_sql_parts

    conds = {
        "a": parse_condition("count(tier == 'serious', within='1y') >= 1 and score < 700"),
        "b": parse_condition("count(polarity == 'positive') >= 1"),
    }
    parts = compile_sql_parts(conds, "duckdb", date(2026, 11, 26))
    whole = compile_sql_many(conds, "duckdb", date(2026, 11, 26))
    assert len(parts.outputs) == 2 and len(parts.columns) == 2
    assert all(piece in whole for piece in (*parts.outputs, *parts.columns))
    # each aggregate carries its own window: it can share a scan with unwindowed ones
    assert "FILTER (WHERE f.published >= DATE '2025-11-26'" in parts.columns[0]
    with pytest.raises(ValueError, match="invalid column name"):
        compile_sql_parts({"Bad Name": conds["a"]}, "duckdb", date(2026, 11, 26))
