"""The state tables: every subject's profile under every published rulebook, written by
batch evaluation and kept current for the subjects an intake touches.

`state_profiles` holds score, grade and the lists each subject is on; `state_lists` and
`state_measures` hold the memberships and measures in force with their dates. Checks and
pages read these; they are derived data, rebuilt by `trustledger evaluate`.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Literal

import duckdb
import psycopg

from trustledger.catalogue import Catalogue
from trustledger.evaluate.batch import load_inputs, sql_timelines
from trustledger.evaluate.history import holds_as_of, objections_as_of, records_as_of
from trustledger.evaluate.profile import (
    CompiledRulebook,
    Profile,
    compile_rulebook,
    evaluate_subject,
    in_effect,
)
from trustledger.evaluate.spark import DEFAULT_MASTER, SparkConnection
from trustledger.evaluate.whatif import StateFile
from trustledger.ledger.entry import now_us
from trustledger.ledger.projection import Projector, RecordRow, SubjectRow
from trustledger.ledger.store import Store
from trustledger.ledger.tabledigest import facts_size
from trustledger.rulebook.publish import regime_versions

Engine = Literal["python", "duckdb", "postgres", "spark"]


@dataclass
class Summary:
    """What one rulebook's evaluation found."""

    rulebook: str
    subjects: int = 0
    listed: dict[str, int] = field(default_factory=dict)
    grades: dict[str, int] = field(default_factory=dict)
    measures: int = 0


def subjects_and_records_as_of(
    store: Store, at_us: int | None
) -> tuple[list[SubjectRow], list[RecordRow], int]:
    """Subjects and records as of ledger time `at_us` (None: the current projection)."""
    if at_us is None:
        subjects = [SubjectRow._make(r) for r in store.iter_rows("subjects")]
        records = [RecordRow._make(r) for r in store.iter_rows("records")]
        return subjects, records, facts_size(store)
    size = store.size_at(at_us)
    projector = Projector()
    for entry in store.iter_entries():
        if entry.seq >= size:
            break
        projector.apply(entry)
    return (
        list(projector.changed["subjects"].values()),
        list(projector.changed["records"].values()),
        size,
    )


