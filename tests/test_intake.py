"""The intake on both stores: what it accepts, what it refuses and why, and idempotence."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from builders import (
    COURT,
    FIRM,
    FIRM2,
    MARKET,
    PERSON_ID,
    TAX,
    authorities,
    debtor,
    issue,
    wrong_check,
)

from trustledger.catalogue import national_catalogue
from trustledger.ids import PersonKeyer
from trustledger.intake import Intake, Outcome, record_id
from trustledger.ledger.store import Store, StoreError
from trustledger.ledger.verify import verify

TODAY = date(2026, 11, 26)
KEYER = PersonKeyer(bytes(range(32)))


@pytest.fixture
def intake(store: Store) -> Intake:
    it = Intake(store, national_catalogue(), KEYER, today=TODAY)
    for line in authorities():
        assert it.submit(line).outcome is Outcome.ACCEPTED
    return it


def rejected(intake: Intake, line: dict[str, Any]) -> str:
    size = intake.store.size()
    result = intake.submit(line)
    assert result.outcome is Outcome.REJECTED, result
    assert intake.store.size() == size  # nothing written for a rejected line
    assert result.reason
    return result.reason


def test_accepts_record_and_registers_subject(intake: Intake) -> None:
    result = intake.submit(issue())
    assert result.outcome is Outcome.ACCEPTED
    rid = record_id(TAX, "深税稽罚〔2024〕87号", FIRM, "TAX-PENALTY-GENERAL")
    row = intake.store.get_row("records", rid)
    assert (row.tier, row.amount_cny, row.status) == ("general", "20000.00", "issued")
    assert intake.store.get_row("subjects", FIRM).name == "深圳市华韵科技有限公司"
    assert verify(intake.store).ok


def test_duplicate_is_idempotent(intake: Intake) -> None:
    assert intake.submit(issue()).outcome is Outcome.ACCEPTED
    size = intake.store.size()
    again = intake.submit(issue(title="changed wording, same decision"))
    assert again.outcome is Outcome.DUPLICATE
    assert intake.store.size() == size
    # within one batch as well
    results = intake.submit_many([issue(document_number="X1"), issue(document_number="X1")])
    assert [r.outcome for r in results] == [Outcome.ACCEPTED, Outcome.DUPLICATE]


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (issue(subject=wrong_check(FIRM)), "check character expected"),
        (issue(subject=FIRM[:17]), "wrong length: 17 characters, expected 18"),
        (issue(subject="91440305MA5DA0AIXX"), "bad character 'I' at position 16"),
        (issue(category="TAX-NOPE"), "category: unknown category 'TAX-NOPE'"),
        (issue(authority=MARKET), "may not issue TAX-PENALTY-GENERAL (issued by: tax)"),
        (issue(authority=FIRM2), "is not a registered issuing authority"),
        (issue(authority=wrong_check(TAX)), "authority: USCC"),
        (issue(decision_date="2026-12-01", publication_date="2026-12-02"), "is in the future"),
        (issue(publication_date="2027-01-01"), "publication_date: 2027-01-01 is in the future"),
        (issue(publication_date="2024-02-01"), "is before the decision_date"),
        (issue(decision_date="2024/03/01"), "is not a date in the form YYYY-MM-DD"),
        (issue(decision_date="2024-02-30"), "is not a date in the form YYYY-MM-DD"),
        (issue(evidence_digest="md5:abc"), "evidence_digest: 'md5:abc' is not sha256"),
        (issue(evidence_digest="sha256:" + "A" * 64), "evidence_digest"),
        (issue(amount_cny="12,000"), "amount_cny: '12,000' is not an amount"),
        (issue(amount_cny=1.5), "amount_cny: 1.5 is not an amount"),
        (issue(document_number=None), "document_number: missing"),
        (issue(document_number="   "), "document_number: missing"),
        (issue(decision_type="rumour"), "decision_type: 'rumour' is not one of"),
        (issue(tier="catastrophic"), "tier: 'catastrophic' is not one of"),
        (issue(colour="red"), "unknown field colour for op issue"),
        (issue(op="delete"), "op: 'delete' is not one of"),
        (issue(title=["not", "text"]), "title: expected text, got list"),
        (issue(title="x" * 2001), "title: 2001 characters, at most 2000 allowed"),
        (
            issue(category="TAX-A-GRADE", subject=FIRM.replace("91", "51", 1)),
            "subject: USCC",
        ),  # type code changed: check character no longer matches
    ],
)
def test_rejects(intake: Intake, line: dict[str, Any], reason: str) -> None:
    assert reason in rejected(intake, line)


def test_category_subject_kind(intake: Intake) -> None:
    reason = rejected(
        intake, issue(category="TAX-MAJOR-VIOLATION", subject=PERSON_ID, subject_name="张三")
    )
    assert "does not concern subjects of kind person" in reason


def test_person_record_needs_final_decision(intake: Intake) -> None:
    reason = rejected(intake, debtor(subject=PERSON_ID, decision_type="administrative_decision"))
    assert "a record about a person must rest on a final court judgment" in reason
    assert "document_number: missing" in rejected(
        intake, debtor(subject=PERSON_ID, document_number=None)
    )
    accepted = intake.submit(debtor(subject=PERSON_ID, subject_name="张三"))
    assert accepted.outcome is Outcome.ACCEPTED


def test_person_id_is_never_stored(intake: Intake, db_url: str) -> None:
    intake.submit(debtor(subject=PERSON_ID, subject_name="张三"))
    person = KEYER.person_id(PERSON_ID)
    assert intake.store.get_row("subjects", person).kind == "person"
    assert intake.store.get_row("subjects", person).division is None
    blob = b"".join(e.payload for e in intake.store.iter_entries())
    assert PERSON_ID.encode() not in blob and person.encode() in blob
    if db_url.startswith("sqlite"):
        path = Path(db_url.removeprefix("sqlite:///"))
        for f in path.parent.glob(path.name + "*"):
            assert PERSON_ID.encode() not in f.read_bytes()


def test_person_without_key_is_refused(store: Store) -> None:
    intake = Intake(store, national_catalogue(), None, today=TODAY)
    for line in authorities():
        intake.submit(line)
    assert "no person key is configured" in rejected(intake, debtor(subject=PERSON_ID))
    # nor can an organisation's record name a person without one
    reason = rejected(intake, debtor(legal_representative=PERSON_ID))
    assert reason.startswith("legal_representative: a resident ID number cannot be accepted")


def test_wrong_person_key_is_refused(store: Store) -> None:
    # the store was initialised with KEYER's fingerprint
    with pytest.raises(StoreError, match="does not match"):
        Intake(
            store,
            national_catalogue(),
            PersonKeyer(b"another key, so another person id"),
            today=TODAY,
        )


@pytest.fixture
def store(db_url: str) -> Any:
    from trustledger.ledger.store import open_store

    s = open_store(db_url)
    s.init(KEYER.fingerprint())
    yield s
    s.close()


def test_ambiguous_identifier_needs_kind(intake: Intake) -> None:
    from builders import uscc

    # find a government-organ USCC that is also a valid resident ID number
    from trustledger.ids import check_resident_id

    # positions 7–14 must read as a birth date for the resident-ID reading to be valid
    for n in range(10000):
        code = uscc("11", "010519", f"8{n // 100 % 10}0101{n % 100:02d}")
        if check_resident_id(code, today=TODAY).valid:
            break
    else:
        pytest.skip("no ambiguous code in range")
    line = debtor(subject=code, subject_name="某机关")
    assert "ambiguous identifier" in rejected(intake, line)
    assert intake.submit({**line, "subject_kind": "organisation"}).outcome is Outcome.ACCEPTED


# --- changes -------------------------------------------------------------------------


def _issued(intake: Intake, **fields: Any) -> str:
    result = intake.submit(debtor(**fields))
    assert result.outcome is Outcome.ACCEPTED
    assert result.ref is not None
    return result.ref


def change(op: str, **fields: Any) -> dict[str, Any]:
    line = {
        "op": op,
        "authority": COURT,
        "subject": FIRM,
        "category": "JUD-DEBTOR-G1",
        "target_document_number": "(2024)粤0305执1234号",
        "document_number": "(2024)粤0305执1234号之一",
        "effective_date": "2024-09-01",
        "reason": "performed",
    }
    line.update(fields)
    return {k: v for k, v in line.items() if v is not None}


def test_end_then_duplicate_then_refused(intake: Intake) -> None:
    rid = _issued(intake)
    assert intake.submit(change("end")).outcome is Outcome.ACCEPTED
    row = intake.store.get_row("records", rid)
    assert (row.status, row.status_reason, row.status_date) == ("ended", "performed", "2024-09-01")
    assert intake.submit(change("end")).outcome is Outcome.DUPLICATE
    assert "is already ended" in rejected(intake, change("end", document_number="another"))


def test_correct_and_revoke(intake: Intake) -> None:
    rid = _issued(intake)
    ok = intake.submit(
        change("correct", reason="wrong title", changes={"title": "拒不履行", "tier": "general"})
    )
    assert ok.outcome is Outcome.ACCEPTED
    row = intake.store.get_row("records", rid)
    assert (row.status, row.title, row.tier) == ("corrected", "拒不履行", "general")
    # by record id, as a court after litigation
    revoked = intake.submit(
        {
            "op": "revoke",
            "authority": COURT,
            "record": rid,
            "document_number": "(2024)粤03行终9号",
            "effective_date": "2024-10-01",
            "reason": "quashed on appeal",
        }
    )
    assert revoked.outcome is Outcome.ACCEPTED
    assert intake.store.get_row("records", rid).status == "revoked"
    assert verify(intake.store).ok


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (change("end", target_document_number="nope"), "record: no record"),
        (change("end", reason="bored"), "reason: 'bored' is not one of"),
        (change("end", effective_date="2023-01-01"), "is before the record's decision date"),
        (change("end", effective_date="2027-01-01"), "is in the future"),
        (change("end", record="R123"), "is not a record id"),
        (change("correct", changes={"subject": "x"}), "cannot correct subject"),
        (change("correct", changes={}), "a correction needs an object"),
        (
            change("correct", changes={"publication_date": "2024-01-01"}),
            "would be before the decision_date",
        ),
        (change("end", document_number=None), "document_number: missing"),
    ],
)
def test_change_rejects(intake: Intake, line: dict[str, Any], reason: str) -> None:
    _issued(intake)
    assert reason in rejected(intake, line)


def test_only_the_issuer_ends(intake: Intake) -> None:
    rid = _issued(intake)
    line = {
        "op": "end",
        "authority": TAX,
        "record": rid,
        "document_number": "D",
        "effective_date": "2024-09-01",
        "reason": "performed",
    }
    assert "did not issue record" in rejected(intake, line)


def test_registration_lines(intake: Intake) -> None:
    line = {
        "op": "subject",
        "subject": FIRM2,
        "name": "北京某某科技有限公司",
        "former_names": ["北京某某信息技术有限公司"],
        "aliases": ["Beijing Moumou Tech"],
        "established": "2010-01-01",
    }
    assert intake.submit(line).outcome is Outcome.ACCEPTED
    assert intake.submit(line).outcome is Outcome.DUPLICATE
    assert intake.submit({**line, "name": "北京新名称科技有限公司"}).outcome is Outcome.ACCEPTED
    row = intake.store.get_row("subjects", FIRM2)
    assert row.name == "北京新名称科技有限公司" and row.registered_seq < row.last_seq
    assert "name: missing" in rejected(intake, {"op": "subject", "subject": FIRM2})
    assert "is not the code of a government organ" in rejected(
        intake, {"op": "authority", "id": FIRM2, "name": "x", "authority_type": "tax"}
    )
    assert "authority_type: 'police' is not one of" in rejected(
        intake, {"op": "authority", "id": COURT, "name": "x", "authority_type": "police"}
    )


def test_unknown_subject_without_name(intake: Intake) -> None:
    assert "register it first or give subject_name" in rejected(
        intake, issue(subject=FIRM2, subject_name=None)
    )


def test_court_revokes_another_authoritys_record(intake: Intake) -> None:
    rid = intake.submit(issue()).ref
    line = {
        "op": "revoke",
        "authority": COURT,
        "target_authority": TAX,
        "subject": FIRM,
        "category": "TAX-PENALTY-GENERAL",
        "target_document_number": "深税稽罚〔2024〕87号",
        "document_number": "(2024)粤0305行初12号",
        "effective_date": "2024-08-01",
        "reason": "penalty annulled in administrative litigation",
    }
    assert intake.submit(line).outcome is Outcome.ACCEPTED
    assert intake.store.get_row("records", rid).status == "revoked"
    # a non-court authority cannot do the same
    other = {**line, "authority": MARKET, "document_number": "x", "op": "revoke"}
    intake.submit(issue(document_number="深税稽罚〔2024〕88号"))
    other["target_document_number"] = "深税稽罚〔2024〕88号"
    assert "only the issuer may revoke it (or a court revoke it)" in rejected(intake, other)


# --- the legal representative a decision names, and records resting on automated data ------

ENV_POINT = {"category": "ENV-EXCEEDANCE-AUTOMATED", "decision_type": "administrative_decision",
             "document_number": "HJ212-EP-0001", "title": "SO2 above 35 mg/m3 for 5 hours",
             "amount_cny": None}  # fmt: skip


def test_a_representative_is_kept_only_as_a_keyed_id(intake: Intake) -> None:
    result = intake.submit(debtor(legal_representative=PERSON_ID))
    assert result.outcome is Outcome.ACCEPTED
    record = intake.store.get_row("records", result.ref)
    assert record.legal_representative == KEYER.person_id(PERSON_ID)
    (entry,) = intake.store.entries_at([record.issued_seq])
    assert PERSON_ID not in entry.payload.decode()


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (debtor(legal_representative=FIRM2), "legal_representative: resident ID number 911101"),
        (debtor(legal_representative=wrong_check(PERSON_ID)), "legal_representative: resident"),
        (debtor(subject=PERSON_ID, legal_representative=PERSON_ID),
         "only a record about an organisation names one"),
        (issue(basis="hearsay"), "basis: 'hearsay' is not one of decision, automated"),
        (issue(basis="automated"), "is not one that automated data may ground"),
    ],
)  # fmt: skip
def test_representative_and_basis_rejects(
    intake: Intake, line: dict[str, Any], reason: str
) -> None:
    assert reason in rejected(intake, line)


@pytest.fixture
def monitoring(intake: Intake) -> tuple[Intake, str]:
    from builders import uscc

    monitor = uscc("11", "440305", "00000046")
    line = {"op": "authority", "id": monitor, "name": "深圳市生态环境监测站",
            "authority_type": "monitoring"}  # fmt: skip
    assert intake.submit(line).outcome is Outcome.ACCEPTED
    return intake, monitor


def test_an_automated_record_waits_for_confirmation(monitoring: tuple[Intake, str]) -> None:
    intake, monitor = monitoring
    result = intake.submit(issue(authority=monitor, **ENV_POINT))
    assert result.outcome is Outcome.ACCEPTED
    assert intake.store.get_row("records", result.ref).confirmation == "pending"
    confirm = {"op": "confirm", "authority": monitor, "record": result.ref,
               "document_number": "REVIEW-1", "effective_date": "2024-03-06",
               "reason": "reviewed by 王敏: readings valid, limit applies"}  # fmt: skip
    # only the issuer confirms
    assert "only the issuer may confirm it" in rejected(intake, {**confirm, "authority": TAX})
    assert intake.submit(confirm).outcome is Outcome.ACCEPTED
    assert intake.store.get_row("records", result.ref).confirmation == "confirmed"
    # once only, and a decision-based record never awaits confirmation
    again = {**confirm, "document_number": "REVIEW-2"}
    assert "does not await confirmation" in rejected(intake, again)
    plain = intake.submit(issue())
    assert "does not await confirmation" in rejected(
        intake, {**again, "authority": TAX, "record": plain.ref}
    )
    assert verify(intake.store).ok


def test_an_automated_category_cannot_claim_a_decision(monitoring: tuple[Intake, str]) -> None:
    intake, monitor = monitoring
    line = issue(authority=monitor, basis="decision", **ENV_POINT)
    assert "rests on automated data, not a decision" in rejected(intake, line)
