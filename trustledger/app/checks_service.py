"""The check index a server answers from, and how it follows the ledger.

Policy (what a long-running face such as the API gets by holding one ``CheckService``):

- the in-memory ``CheckIndex`` is looked at against the state at most once per
  ``reload_interval`` seconds (1 s by default): between looks a check costs no database
  read and takes no lock;
- when a look finds the state moved, the subjects whose state rows (or ledger entries) are
  newer than what the index holds are patched in place (an ingest re-evaluates only the
  subjects it touched);
- when many changed (more than ``FOLLOW_LIMIT``), or a whole re-evaluation ran, a fresh
  index is loaded: directly when the state is small, otherwise in a worker thread on a
  connection of its own while the previous index keeps answering; the finished index
  replaces it in one reference assignment (readers see the old index or the new one,
  never a mix);
- a failed rebuild is logged, reported (``index_error``, ``stale``) and tried again after
  ``RETRY_AFTER`` seconds; the previous index keeps serving meanwhile.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from trustledger.evaluate.queries import StateSignature
    from trustledger.ledger.store import Store
    from trustledger.sanctions.check import CheckIndex
    from trustledger.settings import Settings

log = logging.getLogger(__name__)


class CheckService:
    """The live check index over ``store``, kept up to date with the evaluation state.

    ``lock`` guards ``store`` (one connection, shared with whoever else holds the lock);
    a rebuild opens a connection of its own from ``settings.db_url``.
    """

    # beyond this many changed subjects a fresh load is cheaper than patching
    FOLLOW_LIMIT = 5000
    # a failed rebuild is tried again after this many seconds, not at every interval
    RETRY_AFTER = 30.0

    def __init__(
        self,
        settings: Settings,
        store: Store,
        *,
        reload_interval: float = 1.0,
        lock: threading.Lock | None = None,
        start: tuple[StateSignature, CheckIndex] | None = None,
    ) -> None:
        """``start``: a state signature and the index that reflects it (a replica's
        snapshot) instead of reading every state row now; what changed since that
        signature is patched in at the first look."""
        self.settings = settings
        self.store = store
        self.reload_interval = reload_interval
        self.lock = lock if lock is not None else threading.Lock()
        if start is not None:
            self.signature, self.index = start
        else:
            with self.lock:
                self.signature, self.index = self._load(store)
        self.checked = time.monotonic()
        self.rebuilder: threading.Thread | None = None
        self.index_error: str | None = None
        self.retry_at = 0.0
        # called (under the lock) whenever the state is looked at again: a face empties
        # the caches it keeps between looks (keys found, for instance)
        self.on_look: list[Callable[[], None]] = []

    def _load(self, store: Store) -> tuple[StateSignature, CheckIndex]:
        from trustledger.evaluate.queries import state_signature
        from trustledger.sanctions.check import CheckIndex

        # the signature is read before the rows: whatever is written during the load shows
        # as a difference at the next look and is patched in then, never skipped
        signature = state_signature(store)
        return signature, CheckIndex.load(store, timezone=self.settings.timezone)

    def look_now(self) -> None:
        """The next answer looks at the state first: a write through this server (a
        decision, a record) has just changed it, and its caller should not wait the
        interval to see its effect."""
        self.checked = float("-inf")

    @property
    def stale(self) -> bool:
        """The index is known to lag the state: a rebuild is under way or failed."""
        return self.rebuilder is not None or self.index_error is not None

    def current(self) -> CheckIndex:
        """The index to answer from now (looked at against the state once per interval)."""
        # the common case takes no lock: the reference is only ever replaced whole
        if time.monotonic() - self.checked < self.reload_interval:
            return self.index
        from trustledger.evaluate.queries import state_signature

        with self.lock:
            now = time.monotonic()
            if now - self.checked >= self.reload_interval:
                self.checked = now
                for hook in self.on_look:
                    hook()
                signature = state_signature(self.store)
                if signature != self.signature:
                    self._follow(signature)
            return self.index

    def at_least(self, position: int) -> CheckIndex:
        """The index, once it reflects ledger position ``position`` or later (a caller that
        has just written asks for what it wrote); Unavailable if it does not yet."""
        index = self.current()
        if index.ledger_size >= position:
            return index
        self.look_now()
        index = self.current()
        if index.ledger_size < position:
            from trustledger.app.errors import Unavailable

            raise Unavailable(
                f"this server's state reflects ledger position {index.ledger_size}, not yet "
                f"the {position} asked for: ask again in a moment"
            )
        return index

    def _follow(self, signature: StateSignature) -> None:
        """Bring the index up to the current state: patch just the subjects whose state
        rows are newer than what the index holds; rebuild whole, in the background, when
        many changed (a batch evaluation). Called under the lock."""
        from trustledger.evaluate.queries import changed_subjects, latest_positions

        if self.rebuilder is not None or time.monotonic() < self.retry_at:
            # the change since the index's signature includes the big one, so there is no
            # small patch to apply; the rebuild reads every later change, and what lands
            # after its rows were read is patched in at the look that follows the swap
            return
        old = self.signature
        changed = changed_subjects(self.store, old.ledger_size, old.evaluated_to)
        # a whole re-evaluation: any row may differ
        if len(changed) > self.FOLLOW_LIMIT or signature.generation != old.generation:
            if self.index.subjects_evaluated <= self.FOLLOW_LIMIT:
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
        # a court's grant of an exception is an entry about no evaluated subject: the
        # grants (a small table) are read again whenever the ledger moved
        self.index.set_exceptions(self.store.iter_rows("exceptions"))
        self.signature = signature

    def _rebuild(self) -> None:
        """The worker thread: load a fresh index on a connection of its own (the shared one
        and the lock stay free for requests), then swap it in."""
        from trustledger.ledger.store import open_store

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
        """Wait (a while) for a rebuild under way; the store is its owner's to close."""
        rebuilder = self.rebuilder
        if rebuilder is not None:
            rebuilder.join(timeout=10.0)
