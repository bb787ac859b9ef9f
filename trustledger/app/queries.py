"""The SQL of the application layer, over the store's public query interface.

Every statement uses `?` placeholders (the store translates them for PostgreSQL) and reads
by indexed columns where the tables have them, so one subject's question reads that
subject's rows, not the table.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from trustledger.ledger.store import Store

STATE_TABLES = ("state_profiles", "state_lists", "state_measures")


def subject_exists(store: Store, subject_id: str) -> bool:
    return store.get_row("subjects", subject_id) is not None


def state_of(store: Store, subject_id: str) -> tuple[list[tuple[Any, ...]], ...]:
    """(profiles, list memberships, measures) of one subject, as the state tables hold them."""
    return tuple(store.state_rows(table, subject_id) for table in STATE_TABLES)


def measures_extending_to(store: Store, person_id: str) -> list[tuple[Any, ...]]:
    """Restrictions on organisations that reach this person (their ``extends_to`` names
    the person's keyed id). Person ids are hex: no LIKE wildcards in them."""
    rows = store.query(
        "SELECT * FROM state_measures WHERE kind = 'restriction' AND extends_to LIKE ? "
        "ORDER BY 1, 2, 3",
        (f'%"{person_id}"%',),
    )
    # the LIKE is a prefilter; the JSON is the truth
    return [
        row for row in rows if any(person_id in persons for persons in json.loads(row[9]).values())
    ]


def exceptions_of(store: Store, subject_id: str, size: int | None = None) -> list[Any]:
    """The courts' grants of exceptions to this subject (or person), those among the first
    ``size`` entries of the ledger when given."""
    rows = store.rows_where("exceptions", "subject_id", [subject_id])
    return [row for row in rows if size is None or row.seq < size]


def restricted_candidates(
    store: Store, action: str, *, prefix: str = "", limit: int = 50
) -> list[str]:
    """Subjects (ids starting with ``prefix``) with a restriction naming ``action`` in the
    state, by id: candidates to try; the check use case says which are denied today."""
    rows = store.query(
        "SELECT DISTINCT subject_id FROM state_measures WHERE kind = 'restriction' "
        "AND actions LIKE ? AND subject_id LIKE ? ORDER BY subject_id LIMIT ?",
        (f'%"{action}"%', f"{prefix}%", limit),
    )
    return [str(r[0]) for r in rows]


def listed_subjects(store: Store, *, kind: str, prefix: str = "", limit: int = 50) -> list[str]:
    """Subjects on a list of this kind (black, red) in the state, by id."""
    rows = store.query(
        "SELECT DISTINCT subject_id FROM state_lists WHERE kind = ? AND subject_id LIKE ? "
        "ORDER BY subject_id LIMIT ?",
        (kind, f"{prefix}%", limit),
    )
    return [str(r[0]) for r in rows]


def evaluated_subjects(store: Store, *, prefix: str = "", limit: int = 50) -> list[str]:
    rows = store.query(
        "SELECT DISTINCT subject_id FROM state_profiles WHERE subject_id LIKE ? "
        "ORDER BY subject_id LIMIT ?",
        (f"{prefix}%", limit),
    )
    return [str(r[0]) for r in rows]


def subjects_by_id(store: Store, ids: Sequence[str]) -> list[Any]:
    return store.rows_where("subjects", "id", list(ids))


# --- the persisted screening index ----------------------------------------------------
# Grams of every organisation's name forms, one row per (gram, subject). Built once, then
# brought up to date from `subjects.last_seq` on each screening: a lookup reads the rows of
# the query's grams and the shortlisted subjects only.

SCREEN_DDL = (
    "CREATE TABLE IF NOT EXISTS screen_grams (gram TEXT NOT NULL, subject_id TEXT NOT NULL, "
    "PRIMARY KEY (gram, subject_id))",
    "CREATE INDEX IF NOT EXISTS screen_grams_subject ON screen_grams (subject_id)",
    "CREATE TABLE IF NOT EXISTS screen_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
)


def screen_tables(store: Store) -> None:
    store.create_tables(SCREEN_DDL)


def screen_indexed_seq(store: Store) -> int:
    """Subjects changed at or after this ledger position are not yet in the index."""
    rows = store.query("SELECT value FROM screen_meta WHERE key = 'indexed_to'")
    return int(rows[0][0]) if rows else 0


def subjects_changed_since(store: Store, seq: int) -> list[Any]:
    rows = store.query("SELECT id FROM subjects WHERE last_seq >= ? AND kind <> 'person'", (seq,))
    ids = [str(r[0]) for r in rows]
    return store.rows_where("subjects", "id", ids) if ids else []


def replace_screen_grams(
    store: Store, changed: Iterable[tuple[str, Iterable[str]]], indexed_to: int
) -> int:
    """Replace the grams of these subjects and record how far the index reaches."""
    changed = list(changed)
    with store.transaction():
        if changed:
            store.execute(
                "DELETE FROM screen_grams WHERE subject_id = ?", [(sid,) for sid, _ in changed]
            )
            rows = [(gram, sid) for sid, grams in changed for gram in sorted(set(grams))]
            for i in range(0, len(rows), 50_000):
                store.execute(
                    "INSERT INTO screen_grams (gram, subject_id) VALUES (?, ?)",
                    rows[i : i + 50_000],
                )
        store.execute(
            "INSERT INTO screen_meta (key, value) VALUES ('indexed_to', ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [(str(indexed_to),)],
        )
    return len(changed)


def gram_hits(store: Store, grams: Sequence[str], cap: int) -> dict[str, int]:
    """Subject → how many of ``grams`` its names share, leaving out grams found in more
    than ``cap`` subjects (they select nothing; the in-memory index drops them too)."""
    hits: dict[str, int] = {}
    grams = sorted(set(grams))
    for i in range(0, len(grams), 200):
        part = grams[i : i + 200]
        marks = ", ".join("?" for _ in part)
        common = {
            str(g)
            for g, n in store.query(
                f"SELECT gram, count(*) FROM screen_grams WHERE gram IN ({marks}) GROUP BY gram",
                part,
            )
            if int(n) > cap
        }
        use = [g for g in part if g not in common]
        if not use:
            continue
        marks = ", ".join("?" for _ in use)
        for sid, n in store.query(
            f"SELECT subject_id, count(*) FROM screen_grams WHERE gram IN ({marks}) "
            "GROUP BY subject_id",
            use,
        ):
            hits[str(sid)] = hits.get(str(sid), 0) + int(n)
    return hits


# --- standing of a few subjects, for screening ------------------------------------------


def effective_listings(
    store: Store, subject_ids: Sequence[str], on: str
) -> list[tuple[str, str, str, str, str, str | None, str]]:
    """(subject, rulebook id@version, list id, kind, since, until, effective from) of every
    listing in the live state that is effective on day ``on``: inside its run and past its
    notice period (a pending listing — no ``effective_from`` yet, or a later one — denies
    nothing and is not published, so it is not "listed")."""
    out: list[tuple[str, str, str, str, str, str | None, str]] = []
    ids = sorted(set(subject_ids))
    for i in range(0, len(ids), 500):
        part = ids[i : i + 500]
        marks = ", ".join("?" for _ in part)
        rows = store.query(
            "SELECT subject_id, rulebook, list_id, kind, since, until, effective_from "
            "FROM state_lists "
            f"WHERE subject_id IN ({marks}) AND effective_from IS NOT NULL "
            "AND effective_from <= ? AND since <= ? AND (until IS NULL OR until > ?) "
            "ORDER BY subject_id, rulebook, list_id, since",
            (*part, on, on, on),
        )
        out += [(str(s), str(r), str(lid), str(k), str(a), None if u is None else str(u), str(e))
                for s, r, lid, k, a, u, e in rows]  # fmt: skip
    return out


def evaluated_positions(store: Store, subject_ids: Sequence[str]) -> dict[str, int]:
    """Subject → the ledger size its live evaluation reflects (absent: never evaluated)."""
    out: dict[str, int] = {}
    ids = sorted(set(subject_ids))
    for i in range(0, len(ids), 500):
        part = ids[i : i + 500]
        marks = ", ".join("?" for _ in part)
        rows = store.query(
            f"SELECT subject_id, ledger_size FROM state_subjects WHERE subject_id IN ({marks})",
            part,
        )
        out.update((str(s), int(n)) for s, n in rows)
    return out
