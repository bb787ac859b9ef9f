"""All subjects under one rulebook on one day, in DuckDB (or PostgreSQL, or Spark through
evaluate/spark.py: the same SQL in each one's dialect).

SQL decides, for every subject at once, which records are in force, the score, the grade
and which lists hold — the part that must scale. The subjects found on a list (a small
share) are then evaluated one by one in Python for what SQL does not say well: since when,
until when, the records behind the listing and the measures with their end dates. Both
halves follow the same rules as `profile.evaluate_subject`; the tests demand that SQL's
score, grade and list membership equal Python's for every subject.
"""

from __future__ import annotations

import csv
import gc
import os
import tempfile
from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any, NamedTuple

import duckdb

from trustledger.evaluate.profile import CompiledRulebook, Profile, evaluate_subject
from trustledger.evaluate.spark import SparkConnection
from trustledger.ledger.projection import RecordRow, SubjectRow
from trustledger.rulebook.condition import Condition, names
from trustledger.rulebook.durations import Duration
from trustledger.rulebook.schema import BandedScore, GradesScore, Rulebook
from trustledger.rulebook.sqlgen import (
    Dialect,
    SweepAggregate,
    SweepParts,
    compile_sql_many,
    compile_sql_parts,
    compile_sql_sweep,
    compile_sql_timeline,
    quote_name,
    shift_date,
)

_SUBJECT_COLUMNS = {"subject_id": "VARCHAR", "kind": "VARCHAR", "division": "VARCHAR"}
_RECORD_COLUMNS = {
    "subject_id": "VARCHAR",
    "category": "VARCHAR",
    "tier": "VARCHAR",
    "decision_type": "VARCHAR",
    "decided": "DATE",
    "published": "DATE",
    "status": "VARCHAR",
    "status_date": "DATE",
}


Run = tuple[str, str | None]  # [since, until) as ISO days; until None: no end known


class Timeline(NamedTuple):
    """SQL's verdict for one subject: score and grade on the evaluation day, and every run
    of every list over the rulebook's effect (past and future, as known now)."""

    subject_id: str
    score: int
    grade: str
    runs: dict[str, list[Run]]  # list id → its runs, oldest first; empty: on no list ever


class Outcome(NamedTuple):
    """SQL's verdict for one subject (a tuple: there is one per subject)."""

    subject_id: str
    score: int
    grade: str
    lists: tuple[str, ...]  # ids of the lists that hold


def _dialect(con: Any) -> Dialect:
    if isinstance(con, SparkConnection):
        return "spark"
    return "duckdb" if isinstance(con, duckdb.DuckDBPyConnection) else "postgres"


def _step(con: Any) -> str:
    # intermediate results: views in DuckDB and Spark (each plans the whole pipeline as one
    # query), tables in PostgreSQL (its planner re-runs a view at every use)
    return "TABLE" if _dialect(con) == "postgres" else "VIEW"


def _create(con: Any, kind: str, name: str, select: str) -> None:
    """(Re)create a temporary table or view; each name is always the same kind."""
    if isinstance(con, SparkConnection):
        # temporary views; a "table" is persisted, being read more than once
        con.create(kind, name, select)
    elif _dialect(con) == "duckdb":
        con.execute(f"CREATE OR REPLACE TEMP {kind} {name} AS {select}")
    else:
        # PostgreSQL cannot replace a view whose columns change, nor a table at all
        # qualified: a store's own `subjects` table must never be the one dropped
        con.execute(f"DROP {kind} IF EXISTS pg_temp.{name} CASCADE")
        con.execute(f"CREATE TEMP {kind} {name} AS {select}")


