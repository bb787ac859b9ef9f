"""All subjects under one rulebook on one day, in DuckDB.

SQL decides, for every subject at once, which records are in force, the score, the grade
and which lists hold — the part that must scale. The subjects found on a list (a small
share) are then evaluated one by one in Python for what SQL does not say well: since when,
until when, the records behind the listing and the measures with their end dates. Both
halves follow the same rules as `profile.evaluate_subject`; the tests demand that SQL's
score, grade and list membership equal Python's for every subject.
"""

from __future__ import annotations

import csv
import os
import tempfile
from collections.abc import Iterable, Sequence
from datetime import date
from pathlib import Path
from typing import Any, NamedTuple

import duckdb

from trustledger.evaluate.profile import CompiledRulebook, Profile, evaluate_subject
from trustledger.ledger.projection import RecordRow, SubjectRow
from trustledger.rulebook.schema import BandedScore, GradesScore
from trustledger.rulebook.sqlgen import compile_sql_many

_SUBJECT_COLUMNS = {"subject_id": "VARCHAR", "kind": "VARCHAR", "division": "VARCHAR"}
_RECORD_COLUMNS = {
    "subject_id": "VARCHAR",
    "category": "VARCHAR",
    "tier": "VARCHAR",
    "decision_type": "VARCHAR",
    "published": "DATE",
    "status": "VARCHAR",
    "status_date": "DATE",
}


class Outcome(NamedTuple):
    """SQL's verdict for one subject (a tuple: there is one per subject)."""

    subject_id: str
    score: int
    grade: str
    lists: tuple[str, ...]  # ids of the lists that hold


def _load(con: duckdb.DuckDBPyConnection, table: str, columns: dict[str, str],
          rows: Iterable[Sequence[Any]]) -> None:  # fmt: skip
    """Rows into a DuckDB table through a CSV file: DuckDB's reader is C, a Python insert
    loop is hundreds of times slower."""
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


def _treatments(cr: CompiledRulebook) -> list[tuple[str, int, str, str, int, str, str]]:
    """category → points, tier override, publicity maximum, domain and polarity."""
    out = []
    for code, t in cr.treatment_of.items():
        category = cr.categories[code]
        unit, count = t.publicity.max.unit, t.publicity.max.count
        months = count * 12 if unit == "y" else count if unit == "m" else 0
        days = count if unit == "d" else 0
        out.append((code, t.points, t.tier.value if t.tier else "", "d" if days else "m",
                    days or months, category.domain.value, category.polarity.value))  # fmt: skip
    return out


