"""Wiring an Intake from settings: the catalogue, the person key, the allow-list."""

from __future__ import annotations

import os

from rich.console import Console

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


def make_intake(store: Store, settings: Settings, console: Console | None = None) -> Intake:
    keyer = person_keyer(settings)
    if keyer is None and console is not None:
        console.print(
            "[yellow]note:[/yellow] no person key configured; records about persons "
            "will be rejected"
        )
    allowlist = load_allowlist(settings.uscc_allowlist) if settings.uscc_allowlist else frozenset()
    return Intake(store, national_catalogue(), keyer, today=settings.today(), allowlist=allowlist)
