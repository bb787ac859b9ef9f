"""A subject's records as of an instant: later entries never change an earlier answer."""

from __future__ import annotations

from ledger_data import FIRM, OTHER, fill, record_payload

from trustledger.domain import EntryKind
from trustledger.evaluate.history import records_as_of
from trustledger.ledger.store import Store


def _time_of(store: Store, seq: int) -> int:
    entry = store.entry(seq)
    assert entry is not None
    return entry.time_us


def test_now_matches_the_projection(store: Store) -> None:
    fill(store)
    for subject in (FIRM, OTHER):
        as_of = records_as_of(store, subject)
        current = sorted(store.rows_where("records", "subject_id", [subject]))
        assert sorted(as_of) == current


def test_before_the_end_the_record_was_in_its_issued_state(store: Store) -> None:
    fill(store)
    ended = store.get_row("records", f"R{1:024x}")
    assert ended.status == "ended"
    before_end = _time_of(store, ended.last_seq) - 1
    then = {r.id: r for r in records_as_of(store, FIRM, before_end)}
    assert then[ended.id].status == "issued"
    assert then[ended.id].status_date is None
    # and before it was issued it did not exist
    before_issue = _time_of(store, ended.issued_seq) - 1
    assert ended.id not in {r.id for r in records_as_of(store, FIRM, before_issue)}


def test_appending_after_t_does_not_change_the_answer_at_t(store: Store) -> None:
    fill(store)
    t = store.head().time_us
    before = records_as_of(store, OTHER, t)
    with store.writer() as w:
        w.append(EntryKind.RECORD_ISSUED, record_payload(77, OTHER))
        w.append(
            EntryKind.RECORD_REVOKED,
            {
                "record_id": f"R{2:024x}",
                "event_id": "E" + "9" * 24,
                "authority": record_payload(0)["authority"],
                "document_number": "(2025)粤03行终1号",
                "effective_date": "2025-01-10",
                "reason": "quashed",
            },
        )
    assert records_as_of(store, OTHER, t) == before
    now = {r.id: r for r in records_as_of(store, OTHER)}
    assert now[f"R{2:024x}"].status == "revoked" and f"R{77:024x}" in now


def test_rows_where_refuses_unknown_columns(store: Store) -> None:
    import pytest

    with pytest.raises(ValueError, match="has no column"):
        store.rows_where("records", "nope", ["x"])
    assert store.rows_where("records", "subject_id", []) == []
