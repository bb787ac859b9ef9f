"""One decision is one record however its document number was typed; text that is not text
a person wrote (controls, bidi overrides, mojibake) is refused by name; bounds on lists and
on an entry's size (intake.validate.natural_key and the text checks)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from builders import FIRM, TAX, authorities, issue

from trustledger.catalogue import national_catalogue
from trustledger.ids import PersonKeyer
from trustledger.intake import Intake, Outcome
from trustledger.intake.validate import (
    MAX_ENTRY_BYTES,
    Reject,
    Validator,
    _record_id,
    natural_key,
)
from trustledger.ledger.store import Store, open_store
from trustledger.ledger.verify import verify

TODAY = date(2026, 11, 26)
KEYER = PersonKeyer(bytes(range(32)))
DOC = "深税稽罚〔2024〕87号"


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    s = open_store(db_url)
    s.init(KEYER.fingerprint())
    yield s
    s.close()


@pytest.fixture
def intake(store: Store) -> Intake:
    it = Intake(store, national_catalogue(), KEYER, today=TODAY)
    for line in authorities():
        assert it.submit(line).outcome is Outcome.ACCEPTED
    return it


def records(intake: Intake) -> list[Any]:
    return list(intake.store.iter_rows("records"))


# the red team's variants, and more: each names the same decision as DOC
SAME_DECISION = [
    "深税稽罚〔2024〕87号 ",
    "深税稽罚\u200b〔2024〕87号",  # zero-width space
    "深税稽罚\u00a0〔2024〕87号",  # NBSP
    "深税稽罚〔２０２４〕８７号",  # full-width digits
    "深税稽罚[2024]87号",
    "深税稽罚［2024］87号",  # full-width square brackets
    "深税稽罚【2024】87号",
    "深税稽罚﹝2024﹞87号",  # small tortoise-shell brackets
    "深税稽罚〔2024〕 87号",
    "深税稽罚\u3000〔2024〕87号",  # ideographic space
    "深税稽罚\u00ad〔2024〕87号",  # soft hyphen
    "\ufeff深税稽罚〔2024〕87号",  # byte order mark
    "深税稽罚\u200d〔2024〕87号",  # zero-width joiner
]


@pytest.mark.parametrize("variant", SAME_DECISION)
def test_a_variant_of_the_document_number_is_a_duplicate(intake: Intake, variant: str) -> None:
    assert natural_key(variant) == natural_key(DOC)
    assert intake.submit(issue()).outcome is Outcome.ACCEPTED
    size = intake.store.size()
    again = intake.submit(issue(document_number=variant))
    assert again.outcome is Outcome.DUPLICATE, again
    assert intake.store.size() == size and len(records(intake)) == 1


def test_the_document_number_is_stored_as_given(intake: Intake) -> None:
    assert intake.submit(issue(document_number="深税稽罚[2024]87号")).outcome is Outcome.ACCEPTED
    (row,) = records(intake)
    assert row[6] == "深税稽罚[2024]87号"  # records.document_number
    assert intake.submit(issue()).outcome is Outcome.DUPLICATE


def test_a_different_decision_stays_different(intake: Intake) -> None:
    assert intake.submit(issue()).outcome is Outcome.ACCEPTED
    for other in ("深税稽罚〔2024〕88号", "深税稽罚〔2023〕87号", "深税稽处〔2024〕87号"):
        assert intake.submit(issue(document_number=other)).outcome is Outcome.ACCEPTED
    assert len(records(intake)) == 4


def test_a_record_keyed_by_an_earlier_release_is_still_found(intake: Intake) -> None:
    """An earlier release keyed a record by its document number exactly as written: the
    same line again (a file rerun) is a duplicate, and a change naming the record by that
    document number reaches it."""
    written = "深税稽罚[2024]87号"
    old_id = _record_id(TAX, written, FIRM, "TAX-PENALTY-GENERAL")
    line = issue(document_number=written)
    sub = Validator(national_catalogue(), KEYER, TODAY).check(line)
    assert not isinstance(sub, Reject)
    with intake.store.writer() as w:  # the entries as that release wrote them
        w.append("subject.registered", {
            "id": FIRM, "kind": "enterprise", "name": line["subject_name"], "division": "440305",
            "former_names": [], "aliases": [], "address": None, "established": None,
        })  # fmt: skip
        w.append("record.issued", {**sub.payload, "record_id": old_id})
    size = intake.store.size()
    assert intake.submit(line).outcome is Outcome.DUPLICATE
    assert intake.store.size() == size
    change = {
        "op": "correct", "authority": TAX, "subject": FIRM, "category": "TAX-PENALTY-GENERAL",
        "target_document_number": written, "document_number": "深税稽更〔2024〕1号",
        "effective_date": "2024-04-01", "reason": "amount wrongly stated",
        "changes": {"amount_cny": "10000"},
    }  # fmt: skip
    done = intake.submit(change)
    assert done.outcome is Outcome.ACCEPTED, done
    assert intake.store.get_row("records", old_id).amount_cny == "10000.00"
    assert intake.submit(change).outcome is Outcome.DUPLICATE
    assert verify(intake.store).ok


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("title", "未按规定\x00期限申报", "control character U+0000 at position 5"),
        ("title", "未按规定\x1b[31m期限", "control character U+001B"),
        ("document_number", "深税稽罚〔2024〕\u202e87号", "bidirectional control U+202E"),
        ("subject_name", "深圳市\ufffd科技有限公司", "U+FFFD at position 4"),
        (
            "subject_name",
            "深圳市华韵科技有限公司".encode().decode("latin-1"),
            "looks mis-decoded (UTF-8 read as another encoding); "
            "it would read '深圳市华韵科技有限公司'",
        ),
        (
            "title",
            "未按规定期限申报纳税".encode().decode("cp1252", errors="ignore"),
            "looks mis-decoded",
        ),
    ],
)
def test_text_that_is_not_text_is_refused_by_name(
    intake: Intake, field: str, value: str, message: str
) -> None:
    size = intake.store.size()
    result = intake.submit(issue(**{field: value}))
    assert result.outcome is Outcome.REJECTED and message in (result.reason or ""), result
    assert intake.store.size() == size


def test_latin_text_with_accents_is_not_mojibake(intake: Intake) -> None:
    result = intake.submit(issue(subject_name="Café Müller (Shenzhen) Co., Ltd. — naïve résumé"))
    assert result.outcome is Outcome.ACCEPTED, result


def test_lists_and_entries_are_bounded(intake: Intake) -> None:
    subject = {"op": "subject", "subject": FIRM, "name": "深圳市华韵科技有限公司"}
    many = intake.submit({**subject, "aliases": [f"别名{i}" for i in range(200_000)]})
    assert many.outcome is Outcome.REJECTED and "200,000 names, at most 100" in (many.reason or "")
    big = intake.submit({**subject, "aliases": ["长" * 300] * 100})
    assert big.outcome is Outcome.REJECTED
    assert f"at most {MAX_ENTRY_BYTES:,}" in (big.reason or "")


def test_a_name_that_differs_only_invisibly_is_the_same_registration(intake: Intake) -> None:
    subject = {"op": "subject", "subject": FIRM, "name": "深圳市华韵科技有限公司"}
    assert intake.submit(subject).outcome is Outcome.ACCEPTED
    again = intake.submit({**subject, "name": "深圳市华韵\u200b科技有限公司"})
    assert again.outcome is Outcome.DUPLICATE