def _load(con: Any, table: str, columns: dict[str, str], rows: Iterable[Sequence[Any]]) -> None:
    """Rows into a temporary table: DuckDB through a CSV file (its reader is C, a Python
    insert loop is hundreds of times slower), PostgreSQL through COPY, Spark through Arrow
    (Parquet in local mode)."""
    if isinstance(con, SparkConnection):
        con.load(table, columns, ([None if v == "" else v for v in row] for row in rows))
        return
    if _dialect(con) == "postgres":
        cols = ", ".join(f"{c} {'TEXT' if t == 'VARCHAR' else t}" for c, t in columns.items())
        con.execute(f"DROP TABLE IF EXISTS pg_temp.{table} CASCADE")
        con.execute(f"CREATE TEMP TABLE {table} ({cols})")
        with con.cursor() as cur, cur.copy(f"COPY {table} FROM STDIN") as copy:
            for row in rows:
                copy.write_row([None if v == "" else v for v in row])
        return
    con.execute(
        f"CREATE OR REPLACE TABLE {table} ({', '.join(f'{c} {t}' for c, t in columns.items())})"
    )
    fd, name = tempfile.mkstemp(suffix=".csv", prefix="trustledger-")
    try:
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            written = 0
            for row in rows:
                writer.writerow(row)
                written += 1
        if written:  # DuckDB cannot sniff an empty file
            spec = ", ".join(f"'{c}': '{t}'" for c, t in columns.items())
            con.execute(
                f"INSERT INTO {table} SELECT * FROM read_csv(?, header=false, nullstr='', "
                f"columns={{{spec}}})",
                [name],
            )
    finally:
        Path(name).unlink(missing_ok=True)


_TREATMENT_COLUMNS = {
    "category": "VARCHAR",
    "points": "BIGINT",
    "tier": "VARCHAR",
    "unit": "VARCHAR",  # 'd' or 'm'; NULL: no fixed term
    "n": "BIGINT",
    "domain": "VARCHAR",
    "polarity": "VARCHAR",
    "clock": "VARCHAR",  # 'decision' or 'publication': what the window counts from
    "decided_from": "DATE",  # the decision days the row's window judges, [from, until)
    "decided_until": "DATE",
}


def _treatments(cr: CompiledRulebook) -> list[tuple[Any, ...]]:
    """category → points, tier override, domain and polarity, and its publicity windows:
    one row per window (CompiledRulebook.windows), keyed by the decision days it judges."""
    out = []
    for code, t in cr.treatment_of.items():
        category = cr.categories[code]
        for window in cr.windows[code]:
            unit, count = ("", 0) if window.max is None else (window.max.unit, window.max.count)
            months = count * 12 if unit == "y" else count if unit == "m" else 0
            days = count if unit == "d" else 0
            out.append((code, t.points, t.tier.value if t.tier else "",
                        "" if window.max is None else "d" if days else "m",
                        "" if window.max is None else days or months,
                        category.domain.value, category.polarity.value, window.clock,
                        window.decided_from or "", window.decided_until or ""))  # fmt: skip
    return out


def _load_treatments(con: Any, cr: CompiledRulebook) -> None:
    _load(con, "treatments", _TREATMENT_COLUMNS, _treatments(cr))


# a record's treatment row: its category's, for the window judging its decision day
_JOIN_TREATMENT = """JOIN treatments t ON t.category = r.category
          AND (t.decided_from IS NULL OR r.decided >= t.decided_from)
          AND (t.decided_until IS NULL OR r.decided < t.decided_until)"""


def _window_end(dialect: Dialect) -> str:
    """The first day a record stops counting by itself (NULL: no fixed term), the same rule
    as inforce.publicity_ends()."""
    start = "(CASE t.clock WHEN 'decision' THEN r.decided ELSE r.published END)"
    return f"""CAST(CASE t.unit
          WHEN 'd' THEN {shift_date(start, "t.n", "d", dialect)}
          WHEN 'm' THEN {shift_date(start, "t.n", "m", dialect)} END AS DATE)"""


