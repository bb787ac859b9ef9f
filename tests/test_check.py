"""Checks from the in-memory index: deny with reasons, allow after an end, incentives, and
"unknown" (never a silent allow) for what cannot be answered. On SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from builders import (
    COURT,
    FIRM,
    FIRM2,
    authorities,
    debtor,
    issue,
    monitoring_authority,
    rated_high,
    resident_id,
    uscc,
)
from typer.testing import CliRunner

from trustledger.catalogue import national_catalogue
from trustledger.cli import app as cli_app
from trustledger.evaluate.state import evaluate_all, refresh_subjects
from trustledger.ids import PersonKeyer
from trustledger.intake import Intake
from trustledger.ledger.store import Store, open_store
from trustledger.ledger.tabledigest import facts_size
from trustledger.rulebook.publish import publish_rulebook
from trustledger.sanctions.check import (
    INCENTIVES_WITHHELD,
    UNEVALUATED,
    UNKNOWN_ACTION,
    UNKNOWN_SUBJECT,
    CheckIndex,
)

KEYER = PersonKeyer(bytes(range(32)))
ON = date(2026, 11, 26)
RULEBOOKS = sorted(
    (Path(__file__).parent.parent / "trustledger" / "rulebooks_shipped").glob("*.yaml")
)
FIRM3 = uscc("91", "440305", "MA5DA0C3")
STRANGER = uscc("91", "440305", "MA5DA0D4")
END = {"op": "end", "authority": COURT, "subject": FIRM, "category": "JUD-DEBTOR-G1",
       "target_document_number": "(2024)粤0305执1234号", "document_number": "执结1号",
       "effective_date": "2024-09-01", "reason": "performed"}  # fmt: skip


@pytest.fixture
def evaluated(db_url: str) -> Store:
    store = open_store(db_url)
    store.init(KEYER.fingerprint())
    intake = Intake(store, national_catalogue(), KEYER, today=ON)
    lines = [*authorities(), debtor(), issue(), debtor(subject=FIRM2, subject_name="北京某某",
             document_number="(2025)粤0305执9号", decision_date="2025-05-01",
             publication_date="2025-05-02")]  # fmt: skip
    assert all(r.outcome == "accepted" for r in intake.submit_many(lines))
    for path in RULEBOOKS:
        publish_rulebook(store, path, national_catalogue())
    evaluate_all(store, national_catalogue(), at_us=None, on=ON)
    return store


def test_a_listed_debtor_is_denied_with_reasons(evaluated: Store) -> None:
    index = CheckIndex.load(evaluated)
    decision = index.check(FIRM, "air_travel", ON)
    assert decision.status == "deny" and not decision.allowed
    # the facts of the ledger (its commit of the state written is not one)
    assert decision.ledger_size == facts_size(evaluated)
    (reason,) = decision.reasons
    assert reason["measure"] == "no-air-travel"
    assert reason["kind"] == "restriction"
    assert reason["list"] == "dishonest-judgment-debtors"
    assert reason["rulebook"].startswith("cn-spc-dishonest-debtors@")
    assert reason["agency"] == "中国民用航空局"
    # when the listing ends by itself: never, a ground-1 listing has no fixed term (SPC
    # Fashi [2013] No. 17 as revised, art. 2: terms only for grounds 2-6; regimes.md §8); it
    # lasts until the court's deletion entry
    assert reason["end"] is None
    (record_id,) = reason["records"]
    assert evaluated.get_row("records", record_id).document_number == "(2024)粤0305执1234号"
    # the other high-consumption actions of the same list, and the same answer in bulk
    assert {d.status for d in index.check_many([(FIRM, "star_hotel"), (FIRM2, "rail_first_class")],
                                               ON)} == {"deny"}  # fmt: skip
    assert json.loads(json.dumps(decision.to_json()))["reasons"][0]["records"] == [record_id]


def test_deny_only_from_the_start_until_the_end(evaluated: Store) -> None:
    index = CheckIndex.load(evaluated)
    (reason,) = index.check(FIRM, "air_travel", ON).reasons
    # ground 1 has no fixed term: denied from the start for as long as no entry ends it
    start = date.fromisoformat(reason["start"])
    assert reason["end"] is None
    assert index.check(FIRM, "air_travel", date(2999, 12, 31)).status == "deny"
    assert index.check(FIRM, "air_travel", start).status == "deny"
    assert index.check(FIRM, "air_travel", date.fromordinal(start.toordinal() - 1)).status == (
        "allow"
    )


def test_after_the_courts_end_a_reloaded_index_allows(evaluated: Store) -> None:
    before = CheckIndex.load(evaluated)
    (result,) = Intake(evaluated, national_catalogue(), KEYER, today=ON).submit_many([END])
    assert result.subject == FIRM
    assert refresh_subjects(evaluated, national_catalogue(), [FIRM], on=ON) == 1
    after = CheckIndex.load(evaluated)
    assert before.check(FIRM, "air_travel", ON).status == "deny"  # a loaded index is a snapshot
    decision = after.check(FIRM, "air_travel", ON)
    assert (decision.status, decision.reasons) == ("allow", ())
    assert decision.ledger_size == facts_size(evaluated) > before.ledger_size
    assert after.check(FIRM2, "air_travel", ON).status == "deny"


def test_a_green_listed_enterprise_gets_its_incentives(evaluated: Store) -> None:
    # FIRM3 has an emissions compliance rate of at least 90 %, no adverse environmental
    # record and is on no black list: green under the environmental rulebook, which
    # rewards the green list with fewer inspections and a green channel
    intake = Intake(evaluated, national_catalogue(), KEYER, today=ON)
    intake.submit(
        issue(
            subject=FIRM3, subject_name="深圳市新来有限公司", document_number="深税稽罚〔2026〕1号"
        )
    )
    lines = [monitoring_authority(), rated_high(FIRM3, ON), rated_high(FIRM2, ON)]
    assert [r.outcome for r in intake.submit_many(lines)] == ["accepted"] * 3
    refresh_subjects(evaluated, national_catalogue(), [FIRM3, FIRM2], on=ON)
    index = CheckIndex.load(evaluated)
    for action in ("green_channel", "reduced_inspection"):
        decision = index.check(FIRM3, action, ON)
        assert decision.status == "allow_with_incentives" and decision.allowed
        measures = {(r["measure"], r["list"], r["kind"]) for r in decision.reasons}
        assert ("green-fewer-inspections", "environmental-green", "incentive") in measures
        assert all(r["rulebook"].startswith("cn-environmental-credit@") for r in decision.reasons)
        # FIRM2 is green too, but a judgment debtor: no incentive reaches a black-listed firm
        withheld = index.check(FIRM2, action, ON)
        assert withheld.status == "allow" and withheld.allowed
        assert withheld.why is not None and "dishonest-judgment-debtors" in withheld.why
    assert index.check(FIRM3, "public_procurement", ON).status == "allow"


def test_without_a_rate_an_enterprise_is_unrated_and_rewarded_with_nothing(
    evaluated: Store,
) -> None:
    # no monitoring data and no environmental record: not graded, so not green
    Intake(evaluated, national_catalogue(), KEYER, today=ON).submit(
        issue(
            subject=FIRM3, subject_name="深圳市新来有限公司", document_number="深税稽罚〔2026〕1号"
        )
    )
    refresh_subjects(evaluated, national_catalogue(), [FIRM3], on=ON)
    decision = CheckIndex.load(evaluated).check(FIRM3, "green_channel", ON)
    assert (decision.status, decision.reasons) == ("allow", ())


def test_what_cannot_be_answered_is_unknown(evaluated: Store) -> None:
    Intake(evaluated, national_catalogue(), KEYER, today=ON).submit(
        issue(
            subject=FIRM3, subject_name="深圳市新来有限公司", document_number="深税稽罚〔2026〕1号"
        )
    )
    index = CheckIndex.load(evaluated)
    cases = {
        (STRANGER, "air_travel"): UNKNOWN_SUBJECT,
        (FIRM, "teleportation"): UNKNOWN_ACTION,
        (FIRM2, "teleportation"): UNKNOWN_ACTION,
        (FIRM3, "air_travel"): UNEVALUATED,  # in the ledger, but appended after evaluation
    }
    for (subject, action), why in cases.items():
        decision = index.check(subject, action, ON)
        assert (decision.status, decision.why, decision.allowed) == ("unknown", why, False)
    decisions = index.check_many(list(cases), ON)
    assert [d.why for d in decisions] == list(cases.values())


def test_measures_are_judged_by_their_dates_and_restrictions_win() -> None:
    profiles = [("rb@1", "S1", None, None, "[]", "2025-01-01", 7)]
    lists = [("rb@1", "black", "S1", "black", "2025-01-01", "2025-02-01", '["R1"]'),
             ("rb@1", "red", "S1", "red", "2025-01-01", None, '["R2"]')]  # fmt: skip
    measures = [
        ("rb@1", "m-deny", "S1", "restriction", "black", '["air_travel"]', "2025-01-01",
         "2025-02-01", "agency", "{}"),
        ("rb@1", "m-reward", "S1", "incentive", "red", '["air_travel", "green_channel"]',
         "2025-01-01", None, "agency", "{}"),
        ("rb@1", "m-odd", "S1", "restriction", "black", '["not_catalogued"]', "2025-01-01",
         None, "agency", "{}"),
    ]  # fmt: skip
    index = CheckIndex(subjects=["S1", "S2"], profiles=profiles, lists=lists, measures=measures)
    assert index.check("S1", "air_travel", date(2025, 1, 31)).status == "deny"
    assert index.check("S1", "air_travel", date(2025, 1, 1)).reasons[0]["records"] == ("R1",)
    assert index.check("S1", "air_travel", date(2025, 2, 1)).status == "allow_with_incentives"
    # while on the black list, the red list's incentive is withheld even where no
    # restriction bars the action
    withheld = index.check("S1", "green_channel", date(2025, 1, 15))
    assert withheld.status == "allow" and withheld.why is not None
    assert withheld.why.startswith(INCENTIVES_WITHHELD) and "black (rb@1)" in withheld.why
    assert index.check("S1", "air_travel", date(2024, 12, 31)).status == "allow"
    assert index.check("S1", "not_catalogued", date(2025, 3, 1)).why == UNKNOWN_ACTION
    assert index.check("S2", "air_travel").why == UNEVALUATED
    assert index.ledger_size == 7


def _run(args: list[str]) -> tuple[int, str]:
    result = CliRunner().invoke(cli_app, ["check", *args])
    return result.exit_code, result.stdout


def test_cli_exit_codes(evaluated: Store, db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRUSTLEDGER_PERSON_KEY", bytes(range(32)).hex())
    db = ["--db", db_url, "--on", ON.isoformat()]
    code, text = _run([FIRM, "air_travel", *db])
    assert code == 3 and "DENY" in text and "no-air-travel" in text
    assert "dishonest-judgment-debtors" in text and "cn-spc-dishonest-debtors@" in text
    intake = Intake(evaluated, national_catalogue(), KEYER, today=ON)
    rated = intake.submit_many([monitoring_authority(), rated_high(FIRM2, ON)])
    assert {r.outcome for r in rated} == {"accepted"}
    refresh_subjects(evaluated, national_catalogue(), [FIRM2], on=ON)
    code, text = _run([FIRM2, "green_channel", *db, "--json"])
    # green, but a judgment debtor: allowed, its incentive withheld
    answer = json.loads(text)
    assert code == 0 and answer["status"] == "allow"
    assert answer["why"].startswith(INCENTIVES_WITHHELD)
    assert _run([FIRM2, "public_procurement", *db])[0] == 0
    assert _run([FIRM, "teleportation", *db])[0] == 4
    assert _run([STRANGER, "air_travel", *db])[0] == 4
    person = resident_id()
    code, text = _run([person, "air_travel", *db, "--json"])
    assert code == 4 and json.loads(text)["why"] == UNKNOWN_SUBJECT
    assert person not in text and json.loads(text)["subject"] == KEYER.person_id(person)
    assert _run(["not-an-id", "air_travel", *db])[0] == 2


# --- a debtor organisation's legal representative (SPC provisions art. 3 para. 2) ---------

REPRESENTATIVE = resident_id(seq="555")
REP = KEYER.person_id(REPRESENTATIVE)


@pytest.fixture
def represented(db_url: str) -> Store:
    store = open_store(db_url)
    store.init(KEYER.fingerprint())
    intake = Intake(store, national_catalogue(), KEYER, today=ON)
    lines = [*authorities(), debtor(legal_representative=REPRESENTATIVE)]
    assert all(r.outcome == "accepted" for r in intake.submit_many(lines))
    for path in RULEBOOKS:
        publish_rulebook(store, path, national_catalogue())
    evaluate_all(store, national_catalogue(), at_us=None, on=ON)
    return store


def test_the_legal_representative_of_a_debtor_is_restricted_not_listed(
    represented: Store,
) -> None:
    index = CheckIndex.load(represented)
    decision = index.check(REP, "air_travel", ON)
    assert decision.status == "deny"
    (reason,) = decision.reasons
    assert reason["via"] == {"subject": FIRM, "role": "legal_representative"}
    assert reason["measure"] == "no-air-travel" and reason["list"] == "dishonest-judgment-debtors"
    assert index.check(REP, "star_hotel", ON).status == "deny"
    # only what a measure extends: for anything else the person (never a subject of a
    # record) has no standing of its own that could be allowed
    assert index.check(REP, "public_procurement", ON).status == "unknown"
    # the person is not on the list itself (Fafa [2019] No. 35)
    members = represented.state_rows("state_lists", REP)
    assert members == []


def test_the_restriction_on_the_representative_follows_the_organisation(
    represented: Store,
) -> None:
    index = CheckIndex.load(represented)
    intake = Intake(represented, national_catalogue(), KEYER, today=ON)
    (result,) = intake.submit_many([END])
    assert result.outcome == "accepted"
    refresh_subjects(represented, national_catalogue(), [FIRM], on=ON)
    index.replace_subjects(
        [FIRM],
        represented.state_rows("state_profiles", FIRM),
        represented.state_rows("state_lists", FIRM),
        represented.state_rows("state_measures", FIRM),
    )
    assert index.check(FIRM, "air_travel", ON).status == "allow"
    assert index.check(REP, "air_travel", ON).status == "unknown"
    assert CheckIndex.load(represented).check(REP, "air_travel", ON).status == "unknown"


def test_extended_and_own_measures_are_replaced_independently() -> None:
    profiles = [("rb@1", "ORG", None, None, '["black"]', "2025-01-01", 5),
                ("rb@1", "P1", None, None, "[]", "2025-01-01", 5)]  # fmt: skip
    lists = [("rb@1", "black", "ORG", "black", "2025-01-01", None, '["R1"]')]
    extended = ("rb@1", "m", "ORG", "restriction", "black", '["air_travel"]', "2025-01-01",
                None, "court", '{"legal_representative": ["P1"]}')  # fmt: skip
    index = CheckIndex(subjects=["ORG", "P1"], profiles=profiles, lists=lists,
                       measures=[extended])  # fmt: skip
    day = date(2025, 6, 1)
    assert index.check("P1", "air_travel", day).status == "deny"
    assert index.check("P1", "star_hotel", day).status == "allow"  # evaluated, not extended
    # the person's own state changes: the organisation's reach stays
    index.replace_subjects(["P1"], [profiles[1]], [], [])
    assert index.check("P1", "air_travel", day).status == "deny"
    # the organisation leaves the list: the person is free again
    index.replace_subjects(["ORG"], [profiles[0]], [], [])
    assert index.check("P1", "air_travel", day).status == "allow"
    assert index.check("ORG", "air_travel", day).status == "allow"


def test_a_subject_replaced_with_fewer_measures_is_restricted_on_fewer_actions() -> None:
    """The index keeps, per subject, the actions its measures reach: taking a measure away
    (a patch after re-evaluation) must narrow them, for the subject and for a person an
    organisation's measure reached, and an answer remembered from before is not reused."""
    profiles = [("rb@1", "ORG", None, None, '["black"]', "2025-01-01", 5),
                ("rb@1", "P1", None, None, "[]", "2025-01-01", 5)]  # fmt: skip
    lists = [("rb@1", "black", "ORG", "black", "2025-01-01", None, '["R1"]')]
    wide = ("rb@1", "m-wide", "ORG", "restriction", "black", '["air_travel", "star_hotel"]',
            "2025-01-01", None, "court", '{"legal_representative": ["P1"]}')  # fmt: skip
    narrow = ("rb@1", "m-narrow", "ORG", "restriction", "black", '["air_travel"]',
              "2025-01-01", None, "court", '{"legal_representative": ["P1"]}')  # fmt: skip
    index = CheckIndex(subjects=["ORG", "P1"], profiles=profiles, lists=lists,
                       measures=[wide, narrow])  # fmt: skip
    day = date(2025, 6, 1)
    for subject in ("ORG", "P1"):
        assert index.check(subject, "star_hotel", day).status == "deny"
        assert len(index.check(subject, "air_travel", day).reasons) == 2
    index.replace_subjects(["ORG"], [profiles[0]], lists, [narrow])
    for subject in ("ORG", "P1"):
        assert index.check(subject, "star_hotel", day).status == "allow"
        (reason,) = index.check(subject, "air_travel", day).reasons
        assert reason["measure"] == "m-narrow"
    assert index.check("P1", "air_travel", day).reasons[0]["via"] == {
        "subject": "ORG", "role": "legal_representative"}  # fmt: skip


