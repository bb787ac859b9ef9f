"""The SQL compiler of conditions: every subject at once, in DuckDB, PostgreSQL or Spark.

The query reads two relations the caller prepares (columns NOT NULL):

* `subjects(subject_id TEXT, score BIGINT, grade TEXT, kind TEXT, division TEXT)`
* `facts(subject_id TEXT, category TEXT, domain TEXT, tier TEXT, polarity TEXT,
  decision_type TEXT, points BIGINT, published DATE)`, the records in force at T,

and yields one row per subject: `subject_id` and the value of each condition. The
semantics are pyeval's to the day and to the integer (docs/rulebooks.md, "Condition
language"); where SQL would differ on its own the rendering says so:

* every aggregate of every condition is one `FILTER` column of a single grouped scan of
  `facts`, left-joined to `subjects`; a subject without matching records gets the
  aggregate's default (0, or 100000 for `days_since`) through COALESCE, never NULL;
* `within` windows are cut at `Duration.before(T)` computed here, because T is a constant
  of the query: the clamping is then Python's by construction, and a window such as
  `within='999999999y'` cannot overflow the engine's date arithmetic;
* ints are BIGINT throughout (literals included: an untyped `42` is a 32-bit INTEGER in
  both engines and would overflow early); an intermediate outside 64 bits raises an
  out-of-range error in the engine instead of giving a wrong value;
* `/` uses each engine's truncating integer division (`//` in DuckDB, `/` on BIGINT in
  PostgreSQL; Python's `//` floors instead) and `NULLIF` turns x / 0 into NULL, which
  COALESCE makes 0 without rendering either operand twice;
* text comparisons are pinned to code-point order (`COLLATE "C"` in PostgreSQL,
  `COLLATE "binary"` in DuckDB, `COLLATE UTF8_BINARY` in Spark, whose UTF-8 byte order is
  code-point order), whatever the database's default collation is.

Spark SQL (dialect "spark", run by evaluate/spark.py) differs in form, not in meaning:
STRING for TEXT, backticks around names, `DIV` (truncating, like the others), days between
dates by `datediff` and date steps by `date_add`/`add_months` (which clamp to the month's
end as the INTERVAL arithmetic of the other two does), and text literals with every
character but letters, digits, space and `_-.:` written as a `\\uXXXX` escape: no quote,
backslash or `${` ever appears raw inside one. ANSI mode stays on (Spark 4's default; the
session sets it), so 64-bit overflow is an error there too.

Nothing from a condition reaches the SQL unquoted: names map through fixed tables, ints
are rendered from Python ints, text is quoted with its quotes doubled, and the column
names of `compile_sql_many` are checked against `[a-z0-9_]` and quoted.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Final, Literal, TypeAlias, assert_never

from trustledger.rulebook.condition import (
    RECORD_NAMES,
    SUBJECT_NAMES,
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
    ValueType,
)
from trustledger.rulebook.durations import Duration
from trustledger.rulebook.pyeval import NO_RECORD_DAYS

__all__ = [
    "INT64_MAX",
    "INT64_MIN",
    "Dialect",
    "QueryParts",
    "SweepAggregate",
    "SweepParts",
    "compile_sql",
    "compile_sql_many",
    "compile_sql_parts",
    "compile_sql_sweep",
    "compile_sql_timeline",
    "days_between",
    "quote_name",
    "shift_date",
    "text_type",
]

Dialect: TypeAlias = Literal["duckdb", "postgres", "spark"]

INT64_MIN: Final = -(2**63)
INT64_MAX: Final = 2**63 - 1

# PostgreSQL truncates identifiers to 63 bytes; two longer names could silently collide.
_MAX_COLUMN_NAME: Final = 63
_COLUMN_NAME_RE: Final = re.compile(r"[a-z0-9_]+")
_SQL_TYPES: Final[Mapping[ValueType, str]] = {"bool": "BOOLEAN", "int": "BIGINT", "text": "TEXT"}
# what a Spark literal may hold unescaped: nothing its parser or variable substitution reads
_SPARK_PLAIN: Final = re.compile(r"[A-Za-z0-9 _\-.:]")
# a window longer than this many days or months reaches before any date: clamp, so the
# INT argument of Spark's date functions cannot overflow
_SPARK_MAX_DAYS: Final = 10_000 * 366
_SPARK_MAX_MONTHS: Final = 10_000 * 12
_COMPARE_SQL: Final[Mapping[str, str]] = {
    "==": "=",
    "!=": "<>",
    "<": "<",
    "<=": "<=",
    ">": ">",
    ">=": ">=",
}
# Only these strings ever become column references; `age` is computed, not read.
_SUBJECT_COLUMNS: Final[Mapping[str, str]] = {n: f"s.{n}" for n in SUBJECT_NAMES}
_FACT_COLUMNS: Final[Mapping[str, str]] = {n: f"f.{n}" for n in RECORD_NAMES if n != "age"}


@dataclass(frozen=True, slots=True)
class _Style:
    int_div: str
    collation: str
    text: str


_STYLES: Final[Mapping[Dialect, _Style]] = {
    "duckdb": _Style(int_div="//", collation='"binary"', text="TEXT"),
    "postgres": _Style(int_div="/", collation='"C"', text="TEXT"),
    "spark": _Style(int_div="DIV", collation="UTF8_BINARY", text="STRING"),
}


def quote_name(name: str, dialect: Dialect) -> str:
    """A column name (`[a-z0-9_]+`, checked) quoted for the dialect."""
    _check_column_name(name)
    return f"`{name}`" if dialect == "spark" else f'"{name}"'


def text_type(dialect: Dialect) -> str:
    """The dialect's name for the text type."""
    return _STYLES[dialect].text


