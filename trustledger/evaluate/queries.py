"""The state tables' queries: the SQL of this area over the store's public query interface.

Light to import (no engine): checks and the API follow the state through these.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any, NamedTuple

from trustledger.ledger.store import Store


def restricted_from(store: Store, action: str, on: date, *, prefix: str = "") -> str | None:
    """A subject (the first by id whose id starts with ``prefix``) that a restriction in
    the state bars from ``action`` on day ``on``; None if there is none."""
    day = on.isoformat()
    found = store.query(
        "SELECT subject_id FROM state_measures WHERE kind = 'restriction' AND actions LIKE ? "
        "AND subject_id LIKE ? AND starts <= ? AND (ends IS NULL OR ends > ?) "
        "ORDER BY subject_id LIMIT 1",
        (f'%"{action}"%', f"{prefix}%", day, day),
    )
    return str(found[0][0]) if found else None


def profiles_from_state(store: Store, subject_id: str) -> Sequence[tuple[Any, ...]]:
    return store.state_rows("state_profiles", subject_id)


class StateSignature(NamedTuple):
    """What a reader of the state watches to know it changed."""

    ledger_size: int
    evaluated_to: int | None  # the ledger position of the newest evaluation; None: none yet
    generation: int  # whole evaluations swapped in so far


def state_signature(store: Store) -> StateSignature:
    """The state's signature. Every write of the live state appends its ``state.committed``
    entry in the same transaction, so the ledger's size moves whenever the state does; the
    generation tells a whole re-evaluation (where any row may differ) from a patch. Each
    part is read through an index, so a check server's look costs the same at any size."""
    newest = store.query("SELECT max(ledger_size) FROM state_subjects", ())
    generation = store.query("SELECT value FROM meta WHERE key = 'state_generation'", ())
    return StateSignature(
        store.size(),
        None if newest[0][0] is None else int(newest[0][0]),
        int(generation[0][0]) if generation else 0,
    )


def changed_subjects(store: Store, since_size: int, since_state: int | None) -> set[str]:
    """Subjects evaluated after ledger position ``since_state`` (their rows replaced, or
    removed), or registered, or with a record issued or changed, since ledger size
    ``since_size``: each read through an index, in time proportional to what changed."""
    newer = _from(store, "state_subjects", "subject_id", "ledger_size", (since_state or 0) + 1)
    touched = _from(store, "subjects", "id", "last_seq", since_size)
    recorded = _from(store, "records", "subject_id", "last_seq", since_size)
    return {*newer, *touched, *recorded}


# a look reads at most this many rows through the index, in its order; a larger change is
# read whole (a replica then patches that many subjects anyway)
_LOOK_ROWS = 10_000


def _from(store: Store, table: str, key: str, column: str, bound: int) -> list[str]:
    """``key`` of the rows whose ``column`` is at least ``bound``, through its index.

    The bound is written into the SQL, not bound: PostgreSQL plans a statement its driver
    has prepared for any value after five runs, and for "column >= $1" that plan scans the
    table. The order and the limit keep the index the plan even where the table's
    statistics are stale after a bulk load, which made this a 1.6-2 s scan of 10 M records.
    """
    head = f"SELECT {key} FROM {table} WHERE {column} >= {int(bound)}"
    rows = store.query(f"{head} ORDER BY {column} LIMIT {_LOOK_ROWS + 1}")
    if len(rows) > _LOOK_ROWS:
        rows = store.query(head)
    return [r[0] for r in rows]


def latest_positions(store: Store, subject_ids: Iterable[str] | None = None) -> dict[str, int]:
    """Subject → sequence number of the newest entry about it (its registration, or a
    record about it issued or changed): an evaluation is current for a subject only if it
    reflects the ledger up to there."""
    out: dict[str, int] = {}
    if subject_ids is None:
        rows = [*store.query("SELECT id, last_seq FROM subjects", ()),
                *store.query("SELECT subject_id, max(last_seq) FROM records "
                              "GROUP BY subject_id", ())]  # fmt: skip
    else:
        ids = sorted(set(subject_ids))
        rows = []
        for i in range(0, len(ids), 500):
            part = ids[i : i + 500]
            marks = ", ".join("?" for _ in part)
            rows += store.query(f"SELECT id, last_seq FROM subjects WHERE id IN ({marks})",
                                 tuple(part))  # fmt: skip
            rows += store.query(
                f"SELECT subject_id, max(last_seq) FROM records WHERE subject_id IN ({marks}) "
                "GROUP BY subject_id",
                tuple(part),
            )
    for subject_id, seq in rows:
        out[subject_id] = max(out.get(subject_id, -1), int(seq))
    return out


