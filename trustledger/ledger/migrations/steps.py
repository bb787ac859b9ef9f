"""What revisions share: DDL written once for both engines, and the schema number in meta."""

from __future__ import annotations

from alembic import op

_TYPES = {
    "sqlite": {"int": "INTEGER", "blob": "BLOB"},
    "postgresql": {"int": "BIGINT", "blob": "BYTEA"},
}


def execute(ddl: str) -> None:
    """Run DDL with ``{int}`` and ``{blob}`` filled for the engine at hand."""
    types = _TYPES[op.get_bind().dialect.name]
    for statement in ddl.format(**types).split(";"):
        if statement.strip():
            op.execute(statement.strip())


def set_schema(version: str) -> None:
    op.execute(f"UPDATE meta SET value = '{int(version)}' WHERE key = 'schema_version'")