def test_incentives_never_reach_a_representative() -> None:
    profiles = [("rb@1", "ORG", None, None, '["red"]', "2025-01-01", 5)]
    lists = [("rb@1", "red", "ORG", "red", "2025-01-01", None, '["R1"]')]
    reward = ("rb@1", "m", "ORG", "incentive", "red", '["green_channel"]', "2025-01-01",
              None, "agency", '{"legal_representative": ["P1"]}')  # fmt: skip
    index = CheckIndex(subjects=["ORG"], profiles=profiles, lists=lists, measures=[reward])
    assert index.check("P1", "green_channel", date(2025, 6, 1)).status == "unknown"


def test_a_subject_evaluated_before_its_latest_entry_is_unknown(evaluated: Store) -> None:
    """No current evaluation (principle 7): an entry about the subject that evaluation has
    not seen makes its state unreliable until it is re-evaluated."""
    from trustledger.sanctions.check import BEHIND

    intake = Intake(evaluated, national_catalogue(), KEYER, today=ON)
    (result,) = intake.submit_many([END])  # the court ends FIRM's record; nobody re-evaluates
    assert result.outcome == "accepted"
    index = CheckIndex.load(evaluated)
    behind = index.check(FIRM, "air_travel", ON)
    assert (behind.status, behind.why) == ("unknown", BEHIND)
    assert index.check(FIRM, "star_hotel", ON).why == BEHIND  # no measure there: still unknown
    assert index.check(FIRM2, "air_travel", ON).status == "deny"  # others are current
    refresh_subjects(evaluated, national_catalogue(), [FIRM], on=ON)
    assert CheckIndex.load(evaluated).check(FIRM, "air_travel", ON).status == "allow"


def test_the_cli_names_the_organisation_behind_a_representatives_restriction(
    represented: Store, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRUSTLEDGER_PERSON_KEY", bytes(range(32)).hex())
    code, text = _run([REPRESENTATIVE, "air_travel", "--db", db_url, "--on", ON.isoformat()])
    assert code == 3 and f"as legal representative of {FIRM}" in text
    assert REPRESENTATIVE not in text  # the number is hashed on arrival, never printed
