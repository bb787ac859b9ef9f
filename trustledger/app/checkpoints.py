"""Signed checkpoints of the ledger (C2SP tlog-checkpoint in a signed note): make one from
the tree head with the log's key, give the verifier key, check a note against this ledger.

The log's key is 32 bytes of Ed25519 private key, hex, in ``settings.log_key_file``
(``TRUSTLEDGER_LOG_KEY_FILE``): made on first use with mode 0600 and never put in the
database, so that whoever holds the database alone cannot sign a rewritten history.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trustledger.app.errors import BadInput, ConfigError
from trustledger.ids import create_private_file

if TYPE_CHECKING:
    from trustledger.app.context import Context
    from trustledger.settings import Settings

__all__ = ["CheckpointCheck", "checkpoint", "verifier_key", "verify_checkpoint"]


@dataclass(frozen=True)
class CheckpointCheck:
    """``ok`` only when the signature verifies and the size and root are this ledger's."""

    ok: bool
    reasons: list[str]
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "reasons": self.reasons, "facts": self.facts}


def _write_new_key(path: Path) -> None:
    try:
        create_private_file(path, secrets.token_bytes(32).hex() + "\n")
    except FileExistsError:
        return  # another first run wrote it: read that one
    except OSError as exc:
        raise ConfigError(f"cannot create log key file {path}: {exc.strerror}") from None


def _seed(settings: Settings, *, create: bool) -> bytes:
    path = settings.log_key_file
    if create and not path.exists():
        _write_new_key(path)
    try:
        text = path.read_text("ascii").strip()
    except FileNotFoundError:
        raise ConfigError(
            f"no log key: {path} does not exist (TRUSTLEDGER_LOG_KEY_FILE); "
            "`trustledger ledger checkpoint` creates one"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not ASCII"
        raise ConfigError(f"cannot read log key file {path}: {reason}") from None
    try:
        seed = bytes.fromhex(text)
    except ValueError:
        seed = b""
    if len(seed) != 32:
        raise ConfigError(f"log key file {path} does not hold 32 bytes of hex")
    return seed


def _origin(settings: Settings) -> str:
    from trustledger.ledger.checkpoint import CheckpointError, key_hash

    origin = settings.log_origin
    try:
        key_hash(origin, bytes(32))  # the origin names the key: it must be a valid key name
    except CheckpointError as exc:
        raise ConfigError(f"TRUSTLEDGER_LOG_ORIGIN: {exc}") from None
    return origin


def verifier_key(settings: Settings) -> str:
    """The verifier key of the log (``<origin>+<hash>+<base64 key>``), the key made first
    if missing: what the operator publishes so that anyone can check its checkpoints."""
    from trustledger.ledger import checkpoint as note

    seed = _seed(settings, create=True)
    return str(note.verifier_key(_origin(settings), note.public_key_of(seed)))


def checkpoint(ctx: Context) -> str:
    """The signed note of the latest tree head, the log key made first if missing."""
    from trustledger.ledger import checkpoint as note

    origin = _origin(ctx.settings)
    seed = _seed(ctx.settings, create=True)
    head = ctx.store.head()
    return note.sign(note.checkpoint_body(origin, head.size, head.root), origin, seed)


def verify_checkpoint(ctx: Context, text: str, key: str) -> CheckpointCheck:
    """Check a signed checkpoint: signed by ``key`` (a verifier key string), and its size
    and root those of this ledger's tree at that size (recomputed from the leaves, not
    read from a stored head). BadInput for a malformed note or key."""
    from trustledger.ledger import checkpoint as note
    from trustledger.ledger import merkle

    try:
        vkey = note.parse_verifier_key(key)
    except note.CheckpointError as exc:
        raise BadInput(f"verifier key: {exc}") from None
    try:
        parsed = note.parse_checkpoint(note.parse(text).text)
    except note.CheckpointError as exc:
        raise BadInput(f"checkpoint: {exc}") from None
    facts: dict[str, Any] = {
        "origin": parsed.origin,
        "size": parsed.size,
        "root": parsed.root.hex(),
        "key": f"{vkey.name}+{vkey.key_hash.hex()}",
    }
    try:
        note.verify(text, vkey)
    except note.SignatureError as exc:
        return CheckpointCheck(False, [str(exc)], facts)
    held = ctx.store.size()
    facts["ledger_size"] = held
    if parsed.size > held:
        reason = f"the checkpoint's size {parsed.size} is larger than the ledger ({held} entries)"
        return CheckpointCheck(False, [reason], facts)
    root = merkle.root(ctx.store.leaf_hashes(parsed.size))
    facts["ledger_root"] = root.hex()
    if root != parsed.root:
        reason = f"the ledger's root at size {parsed.size} is not the checkpoint's"
        return CheckpointCheck(False, [reason], facts)
    return CheckpointCheck(True, [], facts)
