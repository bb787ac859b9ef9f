"""Valid identifiers and intake lines for tests, built from the check-character rules."""

from __future__ import annotations

from datetime import date
from typing import Any

from trustledger.ids import org_code_check_char, resident_id_check_char, uscc_check_char


def uscc(prefix: str, division: str, org8: str) -> str:
    """A valid USCC: registering authority + type, division, organisation code, checks."""
    body = prefix + division + org8 + org_code_check_char(org8)
    return body + uscc_check_char(body)


def resident_id(division: str = "440305", birth: str = "19800101", seq: str = "123") -> str:
    body = division + birth + seq
    return body + resident_id_check_char(body)


def wrong_check(code: str) -> str:
    """The same code with a different (wrong) last character."""
    return code[:-1] + ("1" if code[-1] != "1" else "2")


COURT = uscc("11", "440305", "00000001")
TAX = uscc("11", "440300", "00000002")
MARKET = uscc("11", "440304", "00000003")
FIRM = uscc("91", "440305", "MA5DA0A1")
FIRM2 = uscc("91", "110108", "MA01AB2C")
PERSON_ID = resident_id()


def authorities() -> list[dict[str, Any]]:
    return [
        {"op": "authority", "id": COURT, "name": "深圳市南山区人民法院", "authority_type": "court"},
        {"op": "authority", "id": TAX, "name": "国家税务总局深圳市税务局", "authority_type": "tax"},
        {
            "op": "authority",
            "id": MARKET,
            "name": "深圳市福田区市场监督管理局",
            "authority_type": "market_regulation",
        },
    ]


def issue(**fields: Any) -> dict[str, Any]:
    line: dict[str, Any] = {
        "authority": TAX,
        "category": "TAX-PENALTY-GENERAL",
        "subject": FIRM,
        "subject_name": "深圳市华韵科技有限公司",
        "document_number": "深税稽罚〔2024〕87号",
        "decision_type": "administrative_penalty",
        "decision_date": "2024-03-01",
        "publication_date": "2024-03-05",
        "title": "未按规定期限申报纳税",
        "amount_cny": "20000",
    }
    line.update(fields)
    return {k: v for k, v in line.items() if v is not None}


def debtor(**fields: Any) -> dict[str, Any]:
    return issue(
        **{
            "authority": COURT,
            "category": "JUD-DEBTOR-G1",
            "decision_type": "court_judgment",
            "document_number": "(2024)粤0305执1234号",
            "title": "有履行能力而拒不履行",
            "amount_cny": None,
            **fields,
        }
    )


MONITOR = uscc("11", "440305", "00000046")


def monitoring_authority() -> dict[str, Any]:
    return {"op": "authority", "id": MONITOR, "name": "深圳市生态环境监测站",
            "authority_type": "monitoring"}  # fmt: skip


def rated_high(subject: str, day: date) -> dict[str, Any]:
    """The monitoring authority's assessment on ``day``: at least 90 % of the subject's valid
    hourly means within their limits — the band the environmental green grade needs (no
    rate, no grade); it stands one month."""
    return {"authority": MONITOR, "category": "ENV-EMISSIONS-RATE-HIGH", "subject": subject,
            "document_number": f"HJ212-RATE-{subject}-{day:%Y%m%d}", "basis": "automated",
            "decision_type": "administrative_decision", "decision_date": day.isoformat(),
            "publication_date": day.isoformat()}  # fmt: skip