def sql_outcomes(con: Any, cr: CompiledRulebook, on: date) -> list[Outcome]:
    """Score, grade and lists for every subject in the `subjects` and `records` tables
    (already loaded, see `load_inputs`) that the rulebook applies to."""
    rb = cr.rulebook
    d = f"DATE '{on.isoformat()}'"
    if on < rb.effective.from_ or (rb.effective.until is not None and on > rb.effective.until):
        return []
    dialect = _dialect(con)
    step = _step(con)
    _load_treatments(con, cr)
    _applicable(con, cr)
    # the same rule as inforce.standing(): published, within the publicity maximum,
    # not ended or revoked with effect on or before the day
    facts = f"""
        SELECT r.subject_id, r.category, t.domain,
               CASE WHEN coalesce(t.tier, '') = '' THEN r.tier ELSE t.tier END AS tier,
               t.polarity, r.decision_type, t.points, r.published
        FROM records_input r {_JOIN_TREATMENT}
        JOIN applicable a USING (subject_id)
        WHERE r.published <= {d}
          AND (t.unit IS NULL OR {d} < {_window_end(dialect)})
          AND NOT (r.status IN ('ended', 'revoked', 'repaired') AND r.status_date <= {d})"""
    form = rb.score
    if isinstance(form, BandedScore) and rb.lists:
        query = _banded_with_lists(cr, form, facts, dialect, on)
        return _outcomes(con.execute(query).fetchall(), rb)
    # read twice below (score, then lists): join and filter once
    _create(con, "TABLE", "facts", facts)
    if isinstance(form, BandedScore):
        total = _score_sql(form, "coalesce(sum(f.points), 0)")
        bands = _bands_sql(form, "score")
        scored = "scored_points"
        _create(
            con,
            step,
            scored,
            f"""
            SELECT subject_id, score, CASE {bands} ELSE '' END AS grade, kind, division FROM (
              SELECT a.subject_id, CAST({total} AS BIGINT) AS score, a.kind, a.division
              FROM applicable a LEFT JOIN facts f USING (subject_id)
              GROUP BY a.subject_id, a.kind, a.division) totals""",
        )
    else:
        scored = "scored_none"
        _create(con, step, scored, "SELECT subject_id, CAST(0 AS BIGINT) AS score, "
                "'' AS grade, kind, division FROM applicable")  # fmt: skip
        if isinstance(form, GradesScore):
            rules = {f"g{i}": rule.when.tree for i, rule in enumerate(form.rules)}
            _as_subjects(con, scored)
            picks = " ".join(f"WHEN g{i} THEN '{rule.grade}'" for i, rule in enumerate(form.rules))
            # a table, not a view: the grade query reads `subjects`, which is re-pointed below
            _create(
                con,
                "TABLE",
                "scored_grades",
                f"""
                SELECT s.subject_id, CAST(0 AS BIGINT) AS score,
                       CASE {picks} ELSE '' END AS grade, s.kind, s.division
                FROM {scored} s JOIN ({compile_sql_many(rules, dialect, on)}) g
                USING (subject_id)""",
            )
            scored = "scored_grades"
    if rb.lists:
        _as_subjects(con, scored)
        conds = {f"l{i}": spec.when.tree for i, spec in enumerate(rb.lists)}
        hits = ", ".join(f"l.l{i}" for i in range(len(conds)))
        rows = con.execute(
            f"""SELECT s.subject_id, s.score, s.grade, {hits}
            FROM {scored} s JOIN ({compile_sql_many(conds, dialect, on)}) l
            USING (subject_id)"""
        ).fetchall()
    else:
        rows = con.execute(f"SELECT subject_id, score, grade FROM {scored}").fetchall()
    return _outcomes(rows, rb)


def sql_timelines(con: Any, cr: CompiledRulebook, on: date) -> list[Timeline]:
    """Every applicable subject's score and grade on ``on`` and its list runs on every
    day, from the `subjects_input` and `records_input` tables (see `load_inputs`)."""
    rb = cr.rulebook
    outcomes = sql_outcomes(con, cr, on)
    if not outcomes:  # not in effect that day: the subjects still have runs on others
        _applicable(con, cr)
        rows = con.execute("SELECT subject_id FROM applicable").fetchall()
        outcomes = [Outcome(r[0], 0, "", ()) for r in rows]
    runs = sql_runs(con, cr) if rb.lists else {}
    none: dict[str, list[Run]] = {}
    return [
        Timeline(o.subject_id, o.score, o.grade, runs.get(o.subject_id, none)) for o in outcomes
    ]


def _applicable(con: Any, cr: CompiledRulebook) -> None:
    rb = cr.rulebook
    kinds = ", ".join(f"'{k.value}'" for k in rb.subject_kinds)
    prefix = rb.scope.division_prefix
    _create(
        con,
        _step(con),
        "applicable",
        f"""SELECT subject_id, kind,
            coalesce(division, '') AS division FROM subjects_input
            WHERE kind IN ({kinds}) AND coalesce(division, '') LIKE '{prefix}%'""",
    )


