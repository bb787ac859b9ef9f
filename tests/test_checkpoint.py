"""Signed checkpoints (C2SP tlog-checkpoint in a C2SP signed note): known answers from the
reference implementation, an independent verifier written here from the spec, the CLI and
the API round trip, and every way a note is refused."""

from __future__ import annotations

import base64
import hashlib
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from fastapi.testclient import TestClient
from ledger_data import fill
from typer.testing import CliRunner

from trustledger.api import create_app
from trustledger.cli import app
from trustledger.ledger import checkpoint as note
from trustledger.ledger.store import open_store
from trustledger.settings import Settings

runner = CliRunner()

# golang.org/x/mod/sumdb/note's note_test.go: a key, a text and the exact signed note
GO_SEED_B64 = "AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"  # 0x01 || Ed25519 seed
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
GO_NOTE = (
    GO_TEXT + "\n— PeterNeumann "
    "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)
# a real checkpoint of sum.golang.org (quoted in google/trillian-examples' gossip tests),
# verified with the Go toolchain's built-in GOSUMDB key
SUM_VKEY = "sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8"
SUM_TEXT = "go.sum database tree\n13485\n/ZWur4obeiqK+ASdnPK+/Rmz6LPQMUeSmHh0+UkL54Y=\n"
SUM_NOTE = (
    SUM_TEXT + "\n— sum.golang.org "
    "Az3grnQReYTvpCrRxT+w50vixbqBlB/aPS8bL8f8KW4HHP+UjLSXOJgCh4f54n8hO6lrESglzyRXMXnhaWzaeY3zqw8=\n"
)


# --- an independent verifier, from c2sp.org/signed-note and c2sp.org/tlog-checkpoint ----
def independent_verify(text: str, vkey: str) -> tuple[str, int, bytes]:
    """(origin, size, root) of a checkpoint note signed by ``vkey``; AssertionError else."""
    name, hash_hex, key_b64 = vkey.split("+", 2)
    key = base64.b64decode(key_b64)
    assert key[0] == 0x01 and len(key) == 33  # Ed25519
    key_id = hashlib.sha256(name.encode() + b"\x0a" + key).digest()[:4]
    assert key_id.hex() == hash_hex
    body, sep, sigs = text.rpartition("\n\n")
    assert sep and body and sigs.endswith("\n")
    message = (body + "\n").encode()
    good = 0
    for line in sigs[:-1].split("\n"):
        dash, signer, blob_b64 = line.split(" ")
        assert dash == "\u2014"
        blob = base64.b64decode(blob_b64, validate=True)
        if signer == name and blob[:4] == key_id:
            Ed25519PublicKey.from_public_bytes(key[1:]).verify(blob[4:], message)
            good += 1
    assert good == 1
    origin, size, root_b64, *_ = (body + "\n").split("\n")
    assert str(int(size)) == size
    return origin, int(size), base64.b64decode(root_b64, validate=True)


def go_seed() -> bytes:
    raw = base64.b64decode(GO_SEED_B64)
    assert raw[0] == 0x01
    return raw[1:]


# --- known answers ----------------------------------------------------------------------
def test_the_reference_implementations_note_is_reproduced_byte_for_byte() -> None:
    seed = go_seed()
    assert note.sign(GO_TEXT, "PeterNeumann", seed) == GO_NOTE  # Ed25519 is deterministic
    assert str(note.verifier_key("PeterNeumann", note.public_key_of(seed))) == GO_VKEY
    key = note.parse_verifier_key(GO_VKEY)
    assert note.verify_note(GO_NOTE, key).text == GO_TEXT
    # not a checkpoint (two lines): the checkpoint reader says so
    with pytest.raises(note.CheckpointError):
        note.verify(GO_NOTE, key)


def test_a_real_sum_golang_org_checkpoint_verifies() -> None:
    found = note.verify(SUM_NOTE, note.parse_verifier_key(SUM_VKEY))
    assert (found.origin, found.size) == ("go.sum database tree", 13485)
    assert independent_verify(SUM_NOTE, SUM_VKEY) == (found.origin, found.size, found.root)
    tampered = SUM_NOTE.replace("13485", "13486")
    with pytest.raises(note.SignatureError):
        note.verify(tampered, note.parse_verifier_key(SUM_VKEY))


def test_the_body_is_origin_size_root_lines() -> None:
    body = note.checkpoint_body("example.com/log", 7, bytes(range(32)))
    assert body == f"example.com/log\n7\n{base64.b64encode(bytes(range(32))).decode()}\n"
    assert note.parse_checkpoint(body) == note.Checkpoint("example.com/log", 7, bytes(range(32)))


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "no blank line\n— a AAAA\n",
        GO_TEXT + "\n",  # no signature
        GO_TEXT + "\n— PeterNeumann\n",  # no base64
        GO_TEXT + "\n— PeterNeumann !!!!\n",
        GO_TEXT + "\n— PeterNeumann AQID\n",  # too short
        GO_TEXT + "\nPeterNeumann x08go/ZJk=\n",  # no dash
        GO_NOTE.rstrip("\n"),  # no final newline
        GO_NOTE.replace("problem,", "problem,\x07"),
    ],
)
def test_malformed_notes_are_refused(bad: str) -> None:
    with pytest.raises(note.CheckpointError):
        note.verify_note(bad, note.parse_verifier_key(GO_VKEY))


