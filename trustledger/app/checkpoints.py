"""Signed checkpoints of the ledger (C2SP tlog-checkpoint in a signed note): make one from
the tree head with the log's key, keep it, take the cosignatures witnesses send for it
(C2SP tlog-cosignature), give the verifier keys, check a note against this ledger, and
rotate the log key.

The log's key is 32 bytes of Ed25519 private key, hex, in ``settings.log_key_file``
(``TRUSTLEDGER_LOG_KEY_FILE``): made on first use with mode 0600 and never put in the
database, so that whoever holds the database alone cannot sign a rewritten history.

When a checkpoint is signed: on demand (``trustledger ledger checkpoint``) and by the
server, at most every ``settings.checkpoint_interval`` seconds when the ledger grew (on a
read of the latest checkpoint and by a timer) — not per write transaction, because the
writers (bulk ingest, the monitoring receiver, the CLI) are other processes that need not
and should not hold the log key, and a witness only ever cosigns what it fetches.

Every signed checkpoint is kept (``checkpoints``, by tree size), so an old one stays
available with the cosignatures it gathered (``checkpoint_cosignatures``); a retired log
key's public half is kept in ``log_keys`` with the tree size at which it was retired and
the note that links it to its successor.
"""

from __future__ import annotations

import os
import secrets
import time
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trustledger.app.errors import BadInput, ConfigError, Conflict, Forbidden, NotFound
from trustledger.ids import create_private_file

if TYPE_CHECKING:
    from trustledger.app.context import Context
    from trustledger.ledger.checkpoint import VerifierKey
    from trustledger.ledger.cosignature import Cosignature, CosignerKey
    from trustledger.ledger.store import Store
    from trustledger.settings import Settings

__all__ = [
    "CheckpointCheck",
    "LogKey",
    "Rotation",
    "accept_cosignature",
    "checkpoint",
    "log_keys",
    "rotate_log_key",
    "sign_if_grown",
    "verifier_key",
    "verify_checkpoint",
    "verify_held",
    "witness_keys",
]

# the extension line of a rotation's link note: the successor's verifier key
NEXT_KEY = "trustledger-next-log-key"

# created lazily (a database that never signs a checkpoint has none of them), so no
# migration is needed; TEXT for hashes (hex) keeps the DDL the same on SQLite and PostgreSQL
DDL = (
    "CREATE TABLE IF NOT EXISTS checkpoints ("
    " size BIGINT PRIMARY KEY, root TEXT NOT NULL, key_hash TEXT NOT NULL,"
    " note TEXT NOT NULL, signed_us BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS checkpoint_cosignatures ("
    " size BIGINT NOT NULL, witness TEXT NOT NULL, key_id TEXT NOT NULL,"
    " timestamp BIGINT NOT NULL, line TEXT NOT NULL, received_us BIGINT NOT NULL,"
    " PRIMARY KEY (size, witness, key_id))",
    "CREATE TABLE IF NOT EXISTS log_keys ("
    " key_hash TEXT PRIMARY KEY, vkey TEXT NOT NULL, retired_size BIGINT NOT NULL,"
    " retired_us BIGINT NOT NULL, link_note TEXT NOT NULL)",
)
_READY: weakref.WeakSet[Store] = weakref.WeakSet()


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


@dataclass(frozen=True)
class LogKey:
    """A log key's verifier key; ``retired_size`` None for the current one."""

    vkey: str
    retired_size: int | None = None
    link_note: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"key": self.vkey, "retired_size": self.retired_size, "link": self.link_note}


@dataclass(frozen=True)
class Rotation:
    old_key: str
    new_key: str
    size: int
    link_note: str

    def to_json(self) -> dict[str, Any]:
        return {"old_key": self.old_key, "new_key": self.new_key, "size": self.size,
                "link": self.link_note}  # fmt: skip


def _tables(store: Store) -> Store:
    if store not in _READY:
        store.create_tables(DDL)
        _READY.add(store)
    return store


# --- the log key ------------------------------------------------------------------------
def _new_key_text() -> str:
    return secrets.token_bytes(32).hex() + "\n"


def _write_new_key(path: Path) -> None:
    try:
        create_private_file(path, _new_key_text())
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


