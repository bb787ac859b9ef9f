"""Alembic's script directory for the store's schema: ``env.py`` and ``versions/``.

Read by ``trustledger.ledger.migrate``; nothing here is imported by the rest of the code.
"""
