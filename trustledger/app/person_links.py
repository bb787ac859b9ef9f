"""Resolving a person's stable id across person-key versions (see ``app.person_keys``).

Kept apart from ``person_keys`` because the context attaches the resolver when it loads
the keys, and the use cases of ``person_keys`` need the context.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from trustledger.ids import PersonKeyring
    from trustledger.ledger.store import Store

__all__ = ["Linker", "attach", "known_person_ids"]


def known_person_ids(store: Store) -> dict[str, int]:
    """Every person id the stored facts hold, with the first ledger position naming it."""
    first: dict[str, int] = {}

    def see(pid: str | None, seq: int) -> None:
        if pid and pid.startswith("P") and (pid not in first or seq < first[pid]):
            first[pid] = seq

    for pid, seq in store.query("SELECT id, registered_seq FROM subjects WHERE kind = 'person'"):
        see(pid, int(seq))
    rows = store.query(
        "SELECT subject_id, legal_representative, restricted_persons, issued_seq FROM records "
        "WHERE subject_id LIKE ? OR legal_representative IS NOT NULL "
        "OR restricted_persons IS NOT NULL",
        ("P%",),
    )
    for subject, representative, restricted, seq in rows:
        see(subject, int(seq))
        see(representative, int(seq))
        for ids in json.loads(restricted or "{}").values():
            for pid in ids:
                see(pid, int(seq))
    for pid, seq in store.query(
        "SELECT subject_id, seq FROM exceptions WHERE subject_id LIKE ?", ("P%",)
    ):
        see(pid, int(seq))
    return first


class Linker:
    """Turns the hashes of one ID number (current key first, then each retired key newest
    first) into the person's stable id, remembering the links it found for
    ``record_links``.

    Loaded once, eagerly, before any fork (bulk intake checks lines in a child process
    that must not touch the database): the links and the ids known when it was built.
    Persons first seen after the rotation have ids under the current key, so the ids known
    under retired keys cannot grow after it: nothing it loaded goes stale but the links,
    which it adds itself.
    """

    def __init__(self, store: Store) -> None:
        self.links: dict[str, str] = dict(store.query("SELECT id, subject_id FROM person_links"))
        self.known = frozenset(known_person_ids(store))
        # new hash → (stable id, its version, the older version that found the person)
        self.pending: dict[str, tuple[str, int, int]] = {}

    def __call__(self, hashes: list[tuple[int, str]]) -> str:
        (version, current), *older = hashes
        found = self.links.get(current)
        if found is not None:
            return found
        if current in self.known:
            return current
        for old_version, old in older:
            stable = self.links.get(old) or (old if old in self.known else None)
            if stable is not None:
                self.links[current] = stable
                self.pending[current] = (stable, version, old_version)
                return stable
        return current  # a person never seen before: their id is under the current key


def attach(store: Store, keyring: PersonKeyring) -> PersonKeyring:
    """Give a keyring with retired keys its resolver over this store."""
    if keyring.retired and keyring.resolver is None:
        keyring.resolver = Linker(store)
    return keyring
