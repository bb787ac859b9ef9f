"""Tampering with stored entries, links, tree heads or projections is found and located."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from ledger_data import FIRM, fill

from trustledger.ledger.store import Store
from trustledger.ledger.verify import verify


def sql(store: Store, statement: str, *params: Any) -> None:
    """Run raw SQL behind the store's back, as an attacker with database access would."""
    conn: Any = getattr(store, "conn")  # noqa: B009
    if type(store).__name__ == "PostgresStore":
        statement = statement.replace("?", "%s")
        conn.execute(statement, params)
    else:
        conn.execute(statement, params)


def payload_of(store: Store, seq: int) -> bytes:
    entry = store.entry(seq)
    assert entry is not None
    return entry.payload


def test_untouched_ledger_verifies(store: Store) -> None:
    fill(store)
    report = verify(store)
    assert report.ok, report.problems
    assert report.size == store.size() == 25
    assert report.root == store.head().root


def test_empty_ledger_verifies(store: Store) -> None:
    assert verify(store).ok


def _edit_byte(store: Store) -> None:
    body = bytearray(payload_of(store, 9))
    body[body.index(b"2024")] = ord("3")  # 2024 → 3024 in one date
    sql(store, "UPDATE entries SET payload = ? WHERE seq = 9", bytes(body))


def _edit_hash(store: Store) -> None:
    sql(store, "UPDATE entries SET hash = ? WHERE seq = 9", bytes(32))


def _edit_link(store: Store) -> None:
    sql(store, "UPDATE entries SET prev_hash = ? WHERE seq = 9", bytes(32))


def _edit_time(store: Store) -> None:
    sql(store, "UPDATE entries SET time_us = time_us + 1 WHERE seq = 9")


def _delete_entry(store: Store) -> None:
    sql(store, "DELETE FROM entries WHERE seq = 9")


def _reorder(store: Store) -> None:
    # swap the contents of two rows, keeping each row's seq: the order of history changes
    a, b = store.entry(9), store.entry(10)
    assert a is not None and b is not None
    for target, src in ((9, b), (10, a)):
        sql(
            store,
            "UPDATE entries SET time_us = ?, kind = ?, prev_hash = ?, payload = ?, "
            "hash = ? WHERE seq = ?",
            src.time_us,
            src.kind,
            src.prev_hash,
            src.payload,
            src.hash,
            target,
        )


def _rehash_one(store: Store) -> None:
    # a careful forger recomputes the edited entry's own hash; the next link then breaks
    from trustledger.ledger.entry import entry_hash

    e = store.entry(9)
    assert e is not None
    body = e.payload.replace(b"2024-03-01", b"2023-03-01")
    sql(
        store,
        "UPDATE entries SET payload = ?, hash = ? WHERE seq = 9",
        body,
        entry_hash(e.seq, e.time_us, e.kind, e.prev_hash, body),
    )


def _truncate_tail(store: Store) -> None:
    sql(store, "DELETE FROM entries WHERE seq >= 20")


@pytest.mark.parametrize(
    "tamper", [_edit_byte, _edit_hash, _edit_link, _edit_time, _delete_entry, _reorder, _rehash_one]
)
def test_tampered_entry_is_located(store: Store, tamper: Callable[[Store], None]) -> None:
    fill(store)
    tamper(store)
    report = verify(store)
    assert not report.ok
    assert report.first_bad_seq == 9, report.problems


def test_truncated_tail_is_found(store: Store) -> None:
    fill(store)
    _truncate_tail(store)
    report = verify(store)
    assert report.first_bad_seq == 20
    assert "claims 25 entries" in report.problems[0][1]


def test_rewritten_history_disagrees_with_tree_heads(store: Store) -> None:
    """Even a forger who rehashes every later entry cannot match the stored tree heads."""
    from trustledger.ledger.entry import entry_hash

    fill(store)
    entries = list(store.iter_entries())
    prev = entries[8].hash
    for e in entries[9:]:
        body = e.payload.replace(b"2024-03-01", b"2023-03-01") if e.seq == 9 else e.payload
        h = entry_hash(e.seq, e.time_us, e.kind, prev, body)
        sql(
            store,
            "UPDATE entries SET payload = ?, prev_hash = ?, hash = ? WHERE seq = ?",
            body,
            prev,
            h,
            e.seq,
        )
        prev = h
    report = verify(store)
    assert not report.ok
    # the first tree head that covers entry 9 is the first to disagree
    first_head = min(h.size for h in store.tree_heads() if h.size > 9)
    assert report.first_bad_seq == first_head - 1