def shift_date(day: str, count: str, unit: str, dialect: Dialect) -> str:
    """The DATE ``count`` units (`d`, `m` or `y`; ``count`` a BIGINT expression, negative
    to go back) after ``day``; month steps clamp to the month's last day in every dialect."""
    if unit not in ("d", "m", "y"):
        raise ValueError(f"unknown date unit {unit!r}")
    if dialect != "spark":
        name = {"d": "day", "m": "month", "y": "year"}[unit]
        return f"CAST({day} + {count} * INTERVAL '1 {name}' AS DATE)"
    if unit == "d":
        return f"date_add({day}, CAST({count} AS INT))"
    months = count if unit == "m" else f"({count}) * CAST(12 AS BIGINT)"
    return f"add_months({day}, CAST({months} AS INT))"


def days_between(later: str, earlier: str, dialect: Dialect) -> str:
    """``later`` minus ``earlier`` in days, as BIGINT."""
    if dialect == "spark":
        return f"CAST(datediff({later}, {earlier}) AS BIGINT)"
    return f"CAST(({later} - {earlier}) AS BIGINT)"


def compile_sql(cond: Condition, dialect: Dialect, at: date) -> str:
    """One query yielding `(subject_id, value)` for every row of `subjects`.

    `value` is BOOLEAN, BIGINT or TEXT after the type of the condition's tree.
    """
    return _Compiler(dialect, at).query({"value": cond})


def compile_sql_many(conds: Mapping[str, Condition], dialect: Dialect, at: date) -> str:
    """One query yielding `subject_id` and one column per named condition, in one pass.

    Names are the column names: `[a-z0-9_]+`, at most 63 characters, not `subject_id`.
    Aggregates shared by several conditions are computed once.
    """
    for name in conds:
        _check_column_name(name)
    return _Compiler(dialect, at).query(conds)


@dataclass(frozen=True, slots=True)
class QueryParts:
    """The pieces of `compile_sql_many`'s query, for a caller that folds more aggregates
    into the same grouped scan of `facts` (one pass instead of two).

    ``outputs`` read the subject as ``s`` and the grouped aggregates as ``a``; every
    aggregate in ``columns`` carries its own window, so they may share a scan with
    aggregates over all of `facts`.
    """

    outputs: tuple[str, ...]  # `expression AS "name"`, in the order of the conditions
    columns: tuple[str, ...]  # `aggregate AS aN` over `facts AS f`


def compile_sql_parts(conds: Mapping[str, Condition], dialect: Dialect, at: date) -> QueryParts:
    """`compile_sql_many` in parts (same names, same rules)."""
    for name in conds:
        _check_column_name(name)
    compiler = _Compiler(dialect, at)
    outputs = compiler.outputs(conds)
    return QueryParts(tuple(outputs), tuple(compiler.columns))


def compile_sql_timeline(conds: Mapping[str, Condition], dialect: Dialect) -> str:
    """`compile_sql_many` on many days at once: `subjects` and `facts` carry a `day`
    column (facts: the records in force on that day), and the query yields `subject_id`,
    `day` and one column per condition for every row of `subjects`, T being its day."""
    for name in conds:
        _check_column_name(name)
    return _Compiler(dialect, None).timeline(conds)


@dataclass(frozen=True, slots=True)
class SweepAggregate:
    """One additive aggregate of a sweep: what each record adds while it counts."""

    column: str  # the column the rendered conditions read it from
    value: str  # `CAST(1 AS BIGINT)` for count, `f.points` for sum
    filter: str | None  # over the record as `f`, its age as of the day `f.day`
    within: Duration | None


