"""The ledger page: the tree head, an entry looked up by its sequence number with its RFC 6962
inclusion proof (the same proof as the ledger's own, from kept subtree roots), entries about
persons withheld, and the browser's verifier (static/ledger-verify.js, run here under Node
with WebCrypto) saying "verified" for a true proof and "failed" for any altered byte."""

from __future__ import annotations

import hashlib
import html
import json
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest
from portal_site import Site, check_structure, site

from trustledger.app import ledger, ledger_pages
from trustledger.app.context import Context
from trustledger.ledger import merkle

VERIFIER = Path(str(files("trustledger.portal") / "static" / "ledger-verify.js"))


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    yield from site(tmp_path_factory)


@pytest.fixture
def ctx(portal: Site) -> Iterator[Context]:
    with portal.context() as opened:
        yield opened


def naming_a_person(ctx: Context) -> int:
    """An organisation's record that names a person (its legal representative)."""
    rows = ctx.store.query(
        "SELECT issued_seq FROM records WHERE legal_representative IS NOT NULL "
        "AND subject_id NOT LIKE 'P%' LIMIT 1"
    )
    assert rows, "the demo names no legal representative"
    return int(rows[0][0])


def person_entries(ctx: Context) -> dict[str, int]:
    """A person's registration, a record about a person, and a change to a record about a
    person."""
    q = ctx.store.query
    found = {
        "registered": q("SELECT registered_seq FROM subjects WHERE kind = 'person' LIMIT 1"),
        "record": q("SELECT issued_seq FROM records WHERE subject_id LIKE 'P%' LIMIT 1"),
        "change": q(
            "SELECT last_seq FROM records WHERE subject_id LIKE 'P%' "
            "AND last_seq > issued_seq LIMIT 1"
        ),
    }
    return {k: int(v[0][0]) for k, v in found.items() if v}


# --- the proof -------------------------------------------------------------------------