def test_tree_head_tampering(store: Store) -> None:
    fill(store)
    sql(store, "UPDATE tree_heads SET root = ? WHERE size = 10", bytes(32))
    report = verify(store)
    assert report.first_bad_seq == 9


def test_projection_row_edit(store: Store) -> None:
    fill(store)
    rid = f"R{4:024x}"
    issued_seq = store.get_row("records", rid).issued_seq
    sql(store, "UPDATE records SET status = 'revoked' WHERE id = ?", rid)
    report = verify(store)
    assert report.first_bad_seq == issued_seq
    assert "status: stored 'revoked', ledger says 'issued'" in report.problems[0][1]


def test_projection_row_deleted(store: Store) -> None:
    fill(store)
    sql(store, "DELETE FROM subjects WHERE id = ?", FIRM)
    report = verify(store)
    assert report.first_bad_seq == 1
    assert "is missing" in report.problems[0][1]


def test_projection_row_added(store: Store) -> None:
    fill(store)
    sql(
        store,
        "INSERT INTO authorities (id, name, authority_type, division, last_seq) "
        "VALUES ('11110000000000002X', 'fake', 'court', '110000', 5)",
    )
    report = verify(store)
    assert report.first_bad_seq == 5
    assert "has no entry behind it" in report.problems[0][1]


def test_a_row_claiming_an_earlier_last_write_is_caught(store: Store) -> None:
    # the corrected record's row says its issue was its last write: compared at the issue,
    # it carries the correction's title; the correction then finds no row left to change
    fill(store)
    rid = f"R{2:024x}"
    row = store.get_row("records", rid)
    assert row.last_seq > row.issued_seq
    sql(store, "UPDATE records SET last_seq = ? WHERE id = ?", row.issued_seq, rid)
    report = verify(store)
    assert not report.ok
    assert report.first_bad_seq == row.issued_seq
    problems = [p for _, p in sorted(report.problems)]
    assert f"records row {rid} differs" in problems[0]
    assert problems[1].endswith("(a consequence of the row named above)"), problems


def test_a_row_claiming_a_write_past_the_ledger_end_is_caught(store: Store) -> None:
    fill(store)
    rid = f"R{4:024x}"
    sql(store, "UPDATE records SET last_seq = 1000 WHERE id = ?", rid)
    report = verify(store)
    assert not report.ok
    assert any(
        p.startswith(f"records row {rid} differs") and "last_seq: stored 1000" in p
        for _, p in report.problems
    ), report.problems


def test_the_projection_replay_holds_only_rows_a_later_entry_changes(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    # each stored row is compared and dropped once the entry it names as its last write
    # is applied: the replay's memory stays flat however long the ledger
    import trustledger.ledger.verify as verifying
    from trustledger.ledger.projection import Projector

    fill(store, records=200)
    most = 0
    apply = Projector.apply

    def counting(self: Projector, *args: Any) -> None:
        nonlocal most
        most = max(most, sum(len(rows) for rows in self.changed.values()))
        apply(self, *args)

    monkeypatch.setattr(Projector, "apply", counting)
    report = verifying.verify_projections(store)
    assert report.ok, report.problems
    # at most the row just written and the two records the last transaction changes
    assert most <= 3


def test_rebuild_repairs_projection_tampering(store: Store) -> None:
    fill(store)
    sql(store, "DELETE FROM records")
    assert not verify(store).ok
    store.rebuild()
    assert verify(store).ok


def _die_in_child(url: str) -> None:
    """The projection check's process killed by the system (as the OOM killer does)."""
    import os
    import signal

    os.kill(os.getpid(), signal.SIGKILL)


def test_a_killed_projection_check_fails_verify_instead_of_hanging(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    import trustledger.ledger.verify as verifying
    from trustledger.ledger.verify import VerifyIncomplete

    fill(store)
    if store.url.startswith("sqlite:///:memory:"):
        pytest.skip("an in-memory database is verified in one process")
    # a pool would start a new worker and wait for the dead one's answer forever
    monkeypatch.setattr(verifying, "_projections_in_child", _die_in_child)
    with pytest.raises(VerifyIncomplete, match="projections are NOT verified"):
        verify(store)


def test_verify_all_maps_an_unfinished_verify_to_unavailable(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    import trustledger.ledger.verify as verifying
    from trustledger.app.context import Context
    from trustledger.app.errors import Unavailable
    from trustledger.app.verification import verify_all

    fill(store)
    if store.url.startswith("sqlite:///:memory:"):
        pytest.skip("an in-memory database is verified in one process")
    monkeypatch.setattr(verifying, "_projections_in_child", _die_in_child)
    with Context.open(db_url=store.url) as ctx, pytest.raises(Unavailable, match="did not finish"):
        verify_all(ctx)
