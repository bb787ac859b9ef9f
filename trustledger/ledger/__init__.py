"""Append-only, hash-chained ledger and its Merkle tree commitments."""