def sql_runs(con: Any, cr: CompiledRulebook) -> dict[str, dict[str, list[Run]]]:
    """subject → list → runs `[since, until)` over the rulebook's effect.

    When every aggregate is additive (count, sum) the conditions are swept: each record
    adds to an aggregate on the day it starts counting for it and takes away on the day it
    stops, and a running total per subject gives every aggregate on every day something
    changes — one pass over the records. Otherwise every condition is evaluated on every
    day a subject's standing can change (evaluate/profile.py, `change_days`). Either way
    only the days on which a list turns are read back.
    """
    rb = cr.rulebook
    _load_treatments(con, cr)
    _applicable(con, cr)
    end = None if rb.effective.until is None else rb.effective.until + timedelta(days=1)
    conds: dict[str, Condition] = {}
    if isinstance(rb.score, GradesScore):
        conds |= {f"g{i}": rule.when.tree for i, rule in enumerate(rb.score.rules)}
    conds |= {f"l{i}": spec.when.tree for i, spec in enumerate(rb.lists)}
    sweep = compile_sql_sweep(conds, _dialect(con))
    query = _grid_query(con, cr) if sweep is None else _sweep_query(con, cr, sweep)
    return _runs_from_turns(con.execute(query).fetchall(), [spec.id for spec in rb.lists], end)


def _life(subjects: str, key: str, dialect: Dialect) -> str:
    """Each record a rulebook treats, with its span in force: from publication to `out`,
    the first day it no longer counts (NULL: none); ``key`` names its subject."""
    # least() passes over a NULL: no fixed term and no ending entry leave `out` NULL
    return f"""SELECT {key} AS {key.split(".")[1]}, r.category, t.domain,
               CASE WHEN coalesce(t.tier, '') = '' THEN r.tier ELSE t.tier END AS tier,
               t.polarity, r.decision_type, t.points, r.published,
               least({_window_end(dialect)}, CASE WHEN r.status IN ('ended', 'revoked', 'repaired')
                                         THEN r.status_date END) AS out
        FROM records_input r {_JOIN_TREATMENT}
        JOIN {subjects} a USING (subject_id)"""