@pytest.mark.parametrize(
    "bad",
    [
        "x\n07\n" + base64.b64encode(bytes(32)).decode() + "\n",
        "x\n-1\n" + base64.b64encode(bytes(32)).decode() + "\n",
        "x\n7\n" + base64.b64encode(bytes(31)).decode() + "\n",
        "x\n7\n",
        "\n7\n" + base64.b64encode(bytes(32)).decode() + "\n",
    ],
)
def test_malformed_checkpoints_are_refused(bad: str) -> None:
    with pytest.raises(note.CheckpointError):
        note.parse_checkpoint(bad)


@pytest.mark.parametrize(
    "bad",
    [
        "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # wrong hash
        "PeterNeumann+c74f20a3",
        "PeterNeumann+c74f20a3+AhpczQ==",
        "+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
    ],
)
def test_malformed_verifier_keys_are_refused(bad: str) -> None:
    with pytest.raises(note.CheckpointError):
        note.parse_verifier_key(bad)


# --- this ledger: CLI and API -----------------------------------------------------------
@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    db = tmp_path / "cp.db"
    monkeypatch.setenv("TRUSTLEDGER_DB", f"sqlite:///{db}")
    monkeypatch.setenv("TRUSTLEDGER_PERSON_KEY_FILE", str(tmp_path / "person.key"))
    monkeypatch.setenv("TRUSTLEDGER_LOG_KEY_FILE", str(tmp_path / "log.key"))
    monkeypatch.setenv("TRUSTLEDGER_LOG_ORIGIN", "credit.example.cn/ledger")
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["init", "--new-person-key"])
    assert result.exit_code == 0, result.output
    with open_store(f"sqlite:///{db}") as store:
        fill(store)
    yield tmp_path


def head_of(env: Path) -> tuple[int, bytes]:
    with open_store(f"sqlite:///{env / 'cp.db'}") as store:
        head = store.head()
    return head.size, head.root


def vkey_of(env: Path) -> str:
    result = runner.invoke(app, ["ledger", "checkpoint-key"])
    assert result.exit_code == 0, result.output
    return result.stdout.strip()


def seed_of(env: Path) -> bytes:
    return bytes.fromhex((env / "log.key").read_text().strip())


def verify_cli(env: Path, text: str, key: str) -> int:
    (env / "in.txt").write_text(text, encoding="utf-8")
    result = runner.invoke(app, ["ledger", "verify-checkpoint", str(env / "in.txt"), "--key", key])
    return result.exit_code


