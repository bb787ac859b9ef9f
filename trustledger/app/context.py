"""The one context every use case runs in: settings, the open store, the catalogue, the
person keyer and a clock.

Built once per request or command (``Context.open``) and closed after it. The catalogue and
the person keyer are loaded on first use, so a use case that needs neither (a ledger head,
a check) does not pay for them.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cached_property
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from trustledger.app.errors import ConfigError
from trustledger.settings import Settings

if TYPE_CHECKING:
    from trustledger.catalogue import Catalogue
    from trustledger.ids import PersonKeyer
    from trustledger.ledger.store import Store


@dataclass(frozen=True)
class Clock:
    """Now (ledger µs) and today (on the configured calendar). ``fixed_us`` pins both."""

    timezone: str = "Asia/Shanghai"
    fixed_us: int | None = None

    def now_us(self) -> int:
        return time.time_ns() // 1000 if self.fixed_us is None else self.fixed_us

    def now(self) -> datetime:
        """Now as an aware date-time in the configured zone."""
        return datetime.fromtimestamp(self.now_us() / 1_000_000, ZoneInfo(self.timezone))

    def today(self) -> date:
        return self.now().date()


@dataclass
class Context:
    settings: Settings
    store: Store
    clock: Clock
    # a keyer injected by the caller (tests, a server that holds the key) wins over settings
    _keyer: PersonKeyer | None = field(default=None, repr=False)

    @classmethod
    def open(
        cls,
        settings: Settings | None = None,
        *,
        db_url: str | None = None,
        must_exist: bool = True,
        clock: Clock | None = None,
        keyer: PersonKeyer | None = None,
    ) -> Context:
        """Open the configured store. ``must_exist``: refuse a database never initialised
        (and create tables added by later versions in one that was)."""
        from trustledger.ledger.store import StoreError, open_store

        settings = settings or Settings.from_env()
        if db_url:
            settings = dataclasses.replace(settings, db_url=db_url)
        try:
            store = open_store(settings.db_url)
        except StoreError as exc:
            raise ConfigError(str(exc)) from None
        if must_exist:
            try:
                store.meta()
                store.init()
            except StoreError as exc:
                store.close()
                raise ConfigError(str(exc)) from None
        return cls(settings, store, clock or Clock(settings.timezone), _keyer=keyer)

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Context:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @cached_property
    def catalogue(self) -> Catalogue:
        from trustledger.catalogue import national_catalogue

        return national_catalogue()

    def person_keyer(self, *, create: bool = False) -> PersonKeyer | None:
        """The person keyer, or None when no key is configured (person records refused)."""
        if self._keyer is not None:
            return self._keyer
        from trustledger.app.person_links import attach
        from trustledger.ids import PersonKeyError
        from trustledger.intake.factory import person_keyer

        try:
            keyring = person_keyer(self.settings, create=create)
        except PersonKeyError as exc:
            raise ConfigError(str(exc)) from None
        # after a rotation, ids are resolved across the kept key versions (app.person_keys)
        self._keyer = None if keyring is None else attach(self.store, keyring)
        return self._keyer

    @property
    def keyer(self) -> PersonKeyer | None:
        return self.person_keyer()

    def now_us(self) -> int:
        return self.clock.now_us()

    def today(self) -> date:
        return self.clock.today()
