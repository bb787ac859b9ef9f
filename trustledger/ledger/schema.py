"""The tables, written once for both SQL dialects."""

from __future__ import annotations

from trustledger.ledger.projection import TABLES

# {int} and {blob} are filled per dialect; projections' columns follow the row types.
_DDL = """
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS entries (
    seq {int} PRIMARY KEY,
    time_us {int} NOT NULL,
    kind TEXT NOT NULL,
    prev_hash {blob} NOT NULL,
    payload {blob} NOT NULL,
    hash {blob} NOT NULL
);
CREATE TABLE IF NOT EXISTS tree_heads (
    size {int} PRIMARY KEY,
    root {blob} NOT NULL,
    time_us {int} NOT NULL,
    frontier {blob} NOT NULL
);
-- the tree as C2SP tlog-tiles tiles (trustledger.ledger.tiles): hashes is up to 256 hashes of
-- tree level 8 * level, a row grows in place until full, derived from entries.hash
CREATE TABLE IF NOT EXISTS tiles (
    level {int} NOT NULL,
    idx {int} NOT NULL,
    hashes {blob} NOT NULL,
    PRIMARY KEY (level, idx)
);
CREATE TABLE IF NOT EXISTS authorities (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    authority_type TEXT NOT NULL,
    division TEXT NOT NULL,
    last_seq {int} NOT NULL
);
CREATE TABLE IF NOT EXISTS subjects (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    division TEXT,
    former_names TEXT NOT NULL,
    aliases TEXT NOT NULL,
    address TEXT,
    established TEXT,
    registered_seq {int} NOT NULL,
    last_seq {int} NOT NULL
);
-- the subjects registered or changed since a ledger position (a check server's look)
CREATE INDEX IF NOT EXISTS subjects_last_seq ON subjects (last_seq);
CREATE TABLE IF NOT EXISTS records (
    id TEXT PRIMARY KEY,
    subject_id TEXT NOT NULL,
    authority_id TEXT NOT NULL,
    category TEXT NOT NULL,
    tier TEXT NOT NULL,
    decision_type TEXT NOT NULL,
    document_number TEXT NOT NULL,
    decision_date TEXT NOT NULL,
    publication_date TEXT NOT NULL,
    title TEXT,
    amount_cny TEXT,
    evidence_digest TEXT,
    status TEXT NOT NULL,
    status_date TEXT,
    status_reason TEXT,
    issued_seq {int} NOT NULL,
    last_seq {int} NOT NULL,
    legal_representative TEXT,
    confirmation TEXT,
    restricted_persons TEXT
);
CREATE INDEX IF NOT EXISTS records_subject ON records (subject_id);
CREATE INDEX IF NOT EXISTS records_last_seq ON records (last_seq);
CREATE TABLE IF NOT EXISTS record_events (
    id TEXT PRIMARY KEY,
    record_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    document_number TEXT NOT NULL,
    effective_date TEXT NOT NULL,
    seq {int} NOT NULL
);
CREATE INDEX IF NOT EXISTS record_events_record ON record_events (record_id);
CREATE TABLE IF NOT EXISTS rulebooks (
    id TEXT PRIMARY KEY,
    rulebook_id TEXT NOT NULL,
    version TEXT NOT NULL,
    title TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    source TEXT NOT NULL,
    seq {int} NOT NULL
);
CREATE TABLE IF NOT EXISTS objections (
    id TEXT PRIMARY KEY,
    record_id TEXT NOT NULL,
    subject_id TEXT NOT NULL,
    ground TEXT NOT NULL,
    status TEXT NOT NULL,
    filed_date TEXT NOT NULL,
    deadline TEXT NOT NULL,
    filed_by TEXT NOT NULL,
    decided_date TEXT,
    reviewer TEXT,
    reasons TEXT,
    filed_seq {int} NOT NULL,
    last_seq {int} NOT NULL
);
CREATE INDEX IF NOT EXISTS objections_record ON objections (record_id);
CREATE INDEX IF NOT EXISTS objections_subject ON objections (subject_id);
CREATE TABLE IF NOT EXISTS repairs (
    id TEXT PRIMARY KEY,
    record_id TEXT NOT NULL,
    subject_id TEXT NOT NULL,
    status TEXT NOT NULL,
    applied_date TEXT NOT NULL,
    deadline TEXT NOT NULL,
    applicant TEXT NOT NULL,
    decided_date TEXT,
    reviewer TEXT,
    reasons TEXT,
    applied_seq {int} NOT NULL,
    last_seq {int} NOT NULL
);
CREATE INDEX IF NOT EXISTS repairs_record ON repairs (record_id);
CREATE INDEX IF NOT EXISTS repairs_subject ON repairs (subject_id);
CREATE TABLE IF NOT EXISTS holds (
    id TEXT PRIMARY KEY,
    subject_id TEXT NOT NULL,
    rulebook_id TEXT NOT NULL,
    list_id TEXT NOT NULL,
    status TEXT NOT NULL,
    held_date TEXT NOT NULL,
    held_by TEXT NOT NULL,
    reasons TEXT NOT NULL,
    released_date TEXT,
    released_by TEXT,
    held_seq {int} NOT NULL,
    last_seq {int} NOT NULL
);
CREATE INDEX IF NOT EXISTS holds_subject ON holds (subject_id);
CREATE TABLE IF NOT EXISTS consents (
    id TEXT PRIMARY KEY,
    subject_id TEXT NOT NULL,
    status TEXT NOT NULL,
    display_name TEXT,
    shown TEXT NOT NULL,
    given_date TEXT NOT NULL,
    given_by TEXT NOT NULL,
    withdrawn_date TEXT,
    given_seq {int} NOT NULL,
    last_seq {int} NOT NULL
);
CREATE INDEX IF NOT EXISTS consents_subject ON consents (subject_id);
CREATE TABLE IF NOT EXISTS exceptions (
    id TEXT PRIMARY KEY,
    subject_id TEXT NOT NULL,
    authority_id TEXT NOT NULL,
    document_number TEXT NOT NULL,
    decision_date TEXT NOT NULL,
    entity_id TEXT,
    measure_id TEXT,
    actions TEXT NOT NULL,
    valid_from TEXT NOT NULL,
    valid_until TEXT NOT NULL,
    seq {int} NOT NULL
);
CREATE INDEX IF NOT EXISTS exceptions_subject ON exceptions (subject_id);
-- monitoring points (point.registered entries): which organisation a logger belongs to
CREATE TABLE IF NOT EXISTS points (
    id TEXT PRIMARY KEY,
    subject TEXT NOT NULL,
    outlet TEXT NOT NULL,
    authority TEXT NOT NULL,
    rulebook TEXT NOT NULL,
    limit_set TEXT NOT NULL,
    pollutants TEXT NOT NULL,
    flow_unit TEXT NOT NULL,
    registered_us {int} NOT NULL,
    seq {int} NOT NULL
);
CREATE INDEX IF NOT EXISTS points_subject ON points (subject);
-- person-key rotation (person_key.rotated and person_key.linked entries): each version
-- that became current, and the keyed hash of an ID number under a newer version mapped to
-- the person's stable id
CREATE TABLE IF NOT EXISTS person_keys (
    id TEXT PRIMARY KEY,
    version {int} NOT NULL,
    fingerprint TEXT NOT NULL,
    seq {int} NOT NULL
);
CREATE TABLE IF NOT EXISTS person_links (
    id TEXT PRIMARY KEY,
    version {int} NOT NULL,
    subject_id TEXT NOT NULL,
    from_version {int} NOT NULL,
    seq {int} NOT NULL
);
CREATE INDEX IF NOT EXISTS person_links_subject ON person_links (subject_id);
"""


