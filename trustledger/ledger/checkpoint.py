"""Signed checkpoints: the C2SP ``tlog-checkpoint`` body in a C2SP ``signed-note`` with an
Ed25519 signature (https://c2sp.org/tlog-checkpoint, https://c2sp.org/signed-note).

Pure functions, no I/O: where the key lives is the application's business.

A note is its text (every line ending in a newline), a blank line, then signature lines
``— <key name> <base64(4-byte key hash || signature)>``. For Ed25519 the key hash is the
first four bytes of SHA-256(key name || 0x0A || 0x01 || 32-byte public key) and the
signature is over the text alone. A checkpoint's text is the origin line, the tree size in
decimal and the base64 root hash, then optional extension lines. A verifier key is written
``<name>+<hex key hash>+<base64(0x01 || public key)>``, as golang.org/x/mod/sumdb/note
reads it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

ALG_ED25519 = 0x01
EM_DASH = "\u2014"
# signed-note: a verifier stops after this many signatures, so a note cannot make it work forever
MAX_SIGNATURES = 100
_DECIMAL = re.compile(r"0|[1-9][0-9]*")


class CheckpointError(ValueError):
    """A note, checkpoint or verifier key that does not follow the format."""


class SignatureError(Exception):
    """A well-formed note that the given key did not sign."""


@dataclass(frozen=True)
class Signature:
    name: str
    key_hash: bytes
    signature: bytes


@dataclass(frozen=True)
class Note:
    text: str
    signatures: tuple[Signature, ...]


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()


@dataclass(frozen=True)
class VerifierKey:
    name: str
    key_hash: bytes
    public_key: bytes

    def __str__(self) -> str:
        encoded = base64.b64encode(bytes([ALG_ED25519]) + self.public_key).decode()
        return f"{self.name}+{self.key_hash.hex()}+{encoded}"


def check_name(name: str) -> None:
    # signed-note: a key name is non-empty, printable, with no whitespace and no "+"
    if not name or "+" in name or any(c.isspace() or not c.isprintable() for c in name):
        raise CheckpointError(f"bad key name {name!r}: non-empty, no spaces, no '+'")


def key_hash(name: str, public_key: bytes) -> bytes:
    """The four-byte key hash of an Ed25519 key: it names the key in a signature line."""
    check_name(name)
    material = name.encode() + b"\n" + bytes([ALG_ED25519]) + public_key
    return hashlib.sha256(material).digest()[:4]


def public_key_of(seed: bytes) -> bytes:
    """The 32-byte Ed25519 public key of a 32-byte private key (seed)."""
    return (
        Ed25519PrivateKey.from_private_bytes(seed)
        .public_key()
        .public_bytes(Encoding.Raw, PublicFormat.Raw)
    )


def verifier_key(name: str, public_key: bytes) -> VerifierKey:
    if len(public_key) != 32:
        raise CheckpointError("an Ed25519 public key is 32 bytes")
    return VerifierKey(name, key_hash(name, public_key), public_key)


def split_key(text: str, what: str, id_name: str, alg: int, kind: str) -> tuple[str, str, bytes]:
    """(name, hex ID, 32-byte public key) of a key written ``<name>+<hex ID>+<base64(alg ||
    key)>``, the layout verifier and cosigner keys share; CheckpointError naming ``what``
    (a "verifier key"), its ``id_name`` ("hash") and the ``kind`` of key it must be."""
    # the base64 part may itself hold "+": split at the first two only
    parts = text.strip().split("+", 2)
    if len(parts) != 3:
        raise CheckpointError(f"a {what} is <name>+<hex key {id_name}>+<base64 key>")
    name, id_hex, encoded = parts
    check_name(name)
    if not re.fullmatch(r"[0-9a-f]{8}", id_hex):
        raise CheckpointError(f"a {what}'s {id_name} is 8 lowercase hex digits")
    try:
        raw = base64.b64decode(encoded, validate=True)
    except binascii.Error:
        raise CheckpointError(f"a {what}'s key is not base64") from None
    if len(raw) != 33 or raw[0] != alg:
        raise CheckpointError(f"a {what} must be {kind} and 32 bytes)")
    return name, id_hex, raw[1:]


def parse_verifier_key(text: str) -> VerifierKey:
    """``<name>+<hex key hash>+<base64(0x01 || public key)>``; CheckpointError otherwise."""
    name, hash_hex, public_key = split_key(
        text, "verifier key", "hash", ALG_ED25519, "an Ed25519 key (0x01"
    )
    found = verifier_key(name, public_key)
    if found.key_hash.hex() != hash_hex:
        raise CheckpointError("a verifier key's hash does not match its name and key")
    return found


def checkpoint_body(origin: str, size: int, root: bytes, extensions: tuple[str, ...] = ()) -> str:
    """The checkpoint's text: origin, decimal size, base64 root, extension lines."""
    if not origin or "\n" in origin or origin != origin.strip():
        raise CheckpointError("an origin is one non-empty line without surrounding spaces")
    if size < 0:
        raise CheckpointError("a tree size is not negative")
    lines = [origin, str(size), base64.b64encode(root).decode(), *extensions]
    if any(not line or "\n" in line for line in extensions):
        raise CheckpointError("an extension line is one non-empty line")
    return "".join(line + "\n" for line in lines)


