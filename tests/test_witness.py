"""Witnesses (C2SP tlog-cosignature v1): an independent verifier written here from the
spec, a witness process against a log served over real HTTP, a rewritten ledger caught by
`verify --checkpoint` against the witness's cosigned checkpoint, split views reported,
every way a witness and the log refuse, log-key rotation with old and new checkpoints
verifying, and the server's checkpoint timer."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from ledger_data import FIRM, OTHER, fill, record_payload
from typer.testing import CliRunner

from trustledger.api import create_app
from trustledger.api.routers.ledger import COSIGNED_NOTE_PATTERN
from trustledger.api.serving import server_config
from trustledger.app import checkpoints, witness
from trustledger.app.context import Context
from trustledger.app.errors import BadInput, Forbidden, NotFound
from trustledger.cli import app
from trustledger.domain import EntryKind
from trustledger.ids import PersonKeyer
from trustledger.ledger import checkpoint as note
from trustledger.ledger import cosignature
from trustledger.ledger.store import open_store
from trustledger.settings import Settings

runner = CliRunner()
PERSON_KEY = bytes(range(32))
FINGERPRINT = PersonKeyer(PERSON_KEY).fingerprint()
ORIGIN = "credit.example.cn/ledger"
WITNESS = "witness.example.org/w1"


# --- an independent cosignature verifier, from c2sp.org/tlog-cosignature ----------------
def independent_cosignature(text: str, vkey: str) -> int:
    """The timestamp of the one valid cosignature by ``vkey`` on the checkpoint note
    ``text``; AssertionError otherwise."""
    name, id_hex, key_b64 = vkey.split("+", 2)
    key = base64.b64decode(key_b64)
    assert key[0] == 0x04 and len(key) == 33  # signature type 0x04: cosignature/v1 Ed25519
    key_id = hashlib.sha256(name.encode() + b"\n" + key).digest()[:4]
    assert key_id.hex() == id_hex
    body, sep, sigs = text.rpartition("\n\n")
    assert sep and sigs.endswith("\n")
    body += "\n"
    found = []
    for line in sigs[:-1].split("\n"):
        dash, signer, blob_b64 = line.split(" ")
        assert dash == "\u2014"
        blob = base64.b64decode(blob_b64, validate=True)
        if signer == name and blob[:4] == key_id:
            assert len(blob) == 4 + 8 + 64
            stamp = int.from_bytes(blob[4:12], "big")  # u64, big-endian (RFC 8446 §3.3)
            assert stamp < 2**63
            message = f"cosignature/v1\ntime {stamp}\n".encode() + body.encode()
            Ed25519PublicKey.from_public_bytes(key[1:]).verify(blob[12:], message)
            found.append(stamp)
    assert len(found) == 1
    return found[0]


def independent_log_signature(text: str, vkey: str) -> None:
    name, id_hex, key_b64 = vkey.split("+", 2)
    key = base64.b64decode(key_b64)
    assert key[0] == 0x01
    key_id = hashlib.sha256(name.encode() + b"\n" + key).digest()[:4]
    assert key_id.hex() == id_hex
    body, _, sigs = text.rpartition("\n\n")
    good = 0
    for line in sigs[:-1].split("\n"):
        _, signer, blob_b64 = line.split(" ")
        blob = base64.b64decode(blob_b64)
        if signer == name and blob[:4] == key_id:
            Ed25519PublicKey.from_public_bytes(key[1:]).verify(blob[4:], (body + "\n").encode())
            good += 1
    assert good == 1


# --- known answers and the format --------------------------------------------------------
def test_a_real_witness_key_id_is_reproduced() -> None:
    # a live witness's vkey (transparency-dev/formats' cosignature tests): type 0x04
    vkey = "remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2"
    parsed = cosignature.parse_cosigner_key(vkey)
    assert str(parsed) == vkey
    assert parsed.key_id.hex() == "da77ade7"


def test_a_cosignature_verifies_independently_and_covers_every_line() -> None:
    seed = Ed25519PrivateKey.generate().private_bytes_raw()
    key = cosignature.cosigner_key(WITNESS, note.public_key_of(seed))
    body = note.checkpoint_body(ORIGIN, 7, bytes(range(32)), ("extension line",))
    log_seed = Ed25519PrivateKey.generate().private_bytes_raw()
    signed = note.sign(body, ORIGIN, log_seed)
    cosigned = cosignature.add_signatures(
        signed, [cosignature.cosign(body, WITNESS, seed, 1679315147)]
    )
    assert independent_cosignature(cosigned, str(key)) == 1679315147
    assert cosignature.verify_cosignature(cosigned, key).timestamp == 1679315147
    # the message is the spec's: header, time line, the whole body
    assert cosignature.message(body, 5) == b"cosignature/v1\ntime 5\n" + body.encode()
    # an extension line is covered
    with pytest.raises(note.SignatureError):
        cosignature.verify_cosignature(cosigned.replace("extension line", "extension lime"), key)
    # a cosignature is not a plain note signature by the same key (type 0x04 vs 0x01)
    plain = note.verifier_key(WITNESS, note.public_key_of(seed))
    assert plain.key_hash != key.key_id
    with pytest.raises(note.SignatureError):
        note.verify_note(cosigned, plain)
    # adding the same line twice keeps one
    assert cosignature.add_signatures(cosigned, [cosigned.split("\n")[-2]]) == cosigned


@pytest.mark.parametrize(
    "bad",
    [
        "remora.n621.de+da77ade8+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2",  # wrong ID
        "remora.n621.de+da77ade7",
        "remora.n621.de+da77ade7+!!!!",
        # a plain signed-note key (type 0x01) is not a cosigner key
        "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2",
    ],
)
def test_malformed_cosigner_keys_are_refused(bad: str) -> None:
    with pytest.raises(note.CheckpointError):
        cosignature.parse_cosigner_key(bad)


def test_malformed_cosignatures_are_refused() -> None:
    seed = Ed25519PrivateKey.generate().private_bytes_raw()
    key = cosignature.cosigner_key(WITNESS, note.public_key_of(seed))
    body = note.checkpoint_body(ORIGIN, 3, bytes(32))
    line = cosignature.cosign(body, WITNESS, seed, 10)
    blob = base64.b64decode(line.split(" ")[2])
    short = f"\u2014 {WITNESS} {base64.b64encode(blob[:-1]).decode()}\n"
    with pytest.raises(note.CheckpointError):  # not 8 + 64 bytes after the ID
        cosignature.verify_cosignature(body + "\n" + short, key)
    with pytest.raises(note.CheckpointError):  # two by the same witness
        cosignature.verify_cosignature(body + "\n" + line + line, key)
    with pytest.raises(note.CheckpointError):  # the timestamp outside 0..2^63-1
        cosignature.cosign(body, WITNESS, seed, 2**63)
    with pytest.raises(note.CheckpointError):  # only a checkpoint is cosigned
        cosignature.cosign("just text\n", WITNESS, seed, 10)
    changed_time = blob[:4] + (11).to_bytes(8, "big") + blob[12:]
    forged = f"\u2014 {WITNESS} {base64.b64encode(changed_time).decode()}\n"
    with pytest.raises(note.SignatureError):  # the timestamp is signed
        cosignature.verify_cosignature(body + "\n" + forged, key)


# --- a log served over real HTTP ----------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Log:
    base: str
    settings: Settings
    work: Path
    server: uvicorn.Server

    @property
    def db(self) -> str:
        return self.settings.db_url

    def vkey(self) -> str:
        return checkpoints.verifier_key(self.settings)


def serve(settings: Settings) -> tuple[uvicorn.Server, threading.Thread, str]:
    port = free_port()
    config = server_config(
        create_app(settings, reload_interval=0.0, access_log=False),
        "127.0.0.1", port, log_level="warning",
    )  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.05)
    assert server.started
    return server, thread, f"http://127.0.0.1:{port}"


@pytest.fixture
def log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Log]:
    db_url = f"sqlite:///{tmp_path / 'log.db'}"
    with open_store(db_url) as store:
        store.init(FINGERPRINT)
        fill(store)
    (tmp_path / "person.key").write_text(PERSON_KEY.hex() + "\n")
    settings = Settings(
        db_url=db_url,
        person_key_file=tmp_path / "person.key",
        log_key_file=tmp_path / "log.key",
        log_origin=ORIGIN,
        witness_keys_file=tmp_path / "witnesses.txt",
        checkpoint_interval=0.0,
    )
    (tmp_path / "witnesses.txt").write_text("# the witnesses this log trusts\n")
    variables = {
        "TRUSTLEDGER_DB": db_url,
        "TRUSTLEDGER_LOG_ORIGIN": ORIGIN,
        "TRUSTLEDGER_PERSON_KEY_FILE": str(tmp_path / "person.key"),
        "TRUSTLEDGER_LOG_KEY_FILE": str(tmp_path / "log.key"),
        "TRUSTLEDGER_WITNESS_KEYS": str(tmp_path / "witnesses.txt"),
    }
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    server, thread, base = serve(settings)
    try:
        yield Log(base, settings, tmp_path, server)
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def make_witness(log: Log, name: str = WITNESS, *, trusted: bool = True) -> Path:
    directory = log.work / f"witness-{len(list(log.work.glob('witness-*')))}"
    result = runner.invoke(app, ["witness", "init", "--name", name, "--log-key", log.vkey(),
                                 "--dir", str(directory)])  # fmt: skip
    assert result.exit_code == 0, result.output
    vkey = result.stdout.strip()
    assert runner.invoke(app, ["witness", "key", "--dir", str(directory)]).stdout.strip() == vkey
    if trusted:
        with (log.work / "witnesses.txt").open("a") as f:
            f.write(vkey + "\n")
    return directory


def run_witness(log: Log, directory: Path) -> Any:
    result = runner.invoke(app, ["witness", "run", "--once", "--json", "--log", log.base,
                                 "--dir", str(directory)])  # fmt: skip
    return result


def grow(log: Log, records: int = 3) -> None:
    with open_store(log.db) as store, store.writer() as w:
        for n in range(100, 100 + records):
            w.append(EntryKind.RECORD_ISSUED, record_payload(n, FIRM))


def test_a_witness_cosigns_over_http_and_the_log_serves_the_cosignature(log: Log) -> None:
    directory = make_witness(log)
    wkey = witness.cosigner_key(directory)
    assert (directory / "witness.key").stat().st_mode & 0o777 == 0o600
    first = run_witness(log, directory)
    assert first.exit_code == 0, first.output
    outcome = json.loads(first.stdout)
    assert outcome["status"] == "cosigned" and outcome["submitted"]
    size = outcome["size"]

    served = httpx.get(f"{log.base}/v1/ledger/checkpoint").text
    independent_log_signature(served, log.vkey())
    independent_cosignature(served, wkey)
    with open_store(log.db) as store:
        head = store.head()
    assert (head.size, base64.b64encode(head.root).decode()) == (size, served.split("\n")[2])

    # the ledger grows: the witness checks consistency from its last size and cosigns again
    grow(log)
    second = run_witness(log, directory)
    assert second.exit_code == 0, second.output
    assert json.loads(second.stdout)["size"] == size + 3
    latest = httpx.get(f"{log.base}/v1/ledger/checkpoint").text
    independent_cosignature(latest, wkey)
    # the old checkpoint stays available, with its cosignature, by size
    old = httpx.get(f"{log.base}/v1/ledger/checkpoint", params={"size": size}).text
    assert old.split("\n")[1] == str(size)
    independent_cosignature(old, wkey)
    independent_log_signature(old, log.vkey())
    assert httpx.get(f"{log.base}/v1/ledger/checkpoint", params={"size": 1}).status_code == 404
    # the CLI shows the same cosignatures
    shown = runner.invoke(app, ["ledger", "checkpoint", "--size", str(size)])
    assert shown.exit_code == 0 and shown.stdout == old
    # the witness keeps what it cosigned, and it verifies the database
    held = log.work / "held.txt"
    held.write_text(runner.invoke(app, ["witness", "show", "--dir", str(directory)]).stdout)
    independent_cosignature(held.read_text(), wkey)
    ok = runner.invoke(app, ["verify", "--checkpoint", str(held), "--key", log.vkey(),
                             "--witness-key", wkey])  # fmt: skip
    assert ok.exit_code == 0, ok.output
    assert f"size {size + 3:,}" in ok.stdout and WITNESS in ok.stdout


def test_a_rewritten_ledger_is_caught_against_the_witness_checkpoint(log: Log) -> None:
    directory = make_witness(log)
    wkey = witness.cosigner_key(directory)
    assert run_witness(log, directory).exit_code == 0
    held = log.work / "held.txt"
    held.write_text(witness.last_cosigned(directory) or "")
    size = int(held.read_text().split("\n")[1])
    witnessed_root = base64.b64decode(held.read_text().split("\n")[2]).hex()

    # the operator rewrites history: one record gone, another in its place, every hash
    # recomputed, and a checkpoint freshly signed with the log's own key
    rewritten = f"sqlite:///{log.work / 'rewritten.db'}"
    with open_store(rewritten) as store:
        store.init(FINGERPRINT)
        fill(store, records=19)
        store.append_one(EntryKind.RECORD_ISSUED, record_payload(19, FIRM if 19 % 2 else OTHER))
        assert store.size() == size
        new_root = store.head().root.hex()
    assert new_root != witnessed_root
    fresh = runner.invoke(app, ["ledger", "checkpoint", "--db", rewritten])
    assert fresh.exit_code == 0
    (log.work / "fresh.txt").write_text(fresh.stdout)
    # on its own, the rewritten ledger looks fine: intact, and its checkpoint verifies
    assert runner.invoke(app, ["verify", "--db", rewritten]).exit_code == 0
    assert runner.invoke(app, ["ledger", "verify-checkpoint", str(log.work / "fresh.txt"),
                               "--key", log.vkey(), "--db", rewritten]).exit_code == 0  # fmt: skip
    # against the witness's cosigned checkpoint it is caught, naming the size and both roots
    caught = runner.invoke(app, ["verify", "--db", rewritten, "--checkpoint", str(held),
                                 "--key", log.vkey(), "--witness-key", wkey])  # fmt: skip
    assert caught.exit_code == 1, caught.output
    assert f"size {size}" in caught.stdout
    assert new_root in caught.stdout and witnessed_root in caught.stdout
    # and both checkpoints given: a split view at that size, with both roots
    both = runner.invoke(app, ["verify", "--db", rewritten, "--json", "--checkpoint", str(held),
                               "--checkpoint", str(log.work / "fresh.txt")])  # fmt: skip
    assert both.exit_code == 1
    found = json.loads(both.stdout)["checkpoints"]["facts"]
    assert found["split_views"] == [{"size": size, "roots": sorted([new_root, witnessed_root])}]
    # the original database verifies against the same checkpoint
    assert runner.invoke(app, ["verify", "--checkpoint", str(held), "--key", log.vkey(),
                               "--witness-key", wkey]).exit_code == 0  # fmt: skip


def test_a_witness_reports_a_split_view_with_both_signed_checkpoints(log: Log) -> None:
    directory = make_witness(log)
    assert run_witness(log, directory).exit_code == 0
    cosigned = witness.last_cosigned(directory)
    assert cosigned is not None
    size = int(cosigned.split("\n")[1])
    # the log shows another view of the same size, signed with its key
    other_root = hashlib.sha256(b"another history").digest()
    seed = bytes.fromhex(log.settings.log_key_file.read_text().strip())
    fork = note.sign(note.checkpoint_body(ORIGIN, size, other_root), ORIGIN, seed)
    with pytest.raises(witness.Refused, match=f"split view at size {size}") as refused:
        witness.observe(directory, fork, lambda old, new: [])
    assert other_root.hex() in str(refused.value)
    (evidence,) = (directory / "evidence").glob("split-view-*.txt")
    text = evidence.read_text()
    assert fork in text and cosigned in text  # both notes, each signed by the log
    # the witness's state is unchanged: it still holds the checkpoint it cosigned
    assert witness.last_cosigned(directory) == cosigned


def test_every_checkpoint_a_witness_must_not_cosign_is_refused(log: Log) -> None:
    directory = make_witness(log)
    assert run_witness(log, directory).exit_code == 0
    cosigned = witness.last_cosigned(directory)
    assert cosigned is not None
    size = int(cosigned.split("\n")[1])
    seed = bytes.fromhex(log.settings.log_key_file.read_text().strip())
    with open_store(log.db) as store:
        leaves = store.leaf_hashes()

    def signed(n: int, root: bytes, key: bytes = seed, origin: str = ORIGIN) -> str:
        return note.sign(note.checkpoint_body(origin, n, root), origin, key)

    from trustledger.ledger import merkle

    def proof(old: int, new: int) -> list[bytes]:
        return merkle.consistency_proof(leaves, old, new)

    # a bad signature: signed by another key, or the body changed after signing
    other = Ed25519PrivateKey.generate().private_bytes_raw()
    with pytest.raises(witness.Refused, match="not signed by the log key"):
        witness.observe(directory, signed(size, merkle.root(leaves), other), proof)
    tampered = cosigned.replace(f"\n{size}\n", f"\n{size + 1}\n", 1)
    with pytest.raises(witness.Refused, match="not signed by the log key"):
        witness.observe(directory, tampered, proof)
    # malformed notes
    for bad in ["", "no signature\n", cosigned.replace("\n\n", "\n"), "x\n\n\u2014 x AAAA\n"]:
        with pytest.raises(witness.Refused, match="malformed"):
            witness.observe(directory, bad, proof)
    # another origin
    with pytest.raises(witness.Refused, match="origin"):
        witness.observe(directory, signed(size, merkle.root(leaves), seed, "other.example/log"),
                        proof)  # fmt: skip
    # rollback: a smaller tree than the one cosigned, even if signed and a true prefix
    with pytest.raises(witness.Refused, match="rollback"):
        witness.observe(directory, signed(size - 1, merkle.root(leaves[: size - 1])), proof)
    # a larger tree whose consistency proof does not verify (another history)
    grown = [*leaves, merkle.leaf_hash(b"new")]
    forked = [leaves[0], merkle.leaf_hash(b"rewritten"), *leaves[2:], merkle.leaf_hash(b"new")]
    with pytest.raises(witness.Refused, match="not consistent"):
        witness.observe(directory, signed(size + 1, merkle.root(forked)),
                        lambda old, new: merkle.consistency_proof(grown, old, new))  # fmt: skip
    assert {p.name.split("-")[0] for p in (directory / "evidence").iterdir()} == {
        "rollback", "inconsistent"}  # fmt: skip
    assert witness.last_cosigned(directory) == cosigned
    # through the CLI: exit 1 on a refusal, with its reason
    with open_store(log.db) as store:
        assert store.size() == size
    # and an unreachable log is exit 5, not a refusal
    down = runner.invoke(app, ["witness", "run", "--once", "--log", f"http://127.0.0.1:{free_port()}",
                               "--dir", str(directory)])  # fmt: skip
    assert down.exit_code == 5


def test_a_witness_refuses_a_log_serving_a_forged_checkpoint_over_http(log: Log) -> None:
    # a witness given another log key at init: every checkpoint of this log is refused
    directory = log.work / "stranger"
    other = Ed25519PrivateKey.generate().private_bytes_raw()
    stranger_key = str(note.verifier_key(ORIGIN, note.public_key_of(other)))
    witness.init(directory, WITNESS, ORIGIN, [stranger_key])
    refused = runner.invoke(app, ["witness", "run", "--once", "--log", log.base,
                                  "--dir", str(directory)])  # fmt: skip
    assert refused.exit_code == 1
    assert "not signed by the log key" in refused.output
    assert witness.last_cosigned(directory) is None


def test_bad_witness_setup_is_refused(tmp_path: Path) -> None:
    key = str(note.verifier_key(ORIGIN, bytes(32)))
    with pytest.raises(BadInput):
        witness.init(tmp_path / "a", "bad name", ORIGIN, [key])
    with pytest.raises(BadInput):
        witness.init(tmp_path / "b", WITNESS, ORIGIN, ["nonsense"])
    with pytest.raises(BadInput):
        witness.init(tmp_path / "c", WITNESS, "another/origin", [key])
    with pytest.raises(BadInput):
        witness.client("ftp://log.example")
    witness.init(tmp_path / "d", WITNESS, ORIGIN, [key])
    from trustledger.app.errors import ConfigError

    with pytest.raises(ConfigError):  # a second witness in the same directory
        witness.init(tmp_path / "d", WITNESS, ORIGIN, [key])
    with pytest.raises(ConfigError):  # no witness there
        witness.cosigner_key(tmp_path / "nowhere")


def test_the_log_refuses_cosignatures_it_must_not_keep(log: Log) -> None:
    trusted = make_witness(log)
    stranger = make_witness(log, "stranger.example/w", trusted=False)
    url = f"{log.base}/v1/ledger/checkpoint/cosignature"
    served = httpx.get(f"{log.base}/v1/ledger/checkpoint").text
    body = served[: served.rfind("\n\n") + 1]

    def cosigned_by(directory: Path, text: str = body, stamp: int = 100) -> str:
        seed = bytes.fromhex((directory / "witness.key").read_text().strip())
        name = json.loads((directory / "witness.json").read_text())["name"]
        return cosignature.add_signatures(served, [cosignature.cosign(text, name, seed, stamp)])

    # an unknown witness key: 403
    answer = httpx.post(url, content=cosigned_by(stranger))
    assert answer.status_code == 403, answer.text
    # a bad cosignature by a trusted witness (the timestamp changed after signing): 403
    good = cosigned_by(trusted)
    assert re.fullmatch(COSIGNED_NOTE_PATTERN, good)  # the published contract admits it
    line = good.split("\n")[-2]
    blob = base64.b64decode(line.split(" ")[2])
    bad_line = f"\u2014 {WITNESS} " + base64.b64encode(blob[:4] + (7).to_bytes(8, "big")
                                                        + blob[12:]).decode()  # fmt: skip
    assert httpx.post(url, content=good.replace(line, bad_line)).status_code == 403
    # a checkpoint this log did not sign (another root at the same size): 409
    other = body.replace(body.split("\n")[2], base64.b64encode(bytes(32)).decode())
    fake = other + "\n" + served[served.rfind("\n\n") + 2 :]
    seed = bytes.fromhex((trusted / "witness.key").read_text().strip())
    fake = cosignature.add_signatures(fake, [cosignature.cosign(other, WITNESS, seed, 5)])
    assert httpx.post(url, content=fake).status_code == 409
    # a size this log signed no checkpoint of, or one no database integer holds: 404
    for size in ("999999", "9300000000000000000"):
        unsigned = other.replace(f"\n{body.split(chr(10))[1]}\n", f"\n{size}\n")
        unsigned = cosignature.add_signatures(
            unsigned + "\n" + served[served.rfind("\n\n") + 2 :],
            [cosignature.cosign(unsigned, WITNESS, seed, 5)],
        )
        assert httpx.post(url, content=unsigned).status_code == 404, size
    # malformed: not a note, not UTF-8
    assert httpx.post(url, content=b"not a note").status_code == 422
    assert httpx.post(url, content=b"\xff\xfe").status_code == 422
    # none of these was kept; the good one is
    assert WITNESS not in httpx.get(f"{log.base}/v1/ledger/checkpoint").text
    accepted = httpx.post(url, content=good)
    assert accepted.status_code == 200
    assert accepted.json()["accepted"][0]["witness"] == WITNESS
    assert independent_cosignature(httpx.get(f"{log.base}/v1/ledger/checkpoint").text,
                                   witness.cosigner_key(trusted)) == 100  # fmt: skip
    # a newer cosignature of the same size replaces the older
    assert httpx.post(url, content=cosigned_by(trusted, stamp=200)).status_code == 200
    assert independent_cosignature(httpx.get(f"{log.base}/v1/ledger/checkpoint").text,
                                   witness.cosigner_key(trusted)) == 200  # fmt: skip


def test_a_bad_witness_keys_file_is_a_configuration_error(tmp_path: Path) -> None:
    from trustledger.app.errors import ConfigError

    path = tmp_path / "w.txt"
    path.write_text("# comment\n\nnot a key\n")
    with pytest.raises(ConfigError, match="line 3"):
        checkpoints.witness_keys(Settings(witness_keys_file=path))
    assert checkpoints.witness_keys(Settings()) == []


# --- rotation ------------------------------------------------------------------------------
def test_after_a_log_key_rotation_old_and_new_checkpoints_verify(log: Log) -> None:
    directory = make_witness(log)
    wkey = witness.cosigner_key(directory)
    assert run_witness(log, directory).exit_code == 0
    old_key = log.vkey()
    old_note = httpx.get(f"{log.base}/v1/ledger/checkpoint").text
    old_size = int(old_note.split("\n")[1])

    rotated = runner.invoke(app, ["keys", "rotate-log-key", "--json"])
    assert rotated.exit_code == 0, rotated.output
    rotation = json.loads(rotated.stdout)
    new_key = log.vkey()
    assert rotation == {**rotation, "old_key": old_key, "new_key": new_key, "size": old_size}
    assert new_key != old_key
    assert log.settings.log_key_file.stat().st_mode & 0o777 == 0o600
    # the link: the last old-key checkpoint's body naming the new key, signed by both
    link = rotation["link"]
    independent_log_signature(link, old_key)
    independent_log_signature(link, new_key)
    assert f"trustledger-next-log-key {new_key}\n" in link
    # the key route lists the current key first, then the retired one with its size
    keys = httpx.get(f"{log.base}/v1/ledger/checkpoint/key").text.splitlines()
    assert keys == [new_key, f"{old_key} retired {old_size}"]
    listed = httpx.get(f"{log.base}/v1/ledger/checkpoint/keys").json()["keys"]
    assert listed[1] == {"key": old_key, "retired_size": old_size, "link": link}

    # new checkpoints are signed by the new key
    grow(log)
    new_note = httpx.get(f"{log.base}/v1/ledger/checkpoint").text
    independent_log_signature(new_note, new_key)
    with pytest.raises(AssertionError):
        independent_log_signature(new_note, old_key)
    # the old checkpoint stays available, signed by the old key, with its cosignature
    kept = httpx.get(f"{log.base}/v1/ledger/checkpoint", params={"size": old_size}).text
    independent_log_signature(kept, old_key)
    independent_cosignature(kept, wkey)
    # both verify against the database: with their own keys, and with the log's key list
    (log.work / "old.txt").write_text(kept)
    (log.work / "new.txt").write_text(new_note)
    for args in (["--key", old_key, "--checkpoint", str(log.work / "old.txt")],
                 ["--key", new_key, "--checkpoint", str(log.work / "new.txt")],
                 ["--checkpoint", str(log.work / "old.txt"), "--checkpoint",
                  str(log.work / "new.txt")]):  # fmt: skip
        result = runner.invoke(app, ["verify", *args])
        assert result.exit_code == 0, result.output
    assert runner.invoke(app, ["ledger", "verify-checkpoint", str(log.work / "old.txt"),
                               "--key", old_key]).exit_code == 0  # fmt: skip
    # the old key no longer signs: a checkpoint signed by it at the new size is refused
    assert runner.invoke(app, ["verify", "--key", old_key, "--checkpoint",
                               str(log.work / "new.txt")]).exit_code == 1  # fmt: skip
    # the witness, given only the old key, follows the rotation by its link note (signed by
    # the key it trusts and by the new one, consistent with what it cosigned) and cosigns on
    followed = run_witness(log, directory)
    assert followed.exit_code == 0, followed.output
    assert json.loads((directory / "witness.json").read_text())["log_keys"] == [old_key, new_key]
    independent_cosignature(httpx.get(f"{log.base}/v1/ledger/checkpoint").text, wkey)


def test_a_witness_learns_no_successor_from_a_bad_link(log: Log) -> None:
    directory = make_witness(log)
    assert run_witness(log, directory).exit_code == 0
    cosigned = witness.last_cosigned(directory) or ""
    size = int(cosigned.split("\n")[1])
    root = base64.b64decode(cosigned.split("\n")[2])
    old_seed = bytes.fromhex(log.settings.log_key_file.read_text().strip())
    new_seed = Ed25519PrivateKey.generate().private_bytes_raw()
    new_key = str(note.verifier_key(ORIGIN, note.public_key_of(new_seed)))

    def link(at: int, at_root: bytes, signers: list[bytes], named: str = new_key) -> str:
        text = note.checkpoint_body(ORIGIN, at, at_root, (f"trustledger-next-log-key {named}",))
        return text + "\n" + "".join(note.signature_line(text, ORIGIN, k) for k in signers)

    def no_proof(old: int, new: int) -> list[bytes]:
        raise AssertionError("no proof is needed")

    # signed by the successor alone (not by a key the witness trusts)
    assert witness.learn_successor(directory, link(size, root, [new_seed]), no_proof) is None
    # signed by the trusted key, but the successor it names did not sign
    assert witness.learn_successor(directory, link(size, root, [old_seed]), no_proof) is None
    # no successor named at all
    plain = note.sign(note.checkpoint_body(ORIGIN, size, root), ORIGIN, old_seed)
    assert witness.learn_successor(directory, plain, no_proof) is None
    # a rotation over another history than the one cosigned: refused
    with pytest.raises(witness.Refused, match="does not extend"):
        witness.learn_successor(directory, link(size, bytes(32), [old_seed, new_seed]), no_proof)
    with pytest.raises(witness.Refused, match="does not extend"):
        witness.learn_successor(directory, link(size - 1, root, [old_seed, new_seed]), no_proof)
    assert json.loads((directory / "witness.json").read_text())["log_keys"] == [log.vkey()]
    # a good link is learnt once
    good = link(size, root, [old_seed, new_seed])
    assert witness.learn_successor(directory, good, no_proof) == new_key
    assert witness.learn_successor(directory, good, no_proof) is None


def test_rotation_needs_an_existing_key(tmp_path: Path) -> None:
    from trustledger.app.errors import ConfigError

    db_url = f"sqlite:///{tmp_path / 'r.db'}"
    with open_store(db_url) as store:
        store.init(FINGERPRINT)
        fill(store)
    (tmp_path / "person.key").write_text(PERSON_KEY.hex() + "\n")
    settings = Settings(db_url=db_url, person_key_file=tmp_path / "person.key",
                        log_key_file=tmp_path / "log.key")  # fmt: skip
    with Context.open(settings) as ctx, pytest.raises(ConfigError, match="no log key"):
        checkpoints.rotate_log_key(ctx)


# --- the stored checkpoints on both databases, and the server's timer ------------------------
def test_checkpoints_and_cosignatures_are_kept_in_sqlite_and_postgresql(
    db_url: str, tmp_path: Path
) -> None:
    with open_store(db_url) as store:
        store.init(FINGERPRINT)
        fill(store)
    (tmp_path / "person.key").write_text(PERSON_KEY.hex() + "\n")
    wseed = Ed25519PrivateKey.generate().private_bytes_raw()
    wkey = cosignature.cosigner_key(WITNESS, note.public_key_of(wseed))
    (tmp_path / "w.txt").write_text(f"{wkey}\n")
    settings = Settings(db_url=db_url, person_key_file=tmp_path / "person.key",
                        log_key_file=tmp_path / "log.key", log_origin=ORIGIN,
                        witness_keys_file=tmp_path / "w.txt")  # fmt: skip
    with Context.open(settings) as ctx:
        first = checkpoints.checkpoint(ctx)
        assert checkpoints.checkpoint(ctx) == first  # the same size: the same note
        size = int(first.split("\n")[1])
        body = first[: first.rfind("\n\n") + 1]
        cosigned = cosignature.add_signatures(first, [cosignature.cosign(body, WITNESS, wseed, 9)])
        (accepted,) = checkpoints.accept_cosignature(ctx, cosigned)
        assert accepted.timestamp == 9
        assert checkpoints.checkpoint(ctx, size) == cosigned
        with pytest.raises(Forbidden):
            checkpoints.accept_cosignature(ctx, first)  # no witness line at all
        with pytest.raises(NotFound):
            checkpoints.checkpoint(ctx, size + 1)
        ctx.store.append_one(EntryKind.RECORD_ISSUED, record_payload(50, FIRM))
        # within the interval the latest stays; after it, a new one is signed
        assert checkpoints.checkpoint(ctx, min_interval=3600) == cosigned
        assert checkpoints.checkpoint(ctx).split("\n")[1] == str(size + 1)
        rotation = checkpoints.rotate_log_key(ctx)
        assert rotation.size == size + 1
        assert [k.retired_size for k in checkpoints.log_keys(ctx)] == [None, size + 1]
        check = checkpoints.verify_held(ctx, [("a", cosigned)], [], [str(wkey)])
        assert check.ok, check.reasons


def test_the_server_signs_a_checkpoint_when_the_ledger_grew(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 't.db'}"
    with open_store(db_url) as store:
        store.init(FINGERPRINT)
        fill(store)
        size = store.size()
    (tmp_path / "person.key").write_text(PERSON_KEY.hex() + "\n")
    settings = Settings(db_url=db_url, person_key_file=tmp_path / "person.key",
                        log_key_file=tmp_path / "log.key", checkpoint_interval=0.05)  # fmt: skip
    with Context.open(settings) as ctx:
        checkpoints.verifier_key(settings)  # the operator makes the key
        timer = checkpoints.CheckpointTimer(ctx, threading.Lock(), 0.05)
        try:
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                kept = ctx.store.query("SELECT size FROM checkpoints") if _has_table(ctx) else []
                if kept:
                    break
                time.sleep(0.05)
            assert kept == [(size,)]
        finally:
            timer.close()
    # without a key file the timer signs nothing (it never makes a key)
    (tmp_path / "log.key").unlink()
    with Context.open(settings) as ctx:
        timer = checkpoints.CheckpointTimer(ctx, threading.Lock(), 0.05)
        time.sleep(0.3)
        timer.close()
    assert not (tmp_path / "log.key").exists()


def _has_table(ctx: Context) -> bool:
    return bool(ctx.store.query("SELECT name FROM sqlite_master WHERE name = 'checkpoints'"))


def test_tampering_a_kept_checkpoint_cosignature_or_retired_key_is_found(log: Log) -> None:
    directory = make_witness(log)
    assert run_witness(log, directory).exit_code == 0
    assert runner.invoke(app, ["keys", "rotate-log-key"]).exit_code == 0
    grow(log)
    assert httpx.get(f"{log.base}/v1/ledger/checkpoint").status_code == 200
    with Context.open(log.settings) as ctx:
        assert checkpoints.verify_stored(ctx) == []
    import sqlite3

    path = log.db.removeprefix("sqlite:///")
    tampers = [
        ("checkpoints", "UPDATE checkpoints SET root = ? WHERE size = (SELECT min(size) FROM"
         " checkpoints)", ("00" * 32,)),
        ("checkpoints", "UPDATE checkpoints SET note = replace(note, '\u2014', '-')"
         " WHERE size = (SELECT max(size) FROM checkpoints)", ()),
        ("checkpoints", "UPDATE checkpoints SET key_hash = 'deadbeef'", ()),
        ("checkpoint_cosignatures", "UPDATE checkpoint_cosignatures SET line ="
         " substr(line, 1, length(line) - 6) || 'AAAA=\n'", ()),
        ("checkpoint_cosignatures", "UPDATE checkpoint_cosignatures SET size = size + 1", ()),
        ("log_keys", "UPDATE log_keys SET link_note = replace(link_note, 'trustledger-next',"
         " 'trustledger-last')", ()),
        ("log_keys", "UPDATE log_keys SET retired_size = retired_size + 1", ()),
    ]  # fmt: skip
    for table, sql, params in tampers:
        with sqlite3.connect(path) as conn:
            saved = {t: conn.execute(f"SELECT * FROM {t}").fetchall()
                     for t in checkpoints.TABLES}  # fmt: skip
            conn.execute(sql, params)
        with Context.open(log.settings) as ctx:
            found = checkpoints.verify_stored(ctx)
        assert found and {t for t, _ in found} == {table}, (sql, found)
        with sqlite3.connect(path) as conn:  # put it back for the next tamper
            for t, rows in saved.items():
                conn.execute(f"DELETE FROM {t}")
                if rows:
                    marks = ", ".join("?" for _ in rows[0])
                    conn.executemany(f"INSERT INTO {t} VALUES ({marks})", rows)
    # a cosignature by a witness the log no longer trusts is named too
    (log.work / "witnesses.txt").write_text("")
    with Context.open(log.settings) as ctx:
        assert [t for t, _ in checkpoints.verify_stored(ctx)] == ["checkpoint_cosignatures"]


def test_verifying_against_a_checkpoint_makes_no_key_and_no_table(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'v.db'}"
    with open_store(db_url) as store:
        store.init(FINGERPRINT)
        fill(store)
        head = store.head()
    seed = Ed25519PrivateKey.generate().private_bytes_raw()
    vkey = str(note.verifier_key(ORIGIN, note.public_key_of(seed)))
    held = note.sign(note.checkpoint_body(ORIGIN, head.size, head.root), ORIGIN, seed)
    (tmp_path / "person.key").write_text(PERSON_KEY.hex() + "\n")
    settings = Settings(db_url=db_url, person_key_file=tmp_path / "person.key",
                        log_key_file=tmp_path / "log.key", log_origin=ORIGIN)  # fmt: skip
    with Context.open(settings) as ctx:
        assert checkpoints.verify_held(ctx, [("held", held)], [vkey], []).ok
        # no key given and none here: nothing to check the signature by, and it says so
        found = checkpoints.verify_held(ctx, [("held", held)], [], [])
        assert not found.ok and "not signed by the log key" in found.reasons[0]
        assert checkpoints.verify_stored(ctx) == []
        assert not _has_table(ctx)
    assert not (tmp_path / "log.key").exists()
