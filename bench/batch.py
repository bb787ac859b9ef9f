"""Batch evaluation of 1,000,000 subjects and 10,000,000 records under one points rulebook
with three lists (DuckDB engine): score and grade on the evaluation day, and every run
[since, until) of every list on every day, exactly. Against hand-written DuckDB queries
computing the same outputs (stated below: `hand_written` and `hand_written_runs`), in the
same run.

    python bench/batch.py [--subjects 1000000] [--records 10000000]
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).parent))

from common import save

from trustledger.catalogue import national_catalogue
from trustledger.evaluate.batch import sql_timelines
from trustledger.evaluate.profile import compile_rulebook
from trustledger.rulebook.load import parse_rulebook

ON = date(2026, 11, 1)
RULEBOOK = """
id: bench-points
version: "1"
title: Points rulebook for the batch benchmark
authority: bench
legal_basis: [{instrument: "Guofa [2016] No. 33"}]
sources: [bench]
effective: {from: 2000-01-01}
subject_kinds: [enterprise, individual_business]
treatments:
  - select: {codes: [HON-COMMENDATION, TAX-A-GRADE]}
    points: 20
    publicity: {min: 1y, max: 3y}
    legal_basis: [{instrument: "Guofa [2016] No. 33"}]
  - select: {tier: serious}
    points: -50
    publicity: {min: 1y, max: 3y}
    legal_basis: [{instrument: "NDRC Order No. 58 (2023)"}]
  - select: {tier: general}
    points: -10
    publicity: {min: 3m, max: 1y}
    legal_basis: [{instrument: "NDRC Order No. 58 (2023)"}]
score:
  form: points
  base: 1000
  floor: 0
  ceiling: 1200
  bands:
    - {grade: A, min: 1000}
    - {grade: B, min: 900}
    - {grade: C, min: 700}
    - {grade: D, min: null}
lists:
  - {id: low-grade, kind: black, title: low grade, when: "grade == 'D'",
     removal: when the grade rises, legal_basis: [{instrument: x}]}
  - {id: repeat-tax, kind: black, title: repeat tax offender,
     when: "count(domain == 'tax' and polarity == 'negative', within='2y') >= 3",
     removal: when fewer than three remain, legal_basis: [{instrument: x}]}
  - {id: exemplary, kind: red, title: exemplary,
     when: "score >= 1000 and count(polarity == 'positive') >= 1",
     removal: when it no longer holds, legal_basis: [{instrument: x}]}
