"""Check replicas: servers that answer checks from a snapshot of the state and follow the
writer's database, so many of them behind a load balancer answer alike.

A snapshot is a directory of Parquet files — the three state tables, the subjects the
ledger knows, each subject's newest ledger position and the courts' exceptions — and a
``snapshot.json`` naming the state signature it reflects (ledger size, newest evaluation
position, evaluation generation). A replica loads it instead of reading every state
row from the database (a start in seconds at any size), then patches in what changed since
that signature, exactly as a live server follows an ingest. On PostgreSQL it follows
pushed, not polled: statement triggers on the ledger and the state tables ``NOTIFY`` the
channel ``trustledger_state`` at each commit, and a listener thread brings the index up at
once. A replica answers at the position its index reflects (``ledger_size`` of every
answer); a caller that has just written can ask for ``min_position`` and is answered only
once the replica has caught up, or told 503 to retry.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trustledger.app.errors import BadInput, ConfigError

if TYPE_CHECKING:
    from trustledger.app.checks_service import CheckService
    from trustledger.app.context import Context
    from trustledger.evaluate.queries import StateSignature
    from trustledger.sanctions.check import CheckIndex

log = logging.getLogger(__name__)

CHANNEL = "trustledger_state"
# 2: the signature is (ledger size, newest evaluation position, generation)
FORMAT = "trustledger-state-snapshot/2"
# the integer columns of each table the snapshot holds; every other column is text
_INTEGERS = {
    "state_profiles": {"score", "ledger_size"},
    "state_lists": set(),
    "state_measures": set(),
    "subjects": set(),
    "positions": {"seq"},
    "exceptions": {"seq"},
}


@dataclass(frozen=True)
class Snapshot:
    path: Path
    signature: StateSignature
    rows: dict[str, int]

    @property
    def position(self) -> int:
        """The ledger position the state reflects (what a check answer calls ledger_size)."""
        return int(self.signature.evaluated_to or 0)

    def to_json(self) -> dict[str, Any]:
        return {"path": str(self.path), "format": FORMAT, "signature": list(self.signature),
                "position": self.position, "rows": self.rows}  # fmt: skip


# the columns of each file, in the order the tables (ledger/schema.py) hold them
_STATE_COLUMNS = {
    "state_profiles": ("rulebook", "subject_id", "score", "grade", "lists", "evaluated_on",
                       "ledger_size"),
    "state_lists": ("rulebook", "list_id", "subject_id", "kind", "since", "until", "records",
                    "effective_from"),
    "state_measures": ("rulebook", "measure_id", "subject_id", "kind", "list_id", "actions",
                       "starts", "ends", "agency", "extends_to"),
    "subjects": ("id",),
    "positions": ("subject_id", "seq"),
}  # fmt: skip


def _columns(table: str) -> tuple[str, ...]:
    from trustledger.ledger.schema import columns

    return _STATE_COLUMNS[table] if table in _STATE_COLUMNS else columns(table)


def write_snapshot(ctx: Context, path: Path) -> Snapshot:
    """Write the state a check server answers from to ``path`` (a new directory, made
    whole beside it and renamed into place, so a reader never sees half a snapshot)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from trustledger.evaluate.queries import latest_positions, state_signature

    store = ctx.store
    if not store.has_state():
        raise BadInput("no evaluated state to snapshot yet: run `trustledger evaluate`")
    if path.exists():
        raise BadInput(f"{path} exists: a snapshot is written to a new path")
    partial = path.with_name(path.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    # one transaction: the signature and every row come from the same instant
    with store.transaction():
        signature = state_signature(store)
        tables: dict[str, list[tuple[Any, ...]]] = {
            "state_profiles": store.state_rows("state_profiles"),
            "state_lists": store.state_rows("state_lists"),
            "state_measures": store.state_rows("state_measures"),
            "subjects": [(row[0],) for row in store.iter_rows("subjects")],
            "positions": sorted(latest_positions(store).items()),
            "exceptions": list(store.iter_rows("exceptions")),
        }
    for table, rows in tables.items():
        names = _columns(table)
        schema = pa.schema([(n, pa.int64() if n in _INTEGERS[table] else pa.string())
                            for n in names])  # fmt: skip
        data = [list(col) for col in zip(*rows, strict=True)] if rows else [[] for _ in names]
        pq.write_table(pa.table(data, schema=schema), partial / f"{table}.parquet")
    meta = {"format": FORMAT, "signature": list(signature),
            "rows": {t: len(r) for t, r in tables.items()}}  # fmt: skip
    (partial / "snapshot.json").write_text(json.dumps(meta, indent=1) + "\n")
    os.replace(partial, path)
    return Snapshot(path, signature, meta["rows"])  # type: ignore[arg-type]


def read_snapshot(path: Path, timezone: str) -> tuple[Snapshot, CheckIndex]:
    """The snapshot at ``path`` and the check index it holds."""
    import pyarrow.parquet as pq

    from trustledger.evaluate.queries import StateSignature
    from trustledger.sanctions.check import CheckIndex

    try:
        meta = json.loads((path / "snapshot.json").read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path} is not a state snapshot (no snapshot.json)") from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}/snapshot.json cannot be read: {exc}") from None
    if meta.get("format") != FORMAT:
        raise ConfigError(f"{path} is a snapshot of another format: {meta.get('format')!r}")

    def rows(table: str) -> list[tuple[Any, ...]]:
        try:
            data = pq.read_table(path / f"{table}.parquet")
        except (OSError, ValueError) as exc:
            raise ConfigError(f"{path}/{table}.parquet cannot be read: {exc}") from None
        return list(zip(*(data.column(i).to_pylist() for i in range(data.num_columns)),
                        strict=True))  # fmt: skip

    size, evaluated_to, generation = meta["signature"]
    signature = StateSignature(int(size), evaluated_to, int(generation))
    index = CheckIndex(
        subjects=(r[0] for r in rows("subjects")),
        profiles=rows("state_profiles"),
        lists=rows("state_lists"),
        measures=rows("state_measures"),
        timezone=timezone,
        positions={str(s): int(n) for s, n in rows("positions")},
        exceptions=rows("exceptions"),
    )
    return Snapshot(path, signature, dict(meta.get("rows", {}))), index


