"""Schema 5: the verifiable ledger (issue 13).

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from trustledger.ledger.migrations.steps import execute, set_schema

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# the tables schema 5 adds, exactly as a new database gets them
_DDL = """
-- the tree as C2SP tlog-tiles tiles (trustledger.ledger.tiles), an upgraded database's tiles
-- are built from entries.hash at its first write or proof, or by `trustledger ledger tiles`
CREATE TABLE IF NOT EXISTS tiles (
    level {int} NOT NULL,
    idx {int} NOT NULL,
    hashes {blob} NOT NULL,
    PRIMARY KEY (level, idx)
);
-- monitoring points become ledger entries (point.registered) projected here (no semicolon
-- in these comments: the DDL is split on them), an upgraded database's monitor_points rows
-- are registered as entries at the first use of monitoring or by `ledger commit-baseline`
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


def upgrade() -> None:
    execute(_DDL)
    # the rows an earlier release wrote beside the ledger are committed to it as found at
    # their table's first write (trustledger.ledger.tabledigest); until then verify notes
    # them, and knows from this key that the database was upgraded at this ledger size
    execute("INSERT INTO meta (key, value) SELECT 'commits_from', CAST(count(*) AS TEXT) "
            "FROM entries")  # fmt: skip
    set_schema("5")


def downgrade() -> None:
    raise NotImplementedError("a ledger's schema is only ever upgraded")
