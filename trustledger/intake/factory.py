"""Wiring an Intake from settings: the catalogue, the person key, the allow-list."""

from __future__ import annotations

import os
from typing import Protocol

from trustledger.catalogue import national_catalogue
from trustledger.ids import (
    ENV_PERSON_KEY,
    PersonKeyer,
    create_person_key_file,
    load_allowlist,
    load_person_key,
)
from trustledger.intake.service import Intake
from trustledger.ledger.store import Store
from trustledger.settings import Settings


def person_keyer(settings: Settings, *, create: bool = False) -> PersonKeyer | None:
    """The person keyer; None when no key is configured at all (person records are refused).

    A key that is configured but unreadable raises PersonKeyError: silently running without
    it would refuse every person record for the wrong reason.
    """
    configured = (
        bool(os.environ.get(ENV_PERSON_KEY, "").strip()) or settings.person_key_file.exists()
    )
    if configured:
        return PersonKeyer(load_person_key(os.environ, settings.person_key_file))
    if create:
        return PersonKeyer(create_person_key_file(settings.person_key_file))
    return None


class Notes(Protocol):
    """Where a note for the operator goes: anything with a ``print(text)`` (the CLI passes
    its console and renders; the intake itself formats nothing)."""

    def print(self, text: str, /) -> None: ...


NO_PERSON_KEY = "note: no person key configured; records about persons will be rejected"


def make_intake(store: Store, settings: Settings, notes: Notes | None = None) -> Intake:
    keyer = person_keyer(settings)
    if keyer is None and notes is not None:
        notes.print(NO_PERSON_KEY)
    allowlist = load_allowlist(settings.uscc_allowlist) if settings.uscc_allowlist else frozenset()
    return Intake(store, national_catalogue(), keyer, today=settings.today(), allowlist=allowlist)
