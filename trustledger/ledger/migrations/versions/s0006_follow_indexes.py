"""Schema 6: indexes for a check server's look at the state (issue 15).

A check server (or a replica) looks at the store every interval for what changed since the
position its index reflects. Without these indexes each look scanned every subject and the
whole state (1.5 s at 1.75 M subjects); with them it reads only what changed.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

from trustledger.ledger.migrations.steps import execute, set_schema

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

# the live state tables keep the tag of the evaluation that made them; the next whole
# evaluation recreates them with the index under its own tag (ledger/schema.py)
_DDL = """
CREATE INDEX IF NOT EXISTS subjects_last_seq ON subjects (last_seq);
CREATE INDEX IF NOT EXISTS state_subjects_evaluated_0006 ON state_subjects (ledger_size)
"""


def upgrade() -> None:
    execute(_DDL)
    set_schema("6")


def downgrade() -> None:
    raise NotImplementedError("a ledger's schema is only ever upgraded")
