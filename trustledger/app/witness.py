"""A witness of a trustledger log: an independent party that fetches the log's signed
checkpoint over HTTP, checks it is signed by the log key it was given, checks it is
consistent (RFC 6962) with the last checkpoint it cosigned, and cosigns it (C2SP
tlog-cosignature v1), sending the cosignature back to the log.

Its state is its own, in a directory of its own — never the log's database, which is
what it guards against: ``witness.json`` (its name, the log's origin and verifier keys),
``witness.key`` (its Ed25519 key, hex, mode 0600), ``state.json`` (the last checkpoint it
cosigned, with its cosignature) and ``evidence/`` (both signed notes of any split view,
rollback or inconsistency it saw: two notes signed by the log that cannot both be true
are proof a third party can check).

A witness refuses, and cosigns nothing: a note not signed by the log key, a checkpoint of
another origin, a smaller tree than it cosigned (rollback), another root at the size it
cosigned (split view), a larger tree whose consistency proof does not verify.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trustledger.app.errors import BadInput, ConfigError, TrustledgerError, Unavailable
from trustledger.ids import create_private_file

if TYPE_CHECKING:
    import httpx

__all__ = [
    "Outcome",
    "Refused",
    "WitnessConfig",
    "cosigner_key",
    "init",
    "learn_successor",
    "observe",
    "run_once",
]

CONFIG = "witness.json"
KEY = "witness.key"
STATE = "state.json"
EVIDENCE = "evidence"


class Refused(TrustledgerError):
    """The log served a checkpoint a witness must not cosign."""

    http_status = 409
    exit_code = 1


@dataclass(frozen=True)
class WitnessConfig:
    name: str
    origin: str
    log_keys: tuple[str, ...]


@dataclass(frozen=True)
class Outcome:
    """One round: ``status`` cosigned (a new or the same size) or refused."""

    status: str
    size: int
    root: str
    reasons: list[str] = field(default_factory=list)
    evidence: str | None = None
    submitted: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status, "size": self.size, "root": self.root,
                "reasons": self.reasons, "evidence": self.evidence,
                "submitted": self.submitted}  # fmt: skip


def _read_json(path: Path) -> dict[str, Any]:
    try:
        found: dict[str, Any] = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path} is missing: run `trustledger witness init` first") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from None
    return found


def _write_json(path: Path, data: dict[str, Any]) -> None:
    # written whole then renamed: a crash never leaves a half state the witness would trust
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", "utf-8")
    os.replace(tmp, path)


def init(directory: Path, name: str, origin: str, log_keys: list[str]) -> str:
    """Make a witness in ``directory``: its key (0600) and its configuration — the log's
    origin and the log's verifier keys it will trust. The witness's cosigner verifier key,
    for the log operator's TRUSTLEDGER_WITNESS_KEYS. BadInput for a bad name or key,
    ConfigError if the directory already holds a witness."""
    from trustledger.ledger import checkpoint as note
    from trustledger.ledger import cosignature

    try:
        note.check_name(name)
        parsed = [note.parse_verifier_key(k) for k in log_keys]
    except note.CheckpointError as exc:
        raise BadInput(str(exc)) from None
    if not parsed:
        raise BadInput("a witness needs the log's verifier key (--log-key)")
    if any(k.name != origin for k in parsed):
        raise BadInput(f"the log's key is named for its origin: expected {origin!r}")
    directory.mkdir(parents=True, exist_ok=True)
    if (directory / CONFIG).exists() or (directory / KEY).exists():
        raise ConfigError(f"{directory} already holds a witness")
    seed = secrets.token_bytes(32)
    create_private_file(directory / KEY, seed.hex() + "\n")
    config = {"name": name, "origin": origin, "log_keys": [str(k) for k in parsed]}
    _write_json(directory / CONFIG, config)
    return str(cosignature.cosigner_key(name, note.public_key_of(seed)))


def _config(directory: Path) -> WitnessConfig:
    data = _read_json(directory / CONFIG)
    try:
        return WitnessConfig(str(data["name"]), str(data["origin"]), tuple(data["log_keys"]))
    except (KeyError, TypeError):
        raise ConfigError(f"{directory / CONFIG} is not a witness configuration") from None


def _seed(directory: Path) -> bytes:
    path = directory / KEY
    try:
        seed = bytes.fromhex(path.read_text("ascii").strip())
    except FileNotFoundError:
        raise ConfigError(f"{path} is missing: run `trustledger witness init` first") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ConfigError(f"cannot read witness key {path}: {exc}") from None
    if len(seed) != 32:
        raise ConfigError(f"witness key {path} does not hold 32 bytes of hex")
    return seed


def cosigner_key(directory: Path) -> str:
    """The witness's cosigner verifier key (``<name>+<hex id>+<base64(0x04 || key)>``)."""
    from trustledger.ledger import checkpoint as note
    from trustledger.ledger import cosignature

    return str(
        cosignature.cosigner_key(_config(directory).name, note.public_key_of(_seed(directory)))
    )


