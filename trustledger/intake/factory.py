"""Wiring an Intake from settings: the catalogue, the person key, the allow-list."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Protocol

from trustledger.catalogue import national_catalogue
from trustledger.ids import (
    ENV_PERSON_KEY,
    ENV_PERSON_KEY_FILE,
    PersonKeyer,
    PersonKeyring,
    create_person_key_file,
    load_allowlist,
    load_person_keyring,
    person_key_versions,
)
from trustledger.intake.service import Intake
from trustledger.ledger.store import Store
from trustledger.settings import Settings


def person_keyer(settings: Settings, *, create: bool = False) -> PersonKeyring | None:
    """The person keyer; None when no key is configured at all (person records are refused).

    A key that is configured but unreadable raises PersonKeyError: silently running without
    it would refuse every person record for the wrong reason.
    """
    named = os.environ.get(ENV_PERSON_KEY_FILE, "").strip()
    base = Path(named) if named else settings.person_key_file
    configured = bool(os.environ.get(ENV_PERSON_KEY, "").strip()) or (
        # a retired version-1 file may have been destroyed after a rotation
        settings.person_key_file.exists() or bool(person_key_versions(base))
    )
    if configured:
        return load_person_keyring(os.environ, settings.person_key_file)
    if create:
        return PersonKeyring(PersonKeyer(create_person_key_file(settings.person_key_file)))
    return None


class Notes(Protocol):
    """Where a note for the operator goes: anything with a ``print(text)`` (the CLI passes
    its console and renders; the intake itself formats nothing)."""

    def print(self, text: str, /) -> None: ...


NO_PERSON_KEY = "note: no person key configured; records about persons will be rejected"


def key_file_exposed(path: Path) -> str | None:
    """A warning when the person key file can be read by others than its owner: with the
    key, anyone can recompute every person id from the small space of ID numbers."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return None
    if not mode & 0o077:
        return None
    return (
        f"warning: the person key file {path} is readable by others (mode {mode:04o}); "
        f"make it private: chmod 600 {path}"
    )


def make_intake(
    store: Store,
    settings: Settings,
    notes: Notes | None = None,
    keyer: PersonKeyer | None = None,
) -> Intake:
    """``keyer``: the caller's (one that resolves ids across rotated keys); else loaded."""
    keyer = keyer if keyer is not None else person_keyer(settings)
    if keyer is None and notes is not None:
        notes.print(NO_PERSON_KEY)
    if keyer is not None and notes is not None and not os.environ.get(ENV_PERSON_KEY, "").strip():
        # the file the key was read from (load_person_key's choice)
        named = os.environ.get(ENV_PERSON_KEY_FILE, "").strip()
        exposed = key_file_exposed(Path(named) if named else settings.person_key_file)
        if exposed is not None:
            notes.print(exposed)
    allowlist = load_allowlist(settings.uscc_allowlist) if settings.uscc_allowlist else frozenset()
    return Intake(store, national_catalogue(), keyer, today=settings.today(), allowlist=allowlist)
