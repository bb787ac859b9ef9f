"""Ledger entries: the canonical envelope, its leaf hash and the hash chain.

An entry is the canonical JSON object

    {"kind": K, "payload": P, "prev": H(prev entry) hex, "seq": N, "time_us": T}

(keys in RFC 8785 order) and its hash is the RFC 6962 leaf hash SHA-256(0x00 || entry).
Stores keep the envelope's fields as columns and the payload's canonical bytes, so the
exact bytes can be rebuilt by concatenation, without parsing, when the chain is verified.
"""

from __future__ import annotations

import time
from hashlib import sha256
from typing import Any, NamedTuple

from trustledger.ledger.canonical import canonical_json, parse_json

GENESIS_PREV = bytes(32)
_KIND_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz._")


class Entry(NamedTuple):
    """One stored entry. A tuple, because verify reads a million of them."""

    seq: int
    time_us: int
    kind: str
    prev_hash: bytes
    payload: bytes  # canonical JSON
    hash: bytes

    def payload_obj(self) -> Any:
        return parse_json(self.payload)

    def envelope(self) -> bytes:
        return envelope(self.seq, self.time_us, self.kind, self.prev_hash, self.payload)

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "time_us": self.time_us,
            "kind": self.kind,
            "prev": self.prev_hash.hex(),
            "hash": self.hash.hex(),
            "payload": self.payload_obj(),
        }


def envelope(seq: int, time_us: int, kind: str, prev_hash: bytes, payload: bytes) -> bytes:
    """The canonical JSON bytes of an entry (equal to canonical_json of the full object)."""
    return b"".join(
        (
            b'{"kind":"',
            kind.encode("ascii"),
            b'","payload":',
            payload,
            b',"prev":"',
            prev_hash.hex().encode("ascii"),
            b'","seq":',
            str(seq).encode("ascii"),
            b',"time_us":',
            str(time_us).encode("ascii"),
            b"}",
        )
    )


def entry_hash(seq: int, time_us: int, kind: str, prev_hash: bytes, payload: bytes) -> bytes:
    return sha256(b"\x00" + envelope(seq, time_us, kind, prev_hash, payload)).digest()


_KNOWN_KINDS: set[str] = set()


def make_entry(
    seq: int,
    time_us: int,
    kind: str,
    prev_hash: bytes,
    payload: Any,
    body: bytes | None = None,
) -> Entry:
    """A new entry; ``body`` skips canonicalising again a payload already canonicalised."""
    if kind not in _KNOWN_KINDS:
        if not kind or not _KIND_CHARS.issuperset(kind):
            # the envelope is built by concatenation, so the kind must need no JSON escaping
            raise ValueError(
                f"entry kind {kind!r} must be lower-case letters, dots and underscores"
            )
        _KNOWN_KINDS.add(kind)
    if body is None:
        body = canonical_json(payload)
    return Entry(
        seq, time_us, kind, prev_hash, body, entry_hash(seq, time_us, kind, prev_hash, body)
    )


def now_us() -> int:
    return time.time_ns() // 1000
