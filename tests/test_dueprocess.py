"""Due process end to end through the application layer: objections, credit repair, notice
before listing, deadlines in working days (issue 10; DESIGN.md principle 4)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from builders import COURT, FIRM, FIRM2, MARKET, TAX, authorities, debtor, issue

from trustledger.access.principals import Principal, authenticate, create_key
from trustledger.app import dueprocess
from trustledger.app.context import Clock, Context
from trustledger.app.errors import Conflict, Forbidden, NotFound
from trustledger.catalogue import national_catalogue
from trustledger.dueprocess.calendar import WorkingCalendar, load_calendar
from trustledger.evaluate.state import evaluate_all
from trustledger.ids import PersonKeyer
from trustledger.intake import Intake
from trustledger.ledger.tabledigest import COMMIT_KINDS
from trustledger.rulebook.publish import publish_rulebook
from trustledger.sanctions.check import CheckIndex
from trustledger.settings import Settings

KEYER = PersonKeyer(bytes(range(32)))
TODAY = date(2026, 12, 1)
SHIPPED = Path(__file__).parent.parent / "trustledger" / "rulebooks_shipped"
PROOF = hashlib.sha256(b"receipt of the fine paid").hexdigest()


def _clock(day: date) -> Clock:
    noon = datetime.combine(day, time(12), ZoneInfo("Asia/Shanghai")).astimezone(UTC)
    return Clock("Asia/Shanghai", fixed_us=int(noon.timestamp() * 1_000_000))


@pytest.fixture
def ctx(db_url: str) -> Iterator[Context]:
    context = Context.open(Settings(db_url=db_url), must_exist=False, clock=_clock(TODAY),
                           keyer=KEYER)  # fmt: skip
    context.store.init(KEYER.fingerprint())
    yield context
    context.close()


def _ingest(ctx: Context, lines: list[dict[str, object]]) -> None:
    intake = Intake(ctx.store, national_catalogue(), KEYER, today=TODAY)
    results = intake.submit_many(lines)
    assert all(r.outcome == "accepted" for r in results), [r.reason for r in results]


def _setup(ctx: Context, lines: list[dict[str, object]], rulebooks: list[str]) -> None:
    _ingest(ctx, [*authorities(), *lines])
    for name in rulebooks:
        publish_rulebook(ctx.store, SHIPPED / f"{name}.yaml", national_catalogue())
    evaluate_all(ctx.store, national_catalogue(), at_us=None, on=TODAY)


def _principal(ctx: Context, role: str, **scope: object) -> Principal:
    key = create_key(ctx.store, role, f"test {role}", **scope)  # type: ignore[arg-type]
    found = authenticate(ctx.store, key)
    assert found is not None
    return found


def _record(ctx: Context, subject: str, category: str) -> str:
    rows = ctx.store.rows_where("records", "subject_id", [subject])
    return next(r.id for r in rows if r.category == category)


def test_an_upheld_objection_withdraws_the_record_and_the_listing(ctx: Context) -> None:
    _setup(ctx, [debtor()], ["cn-spc-dishonest-debtors"])
    assert CheckIndex.load(ctx.store).check(FIRM, "air_travel", TODAY).status == "deny"
    firm = _principal(ctx, "subject", subject=FIRM)
    reviewer = _principal(ctx, "reviewer", authority=TAX)
    record = _record(ctx, FIRM, "JUD-DEBTOR-G1")
    filed = dueprocess.file_objection(
        ctx,
        firm,
        record_id=record,
        ground="content",
        reasons="已全部履行，有法院收据",
        evidence=[PROOF],
    ).row
    assert (filed.status, filed.filed_by, filed.filed_date) == ("open", firm.id, "2026-12-01")
    # 15 working days from Tuesday 1 December: 22 December (weekends only, no holiday file)
    assert filed.deadline == "2026-12-22"
    decided = dueprocess.decide_objection(
        ctx, reviewer, objection_id=filed.id, outcome="upheld", reasons="收据属实"
    )
    assert (decided.row.status, decided.row.reviewer) == ("upheld", reviewer.id)
    assert decided.reevaluated == 1
    index = CheckIndex.load(ctx.store)
    # void from the start: wrong content never counted
    for day in (date(2024, 6, 1), TODAY):
        assert index.check(FIRM, "air_travel", day).status == "allow"
    revoked = ctx.store.get_row("records", record)
    assert revoked.status == "revoked" and "objection upheld" in revoked.status_reason
    # both steps are ledger entries naming their principal
    # (leaving out the commits of rows beside the ledger: the state refreshed, the notices)
    kinds = [e.kind for e in ctx.store.iter_entries() if e.kind not in COMMIT_KINDS][-3:]
    assert kinds == ["objection.filed", "objection.decided", "record.revoked"]
    decision = next(e for e in ctx.store.iter_entries() if e.kind == "objection.decided")
    assert decision.payload_obj()["reviewer"] == reviewer.id
    # the subject is told, with the reasons, and the notice is kept
    from trustledger.dueprocess import notice_store

    stored = {n.notice.id: n.notice for n in notice_store.for_subject(ctx.store, FIRM)}
    told = stored[decided.notices[0]]
    assert told.kind == "objection_decided" and told.facts.outcome == "upheld"
    assert told.facts.reasons == "收据属实" and told.facts.decision_ref == filed.id


def test_a_dismissed_objection_keeps_the_listing(ctx: Context) -> None:
    _setup(ctx, [debtor()], ["cn-spc-dishonest-debtors"])
    firm = _principal(ctx, "subject", subject=FIRM)
    reviewer = _principal(ctx, "reviewer", authority=MARKET)
    record = _record(ctx, FIRM, "JUD-DEBTOR-G1")
    filed = dueprocess.file_objection(ctx, firm, record_id=record, ground="listing",
                                      reasons="不应列入").row  # fmt: skip
    with pytest.raises(Conflict, match="still open"):
        dueprocess.file_objection(ctx, firm, record_id=record, ground="listing", reasons="再次")
    # the record and the listing resting on it show as under objection
    from trustledger.evaluate.service import subject_profiles

    (profile,) = subject_profiles(ctx.store, national_catalogue(), FIRM, at_us=None, on=TODAY)
    (view,) = [r for r in profile.records if r.record_id == record]
    assert view.under_objection == filed.id
    assert profile.lists[0].under_objection == [record]
    decided = dueprocess.decide_objection(
        ctx, reviewer, objection_id=filed.id, outcome="dismissed", reasons="理由不成立"
    )
    assert decided.row.status == "dismissed" and decided.row.reasons == "理由不成立"
    assert CheckIndex.load(ctx.store).check(FIRM, "air_travel", TODAY).status == "deny"
    with pytest.raises(Conflict, match="already decided"):
        dueprocess.decide_objection(ctx, reviewer, objection_id=filed.id, outcome="upheld",
                                    reasons="改判")  # fmt: skip


def test_who_may_take_each_step(ctx: Context) -> None:
    _setup(ctx, [debtor(), debtor(subject=FIRM2, subject_name="北京某某",
                                   document_number="(2025)粤0305执9号",
                                   decision_date="2025-05-01", publication_date="2025-05-02")],
           ["cn-spc-dishonest-debtors"])  # fmt: skip
    firm2 = _principal(ctx, "subject", subject=FIRM2)
    checker = _principal(ctx, "checker", actions=["air_travel"])  # type: ignore[arg-type]
    court_reviewer = _principal(ctx, "reviewer", authority=COURT)
    firm = _principal(ctx, "subject", subject=FIRM)
    record = _record(ctx, FIRM, "JUD-DEBTOR-G1")
    with pytest.raises(Forbidden, match="not about the subject"):
        dueprocess.file_objection(ctx, firm2, record_id=record, ground="content", reasons="x")
    with pytest.raises(Forbidden, match="checker cannot file"):
        dueprocess.file_objection(ctx, checker, record_id=record, ground="content", reasons="x")
    filed = dueprocess.file_objection(ctx, firm, record_id=record, ground="content",
                                      reasons="有误").row  # fmt: skip
    with pytest.raises(Forbidden, match="never decides on its own authority"):
        dueprocess.decide_objection(ctx, court_reviewer, objection_id=filed.id,
                                    outcome="upheld", reasons="x")  # fmt: skip
    with pytest.raises(Forbidden, match="only a reviewer decides"):
        dueprocess.decide_objection(ctx, firm, objection_id=filed.id, outcome="upheld",
                                    reasons="x")  # fmt: skip
    with pytest.raises(NotFound, match="no objection"):
        dueprocess.decide_objection(ctx, court_reviewer, objection_id="O-nope",
                                    outcome="upheld", reasons="x")  # fmt: skip
    with pytest.raises(NotFound, match="no principal"):
        dueprocess.principal(ctx, "p_0000000000000000")
    # nothing was written by the refused steps
    facts = [e.kind for e in ctx.store.iter_entries() if e.kind not in COMMIT_KINDS]
    assert facts[-1] == "objection.filed"


def _serious(**fields: object) -> dict[str, object]:
    return issue(authority=MARKET, category="MKT-SERIOUS-DISHONEST",
                 decision_type="administrative_penalty", title="严重违法失信",
                 **fields)  # fmt: skip


def test_repair_too_early_then_granted(ctx: Context) -> None:
    lines = [
        _serious(document_number="深市监严〔2025〕1号", decision_date="2025-05-28",
                 publication_date="2025-06-01"),
        _serious(subject=FIRM2, subject_name="北京某某", document_number="深市监严〔2026〕2号",
                 decision_date="2026-02-27", publication_date="2026-03-01"),
    ]  # fmt: skip
    _setup(ctx, lines, ["cn-market-abnormal-operations"])
    index = CheckIndex.load(ctx.store)
    assert index.check(FIRM, "public_procurement", TODAY).status == "deny"
    reviewer = _principal(ctx, "reviewer", authority=TAX)
    early = _principal(ctx, "subject", subject=FIRM2)
    with pytest.raises(Conflict, match="may be applied for from 2027-03-01"):
        dueprocess.apply_repair(
            ctx, early, record_id=_record(ctx, FIRM2, "MKT-SERIOUS-DISHONEST"),
            correction=PROOF, obligations=PROOF, commitment=PROOF,
        )  # fmt: skip
    firm = _principal(ctx, "subject", subject=FIRM)
    record = _record(ctx, FIRM, "MKT-SERIOUS-DISHONEST")
    with pytest.raises(Exception, match="not a SHA-256 digest"):
        dueprocess.apply_repair(ctx, firm, record_id=record, correction="signed",
                                obligations=PROOF, commitment=PROOF)  # fmt: skip
    applied = dueprocess.apply_repair(
        ctx, firm, record_id=record, correction=PROOF, obligations=PROOF, commitment=PROOF
    ).row
    assert (applied.status, applied.deadline) == ("open", "2026-12-15")  # 10 working days
    granted = dueprocess.decide_repair(
        ctx, reviewer, repair_id=applied.id, outcome="granted", reasons="已整改，承诺已签署"
    )
    assert granted.row.status == "granted" and granted.reevaluated == 1
    index = CheckIndex.load(ctx.store)
    assert index.check(FIRM, "public_procurement", TODAY).status == "allow"
    # repaired from the grant on: the past stays as it was
    assert index.check(FIRM, "public_procurement", date(2026, 6, 1)).status == "deny"
    assert ctx.store.get_row("records", record).status == "repaired"
    objections, repairs = dueprocess.of_subject(ctx, FIRM)
    assert objections == [] and [r.id for r in repairs] == [applied.id]


def test_a_pending_listing_denies_nothing_until_its_notice_period_ends(ctx: Context) -> None:
    _setup(ctx, [debtor(decision_date="2026-11-18", publication_date="2026-11-20")],
           ["cn-spc-dishonest-debtors"])  # fmt: skip
    (run,) = ctx.store.state_rows("state_lists", FIRM)
    assert (run[4], run[7]) == ("2026-11-20", "2026-12-20")  # a month's grace (Fafa 2019/35)
    index = CheckIndex.load(ctx.store)
    assert index.check(FIRM, "air_travel", TODAY).status == "allow"
    denied = index.check(FIRM, "air_travel", date(2026, 12, 20))
    assert denied.status == "deny" and denied.reasons[0]["start"] == "2026-12-20"
    from trustledger.evaluate.service import subject_profiles

    (profile,) = subject_profiles(ctx.store, national_catalogue(), FIRM, at_us=None, on=TODAY)
    (membership,) = profile.lists
    assert membership.status_on(TODAY.isoformat()) == "pending" and profile.measures == []
    assert any(line.startswith("Pending (notice period)") for line in profile.explanation)


def test_an_overdue_objection_is_flagged(ctx: Context, db_url: str) -> None:
    _setup(ctx, [debtor()], ["cn-spc-dishonest-debtors"])
    firm = _principal(ctx, "subject", subject=FIRM)
    filed = dueprocess.file_objection(ctx, firm, record_id=_record(ctx, FIRM, "JUD-DEBTOR-G1"),
                                      ground="content", reasons="有误").row  # fmt: skip
    assert dueprocess.overdue(ctx) == []
    later = Context(ctx.settings, ctx.store, _clock(date(2026, 12, 23)), _keyer=KEYER)
    (late,) = dueprocess.overdue(later)
    assert late.id == filed.id and late.deadline == "2026-12-22"


def test_working_days_follow_the_holiday_file(tmp_path: Path) -> None:
    plain = WorkingCalendar()
    assert plain.add_working_days(date(2026, 9, 30), 3) == date(2026, 10, 5)
    path = tmp_path / "holidays.yaml"
    path.write_text(
        "holidays: [2026-10-01, 2026-10-02, 2026-10-05, 2026-10-06, 2026-10-07]\n"
        "workdays: [2026-10-10]\n"
    )
    national_day = load_calendar(path)
    # 1–7 October off, Saturday 10 October worked in exchange
    assert national_day.add_working_days(date(2026, 9, 30), 3) == date(2026, 10, 10)
    bad = tmp_path / "bad.yaml"
    bad.write_text("holidays: [someday]\n")
    with pytest.raises(ValueError, match="'someday' is not a date"):
        load_calendar(bad)


def test_an_objection_keeps_a_pending_listing_pending_until_decided(ctx: Context) -> None:
    _setup(ctx, [debtor(decision_date="2026-11-18", publication_date="2026-11-20")],
           ["cn-spc-dishonest-debtors"])  # fmt: skip
    firm = _principal(ctx, "subject", subject=FIRM)
    reviewer = _principal(ctx, "reviewer", authority=TAX)
    filed = dueprocess.file_objection(ctx, firm, record_id=_record(ctx, FIRM, "JUD-DEBTOR-G1"),
                                      ground="listing", reasons="已履行").row  # fmt: skip
    (run,) = ctx.store.state_rows("state_lists", FIRM)
    assert run[7] is None  # pending as long as the objection is open
    index = CheckIndex.load(ctx.store)
    assert index.check(FIRM, "air_travel", date(2027, 1, 10)).status == "allow"
    # dismissed after the grace period ended: the listing takes effect on the decision day
    later = Context(ctx.settings, ctx.store, _clock(date(2026, 12, 28)), _keyer=KEYER)
    dueprocess.decide_objection(later, reviewer, objection_id=filed.id, outcome="dismissed",
                                reasons="未提供履行证明")  # fmt: skip
    (run,) = ctx.store.state_rows("state_lists", FIRM)
    assert run[7] == "2026-12-28"
    index = CheckIndex.load(ctx.store)
    assert index.check(FIRM, "air_travel", date(2026, 12, 27)).status == "allow"
    assert index.check(FIRM, "air_travel", date(2026, 12, 28)).status == "deny"


def test_a_judgment_debtor_who_performs_is_removed(ctx: Context) -> None:
    from trustledger.evaluate.state import refresh_if_evaluated

    _setup(ctx, [debtor()], ["cn-spc-dishonest-debtors"])
    assert CheckIndex.load(ctx.store).check(FIRM, "air_travel", TODAY).status == "deny"
    _ingest(ctx, [{"op": "end", "authority": COURT, "subject": FIRM, "category": "JUD-DEBTOR-G1",
                   "target_document_number": "(2024)粤0305执1234号",
                   "document_number": "(2024)粤0305执1234号之一", "effective_date": "2026-11-30",
                   "reason": "performed"}])  # fmt: skip
    refresh_if_evaluated(ctx.store, national_catalogue(), {FIRM}, on=TODAY)
    index = CheckIndex.load(ctx.store)
    assert index.check(FIRM, "air_travel", TODAY).status == "allow"
    assert index.check(FIRM, "air_travel", date(2026, 11, 29)).status == "deny"


def test_an_operator_holds_a_pending_listing_until_released(ctx: Context) -> None:
    _setup(ctx, [debtor(decision_date="2026-11-18", publication_date="2026-11-20")],
           ["cn-spc-dishonest-debtors"])  # fmt: skip
    operator = _principal(ctx, "operator")
    firm = _principal(ctx, "subject", subject=FIRM)
    with pytest.raises(Forbidden, match="only an operator holds"):
        dueprocess.hold_listing(ctx, firm, subject_id=FIRM, rulebook_id="cn-spc-dishonest-debtors",
                                list_id="dishonest-judgment-debtors", reasons="复核")  # fmt: skip
    held = dueprocess.hold_listing(
        ctx, operator, subject_id=FIRM, rulebook_id="cn-spc-dishonest-debtors",
        list_id="dishonest-judgment-debtors", reasons="申请人称已履行，待人工复核",
    ).row  # fmt: skip
    assert (ctx.store.state_rows("state_lists", FIRM)[0][7], held.held_by) == (None, operator.id)
    assert CheckIndex.load(ctx.store).check(FIRM, "air_travel", date(2027, 2, 1)).status == (
        "allow"
    )
    later = Context(ctx.settings, ctx.store, _clock(date(2027, 1, 4)), _keyer=KEYER)
    dueprocess.release_hold(later, operator, hold_id=held.id, reasons="复核完毕，未履行")
    assert ctx.store.state_rows("state_lists", FIRM)[0][7] == "2027-01-04"
    with pytest.raises(Conflict, match="already released"):
        dueprocess.release_hold(later, operator, hold_id=held.id, reasons="再次")
    # an effective listing is contested by objection, not held
    effective = Context(ctx.settings, ctx.store, _clock(date(2027, 1, 5)), _keyer=KEYER)
    with pytest.raises(Conflict, match="already in effect"):
        dueprocess.hold_listing(effective, operator, subject_id=FIRM,
                                rulebook_id="cn-spc-dishonest-debtors",
                                list_id="dishonest-judgment-debtors", reasons="x")  # fmt: skip


def test_an_ingest_notifies_the_subjects_it_harmed(ctx: Context, tmp_path: Path) -> None:
    import json

    from trustledger.app.ingest import ingest
    from trustledger.dueprocess import notice_store

    _setup(ctx, [debtor()], ["cn-spc-dishonest-debtors"])
    line = debtor(subject=FIRM2, subject_name="北京某某", document_number="(2026)粤0305执7号",
                  decision_date="2026-11-25", publication_date="2026-11-26")  # fmt: skip
    path = tmp_path / "court.jsonl"
    path.write_text(json.dumps(line, ensure_ascii=False) + "\n", encoding="utf-8")
    result = ingest(ctx, [path], tmp_path)
    assert result.refreshed >= 1 and result.notices >= 2
    kinds = {n.notice.kind for n in notice_store.for_subject(ctx.store, FIRM2)}
    assert {"record_issued", "listing_pending"} <= kinds
    # FIRM's file did not change: nothing new for it
    assert notice_store.for_subject(ctx.store, FIRM) == []


def test_reasons_must_be_text(ctx: Context) -> None:
    from trustledger.app.errors import BadInput

    _setup(ctx, [debtor()], ["cn-spc-dishonest-debtors"])
    firm = _principal(ctx, "subject", subject=FIRM)
    record = _record(ctx, FIRM, "JUD-DEBTOR-G1")
    for reasons, message in (("  ", "give the reasons in words"),
                             ("a\x00b", "control characters"),
                             ("x" * 4001, "at most 4,000")):  # fmt: skip
        with pytest.raises(BadInput, match=message):
            dueprocess.file_objection(ctx, firm, record_id=record, ground="content",
                                      reasons=reasons)  # fmt: skip
    with pytest.raises(BadInput, match="not one of content"):
        dueprocess.file_objection(ctx, firm, record_id=record, ground="mood", reasons="x")
    with pytest.raises(BadInput, match="not a SHA-256"):
        dueprocess.file_objection(ctx, firm, record_id=record, ground="content", reasons="x",
                                  evidence=["abc"])  # fmt: skip


def test_a_daily_scan_tells_subjects_their_listing_took_effect(ctx: Context) -> None:
    from trustledger.app.notices import scan
    from trustledger.dueprocess import notice_store

    _setup(ctx, [debtor(decision_date="2026-11-18", publication_date="2026-11-20")],
           ["cn-spc-dishonest-debtors"])  # fmt: skip
    assert scan(ctx).notices == 0  # still pending today (effective 2026-12-20)
    later = Context(ctx.settings, ctx.store, _clock(date(2026, 12, 21)), _keyer=KEYER)
    found = scan(later)
    assert (found.subjects, found.after.isoformat()) == (1, "2026-12-14")
    kinds = [n.notice.kind for n in notice_store.for_subject(ctx.store, FIRM)]
    assert "listing_effective" in kinds
    again = scan(later)  # told once, however often it runs
    assert len(notice_store.for_subject(ctx.store, FIRM)) == len(kinds) and again.subjects == 1
