"""Kept for imports written before principals: API keys are ``trustledger.access.principals``."""

from trustledger.access.principals import (
    KEY_PREFIX,
    ROLES,
    ApiKeyError,
    Principal,
    authenticate,
    create_key,
    ensure_tables,
)

ApiKey = Principal  # the stored key's holder
ensure_table = ensure_tables

__all__ = ["KEY_PREFIX", "ROLES", "ApiKey", "ApiKeyError", "Principal", "authenticate",
           "create_key", "ensure_table", "ensure_tables"]  # fmt: skip