def test_cli_checkpoint_verifies_independently_and_round_trips(env: Path) -> None:
    assert not (env / "log.key").exists()
    result = runner.invoke(app, ["ledger", "checkpoint", "--out", str(env / "cp.txt")])
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert (env / "cp.txt").read_text("utf-8") == text
    key = vkey_of(env)
    assert key.startswith("credit.example.cn/ledger+")
    size, root = head_of(env)
    assert size > 0
    assert independent_verify(text, key) == ("credit.example.cn/ledger", size, root)

    ok = runner.invoke(app, ["ledger", "verify-checkpoint", str(env / "cp.txt"), "--key", key])
    assert ok.exit_code == 0, ok.output
    assert "verified" in ok.stdout
    as_json = runner.invoke(app, ["ledger", "checkpoint", "--json"])
    assert as_json.exit_code == 0
    assert '"key"' in as_json.stdout

    # the ledger grows: the old checkpoint still matches the tree at its size
    with open_store(f"sqlite:///{env / 'cp.db'}") as store:
        fill(store, records=3)
    assert head_of(env)[0] > size
    assert verify_cli(env, text, key) == 0


def test_the_log_key_is_a_0600_file_and_never_in_the_database(env: Path) -> None:
    assert runner.invoke(app, ["ledger", "checkpoint"]).exit_code == 0
    key_file = env / "log.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    seed = seed_of(env)
    assert len(seed) == 32
    public = (
        Ed25519PrivateKey.from_private_bytes(seed)
        .public_key()
        .public_bytes(Encoding.Raw, PublicFormat.Raw)
    )
    assert base64.b64decode(vkey_of(env).split("+", 2)[2])[1:] == public
    for path in env.glob("cp.db*"):  # the database and any WAL beside it
        data = path.read_bytes()
        assert seed not in data and seed.hex().encode() not in data
        assert seed.hex().upper().encode() not in data
        assert base64.b64encode(seed) not in data
    # a second run keeps the key
    assert runner.invoke(app, ["ledger", "checkpoint"]).exit_code == 0
    assert seed_of(env) == seed


def test_bad_checkpoints_are_refused_with_meaningful_exit_codes(env: Path) -> None:
    text = runner.invoke(app, ["ledger", "checkpoint"]).stdout
    key = vkey_of(env)
    size, root = head_of(env)
    origin = "credit.example.cn/ledger"
    seed = seed_of(env)

    # a tampered body: the signature no longer verifies
    lines = text.split("\n")
    lines[1] = str(size - 1)
    assert verify_cli(env, "\n".join(lines), key) == 1
    # signed by another key
    other = Ed25519PrivateKey.generate().private_bytes_raw()
    other_key = str(note.verifier_key(origin, note.public_key_of(other)))
    assert verify_cli(env, text, other_key) == 1
    forged = note.sign(note.checkpoint_body(origin, size, root), origin, other)
    assert verify_cli(env, forged, key) == 1
    # signed by the log's own key, but not this ledger: too large, or another root
    too_large = note.sign(note.checkpoint_body(origin, size + 1, root), origin, seed)
    assert verify_cli(env, too_large, key) == 1
    other_root = note.sign(note.checkpoint_body(origin, 5, root), origin, seed)
    assert verify_cli(env, other_root, key) == 1
    # malformed: a note, a verifier key, a file that cannot be read
    assert verify_cli(env, "not a note\n", key) == 2
    assert verify_cli(env, text, "nonsense") == 2
    missing = runner.invoke(app, ["ledger", "verify-checkpoint", str(env / "nope"), "--key", key])
    assert missing.exit_code == 2
    assert verify_cli(env, text, key) == 0


def test_api_serves_the_checkpoint_and_its_key(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'api.db'}"
    with open_store(db_url) as store:
        store.init("0123456789abcdef")
        fill(store)
        head = store.head()
    (tmp_path / "person.key").write_text(bytes(range(32)).hex() + "\n")
    settings = Settings(
        db_url=db_url,
        person_key_file=tmp_path / "person.key",
        log_key_file=tmp_path / "log.key",
    )
    with TestClient(create_app(settings, reload_interval=0.0)) as client:
        response = client.get("/v1/ledger/checkpoint")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/plain")
        key = client.get("/v1/ledger/checkpoint/key")
        assert key.status_code == 200
        vkey = key.text.strip()
        found = independent_verify(response.text, vkey)
        assert found == ("trustledger.example/ledger", head.size, head.root)
        assert client.get("/v1/ledger/head").json()["root"] == head.root.hex()
    assert stat.S_IMODE((tmp_path / "log.key").stat().st_mode) == 0o600