# State written by evaluation (derived from the ledger and the published rulebooks; not
# part of what verify checks, and rebuilt by `trustledger evaluate`). A whole evaluation
# writes fresh tables under the prefix `state_next_` and swaps them in with one
# transaction, so every key and constraint carries a tag of its own: names stay unique
# when a table is renamed. Keys lead with the subject: a check reads one subject's rows.
_STATE_DDL = """
CREATE TABLE IF NOT EXISTS {prefix}profiles (
    rulebook TEXT NOT NULL,
    subject_id TEXT NOT NULL,
    score {int},
    grade TEXT,
    lists TEXT NOT NULL,
    evaluated_on TEXT NOT NULL,
    ledger_size {int} NOT NULL,
    CONSTRAINT {prefix}profiles_pk_{tag} PRIMARY KEY (subject_id, rulebook)
);
CREATE TABLE IF NOT EXISTS {prefix}lists (
    rulebook TEXT NOT NULL,
    list_id TEXT NOT NULL,
    subject_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    since TEXT NOT NULL,
    until TEXT,
    records TEXT NOT NULL,
    effective_from TEXT,
    CONSTRAINT {prefix}lists_pk_{tag} PRIMARY KEY (subject_id, rulebook, list_id, since)
);
-- a list's page, most recently listed first (the portal, /v1/lists): read in index order
CREATE INDEX IF NOT EXISTS {prefix}lists_recent_{tag}
    ON {prefix}lists (list_id, effective_from DESC, subject_id);
CREATE TABLE IF NOT EXISTS {prefix}measures (
    rulebook TEXT NOT NULL,
    measure_id TEXT NOT NULL,
    subject_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    list_id TEXT NOT NULL,
    actions TEXT NOT NULL,
    starts TEXT NOT NULL,
    ends TEXT,
    agency TEXT NOT NULL,
    extends_to TEXT NOT NULL,
    CONSTRAINT {prefix}measures_pk_{tag} PRIMARY KEY (subject_id, rulebook, measure_id, starts)
);
CREATE TABLE IF NOT EXISTS {prefix}subjects (
    subject_id TEXT NOT NULL,
    ledger_size {int} NOT NULL,
    CONSTRAINT {prefix}subjects_pk_{tag} PRIMARY KEY (subject_id)
);
-- the subjects evaluated since a ledger position, and the newest evaluation: what a check
-- server reads at each look, in index order rather than by scanning the state
CREATE INDEX IF NOT EXISTS {prefix}subjects_evaluated_{tag} ON {prefix}subjects (ledger_size)
"""
# the live state; `state_subjects` marks every subject evaluated (to a ledger size), also
# those no rulebook applies to, so that entries newer than an evaluation are found
STATE_TABLES = ("state_profiles", "state_lists", "state_measures")
STATE_ALL = (*STATE_TABLES, "state_subjects")
LIVE_STATE_PREFIX = "state_"
NEXT_STATE_PREFIX = "state_next_"


