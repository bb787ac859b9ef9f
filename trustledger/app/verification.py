"""Verify everything stored that can change an answer, table by table.

`trustledger.ledger.verify` recomputes the chain, the tree roots and the projections. This
module adds every other table of the database, each checked the way its `Coverage` in
`TABLES` says (docs/ledger.md, "What verify covers"):

- ``chain``: the entries and the tree heads (root, frontier, time, the latest head's size);
- ``projection``: rows recomputed by replaying the entries;
- ``committed``: rows beside the ledger whose every write appended a ``tables.committed``
  entry (trustledger.ledger.tabledigest); the live table must hash to what the entries sum
  to, and rows with a digest of their own are recomputed one by one to say which;
- ``state``: the live evaluation state, which the ``state.committed`` entries commit to;
  ``--reevaluate`` also evaluates again and compares row for row;
- ``cache``: derived data rebuilt from the ledger and compared, never trusted;
- ``meta`` and ``schema``: each key checked against what it must say;
- ``staging``: an evaluation's tables before they are swapped in, never read by an answer;
- ``legacy``: a table an earlier release wrote and this one no longer reads; its rows must
  be in the ledger (`commit_baseline` puts them there once).

A table the registry does not name is itself a finding: a new table must be classified
here before verify can pass.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from trustledger.app.errors import Unavailable

if TYPE_CHECKING:
    from trustledger.app.context import Context
    from trustledger.ledger.store import Store
    from trustledger.ledger.verify import VerifyReport

# fmt: off
Kind = Literal["chain", "projection", "committed", "state", "cache", "meta", "schema", "staging",
               "legacy", "signed"]
# fmt: on


@dataclass(frozen=True)
class Coverage:
    kind: Kind
    why: str  # what the rows decide and how verify covers them


# --- the registry: every table the schema creates ------------------------------------
def _registry() -> dict[str, Coverage]:
    from trustledger.ledger.projection import TABLES as PROJECTIONS

    out: dict[str, Coverage] = {
        "entries": Coverage("chain", "the ledger: every hash and link recomputed"),
        "tree_heads": Coverage(
            "chain",
            "each head's root, frontier and time recomputed from the entries; the "
            "latest head must cover every entry",
        ),
        "meta": Coverage("meta", "each key classified in META_KEYS and checked"),
        "alembic_version": Coverage("schema", "must name the revision this code writes"),
        "state_profiles": Coverage("state", "grades and lists a check answers from"),
        "state_lists": Coverage("state", "list memberships (lists, pages, checks)"),
        "state_measures": Coverage("state", "the measures a check applies"),
        "state_subjects": Coverage("state", "how far each subject was evaluated"),
        "monitor_packets": Coverage(
            "committed",
            "the raw frames behind exceedance records; each row's digest is "
            "the SHA-256 of its raw frame and its parsed columns are parsed again",
        ),
        "monitor_rejects": Coverage("committed", "refused frames, counted on the status page"),
        "monitor_points": Coverage(
            "legacy",
            "where an earlier release kept points (now point.registered entries projected "
            "into `points`): every row must be registered in the ledger as it stands",
        ),
        "monitor_notices": Coverage("committed", "fault and clock notices of a point's page"),
        "monitor_episodes": Coverage(
            "committed",
            "exceedance evidence: an episode behind a record must hash to the "
            "evidence digest the record carries in the ledger",
        ),
        "monitor_assessments": Coverage(
            "committed", "compliance-rate evidence: must hash to its digest and to the record's"
        ),
        "api_keys": Coverage("committed", "who may see what: key hash, role, scope, revocation"),
        "access_log": Coverage("committed", "who looked at whom; also its own hash chain"),
        "notices": Coverage("committed", "the notices served on a subject (due process)"),
        "notice_attempts": Coverage("committed", "delivery attempts of a notice"),
        "notice_addresses": Coverage("committed", "where a subject's notices are sent"),
        "screen_grams": Coverage(
            "cache", "name-screening index: rebuilt from the subjects and compared"
        ),
        "screen_meta": Coverage("cache", "how far the screening index reaches"),
        "tiles": Coverage(
            "cache",
            "the Merkle tree as tlog-tiles tiles (proofs, /v1/ledger/tile): rebuilt "
            "from the entries' hashes and compared (none stored yet: built at first use)",
        ),
        # kept signed notes (trustledger.app.checkpoints.verify_stored): each checks by its
        # signature and against the tree, not by a commit (a checkpoint signs the ledger)
        "checkpoints": Coverage("signed", "signed tree heads: log signature, root vs the tree"),
        "checkpoint_cosignatures": Coverage("signed", "witness cosignatures on those heads"),
        "log_keys": Coverage("signed", "retired log keys, each with its link note signed"),
    }
    for table in PROJECTIONS:
        out[table] = Coverage("projection", "recomputed by replaying the entries")
    return out


TABLES: dict[str, Coverage] = _registry()
# tables named by a pattern: an evaluation's staging tables exist only while one runs
PATTERNS: list[tuple[re.Pattern[str], Coverage]] = [
    (
        re.compile(r"^state_next_[a-z_]+$"),
        Coverage("staging", "an evaluation not yet swapped in; dropped by the next one"),
    ),
]


def classify(table: str) -> Coverage | None:
    """How verify covers ``table``; None for a table nobody classified."""
    found = TABLES.get(table)
    if found is not None:
        return found
    return next((c for p, c in PATTERNS if p.match(table)), None)


# meta: every key, what it is, and how it is checked
META_KEYS: dict[str, str] = {
    "schema_version": "the schema this database has; must be the one this code writes",
    "person_key_fingerprint": "fingerprint of the person key (intake refuses another key); "
    "compared with the configured key",
    "state_on": "the day the live state was judged on; committed by state.committed",
    "state_known_at_us": "ledger time the live state knew; committed by state.committed",
    "state_ledger_size": "ledger size the live state reflects; committed by state.committed",
    "state_rulebook": "the rulebook the last evaluation redid ('' all); state.committed",
    "state_generation": "counts swaps of the live state; committed by state.committed",
    "state_rebuild": "an evaluation under way or interrupted (its tables are never read)",
    "committed_tables": "a hint of the tables some entry commits (a write then takes no "
    "baseline); must name only tables the entries commit",
    "commits_from": "the ledger size at which the database was upgraded to schema 5: rows "
    "an earlier release wrote and no entry commits yet are noted, not failed",
}
_STATE_META = ("state_on", "state_known_at_us", "state_ledger_size", "state_rulebook",
               "state_generation")  # fmt: skip


# --- the database's catalogue -----------------------------------------------------------
def database_tables(store: Store) -> list[str]:
    """Every table in the database, from its own catalogue (not from a list here)."""
    if store.url.startswith("sqlite"):
        rows = store.query(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
    else:
        rows = store.query(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = "
            "current_schema() AND table_type = 'BASE TABLE'"
        )
    return sorted(str(r[0]) for r in rows)


# --- verify ----------------------------------------------------------------------------
def verify_all(
    ctx: Context,
    progress: Callable[[int], None] | None = None,
    *,
    reevaluate: bool = False,
) -> VerifyReport:
    """The ledger's own verify, then every other table (see the module's docstring)."""
    from trustledger.ledger.verify import VerifyIncomplete, verify

    store = ctx.store
    try:
        report = verify(store, progress)
    except VerifyIncomplete as exc:
        raise Unavailable(f"verify did not finish: {exc}") from None
    report.problems = [(seq, _named(problem)) for seq, problem in report.problems]
    # run whatever the chain says: each finding names its table, and a broken chain is
    # already a failure that these checks can only add detail to
    checks = _Checks(store, report, ctx)
    checks.run(reevaluate=reevaluate)
    return report


class _Checks:
    def __init__(self, store: Store, report: VerifyReport, ctx: Context) -> None:
        self.store, self.report, self.ctx = store, report, ctx
        self.tables = database_tables(store)
        self.size = report.size
        found = store.query("SELECT value FROM meta WHERE key = 'commits_from'")
        self.upgraded_at: str | None = str(found[0][0]) if found else None
        self.folded_tables: set[str] = set()

    def flag(self, table: str, what: str, seq: int | None = None) -> None:
        self.report.flag(self.size if seq is None else seq, f"{table}: {what}")

    def legacy(self, table: str, what: str) -> None:
        """Rows an earlier release wrote and no entry commits yet: a note in a database
        upgraded to this schema (they are committed as found at their table's first write,
        or by `trustledger ledger commit-baseline`), a failure in any other."""
        if self.upgraded_at is not None:
            self.report.notes.append(
                f"{table}: {what}; the database was upgraded at ledger size "
                f"{self.upgraded_at}: not verified until committed (`trustledger ledger "
                "commit-baseline`, or their table's next write)"
            )
        else:
            self.flag(table, what)

    def run(self, *, reevaluate: bool) -> None:
        for table in self.tables:
            if classify(table) is None:
                self.flag(table, "a table verify does not know (classify it in "
                          "trustledger.app.verification.TABLES)")  # fmt: skip
        self.tree_heads()
        self.schema()
        self.committed()
        self.packets()
        self.evidence()
        self.state(reevaluate)
        self.meta()
        self.screening()
        self.tiles()
        self.access_chain()
        self.signed()
        self.legacy_points()

    # --- chain -------------------------------------------------------------------------
    def tree_heads(self) -> None:
        from trustledger.ledger import merkle

        store = self.store
        ((count,),) = store.query("SELECT count(*) FROM entries")
        heads = store.query(
            "SELECT h.size, h.frontier, h.time_us, e.time_us FROM tree_heads h "
            "LEFT JOIN entries e ON e.seq = h.size - 1 ORDER BY h.size"
        )
        latest = int(heads[-1][0]) if heads else 0
        if int(count) > latest:
            self.flag("tree_heads", f"the latest tree head covers {latest} entries, the "
                      f"ledger holds {count}: a head was removed", latest)  # fmt: skip
        hashes = store.leaf_hashes(min(int(count), latest)) if heads else []
        frontier = merkle.Frontier()
        done = 0
        for size, stored, time_us, entry_time in heads:
            size = int(size)
            if size > len(hashes):
                break  # reported by the chain check
            frontier.extend(hashes[done:size])
            done = size
            if bytes(stored) != frontier.to_bytes():
                self.flag("tree_heads", f"the head at size {size} stores a frontier the "
                          "entries do not give", size - 1)  # fmt: skip
            if entry_time is None or int(time_us) != int(entry_time):
                self.flag("tree_heads", f"the head at size {size} has time {time_us}, its "
                          f"last entry {entry_time}", size - 1)  # fmt: skip

    def schema(self) -> None:
        from trustledger.ledger.store import SCHEMA_REVISION

        if "alembic_version" not in self.tables:
            return
        found = [str(r[0]) for r in self.store.query("SELECT version_num FROM alembic_version")]
        if found != [SCHEMA_REVISION]:
            self.flag("alembic_version", f"holds {found}, the schema is revision "
                      f"{SCHEMA_REVISION}")  # fmt: skip

    # --- committed tables --------------------------------------------------------------
    def committed(self) -> None:
        from trustledger.ledger.tabledigest import TableDigest, fold, live_digest

        folded = fold(self.store)
        self.folded_tables = set(folded)
        for table, cov in sorted(TABLES.items()):
            if cov.kind != "committed":
                continue
            want = folded.get(table, TableDigest())
            if table not in self.tables:
                if not want.is_zero():
                    self.flag(table, f"the ledger commits {want.count} rows, the table is gone")
                continue
            live = live_digest(self.store, table)
            if live == want:
                continue
            if table not in folded:
                self.legacy(table, f"{live.count} rows no entry commits")
            else:
                self.flag(table, f"{live.count} rows hash to {live.short()}…, the ledger's "
                          f"commits to {want.count} rows hashing to {want.short()}…: rows "
                          "were changed, added or deleted outside the application")  # fmt: skip

    def packets(self) -> None:
        """Each packet's digest and parsed columns, from its raw frame: names the row."""
        from trustledger.monitoring.codec import PacketError, combine, parse
        from trustledger.monitoring.store import readings_json

        if "monitor_packets" not in self.tables:
            return
        rows = self.store.query(
            "SELECT digest, mn, cn, st, dialect, data_time, readings, raw FROM monitor_packets"
        )
        for digest, mn, cn, st, dialect, data_time, readings, raw in rows:
            if hashlib.sha256(str(raw).encode("utf-8")).hexdigest() != digest:
                self.flag("monitor_packets", f"packet {str(digest)[:16]}…: its raw frame "
                          "does not hash to its digest")  # fmt: skip
                continue
            try:
                parts = [parse(part) for part in str(raw).split("\r\n")]
            except PacketError as exc:
                self.flag("monitor_packets", f"packet {str(digest)[:16]}…: raw frame does "
                          f"not parse ({exc})")  # fmt: skip
                continue
            p = combine(parts) if len(parts) > 1 else parts[0]
            again = (p.mn, p.cn, p.st, p.dialect.value,
                     None if p.data_time is None else p.data_time.isoformat(timespec="seconds"),
                     readings_json(p))  # fmt: skip
            if again != (mn, cn, st, dialect, data_time, readings):
                self.flag("monitor_packets", f"packet {str(digest)[:16]}…: its columns differ "
                          "from its raw frame parsed again")  # fmt: skip

    def evidence(self) -> None:
        """Exceedance and compliance evidence against the records that cite it."""
        if "monitor_episodes" in self.tables:
            rows = self.store.query("SELECT key, evidence, record_id FROM monitor_episodes")
            for key, text, record_id in rows:
                self._evidence("monitor_episodes", f"episode {key}", str(text), record_id)
        if "monitor_assessments" in self.tables:
            rows = self.store.query("SELECT digest, evidence, record_id FROM monitor_assessments")
            for digest, text, record_id in rows:
                own = "sha256:" + hashlib.sha256(str(text).encode()).hexdigest()
                if own != digest:
                    self.flag("monitor_assessments", f"assessment {str(digest)[:23]}…: "
                              "its evidence does not hash to its digest")  # fmt: skip
                self._evidence("monitor_assessments", f"assessment {str(digest)[:23]}…",
                               str(text), record_id)  # fmt: skip

    def _evidence(self, table: str, what: str, text: str, record_id: Any) -> None:
        digest = "sha256:" + hashlib.sha256(text.encode()).hexdigest()
        if record_id is not None:
            record = self.store.get_row("records", str(record_id))
            if record is None:
                self.flag(table, f"{what} cites record {record_id}, which the ledger lacks")
            elif record.evidence_digest != digest:
                self.flag(table, f"{what}: its evidence hashes to {digest[:23]}…, record "
                          f"{record_id} carries {str(record.evidence_digest)[:23]}…",
                          record.last_seq)  # fmt: skip
        try:
            cited = json.loads(text).get("packets", [])
        except (ValueError, AttributeError):
            self.flag(table, f"{what}: its evidence is not a JSON object")
            return
        if cited and "monitor_packets" in self.tables:
            found = _existing_packets(self.store, [str(c) for c in cited])
            missing = [c for c in cited if c not in found]
            if missing:
                self.flag(table, f"{what}: {len(missing)} packet(s) its evidence cites are "
                          f"not stored (first {str(missing[0])[:16]}…)")  # fmt: skip

    # --- state -------------------------------------------------------------------------
    def state(self, reevaluate: bool) -> None:
        from trustledger.ledger.schema import STATE_ALL
        from trustledger.ledger.tabledigest import TableDigest, fold_state, state_digests

        want, full, seq = fold_state(self.store)
        live = state_digests(self.store, "state_", STATE_ALL)
        self._full_state = full
        self._any_state_entry = want is not None
        if want is None:
            if any(d.count for d in live.values()):
                self.legacy("state_subjects", "the live state has no state.committed entry "
                            "(run `trustledger evaluate`)")  # fmt: skip
            return
        for table in STATE_ALL:
            w, got = want.get(table, TableDigest()), live[table]
            if w != got:
                self.flag(table, f"{got.count} rows hash to {got.short()}…, the ledger's "
                          f"state.committed entries (latest {seq}) to {w.count} rows hashing "
                          f"to {w.short()}…", seq)  # fmt: skip
        if reevaluate and full is not None:
            self._reevaluate(full)

    def _reevaluate(self, full: dict[str, Any]) -> None:
        """Evaluate the ledger again into a what-if file, compare every state row."""
        import tempfile
        from datetime import date
        from pathlib import Path

        from trustledger.evaluate.state import evaluate_all
        from trustledger.evaluate.whatif import read_state_file
        from trustledger.ledger.schema import STATE_TABLES

        on = date.fromisoformat(str(full["on"]))
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "again.db"
            evaluate_all(self.store, self.ctx.catalogue, at_us=None, on=on, what_if=path)
            again = {t: read_state_file(path, t) for t in STATE_TABLES}
        for table in STATE_TABLES:
            # the ledger size a row was judged at is when it was judged, not what it says
            stored = {_judged(table, r) for r in self.store.state_rows(table)}
            fresh = {_judged(table, r) for r in again[table]}
            if stored != fresh:
                extra, lacking = len(stored - fresh), len(fresh - stored)
                self.flag(table, f"evaluating the ledger again gives other rows ({extra} "
                          f"stored rows not found again, {lacking} missing)")  # fmt: skip

    # --- meta ----------------------------------------------------------------------------
    def meta(self) -> None:
        from trustledger.ledger.store import SCHEMA_VERSION

        meta = dict(self.store.query("SELECT key, value FROM meta"))
        for key in sorted(meta):
            if key not in META_KEYS:
                self.flag("meta", f"key {key!r} is not classified (META_KEYS)")
        if meta.get("schema_version") != SCHEMA_VERSION:
            self.flag("meta", f"schema_version is {meta.get('schema_version')!r}, the schema "
                      f"is {SCHEMA_VERSION}")  # fmt: skip
        self._fingerprint(meta.get("person_key_fingerprint"))
        full = self._full_state
        if full is not None:
            committed_meta = full.get("meta", {})
            for key in _STATE_META:
                if meta.get(key) != committed_meta.get(key):
                    self.flag("meta", f"{key} is {meta.get(key)!r}, the state.committed "
                              f"entry says {committed_meta.get(key)!r}")  # fmt: skip
        elif any(k in meta for k in _STATE_META):
            self.legacy("meta", "describes a live state no state.committed entry commits")
        if "committed_tables" in meta:
            try:
                named = set(json.loads(meta["committed_tables"]))
            except (ValueError, TypeError):
                named = {"(not a JSON list)"}
            if self._full_state is not None or self._any_state_entry:
                named.discard("state")
            forged = sorted(named - self.folded_tables)
            if forged:
                self.flag("meta", f"committed_tables names {forged}, which no entry commits")
        if "state_rebuild" in meta:
            try:
                json.loads(meta["state_rebuild"])
            except ValueError:
                self.flag("meta", "state_rebuild is not the JSON an evaluation writes")

    def _fingerprint(self, stored: str | None) -> None:
        from trustledger.app.errors import ConfigError

        try:
            keyer = self.ctx.person_keyer()
        except ConfigError:
            keyer = None
        persons = self.store.query("SELECT 1 FROM subjects WHERE kind = 'person' LIMIT 1")
        if stored is None:
            if keyer is not None or persons:
                self.flag("meta", "person_key_fingerprint is missing: intake would take any "
                          "person key")  # fmt: skip
        elif keyer is not None and keyer.fingerprint() != stored:
            self.flag("meta", f"person_key_fingerprint is {stored}, the person key's is "
                      f"{keyer.fingerprint()}")  # fmt: skip

    # --- caches --------------------------------------------------------------------------
    def screening(self) -> None:
        """Rebuild the screening index of every subject it claims to cover, compare."""
        from trustledger.ledger.projection import SubjectRow
        from trustledger.sanctions.screening import subject_grams

        if "screen_grams" not in self.tables:
            return
        meta = dict(self.store.query("SELECT key, value FROM screen_meta"))
        for key in meta:
            if key != "indexed_to":
                self.flag("screen_meta", f"key {key!r} is not one the index writes")
        text = meta.get("indexed_to")
        stored: dict[str, set[str]] = {}
        for gram, sid in self.store.query("SELECT gram, subject_id FROM screen_grams"):
            stored.setdefault(str(sid), set()).add(str(gram))
        if text is None:
            if stored:
                self.flag("screen_meta", "no indexed_to while screen_grams holds rows")
            return
        if not text.isdigit() or int(text) > self.size:
            self.flag("screen_meta", f"indexed_to is {text!r}, the ledger holds {self.size}")
            return
        reach = int(text)
        subjects = {r[0]: SubjectRow._make(r) for r in self.store.iter_rows("subjects")}
        for sid, row in subjects.items():
            if row.kind == "person" or row.last_seq >= reach:
                continue  # not indexed, or re-indexed at the next lookup
            if stored.pop(sid, set()) != set(subject_grams(row)):
                self.flag("screen_grams", f"subject {sid}: the stored grams differ from the "
                          "ones its names give")  # fmt: skip
        for sid in stored:
            found = subjects.get(sid)
            if found is None or found.kind == "person":
                self.flag("screen_grams", f"grams of {sid}, which is no indexed subject")

    def signed(self) -> None:
        from trustledger.app.checkpoints import verify_stored

        for table, what in verify_stored(self.ctx):
            self.flag(table, what)

    def tiles(self) -> None:
        """The stored tiles against the tree the entries give (trustledger.ledger.tiles)."""
        from trustledger.ledger import tiles

        if "tiles" in self.tables:
            for problem in tiles.check(self.store)[:5]:
                self.flag("tiles", problem)

    def access_chain(self) -> None:
        from trustledger.access.log import verify_access_log

        if "access_log" in self.tables:
            for problem in verify_access_log(self.store)[:5]:
                self.flag("access_log", problem)

    def legacy_points(self) -> None:
        from trustledger.monitoring.queries import legacy_points

        if "monitor_points" not in self.tables:
            return
        for row in legacy_points(self.store):
            registered = self.store.get_row("points", str(row[0]))
            if registered is None:
                self.legacy("monitor_points", f"point {row[0]} is not registered in the ledger")