def last_cosigned(directory: Path) -> str | None:
    """The last checkpoint the witness cosigned (the log's note with its cosignature)."""
    path = directory / STATE
    if not path.exists():
        return None
    note = _read_json(path).get("note")
    return str(note) if note else None


def _evidence(directory: Path, kind: str, notes: list[str], reasons: list[str]) -> str:
    folder = directory / EVIDENCE
    folder.mkdir(exist_ok=True)
    path = folder / f"{kind}-{time.time_ns()}.txt"
    text = "".join(f"# {r}\n" for r in reasons) + "\n".join(
        f"# note {i + 1}\n{n}" for i, n in enumerate(notes)
    )
    path.write_text(text, "utf-8")
    return str(path)


def observe(
    directory: Path,
    note_text: str,
    consistency: Any,
    *,
    now: int | None = None,
) -> tuple[Outcome, str | None]:
    """Judge one checkpoint the log served: the outcome and, when cosigned, the cosigned
    note (the log's note with this witness's signature line). ``consistency(old, new)``
    gives the RFC 6962 proof (a list of hashes) between two sizes. Refused for every
    checkpoint a witness must not cosign, with evidence kept where the log signed it."""
    from trustledger.ledger import checkpoint as note
    from trustledger.ledger import cosignature, merkle

    config = _config(directory)
    try:
        parsed = note.parse(note_text)
        body = note.parse_checkpoint(parsed.text)
    except note.CheckpointError as exc:
        raise Refused(f"the log served a malformed checkpoint: {exc}") from None
    if body.origin != config.origin:
        raise Refused(f"the checkpoint's origin is {body.origin!r}, not {config.origin!r}")
    if not _signed_by_trusted(config, note_text):
        raise Refused("the checkpoint is not signed by the log key this witness trusts")
    previous = last_cosigned(directory)
    if previous is not None:
        old = note.parse_checkpoint(note.parse(previous).text)
        if body.size < old.size:
            reasons = [f"rollback: the log serves size {body.size} after this witness"
                       f" cosigned size {old.size}"]  # fmt: skip
            raise Refused(
                reasons[0] + f" (evidence: "
                f"{_evidence(directory, 'rollback', [previous, note_text], reasons)})"
            )
        if body.size == old.size and body.root != old.root:
            reasons = [f"split view at size {body.size}: root {old.root.hex()} (cosigned"
                       f" before) and root {body.root.hex()} (served now)"]  # fmt: skip
            path = _evidence(directory, "split-view", [previous, note_text], reasons)
            raise Refused(reasons[0] + f" (evidence: {path})")
        if body.size > old.size > 0:
            proof = consistency(old.size, body.size)
            if not merkle.verify_consistency(old.size, body.size, old.root, body.root, proof):
                reasons = [f"the log's tree at size {body.size} is not consistent with the"
                           f" tree of size {old.size} this witness cosigned"]  # fmt: skip
                path = _evidence(directory, "inconsistent", [previous, note_text], reasons)
                raise Refused(reasons[0] + f" (evidence: {path})")
    stamp = int(time.time()) if now is None else now
    line = cosignature.cosign(parsed.text, config.name, _seed(directory), stamp)
    # the log's own signature lines only: another witness's line is its business
    block = note_text[note_text.rfind("\n\n") + 2 :].split("\n")[:-1]
    own = [x + "\n" for x in block if x.startswith(f"{note.EM_DASH} {config.origin} ")]
    log_only = parsed.text + "\n" + "".join(own)
    cosigned = cosignature.add_signatures(log_only, [line])
    _write_json(directory / STATE, {"size": body.size, "root": body.root.hex(),
                                    "note": cosigned, "time": stamp})  # fmt: skip
    return Outcome("cosigned", body.size, body.root.hex()), cosigned


def _consistency(client: httpx.Client) -> Any:
    def fetch(old: int, new: int) -> list[bytes]:
        response = _get(client, "/v1/ledger/proof/consistency", {"old": old, "new": new})
        try:
            found = response.json()
            return [bytes.fromhex(h) for h in found["proof"]]
        except (ValueError, KeyError, TypeError):
            raise Refused("the log's consistency proof is not a list of hex hashes") from None

    return fetch


def _get(client: httpx.Client, path: str, params: dict[str, Any] | None = None) -> httpx.Response:
    import httpx

    try:
        response = client.get(path, params=params)
    except httpx.HTTPError as exc:
        raise Unavailable(f"cannot reach the log at {client.base_url}: {exc}") from None
    if response.status_code != 200:
        raise Unavailable(f"the log answered {response.status_code} to {path}: "
                          f"{response.text[:200]}")  # fmt: skip
    return response


