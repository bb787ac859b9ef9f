"""The store contract, run against SQLite and PostgreSQL alike."""

from __future__ import annotations

import itertools
from hashlib import sha256

import pytest
from ledger_data import FIRM, fill, record_payload

from trustledger.domain import EntryKind
from trustledger.ledger import merkle
from trustledger.ledger.canonical import canonical_json
from trustledger.ledger.entry import GENESIS_PREV
from trustledger.ledger.projection import TABLES
from trustledger.ledger.store import Store, StoreError, open_store


def test_entries_chain_and_tree(store: Store) -> None:
    fill(store)
    entries = list(store.iter_entries())
    assert [e.seq for e in entries] == list(range(len(entries)))
    assert entries[0].prev_hash == GENESIS_PREV
    for before, after in itertools.pairwise(entries):
        assert after.prev_hash == before.hash
    for e in entries:
        # the stored envelope is the canonical JSON of the whole entry, hashed as an RFC 6962 leaf
        assert e.envelope() == canonical_json(
            {
                "kind": e.kind,
                "payload": e.payload_obj(),
                "prev": e.prev_hash.hex(),
                "seq": e.seq,
                "time_us": e.time_us,
            }
        )
        assert e.hash == sha256(b"\x00" + e.envelope()).digest()
    head = store.head()
    assert head.size == len(entries) == store.size()
    assert head.root == merkle.root([e.hash for e in entries])
    assert [h.size for h in store.tree_heads()] == sorted({h.size for h in store.tree_heads()})
    assert all(a.time_us <= b.time_us for a, b in itertools.pairwise(entries))


def test_projection_written_with_entry(store: Store) -> None:
    fill(store)
    ended = store.get_row("records", f"R{1:024x}")
    assert (ended.status, ended.status_reason, ended.status_date) == (
        "ended",
        "performed",
        "2024-06-01",
    )
    corrected = store.get_row("records", f"R{2:024x}")
    assert (corrected.status, corrected.title) == ("corrected", "拒不履行")
    assert store.get_row("subjects", FIRM).name == "华为技术有限公司"
    assert store.get_row("records", "R" + "f" * 24) is None


def test_failed_transaction_leaves_nothing(store: Store) -> None:
    fill(store, records=3)
    before = store.head()
    with pytest.raises(RuntimeError), store.writer() as w:
        w.append(EntryKind.RECORD_ISSUED, record_payload(99))
        raise RuntimeError("crash mid-batch")
    assert store.head() == before
    assert store.get_row("records", f"R{99:024x}") is None
    # and the next append continues the chain from the last committed entry
    entry = store.append_one(EntryKind.RECORD_ISSUED, record_payload(100))
    assert entry.seq == before.size


def test_rebuild_gives_identical_projections(store: Store) -> None:
    fill(store)
    before = {t: sorted(store.iter_rows(t)) for t in TABLES}
    counts = store.rebuild()
    after = {t: sorted(store.iter_rows(t)) for t in TABLES}
    assert before == after
    assert counts["records"] == 20


def test_reopen_continues_chain(db_url: str) -> None:
    with open_store(db_url) as s:
        s.init()
        fill(s, records=4)
        size = s.size()
    with open_store(db_url) as s:
        e = s.append_one(EntryKind.RECORD_ISSUED, record_payload(50))
        assert e.seq == size
        assert s.head().root == merkle.root(s.leaf_hashes())


def test_uninitialised_database_is_refused(tmp_path: object) -> None:
    with (
        open_store(f"sqlite:///{tmp_path}/empty.db") as s,
        pytest.raises(StoreError, match="not a trustledger database"),
    ):
        s.meta()


def test_unsupported_url() -> None:
    with pytest.raises(StoreError, match="unsupported database URL"):
        open_store("mysql://localhost/x")


def test_a_read_snapshot_sees_one_state_while_a_writer_appends(store: Store) -> None:
    fill(store)
    before = store.size()
    rows = sum(1 for _ in store.rows_by_seq("records"))
    with open_store(store.url) as writer, store.read_snapshot():
        stream = store.rows_by_seq("records", batch=2)
        first = next(stream)
        with writer.writer() as w:
            w.append(EntryKind.RECORD_ISSUED, record_payload(900))
        # the open stream and new reads alike see the state as of the snapshot's first read
        assert 1 + sum(1 for _ in stream) == rows
        assert sum(1 for _ in store.iter_entries()) == before
    assert sum(1 for _ in store.rows_by_seq("records")) == rows + 1
    assert first[0] <= min(seq for seq, _, _ in store.rows_by_seq("records"))


def test_rows_by_seq_streams_each_table_in_last_write_order(store: Store) -> None:
    fill(store)
    for table in TABLES:
        seqs = [seq for seq, _, _ in store.rows_by_seq(table, batch=3)]
        assert seqs == sorted(seqs)
        assert len(seqs) == sum(1 for _ in store.iter_rows(table))
    corrected = [key for seq, key, _ in store.rows_by_seq("records")][-1]
    assert corrected == f"R{2:024x}"  # its correction is the last entry that wrote a record


def test_iter_rows_yields_every_row_once_across_pages(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    import trustledger.ledger.postgres as postgres

    fill(store, records=20)
    monkeypatch.setattr(postgres, "_PAGE", 3)  # PostgreSQL reads keyset pages of this size
    rows = list(store.iter_rows("records"))
    assert len(rows) == len({r[0] for r in rows}) == 20
    assert sorted(rows) == sorted(store.query("SELECT * FROM records"))
