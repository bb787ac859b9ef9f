"""Two compiled conditions (two and three aggregates) over 1,000,000 subjects and 10,000,000
facts in DuckDB, evaluated together through `compile_sql_many`, against the same outputs
written by hand in SQL, in the same run. A correlated-subquery form of the hand-written
query is timed too: it is the shape the compiler chose not to emit.

    python bench/sqlgen.py [--subjects 1000000] [--facts 10000000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections import defaultdict
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).parent))

from common import Timer, save

from trustledger.rulebook.condition import parse_condition
from trustledger.rulebook.durations import parse_duration
from trustledger.rulebook.pyeval import RecordFacts, SubjectFacts, compile_condition
from trustledger.rulebook.sqlgen import compile_sql_many

T = date(2026, 11, 1)
TWO = (
    "count(tier == 'serious' and polarity == 'negative', within='3y') >= 1"
    " and sum(points, domain in ['tax', 'environment'], within='18m') < -30"
)
THREE = (
    "kind == 'enterprise'"
    " and (days_since(polarity == 'negative') < 365 or min(points, within='1y') <= -45)"
    " and count(domain == 'food' and age > 30) >= 2"
)


def generate(conn: duckdb.DuckDBPyConnection, subjects: int, facts: int) -> None:
    """Deterministic data from hashes of the row number: no Python loop touches a row.

    Facts go to even-numbered subjects only, so half the subjects have no records and take
    every aggregate's default.
    """
    conn.execute(
        f"""
        CREATE TABLE subjects AS
        SELECT printf('S%08d', i) AS subject_id,
               CAST(hash(i, 'score') % 1300 AS BIGINT) - 100 AS score,
               (['AAA', 'AA', 'A', 'B', 'C', 'D'])[1 + CAST(hash(i, 'grade') % 6 AS INTEGER)]
                   AS grade,
               (['enterprise', 'individual_business', 'person'])
                   [1 + CAST(hash(i, 'kind') % 3 AS INTEGER)] AS kind,
               (['371082', '440305', '110105', ''])[1 + CAST(hash(i, 'div') % 4 AS INTEGER)]
                   AS division
        FROM range({subjects}) AS r(i)
        """
    )
    half = max(subjects // 2, 1)
    conn.execute(
        f"""
        CREATE TABLE facts AS
        SELECT printf('S%08d', 2 * CAST(hash(j, 'subject') % {half} AS BIGINT)) AS subject_id,
               upper(domain) || '-' || CAST(hash(j, 'cat') % 7 AS VARCHAR) AS category,
               domain,
               (['minor', 'general', 'serious'])[1 + CAST(hash(j, 'tier') % 3 AS INTEGER)]
                   AS tier,
               CASE WHEN hash(j, 'pol') % 10 < 8 THEN 'negative' ELSE 'positive' END
                   AS polarity,
               (['administrative_penalty', 'judgment', 'honour'])
                   [1 + CAST(hash(j, 'dec') % 3 AS INTEGER)] AS decision_type,
               CAST(hash(j, 'points') % 61 AS BIGINT) - 50 AS points,
               DATE '{T.isoformat()}' - CAST(hash(j, 'pub') % 2500 AS INTEGER) AS published
        FROM (
          SELECT j, (['tax', 'environment', 'market', 'food', 'transport'])
                        [1 + CAST(hash(j, 'dom') % 5 AS INTEGER)] AS domain
          FROM range({facts}) AS r(j)
        )
        """
    )


def hand_written() -> str:
    def cut(text: str) -> str:
        return parse_duration(text).before(T).isoformat()

    # `age > 30` is `published < T - 30 days`: the rewrite a person would make by hand.
    older = (T - timedelta(days=30)).isoformat()
    return f"""
        SELECT s.subject_id,
               coalesce(a.serious, 0) >= 1 AND coalesce(a.tax_env, 0) < -30 AS two,
               s.kind = 'enterprise'
                 AND (coalesce(DATE '{T}' - a.last_negative, 100000) < 365
                      OR coalesce(a.min_points, 0) <= -45)
                 AND coalesce(a.food, 0) >= 2 AS three
        FROM subjects AS s
        LEFT JOIN (
          SELECT subject_id,
                 count(*) FILTER (WHERE tier = 'serious' AND polarity = 'negative'
                                  AND published >= DATE '{cut("3y")}') AS serious,
                 sum(points) FILTER (WHERE domain IN ('tax', 'environment')
                                     AND published >= DATE '{cut("18m")}') AS tax_env,
                 max(published) FILTER (WHERE polarity = 'negative') AS last_negative,
                 min(points) FILTER (WHERE published >= DATE '{cut("1y")}') AS min_points,
                 count(*) FILTER (WHERE domain = 'food' AND published < DATE '{older}') AS food
          FROM facts
          GROUP BY subject_id
        ) AS a USING (subject_id)
    """


def correlated() -> str:
    def sub(select: str, where: str) -> str:
        return f"(SELECT {select} FROM facts AS f WHERE f.subject_id = s.subject_id AND {where})"

    three_years = parse_duration("3y").before(T)
    eighteen_months = parse_duration("18m").before(T)
    one_year = parse_duration("1y").before(T)
    older = T - timedelta(days=30)
    serious = sub(
        "count(*)",
        f"tier = 'serious' AND polarity = 'negative' AND published >= DATE '{three_years}'",
    )
    tax_env = sub(
        "sum(points)",
        f"domain IN ('tax', 'environment') AND published >= DATE '{eighteen_months}'",
    )
    last_negative = sub("max(published)", "polarity = 'negative'")
    min_points = sub("min(points)", f"published >= DATE '{one_year}'")
    food = sub("count(*)", f"domain = 'food' AND published < DATE '{older}'")
    return f"""
        SELECT s.subject_id,
               {serious} >= 1 AND coalesce({tax_env}, 0) < -30 AS two,
               s.kind = 'enterprise'
                 AND (coalesce(DATE '{T}' - {last_negative}, 100000) < 365
                      OR coalesce({min_points}, 0) <= -45)
                 AND {food} >= 2 AS three
        FROM subjects AS s
    """


def timed(conn: duckdb.DuckDBPyConnection, table: str, sql: str) -> float:
    # Materialising the whole result keeps the engine from skipping any output column.
    with Timer() as t:
        conn.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS {sql}")
    return t.seconds


def differences(conn: duckdb.DuckDBPyConnection, left: str, right: str) -> int:
    found = conn.execute(
        f"""
        SELECT count(*) FROM {left} AS l FULL JOIN {right} AS r USING (subject_id)
        WHERE l.two IS DISTINCT FROM r.two OR l.three IS DISTINCT FROM r.three
        """
    ).fetchone()
    assert found is not None
    return int(found[0])


def check_sample_with_pyeval(conn: duckdb.DuckDBPyConnection, table: str, sample: int) -> int:
    """The compiled SQL against the Python compiler on a sample of subjects."""
    evaluators: dict[str, Callable[[SubjectFacts, list[RecordFacts], date], object]] = {
        "two": compile_condition(parse_condition(TWO)),
        "three": compile_condition(parse_condition(THREE)),
    }
    rows = conn.execute(
        f"""
        SELECT s.subject_id, s.score, s.grade, s.kind, s.division, o.two, o.three
        FROM subjects AS s JOIN {table} AS o USING (subject_id)
        ORDER BY hash(s.subject_id) LIMIT {sample}
        """
    ).fetchall()
    ids = [r[0] for r in rows]
    records: dict[str, list[RecordFacts]] = defaultdict(list)
    for sid, *rest in conn.execute(
        "SELECT subject_id, category, domain, tier, polarity, decision_type, points, published"
        " FROM facts WHERE subject_id IN (SELECT unnest(?))",
        [ids],
    ).fetchall():
        records[sid].append(RecordFacts(*rest))
    for sid, score, grade, kind, division, two, three in rows:
        subject = SubjectFacts(score, grade, kind, division)
        assert evaluators["two"](subject, records[sid], T) == two, sid
        assert evaluators["three"](subject, records[sid], T) == three, sid
    return len(rows)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--subjects", type=int, default=1_000_000)
    parser.add_argument("--facts", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    conn = duckdb.connect()
    with Timer() as gen:
        generate(conn, args.subjects, args.facts)
    print(f"generated {args.subjects:,} subjects and {args.facts:,} facts in {gen.seconds:.1f}s")

    conds = {"two": parse_condition(TWO), "three": parse_condition(THREE)}
    with Timer() as comp:
        sql = compile_sql_many(conds, "duckdb", T)
    hand = hand_written()

    # Alternate the two so that neither profits from running second.
    ours: list[float] = []
    theirs: list[float] = []
    for _ in range(args.repeat):
        ours.append(timed(conn, "out_generated", sql))
        theirs.append(timed(conn, "out_hand", hand))
    corr = timed(conn, "out_correlated", correlated())

    assert differences(conn, "out_generated", "out_hand") == 0
    assert differences(conn, "out_generated", "out_correlated") == 0
    checked = check_sample_with_pyeval(conn, "out_generated", 2_000)
    counts = conn.execute(
        "SELECT count(*), count(*) FILTER (WHERE two), count(*) FILTER (WHERE three)"
        " FROM out_generated"
    ).fetchone()
    assert counts is not None

    ours_s = statistics.median(ours)
    theirs_s = statistics.median(theirs)
    save(
        "sqlgen",
        {
            "engine": f"duckdb {duckdb.__version__}",
            "subjects": args.subjects,
            "facts": args.facts,
            "conditions": {"two": TWO, "three": THREE},
            "rows": counts[0],
            "rows_two_true": counts[1],
            "rows_three_true": counts[2],
            "generate_s": round(gen.seconds, 2),
            "compile_ms": round(comp.seconds * 1e3, 3),
            "repeat": args.repeat,
            "median_s": round(ours_s, 3),
            "hand_written_median_s": round(theirs_s, 3),
            "ratio_to_hand_written": round(ours_s / theirs_s, 2),
            "hand_written_correlated_s": round(corr, 3),
            "checked_against_pyeval": checked,
        },
    )


if __name__ == "__main__":
    main()