def _rows(
    cr: CompiledRulebook, profile: Profile, on: date, size: int
) -> tuple[tuple[Any, ...], list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    lists = json.dumps([m.list_id for m in profile.lists])
    head = (cr.ref, profile.subject_id, profile.score, profile.grade, lists, on.isoformat(), size)
    memberships = [
        (
            cr.ref,
            m.list_id,
            profile.subject_id,
            m.kind,
            m.since,
            m.until,
            json.dumps(m.records),
            m.effective_from,
        )
        for m in profile.history
    ]
    measures = [
        (cr.ref, m.measure_id, profile.subject_id, m.kind, m.list_id, json.dumps(m.actions),
         m.start, m.end, m.agency, json.dumps(m.extends_to, sort_keys=True))
        for m in profile.measure_history
    ]  # fmt: skip
    return head, memberships, measures


class WhatIfRequired(ValueError):
    """An evaluation known at another instant than now must not touch the live state."""


def evaluate_all(
    store: Store,
    catalogue: Catalogue,
    *,
    at_us: int | None,
    on: date,
    engine: Engine = "duckdb",
    rulebook_id: str | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    what_if: Path | None = None,
    notice: Callable[[str], None] | None = None,
    spark_master: str | None = None,
) -> list[Summary]:
    """Evaluate every subject under every published rulebook (or the one named).

    ``engine`` "spark" runs the SQL on the Spark master ``spark_master`` (default
    local[2]); a master that cannot be used is refused (SparkUnavailable, a ValueError)
    before anything is staged.

    Known now (``at_us`` None) and with no ``what_if`` output, the result becomes the live
    state, swapped in whole at the end: readers see the old state or the new one, and a
    run killed half-way leaves the old one in place (the next run says so through
    ``notice``). Known at another instant, or sent to ``what_if``, it is written to that
    file (the state tables in a SQLite file of their own) and no live answer changes.
    """
    if at_us is not None and what_if is None:
        raise WhatIfRequired(
            "an evaluation known at another instant than now is a what-if: name an output "
            "file for it (--what-if PATH); the live state is always the evaluation known now"
        )
    # every version of every regime, each over its own window: the state answers for any
    # day with the law as it stood that day
    rulebooks = {f"{rid}@{rulebook.effective.from_.isoformat()}": (rulebook, versions)
                 for rid, versions in regime_versions(store, at_us).items()
                 if rulebook_id is None or rid == rulebook_id
                 for rulebook in versions}  # fmt: skip
    # known now and run by an SQL engine, the facts stream from the store into the engine
    # and only the subjects it finds on a list are read back whole: a national store's
    # records do not fit in one process as Python rows (10 M records would take ~20 GB)
    streamed = at_us is None and engine != "python"
    subjects: list[SubjectRow] = []
    records: list[RecordRow] = []
    subject_ids: list[str] = []
    if streamed:
        # the position first: facts newer than it only make a subject look behind (its
        # check answers unknown until refreshed), never current on facts it was not given
        size = facts_size(store)
    else:
        subjects, records, size = subjects_and_records_as_of(store, at_us)
        subject_ids = [s.id for s in subjects]
    records_of: dict[str, list[RecordRow]] = defaultdict(list)
    for record in records:
        records_of[record.subject_id].append(record)
    objections_of = objections_as_of(store, None, size)
    holds_of = holds_as_of(store, None, size)
    # the engine first: one that cannot start (a Spark master out of reach) leaves the
    # stored state as it was, not a rebuild begun and abandoned
    con = _connect(engine, store, spark_master)
    output: _Output | None = None
    try:
        output = _Output(store, what_if, rulebook_id, on, at_us, size)
        if output.interrupted is not None and notice is not None:
            notice(
                "the previous evaluation (started "
                f"{output.interrupted.get('started', 'at an unknown time')}) did not finish: "
                "its partial output was discarded and the state before it stayed in place"
            )
        if streamed:
            load_inputs(con, _noting_ids(store.iter_rows("subjects"), subject_ids),
                        (RecordRow._make(r) for r in store.iter_rows("records")))  # fmt: skip
        elif con is not None:
            load_inputs(con, subjects, records)
        by_id = {s.id: s for s in subjects}
        summaries = []
        for n, (_, (rulebook, versions)) in enumerate(sorted(rulebooks.items())):
            # a transitional rule judges records decided earlier by the versions before
            cr = compile_rulebook(rulebook, catalogue, versions)
            if progress is not None:
                progress(cr.ref, n, len(rulebooks))
            profile_rows: list[tuple[Any, ...]] = []
            list_rows: list[tuple[Any, ...]] = []
            measure_rows: list[tuple[Any, ...]] = []
            if con is not None:
                listed = []
                for o in sql_timelines(con, cr, on):
                    if not o.runs:  # on no list on any day: SQL's verdict is the profile
                        score, grade = _shown(cr, o.score, o.grade, on)
                        profile_rows.append(
                            (cr.ref, o.subject_id, score, grade, "[]", on.isoformat(), size)
                        )
                    else:
                        listed.append(o.subject_id)
                for chunk in _chunks(listed, LISTED_CHUNK if streamed else len(listed) or 1):
                    if streamed:
                        by_id, records_of = _facts_of(store, chunk)
                    for sid in chunk:
                        p = evaluate_subject(cr, by_id[sid], records_of[sid], on,
                                             objections_of.get(sid, ()),
                                             holds_of.get(sid, ()))  # fmt: skip
                        head, memberships, measures = _rows(cr, p, on, size)
                        profile_rows.append(head)
                        list_rows += memberships
                        measure_rows += measures
            else:
                for subject in subjects:
                    p = evaluate_subject(cr, subject, records_of.get(subject.id, []), on,
                                         objections_of.get(subject.id, ()),
                                         holds_of.get(subject.id, ()))  # fmt: skip
                    if p.applicable:
                        head, memberships, measures = _rows(cr, p, on, size)
                        profile_rows.append(head)
                        list_rows += memberships
                        measure_rows += measures
            output.write(profile_rows, list_rows, measure_rows)
            summaries.append(_summary(cr.ref, profile_rows, list_rows, measure_rows, on))
        output.finish(subject_ids)
    except BaseException:
        if output is not None:
            output.abandon()
        raise
    finally:
        if con is not None:
            con.close()
    return summaries


# the listed subjects read back from the store at a time (their rows, then dropped)
LISTED_CHUNK = 5_000


def _noting_ids(rows: Iterable[tuple[Any, ...]], ids: list[str]) -> Iterator[SubjectRow]:
    """The subjects as they stream past, their ids kept (the state marks each evaluated)."""
    for row in rows:
        subject = SubjectRow._make(row)
        ids.append(subject.id)
        yield subject


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _facts_of(
    store: Store, ids: list[str]
) -> tuple[dict[str, SubjectRow], dict[str, list[RecordRow]]]:
    by_id: dict[str, SubjectRow] = {s.id: s for s in store.rows_where("subjects", "id", ids)}
    records_of: dict[str, list[RecordRow]] = defaultdict(list)
    for record in store.rows_where("records", "subject_id", ids):
        records_of[record.subject_id].append(record)
    return by_id, records_of


def _connect(engine: Engine, store: Store, spark_master: str | None) -> Any:
    """The SQL engine's connection (None: the Python engine)."""
    if spark_master is not None and engine != "spark":
        raise ValueError(f"a Spark master ({spark_master!r}) is for the spark engine only")
    if engine == "duckdb":
        return duckdb.connect()
    if engine == "postgres":
        if not store.url.startswith(("postgresql://", "postgres://")):
            raise ValueError("the postgres engine evaluates inside a PostgreSQL store")
        # a connection of its own: its temporary tables shadow the store's `subjects`
        return psycopg.connect(store.url, autocommit=True)
    if engine == "spark":
        return SparkConnection.open(spark_master or DEFAULT_MASTER)
    if engine != "python":
        raise ValueError(f"unknown engine {engine!r}: python, duckdb, postgres or spark")
    return None


def _summary(
    ref: str,
    profiles: list[tuple[Any, ...]],
    lists: list[tuple[Any, ...]],
    measures: list[tuple[Any, ...]],
    on: date,
) -> Summary:
    """Counts on the evaluation's day (the state also holds past and future runs)."""
    day = on.isoformat()
    # in effect that day (a pending listing, in its notice period, is not counted)
    current = [
        r for r in lists if r[7] is not None and r[7] <= day and (r[5] is None or day < r[5])
    ]
    return Summary(
        ref,
        len(profiles),
        dict(Counter(row[1] for row in current)),
        dict(Counter(row[3] for row in profiles if row[3])),
        sum(1 for m in measures if m[6] <= day and (m[7] is None or day < m[7])),
    )


class _Output:
    """Where an evaluation goes: the live state (staged, then swapped in) or a what-if
    file."""

    def __init__(
        self,
        store: Store,
        what_if: Path | None,
        rulebook_id: str | None,
        on: date,
        at_us: int | None,
        size: int,
    ) -> None:
        self.store, self.size, self.what_if = store, size, what_if
        self.meta = {
            "state_on": on.isoformat(),
            "state_known_at_us": str(at_us if at_us is not None else now_us()),
            "state_ledger_size": str(size),
            "state_rulebook": rulebook_id or "",
        }
        self.interrupted = None
        if what_if is None:
            self.interrupted = store.interrupted_state_rebuild()
            store.begin_state_rebuild(
                {"started": datetime.now(UTC).isoformat(timespec="seconds"), **self.meta},
                keep_except=rulebook_id,
            )
            self.file: StateFile | None = None
        else:
            self.file = StateFile.create(what_if)

    def write(
        self,
        profiles: list[tuple[Any, ...]],
        lists: list[tuple[Any, ...]],
        measures: list[tuple[Any, ...]],
    ) -> None:
        if self.file is not None:
            self.file.write(profiles, lists, measures)
        else:
            self.store.stage_state(profiles, lists, measures, (), self.size)

    def finish(self, subject_ids: list[str]) -> None:
        if self.file is not None:
            self.file.finish(self.meta)
            return
        self.store.stage_state((), (), (), subject_ids, self.size)
        self.store.finish_state_rebuild(self.meta)

    def abandon(self) -> None:
        if self.file is not None:
            self.file.abandon()


def _shown(cr: CompiledRulebook, score: int, grade: str, on: date) -> tuple[int | None, str | None]:
    # the same conventions as Profile: no score without a points form, no grade without
    # one, neither on a day the rulebook is not in effect
    if not in_effect(cr.rulebook, on):
        return None, None
    form = cr.rulebook.score.form
    return (score if form in ("points", "percent") else None), (grade if form != "none" else None)


def refresh_subjects(
    store: Store, catalogue: Catalogue, subject_ids: Iterable[str], *, on: date
) -> int:
    """Re-evaluate just these subjects under every published rulebook (after an intake)."""
    ids = sorted(set(subject_ids))
    if not ids:
        return 0
    regimes = regime_versions(store)
    if not regimes:
        return 0
    subjects: dict[str, SubjectRow] = {s.id: s for s in store.rows_where("subjects", "id", ids)}
    size = facts_size(store)
    records = {sid: records_as_of(store, sid) for sid in subjects}
    objections = objections_as_of(store, list(subjects), size)
    holds = holds_as_of(store, list(subjects), size)
    changes: list[tuple[str, list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[Any, ...]]]]
    changes = []
    for rid, versions in sorted(regimes.items()):
        # the rows of every version of the regime replace the regime's rows together
        rows: tuple[list[tuple[Any, ...]], ...] = ([], [], [])
        for rulebook in versions:
            cr = compile_rulebook(rulebook, catalogue, versions)
            for sid, subject in subjects.items():
                p = evaluate_subject(
                    cr, subject, records[sid], on, objections.get(sid, ()), holds.get(sid, ())
                )
                if p.applicable:
                    head, memberships, measures = _rows(cr, p, on, size)
                    rows[0].append(head)
                    rows[1].extend(memberships)
                    rows[2].extend(measures)
        changes.append((rid, rows[0], rows[1], rows[2]))
    # one transaction for every rulebook: a reader never sees a subject half re-evaluated
    store.replace_states(changes, list(subjects), ledger_size=size, on=on.isoformat())
    return len(subjects)


def refresh_if_evaluated(
    store: Store, catalogue: Catalogue, subject_ids: Iterable[str], *, on: date
) -> int:
    """Keep the state current for the subjects new entries are about, once evaluation has
    run (a store nobody has evaluated has no state to keep current); the check index
    answers "unknown" for a subject whose state is older than its entries."""
    ids = set(subject_ids)
    if not ids or not store.has_state():
        return 0
    return refresh_subjects(store, catalogue, ids, on=on)
