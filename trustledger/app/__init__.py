"""The application layer: one context, one module per use case.

Faces (CLI, API, portal) parse, call a module here, and render. Modules here own the
workflows, the transactions and the SQL outside ``trustledger.ledger`` (in ``queries``).
Nothing is imported at package import time: each face imports only the use case it runs.
"""
