"""The access log: appended, hash-chained, read by subject and page, verified; any change,
removal or insertion found. On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import pairwise

from trustledger.access.log import (
    GENESIS,
    PendingAccess,
    read_access_log,
    record_access,
    record_many,
    verify_access_log,
)
from trustledger.access.principals import Principal
from trustledger.ledger.store import Store

CHECKER = Principal("p_00000000000000aa", "checker", "民航局", frozenset({"air_travel"}))
PERSON = "P" + "ab" * 16
AT = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)


def test_rows_are_chained_and_read_back(store: Store) -> None:
    record_access(store, CHECKER, "check", subject_id=PERSON, purpose="boarding",
                  detail={"action": "air_travel", "status": "deny"}, at=AT)  # fmt: skip
    record_access(store, None, "lists.read", subject_id=None, purpose=None, detail={})
    record_many(store, [PendingAccess.of(CHECKER, "check", subject_id=f"P{i:032x}",
                                         purpose="x") for i in range(5)])  # fmt: skip
    rows = read_access_log(store)
    assert [r.seq for r in rows] == list(range(1, 8))
    first = rows[0]
    assert (first.principal_id, first.role, first.subject_id) == (CHECKER.id, "checker", PERSON)
    assert first.purpose == "boarding" and first.detail["status"] == "deny"
    assert first.at == "2026-11-26T08:00:00.000000+00:00" and first.prev_hash == GENESIS
    assert all(b.prev_hash == a.hash for a, b in pairwise(rows))
    assert (rows[1].role, rows[1].principal_id) == ("public", None)
    assert [r.seq for r in read_access_log(store, subject_id=PERSON)] == [1]
    assert [r.seq for r in read_access_log(store, after=2, limit=2)] == [3, 4]
    assert verify_access_log(store) == []


def test_a_changed_removed_or_inserted_row_is_found(store: Store) -> None:
    for i in range(4):
        record_access(store, CHECKER, "check", subject_id=PERSON, purpose=f"p{i}", detail={})
    store.execute("UPDATE access_log SET purpose = ? WHERE seq = 2", [("changed",)])
    problems = verify_access_log(store)
    assert problems == ["row 2: hash does not match its content"]
    store.execute("DELETE FROM access_log WHERE seq = 3")
    problems = verify_access_log(store)
    assert "row 4: expected row 3 (rows missing)" in problems
    assert "row 4: prev_hash does not match the row before" in problems


def test_a_server_s_recorder_writes_in_order_and_loses_nothing(store: Store) -> None:
    import threading

    from trustledger.app.access import AccessRecorder

    lock = threading.Lock()
    recorder = AccessRecorder(store, lock, interval=0.05)
    threads = [
        threading.Thread(target=lambda t=t: [
            recorder.add(CHECKER, "check", subject_id=f"P{t:016x}{i:016x}", purpose="x",
                         detail={"n": i}) for i in range(200)])
        for t in range(4)
    ]  # fmt: skip
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    recorder.flush()  # what a reader of the log does first
    rows = read_access_log(store, limit=10_000)
    assert len(rows) == 800 and verify_access_log(store) == []
    for t in range(4):  # each thread's accesses in the order it made them
        mine = [r.detail["n"] for r in rows if r.subject_id and r.subject_id[1:17] == f"{t:016x}"]
        assert mine == list(range(200))
    recorder.add(None, "lists.read", subject_id=None, purpose=None)
    recorder.close()  # writes what is pending
    assert len(read_access_log(store, limit=10_000)) == 801
    # written before the answer when the interval is 0; nothing when disabled
    AccessRecorder(store, lock, interval=0).add(CHECKER, "check", subject_id=None, purpose=None)
    AccessRecorder(store, lock, enabled=False).add(CHECKER, "x", subject_id=None, purpose=None)
    assert len(read_access_log(store, limit=10_000)) == 802
    assert verify_access_log(store) == []