def state_ddl(prefix: str, tag: str, int_type: str) -> list[str]:
    """The state tables under ``prefix``; ``tag`` makes their constraint names unique."""
    text = _STATE_DDL.format(prefix=prefix, tag=tag, int=int_type)
    return [s.strip() for s in text.split(";") if s.strip()]


def ddl(int_type: str, blob_type: str) -> list[str]:
    text = _DDL.format(int=int_type, blob=blob_type)
    return [s.strip() for s in text.split(";") if s.strip()] + state_ddl(
        LIVE_STATE_PREFIX, "0", int_type
    )


def columns(table: str) -> tuple[str, ...]:
    fields: tuple[str, ...] = TABLES[table]._fields
    return fields


def last_write_column(table: str) -> str:
    """The column holding the seq of the entry that last wrote a row (`last_seq` where
    later entries change rows, `seq` where each write replaces the row whole)."""
    return "last_seq" if "last_seq" in columns(table) else "seq"


# Alembic's version table in Alembic's own layout: a new database is stamped with the current
# revision in the same transaction that creates it (trustledger.ledger.migrate)
VERSION_TABLE = "alembic_version"
VERSION_DDL = (
    f"CREATE TABLE IF NOT EXISTS {VERSION_TABLE} (version_num VARCHAR(32) NOT NULL, "
    f"CONSTRAINT {VERSION_TABLE}_pkc PRIMARY KEY (version_num))"
)

ENTRY_COLUMNS = ("seq", "time_us", "kind", "prev_hash", "payload", "hash")