def _vkey(settings: Settings, seed: bytes) -> VerifierKey:
    from trustledger.ledger import checkpoint as note

    return note.verifier_key(_origin(settings), note.public_key_of(seed))


def verifier_key(settings: Settings) -> str:
    """The verifier key of the log (``<origin>+<hash>+<base64 key>``), the key made first
    if missing: what the operator publishes so that anyone can check its checkpoints."""
    return str(_vkey(settings, _seed(settings, create=True)))


def log_keys(ctx: Context) -> list[LogKey]:
    """The current log key first, then the retired ones, newest first, each with the tree
    size at which it was retired and the note linking it to its successor."""
    current = LogKey(verifier_key(ctx.settings))
    rows = _tables(ctx.store).query(
        "SELECT vkey, retired_size, link_note FROM log_keys ORDER BY retired_us DESC"
    )
    return [current, *(LogKey(v, int(s), n) for v, s, n in rows)]


def _present(store: Store) -> set[str]:
    """Which of this module's tables the database has (a check creates none)."""
    dialect = "sqlite" if store.url.startswith("sqlite") else "postgresql"
    return {t for t in TABLES if store.query(_TABLE_EXISTS[dialect], (t,))}


def _known_log_keys(ctx: Context) -> dict[str, VerifierKey]:
    """The log key (when its file is here: a check never makes one) and the retired keys."""
    from trustledger.ledger import checkpoint as note

    found = {}
    if ctx.settings.log_key_file.exists():
        current = _vkey(ctx.settings, _seed(ctx.settings, create=False))
        found[current.key_hash.hex()] = current
    if "log_keys" in _present(ctx.store):
        for (vkey,) in ctx.store.query("SELECT vkey FROM log_keys"):
            parsed = note.parse_verifier_key(vkey)
            found[parsed.key_hash.hex()] = parsed
    return found


# --- signing and keeping checkpoints ----------------------------------------------------
def _stored(store: Store, size: int | None) -> tuple[int, str, float] | None:
    """(size, note, signed_us) of the checkpoint at ``size`` (None: the latest)."""
    if size is None:
        rows = store.query(
            "SELECT size, note, signed_us FROM checkpoints ORDER BY size DESC LIMIT 1"
        )
    elif size >= 2**63:  # a size no database integer holds was never signed
        return None
    else:
        rows = store.query("SELECT size, note, signed_us FROM checkpoints WHERE size = ?", (size,))
    return (int(rows[0][0]), str(rows[0][1]), float(rows[0][2])) if rows else None