def list_members(
    store: Store,
    rulebook_id: str,
    list_id: str,
    *,
    on: str,
    division: str = "",
    after: tuple[str, str] | None = None,
    limit: int,
) -> list[tuple[Any, ...]]:
    """A page of the organisations on a list on day ``on`` (the listing effective that day),
    most recent listing first: keyset paging after ``(effective_from, subject_id)``; only
    subjects whose division starts with ``division``."""
    prefix = rulebook_id + "@%"  # ids match ID_PATTERN: no LIKE wildcards in them
    where = (
        " WHERE l.rulebook LIKE ? AND l.list_id = ? AND l.effective_from <= ? AND l.since <= ?"
        " AND (l.until IS NULL OR l.until > ?)"
    )
    args: list[Any] = [prefix, list_id, on, on, on]
    page_where = where + " AND s.kind <> 'person' AND COALESCE(s.division, '') LIKE ?"
    page_args = [*args, division + "%"]
    if after is not None:
        page_where += " AND (l.effective_from < ? OR (l.effective_from = ? AND l.subject_id > ?))"
        page_args += [after[0], after[0], after[1]]
    rows = store.query(
        "SELECT l.subject_id, s.name, l.kind, l.since, l.until, l.records, l.effective_from,"
        " s.division FROM state_lists l JOIN subjects s ON s.id = l.subject_id"
        + page_where
        + " ORDER BY l.effective_from DESC, l.subject_id LIMIT ?",
        (*page_args, limit),
    )
    return rows


def list_persons(store: Store, rulebook_id: str, list_id: str, on: str) -> int:
    """How many persons are on a list on day ``on`` (persons are never paged out)."""
    rows = store.query(
        "SELECT count(*) FROM state_lists l JOIN subjects s ON s.id = l.subject_id"
        " WHERE l.rulebook LIKE ? AND l.list_id = ? AND l.effective_from <= ? AND l.since <= ?"
        " AND (l.until IS NULL OR l.until > ?) AND s.kind = 'person'",
        (rulebook_id + "@%", list_id, on, on, on),
    )
    return int(rows[0][0])


def latest_listings(store: Store, on: str, limit: int) -> list[tuple[Any, ...]]:
    """The organisations most recently listed (effective by ``on``), newest first:
    (rulebook, list id, kind, subject id, name, effective from, until)."""
    return store.query(
        "SELECT l.rulebook, l.list_id, l.kind, l.subject_id, s.name, l.effective_from, l.until"
        " FROM state_lists l JOIN subjects s ON s.id = l.subject_id"
        " WHERE l.effective_from <= ? AND (l.until IS NULL OR l.until > ?)"
        " AND s.kind <> 'person' ORDER BY l.effective_from DESC, l.subject_id LIMIT ?",
        (on, on, limit),
    )


def list_sizes(store: Store, on: str) -> list[tuple[str, str, str, int]]:
    """(rulebook, list id, kind, organisations on it on ``on``) for every list with members."""
    return store.query(
        "SELECT l.rulebook, l.list_id, l.kind, count(*) FROM state_lists l"
        " JOIN subjects s ON s.id = l.subject_id"
        " WHERE l.effective_from <= ? AND l.since <= ? AND (l.until IS NULL OR l.until > ?)"
        " AND s.kind <> 'person' GROUP BY l.rulebook, l.list_id, l.kind"
        " ORDER BY l.rulebook, l.list_id",
        (on, on, on),
    )


def stale_subjects(store: Store) -> set[str]:
    """Subjects whose newest ledger entry is newer than their evaluation, or never
    evaluated (after a crash, or entries written by a run that stopped before
    re-evaluating): each ingest re-evaluates them, whether or not it wrote them. Empty
    while nothing has been evaluated."""
    if not store.has_state():
        return set()
    evaluated = dict(store.query("SELECT subject_id, ledger_size FROM state_subjects"))
    return {s for s, seq in latest_positions(store).items() if seq >= evaluated.get(s, -1)}


def taking_effect(store: Store, after: str, through: str) -> list[str]:
    """Subjects with a listing that took effect in ``(after, through]`` (ISO days): the end
    of a notice period, which time alone brings."""
    rows = store.query(
        "SELECT DISTINCT subject_id FROM state_lists WHERE effective_from > ? "
        "AND effective_from <= ? AND since < effective_from ORDER BY subject_id",
        (after, through),
    )
    return [str(r[0]) for r in rows]


def organisation_counts(store: Store) -> tuple[int, int]:
    """(organisations, records about organisations) in the register."""
    ((organisations,),) = store.query("SELECT count(*) FROM subjects WHERE kind <> 'person'")
    ((records,),) = store.query(
        "SELECT count(*) FROM records r JOIN subjects s ON s.id = r.subject_id"
        " WHERE s.kind <> 'person'"
    )
    return int(organisations), int(records)
