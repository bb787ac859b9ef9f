"""The seed's regimes for persons (issue 12 item 4), as worked cases computed by hand from
the cited rules: rail and air travel restrictions on persons punished for endangering
transport safety (Fagai Caijin [2018] No. 384 and the civil-aircraft opinion), a court
order other than payment (visiting an elderly parent) enforced through the SPC list, and
minor local offences that stay in the person's own file and count toward nothing.

Every check goes through the real path: the application's ``check_subject`` with a
resident ID number, hashed by the person key as the check does."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from builders import COURT, authorities, resident_id, uscc

from trustledger.access.principals import Principal
from trustledger.app.access import PERSON_PUBLIC, file_view
from trustledger.app.checks import check_subject
from trustledger.app.context import Clock, Context
from trustledger.app.errors import Forbidden
from trustledger.app.profiles import profile
from trustledger.app.time import When
from trustledger.catalogue import national_catalogue
from trustledger.domain import SubjectKind, Tier
from trustledger.evaluate.state import evaluate_all, refresh_subjects
from trustledger.ids import PersonKeyer
from trustledger.intake import Intake
from trustledger.rulebook.lint import lint_rulebook
from trustledger.rulebook.load import load_rulebook
from trustledger.rulebook.publish import publish_rulebook
from trustledger.sanctions.actions import load_actions
from trustledger.settings import Settings

KEYER = PersonKeyer(bytes(range(32)))
ZONE = "Asia/Shanghai"
SHIPPED = Path(__file__).parent.parent / "trustledger" / "rulebooks_shipped"
TRAVEL = SHIPPED / "cn-rail-air-travel-restrictions.yaml"
SPC = SHIPPED / "cn-spc-dishonest-debtors.yaml"

RAILWAY_POLICE = uscc("11", "440300", "00000009")
AIRPORT_POLICE = uscc("11", "440300", "00000011")
URBAN = uscc("11", "440305", "00000010")
POLICE_AND_URBAN = [
    {"op": "authority", "id": RAILWAY_POLICE, "name": "广州铁路公安局深圳公安处",
     "authority_type": "public_security"},
    {"op": "authority", "id": AIRPORT_POLICE, "name": "深圳市公安局机场分局",
     "authority_type": "public_security"},
    {"op": "authority", "id": URBAN, "name": "深圳市南山区城市管理和综合执法局",
     "authority_type": "urban_management"},
]  # fmt: skip

SMOKER = resident_id(seq="201")
TRAVELLER = resident_id(seq="203")
CHILD = resident_id(division="440305", birth="19750303", seq="311")
NEIGHBOUR = resident_id(seq="202")

# Rail: every ticket, whatever the train or seat (the measure's actions)
RAIL_TICKETS = {"rail_travel", "rail_g_series_seat", "rail_first_class", "rail_soft_sleeper"}


def _clock(day: date) -> Clock:
    noon = datetime.combine(day, time(12), ZoneInfo(ZONE)).astimezone(UTC)
    return Clock(ZONE, fixed_us=int(noon.timestamp() * 1_000_000))


def _working_day_after(first: date, count: int) -> date:
    """The day after the ``count``-th working day (Monday to Friday, no holidays) counted
    from ``first`` itself: when a publicity of ``count`` working days is over."""
    day, seen = first, 0
    while True:
        if day.weekday() < 5:
            seen += 1
            if seen == count:
                return day + timedelta(days=1)
        day += timedelta(days=1)


def _working_days_later(start: date, count: int) -> date:
    """``count`` working days after ``start`` (not counting ``start``): a deadline."""
    day = start
    while count:
        day += timedelta(days=1)
        if day.weekday() < 5:
            count -= 1
    return day


@pytest.fixture
def ctx(db_url: str) -> Iterator[Context]:
    context = Context.open(Settings(db_url=db_url), must_exist=False,
                           clock=_clock(date(2026, 12, 1)), keyer=KEYER)  # fmt: skip
    context.store.init(KEYER.fingerprint())
    yield context
    context.close()


def _ingest(ctx: Context, lines: list[dict[str, Any]], today: date) -> None:
    results = Intake(ctx.store, national_catalogue(), KEYER, today=today).submit_many(lines)
    assert all(r.outcome == "accepted" for r in results), [r.reason for r in results]


def _publish(ctx: Context, paths: list[Path], on: date) -> None:
    for path in paths:
        publish_rulebook(ctx.store, path, national_catalogue())
    evaluate_all(ctx.store, national_catalogue(), at_us=None, on=on)


def _check(ctx: Context, person: str, action: str, on: date) -> str:
    when = When(None, on, ctx.now_us(), ZONE)
    return check_subject(ctx, person, action, when).decision.status


def _reasons(ctx: Context, person: str, action: str, on: date) -> list[dict[str, object]]:
    when = When(None, on, ctx.now_us(), ZONE)
    return [dict(r) for r in check_subject(ctx, person, action, when).decision.reasons]


def test_the_travel_rulebook_is_lawful_and_for_persons_only() -> None:
    rulebook = load_rulebook(TRAVEL)
    assert lint_rulebook(rulebook, national_catalogue()) == []
    assert rulebook.subject_kinds == [SubjectKind.PERSON]
    for code in ("TRAVEL-RAIL-SAFETY-PENALTY", "TRAVEL-RAIL-TICKET-PENALTY",
                 "TRAVEL-AIR-SAFETY-PENALTY"):  # fmt: skip
        category = national_catalogue().get(code)
        assert category is not None and category.subject_kinds == [SubjectKind.PERSON]
    # every list and measure names the instrument it rests on
    assert all(item.legal_basis for item in rulebook.lists)
    assert all(item.legal_basis for item in rulebook.measures)


# ── (a) smoking on a high-speed train (Fagai Caijin [2018] No. 384, part 1(1) item 2) ─────


def test_smoking_on_a_high_speed_train_bars_rail_tickets_for_180_days_and_nothing_else(
    ctx: Context,
) -> None:
    published = date(2026, 6, 1)  # a Monday: the list's publication day
    smoking = {
        "authority": RAILWAY_POLICE, "category": "TRAVEL-RAIL-SAFETY-PENALTY",
        "subject": SMOKER, "subject_name": "张某", "decision_type": "administrative_penalty",
        "document_number": "深铁公(治)决字〔2026〕101号", "decision_date": "2026-05-28",
        "publication_date": published.isoformat(), "title": "在动车组列车上吸烟",
        "amount_cny": "500",
    }  # fmt: skip
    _ingest(ctx, [*authorities(), *POLICE_AND_URBAN, smoking], today=published)
    _publish(ctx, sorted(SHIPPED.glob("*.yaml")), on=published)

    # by hand: 7 working days of publicity from publication (1-5, 8, 9 June), then 180 days
    starts = _working_day_after(published, 7)
    ends = starts + timedelta(days=180)  # the first day tickets are sold again
    assert (starts, ends) == (date(2026, 6, 10), date(2026, 12, 7))

    # during publicity the listing is pending: nothing is denied (an objection could stop it)
    assert _check(ctx, SMOKER, "rail_travel", starts - timedelta(days=1)) == "allow"
    for day in (starts, date(2026, 9, 1), ends - timedelta(days=1)):
        for action in RAIL_TICKETS:
            assert _check(ctx, SMOKER, action, day) == "deny", (action, day)
    (reason,) = _reasons(ctx, SMOKER, "rail_travel", starts)
    assert (reason["measure"], reason["list"], reason["start"], reason["end"]) == (
        "no-rail-tickets",
        "rail-travel-restricted",
        "2026-06-10",
        "2026-12-07",
    )
    assert str(reason["rulebook"]).startswith("cn-rail-air-travel-restrictions@")
    assert reason["agency"] == "中国国家铁路集团有限公司"

    # nothing else: every other catalogued action is allowed, flights included
    others = sorted(load_actions().codes - RAIL_TICKETS)
    assert "air_travel" in others
    for action in others:
        assert _check(ctx, SMOKER, action, starts + timedelta(days=30)) == "allow", action

    # after the 180 days, tickets again
    for action in RAIL_TICKETS:
        assert _check(ctx, SMOKER, action, ends) == "allow"

    # the person is on no other list of any shipped rulebook, and never public
    person = KEYER.person_id(SMOKER)
    lists = {(row[0].split("@")[0], row[1]) for row in ctx.store.state_rows("state_lists", person)}
    assert lists == {("cn-rail-air-travel-restrictions", "rail-travel-restricted")}
    with pytest.raises(Forbidden, match=PERSON_PUBLIC):
        file_view(None, person)


def test_an_air_safety_penalty_bars_flights_for_one_year_and_not_trains(ctx: Context) -> None:
    published = date(2026, 6, 1)
    fight = {
        "authority": AIRPORT_POLICE, "category": "TRAVEL-AIR-SAFETY-PENALTY",
        "subject": TRAVELLER, "subject_name": "王某", "decision_type": "administrative_penalty",
        "document_number": "深公机(治)决字〔2026〕88号", "decision_date": "2026-05-29",
        "publication_date": published.isoformat(), "title": "在航空器内吸烟，不听劝阻",
        "amount_cny": "500",
    }  # fmt: skip
    _ingest(ctx, [*authorities(), *POLICE_AND_URBAN, fight], today=published)
    _publish(ctx, [TRAVEL], on=published)
    # by hand: publicity as for rail (7 working days, unconfirmed for air), then 1 year
    starts = _working_day_after(published, 7)
    ends = starts.replace(year=starts.year + 1)
    assert (starts, ends) == (date(2026, 6, 10), date(2027, 6, 10))
    assert _check(ctx, TRAVELLER, "air_travel", starts - timedelta(days=1)) == "allow"
    assert _check(ctx, TRAVELLER, "air_travel", starts) == "deny"
    assert _check(ctx, TRAVELLER, "air_travel", ends - timedelta(days=1)) == "deny"
    assert _check(ctx, TRAVELLER, "air_travel", ends) == "allow"
    for action in RAIL_TICKETS:
        assert _check(ctx, TRAVELLER, action, starts) == "allow"


# ── (b) a judgment ordering a child to visit an elderly parent ───────────────────────────
#
# Law on the Protection of the Rights and Interests of the Elderly, art. 18: family members
# living apart from an elderly person shall visit or greet them often. A court judgment
# orders the child to visit; the child, able to, refuses; the enforcing court lists the
# child as a dishonest judgment debtor (SPC provisions art. 1(1), ground 1: no fixed term),
# after the grace period (Fafa [2019] No. 35: 1-3 months, the rulebook takes 1); the child
# visits, and the court deletes the listing within 3 working days of performance (art. 10).


def test_a_child_refusing_court_ordered_visits_is_listed_then_removed_on_performance(
    ctx: Context,
) -> None:
    listed = date(2026, 3, 2)
    refusal = {
        "authority": COURT, "category": "JUD-DEBTOR-G1", "subject": CHILD,
        "subject_name": "赵某", "decision_type": "court_judgment",
        "document_number": "(2026)粤0305执321号", "decision_date": listed.isoformat(),
        "publication_date": listed.isoformat(),
        "title": "有履行能力而拒不履行(2025)粤0305民初4321号民事判决确定的探望老年人义务",
    }  # fmt: skip
    _ingest(ctx, [*authorities(), refusal], today=listed)
    _publish(ctx, [SPC], on=listed)

    # by hand: one month's grace from the listing decision, then listed until performance
    effective = date(2026, 4, 2)
    assert _check(ctx, CHILD, "air_travel", date(2026, 3, 20)) == "allow"  # pending
    assert _check(ctx, CHILD, "air_travel", effective) == "deny"
    assert _check(ctx, CHILD, "rail_g_series_seat", effective) == "deny"
    (reason,) = _reasons(ctx, CHILD, "air_travel", effective)
    # ground 1 has no fixed term (SPC art. 2): no end until the court's deletion entry
    assert (reason["list"], reason["start"], reason["end"]) == (
        "dishonest-judgment-debtors",
        "2026-04-02",
        None,
    )
    # still listed a year on without performance
    assert _check(ctx, CHILD, "air_travel", date(2027, 4, 2)) == "deny"

    # the child visits on Wednesday 1 July; the court deletes the listing on 3 July, within
    # 3 working days (Thursday 2, Friday 3, Monday 6 July)
    performed, deleted = date(2026, 7, 1), date(2026, 7, 3)
    assert deleted <= _working_days_later(performed, 3) == date(2026, 7, 6)
    ended = {
        "op": "end", "authority": COURT, "subject": CHILD, "category": "JUD-DEBTOR-G1",
        "target_document_number": "(2026)粤0305执321号",
        "document_number": "(2026)粤0305执321号之一", "effective_date": deleted.isoformat(),
        "reason": "performed",
    }  # fmt: skip
    _ingest(ctx, [ended], today=deleted)
    person = KEYER.person_id(CHILD)
    refresh_subjects(ctx.store, national_catalogue(), [person], on=deleted)
    assert _check(ctx, CHILD, "air_travel", deleted - timedelta(days=1)) == "deny"
    for action in ("air_travel", "rail_g_series_seat", "star_hotel"):
        assert _check(ctx, CHILD, action, deleted) == "allow"
    assert _check(ctx, CHILD, "air_travel", date(2027, 4, 2)) == "allow"
    ((rulebook, list_id, _, _, since, until, _, in_effect),) = ctx.store.state_rows(
        "state_lists", person
    )
    assert (list_id, since, in_effect, until) == (
        "dishonest-judgment-debtors",
        "2026-03-02",
        "2026-04-02",
        "2026-07-03",
    )
    assert rulebook.startswith("cn-spc-dishonest-debtors@")
    record = next(r for r in ctx.store.rows_where("records", "subject_id", [person]))
    assert record.status == "ended"


# ── (c) minor local offences: in the file, not published, on no list ────────────────────


def test_a_minor_local_offence_stays_in_the_file_and_counts_toward_nothing(
    ctx: Context,
) -> None:
    day = date(2026, 6, 2)
    waste = {
        "authority": URBAN, "category": "LOCAL-WASTE-SORTING-MINOR", "subject": NEIGHBOUR,
        "subject_name": "李某", "decision_type": "administrative_penalty",
        "document_number": "深南城管简罚〔2026〕7号", "decision_date": day.isoformat(),
        "publication_date": day.isoformat(), "title": "未按规定分类投放生活垃圾",
        "amount_cny": "50",
    }  # fmt: skip
    _ingest(ctx, [*authorities(), *POLICE_AND_URBAN, waste], today=day)
    _publish(ctx, sorted(SHIPPED.glob("*.yaml")), on=day)
    person = KEYER.person_id(NEIGHBOUR)

    # in the person's own file (the subject reads the full view), as a minor record
    subject_key = Principal(id="K1", role="subject", name="李某", subject=person)
    assert file_view(subject_key, person) == "full"
    found = profile(ctx, NEIGHBOUR, When(None, day, ctx.now_us(), ZONE))
    (record,) = ctx.store.rows_where("records", "subject_id", [person])
    assert (record.document_number, record.tier) == ("深南城管简罚〔2026〕7号", Tier.MINOR.value)
    seen = [r for p in found.profiles for r in p.to_json()["records"]]
    assert seen and {(r["record_id"], r["tier"]) for r in seen} == {(record.id, "minor")}
    # counted by no rulebook (none treats these categories)
    assert not any(r["counted"] for r in seen)

    # not published: a person's file is never public
    with pytest.raises(Forbidden, match=PERSON_PUBLIC):
        file_view(None, person)
    # on no list and under no measure of any shipped rulebook, so nothing is denied
    assert ctx.store.state_rows("state_lists", person) == []
    assert ctx.store.state_rows("state_measures", person) == []
    for action in sorted(load_actions().codes):
        assert _check(ctx, NEIGHBOUR, action, day) == "allow", action


def test_an_objection_in_the_publicity_period_holds_the_rail_restriction(ctx: Context) -> None:
    """Objections go to 12306 during the 7 working days of publicity (press reports of the
    rail opinion); an open one holds the listing, and once dismissed the restriction takes
    effect that day and still ends 180 days after publicity ended (the period counts from
    the end of publicity)."""
    from trustledger.access.principals import authenticate, create_key
    from trustledger.app import dueprocess

    published = date(2026, 6, 1)
    smoking = {
        "authority": RAILWAY_POLICE, "category": "TRAVEL-RAIL-SAFETY-PENALTY",
        "subject": SMOKER, "subject_name": "张某", "decision_type": "administrative_penalty",
        "document_number": "深铁公(治)决字〔2026〕102号", "decision_date": "2026-05-29",
        "publication_date": published.isoformat(), "title": "在动车组列车上吸烟",
        "amount_cny": "500",
    }  # fmt: skip
    # the objection is reviewed by the credit body, never by the issuer
    credit = uscc("11", "440300", "00000012")
    centre = {"op": "authority", "id": credit, "name": "深圳市发展和改革委员会",
              "authority_type": "development_reform"}  # fmt: skip
    _ingest(ctx, [*authorities(), *POLICE_AND_URBAN, centre, smoking], today=published)
    _publish(ctx, [TRAVEL], on=published)
    person = KEYER.person_id(SMOKER)

    def principal(role: str, **scope: Any) -> Principal:
        found = authenticate(ctx.store, create_key(ctx.store, role, f"test {role}", **scope))
        assert found is not None
        return found

    filed_on, decided_on = date(2026, 6, 3), date(2026, 6, 15)
    at = Context(ctx.settings, ctx.store, _clock(filed_on), _keyer=KEYER)
    (record,) = ctx.store.rows_where("records", "subject_id", [person])
    filed = dueprocess.file_objection(at, principal("subject", subject=person),
                                      record_id=record.id, ground="content",
                                      reasons="当时未吸烟").row  # fmt: skip
    # publicity would have ended on 10 June: held while the objection is open
    assert _check(ctx, SMOKER, "rail_travel", date(2026, 6, 10)) == "allow"
    later = Context(ctx.settings, ctx.store, _clock(decided_on), _keyer=KEYER)
    dueprocess.decide_objection(later, principal("reviewer", authority=credit),
                                objection_id=filed.id, outcome="dismissed",
                                reasons="有监控录像")  # fmt: skip
    assert _check(ctx, SMOKER, "rail_travel", decided_on - timedelta(days=1)) == "allow"
    assert _check(ctx, SMOKER, "rail_travel", decided_on) == "deny"
    # by hand: 180 days from 10 June, the end of publicity, as without the objection
    ends = _working_day_after(published, 7) + timedelta(days=180)
    assert ends == date(2026, 12, 7)
    assert _check(ctx, SMOKER, "rail_travel", ends - timedelta(days=1)) == "deny"
    assert _check(ctx, SMOKER, "rail_travel", ends) == "allow"