def _sweep_query(con: Any, cr: CompiledRulebook, sweep: SweepParts) -> str:
    rb = cr.rulebook
    dialect = _dialect(con)
    # subjects keyed by integers in id order: sorting and partitioning by them is cheaper;
    # not in Spark, where numbering them all is one task on one core: the id is the key
    key = "subject_id" if dialect == "spark" else "row_number() OVER (ORDER BY subject_id)"
    _create(
        con, "TABLE", "keyed", f"SELECT subject_id, kind, division, {key} AS sk FROM applicable"
    )
    start = f"DATE '{rb.effective.from_.isoformat()}'"
    ends = {}  # the day each aggregate stops counting a record, by its window
    aggs = list(sweep.aggregates)
    form = rb.score
    if isinstance(form, BandedScore):
        aggs.append(SweepAggregate("points_total", "f.points", None, None))
    if not aggs:  # nothing changes over time: one row per subject, on the first day
        aggs.append(SweepAggregate("nothing", "CAST(0 AS BIGINT)", None, None))
    offsets = sorted({b for k in cr.time_use.age_offsets for b in (k, k + 1) if b > 0})
    bounds = [0, *offsets]
    segments = ", ".join(
        f"({lo}, {'NULL' if hi is None else hi})"
        for lo, hi in zip(bounds, [*bounds[1:], None], strict=True)
    )
    for agg in aggs:
        stop = ["f.seg_end", "f.out"]
        if agg.within is not None:
            stop.append(_window_exit("f.published", agg.within, dialect))
        ends[agg.column] = f"least({', '.join(stop)})"
    # a record's segment of age: its filters read the age on the segment's first day, and
    # no age comparison turns inside a segment; per aggregate, the day the record stops
    # counting for it (`e_`) and what it adds while it counts (`v_`, 0 when it does not)
    life = f"({_life('keyed', 'a.sk', dialect)})"
    if len(bounds) > 1:
        lo = shift_date("l.published", "CAST(b.lo AS BIGINT)", "d", dialect)
        hi = shift_date("l.published", "CAST(b.hi AS BIGINT)", "d", dialect)
        source = f"""SELECT l.*, {lo} AS day, {hi} AS seg_end
            FROM {life} l CROSS JOIN (VALUES {segments}) AS b(lo, hi)"""
    else:
        source = f"SELECT l.*, l.published AS day, CAST(NULL AS DATE) AS seg_end FROM {life} l"
    computed = ", ".join(
        f"{ends[a.column]} AS e_{a.column}, CASE WHEN "
        + (f"({a.filter}) AND " if a.filter else "")
        + f"({ends[a.column]} IS NULL OR f.day < {ends[a.column]}) THEN {a.value} "
        f"ELSE CAST(0 AS BIGINT) END AS v_{a.column}"
        for a in aggs
    )
    _create(con, "TABLE", "segments", f"SELECT f.sk, f.day, {computed} FROM ({source}) f")
    zero = "CAST(0 AS BIGINT)"
    starts = ", ".join(f"v_{a.column} AS {a.column}" for a in aggs)
    anything = " OR ".join(f"v_{a.column} <> 0" for a in aggs)
    events = [f"SELECT sk, greatest(day, {start}) AS day, {starts} FROM segments WHERE {anything}"]
    by_end: dict[str, list[SweepAggregate]] = {}
    for a in aggs:
        by_end.setdefault(ends[a.column], []).append(a)
    for group in by_end.values():
        leaves = f"e_{group[0].column}"
        cols = ", ".join(f"-v_{a.column}" if a in group else zero for a in aggs)
        lost = " OR ".join(f"v_{a.column} <> 0" for a in group)
        events.append(
            f"SELECT sk, greatest({leaves}, {start}) AS day, {cols} FROM segments "
            f"WHERE {leaves} IS NOT NULL AND ({lost})"
        )
    events.append(
        f"SELECT sk, {start} AS day, "
        + ", ".join(zero for _ in aggs) + " FROM keyed"
    )  # fmt: skip
    totals = [a.column for a in aggs]
    summed = ", ".join(f"sum({c}) AS {c}" for c in totals)
    running = ", ".join(f"CAST(sum({c}) OVER w AS BIGINT) AS {c}, {c} AS d_{c}" for c in totals)
    bound = "" if rb.effective.until is None else (
        f" WHERE day <= DATE '{rb.effective.until.isoformat()}'"
    )  # fmt: skip
    # one row per subject and day something changes: each aggregate's value that day and,
    # from the day's own change, its value the day before (so a list's turning is seen
    # without a second pass over the rows)
    values = ", ".join(f"v.{c}, v.{c} - v.d_{c} AS p_{c}" for c in totals)
    # the subject's own columns only where a condition reads them (a join fewer)
    trees = [spec.when.tree.root for spec in rb.lists]
    if isinstance(form, GradesScore):
        trees += [rule.when.tree.root for rule in form.rules]
    if set().union(*(names(t) for t in trees)) & {"kind", "division"}:
        subject = "a.kind, a.division, a.kind AS p_kind, a.division AS p_division"
        join = "JOIN keyed a USING (sk)"
    else:
        subject, join = "'' AS kind, '' AS division, '' AS p_kind, '' AS p_division", ""
    _create(
        con,
        "TABLE",
        "swept",
        f"""SELECT v.sk, v.day, {subject},
                   {values}
            FROM (SELECT sk, day, {running}
                  FROM (SELECT sk, day, {summed}
                        FROM ({" UNION ALL ".join(events)}) AS e{bound}
                        GROUP BY sk, day) AS g
                  WINDOW w AS (PARTITION BY sk ORDER BY day
                               ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)) AS v
            {join}""",
    )
    carried = "".join(f", s.{a.column}, s.p_{a.column}" for a in sweep.aggregates)
    base = "s.sk, s.day, s.kind, s.division, s.p_kind, s.p_division"
    if isinstance(form, BandedScore):

        def total(column: str) -> str:
            return f"CAST({_score_sql(form, f's.{column}')} AS BIGINT)"

        def banded(column: str) -> str:
            return f"CASE {_bands_sql(form, column)} ELSE '' END"

        scored = f"""SELECT s.*, {banded("s.score")} AS grade, {banded("s.p_score")} AS p_grade
                     FROM (SELECT {base}, {total("points_total")} AS score,
                                  {total("p_points_total")} AS p_score{carried}
                           FROM swept s) AS s"""
    else:
        scored = f"""SELECT {base}, CAST(0 AS BIGINT) AS score, CAST(0 AS BIGINT) AS p_score,
                            '' AS grade, '' AS p_grade{carried} FROM swept s"""
    rules = len(form.rules) if isinstance(form, GradesScore) else 0
    now = dict(zip([f"g{i}" for i in range(rules)] + [f"l{i}" for i in range(len(rb.lists))],
                   sweep.outputs, strict=True))  # fmt: skip
    before = dict(zip(now, sweep.previous, strict=True))

    def renamed(output: str, name: str) -> str:
        # each output ends ` AS <its quoted name>`, names being [a-z0-9_]
        return output.rsplit(" AS ", 1)[0] + f" AS {quote_name(name, dialect)}"

    if isinstance(form, GradesScore):
        picks = " ".join(f"WHEN g{i} THEN '{rule.grade}'" for i, rule in enumerate(form.rules))
        prior = " ".join(f"WHEN pg{i} THEN '{rule.grade}'" for i, rule in enumerate(form.rules))
        tests = ", ".join(
            [o for k, o in now.items() if k[0] == "g"]
            + [renamed(o, "p" + k) for k, o in before.items() if k[0] == "g"]
        )
        scored = f"""SELECT {base}, score, p_score, CASE {picks} ELSE '' END AS grade,
                            CASE {prior} ELSE '' END AS p_grade{carried}
                     FROM (SELECT s.*, {tests} FROM ({scored}) AS s) AS s"""
    hits = [f"l{i}" for i in range(len(rb.lists))]
    judged = ", ".join(
        [o for k, o in now.items() if k[0] == "l"]
        + [renamed(o, "p" + k) for k, o in before.items() if k[0] == "l"]
    )
    # the first row of a subject is the rulebook's first day: nothing holds before it
    turned = " OR ".join(
        f"t.{h} <> (CASE WHEN t.day = {start} THEN false ELSE t.p{h} END)" for h in hits
    )
    return f"""SELECT k.subject_id, t.day, {", ".join(f"t.{h}" for h in hits)}
               FROM (SELECT s.sk, s.day, {judged} FROM ({scored}) AS s) AS t
               JOIN keyed k USING (sk)
               WHERE {turned}
               ORDER BY t.sk, t.day"""


