"""Minors are not listed (SPC Fashi [2013] No. 17 as revised by Fashi [2017] No. 7, art. 4):
a dishonest-debtor record about a person under 18 on the decision date is refused at
intake, naming the rule and never the number; on the 18th birthday it is accepted; an
organisation is not concerned."""

from __future__ import annotations

from datetime import date

from builders import FIRM, MARKET, authorities, debtor, resident_id

from trustledger.catalogue import national_catalogue
from trustledger.ids import PersonKeyer, age_on, birth_date
from trustledger.intake import Intake
from trustledger.ledger.store import Store, open_store

KEYER = PersonKeyer(bytes(range(32)))
TODAY = date(2026, 11, 26)


def _intake(db_url: str) -> tuple[Store, Intake]:
    store = open_store(db_url)
    store.init(KEYER.fingerprint())
    intake = Intake(store, national_catalogue(), KEYER, today=TODAY)
    assert all(r.outcome == "accepted" for r in intake.submit_many(authorities()))
    return store, intake


def test_age_from_the_number() -> None:
    assert birth_date(resident_id(birth="20080610")) == date(2008, 6, 10)
    assert birth_date("110101800101123") == date(1980, 1, 1)  # 15 digits: 19xx
    assert age_on(date(2008, 6, 10), date(2026, 6, 9)) == 17
    assert age_on(date(2008, 6, 10), date(2026, 6, 10)) == 18
    assert age_on(date(2008, 2, 29), date(2026, 2, 28)) == 17  # reached on 1 March
    assert age_on(date(2008, 2, 29), date(2026, 3, 1)) == 18


def test_a_minor_is_not_listed_and_nothing_is_stored(db_url: str) -> None:
    store, intake = _intake(db_url)
    minor = resident_id(birth="20080610")
    size = store.size()
    line = debtor(subject=minor, subject_name=None, decision_date="2026-06-09",
                  publication_date="2026-06-10")  # fmt: skip
    result = intake.submit(line)
    assert result.outcome == "rejected"
    assert "under 18 on the decision date" in result.reason and "art. 4" in result.reason
    assert minor not in result.reason and "2008" not in result.reason
    assert store.size() == size
    # decided on the 18th birthday: an adult
    adult = debtor(subject=minor, subject_name=None, document_number="(2026)粤0305执7号",
                   decision_date="2026-06-10", publication_date="2026-06-11")  # fmt: skip
    assert intake.submit(adult).outcome == "accepted"


def test_only_the_categories_kept_for_adults_and_only_persons(db_url: str) -> None:
    _, intake = _intake(db_url)
    young = resident_id(birth="20100101", seq="456")
    # an administrative penalty on a 16-year-old is not a dishonest-debtor listing
    penalty = {"op": "issue", "authority": MARKET, "category": "ADM-PENALTY-GENERAL",
               "subject": young, "document_number": "行罚〔2026〕1号",
               "decision_type": "administrative_penalty", "decision_date": "2026-05-01",
               "publication_date": "2026-05-02"}  # fmt: skip
    outcome = intake.submit(penalty)
    assert outcome.outcome == "accepted", outcome.reason
    assert intake.submit(debtor(subject=FIRM)).outcome == "accepted"
    catalogue = national_catalogue()
    kept = sorted(c.code for c in catalogue.categories if c.adults_only)
    assert kept == [f"JUD-DEBTOR-G{n}" for n in range(1, 7)]
