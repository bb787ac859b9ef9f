"""Checkpoint signing and a witness round trip, against a bare Ed25519 signature of the
same checkpoint body measured in the same run.

- signing: the log signs the head after the ledger grew (note + kept row), per checkpoint;
- round trip: a witness fetches the checkpoint over HTTP from `trustledger serve`'s app
  (uvicorn on a free port), fetches and checks the consistency proof from the size it
  cosigned, cosigns and sends the cosignature — each step timed, and the whole.

python bench/checkpoint.py [--entries 100000] [--rounds 50]
"""

from __future__ import annotations

import argparse
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

import uvicorn
from common import Timer, save
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from verify import COURT, build

from trustledger.api import create_app
from trustledger.app import checkpoints, witness
from trustledger.app.context import Context
from trustledger.domain import EntryKind
from trustledger.ledger import checkpoint as note
from trustledger.ledger import cosignature, merkle
from trustledger.ledger.store import open_store
from trustledger.settings import Settings


def grow(url: str, seq: int) -> None:
    with open_store(url) as store:
        store.append_one(
            EntryKind.AUTHORITY_REGISTERED,
            {"id": COURT, "name": f"南山区人民法院 {seq}", "authority_type": "court",
             "division": "440305"},
        )  # fmt: skip


def ms(samples: list[float]) -> float:
    return round(statistics.median(samples) * 1000, 3)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=50)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-checkpoint-"))
    url = f"sqlite:///{work / 'b.db'}"
    build(url, args.entries)
    settings = Settings(db_url=url, person_key_file=work / "person.key",
                        log_key_file=work / "log.key", log_origin="bench.example/log",
                        witness_keys_file=work / "witnesses.txt",
                        checkpoint_interval=0.0)  # fmt: skip
    (work / "person.key").write_text(bytes(range(32)).hex() + "\n")
    vkey = checkpoints.verifier_key(settings)

    # baseline: a bare Ed25519 signature of a checkpoint body
    seed = bytes.fromhex(settings.log_key_file.read_text().strip())
    private = Ed25519PrivateKey.from_private_bytes(seed)
    body = note.checkpoint_body("bench.example/log", args.entries, bytes(32)).encode()
    bare = []
    for _ in range(args.rounds * 20):
        with Timer() as t:
            private.sign(body)
        bare.append(t.seconds)

    # the log signing a checkpoint after the ledger grew (the timer's and on-demand path)
    signing = []
    with Context.open(settings) as ctx:
        checkpoints.checkpoint(ctx)
        for i in range(args.rounds):
            grow(url, i)
            with Timer() as t:
                checkpoints.sign_if_grown(ctx)
            signing.append(t.seconds)

    # a witness against the served log
    directory = work / "witness"
    wkey = witness.init(directory, "bench.example/w1", "bench.example/log", [vkey])
    (work / "witnesses.txt").write_text(wkey + "\n")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = create_app(settings, reload_interval=0.0, access_log=False)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    steps: dict[str, list[float]] = {"fetch": [], "consistency": [], "cosign": [],
                                     "submit": [], "round_trip": []}  # fmt: skip
    try:
        with witness.client(f"http://127.0.0.1:{port}") as client:
            witness.run_once(directory, client)  # the first cosignature: nothing to prove
            seed_w = bytes.fromhex((directory / "witness.key").read_text().strip())
            for i in range(args.rounds):
                grow(url, 1000 + i)
                held = witness.last_cosigned(directory) or ""
                old = note.parse_checkpoint(note.parse(held).text)
                # the steps one by one (what run_once does, timed apart)
                with Timer() as t:
                    text = client.get("/v1/ledger/checkpoint").text
                steps["fetch"].append(t.seconds)
                new = note.verify(text, note.parse_verifier_key(vkey))
                with Timer() as t:
                    sizes = {"old": old.size, "new": new.size}
                    found = client.get("/v1/ledger/proof/consistency", params=sizes).json()
                    proof = [bytes.fromhex(h) for h in found["proof"]]
                    assert merkle.verify_consistency(old.size, new.size, old.root, new.root, proof)
                steps["consistency"].append(t.seconds)
                with Timer() as t:
                    text_body = note.parse(text).text
                    line = cosignature.cosign(
                        text_body, "bench.example/w1", seed_w, int(time.time())
                    )
                steps["cosign"].append(t.seconds)
                with Timer() as t:
                    cosigned = cosignature.add_signatures(text, [line])
                    answer = client.post("/v1/ledger/checkpoint/cosignature", content=cosigned)
                    assert answer.status_code == 200, answer.text
                steps["submit"].append(t.seconds)
                # and the whole, as `trustledger witness run` does it
                grow(url, 2000 + i)
                with Timer() as t:
                    outcome = witness.run_once(directory, client)
                    assert outcome.submitted
                steps["round_trip"].append(t.seconds)
    finally:
        server.should_exit = True
        thread.join(timeout=10)

    figures: dict[str, Any] = {
        "entries": args.entries,
        "rounds": args.rounds,
        "bare_ed25519_sign_ms": ms(bare),
        "checkpoint_signing_ms": ms(signing),
        "signing_ratio_to_bare_sign": round(
            statistics.median(signing) / statistics.median(bare), 1
        ),
        **{f"witness_{k}_ms": ms(v) for k, v in steps.items()},
        "round_trip_ratio_to_bare_sign": round(
            statistics.median(steps["round_trip"]) / statistics.median(bare), 1
        ),
    }
    save("checkpoint", figures)


if __name__ == "__main__":
    main()
