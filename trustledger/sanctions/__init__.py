"""Name screening: ranked candidate subjects for a name, always for human review."""
