"""Alembic's entry point: runs the revisions on the connection ``migrate`` hands over.

There is no alembic.ini and no URL here: ``trustledger.ledger.migrate`` opens the database
the way the store does (same URL forms) and passes the connection in, inside a transaction it
owns, so the whole upgrade commits once.
"""

from __future__ import annotations

from alembic import context

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    # both engines roll DDL back with the transaction: a failed upgrade leaves the old schema
    transactional_ddl=True,
    transaction_per_migration=False,
)
with context.begin_transaction():
    context.run_migrations()
