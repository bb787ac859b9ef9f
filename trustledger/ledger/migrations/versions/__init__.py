"""One revision per schema version, named after it (``s0005_…`` brings schema 4 to 5)."""