def _window_exit(published: str, window: Duration, dialect: Dialect) -> str:
    """The first day a record published on ``published`` is outside ``window``: 1 to 4 days
    after the step (month lengths differ by up to 3 days and both ends clamp)."""
    count = f"CAST({window.count} AS BIGINT)"
    moved = shift_date(published, count, window.unit, dialect)

    def later(k: int) -> str:
        return shift_date(moved, f"CAST({k} AS BIGINT)", "d", dialect)

    picks = " ".join(
        f"WHEN {shift_date(later(k), f'-{count}', window.unit, dialect)} > {published} "
        f"THEN {later(k)}"
        for k in (1, 2, 3, 4)
    )
    return f"(CASE {picks} END)"


def _turns(timeline: str, hits: list[str], key: str = "subject_id") -> str:
    """The rows of a timeline on which some list turns (the first row counts as turning
    for the lists that hold on it)."""
    lags = ", ".join(f"lag({h}) OVER w AS p{h}" for h in hits)
    turned = " OR ".join(f"{h} <> coalesce(p{h}, false)" for h in hits)
    return f"""SELECT {key}, day, {", ".join(hits)} FROM (
              SELECT {key}, day, {", ".join(hits)}, {lags}
              FROM ({timeline}) AS v
              WINDOW w AS (PARTITION BY {key} ORDER BY day)) AS c
            WHERE {turned}
            ORDER BY {key}, day"""


def _runs_from_turns(
    rows: list[tuple[Any, ...]], ids: list[str], end: date | None
) -> dict[str, dict[str, list[Run]]]:
    until = None if end is None else end.isoformat()
    out: dict[str, dict[str, list[Run]]] = {}
    subject: str | None = None
    open_since: list[str | None] = []
    runs: dict[str, list[Run]] = {}

    def close() -> None:
        for i, since in enumerate(open_since):
            if since is not None:
                runs.setdefault(ids[i], []).append((since, until))

    for row in rows:
        if row[0] != subject:
            if subject is not None:
                close()
                out[subject] = runs
            subject, runs, open_since = row[0], {}, [None] * len(ids)
        day = row[1].isoformat()
        for i, hit in enumerate(row[2:]):
            since = open_since[i]
            if hit and since is None:
                open_since[i] = day
            elif not hit and since is not None:
                runs.setdefault(ids[i], []).append((since, day))
                open_since[i] = None
    if subject is not None:
        close()
        out[subject] = runs
    return {s: r for s, r in out.items() if r}


