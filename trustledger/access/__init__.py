"""Who may call the platform: principals (API keys bound to a role and a scope) and the
access log (who read what about whom, and why)."""

from trustledger.access.principals import (
    ApiKeyError,
    Principal,
    Role,
    authenticate,
    create_key,
    ensure_tables,
    get_principal,
    list_principals,
    revoke,
)

ApiKey = Principal
ensure_table = ensure_tables

__all__ = [
    "ApiKey",
    "ApiKeyError",
    "Principal",
    "Role",
    "authenticate",
    "create_key",
    "ensure_table",
    "ensure_tables",
    "get_principal",
    "list_principals",
    "revoke",
]