def sql_outcomes(con: duckdb.DuckDBPyConnection, cr: CompiledRulebook, on: date) -> list[Outcome]:
    """Score, grade and lists for every subject in the `subjects` and `records` tables
    (already loaded, see `load_inputs`) that the rulebook applies to."""
    rb = cr.rulebook
    d = f"DATE '{on.isoformat()}'"
    if on < rb.effective.from_ or (rb.effective.until is not None and on > rb.effective.until):
        return []
    kinds = ", ".join(f"'{k.value}'" for k in rb.subject_kinds)
    prefix = rb.scope.division_prefix
    con.execute(
        "CREATE OR REPLACE TABLE treatments (category VARCHAR, points BIGINT, tier VARCHAR, "
        "unit VARCHAR, n BIGINT, domain VARCHAR, polarity VARCHAR)"
    )
    if cr.treatment_of:
        con.executemany("INSERT INTO treatments VALUES (?, ?, ?, ?, ?, ?, ?)", _treatments(cr))
    con.execute(
        f"""CREATE OR REPLACE TEMP VIEW applicable AS SELECT subject_id, kind,
            coalesce(division, '') AS division FROM subjects_input
            WHERE kind IN ({kinds}) AND coalesce(division, '') LIKE '{prefix}%'"""
    )
    # the same rule as inforce.standing(): published, within the publicity maximum,
    # not ended or revoked with effect on or before the day
    con.execute(
        f"""CREATE OR REPLACE TEMP VIEW facts AS
        SELECT r.subject_id, r.category, t.domain,
               CASE WHEN t.tier = '' THEN r.tier ELSE t.tier END AS tier,
               t.polarity, r.decision_type, t.points, r.published
        FROM records r JOIN treatments t USING (category)
        JOIN applicable a USING (subject_id)
        WHERE r.published <= {d}
          AND {d} < CASE t.unit WHEN 'd' THEN r.published + t.n * INTERVAL 1 DAY
                               ELSE r.published + t.n * INTERVAL 1 MONTH END
          AND NOT (r.status IN ('ended', 'revoked') AND r.status_date <= {d})"""
    )
    form = rb.score
    if isinstance(form, BandedScore):
        total = f"{form.base} + coalesce(sum(f.points), 0)"
        if form.floor is not None:
            total = f"greatest({total}, {form.floor})"
        if form.ceiling is not None:
            total = f"least({total}, {form.ceiling})"
        bands = " ".join(
            f"WHEN score >= {b.min} THEN '{b.grade}'" if b.min is not None else
            f"WHEN true THEN '{b.grade}'" for b in form.bands
        )  # fmt: skip
        con.execute(
            f"""CREATE OR REPLACE TEMP VIEW subjects_scored AS
            SELECT subject_id, score, CASE {bands} ELSE '' END AS grade, kind, division FROM (
              SELECT a.subject_id, ({total})::BIGINT AS score, a.kind, a.division
              FROM applicable a LEFT JOIN facts f USING (subject_id)
              GROUP BY a.subject_id, a.kind, a.division)"""
        )
    else:
        con.execute("CREATE OR REPLACE TABLE subjects_scored AS SELECT subject_id, "
                    "0::BIGINT AS score, '' AS grade, kind, division FROM applicable")  # fmt: skip
        if isinstance(form, GradesScore):
            rules = {f"g{i}": rule.when.tree for i, rule in enumerate(form.rules)}
            _as_subjects(con, "subjects_scored")
            picks = " ".join(f"WHEN g{i} THEN '{rule.grade}'" for i, rule in enumerate(form.rules))
            con.execute(
                f"""CREATE OR REPLACE TABLE subjects_scored AS
                SELECT s.subject_id, 0::BIGINT AS score, CASE {picks} ELSE '' END AS grade,
                       s.kind, s.division
                FROM subjects_scored s JOIN ({compile_sql_many(rules, "duckdb", on)}) g
                USING (subject_id)"""
            )
    if rb.lists:
        _as_subjects(con, "subjects_scored")
        conds = {f"l{i}": spec.when.tree for i, spec in enumerate(rb.lists)}
        hits = ", ".join(f"l.l{i}" for i in range(len(conds)))
        rows = con.execute(
            f"""SELECT s.subject_id, s.score, s.grade, {hits}
            FROM subjects_scored s JOIN ({compile_sql_many(conds, "duckdb", on)}) l
            USING (subject_id)"""
        ).fetchall()
    else:
        rows = con.execute("SELECT subject_id, score, grade FROM subjects_scored").fetchall()
    ids = [spec.id for spec in rb.lists]
    none: tuple[str, ...] = ()
    # most subjects are on no list: skip building an empty tuple for each of them
    return [
        Outcome(r[0], r[1], r[2], none)
        if not any(r[3:])
        else Outcome(r[0], r[1], r[2], tuple(i for i, hit in zip(ids, r[3:], strict=True) if hit))
        for r in rows
    ]


def _as_subjects(con: duckdb.DuckDBPyConnection, table: str) -> None:
    # the compiled conditions read a relation named `subjects`; point it at this stage
    con.execute(f"CREATE OR REPLACE TEMP VIEW subjects AS SELECT * FROM {table}")


def load_inputs(
    con: duckdb.DuckDBPyConnection, subjects: Iterable[SubjectRow], records: Iterable[RecordRow]
) -> None:
    """The subjects and records (as of the evaluation instant) into DuckDB."""
    _load(con, "subjects_input", _SUBJECT_COLUMNS,
          ((s.id, s.kind, s.division or "") for s in subjects))  # fmt: skip
    _load(con, "records", _RECORD_COLUMNS,
          ((r.subject_id, r.category, r.tier, r.decision_type, r.publication_date, r.status,
            r.status_date or "") for r in records))  # fmt: skip


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