@dataclass(frozen=True, slots=True)
class SweepParts:
    """Conditions rendered over one row per subject and day that holds the subject's
    columns and every aggregate's value (`compile_sql_sweep`)."""

    outputs: tuple[str, ...]  # `expression AS "name"`, reading `s.<name>` and `s.aN`
    # the same conditions on the values just before the row's day: `s.p_<name>`, `s.p_aN`
    previous: tuple[str, ...]
    aggregates: tuple[SweepAggregate, ...]


def compile_sql_sweep(conds: Mapping[str, Condition], dialect: Dialect) -> SweepParts | None:
    """The conditions for a sweep over time, when every aggregate they use is additive
    (`count`, `sum`): its value on a day is the running total of what records add when
    they start counting and take away when they stop. None if one is not (`max`, `min`,
    `days_since`: evaluate those day by day with `compile_sql_timeline`)."""
    for name in conds:
        _check_column_name(name)
    compiler = _Compiler(dialect, None)
    compiler.agg_alias = "s"
    outputs = compiler.outputs(conds)
    parts: list[SweepAggregate] = []
    for node, column in compiler.aggregates.items():
        if node.func not in ("count", "sum"):
            return None
        value = "CAST(1 AS BIGINT)" if node.func == "count" else "f.points"
        where = None if node.filter is None else compiler.expr(node.filter, in_filter=True)
        parts.append(SweepAggregate(column, value, where, node.within))
    before = _Compiler(dialect, None)
    before.agg_alias, before.prefix = "s", "p_"
    previous = before.outputs(conds)
    # the same traversal names the same aggregates the same columns
    assert list(before.aggregates.values()) == list(compiler.aggregates.values())
    return SweepParts(tuple(outputs), tuple(previous), tuple(parts))


def _shift_back(day: str, duration: Duration, dialect: Dialect) -> str:
    if dialect == "spark":
        count = int(duration.count) * (12 if duration.unit == "y" else 1)
        unit = "d" if duration.unit == "d" else "m"
        count = min(count, _SPARK_MAX_DAYS if unit == "d" else _SPARK_MAX_MONTHS)
        return shift_date(day, f"CAST({-count} AS BIGINT)", unit, dialect)
    unit = {"d": "day", "m": "month", "y": "year"}[duration.unit]
    return f"CAST(({day} - CAST({int(duration.count)} AS BIGINT) * INTERVAL '1 {unit}') AS DATE)"


def _check_column_name(name: str) -> None:
    if not isinstance(name, str) or _COLUMN_NAME_RE.fullmatch(name) is None:
        raise ValueError(f"invalid column name {name!r}: use lower-case letters, digits and _")
    if len(name) > _MAX_COLUMN_NAME:
        raise ValueError(f"invalid column name {name!r}: longer than {_MAX_COLUMN_NAME}")
    if name == "subject_id":
        raise ValueError("invalid column name 'subject_id': it is the key column")


def _date_literal(d: date) -> str:
    # isoformat() pads the year to four digits, which both engines read back exactly.
    return f"DATE '{d.isoformat()}'"


def _int_literal(value: int) -> str:
    if type(value) is not int:
        raise ValueError(f"int literal expected, got {value!r}")
    if not INT64_MIN <= value <= INT64_MAX:
        raise ValueError(f"int literal {value} is outside the 64-bit range SQL evaluates in")
    return f"CAST({value} AS BIGINT)"


def _text_literal(value: str, dialect: Dialect) -> str:
    if not isinstance(value, str):
        raise ValueError(f"text literal expected, got {value!r}")
    if dialect == "spark":
        # Spark reads backslash escapes in '...' and joins adjacent literals ('a''b' is
        # 'ab'): escape all but a plain set, one \\u escape per UTF-16 code unit
        return "'" + "".join(ch if _SPARK_PLAIN.fullmatch(ch) else _spark_escape(ch)
                             for ch in value) + "'"  # fmt: skip
    quoted = value.replace("'", "''")
    if dialect == "duckdb":
        # DuckDB strings have no escapes at all: doubled quotes are the whole story.
        return f"'{quoted}'"
    if "\x00" in value:
        raise ValueError("PostgreSQL text cannot hold the character U+0000")
    if "\\" in value:
        # With standard_conforming_strings off a backslash in '...' would escape the next
        # quote; E'...' reads the same with the setting on or off.
        return "E'" + quoted.replace("\\", "\\\\") + "'"
    return f"'{quoted}'"


