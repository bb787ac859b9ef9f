"""Witness cosignatures: C2SP ``tlog-cosignature`` v1 with Ed25519
(https://c2sp.org/tlog-cosignature).

Pure functions, no I/O. A cosignature is a signed-note signature line on a checkpoint,
``— <witness name> base64(key ID || timestamped_signature)``, where

- the key ID is the first four bytes of SHA-256(name || 0x0A || 0x04 || public key): the
  signature type 0x04 keeps a cosignature from ever being read as a plain note signature
  (type 0x01) by the same key, and vice versa;
- ``timestamped_signature`` is a big-endian u64 POSIX timestamp then the 64-byte Ed25519
  signature;
- the signed message is ``cosignature/v1\\n``, ``time <timestamp>\\n``, then the whole
  checkpoint body (extension lines too).

A cosigner's verifier key is ``<name>+<hex key ID>+<base64(0x04 || public key)>``.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from trustledger.ledger.checkpoint import (
    EM_DASH,
    CheckpointError,
    SignatureError,
    check_name,
    parse,
    parse_checkpoint,
    public_key_of,
    split_key,
)

ALG_COSIGNATURE_V1 = 0x04
HEADER = "cosignature/v1\n"
# the spec: a timestamp MUST NOT exceed 2^63 - 1
MAX_TIMESTAMP = 2**63 - 1
_BLOB_BYTES = 4 + 8 + 64

__all__ = [
    "ALG_COSIGNATURE_V1",
    "Cosignature",
    "CosignerKey",
    "add_signatures",
    "cosign",
    "cosigner_key",
    "key_id",
    "message",
    "parse_cosigner_key",
    "verify_cosignature",
]


@dataclass(frozen=True)
class CosignerKey:
    name: str
    key_id: bytes
    public_key: bytes

    def __str__(self) -> str:
        encoded = base64.b64encode(bytes([ALG_COSIGNATURE_V1]) + self.public_key).decode()
        return f"{self.name}+{self.key_id.hex()}+{encoded}"


@dataclass(frozen=True)
class Cosignature:
    """One verified cosignature: who, when, and its signature line (with newline)."""

    name: str
    key_id: bytes
    timestamp: int
    line: str


def key_id(name: str, public_key: bytes) -> bytes:
    """SHA-256(name || "\\n" || 0x04 || public key)[:4]."""
    check_name(name)
    return hashlib.sha256(
        name.encode() + b"\n" + bytes([ALG_COSIGNATURE_V1]) + public_key
    ).digest()[:4]


def cosigner_key(name: str, public_key: bytes) -> CosignerKey:
    if len(public_key) != 32:
        raise CheckpointError("an Ed25519 public key is 32 bytes")
    return CosignerKey(name, key_id(name, public_key), public_key)


def parse_cosigner_key(text: str) -> CosignerKey:
    """``<name>+<hex key ID>+<base64(0x04 || key)>``; CheckpointError otherwise."""
    name, id_hex, public_key = split_key(
        text, "cosigner key", "ID", ALG_COSIGNATURE_V1, "a cosignature/v1 Ed25519 key (type 0x04"
    )
    found = cosigner_key(name, public_key)
    if found.key_id.hex() != id_hex:
        raise CheckpointError("a cosigner key's ID does not match its name and key")
    return found


def message(body: str, timestamp: int) -> bytes:
    """The signed message: the header line, the time line, the checkpoint body."""
    if not 0 <= timestamp <= MAX_TIMESTAMP:
        raise CheckpointError(f"a cosignature's timestamp is outside 0..2^63-1: {timestamp}")
    return (HEADER + f"time {timestamp}\n" + body).encode()


def cosign(body: str, name: str, seed: bytes, timestamp: int) -> str:
    """The cosignature line (with its newline) of the checkpoint ``body`` by the witness
    key ``seed`` named ``name``, made at ``timestamp`` (POSIX seconds)."""
    parse_checkpoint(body)  # a witness cosigns checkpoints, nothing else
    signature = Ed25519PrivateKey.from_private_bytes(seed).sign(message(body, timestamp))
    blob = key_id(name, public_key_of(seed)) + timestamp.to_bytes(8, "big") + signature
    return f"{EM_DASH} {name} {base64.b64encode(blob).decode()}\n"


def add_signatures(note: str, lines: list[str]) -> str:
    """``note`` with more signature lines at the end of its signature block (lines already
    there are not repeated)."""
    parse(note)
    present = set(note.split("\n"))
    extra = [line for line in lines if line.rstrip("\n") not in present]
    return note + "".join(line if line.endswith("\n") else line + "\n" for line in extra)


def verify_cosignature(note: str, key: CosignerKey) -> Cosignature:
    """The cosignature by ``key`` on the checkpoint ``note``: SignatureError if there is
    none or it does not verify, CheckpointError if the note or the cosignature is
    malformed."""
    parsed = parse(note)
    parse_checkpoint(parsed.text)
    mine = [s for s in parsed.signatures if s.name == key.name and s.key_hash == key.key_id]
    if not mine:
        raise SignatureError(f"the note carries no cosignature by {key.name}+{key.key_id.hex()}")
    if len(mine) > 1:
        raise CheckpointError(f"the note carries more than one cosignature by {key.name}")
    (found,) = mine
    blob = found.signature  # timestamp || signature (the key ID is already split off)
    if len(blob) + 4 != _BLOB_BYTES:
        raise CheckpointError(f"a cosignature by {key.name} is not 8 + 64 bytes after its ID")
    timestamp = int.from_bytes(blob[:8], "big")
    try:
        Ed25519PublicKey.from_public_bytes(key.public_key).verify(
            blob[8:], message(parsed.text, timestamp)
        )
    except InvalidSignature:
        raise SignatureError(f"the cosignature by {key.name} does not verify") from None
    encoded = base64.b64encode(found.key_hash + blob).decode()
    return Cosignature(key.name, key.key_id, timestamp, f"{EM_DASH} {key.name} {encoded}\n")