def _signed_by_trusted(config: WitnessConfig, note_text: str) -> bool:
    from trustledger.ledger import checkpoint as note

    for key in config.log_keys:
        try:
            note.verify_note(note_text, note.parse_verifier_key(key))
            return True
        except (note.SignatureError, note.CheckpointError):
            continue
    return False


def learn_successor(directory: Path, link: str, consistency: Any) -> str | None:
    """Follow a log-key rotation: ``link`` (a retired key's link note, served by
    /v1/ledger/checkpoint/keys) is a checkpoint with a ``trustledger-next-log-key <vkey>``
    line, signed by a log key this witness trusts and by that successor. Its tree must be
    the one the witness cosigned or grow from it (RFC 6962 consistency): a rotation cannot
    smuggle in another history. The successor, now trusted too (written to the witness's
    configuration), or None when ``link`` is not such a note."""
    from trustledger.app.checkpoints import NEXT_KEY
    from trustledger.ledger import checkpoint as note
    from trustledger.ledger import merkle

    config = _config(directory)
    if not _signed_by_trusted(config, link):
        return None
    try:
        body = note.parse_checkpoint(note.parse(link).text)
        (successor,) = [e.split(" ", 1)[1] for e in body.extensions if e.startswith(NEXT_KEY + " ")]
        key = note.parse_verifier_key(successor)
        note.verify_note(link, key)
    except (ValueError, note.SignatureError):
        return None
    if body.origin != config.origin or key.name != config.origin:
        return None
    if str(key) in config.log_keys:
        return None
    previous = last_cosigned(directory)
    if previous is not None:
        old = note.parse_checkpoint(note.parse(previous).text)
        if body.size < old.size or (body.size == old.size and body.root != old.root):
            raise Refused(f"the log's key rotation at size {body.size} does not extend the"
                          f" tree of size {old.size} this witness cosigned")  # fmt: skip
        if body.size > old.size > 0:
            proof = consistency(old.size, body.size)
            if not merkle.verify_consistency(old.size, body.size, old.root, body.root, proof):
                raise Refused(
                    f"the log's key rotation at size {body.size} is not consistent"
                    f" with the tree of size {old.size} this witness cosigned"
                )
    data = _read_json(directory / CONFIG)
    data["log_keys"] = [*config.log_keys, str(key)]
    _write_json(directory / CONFIG, data)
    return str(key)


def _follow_rotations(directory: Path, client: httpx.Client, note_text: str) -> None:
    """Learn the log's successor keys from its link notes until ``note_text`` is signed by
    a trusted key or nothing more can be learnt (then observe refuses it)."""
    while not _signed_by_trusted(_config(directory), note_text):
        try:
            keys = _get(client, "/v1/ledger/checkpoint/keys").json()["keys"]
            links = [str(k["link"]) for k in keys if k.get("link")]
        except (ValueError, KeyError, TypeError, Unavailable):
            return
        if not any(learn_successor(directory, link, _consistency(client)) for link in links):
            return


def run_once(directory: Path, client: httpx.Client) -> Outcome:
    """One round against the log ``client`` points at: fetch its checkpoint, judge it,
    cosign, send the cosignature (POST /v1/ledger/checkpoint/cosignature). Refused for a
    checkpoint it must not cosign, Unavailable when the log cannot be reached."""
    import httpx

    note_text = _get(client, "/v1/ledger/checkpoint").text
    _follow_rotations(directory, client, note_text)
    outcome, cosigned = observe(directory, note_text, _consistency(client))
    assert cosigned is not None
    try:
        response = client.post(
            "/v1/ledger/checkpoint/cosignature",
            content=cosigned.encode(),
            headers={"Content-Type": "text/plain; charset=utf-8"},
        )
    except httpx.HTTPError as exc:
        raise Unavailable(f"cannot send the cosignature to {client.base_url}: {exc}") from None
    if response.status_code not in (200, 201):
        reasons = [f"the log refused the cosignature ({response.status_code}):"
                   f" {response.text[:200]}"]  # fmt: skip
        return Outcome(outcome.status, outcome.size, outcome.root, reasons, submitted=False)
    return Outcome(outcome.status, outcome.size, outcome.root, submitted=True)


def client(url: str, timeout: float = 10.0) -> httpx.Client:
    """An HTTP client for the log at ``url`` (its base, e.g. http://host:8000)."""
    import httpx

    if not url.startswith(("http://", "https://")):
        raise BadInput(f"a log URL is http:// or https://: {url!r}")
    return httpx.Client(base_url=url.rstrip("/"), timeout=timeout)
