"""The SPC list, complete (issue 12 item 3): removal triggers as rulebook data and the
3 working days to delete (Fashi [2013] No. 17 as revised by Fashi [2017] No. 7, art. 10);
no ground-1 listing where adequate security was provided (art. 3); the restricted persons
of a debtor organisation (high-consumption provisions art. 3 para. 2); the exception for
spending with personal funds granted on application (art. 3)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any, get_args

import pytest
from builders import COURT, FIRM, PERSON_ID, authorities, debtor, resident_id
from pydantic import ValidationError

from trustledger.catalogue import national_catalogue
from trustledger.domain import EndReason
from trustledger.evaluate.profile import compile_rulebook, evaluate_subject
from trustledger.evaluate.service import subject_profiles
from trustledger.ids import PersonKeyer
from trustledger.intake import Intake
from trustledger.ledger.projection import RecordRow, SubjectRow
from trustledger.ledger.store import Store, open_store
from trustledger.rulebook.lint import lint_rulebook
from trustledger.rulebook.load import load_rulebook, parse_rulebook
from trustledger.rulebook.publish import publish_rulebook
from trustledger.rulebook.schema import EndReasonCode, RemovalTriggers

SHIPPED = Path(__file__).parent.parent / "trustledger" / "rulebooks_shipped"
SPC = SHIPPED / "cn-spc-dishonest-debtors.yaml"
KEYER = PersonKeyer(bytes(range(32)))
TODAY = date(2026, 12, 1)  # a Tuesday
ENTITY = SubjectRow(
    FIRM, "enterprise", "深圳市华韵科技有限公司", "440305", "[]", "[]", None, None, 0, 0
)
DOCUMENT = "(2022)粤0305执77号"


def _intake(db_url: str) -> tuple[Store, Intake]:
    store = open_store(db_url)
    store.init(KEYER.fingerprint())
    intake = Intake(store, national_catalogue(), KEYER, today=TODAY)
    assert all(r.outcome == "accepted" for r in intake.submit_many(authorities()))
    return store, intake


def _g1(**fields: Any) -> RecordRow:
    base = RecordRow(
        "R" + "0" * 23 + "1", FIRM, COURT, "JUD-DEBTOR-G1", "serious", "court_judgment",
        DOCUMENT, "2022-03-04", "2022-03-04", None, None, None, "issued", None, None, 1, 1,
    )  # fmt: skip
    return base._replace(**fields)


def _end(reason: str, effective: str, **fields: Any) -> dict[str, Any]:
    line = {"op": "end", "authority": COURT, "subject": FIRM, "category": "JUD-DEBTOR-G1",
            "target_document_number": DOCUMENT, "document_number": DOCUMENT + "之一",
            "effective_date": effective, "reason": reason}  # fmt: skip
    line.update(fields)
    return line


# ── 1. Removal triggers (art. 10) ──────────────────────────────────────────────────────


def test_the_trigger_reasons_are_the_end_reasons_of_intake() -> None:
    assert set(get_args(EndReasonCode)) == {r.value for r in EndReason}


def test_the_spc_list_names_its_triggers_and_3_working_days() -> None:
    rb = load_rulebook(SPC)
    triggers = rb.lists[0].removal_triggers
    assert triggers is not None
    assert triggers.reasons == ["performed", "settlement", "creditor_request", "case_closed"]
    assert triggers.within == "3 working days" and triggers.working_days == 3
    assert set(triggers.categories) == {f"JUD-DEBTOR-G{n}" for n in range(1, 7)}
    assert any(b.article == "10" for b in triggers.legal_basis)
    assert lint_rulebook(rb, national_catalogue()) == []


def test_working_days_count_monday_to_friday() -> None:
    t = RemovalTriggers(categories=["JUD-DEBTOR-G1"], reasons=["performed"],
                        within="3 working days")  # fmt: skip
    # Friday 6 March 2026 → Mon 9 (1), Tue 10 (2), Wed 11 (3)
    assert date(2026, 3, 6).weekday() == 4
    assert t.delete_by(date(2026, 3, 6)) == date(2026, 3, 11)
    # Wednesday → Thu (1), Fri (2), Mon (3)
    assert t.delete_by(date(2026, 11, 25)) == date(2026, 11, 30)
    # Saturday → Mon, Tue, Wed
    assert t.delete_by(date(2026, 3, 7)) == date(2026, 3, 11)


@pytest.mark.parametrize(
    ("within", "reasons", "message"),
    [
        ("3 days", ["performed"], "is not a number of working days"),
        ("0 working days", ["performed"], "is not a number of working days"),
        ("3 working days", ["paid_up"], "reasons"),
        ("3 working days", ["performed", "performed"], "repeated removal_triggers.reasons"),
    ],
)
def test_malformed_removal_triggers_are_refused(
    within: str, reasons: list[str], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        RemovalTriggers.model_validate(
            {"categories": ["JUD-DEBTOR-G1"], "reasons": reasons, "within": within}
        )


def _spc_with(old: str, new: str) -> str:
    text = SPC.read_text(encoding="utf-8")
    assert old in text
    return text.replace(old, new, 1)


def test_the_lint_checks_the_triggers_categories_and_basis() -> None:
    catalogue = national_catalogue()
    unknown = parse_rulebook(_spc_with("categories: [JUD-DEBTOR-G1,", "categories: [NO-SUCH,"))
    assert any("removal_triggers name unknown category code(s) NO-SUCH" in p.message
               for p in lint_rulebook(unknown, catalogue))  # fmt: skip
    uncounted = parse_rulebook(
        _spc_with("categories: [JUD-DEBTOR-G1,", "categories: [TAX-PENALTY-GENERAL,")
    )
    assert any("TAX-PENALTY-GENERAL, which the list's condition does not count" in p.message
               for p in lint_rulebook(uncounted, catalogue))  # fmt: skip
    text = _spc_with(
        "      within: 3 working days\n      legal_basis:\n"
        "        - instrument: SPC Fashi [2013] No. 17 as revised by Fashi [2017] No. 7\n"
        '          article: "10"\n',
        "      within: 3 working days\n",
    )
    assert any("removal_triggers need the article" in p.message
               for p in lint_rulebook(parse_rulebook(text), catalogue))  # fmt: skip


def test_worked_case_ground_1_listed_after_4_years_removed_on_performance_day() -> None:
    """Decided and published Friday 4 March 2022; the 1-month grace (Fafa [2019] No. 35)
    makes the listing effective 4 April 2022. Never performed: on 5 March 2026 (four years
    and a day) still listed and restricted. Performed in full on Friday 6 March 2026: the
    listing ends that day; the court must delete it within 3 working days — Monday 9 (1),
    Tuesday 10 (2), Wednesday 11 March (3)."""
    cr = compile_rulebook(load_rulebook(SPC), national_catalogue())
    listed = evaluate_subject(cr, ENTITY, [_g1()], date(2026, 3, 5))
    assert [m.list_id for m in listed.lists] == ["dishonest-judgment-debtors"]
    assert listed.lists[0].effective_from == "2022-04-04"
    assert {m.measure_id for m in listed.measures} >= {"no-air-travel", "no-high-consumption"}
    performed = _g1(status="ended", status_date="2026-03-06", status_reason="performed")
    before = evaluate_subject(cr, ENTITY, [performed], date(2026, 3, 5))
    assert [m.list_id for m in before.lists] == ["dishonest-judgment-debtors"]
    assert before.lists[0].until == "2026-03-06"  # the run ends on the trigger's day
    after = evaluate_subject(cr, ENTITY, [performed], date(2026, 3, 6))
    assert after.lists == [] and after.measures == []
    (view,) = after.records
    assert (view.removal_trigger, view.delete_by) == ("performed", "2026-03-11")
    assert any("ended on 2026-03-06 (performed)" in line and "by 2026-03-11" in line
               for line in after.explanation)  # fmt: skip


def test_an_ended_record_no_trigger_governs_shows_no_deadline() -> None:
    cr = compile_rulebook(load_rulebook(SPC), national_catalogue())
    revoked = _g1(status="revoked", status_date="2026-03-06", status_reason="判决撤销")
    (view,) = evaluate_subject(cr, ENTITY, [revoked], date(2026, 3, 9)).records
    assert view.removal_trigger is None and view.delete_by is None


def test_through_the_ledger_the_file_shows_the_trigger_and_the_deadline(db_url: str) -> None:
    store, intake = _intake(db_url)
    publish_rulebook(store, SPC, national_catalogue())
    line = debtor(document_number=DOCUMENT, decision_date="2022-03-04",
                  publication_date="2022-03-04")  # fmt: skip
    assert intake.submit(line).outcome == "accepted"
    assert intake.submit(_end("performed", "2026-03-06")).outcome == "accepted"
    (profile,) = [p for p in subject_profiles(store, national_catalogue(), FIRM, at_us=None,
                                               on=date(2026, 3, 6))
                  if p.rulebook.startswith("cn-spc-dishonest-debtors@")]  # fmt: skip
    assert profile.lists == []
    (view,) = profile.records
    assert view.standing == "ended by its issuer"
    assert (view.removal_trigger, view.delete_by) == ("performed", "2026-03-11")
    assert profile.to_json()["records"][0]["delete_by"] == "2026-03-11"


def test_an_end_for_a_reason_the_rulebook_does_not_list_is_refused(
    db_url: str, tmp_path: Path
) -> None:
    store, intake = _intake(db_url)
    only_performed = tmp_path / "spc-performed-only.yaml"
    only_performed.write_text(
        _spc_with("reasons: [performed, settlement, creditor_request, case_closed]",
                  "reasons: [performed]"),
        encoding="utf-8",
    )  # fmt: skip
    publish_rulebook(store, only_performed, national_catalogue())
    assert intake.submit(debtor(document_number=DOCUMENT)).outcome == "accepted"
    size = store.size()
    result = intake.submit(_end("settlement", "2026-03-06"))
    assert result.outcome == "rejected"
    assert result.reason is not None
    assert result.reason.startswith(
        "reason: 'settlement' is not a removal trigger of category "
        "JUD-DEBTOR-G1 under rulebook cn-spc-dishonest-debtors@"
    )
    assert "its triggers: performed" in result.reason and "art. 10" in result.reason
    assert store.size() == size  # nothing stored
    assert intake.submit(_end("performed", "2026-03-06")).outcome == "accepted"


def test_without_a_rulebook_listing_triggers_any_end_reason_is_taken(db_url: str) -> None:
    _, intake = _intake(db_url)
    assert intake.submit(debtor(document_number=DOCUMENT)).outcome == "accepted"
    assert intake.submit(_end("case_closed", "2026-03-06")).outcome == "accepted"


# ── 2. No ground-1 listing where adequate security was provided (art. 3) ───────────────


def test_a_ground_1_record_with_security_provided_is_refused_and_nothing_stored(
    db_url: str,
) -> None:
    store, intake = _intake(db_url)
    size = store.size()
    for given in (True, "true"):
        result = intake.submit(debtor(security_provided=given))
        assert result.outcome == "rejected"
        assert result.reason == (
            "security_provided: no JUD-DEBTOR-G1 listing where the debtor has provided "
            "adequate security (SPC Fashi [2013] No. 17 as revised by Fashi [2017] No. 7, "
            "art. 3)"
        )
    assert store.size() == size
    assert store.get_row("records", record_id_of(debtor())) is None
    # no security: listed as before
    assert intake.submit(debtor(security_provided=False)).outcome == "accepted"


def test_security_provided_is_a_yes_or_no_about_ground_1_only(db_url: str) -> None:
    _, intake = _intake(db_url)
    wrong = intake.submit(debtor(security_provided="yes"))
    assert wrong.reason == "security_provided: 'yes' is not true or false"
    g2 = intake.submit(debtor(category="JUD-DEBTOR-G2", security_provided=True))
    assert g2.outcome == "rejected" and g2.reason is not None
    assert g2.reason.startswith("security_provided: concerns only a listing the law bars")
    assert "not JUD-DEBTOR-G2" in g2.reason


def record_id_of(line: dict[str, Any]) -> str:
    from trustledger.intake import record_id

    return record_id(line["authority"], line["document_number"], line["subject"],
                     line["category"])  # fmt: skip


# ── 3. The restricted persons of a debtor organisation (art. 3 para. 2) ────────────────

REPRESENTATIVE = resident_id(seq="101")
MANAGER = resident_id(seq="202")
RESPONSIBLE = resident_id(seq="303")
CONTROLLER = resident_id(birth="19750505", seq="404")
PERSONS = [
    {"role": "principal_manager", "id": MANAGER},
    {"role": "directly_responsible", "id": RESPONSIBLE},
    {"role": "actual_controller", "id": CONTROLLER},
]


def test_the_roles_of_intake_are_the_roles_a_rulebook_may_extend_to() -> None:
    from trustledger.intake.validate import RESTRICTED_ROLES
    from trustledger.rulebook.schema import RestrictedRole

    assert get_args(RestrictedRole) == RESTRICTED_ROLES


def test_the_spc_measures_extend_to_all_four_roles() -> None:
    rb = load_rulebook(SPC)
    assert rb.measures
    for measure in rb.measures:
        assert measure.extends_to == [
            "legal_representative", "principal_manager", "directly_responsible",
            "actual_controller",
        ], measure.id  # fmt: skip


def test_a_rulebook_naming_an_unknown_role_is_refused() -> None:
    text = _spc_with("extends_to: &art3_persons\n      [legal_representative,",
                     "extends_to: &art3_persons\n      [shareholder,")  # fmt: skip
    with pytest.raises(ValueError, match="extends_to"):
        parse_rulebook(text)


def test_restricted_persons_are_keyed_hashed_never_stored_in_clear(db_url: str) -> None:
    store, intake = _intake(db_url)
    line = debtor(legal_representative=REPRESENTATIVE, restricted_persons=PERSONS)
    result = intake.submit(line)
    assert result.outcome == "accepted", result.reason
    row = store.get_row("records", result.ref)
    assert row.legal_representative == KEYER.person_id(REPRESENTATIVE)

    assert json.loads(row.restricted_persons) == {
        "actual_controller": [KEYER.person_id(CONTROLLER)],
        "directly_responsible": [KEYER.person_id(RESPONSIBLE)],
        "principal_manager": [KEYER.person_id(MANAGER)],
    }
    for entry in store.iter_entries():
        for number in (REPRESENTATIVE, MANAGER, RESPONSIBLE, CONTROLLER):
            assert number.encode() not in entry.payload, entry.kind


def test_restricted_persons_in_a_csv_cell_as_json(db_url: str) -> None:

    _, intake = _intake(db_url)
    line = debtor(restricted_persons=json.dumps(PERSONS[:1]))
    assert intake.submit(line).outcome == "accepted"


@pytest.mark.parametrize(
    ("persons", "reason"),
    [
        ([{"role": "shareholder", "id": MANAGER}],
         "restricted_persons[0].role: 'shareholder' is not one of legal_representative, "
         "principal_manager, directly_responsible, actual_controller"),
        ([{"role": "principal_manager", "id": FIRM}],
         "restricted_persons[0].id: resident ID number 914403********A14X is invalid"),
        ([{"role": "principal_manager", "id": MANAGER[:-1] + ("1" if MANAGER[-1] != "1" else "2")}],
         "restricted_persons[0].id: resident ID number"),
        ([{"role": "principal_manager"}],
         "restricted_persons[0]: expected an object with exactly role and id"),
        ([{"role": "principal_manager", "id": MANAGER, "name": "张三"}],
         "restricted_persons[0]: expected an object with exactly role and id"),
        ({"role": "principal_manager", "id": MANAGER},
         "restricted_persons: expected a list of {role, id}"),
        ("[not json", "restricted_persons: not a JSON list of {role, id}"),
    ],
)  # fmt: skip
def test_malformed_restricted_persons_are_refused(db_url: str, persons: Any, reason: str) -> None:
    store, intake = _intake(db_url)
    size = store.size()
    result = intake.submit(debtor(restricted_persons=persons))
    assert result.outcome == "rejected"
    assert result.reason is not None and result.reason.startswith(reason), result.reason
    assert MANAGER not in result.reason  # a number is never echoed in the clear
    assert store.size() == size


def test_a_record_about_a_person_names_no_role(db_url: str) -> None:
    _, intake = _intake(db_url)
    line = debtor(subject=PERSON_ID, subject_name=None, restricted_persons=PERSONS[:1])
    result = intake.submit(line)
    assert result.outcome == "rejected"
    assert result.reason == "restricted_persons: only a record about an organisation names them"


def test_evaluation_extends_the_measures_to_every_named_role() -> None:
    cr = compile_rulebook(load_rulebook(SPC), national_catalogue())
    roles = json.dumps(
        {"principal_manager": ["P" + "a" * 32], "actual_controller": ["P" + "b" * 32]}
    )
    record = _g1(legal_representative="P" + "c" * 32, restricted_persons=roles)
    profile = evaluate_subject(cr, ENTITY, [record], date(2026, 3, 5))
    air = next(m for m in profile.measures if m.measure_id == "no-air-travel")
    assert air.extends_to == {
        "legal_representative": ["P" + "c" * 32],
        "principal_manager": ["P" + "a" * 32],
        "actual_controller": ["P" + "b" * 32],
    }
    line = next(t for t in profile.explanation if t.startswith("Restriction no-air-travel"))
    assert "the principal manager the records name (1 person)" in line
    assert "the actual controller the records name (1 person)" in line


def _ctx(db_url: str) -> Any:
    from datetime import UTC, datetime, time
    from zoneinfo import ZoneInfo

    from trustledger.app.context import Clock, Context
    from trustledger.settings import Settings

    noon = datetime.combine(TODAY, time(12), ZoneInfo("Asia/Shanghai")).astimezone(UTC)
    clock = Clock("Asia/Shanghai", fixed_us=int(noon.timestamp() * 1_000_000))
    context = Context.open(Settings(db_url=db_url), must_exist=False, clock=clock, keyer=KEYER)
    context.store.init(KEYER.fingerprint())
    return context


def _live() -> Any:
    from trustledger.app.time import When

    return When(None, TODAY, 0, "Asia/Shanghai")


def test_a_restricted_person_is_denied_naming_the_role_and_the_entity_record(
    db_url: str,
) -> None:
    from trustledger.app.checks import check_subject
    from trustledger.evaluate.state import evaluate_all

    ctx = _ctx(db_url)
    try:
        intake = Intake(ctx.store, national_catalogue(), KEYER, today=TODAY)
        assert all(r.outcome == "accepted" for r in intake.submit_many(authorities()))
        issued = intake.submit(debtor(document_number=DOCUMENT, decision_date="2022-03-04",
                                      publication_date="2022-03-04",
                                      legal_representative=REPRESENTATIVE,
                                      restricted_persons=PERSONS))  # fmt: skip
        assert issued.outcome == "accepted"
        publish_rulebook(ctx.store, SPC, national_catalogue())
        evaluate_all(ctx.store, national_catalogue(), at_us=None, on=TODAY)
        for number, role in [(REPRESENTATIVE, "legal_representative"),
                             (MANAGER, "principal_manager"),
                             (RESPONSIBLE, "directly_responsible"),
                             (CONTROLLER, "actual_controller")]:  # fmt: skip
            answer = check_subject(ctx, number, "air_travel", _live())
            assert answer.decision.status == "deny", role
            (reason,) = answer.decision.reasons
            assert reason["via"] == {"subject": FIRM, "role": role}
            assert reason["records"] == (issued.ref,) or list(reason["records"]) == [issued.ref]
            assert reason["measure"] == "no-air-travel"
            # the same through the whole index a server answers from
            from trustledger.sanctions.check import CheckIndex

            index = CheckIndex.load(ctx.store)
            assert index.check(KEYER.person_id(number), "star_hotel", TODAY).status == "deny"
        # a person the court's records do not name is not reached
        stranger = check_subject(ctx, resident_id(seq="909"), "air_travel", _live())
        assert stranger.decision.status == "unknown"
    finally:
        ctx.close()


# ── 4. The exception for spending with personal funds, granted on application ──────────

GRANT = "(2022)粤0305执77号之二"


def _grant(**fields: Any) -> dict[str, Any]:
    line: dict[str, Any] = {
        "op": "exception", "authority": COURT, "subject": MANAGER, "entity": FIRM,
        "actions": ["air_travel"], "document_number": GRANT, "decision_date": "2026-11-20",
        "valid_from": "2026-11-25", "valid_until": "2026-12-10",
        "title": "就医出行，以个人财产支付",
    }  # fmt: skip
    line.update(fields)
    return {k: v for k, v in line.items() if v is not None}


def _listed_firm(ctx: Any) -> Intake:
    from trustledger.evaluate.state import evaluate_all

    intake = Intake(ctx.store, national_catalogue(), KEYER, today=TODAY)
    lines = [
        *authorities(),
        # the manager is a registered subject too: evaluated, their own standing is known
        {"op": "subject", "subject": MANAGER, "name": "李四"},
        debtor(document_number=DOCUMENT, decision_date="2022-03-04",
               publication_date="2022-03-04", restricted_persons=PERSONS),
        debtor(subject=PERSON_ID, subject_name=None, document_number="(2022)粤0305执88号",
               decision_date="2022-03-04", publication_date="2022-03-04"),
    ]  # fmt: skip
    assert all(r.outcome == "accepted" for r in intake.submit_many(lines))
    publish_rulebook(ctx.store, SPC, national_catalogue())
    evaluate_all(ctx.store, national_catalogue(), at_us=None, on=TODAY)
    return intake


def test_a_granted_exception_allows_the_action_citing_the_grant(db_url: str) -> None:
    from trustledger.app.checks import check_subject
    from trustledger.sanctions.check import CheckIndex

    ctx = _ctx(db_url)
    try:
        intake = _listed_firm(ctx)
        assert check_subject(ctx, MANAGER, "air_travel", _live()).decision.status == "deny"
        granted = intake.submit(_grant())
        assert granted.outcome == "accepted", granted.reason
        answer = check_subject(ctx, MANAGER, "air_travel", _live())
        assert answer.decision.status == "allow"
        (reason,) = answer.decision.reasons
        assert reason["exception"] == granted.ref and reason["document_number"] == GRANT
        assert (reason["valid_from"], reason["valid_until"]) == ("2026-11-25", "2026-12-10")
        assert reason["entity"] == FIRM and reason["authority"] == COURT
        assert answer.decision.why is not None and GRANT in answer.decision.why
        # only the actions granted, only on the days granted (its last day included)
        assert check_subject(ctx, MANAGER, "star_hotel", _live()).decision.status == "deny"
        index = CheckIndex.load(ctx.store)
        manager = KEYER.person_id(MANAGER)
        assert index.check(manager, "air_travel", date(2026, 11, 24)).status == "deny"
        assert index.check(manager, "air_travel", date(2026, 11, 25)).status == "allow"
        assert index.check(manager, "air_travel", date(2026, 12, 10)).status == "allow"
        assert index.check(manager, "air_travel", date(2026, 12, 11)).status == "deny"
        # another person of the firm is not covered by the manager's grant
        assert index.check(KEYER.person_id(CONTROLLER), "air_travel", TODAY).status == "deny"
        # the ledger keeps the keyed id, never the number
        for entry in ctx.store.iter_entries():
            assert MANAGER.encode() not in entry.payload
    finally:
        ctx.close()


def test_a_grant_naming_a_measure_lifts_only_that_measure(db_url: str) -> None:
    from trustledger.sanctions.check import CheckIndex

    ctx = _ctx(db_url)
    try:
        intake = _listed_firm(ctx)
        line = _grant(
            subject=PERSON_ID,
            entity=None,
            measure="no-high-consumption",
            actions=["star_hotel", "air_travel"],
            document_number="(2022)粤0305执88号之一",
        )
        assert intake.submit(line).outcome == "accepted"
        index = CheckIndex.load(ctx.store)
        debtor_id = KEYER.person_id(PERSON_ID)
        hotel = index.check(debtor_id, "star_hotel", TODAY)
        assert hotel.status == "allow" and hotel.reasons[0]["measure"] == "no-high-consumption"
        # air travel is restricted by another measure (no-air-travel): still denied
        air = index.check(debtor_id, "air_travel", TODAY)
        assert air.status == "deny" and [r["measure"] for r in air.reasons] == ["no-air-travel"]
    finally:
        ctx.close()


def test_a_server_follows_a_new_grant(db_url: str) -> None:
    from trustledger.app.checks_service import CheckService

    ctx = _ctx(db_url)
    try:
        intake = _listed_firm(ctx)
        service = CheckService(ctx.settings, ctx.store, reload_interval=0.0)
        manager = KEYER.person_id(MANAGER)
        assert service.current().check(manager, "air_travel", TODAY).status == "deny"
        assert intake.submit(_grant()).outcome == "accepted"
        service.look_now()
        assert service.current().check(manager, "air_travel", TODAY).status == "allow"
        service.close()
    finally:
        ctx.close()


def test_a_grant_to_a_person_never_evaluated_stays_unknown_with_the_grant(db_url: str) -> None:
    from trustledger.app.checks import check_subject

    ctx = _ctx(db_url)
    try:
        intake = _listed_firm(ctx)
        assert intake.submit(_grant(subject=CONTROLLER)).outcome == "accepted"
        answer = check_subject(ctx, CONTROLLER, "air_travel", _live())
        # fail closed: the grant lifts the firm's restriction, the person's own standing
        # is not known
        assert answer.decision.status == "unknown"
        assert answer.decision.reasons[0]["document_number"] == GRANT
    finally:
        ctx.close()


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"authority": None}, "authority: missing"),
        ({"actions": []}, "actions: a grant names the actions it allows"),
        ({"actions": ["fly_to_the_moon"]}, "actions: 'fly_to_the_moon' is not an action"),
        ({"valid_until": "2026-11-24"}, "valid_until: 2026-11-24 is before valid_from"),
        ({"valid_from": "2026-11-19"}, "valid_from: 2026-11-19 is before the decision_date"),
        ({"valid_until": "2026-12-32"}, "valid_until: '2026-12-32' is not a date"),
        ({"valid_until": None}, "valid_until: missing"),
        ({"decision_date": "2026-12-02"}, "decision_date: 2026-12-02 is in the future"),
        ({"measure": "No Air"}, "measure: 'No Air' is not a measure id"),
        ({"entity": PERSON_ID}, "entity: the listed organisation is named by its USCC"),
        ({"subject": FIRM}, "entity: only a grant to a person names the organisation"),
        ({"document_number": None}, "document_number: missing"),
        ({"record": "R" + "0" * 24}, "unknown field record for op exception"),
    ],
)
def test_malformed_grants_are_refused(db_url: str, fields: dict[str, Any], reason: str) -> None:
    store, intake = _intake(db_url)
    size = store.size()
    line = _grant()
    for key, value in fields.items():
        if value is None:
            line.pop(key, None)
        else:
            line[key] = value
    result = intake.submit(line)
    assert result.outcome == "rejected"
    assert result.reason is not None and result.reason.startswith(reason), result.reason
    assert store.size() == size


def test_only_a_court_grants_an_exception_and_once(db_url: str) -> None:
    from builders import TAX

    store, intake = _intake(db_url)
    refused = intake.submit(_grant(authority=TAX))
    assert refused.outcome == "rejected" and refused.reason is not None
    assert "is not a court" in refused.reason and "art. 3" in refused.reason
    assert intake.submit(_grant()).outcome == "accepted"
    size = store.size()
    assert intake.submit(_grant()).outcome == "duplicate"
    assert store.size() == size


def test_a_rejected_line_never_shows_a_restricted_persons_number() -> None:
    from trustledger.intake.bulk import masked_fields

    line = debtor(restricted_persons=[{"role": "shareholder", "id": MANAGER}])
    shown = json.dumps(masked_fields(line), ensure_ascii=False)
    assert MANAGER not in shown and MANAGER[:6] in shown
    grant = masked_fields(_grant())
    assert MANAGER not in json.dumps(grant, ensure_ascii=False)


def test_the_cli_shows_the_grant(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from trustledger.cli import app as cli_app

    monkeypatch.setenv("TRUSTLEDGER_PERSON_KEY", bytes(range(32)).hex())
    ctx = _ctx(db_url)
    try:
        intake = _listed_firm(ctx)
        assert intake.submit(_grant()).outcome == "accepted"
    finally:
        ctx.close()
    args = ["check", MANAGER, "air_travel", "--db", db_url, "--on", TODAY.isoformat()]
    result = CliRunner().invoke(cli_app, args)
    assert result.exit_code == 0, result.stdout
    assert "ALLOW" in result.stdout and "why: exception granted by the court" in result.stdout
    assert f"exception {GRANT} by {COURT}, 2026-11-25 → 2026-12-10" in result.stdout
    assert f"restriction through {FIRM}" in result.stdout
    assert MANAGER not in result.stdout


def test_a_checker_sees_the_grant_but_not_the_persons_court_file() -> None:
    from trustledger.app.access import for_checker
    from trustledger.sanctions.check import EXCEPTION_GRANTED, UNEVALUATED

    grant = {"exception": "X" + "1" * 24, "authority": COURT, "document_number": GRANT,
             "decision_date": "2026-11-20", "valid_from": "2026-11-25",
             "valid_until": "2026-12-10", "entity": FIRM, "measure": None}  # fmt: skip
    why = f"{EXCEPTION_GRANTED}{GRANT} (2026-11-25 to 2026-12-10)"
    body = {"subject": "P" + "a" * 32, "status": "allow", "why": why, "reasons": (grant,)}
    seen = for_checker(body, evaluated=True)
    assert seen["status"] == "allow" and seen["subject"] is None
    assert seen["reasons"] == (
        {"authority": COURT, "valid_from": "2026-11-25", "valid_until": "2026-12-10",
         "measure": None},
    )  # fmt: skip
    assert GRANT not in json.dumps(seen, ensure_ascii=False)
    assert FIRM not in json.dumps(seen, ensure_ascii=False)
    # never evaluated: to a checker, as for any person with nothing known against them
    unknown = {**body, "status": "unknown", "why": f"{why}; {UNEVALUATED}"}
    assert for_checker(unknown, evaluated=True)["status"] == "allow"
    assert for_checker(unknown, evaluated=True)["reasons"] == ()
