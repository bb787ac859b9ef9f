"""What the API's routes share: the store, the person keyer, the API keys and a check
index that follows the ledger and the evaluation state.

A full rebuild runs in a worker thread on a connection of its own while the previous index
keeps answering; the finished index replaces it in one reference assignment.
"""

from __future__ import annotations

import builtins
import logging
import threading
import time
from datetime import date
from typing import Any

from trustledger.access.keys import ApiKey, authenticate, ensure_table
from trustledger.catalogue import Catalogue, national_catalogue
from trustledger.evaluate.service import subject_profiles as _subject_profiles
from trustledger.evaluate.state import (
    changed_subjects,
    latest_positions,
    list_members,
    state_signature,
)
from trustledger.ids import PersonKeyer
from trustledger.intake.factory import person_keyer
from trustledger.ledger.projection import SubjectRow
from trustledger.ledger.store import Store, open_store
from trustledger.monitoring.points import PointError, point_view, subject_points
from trustledger.monitoring.store import MonitoringStore
from trustledger.rulebook.publish import published_rulebooks
from trustledger.sanctions.check import CheckIndex
from trustledger.sanctions.screening import ScreeningIndex
from trustledger.settings import Settings

log = logging.getLogger(__name__)


class ApiService:
    """The store, the person keyer and the check index, reloaded when the ledger moves.

    A full rebuild runs in a worker thread on a connection of its own while the previous
    index keeps answering; the finished index replaces it in one reference assignment.
    """

    # beyond this many changed subjects a fresh load is cheaper than patching
    FOLLOW_LIMIT = 5000
    # a failed rebuild is tried again after this many seconds, not at every interval
    RETRY_AFTER = 30.0

    def __init__(self, settings: Settings, reload_interval: float) -> None:
        self.settings = settings
        self.reload_interval = reload_interval
        self.lock = threading.Lock()
        self.store: Store = open_store(settings.db_url)
        ensure_table(self.store)
        self.keyer: PersonKeyer | None = person_keyer(settings)
        self.signature, self.index = self._load(self.store)
        self.checked = time.monotonic()
        self.rebuilder: threading.Thread | None = None
        self.index_error: str | None = None
        self.retry_at = 0.0
        # keys found, by the key itself: a check must not cost a database read; the cache is
        # emptied whenever the ledger or the state is looked at again (once per interval)
        self.keys: dict[str, ApiKey] = {}
        self.subjects: dict[str, str] = {}  # valid organisation ids seen (never persons)
        self.catalogue: Catalogue = national_catalogue()
        # built on first use, rebuilt when the ledger grows (under the lock)
        self.screening: ScreeningIndex | None = None
        self.screening_size = -1
        self._mstore: MonitoringStore | None = None

    def _load(self, store: Store) -> tuple[tuple[Any, ...], CheckIndex]:
        # the signature is read before the rows: whatever is written during the load shows
        # as a difference at the next look and is patched in then, never skipped
        signature = state_signature(store)
        return signature, CheckIndex.load(store, timezone=self.settings.timezone)

    @property
    def stale(self) -> bool:
        """The index is known to lag the state: a rebuild is under way or failed."""
        return self.rebuilder is not None or self.index_error is not None

    def current(self) -> CheckIndex:
        # the common case takes no lock: the reference is only ever replaced whole
        if time.monotonic() - self.checked < self.reload_interval:
            return self.index
        with self.lock:
            now = time.monotonic()
            if now - self.checked >= self.reload_interval:
                self.checked = now
                self.keys = {}
                signature = state_signature(self.store)
                if signature != self.signature:
                    self._follow(signature)
            return self.index

    def _follow(self, signature: tuple[Any, ...]) -> None:
        """Bring the index up to the current state: patch just the subjects whose state
        rows are newer than what the index holds (an ingest re-evaluates only the subjects
        it touched); rebuild whole, in the background, when many changed (a batch
        evaluation). Called under the lock."""
        if self.rebuilder is not None or time.monotonic() < self.retry_at:
            # the change since the index's signature includes the big one, so there is no
            # small patch to apply; the rebuild reads every later change, and what lands
            # after its rows were read is patched in at the look that follows the swap
            return
        old_size, old_rows, old_state, old_generation = self.signature
        changed = changed_subjects(self.store, old_size, old_state)
        if (
            len(changed) > self.FOLLOW_LIMIT
            or signature[1] < (old_rows or 0)
            or signature[3] != old_generation  # a whole re-evaluation: any row may differ
        ):
            if signature[1] <= self.FOLLOW_LIMIT:
                # a state this small loads faster than a patch is worked out
                self.signature, self.index = self._load(self.store)
                return
            self.rebuilder = threading.Thread(
                target=self._rebuild, name="check-index-rebuild", daemon=True
            )
            self.rebuilder.start()
            return
        rows = {t: [r for sid in sorted(changed) for r in self.store.state_rows(t, sid)]
                for t in ("state_profiles", "state_lists", "state_measures")}  # fmt: skip
        self.index.replace_subjects(
            changed, rows["state_profiles"], rows["state_lists"], rows["state_measures"],
            latest_positions(self.store, changed),
        )  # fmt: skip
        self.signature = signature

    def _rebuild(self) -> None:
        """The worker thread: load a fresh index on a connection of its own (the shared one
        and the lock stay free for requests), then swap it in."""
        try:
            store = open_store(self.settings.db_url)
            try:
                signature, index = self._load(store)
            finally:
                store.close()
        except Exception as exc:
            log.exception("rebuilding the check index failed; the previous index keeps serving")
            with self.lock:
                self.index_error = f"the last rebuild failed ({type(exc).__name__})"
                self.retry_at = time.monotonic() + self.RETRY_AFTER
                self.rebuilder = None
            return
        with self.lock:
            self.index = index
            self.signature = signature
            self.index_error = None
            self.rebuilder = None
            # look at the state again at the next request: subjects patched while the load
            # ran are newer than the rows it read
            self.checked = float("-inf")

    def close(self) -> None:
        rebuilder = self.rebuilder
        if rebuilder is not None:
            rebuilder.join(timeout=10.0)
        self.store.close()

    def authenticate(self, key: str) -> ApiKey | None:
        found = self.keys.get(key)
        if found is None:
            with self.lock:
                found = authenticate(self.store, key)
            if found is not None:
                self.keys[key] = found
        return found

    def health(self) -> tuple[int, str]:
        with self.lock:
            head = self.store.head()
            return head.size, head.root.hex()

    def subject(self, subject_id: str) -> SubjectRow | None:
        with self.lock:
            row = self.store.get_row("subjects", subject_id)
        return None if row is None else SubjectRow._make(row)

    def profiles(
        self, subject_id: str, rulebook_id: str | None
    ) -> tuple[date, int, builtins.list[dict[str, Any]]]:
        day = self.settings.today()
        with self.lock:
            size = self.store.size()
            found = _subject_profiles(
                self.store, self.catalogue, subject_id, at_us=None, on=day, rulebook_id=rulebook_id
            )
        return day, size, [p.to_json() for p in found]

    def _monitoring(self) -> MonitoringStore:
        if self._mstore is None:
            self._mstore = MonitoringStore(self.store)
        return self._mstore

    def point_view(self, mn: str, days: int) -> dict[str, Any] | None:
        with self.lock:
            try:
                return point_view(self.store, self._monitoring(), mn, days)
            except PointError:
                return None

    def subject_points(self, subject_id: str) -> builtins.list[dict[str, Any]]:
        with self.lock:
            return subject_points(self._monitoring(), subject_id)

    def list_page(
        self, rulebook_id: str, list_id: str, after: str | None, limit: int
    ) -> tuple[builtins.list[tuple[Any, ...]], int, bool]:
        """(up to limit + 1 organisation members after ``after``, persons on the list,
        whether the rulebook publishes that list)."""
        with self.lock:
            rows, persons = list_members(self.store, rulebook_id, list_id, after, limit + 1)
            published = False
            if not rows and not persons:
                rulebook = published_rulebooks(self.store).get(rulebook_id)
                published = rulebook is not None and any(d.id == list_id for d in rulebook.lists)
        return rows, persons, published or bool(rows) or bool(persons)

    def screen(
        self, name: str, region: str | None, address: str | None, limit: int
    ) -> tuple[int, builtins.list[dict[str, Any]]]:
        with self.lock:
            size = self.store.size()
            if self.screening is None or size != self.screening_size:
                rows = (SubjectRow._make(r) for r in self.store.iter_rows("subjects"))
                self.screening = ScreeningIndex.build(rows)
                self.screening_size = size
            found = self.screening.screen(name, region=region, address=address, limit=limit)
        return size, [
            {
                "subject_id": c.subject_id,
                "matched_name": c.matched_name,
                "name_form": c.name_form,
                "score": c.score,
                "features": c.features,
                "outcome": c.outcome,
            }
            for c in found
        ]
