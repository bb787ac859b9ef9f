"""Who may call the HTTP API: API keys bound to a role and a scope of actions."""

from trustledger.access.keys import ApiKey, ApiKeyError, authenticate, create_key, ensure_table

__all__ = ["ApiKey", "ApiKeyError", "authenticate", "create_key", "ensure_table"]
