"""Schema 4, the baseline: the schema of the last release made before migrations existed.

A database of that release has no alembic_version table; ``migrate`` stamps it with this
revision (its meta says schema 4) before upgrading. Nothing to create: such a database
already has every table of schema 4.

Revision ID: 0004
Revises:
"""

from __future__ import annotations

revision = "0004"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    raise NotImplementedError("a ledger's schema is only ever upgraded")