def _sign_head(ctx: Context) -> tuple[int, str]:
    """Sign the latest tree head with the current log key and keep it; a size already
    signed keeps its first note (one size, one root, one note)."""
    from trustledger.ledger import checkpoint as note

    store = _tables(ctx.store)
    origin = _origin(ctx.settings)
    seed = _seed(ctx.settings, create=True)
    head = store.head()
    signed = note.sign(note.checkpoint_body(origin, head.size, head.root), origin, seed)
    hash_hex = note.key_hash(origin, note.public_key_of(seed)).hex()
    with store.transaction():
        store.execute(
            "INSERT INTO checkpoints (size, root, key_hash, note, signed_us) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (size) DO NOTHING",
            [(head.size, head.root.hex(), hash_hex, signed, time.time_ns() // 1000)],
        )
    found = _stored(store, head.size)
    assert found is not None
    return found[0], found[1]


def _with_cosignatures(store: Store, size: int, signed: str) -> str:
    lines = store.query(
        "SELECT line FROM checkpoint_cosignatures WHERE size = ? ORDER BY witness, key_id", (size,)
    )
    return signed + "".join(str(line) for (line,) in lines)


def checkpoint(ctx: Context, size: int | None = None, *, min_interval: float = 0.0) -> str:
    """The signed note of a checkpoint with the cosignatures it has. ``size`` None: the
    latest, a new one signed (the log key made first if missing) when the ledger grew
    since the last one and that one is at least ``min_interval`` seconds old; a size: the
    checkpoint kept for it (NotFound if none was signed at that size)."""
    store = _tables(ctx.store)
    if size is not None:
        found = _stored(store, size)
        if found is None:
            raise NotFound(f"no checkpoint was signed at tree size {size}")
        return _with_cosignatures(store, size, found[1])
    last = _stored(store, None)
    grown = last is None or store.size() > last[0]
    if grown and (last is None or time.time() - last[2] / 1e6 >= min_interval):
        signed_size, signed = _sign_head(ctx)
    else:
        assert last is not None
        signed_size, signed = last[0], last[1]
    return _with_cosignatures(store, signed_size, signed)


def sign_if_grown(ctx: Context) -> int | None:
    """The server's timer: sign the head if the ledger grew since the last checkpoint;
    the size signed, or None if there was nothing new."""
    store = _tables(ctx.store)
    last = _stored(store, None)
    if last is not None and store.size() <= last[0]:
        return None
    return _sign_head(ctx)[0]


# --- cosignatures ----------------------------------------------------------------------
def witness_keys(settings: Settings) -> list[CosignerKey]:
    """The witnesses the log trusts (``TRUSTLEDGER_WITNESS_KEYS``, one cosigner verifier
    key a line, ``#`` comments); none without the setting. ConfigError for a bad line."""
    from trustledger.ledger import checkpoint as note
    from trustledger.ledger import cosignature

    path = settings.witness_keys_file
    if path is None:
        return []
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read witness keys file {path}: {exc}") from None
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        try:
            found.append(cosignature.parse_cosigner_key(line))
        except note.CheckpointError as exc:
            raise ConfigError(f"witness keys file {path}, line {number}: {exc}") from None
    return found


def accept_cosignature(ctx: Context, text: str) -> list[Cosignature]:
    """Take the cosignatures in ``text`` (a checkpoint note this log signed, with one or
    more witness signature lines) by the witnesses the log trusts, and keep them with the
    checkpoint (a witness's newer cosignature of a size replaces its older one).

    BadInput for a malformed note; NotFound for a size this log signed no checkpoint of,
    Conflict for a checkpoint that is not the one it signed at that size (another root or
    origin); Forbidden when no line is by a
    witness the log trusts, or a trusted witness's cosignature does not verify."""
    from trustledger.ledger import checkpoint as note
    from trustledger.ledger import cosignature

    try:
        parsed = note.parse(text)
        body = note.parse_checkpoint(parsed.text)
    except note.CheckpointError as exc:
        raise BadInput(f"cosigned checkpoint: {exc}") from None
    store = _tables(ctx.store)
    found = _stored(store, body.size)
    if found is None:
        raise NotFound(f"this log signed no checkpoint at tree size {body.size}")
    if note.parse(found[1]).text != parsed.text:
        raise Conflict(f"this log signed another checkpoint at tree size {body.size}")
    trusted = {(k.name, k.key_id): k for k in witness_keys(ctx.settings)}
    mine = [trusted[(s.name, s.key_hash)] for s in parsed.signatures
            if (s.name, s.key_hash) in trusted]  # fmt: skip
    if not mine:
        names = ", ".join(f"{s.name}+{s.key_hash.hex()}" for s in parsed.signatures)
        raise Forbidden(f"no cosignature by a witness this log trusts (found: {names})")
    accepted = []
    for key in mine:
        try:
            accepted.append(cosignature.verify_cosignature(text, key))
        except (note.SignatureError, note.CheckpointError) as exc:
            raise Forbidden(f"cosignature: {exc}") from None
    now = time.time_ns() // 1000
    with store.transaction():
        for c in accepted:
            store.execute(
                "DELETE FROM checkpoint_cosignatures WHERE size = ? AND witness = ? AND key_id = ?",
                [(body.size, c.name, c.key_id.hex())],
            )
            store.execute(
                "INSERT INTO checkpoint_cosignatures"
                " (size, witness, key_id, timestamp, line, received_us) VALUES (?, ?, ?, ?, ?, ?)",
                [(body.size, c.name, c.key_id.hex(), c.timestamp, c.line, now)],
            )
    return accepted


# --- rotation -------------------------------------------------------------------------
def rotate_log_key(ctx: Context) -> Rotation:
    """Replace the log key: the old key signs the head one last time (kept as the last
    checkpoint of its key), then a link note — that checkpoint's body with an extension
    line naming the new verifier key, signed by the old key and the new one — records the
    rotation; the old public key is kept in ``log_keys`` with that tree size, so its
    checkpoints stay verifiable; the new key, written 0600 in place of the old, signs
    every later checkpoint. ConfigError without an existing log key."""
    from trustledger.ledger import checkpoint as note

    settings = ctx.settings
    path = settings.log_key_file
    old_seed = _seed(settings, create=False)
    origin = _origin(settings)
    size, signed = _sign_head(ctx)
    kept = note.parse(signed)
    if kept.signatures[0].key_hash != _vkey(settings, old_seed).key_hash:
        # the head was first signed by a key retired since: nothing new for the old key
        raise BadInput(f"the checkpoint at size {size} is not the current key's: append first")
    new_text = _new_key_text()
    new_seed = bytes.fromhex(new_text.strip())
    old_vkey, new_vkey = _vkey(settings, old_seed), _vkey(settings, new_seed)
    body = note.parse_checkpoint(kept.text)
    link_text = note.checkpoint_body(origin, size, body.root, (f"{NEXT_KEY} {new_vkey}",))
    link = (
        f"{link_text}\n"
        + note.signature_line(link_text, origin, old_seed)
        + note.signature_line(link_text, origin, new_seed)
    )
    pending = path.with_name(path.name + ".new")
    pending.unlink(missing_ok=True)
    try:
        create_private_file(pending, new_text)
    except OSError as exc:
        raise ConfigError(f"cannot write the new log key {pending}: {exc.strerror}") from None
    store = ctx.store
    with store.transaction():
        store.execute(
            "INSERT INTO log_keys (key_hash, vkey, retired_size, retired_us, link_note)"
            " VALUES (?, ?, ?, ?, ?)",
            [(old_vkey.key_hash.hex(), str(old_vkey), size, time.time_ns() // 1000, link)],
        )
        os.replace(pending, path)  # inside the transaction: a failed rename records nothing
    return Rotation(str(old_vkey), str(new_vkey), size, link)


# --- checking notes against this ledger -------------------------------------------------
def _root_at(ctx: Context, size: int) -> bytes:
    from trustledger.ledger import merkle

    return merkle.root(ctx.store.leaf_hashes(size))


def verify_checkpoint(ctx: Context, text: str, key: str) -> CheckpointCheck:
    """Check a signed checkpoint: signed by ``key`` (a verifier key string), and its size
    and root those of this ledger's tree at that size (recomputed from the leaves, not
    read from a stored head). BadInput for a malformed note or key."""
    from trustledger.ledger import checkpoint as note

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
    root = _root_at(ctx, parsed.size)
    facts["ledger_root"] = root.hex()
    if root != parsed.root:
        reason = f"the ledger's root at size {parsed.size} is not the checkpoint's"
        return CheckpointCheck(False, [reason], facts)
    return CheckpointCheck(True, [], facts)


def verify_held(
    ctx: Context,
    notes: list[tuple[str, str]],
    keys: list[str],
    witnesses: list[str],
) -> CheckpointCheck:
    """Check this database against checkpoints held by others (``(label, note text)``,
    e.g. a witness's cosigned checkpoint): each signed by one of the log ``keys`` (none
    given: the log's current and retired keys), cosigned by every one of ``witnesses``
    (cosigner verifier keys), and this ledger's tree at its size has its root. Two
    checkpoints of one size with different roots — among those given, or one given and
    one this log kept — are a split view, reported with both roots. BadInput for a
    malformed note or key."""
    from trustledger.ledger import checkpoint as note
    from trustledger.ledger import cosignature

    try:
        log = [note.parse_verifier_key(k) for k in keys]
        cosigners = [cosignature.parse_cosigner_key(w) for w in witnesses]
    except note.CheckpointError as exc:
        raise BadInput(f"key: {exc}") from None
    if not log:
        log = list(_known_log_keys(ctx).values())
    tables = _present(ctx.store)
    reasons: list[str] = []
    checked: list[dict[str, Any]] = []
    held = ctx.store.size()
    roots: dict[int, list[tuple[bytes, str]]] = {}
    for label, text in notes:
        try:
            body = note.parse_checkpoint(note.parse(text).text)
        except note.CheckpointError as exc:
            raise BadInput(f"{label}: {exc}") from None
        facts: dict[str, Any] = {"file": label, "origin": body.origin, "size": body.size,
                                 "root": body.root.hex(), "cosigned_by": []}  # fmt: skip
        checked.append(facts)
        roots.setdefault(body.size, []).append((body.root, label))
        signers = []
        for vkey in log:
            try:
                note.verify_note(text, vkey)
                signers.append(f"{vkey.name}+{vkey.key_hash.hex()}")
            except note.SignatureError:
                continue
        facts["signed_by"] = signers
        if not signers:
            named = ", ".join(f"{k.name}+{k.key_hash.hex()}" for k in log)
            reasons.append(f"{label}: not signed by the log key ({named})")
        for witness in cosigners:
            try:
                found = cosignature.verify_cosignature(text, witness)
                facts["cosigned_by"].append({"witness": witness.name, "time": found.timestamp})
            except (note.SignatureError, note.CheckpointError) as exc:
                reasons.append(f"{label}: {exc}")
        if body.size > held:
            reasons.append(f"{label}: size {body.size} is larger than the ledger ({held} entries):"
                           " the ledger lost entries it had")  # fmt: skip
            continue
        root = _root_at(ctx, body.size)
        facts["ledger_root"] = root.hex()
        if root != body.root:
            reasons.append(f"{label}: the ledger's tree at size {body.size} has root {root.hex()},"
                           f" the checkpoint has root {body.root.hex()}")  # fmt: skip
        kept = _stored(ctx.store, body.size) if "checkpoints" in tables else None
        if kept is not None:
            roots[body.size].append(
                (note.parse_checkpoint(note.parse(kept[1]).text).root, "the log's kept checkpoint")
            )
    split = []
    for size, seen in sorted(roots.items()):
        distinct = {r for r, _ in seen}
        if len(distinct) > 1:
            shown = "; ".join(f"{r.hex()} ({label})" for r, label in dict(
                (r, label) for r, label in seen).items())  # fmt: skip
            reasons.append(f"split view at size {size}: {shown}")
            split.append({"size": size, "roots": sorted(r.hex() for r in distinct)})
    return CheckpointCheck(not reasons, reasons, {"checkpoints": checked, "split_views": split,
                                                  "ledger_size": held})  # fmt: skip


class CheckpointTimer:
    """The server's checkpointer: every ``interval`` seconds, under ``lock`` (the one that
    guards the context's connection), a new checkpoint if the ledger grew. It signs only
    with a log key that exists (a server never makes one in the background: the operator
    makes it with `trustledger ledger checkpoint`); ``interval`` ≤ 0 turns it off."""

    def __init__(self, ctx: Context, lock: Any, interval: float) -> None:
        import threading

        self.ctx, self.lock, self.interval = ctx, lock, interval
        self.error: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="checkpointer", daemon=True)
        if interval > 0:
            self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            if not self.ctx.settings.log_key_file.exists():
                continue
            try:
                with self.lock:
                    sign_if_grown(self.ctx)
                self.error = None
            except Exception as exc:  # kept for /v1/health-like reports; the loop goes on
                self.error = str(exc)

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)


# --- verify: the tables of this module ----------------------------------------------------
TABLES = ("checkpoints", "checkpoint_cosignatures", "log_keys")


def verify_stored(ctx: Context) -> list[tuple[str, str]]:
    """(table, problem) for every kept row that does not check: each checkpoint's note
    signed by the log key its row names (the current key, when its file is here, or a
    retired one), its size and root its row's and this ledger's tree at that size; each
    cosignature verifying on its checkpoint under the witness key configured for it (when
    TRUSTLEDGER_WITNESS_KEYS is set); each retired key's link note signed by it and by
    the successor it names. Never makes a key. Nothing for a database without them."""
    from trustledger.ledger import checkpoint as note
    from trustledger.ledger import cosignature, merkle

    store = ctx.store
    if not _present(store):
        return []
    _tables(store)  # some of them: the others are empty, as a new database's would be
    problems: list[tuple[str, str]] = []
    keys: dict[str, VerifierKey] = {}
    current = None
    if ctx.settings.log_key_file.exists():
        current = _vkey(ctx.settings, _seed(ctx.settings, create=False))
        keys[current.key_hash.hex()] = current
    retired = store.query("SELECT key_hash, vkey, retired_size, link_note FROM log_keys")
    for hash_hex, vkey, _size, _link in retired:
        try:
            parsed = note.parse_verifier_key(vkey)
        except note.CheckpointError as exc:
            problems.append(("log_keys", f"key {hash_hex}: {exc}"))
            continue
        if parsed.key_hash.hex() != hash_hex:
            problems.append(("log_keys", f"key {hash_hex}: its verifier key has hash "
                             f"{parsed.key_hash.hex()}"))  # fmt: skip
        keys[hash_hex] = parsed
    for hash_hex, _vk, size, link in retired:
        try:
            body = note.parse_checkpoint(note.verify_note(link, keys[hash_hex]).text)
            (successor,) = [e.split(" ", 1)[1] for e in body.extensions
                            if e.startswith(NEXT_KEY + " ")]  # fmt: skip
            note.verify_note(link, note.parse_verifier_key(successor))
            if body.size != int(size):
                raise note.CheckpointError(f"the link is at size {body.size}, not {size}")
        except (KeyError, ValueError, note.SignatureError) as exc:
            problems.append(("log_keys", f"key {hash_hex}: its link note does not check: {exc}"))
    rows = store.query("SELECT size, root, key_hash, note FROM checkpoints ORDER BY size")
    held = store.size()
    leaves = store.leaf_hashes(min(held, int(rows[-1][0]))) if rows else []
    frontier = merkle.Frontier()
    bodies: dict[int, str] = {}
    for size, root, hash_hex, text in rows:
        size = int(size)
        what = f"size {size}"
        try:
            parsed_note = note.parse(text)
            body = note.parse_checkpoint(parsed_note.text)
        except note.CheckpointError as exc:
            problems.append(("checkpoints", f"{what}: {exc}"))
            continue
        bodies[size] = parsed_note.text
        if body.size != size or body.root.hex() != root:
            problems.append(("checkpoints", f"{what}: the note says size {body.size} root "
                             f"{body.root.hex()}, the row size {size} root {root}"))  # fmt: skip
        key = keys.get(hash_hex)
        if key is not None:
            try:
                note.verify_note(text, key)
            except note.SignatureError as exc:
                problems.append(("checkpoints", f"{what}: {exc}"))
        elif current is not None:
            problems.append(("checkpoints", f"{what}: signed by key {hash_hex}, no log key"))
        if size > held:
            problems.append(("checkpoints", f"{what}: beyond the ledger ({held} entries)"))
            continue
        frontier.extend(leaves[frontier.size : size])
        if frontier.root() != body.root:
            found = frontier.root().hex()
            problems.append(("checkpoints", f"{what}: the ledger's tree has root {found},"
                             f" the checkpoint {body.root.hex()}"))  # fmt: skip
    trusted = {(k.name, k.key_id.hex()): k for k in witness_keys(ctx.settings)}
    configured = ctx.settings.witness_keys_file is not None
    cosigs = store.query("SELECT size, witness, key_id, line FROM checkpoint_cosignatures")
    for size, name, key_id, line in cosigs:
        what = f"size {size}, witness {name}"
        text = bodies.get(int(size))
        if text is None:
            problems.append(("checkpoint_cosignatures", f"{what}: no checkpoint of that size"))
            continue
        wkey = trusted.get((name, key_id))
        if wkey is None:
            if configured:
                problems.append(("checkpoint_cosignatures", f"{what}: not a trusted witness"))
            continue
        try:
            cosignature.verify_cosignature(text + "\n" + line, wkey)
        except (note.SignatureError, note.CheckpointError) as exc:
            problems.append(("checkpoint_cosignatures", f"{what}: {exc}"))
    return problems


_TABLE_EXISTS = {
    "sqlite": "SELECT name FROM sqlite_master WHERE type = 'table' AND name = ?",
    "postgresql": "SELECT table_name FROM information_schema.tables"
    " WHERE table_schema = current_schema() AND table_name = ?",
}