def _named(problem: str) -> str:
    """A problem of the ledger's own verify, led by the table it is about."""
    from trustledger.ledger.projection import TABLES as PROJECTIONS

    if problem.split(" ", 1)[0] in PROJECTIONS:
        return problem
    if problem.startswith("tree head"):
        return f"tree_heads: {problem}"
    return f"entries: {problem}"


def _judged(table: str, row: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(row[:6]) if table == "state_profiles" else tuple(row)


# --- an upgraded database: commit once what an earlier release wrote ------------------
@dataclass(frozen=True)
class Baseline:
    tables: dict[str, int]  # table → rows committed
    points: list[str]  # legacy points registered as entries
    state_rows: int = 0  # rows of the live state committed as found (0: none to commit)

    def to_json(self) -> dict[str, Any]:
        return {"tables": self.tables, "points": self.points, "state_rows": self.state_rows}


def commit_baseline(ctx: Context) -> Baseline:
    """Commit to the ledger, once, the rows of committed tables that no entry commits yet
    (a database an earlier release wrote), its live state if no state.committed entry
    commits one, and register its legacy monitoring points as entries. A table some entry
    already commits is never baselined again: its rows must match what the ledger says,
    and verify names it if they do not."""
    from trustledger.ledger.tabledigest import committed, fold, live_digest
    from trustledger.monitoring.store import adopt_legacy_points

    store = ctx.store
    present = set(database_tables(store))
    folded = fold(store)
    done: dict[str, int] = {}
    with committed(store, "baseline: rows written before the ledger committed them") as c:
        for table, cov in sorted(TABLES.items()):
            if cov.kind != "committed" or table not in present:
                continue
            if table in folded:
                continue
            digest = live_digest(store, table)
            if digest.count:
                c.deltas[table] = digest
                done[table] = digest.count
    state = _baseline_state(store)
    registered = adopt_legacy_points(store)
    return Baseline(done, registered, state)


def _baseline_state(store: Store) -> int:
    """The live state an earlier release swapped in, committed as found: its rows, or 0
    if it is committed already (or there is none)."""
    from trustledger.ledger.schema import STATE_ALL
    from trustledger.ledger.tabledigest import baseline_state, state_digests

    with store.writer() as w:
        before = len(w.entries)
        baseline_state(store, w, STATE_ALL)
        if len(w.entries) == before:
            return 0
    return sum(d.count for d in state_digests(store, "state_", STATE_ALL).values())


def _existing_packets(store: Store, digests: list[str]) -> set[str]:
    found: set[str] = set()
    for i in range(0, len(digests), 500):
        part = digests[i : i + 500]
        marks = ", ".join("?" for _ in part)
        rows = store.query(f"SELECT digest FROM monitor_packets WHERE digest IN ({marks})", part)
        found.update(str(r[0]) for r in rows)
    return found
