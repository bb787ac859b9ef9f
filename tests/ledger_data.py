"""A small ledger written straight to a store, for tests that need no catalogue."""

from __future__ import annotations

from trustledger.domain import EntryKind
from trustledger.ledger.store import Store

COURT = "11110000000000001X"
FIRM = "914403001922038216"
OTHER = "91110108551385082Q"


def record_payload(n: int, subject: str = FIRM) -> dict[str, object]:
    return {
        "record_id": f"R{n:024x}",
        "authority": COURT,
        "category": "JUD-DEBTOR-G1",
        "catalogue": "test@1",
        "subject": subject,
        "subject_kind": "enterprise",
        "tier": "serious",
        "decision_type": "court_judgment",
        "document_number": f"(2024)粤0305执{n}号",
        "decision_date": "2024-03-01",
        "publication_date": "2024-03-05",
        "title": "有履行能力而拒不履行生效法律文书确定义务",
    }


def subject_payload(uscc: str, name: str) -> dict[str, object]:
    return {
        "id": uscc,
        "kind": "enterprise",
        "name": name,
        "division": uscc[2:8],
        "former_names": [],
        "aliases": ["Example Co., Ltd."],
        "address": None,
        "established": "2001-05-01",
    }


def fill(store: Store, records: int = 20) -> None:
    """Authority, two subjects, ``records`` records, then an end and a correction."""
    with store.writer() as w:
        w.append(
            EntryKind.AUTHORITY_REGISTERED,
            {
                "id": COURT,
                "name": "深圳市南山区人民法院",
                "authority_type": "court",
                "division": "440305",
            },
        )
        w.append(EntryKind.SUBJECT_REGISTERED, subject_payload(FIRM, "华为技术有限公司"))
        w.append(EntryKind.SUBJECT_REGISTERED, subject_payload(OTHER, "北京某某科技有限公司"))
    for start in range(0, records, 7):  # several transactions, so several tree heads
        with store.writer() as w:
            for n in range(start, min(start + 7, records)):
                w.append(EntryKind.RECORD_ISSUED, record_payload(n, FIRM if n % 2 else OTHER))
    with store.writer() as w:
        w.append(
            EntryKind.RECORD_ENDED,
            {
                "record_id": f"R{1:024x}",
                "event_id": "E" + "1" * 24,
                "authority": COURT,
                "document_number": "(2024)粤0305执1号之一",
                "effective_date": "2024-06-01",
                "reason": "performed",
            },
        )
        w.append(
            EntryKind.RECORD_CORRECTED,
            {
                "record_id": f"R{2:024x}",
                "event_id": "E" + "2" * 24,
                "authority": COURT,
                "document_number": "(2024)粤0305执2号之一",
                "effective_date": "2024-06-02",
                "reason": "typo in the title",
                "changes": {"title": "拒不履行"},
            },
        )