def _grid_query(con: Any, cr: CompiledRulebook) -> str:
    """Every condition on every day a subject's standing can change, from the records in
    force that day (for conditions with `max`, `min` or `days_since`)."""
    rb = cr.rulebook
    dialect = _dialect(con)
    start = rb.effective.from_
    end = None if rb.effective.until is None else rb.effective.until + timedelta(days=1)
    _create(con, "TABLE", "life", _life("applicable", "r.subject_id", dialect))
    use = cr.time_use
    shifted = ["SELECT subject_id, published AS day FROM life",
               "SELECT subject_id, out AS day FROM life WHERE out IS NOT NULL",
               f"SELECT subject_id, DATE '{start.isoformat()}' AS day FROM applicable"]  # fmt: skip
    for window in sorted(use.windows, key=str):
        moved = shift_date("published", f"CAST({window.count} AS BIGINT)", window.unit, dialect)
        # the record leaves the window 1 to 4 days after `published + window`: month
        # lengths differ by up to 3 days, and both ends of the step clamp to a month's end
        shifted += [
            f"SELECT subject_id, {shift_date(moved, 'CAST(k AS BIGINT)', 'd', dialect)}"
            f" AS day FROM life CROSS JOIN (VALUES (1), (2), (3), (4)) AS steps(k)"
        ]
    for k in sorted({o + extra for o in use.offsets for extra in (0, 1)}):
        shifted.append(
            f"SELECT subject_id, {shift_date('published', f'CAST({k} AS BIGINT)', 'd', dialect)}"
            " AS day FROM life"
        )
    bound = f"day >= DATE '{start.isoformat()}'"
    if end is not None:
        bound += f" AND day < DATE '{end.isoformat()}'"
    _create(
        con,
        "TABLE",
        "days",
        f"SELECT DISTINCT subject_id, day FROM ({' UNION ALL '.join(shifted)}) AS x WHERE {bound}",
    )
    # the records in force on each of those days
    _create(
        con,
        "TABLE",
        "facts",
        """SELECT d.subject_id, d.day, l.category, l.domain, l.tier, l.polarity,
                  l.decision_type, l.points, l.published
           FROM days d JOIN life l ON l.subject_id = d.subject_id
           AND l.published <= d.day AND (l.out IS NULL OR d.day < l.out)""",
    )
    form = rb.score
    if isinstance(form, BandedScore):
        total = _score_sql(form, "coalesce(g.points_total, 0)")
        bands = _bands_sql(form, "score")
        _create(
            con,
            "TABLE",
            "scored_days",
            f"""SELECT subject_id, day, score, CASE {bands} ELSE '' END AS grade, kind, division
            FROM (SELECT d.subject_id, d.day, CAST({total} AS BIGINT) AS score, a.kind,
                         a.division
                  FROM days d JOIN applicable a USING (subject_id)
                  LEFT JOIN (SELECT subject_id, day, sum(points) AS points_total FROM facts
                             GROUP BY subject_id, day) g
                  ON g.subject_id = d.subject_id AND g.day = d.day) totals""",
        )
    else:
        _create(
            con,
            "TABLE",
            "scored_days",
            """SELECT d.subject_id, d.day, CAST(0 AS BIGINT) AS score, '' AS grade, a.kind,
                      a.division
               FROM days d JOIN applicable a USING (subject_id)""",
        )
        if isinstance(form, GradesScore):
            _create(con, "VIEW", "subjects", "SELECT * FROM scored_days")
            rules = {f"g{i}": rule.when.tree for i, rule in enumerate(form.rules)}
            picks = " ".join(f"WHEN g{i} THEN '{rule.grade}'" for i, rule in enumerate(form.rules))
            _create(
                con,
                "TABLE",
                "graded_days",
                f"""SELECT g.subject_id, g.day, CAST(0 AS BIGINT) AS score,
                           CASE {picks} ELSE '' END AS grade, s.kind, s.division
                    FROM scored_days s JOIN ({compile_sql_timeline(rules, dialect)}) g
                    ON g.subject_id = s.subject_id AND g.day = s.day""",
            )
            _create(con, "VIEW", "subjects", "SELECT * FROM graded_days")
    if not isinstance(form, GradesScore):
        _create(con, "VIEW", "subjects", "SELECT * FROM scored_days")
    conds = {f"l{i}": spec.when.tree for i, spec in enumerate(rb.lists)}
    hits = [f"l{i}" for i in range(len(conds))]
    return _turns(compile_sql_timeline(conds, dialect), hits)