"""
CATEGORIES = ["TAX-PENALTY-GENERAL", "TAX-MAJOR-VIOLATION", "MKT-PENALTY-GENERAL",
              "MKT-PENALTY-SERIOUS", "ENV-PENALTY-GENERAL", "HON-COMMENDATION", "TAX-A-GRADE",
              "CUS-PENALTY-GENERAL"]  # fmt: skip


def generate(con: duckdb.DuckDBPyConnection, subjects: int, records: int) -> None:
    cats = ", ".join(f"'{c}'" for c in CATEGORIES)
    con.execute(f"""
        CREATE OR REPLACE TABLE subjects_input AS
        SELECT printf('S%08d', i) AS subject_id,
               (['enterprise', 'individual_business', 'person'])
                   [1 + CAST(hash(i, 'kind') % 3 AS INTEGER)] AS kind,
               '440305' AS division
        FROM range({subjects}) r(i)""")
    con.execute(f"""
        CREATE OR REPLACE TABLE records_input AS
        SELECT printf('S%08d', CAST(hash(j, 's') % {subjects} AS BIGINT)) AS subject_id,
               ([{cats}])[1 + CAST(hash(j, 'c') % {len(CATEGORIES)} AS INTEGER)] AS category,
               (['minor', 'general', 'serious'])[1 + CAST(hash(j, 't') % 3 AS INTEGER)] AS tier,
               'administrative_penalty' AS decision_type,
               DATE '{ON}' - CAST(hash(j, 'p') % 1500 AS INTEGER) AS published,
               CASE WHEN hash(j, 'e') % 20 = 0 THEN 'ended' ELSE 'issued' END AS status,
               CASE WHEN hash(j, 'e') % 20 = 0
                    THEN DATE '{ON}' - CAST(hash(j, 'q') % 400 AS INTEGER) END AS status_date
        FROM range({records}) r(j)""")


def hand_written(con: duckdb.DuckDBPyConnection) -> list[tuple[object, ...]]:
    """The same rulebook written straight in SQL by someone who knows it."""
    d = f"DATE '{ON}'"
    return con.execute(f"""
        WITH t AS (
          SELECT * FROM (VALUES
            ('TAX-PENALTY-GENERAL', -10, 12, 'tax', 'negative'),
            ('TAX-MAJOR-VIOLATION', -50, 36, 'tax', 'negative'),
            ('MKT-PENALTY-GENERAL', -10, 12, 'market', 'negative'),
            ('MKT-PENALTY-SERIOUS', -50, 36, 'market', 'negative'),
            ('ENV-PENALTY-GENERAL', -10, 12, 'environment', 'negative'),
            ('HON-COMMENDATION', 20, 36, 'honours', 'positive'),
            ('TAX-A-GRADE', 20, 36, 'tax', 'positive'),
            ('CUS-PENALTY-GENERAL', -10, 12, 'customs', 'negative'))
            v(category, points, months, domain, polarity)),
        f AS (
          SELECT r.subject_id, t.points, t.domain, t.polarity, r.published
          FROM records_input r JOIN t USING (category)
          WHERE r.published <= {d} AND {d} < r.published + t.months * INTERVAL 1 MONTH
            AND NOT (r.status = 'ended' AND r.status_date <= {d})),
        agg AS (
          SELECT subject_id, sum(points) AS pts,
                 count(*) FILTER (WHERE domain = 'tax' AND polarity = 'negative'
                                  AND published >= DATE '2024-11-01') AS tax3,
                 count(*) FILTER (WHERE polarity = 'positive') AS pos
          FROM f GROUP BY subject_id),
        s AS (
          SELECT a.subject_id, least(greatest(1000 + coalesce(g.pts, 0), 0), 1200) AS score,
                 coalesce(g.tax3, 0) AS tax3, coalesce(g.pos, 0) AS pos
          FROM subjects_input a LEFT JOIN agg g USING (subject_id)
          WHERE a.kind IN ('enterprise', 'individual_business'))
        SELECT subject_id, score,
               CASE WHEN score >= 1000 THEN 'A' WHEN score >= 900 THEN 'B'
                    WHEN score >= 700 THEN 'C' ELSE 'D' END AS grade,
               score < 700 AS low, tax3 >= 3 AS repeat_tax, score >= 1000 AND pos >= 1 AS good
        FROM s""").fetchall()


def hand_written_runs(con: duckdb.DuckDBPyConnection) -> list[tuple[object, ...]]:
    """Every day each list turns, written straight in SQL: each record adds its points, its
    tax count and its positive count on its publication day and takes them away on the day
    it stops counting (its publicity ends, it is ended, or for the 2-year window, the first
    day it is older than two years); running totals per subject give the score and counts
    on every such day."""
    exit_2y = " ".join(
        f"WHEN CAST(published + INTERVAL 2 YEAR + INTERVAL {k} DAY - INTERVAL 2 YEAR AS DATE)"
        f" > published THEN CAST(published + INTERVAL 2 YEAR + INTERVAL {k} DAY AS DATE)"
        for k in (1, 2, 3, 4)
    )
    return con.execute(f"""
        WITH t AS (
          SELECT * FROM (VALUES
            ('TAX-PENALTY-GENERAL', -10, 12, 'tax', 'negative'),
            ('TAX-MAJOR-VIOLATION', -50, 36, 'tax', 'negative'),
            ('MKT-PENALTY-GENERAL', -10, 12, 'market', 'negative'),
            ('MKT-PENALTY-SERIOUS', -50, 36, 'market', 'negative'),
            ('ENV-PENALTY-GENERAL', -10, 12, 'environment', 'negative'),
            ('HON-COMMENDATION', 20, 36, 'honours', 'positive'),
            ('TAX-A-GRADE', 20, 36, 'tax', 'positive'),
            ('CUS-PENALTY-GENERAL', -10, 12, 'customs', 'negative'))
            v(category, points, months, domain, polarity)),
        k AS (SELECT subject_id, row_number() OVER (ORDER BY subject_id) AS sk
              FROM subjects_input WHERE kind IN ('enterprise', 'individual_business')),
        l AS (
          SELECT k.sk, t.points, (t.domain = 'tax' AND t.polarity = 'negative') AS taxneg,
                 CAST(t.polarity = 'positive' AS BIGINT) AS pos, r.published,
                 least(CAST(r.published + t.months * INTERVAL 1 MONTH AS DATE),
                       CASE WHEN r.status = 'ended' THEN r.status_date END) AS out
          FROM records_input r JOIN t USING (category) JOIN k USING (subject_id)),
        e AS (
          SELECT sk, published AS day, points AS p, CAST(taxneg AS BIGINT) AS tx, pos FROM l
          WHERE out IS NULL OR published < out
          UNION ALL
          SELECT sk, out, -points, 0, -pos FROM l WHERE published < out
          UNION ALL
          SELECT sk, least(out, CASE {exit_2y} END), 0, -1, 0 FROM l
          WHERE taxneg AND published < least(out, CASE {exit_2y} END)
          UNION ALL
          SELECT sk, DATE '2000-01-01', 0, 0, 0 FROM k),
        g AS (SELECT sk, day, sum(p) AS p, sum(tx) AS tx, sum(pos) AS pos
              FROM e GROUP BY sk, day),
        v AS (SELECT sk, day,
                     least(greatest(1000 + sum(p) OVER w, 0), 1200) AS score,
                     sum(tx) OVER w AS tx, sum(pos) OVER w AS pos
              FROM g WINDOW w AS (PARTITION BY sk ORDER BY day
                                  ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)),
        f AS (SELECT sk, day, score < 700 AS low, tx >= 3 AS rt, score >= 1000 AND pos >= 1 AS ex
              FROM v),
        c AS (SELECT *, lag(low) OVER w AS pl, lag(rt) OVER w AS prt, lag(ex) OVER w AS pex
              FROM f WINDOW w AS (PARTITION BY sk ORDER BY day))
        SELECT k.subject_id, c.day, c.low, c.rt, c.ex FROM c JOIN k USING (sk)
        WHERE c.low <> coalesce(c.pl, false) OR c.rt <> coalesce(c.prt, false)
           OR c.ex <> coalesce(c.pex, false)
        ORDER BY c.sk, c.day""").fetchall()


def _runs(rows: list[tuple[object, ...]]) -> dict[object, dict[str, list[tuple[str, str | None]]]]:
    ids = ("low-grade", "repeat-tax", "exemplary")
    out: dict[object, dict[str, list[tuple[str, str | None]]]] = {}
    since: dict[tuple[object, str], str] = {}
    for subject, day, *hits in rows:
        runs = out.setdefault(subject, {})
        for name, hit in zip(ids, hits, strict=True):
            if hit and (subject, name) not in since:
                since[subject, name] = str(day)
            elif not hit and (subject, name) in since:
                runs.setdefault(name, []).append((since.pop((subject, name)), str(day)))
    for (subject, name), first in since.items():
        out[subject].setdefault(name, []).append((first, None))
    return {s: {n: sorted(r) for n, r in runs.items()} for s, runs in out.items() if runs}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--subjects", type=int, default=1_000_000)
    ap.add_argument("--records", type=int, default=10_000_000)
    args = ap.parse_args()
    con = duckdb.connect()
    t0 = time.perf_counter()
    generate(con, args.subjects, args.records)
    generated = time.perf_counter() - t0
    cr = compile_rulebook(parse_rulebook(RULEBOOK), national_catalogue())
    t0 = time.perf_counter()
    outcomes = sql_timelines(con, cr, ON)
    ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    hand = hand_written(con)
    hand_runs = _runs(hand_written_runs(con))
    baseline = time.perf_counter() - t0
    # the two must agree before their times mean anything
    by_hand = {r[0]: (r[1], r[2], {n for n, hit in zip(("low-grade", "repeat-tax", "exemplary"),
                                                        r[3:], strict=True) if hit})
               for r in hand}  # fmt: skip
    assert len(by_hand) == len(outcomes)
    for o in outcomes:
        assert by_hand[o.subject_id][:2] == (o.score, o.grade), o
        today = {n for n, runs in o.runs.items()
                 if any(s <= ON.isoformat() and (u is None or ON.isoformat() < u)
                        for s, u in runs)}  # fmt: skip
        assert today == by_hand[o.subject_id][2], o
        assert {n: sorted(r) for n, r in o.runs.items()} == hand_runs.get(o.subject_id, {}), o
    save(
        "batch",
        {
            "subjects": args.subjects,
            "records": args.records,
            "subjects_evaluated": len(outcomes),
            "ever_on_lists": {
                lid: sum(lid in o.runs for o in outcomes)
                for lid in ("low-grade", "repeat-tax", "exemplary")
            },
            "runs": sum(len(r) for o in outcomes for r in o.runs.values()),
            "generate_seconds": round(generated, 2),
            "evaluate_seconds": round(ours, 2),
            "hand_written_seconds": round(baseline, 2),
            "ratio_to_hand_written": round(ours / baseline, 2),
            "targets": "evaluate_seconds <= 10, ratio <= 1.5",
        },
    )


if __name__ == "__main__":
    main()