def parse_checkpoint(text: str) -> Checkpoint:
    lines = text.split("\n")
    if len(lines) < 4 or lines[-1] != "":
        raise CheckpointError("a checkpoint is an origin, a size and a root hash, each a line")
    origin, size_text, root_text, *extensions = lines[:-1]
    if not origin:
        raise CheckpointError("a checkpoint's origin line is empty")
    if not _DECIMAL.fullmatch(size_text):
        raise CheckpointError(f"a checkpoint's size is not a decimal number: {size_text!r}")
    try:
        root = base64.b64decode(root_text, validate=True)
    except binascii.Error:
        raise CheckpointError("a checkpoint's root hash is not base64") from None
    if len(root) != 32:
        raise CheckpointError("a checkpoint's root hash is not 32 bytes (SHA-256)")
    if any(not line for line in extensions):
        raise CheckpointError("a checkpoint's extension line is empty")
    return Checkpoint(origin, int(size_text), root, tuple(extensions))


def signature_line(text: str, name: str, seed: bytes) -> str:
    """The signature line (with its newline) of ``text`` by the Ed25519 key ``seed`` under
    ``name``: for a note signed by more than one key (a log key rotation's link)."""
    if not text.endswith("\n") or "\n\n" in text or text.startswith("\n"):
        raise CheckpointError("a note's text ends with a newline and holds no blank line")
    private = Ed25519PrivateKey.from_private_bytes(seed)
    signature = private.sign(text.encode())
    blob = key_hash(name, public_key_of(seed)) + signature
    return f"{EM_DASH} {name} {base64.b64encode(blob).decode()}\n"


def sign(text: str, name: str, seed: bytes) -> str:
    """The note: ``text`` signed by the Ed25519 key ``seed`` under ``name``."""
    return f"{text}\n{signature_line(text, name, seed)}"


def parse(note: str) -> Note:
    """A note's text and signature lines; CheckpointError for anything malformed."""
    if any(c != "\n" and ord(c) < 0x20 for c in note):
        raise CheckpointError("a note holds a control character other than newline")
    if not note.endswith("\n"):
        raise CheckpointError("a note ends with a newline")
    cut = note.rfind("\n\n")
    if cut < 0:
        raise CheckpointError("a note has no blank line before its signatures")
    text, block = note[: cut + 1], note[cut + 2 :]
    if not text.strip("\n") or text.startswith("\n"):
        raise CheckpointError("a note's text is empty")
    signatures = []
    for line in block.split("\n")[:-1]:
        prefix = EM_DASH + " "
        if not line.startswith(prefix):
            raise CheckpointError(f"not a signature line: {line[:60]!r}")
        fields = line[len(prefix) :].split(" ")
        if len(fields) != 2:
            raise CheckpointError(f"a signature line is '— <name> <base64>': {line[:60]!r}")
        name, encoded = fields
        check_name(name)
        try:
            blob = base64.b64decode(encoded, validate=True)
        except binascii.Error:
            raise CheckpointError(f"a signature of {name!r} is not base64") from None
        if len(blob) < 5:
            raise CheckpointError(f"a signature of {name!r} is too short")
        signatures.append(Signature(name, blob[:4], blob[4:]))
    if not signatures:
        raise CheckpointError("a note has no signature")
    if len(signatures) > MAX_SIGNATURES:
        raise CheckpointError(f"a note has more than {MAX_SIGNATURES} signatures")
    return Note(text, tuple(signatures))


def verify_note(note: str, key: VerifierKey) -> Note:
    """The parsed ``note`` if ``key`` signed it; SignatureError if it did not (no signature
    by that key, or a bad one), CheckpointError if the note is malformed."""
    parsed = parse(note)
    mine = [s for s in parsed.signatures if s.name == key.name and s.key_hash == key.key_hash]
    if not mine:
        raise SignatureError(f"the note carries no signature by {key.name}+{key.key_hash.hex()}")
    public = Ed25519PublicKey.from_public_bytes(key.public_key)
    for found in mine:
        try:
            public.verify(found.signature, parsed.text.encode())
        except InvalidSignature:
            raise SignatureError(f"the signature by {key.name} does not verify") from None
    return parsed


def verify(note: str, key: VerifierKey) -> Checkpoint:
    """The checkpoint of ``note`` if ``key`` signed it (see ``verify_note``)."""
    return parse_checkpoint(verify_note(note, key).text)
