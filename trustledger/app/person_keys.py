"""Rotating the person key without losing a person: key versions, links, status.

A person keeps the id derived under the key that was current when they were first seen.
After a rotation the same ID number hashes differently under the new key, and the number
itself is never stored, so the two hashes can only be related when the number is presented
again (intake of a decision naming the person, a check or a profile by ID number, a
subject's API key). At that moment the resolver below finds the stable id through a
retired key and the intake or check writes a ``person_key.linked`` entry (the new hash, its
version, the stable id: never the number); from then on the current key alone finds the
person, through the ``person_links`` projection. A retired key is kept until every person
that needs it is linked: ``status`` counts those still unlinked per version. Destroying a
retired key file earlier leaves its unlinked persons' records in place under their ids,
but nobody can reach them by ID number any more (only by the person id itself).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trustledger.app.errors import ConfigError
from trustledger.app.person_links import Linker, attach, known_person_ids
from trustledger.domain import EntryKind

if TYPE_CHECKING:
    from trustledger.app.context import Context
    from trustledger.ledger.store import Store

__all__ = [
    "Linker",
    "Rotation",
    "Status",
    "attach",
    "known_person_ids",
    "pending",
    "record_links",
    "rotate",
    "status",
]


def _linker(ctx: Context) -> Linker | None:
    keyer = ctx.keyer
    resolver = getattr(keyer, "resolver", None)
    return resolver if isinstance(resolver, Linker) else None


def pending(ctx: Context) -> bool:
    """Whether lookups found persons through a retired key that are not linked yet."""
    linker = _linker(ctx)
    return linker is not None and bool(linker.pending)


def record_links(ctx: Context) -> int:
    """Append a ``person_key.linked`` entry for each link found and not yet on record (in
    one transaction); returns how many were written. Idempotent: a link already in
    ``person_links`` is not written again."""
    linker = _linker(ctx)
    if linker is None or not linker.pending:
        return 0
    found = dict(linker.pending)
    store = ctx.store
    written = 0
    with store.writer() as w:
        for new_hash, (stable, version, from_version) in sorted(found.items()):
            if w.get("person_links", new_hash) is not None:
                continue
            w.append(EntryKind.PERSON_KEY_LINKED.value, {
                "hash": new_hash, "version": version, "subject": stable,
                "from_version": from_version,
            })  # fmt: skip
            written += 1
    for new_hash in found:
        linker.pending.pop(new_hash, None)
    return written


@dataclass(frozen=True)
class Rotation:
    old_version: int
    old_fingerprint: str
    version: int
    fingerprint: str
    path: Path
    seq: int

    def to_json(self) -> dict[str, Any]:
        return {"old_version": self.old_version, "old_fingerprint": self.old_fingerprint,
                "version": self.version, "fingerprint": self.fingerprint,
                "key_file": str(self.path), "seq": self.seq}  # fmt: skip


def _base_file(ctx: Context) -> Path:
    from trustledger.ids import ENV_PERSON_KEY_FILE

    named = os.environ.get(ENV_PERSON_KEY_FILE, "").strip()
    return Path(named) if named else ctx.settings.person_key_file


def _ledger_versions(store: Store) -> list[tuple[int, str, int]]:
    """(version, fingerprint, seq) of each rotation on record, oldest first."""
    rows = store.query("SELECT version, fingerprint, seq FROM person_keys ORDER BY version")
    return [(int(v), str(f), int(s)) for v, f, s in rows]


def _expected(store: Store) -> tuple[int, str | None]:
    """The version and fingerprint of the key the database expects to be current."""
    rotations = _ledger_versions(store)
    if rotations:
        return rotations[-1][0], rotations[-1][1]
    return 1, store.meta().get("person_key_fingerprint")


def rotate(ctx: Context) -> Rotation:
    """Make a new person key current: written 0600 as ``<key file>.v<N+1>`` (never over an
    existing file), the old key kept for lookups, the rotation on record (version and
    fingerprint, never the key) and the database's expected fingerprint moved to it, in one
    transaction; the new file is removed again if that transaction fails."""
    from trustledger.ids import (
        ENV_PERSON_KEY,
        PersonKeyer,
        create_person_key_file,
        person_key_path,
    )
    from trustledger.intake.factory import key_file_exposed

    if os.environ.get(ENV_PERSON_KEY, "").strip():
        raise ConfigError(
            f"the person key is given inline ({ENV_PERSON_KEY}); rotation writes key files: "
            "put the key in the key file (TRUSTLEDGER_PERSON_KEY_FILE) and unset "
            f"{ENV_PERSON_KEY} first"
        )
    keyring = ctx.person_keyer()
    if keyring is None:
        raise ConfigError("no person key to rotate: this platform has none configured")
    base = _base_file(ctx)
    current_path = person_key_path(base, keyring.version)
    exposed = key_file_exposed(current_path)
    if exposed is not None:
        raise ConfigError(f"refusing to rotate: {exposed.removeprefix('warning: ')}")
    store = ctx.store
    version, fingerprint = _expected(store)
    if fingerprint is not None and (version, fingerprint) != (
        keyring.version,
        keyring.fingerprint(),
    ):
        raise ConfigError(
            f"the current person key (version {keyring.version}, fingerprint "
            f"{keyring.fingerprint()}) is not the one this database expects (version "
            f"{version}, fingerprint {fingerprint}): restore that key file before rotating"
        )
    new_version = keyring.version + 1
    path = person_key_path(base, new_version)
    try:
        new = PersonKeyer(create_person_key_file(path), new_version)
    except FileExistsError:
        raise ConfigError(
            f"refusing to rotate: {path} exists already (a key version this database has "
            "no record of); move it away if it is not in use"
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc.strerror}") from None
    try:
        with store.writer() as w:
            entry = w.append(EntryKind.PERSON_KEY_ROTATED.value, {
                "version": new_version, "fingerprint": new.fingerprint(),
                "previous_version": keyring.version,
                "previous_fingerprint": keyring.fingerprint(),
            })  # fmt: skip
            store.execute(
                "UPDATE meta SET value = ? WHERE key = 'person_key_fingerprint'",
                [(new.fingerprint(),)],
            )
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    # the context's keyring is the old one: the next use loads the new version with it
    ctx._keyer = None
    return Rotation(keyring.version, keyring.fingerprint(), new_version, new.fingerprint(),
                    path, entry.seq)  # fmt: skip


@dataclass(frozen=True)
class VersionStatus:
    version: int
    fingerprint: str | None
    since_seq: int | None  # the rotation that made it current; None: the first key
    key_file: Path
    kept: bool  # whether its key file is still there
    persons: int  # persons whose id was derived under this version
    linked: int  # of those, linked to the current version
    unlinked: int

    def to_json(self) -> dict[str, Any]:
        return {"version": self.version, "fingerprint": self.fingerprint,
                "since_seq": self.since_seq, "key_file": str(self.key_file),
                "kept": self.kept, "persons": self.persons, "linked": self.linked,
                "unlinked": self.unlinked}  # fmt: skip


@dataclass(frozen=True)
class Status:
    current: int
    versions: list[VersionStatus] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"current": self.current, "versions": [v.to_json() for v in self.versions]}


def _version_at(rotations: Iterable[tuple[int, str, int]], seq: int) -> int:
    version = 1
    for v, _, since in rotations:
        if since < seq:
            version = v
    return version


def status(ctx: Context) -> Status:
    """Each key version the ledger knows, whether its file is kept, and how many persons
    whose id it derived are linked to the current version (or still need it)."""
    from trustledger.ids import person_key_path, person_key_versions

    store = ctx.store
    rotations = _ledger_versions(store)
    base = _base_file(ctx)
    kept = set(person_key_versions(base))
    first_fp = store.meta().get("person_key_fingerprint") if not rotations else None
    current = rotations[-1][0] if rotations else 1
    linked_to_current = {
        str(s)
        for (s,) in store.query("SELECT subject_id FROM person_links WHERE version = ?", (current,))
    }
    by_version: dict[int, list[str]] = {}
    for pid, seq in known_person_ids(store).items():
        by_version.setdefault(_version_at(rotations, seq), []).append(pid)
    fingerprints: dict[int, str | None] = {v: f for v, f, _ in rotations}
    since = {v: s for v, _, s in rotations}
    if rotations:
        # the first key's fingerprint left meta at the first rotation, which names it
        first = store.entry(rotations[0][2])
        fingerprints.setdefault(1, first.payload_obj()["previous_fingerprint"] if first else None)
    else:
        fingerprints[1] = first_fp
    out = []
    for v in range(1, current + 1):
        persons = by_version.get(v, [])
        linked = 0 if v == current else sum(1 for p in persons if p in linked_to_current)
        unlinked = 0 if v == current else len(persons) - linked
        out.append(VersionStatus(v, fingerprints.get(v), since.get(v), person_key_path(base, v),
                                 v in kept, len(persons), linked, unlinked))  # fmt: skip
    return Status(current, out)