def test_proofs_are_the_ledgers_own(ctx: Context, monkeypatch: pytest.MonkeyPatch) -> None:
    size = ctx.store.size()
    # small chunks, so kept subtrees, the ragged edge and chunk boundaries all take part
    for chunk in (4, 64, ledger_pages.CHUNK):
        monkeypatch.setattr(ledger_pages, "CHUNK", chunk)
        ledger_pages._KEPT.clear()
        for seq in sorted({0, 1, 3, 4, 5, 63, 64, 65, size // 2, size - 2, size - 1}):
            mine = ledger_pages.proof(ctx, seq)
            theirs = ledger.inclusion(ctx, seq)
            assert mine["proof"] == theirs["proof"], (chunk, seq)
            assert mine["root"] == theirs["root"] == mine["head_root"]
            assert mine["root_matches_head"] and mine["tree_size"] == size
            assert merkle.verify_inclusion(
                bytes.fromhex(mine["leaf_hash"]), seq, size,
                [bytes.fromhex(p) for p in mine["proof"]], bytes.fromhex(mine["root"]),
            )  # fmt: skip


def test_a_proof_reads_two_chunks_at_most(ctx: Context, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ledger_pages, "CHUNK", 16)
    ledger_pages._KEPT.clear()
    store = ctx.store
    size = store.size()
    kept = ledger_pages._kept(store)
    ledger_pages._Tree(store, size, kept).root(0, size)  # the first proof keeps the subtrees
    for seq in (0, size // 3, size - 1):
        tree = ledger_pages._Tree(store, size, kept)
        tree.root(0, size)
        tree.path(seq)
        assert tree.leaves_read <= 2 * 16, seq


def test_the_kept_subtrees_follow_a_growing_ledger(ctx: Context) -> None:
    before = ledger_pages.proof(ctx, 7)
    ctx.store.append_one("authority.registered", {
        "authority_type": "tax", "division": "110000", "id": "11110000000000001X",
        "name": "测试税务局",
    })  # fmt: skip
    after = ledger_pages.proof(ctx, 7)
    assert after["tree_size"] == before["tree_size"] + 1
    assert after["proof"] == ledger.inclusion(ctx, 7)["proof"]
    assert after["root_matches_head"]


def test_kept_subtrees_of_another_ledger_are_dropped(ctx: Context) -> None:
    size = ctx.store.size()
    ledger_pages.proof(ctx, 0)
    kept = ledger_pages._kept(ctx.store)
    assert kept.roots or size < ledger_pages.CHUNK
    for key in kept.roots:
        kept.roots[key] = b"\x00" * 32  # as if the database had been swapped underneath
    found = ledger_pages.proof(ctx, size - 1)
    assert found["root_matches_head"]
    assert found["proof"] == ledger.inclusion(ctx, size - 1)["proof"]


def test_persons_are_withheld(ctx: Context) -> None:
    entries = person_entries(ctx)
    assert {"registered", "record"} <= set(entries), entries
    for what, seq in entries.items():
        page = ledger_pages.entry_page(ctx, seq)
        assert page.withheld, (what, seq)
        assert page.entry is None and page.kind is None and page.time_us is None
        assert page.proof["leaf_hash"] == ctx.store.entry(seq).hash.hex()  # type: ignore[union-attr]
    shown = ledger_pages.entry_page(ctx, 0)  # an authority: public
    assert not shown.withheld and shown.entry is not None
    leaf = hashlib.sha256(b"\x00" + shown.entry.encode()).hexdigest()
    assert leaf == shown.proof["leaf_hash"]


# --- the page --------------------------------------------------------------------------


def verifier_data(page: str) -> dict[str, Any]:
    box = re.search(r'<div id="ledger-verify"(.*?)>', page, re.S)
    assert box, "no verifier on the page"
    data = {k: html.unescape(v) for k, v in re.findall(r'data-([a-z]+)="([^"]*)"', box.group(1))}
    entry = re.search(r'<pre class="entry-json mono" id="entry-json"[^>]*>(.*?)</pre>', page, re.S)
    data["text"] = html.unescape(entry.group(1)) if entry else None
    return data


def test_the_ledger_page_shows_the_head(portal: Site, ctx: Context) -> None:
    answer = portal.client.get("/ledger")
    assert answer.status_code == 200
    check_structure(answer.text)
    found = ctx.store.head()
    assert found.root.hex() in answer.text
    assert f"{found.size:,} entries" in answer.text
    assert "trustledger verify" in answer.text and "trustledger ledger proof N" in answer.text
    assert "ledger-verify.js" in answer.text and "/v1/ledger/proof/inclusion" in answer.text
    assert 'id="ledger-verify"' not in answer.text  # no entry asked for: nothing to check


def test_an_entry_with_its_proof(portal: Site, ctx: Context) -> None:
    seq = int(ctx.store.query("SELECT registered_seq FROM subjects WHERE kind <> 'person'")[0][0])
    for path in (f"/ledger?seq={seq}", f"/ledger/entries/{seq}"):
        answer = portal.client.get(path)
        assert answer.status_code == 200, path
        check_structure(answer.text)
        data = verifier_data(answer.text)
        entry = ctx.store.entry(seq)
        assert entry is not None
        assert data["text"] == entry.envelope().decode()
        assert data["leaf"] == entry.hash.hex()
        assert json.loads(data["proof"]) == ledger.inclusion(ctx, seq)["proof"]
        assert data["root"] == ctx.store.head().root.hex()
        assert '<script src="/static/ledger-verify.js"></script>' in answer.text
        # the API's proof is the same, and the page links to it
        api = portal.client.get("/v1/ledger/proof/inclusion", params={"seq": seq}).json()
        assert api["proof"] == json.loads(data["proof"]) and api["root"] == data["root"]
        assert f'href="/v1/ledger/proof/inclusion?seq={seq}"' in answer.text


def test_a_persons_entry_page_shows_only_that_it_exists(portal: Site, ctx: Context) -> None:
    q = ctx.store.query
    person_ids = {r[0] for r in q("SELECT id FROM subjects WHERE kind = 'person'")}
    for what, seq in person_entries(ctx).items():
        answer = portal.client.get(f"/ledger/entries/{seq}")
        assert answer.status_code == 200
        text = answer.text
        assert "This entry concerns a person" in text, what
        assert 'id="entry-json"' not in text and "data-entry=" not in text
        assert not any(pid in text for pid in person_ids), what
        entry = ctx.store.entry(seq)
        assert entry is not None and entry.hash.hex() in text
        assert f"/v1/ledger/proof/inclusion?seq={seq}" not in text  # the API shows the entry
        assert entry.kind not in text.split("</h1>", 1)[1].split("Verify it yourself")[0]


def test_the_api_gives_a_persons_entry_as_a_hash_but_to_an_operator(
    portal: Site, ctx: Context
) -> None:
    from trustledger.access import create_key

    person_ids = {r[0] for r in ctx.store.query("SELECT id FROM subjects WHERE kind = 'person'")}
    keys = {role: create_key(ctx.store, role, f"a {role}", ["public_procurement"]
                             if role == "checker" else [])
            for role in ("checker", "operator", "auditor")}  # fmt: skip
    for what, seq in person_entries(ctx).items():
        entry = ctx.store.entry(seq)
        assert entry is not None
        for who in (None, "checker"):
            headers = {} if who is None else {"Authorization": f"Bearer {keys[who]}"}
            answer = portal.client.get("/v1/ledger/proof/inclusion", params={"seq": seq},
                                       headers=headers)  # fmt: skip
            assert answer.status_code == 200, (what, who)
            found = answer.json()
            assert found["withheld"] is True and found["entry"] is None, (what, who)
            assert found["leaf_hash"] == entry.hash.hex()
            assert merkle.verify_inclusion(entry.hash, seq, found["tree_size"],
                                           [bytes.fromhex(h) for h in found["proof"]],
                                           bytes.fromhex(found["root"]))  # fmt: skip
            assert not any(pid in answer.text for pid in person_ids), (what, who)
        for who in ("operator", "auditor"):
            bearer = {"Authorization": f"Bearer {keys[who]}"}
            found = portal.client.get("/v1/ledger/proof/inclusion", params={"seq": seq},
                                      headers=bearer).json()  # fmt: skip
            assert found["withheld"] is False and found["entry"] == entry.envelope().decode()
    # an organisation's entry is shown to everyone
    seq = int(ctx.store.query("SELECT registered_seq FROM subjects WHERE kind <> 'person'")[0][0])
    found = portal.client.get("/v1/ledger/proof/inclusion", params={"seq": seq}).json()
    assert found["withheld"] is False and found["entry"]


def test_bad_and_missing_sequence_numbers(portal: Site, ctx: Context) -> None:
    size = ctx.store.size()
    for path, status, says in [
        ("/ledger?seq=abc", 422, "is not a sequence number"),
        ("/ledger?seq=-1", 422, "is not a sequence number"),
        ("/ledger?seq=１２", 422, "is not a sequence number"),  # full-width digits
        (f"/ledger?seq={size}", 404, f"no entry {size}"),
        ("/ledger/entries/99999999999", 404, "no entry 99999999999"),
    ]:
        answer = portal.client.get(path)
        assert answer.status_code == status, path
        assert answer.headers["content-type"].startswith("text/html")
        assert says in html.unescape(answer.text), path
        assert 'id="seq"' in answer.text  # the form is there to try again


# --- the browser's verifier, under Node ---------------------------------------------------

_HARNESS = """
const fs = require("fs"), vm = require("vm");
const data = JSON.parse(fs.readFileSync(0, "utf8"));
const nodes = {};
function el(id, extra) { return nodes[id] = Object.assign({ id, dataset: {}, textContent: "",
  children: [], appendChild(c) { this.children.push(c); } }, extra || {}); }
el("ledger-verify", { dataset: data.box }); el("verify-result"); el("verify-steps");
if (data.text !== null) el("entry-json", { textContent: data.text });
const document = { getElementById: (id) => nodes[id] || null,
                   createElement: () => ({ textContent: "" }) };
const context = { document, window: { crypto: globalThis.crypto }, crypto: globalThis.crypto,
                  TextEncoder, console };
vm.runInNewContext(fs.readFileSync(process.argv[1], "utf8"), context);
const wait = setInterval(() => { const r = nodes["verify-result"];
  if (!r.dataset.state || r.dataset.state === "checking") return;
  clearInterval(wait);
  console.log(JSON.stringify({ state: r.dataset.state, text: r.textContent,
    steps: nodes["verify-steps"].children.map((c) => c.textContent) })); }, 5);
"""


def run_verifier(data: dict[str, Any]) -> dict[str, Any]:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: the browser tests run the verifier instead")
    box = {k: data[k] for k in ("seq", "size", "leaf", "root", "proof")}
    if data.get("text") is not None:
        box["entry"] = "entry-json"
    done = subprocess.run([node, "-e", _HARNESS, str(VERIFIER)], check=True, timeout=30,
                          capture_output=True, text=True,
                          input=json.dumps({"box": box, "text": data.get("text")}))  # fmt: skip
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def flip(hex_text: str) -> str:
    return ("1" if hex_text[0] == "0" else "0") + hex_text[1:]


def test_the_verifier_checks_what_the_page_shows(portal: Site, ctx: Context) -> None:
    size = ctx.store.size()
    for seq in (0, 1, size // 2, size - 1):
        data = verifier_data(portal.client.get(f"/ledger/entries/{seq}").text)
        good = run_verifier(data)
        assert good["state"] == "verified", (seq, good)
        assert good["text"].startswith(f"verified: entry {seq} is in the tree of {size}")
        proof = json.loads(data["proof"])
        tampered = [
            {**data, "root": flip(data["root"])},
            {**data, "leaf": flip(data["leaf"]), "text": None},
            {**data, "seq": str(seq + 1 if seq + 1 < size else seq - 1), "text": None},
            {**data, "proof": json.dumps(proof[:-1])},
            {**data, "proof": json.dumps([flip(proof[0]), *proof[1:]])},
        ]
        if seq == size - 1:
            # the last leaf's path depends on the size (for a leftmost leaf the size is bound
            # only by the root, as in RFC 9162: the tree head is what commits to it)
            tampered.append({**data, "size": str(size + 1)})
        if data["text"] is not None:
            tampered.append({**data, "text": data["text"].replace('"seq":', '"seq": ')})
        for case in tampered:
            bad = run_verifier(case)
            assert bad["state"] == "failed", (seq, bad)


def test_the_verifier_checks_a_persons_entry_by_its_leaf(portal: Site, ctx: Context) -> None:
    seq = person_entries(ctx)["record"]
    data = verifier_data(portal.client.get(f"/ledger/entries/{seq}").text)
    assert data["text"] is None
    assert run_verifier(data)["state"] == "verified"


def test_the_ledger_page_fills_the_kept_subtrees_in_the_background(
    portal: Site, ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ledger_pages, "CHUNK", 32)
    ledger_pages._KEPT.clear()
    assert portal.client.get("/ledger").status_code == 200
    kept = ledger_pages._kept(ctx.store)
    size = ctx.store.size()
    deadline = time.monotonic() + 30
    while kept.filling.locked() or not kept.roots:
        assert time.monotonic() < deadline, "the subtrees were never filled"
        time.sleep(0.02)
    largest = 1 << (size.bit_length() - 1)
    assert (0, largest) in kept.roots
    tree = ledger_pages._Tree(ctx.store, size, kept)
    assert tree.root(0, size) == ctx.store.head().root
    tree.path(size // 2)
    assert tree.leaves_read <= 2 * 32


class _Watched:
    """A lock that records how long it was held each time."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.held: list[float] = []
        self.since = 0.0

    def __enter__(self) -> None:
        self.lock.acquire()
        self.since = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        self.held.append(time.perf_counter() - self.since)
        self.lock.release()


def test_with_the_servers_lock_the_fill_runs_outside_it(
    ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ledger_pages, "CHUNK", 8)
    ledger_pages._KEPT.clear()
    size = ctx.store.size()
    watched = _Watched()
    page = ledger_pages.entry_page(ctx, size // 2, lock=watched)
    assert page.proof["proof"] == ledger.inclusion(ctx, size // 2)["proof"]
    kept = ledger_pages._kept(ctx.store)
    assert ledger_pages._filled(kept, size)
    # the proof under the lock read two chunks at most: the whole ledger was read outside it
    tree = ledger_pages._Tree(ctx.store, size, kept)
    tree.root(0, size)
    tree.path(size // 2)
    assert tree.leaves_read <= 16
    assert len(watched.held) == 2


def test_a_person_an_organisations_entry_names_is_withheld(portal: Site, ctx: Context) -> None:
    seq = naming_a_person(ctx)
    entry = ctx.store.entry(seq)
    assert entry is not None
    person = ctx.store.query("SELECT legal_representative FROM records WHERE issued_seq = ?",
                             (seq,))[0][0]  # fmt: skip
    page = ledger_pages.entry_page(ctx, seq)
    assert not page.withheld and page.masked and page.kind == entry.kind
    assert page.entry is not None and person not in page.entry
    assert page.entry == entry.envelope().decode().replace(person, ledger_pages.WITHHELD_ID)
    text = portal.client.get(f"/ledger/entries/{seq}").text
    assert person not in text
    assert "names a person" in text and 'id="entry-masked"' in text
    data = verifier_data(text)
    assert data["text"] is None and "entry" not in data  # checked from the leaf, not the text
    assert run_verifier(data)["state"] == "verified"