# statement triggers: one notification per writing statement, delivered at commit (a bulk
# COPY is one statement), and PostgreSQL folds repeats within a transaction into one
_TRIGGERS = """
CREATE OR REPLACE FUNCTION trustledger_notify_state() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('{channel}', TG_TABLE_NAME);
    RETURN NULL;
END $$ LANGUAGE plpgsql;
"""
_WATCHED = ("entries", "state_profiles", "state_subjects", "meta")


def install_notify(ctx: Context) -> None:
    """Make the writer's PostgreSQL database announce its commits (idempotent)."""
    store = ctx.store
    if not store.url.startswith("postgresql"):
        return
    with store.transaction():
        store.execute(_TRIGGERS.format(channel=CHANNEL), [()])
        for table in _WATCHED:
            store.execute(
                f"CREATE OR REPLACE TRIGGER trustledger_notify_{table} AFTER INSERT OR UPDATE "
                f"OR DELETE ON {table} FOR EACH STATEMENT EXECUTE FUNCTION "
                "trustledger_notify_state()",
                [()],
            )


class Follower:
    """A thread that listens on ``CHANNEL`` and brings the check index up at each
    notification (PostgreSQL only; elsewhere the index is looked at once per interval)."""

    def __init__(self, url: str, checks: CheckService) -> None:
        self.url = url
        self.checks = checks
        self.stopping = threading.Event()
        self.notified = 0
        self.thread = threading.Thread(target=self._run, name="state-follower", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        import psycopg

        while not self.stopping.is_set():
            try:
                with psycopg.connect(self.url, autocommit=True) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self._catch_up()  # what committed before LISTEN took hold
                    while not self.stopping.is_set():
                        got = list(conn.notifies(timeout=0.5, stop_after=1))
                        if got:
                            self.notified += 1
                            self._catch_up()
            except Exception:
                if self.stopping.is_set():
                    return
                log.exception("following the state failed; listening again in 1 s")
                self.stopping.wait(1.0)

    def _catch_up(self) -> None:
        self.checks.look_now()
        self.checks.current()

    def close(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=5.0)