def _spark_escape(ch: str) -> str:
    units = ch.encode("utf-16-be")
    return "".join(f"\\u{units[i]:02x}{units[i + 1]:02x}" for i in range(0, len(units), 2))


class _Compiler:
    """Renders the trees of one query, collecting their aggregates as it goes.

    With ``at`` None the query is a timeline: `subjects` and `facts` carry a `day` column,
    T is that day, and there is one row per subject and day (`compile_sql_timeline`).
    """

    def __init__(self, dialect: Dialect, at: date | None) -> None:
        if dialect not in _STYLES:
            raise ValueError(f"unknown SQL dialect {dialect!r}")
        # A datetime is a date too, but its isoformat() is no date literal.
        if at is not None and (not isinstance(at, date) or isinstance(at, datetime)):
            raise ValueError(f"evaluation date expected, got {at!r}")
        self.dialect: Dialect = dialect
        self.style = _STYLES[dialect]
        self.at = "s.day" if at is None else _date_literal(at)
        self.fact_at = "f.day" if at is None else self.at
        self.at_date = at
        # the relation the aggregate columns are read from (a sweep reads them beside the
        # subject's own columns, from one row)
        self.agg_alias = "a"
        # a sweep also judges each day's conditions on the values just before it, read
        # from the same row under this prefix
        self.prefix = ""
        # Equal aggregates (trees compare without columns) share one column.
        self.aggregates: dict[Aggregate, str] = {}
        self.columns: list[str] = []
        self.cutoffs: list[date | None] = []

    def outputs(self, conds: Mapping[str, Condition]) -> list[str]:
        outputs: list[str] = []
        for name, cond in conds.items():
            if not isinstance(cond, Condition):
                raise ValueError(f"condition expected for {name!r}, got {cond!r}")
            if cond.scope == "filter":
                raise ValueError(
                    "a filter condition is compiled as part of its aggregate, not alone"
                )
            sql = self.expr(cond.root, in_filter=False)
            sql_type = _SQL_TYPES[cond.root.value_type]
            if sql_type == "TEXT":
                sql_type = self.style.text
            outputs.append(f"CAST({sql} AS {sql_type}) AS {quote_name(name, self.dialect)}")
        return outputs

    def query(self, conds: Mapping[str, Condition]) -> str:
        outputs = self.outputs(conds)
        select = ",\n       ".join(["s.subject_id", *outputs])
        if not self.aggregates:
            return f"SELECT {select}\nFROM subjects AS s"
        columns = ",\n         ".join(["f.subject_id", *self.columns])
        # When every aggregate has a window, rows older than the widest one cannot count
        # anywhere; dropping them before grouping saves the FILTERs' work on them.
        where = ""
        if all(c is not None for c in self.cutoffs):
            oldest = min(c for c in self.cutoffs if c is not None)
            where = f"\n  WHERE f.published >= {_date_literal(oldest)}"
        return (
            f"SELECT {select}\n"
            "FROM subjects AS s\n"
            "LEFT JOIN (\n"
            f"  SELECT {columns}\n"
            f"  FROM facts AS f{where}\n"
            "  GROUP BY f.subject_id\n"
            ") AS a ON a.subject_id = s.subject_id"
        )

    def timeline(self, conds: Mapping[str, Condition]) -> str:
        outputs = self.outputs(conds)
        select = ",\n       ".join(["s.subject_id", "s.day", *outputs])
        if not self.aggregates:
            return f"SELECT {select}\nFROM subjects AS s"
        columns = ",\n         ".join(["f.subject_id", "f.day", *self.columns])
        return (
            f"SELECT {select}\n"
            "FROM subjects AS s\n"
            "LEFT JOIN (\n"
            f"  SELECT {columns}\n"
            "  FROM facts AS f\n"
            "  GROUP BY f.subject_id, f.day\n"
            ") AS a ON a.subject_id = s.subject_id AND a.day = s.day"
        )

    def expr(self, node: Expr, *, in_filter: bool) -> str:
        # Every composite is parenthesised: no precedence to get wrong, and a negation of a
        # negation can never render as "--", which would start a comment.
        match node:
            case IntLit():
                return _int_literal(node.value)
            case TextLit():
                return _text_literal(node.value, self.dialect)
            case BoolLit():
                if type(node.value) is not bool:
                    raise ValueError(f"bool literal expected, got {node.value!r}")
                return "TRUE" if node.value else "FALSE"
            case Name():
                return self.name(node, in_filter=in_filter)
            case Neg():
                return f"(-{self.expr(node.operand, in_filter=in_filter)})"
            case Not():
                return f"(NOT {self.expr(node.operand, in_filter=in_filter)})"
            case Arith():
                left = self.expr(node.left, in_filter=in_filter)
                right = self.expr(node.right, in_filter=in_filter)
                if node.op == "/":
                    return (
                        f"COALESCE(({left} {self.style.int_div} NULLIF({right}, 0)), "
                        "CAST(0 AS BIGINT))"
                    )
                return f"({left} {node.op} {right})"
            case Compare():
                left = self.expr(node.left, in_filter=in_filter)
                right = self.expr(node.right, in_filter=in_filter)
                if node.left.value_type == "text":
                    left = f"({left} COLLATE {self.style.collation})"
                return f"({left} {_COMPARE_SQL[node.op]} {right})"
            case InList():
                return self.in_list(node, in_filter=in_filter)
            case Logic():
                left = self.expr(node.left, in_filter=in_filter)
                right = self.expr(node.right, in_filter=in_filter)
                return f"({left} {node.op.upper()} {right})"
            case Aggregate():
                if in_filter:
                    raise ValueError(f"{node.func}() inside a filter: aggregates may not nest")
                return self.aggregate(node)
            case _:
                assert_never(node)

    def name(self, node: Name, *, in_filter: bool) -> str:
        if in_filter:
            if node.name == "age":
                return days_between(self.fact_at, "f.published", self.dialect)
            column = _FACT_COLUMNS.get(node.name)
        else:
            column = _SUBJECT_COLUMNS.get(node.name)
            if column is not None and self.prefix:
                column = f"s.{self.prefix}{node.name}"
        if column is None:
            where = "inside a filter" if in_filter else "at the top level"
            raise ValueError(f"name {node.name!r} is not valid {where}")
        return column

    def in_list(self, node: InList, *, in_filter: bool) -> str:
        if not node.values:
            # `x IN ()` is a syntax error in PostgreSQL; nothing is in an empty list.
            return "TRUE" if node.negated else "FALSE"
        operand = self.expr(node.operand, in_filter=in_filter)
        if node.operand.value_type == "text":
            operand = f"({operand} COLLATE {self.style.collation})"
        for value in node.values:
            if value.value_type != node.operand.value_type:
                raise ValueError(f"{value!r} in a list of {node.operand.value_type} values")
        values = ", ".join(self.expr(v, in_filter=in_filter) for v in node.values)
        op = "NOT IN" if node.negated else "IN"
        # No operand or value is ever NULL, so NOT IN has no three-valued surprise.
        return f"({operand} {op} ({values}))"

    def aggregate(self, node: Aggregate) -> str:
        column = self.aggregates.get(node)
        if column is None:
            column = f"a{len(self.aggregates)}"
            self.aggregates[node] = column
            self.columns.append(f"{self.aggregate_column(node)} AS {column}")
        if node.func == "days_since":
            latest = f"{self.agg_alias}.{self.prefix}{column}"
            return (
                f"COALESCE({days_between(self.at, latest, self.dialect)}, "
                f"CAST({NO_RECORD_DAYS} AS BIGINT))"
            )
        return f"COALESCE({self.agg_alias}.{self.prefix}{column}, CAST(0 AS BIGINT))"

    def aggregate_column(self, node: Aggregate) -> str:
        conditions: list[str] = []
        if self.at_date is None:
            # a timeline: the cut moves with the day; both engines clamp month steps to the
            # month's last day, as Duration.before does
            self.cutoffs.append(None)
            if node.within is not None:
                conditions.append(
                    f"f.published >= {_shift_back('f.day', node.within, self.dialect)}"
                )
        else:
            cutoff = None if node.within is None else node.within.before(self.at_date)
            self.cutoffs.append(cutoff)
            if cutoff is not None:
                conditions.append(f"f.published >= {_date_literal(cutoff)}")
        if node.filter is not None:
            if node.filter.value_type != "bool":
                raise ValueError(f"{node.func}() filter must be a bool, got {node.filter!r}")
            conditions.append(self.expr(node.filter, in_filter=True))
        match node.func:
            case "count":
                call = "count(*)"
            case "sum" | "max" | "min":
                call = f"{node.func}(f.points)"
            case "days_since":
                call = "max(f.published)"
            case _:
                assert_never(node.func)
        if conditions:
            call += f" FILTER (WHERE {' AND '.join(conditions)})"
        # count is BIGINT already; sum widens (HUGEINT, NUMERIC) and is brought back, so a
        # total beyond 64 bits fails loudly rather than changing type under the caller.
        return f"CAST({call} AS BIGINT)" if node.func in ("sum", "max", "min") else call
