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
"""


def upgrade() -> None:
    execute(_DDL)
    set_schema("5")


def downgrade() -> None:
    raise NotImplementedError("a ledger's schema is only ever upgraded")
