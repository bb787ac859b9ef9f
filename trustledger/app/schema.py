"""The database's schema: what it is, and upgrading one made by an earlier release in place.

An upgrade is only done on a ledger that verifies: the chain and the tree heads are checked
before (a database that already fails is evidence, and is left exactly as it is), the
migration runs in one transaction, and the whole ledger is verified again after, so the
operator sees that the upgrade changed no fact.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from trustledger.app.errors import ConfigError, Conflict

if TYPE_CHECKING:
    from trustledger.ledger.migrate import Status
    from trustledger.ledger.verify import VerifyReport
    from trustledger.settings import Settings


@dataclass(frozen=True)
class Upgrade:
    before: Status
    after: Status
    checked_before: VerifyReport  # chain and tree heads, read under the old schema
    verified_after: VerifyReport | None  # everything, under the new one; None if nothing ran

    @property
    def upgraded(self) -> bool:
        return bool(self.before.pending)

    def to_json(self) -> dict[str, Any]:
        return {
            "upgraded": self.upgraded,
            "before": self.before.to_json(),
            "after": self.after.to_json(),
            "ledger_before": self.checked_before.to_json(),
            "ledger_after": None if self.verified_after is None else self.verified_after.to_json(),
        }


def status(settings: Settings, db_url: str | None = None) -> Status:
    """The schema and revision of the configured database, and what an upgrade would run."""
    from trustledger.ledger.migrate import status as read
    from trustledger.ledger.store import StoreError

    try:
        return read(db_url or settings.db_url)
    except StoreError as exc:
        raise ConfigError(str(exc)) from None


def upgrade(
    settings: Settings,
    db_url: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> Upgrade:
    """Verify the chain, migrate in one transaction, verify everything. Conflict if the
    ledger does not verify before (nothing is changed then); ConfigError if the database
    cannot be upgraded (too old, too new, not a trustledger database)."""
    from trustledger.app.context import Context
    from trustledger.app.ledger import verify
    from trustledger.ledger.migrate import upgrade as migrate
    from trustledger.ledger.store import StoreError, open_store
    from trustledger.ledger.verify import verify_chain

    url = db_url or settings.db_url
    before = status(settings, url)
    if before.schema is None:
        raise ConfigError(f"{url} is not a trustledger database (run `trustledger init`)")
    try:
        store = open_store(url)
    except StoreError as exc:
        raise ConfigError(str(exc)) from None
    with store:
        checked = verify_chain(store, progress)
    if not checked.ok:
        first = checked.problems[0][1] if checked.problems else "unknown problem"
        raise Conflict(
            f"{url}: the ledger does not verify under its current schema (first bad entry "
            f"{checked.first_bad_seq}: {first}); not upgraded — a tampered database is "
            "evidence, keep it as it is and restore from a backup"
        )
    if before.current:
        return Upgrade(before, before, checked, None)
    try:
        migrate(url)
    except StoreError as exc:
        raise ConfigError(str(exc)) from None
    ctx = Context.open(dataclasses.replace(settings, db_url=url))
    with ctx:
        verified = verify(ctx, progress)
    return Upgrade(before, status(settings, url), checked, verified)