def _score_sql(form: BandedScore, points: str) -> str:
    """The banded score in SQL: the base plus ``points``, clamped to the floor and ceiling."""
    total = f"{form.base} + {points}"
    if form.floor is not None:
        total = f"greatest({total}, {form.floor})"
    if form.ceiling is not None:
        total = f"least({total}, {form.ceiling})"
    return total


def _bands_sql(form: BandedScore, score: str) -> str:
    """The WHEN arms picking the grade band of ``score`` (the first band it reaches)."""
    return " ".join(
        f"WHEN {score} >= {b.min} THEN '{b.grade}'" if b.min is not None else
        f"WHEN true THEN '{b.grade}'" for b in form.bands
    )  # fmt: skip


def _banded_with_lists(
    cr: CompiledRulebook, form: BandedScore, facts: str, dialect: Dialect, on: date
) -> str:
    """Score, grade and every list in one grouped scan of `facts`: the points total is one
    more aggregate beside those the list conditions need (each of which carries its own
    window, so they can share the scan)."""
    parts = compile_sql_parts(
        {f"l{i}": spec.when.tree for i, spec in enumerate(cr.rulebook.lists)}, dialect, on
    )
    total = _score_sql(form, "coalesce(g.points_total, 0)")
    bands = _bands_sql(form, "score")
    columns = ",\n               ".join(["f.subject_id", "sum(f.points) AS points_total",
                                        *parts.columns])  # fmt: skip
    # computed once for its two readers (Spark has no such hint; it reuses the exchange)
    materialized = "" if dialect == "spark" else " MATERIALIZED"
    return f"""
        WITH facts AS ({facts}),
        g AS{materialized} (
          SELECT {columns}
          FROM facts AS f GROUP BY f.subject_id),
        s AS (
          SELECT subject_id, score, CASE {bands} ELSE '' END AS grade, kind, division FROM (
            SELECT p.subject_id, CAST({total} AS BIGINT) AS score, p.kind, p.division
            FROM applicable p LEFT JOIN g USING (subject_id)) totals)
        SELECT s.subject_id, s.score, s.grade, {", ".join(parts.outputs)}
        FROM s LEFT JOIN g AS a ON a.subject_id = s.subject_id"""


def _outcomes(rows: list[tuple[Any, ...]], rb: Rulebook) -> list[Outcome]:
    ids = [spec.id for spec in rb.lists]
    none: tuple[str, ...] = ()
    # most subjects are on no list: skip building an empty tuple for each of them; and
    # no cyclic garbage is made here, so the collector need not walk the new tuples
    gc_was_on = gc.isenabled()
    gc.disable()
    try:
        return [
            Outcome(r[0], r[1], r[2], none)
            if not any(r[3:])
            else Outcome(
                r[0], r[1], r[2], tuple(i for i, hit in zip(ids, r[3:], strict=True) if hit)
            )
            for r in rows
        ]
    finally:
        if gc_was_on:
            gc.enable()


def _as_subjects(con: Any, table: str) -> None:
    # the compiled conditions read a relation named `subjects`; point it at this stage
    _create(con, "VIEW", "subjects", f"SELECT * FROM {table}")


def load_inputs(con: Any, subjects: Iterable[SubjectRow], records: Iterable[RecordRow]) -> None:
    """The subjects and records (as of the evaluation instant) into the engine: a DuckDB
    connection, or a PostgreSQL connection of its own (it gets temporary tables that shadow
    the store's own `subjects`, so it must not be the store's connection)."""
    _load(con, "subjects_input", _SUBJECT_COLUMNS,
          ((s.id, s.kind, s.division or "") for s in subjects))  # fmt: skip
    _load(con, "records_input", _RECORD_COLUMNS,
          ((r.subject_id, r.category, r.tier, r.decision_type, r.decision_date,
            r.publication_date, r.status, r.status_date or "") for r in records
           if r.confirmation != "pending"))  # fmt: skip


def explain_listed(
    cr: CompiledRulebook,
    outcomes: Sequence[Outcome],
    subjects: dict[str, SubjectRow],
    records_of: dict[str, list[RecordRow]],
    on: date,
) -> list[Profile]:
    """Full Python profiles of the subjects SQL found on a list."""
    return [
        evaluate_subject(cr, subjects[o.subject_id], records_of.get(o.subject_id, []), on)
        for o in outcomes
        if o.lists
    ]
