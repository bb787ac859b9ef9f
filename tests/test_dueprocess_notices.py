"""Adverse-action notices (issue 10 item 6; DESIGN principles 4 and 6): built from what
evaluation knows, rendered in Chinese and English without a raw resident ID number, stored
once, and delivered through the outbox (files 0600) or a real local SMTP server."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import socket
import stat
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session
from builders import COURT, FIRM, PERSON_ID, authorities, debtor, issue
from typer.testing import CliRunner

from trustledger.app.context import Clock, Context
from trustledger.catalogue import national_catalogue
from trustledger.cli import app as cli_app
from trustledger.dueprocess import notice_store
from trustledger.dueprocess.notices import (
    Notice,
    NoticeKind,
    RecordRef,
    Remedies,
    decision_notice,
    mask_text,
    notices_from_profiles,
    person_label,
    render,
)
from trustledger.dueprocess.senders import OutboxSender, SmtpSender, deliver
from trustledger.evaluate.history import records_as_of
from trustledger.evaluate.profile import (
    CompiledRulebook,
    ListMembership,
    Profile,
    compile_rulebook,
    evaluate_subject,
)
from trustledger.ids import PersonKeyer, mask_code
from trustledger.intake import Intake
from trustledger.ledger.projection import RecordRow, SubjectRow
from trustledger.ledger.store import Store, open_store
from trustledger.ledger.tabledigest import committed
from trustledger.rulebook.publish import publish_rulebook, published_rulebooks
from trustledger.settings import Settings

KEYER = PersonKeyer(bytes(range(32)))
TODAY = date(2026, 12, 1)
SHIPPED = Path(__file__).parent.parent / "trustledger" / "rulebooks_shipped"
SPC = "cn-spc-dishonest-debtors"
CREATED = "2026-12-01T09:00:00+08:00"
REMEDIES = Remedies(object_within_days=60, reply_working_days=15, contact="信用中心异议窗口")
PERSON = KEYER.person_id(PERSON_ID)


def _store(db_url: str, lines: list[dict[str, Any]]) -> Store:
    store = open_store(db_url)
    store.init(KEYER.fingerprint())
    intake = Intake(store, national_catalogue(), KEYER, today=TODAY)
    results = intake.submit_many([*authorities(), *lines])
    assert all(r.outcome == "accepted" for r in results), [r for r in results if r.problems]
    publish_rulebook(store, SHIPPED / f"{SPC}.yaml", national_catalogue())
    return store


@dataclass
class Evaluated:
    store: Store
    compiled: CompiledRulebook
    subject: SubjectRow
    records: list[RecordRow]

    def profile(self, records: list[RecordRow] | None = None, on: date = TODAY) -> Profile:
        chosen = self.records if records is None else records
        return evaluate_subject(self.compiled, self.subject, chosen, on)

    def notices(self, before: Profile | None, after: Profile, **kw: Any) -> list[Notice]:
        return notices_from_profiles(
            before, after, self.compiled, created=CREATED, remedies=REMEDIES,
            records={r.id: r for r in self.records}, **kw,
        )  # fmt: skip


def _evaluated(store: Store, subject_id: str) -> Evaluated:
    (rulebook,) = published_rulebooks(store).values()
    compiled = compile_rulebook(rulebook, national_catalogue())
    subject = store.get_row("subjects", subject_id)
    assert subject is not None
    return Evaluated(store, compiled, subject, records_as_of(store, subject_id))


@pytest.fixture
def firm(tmp_path: Path) -> Iterator[Evaluated]:
    store = _store(f"sqlite:///{tmp_path / 'ledger.db'}", [debtor()])
    yield _evaluated(store, FIRM)
    store.close()


@pytest.fixture
def person(tmp_path: Path) -> Iterator[Evaluated]:
    line = debtor(subject=PERSON_ID, subject_name="张三", document_number="(2025)粤0305执7号",
                  decision_date="2025-05-01", publication_date="2025-05-02")  # fmt: skip
    store = _store(f"sqlite:///{tmp_path / 'ledger.db'}", [line])
    yield _evaluated(store, PERSON)
    store.close()


# --- building -------------------------------------------------------------------------


def test_a_new_debtor_record_brings_its_record_listing_and_measure_notices(
    firm: Evaluated,
) -> None:
    before, after = firm.profile(records=[]), firm.profile()
    notices = firm.notices(before, after, subject_label="深圳市华韵科技有限公司")
    kinds = [n.kind for n in notices]
    measures = [m for m in after.measure_history if m.kind == "restriction"]
    assert measures, "the SPC rulebook restricts a debtor enterprise"
    assert kinds == [NoticeKind.RECORD_ISSUED, NoticeKind.LISTING_EFFECTIVE,
                     *[NoticeKind.MEASURE_STARTED] * len(measures)]  # fmt: skip
    (row,) = firm.records
    record, listing, measure = notices[0], notices[1], notices[2]
    (ref,) = record.facts.records
    assert (ref.record_id, ref.category, ref.document_number) == (
        row.id, "JUD-DEBTOR-G1", "(2024)粤0305执1234号"
    )  # fmt: skip
    assert ref.category_title_zh and ref.category_title
    assert ref.repair_from == "2025-03-05"  # published 2024-03-05, publicity minimum 1y
    assert record.facts.basis.ledger_seq == row.issued_seq
    assert record.facts.rule is not None and record.facts.rule.legal_basis
    rule = listing.facts.rule
    assert rule is not None
    assert (rule.rulebook, rule.list_id, rule.list_title, rule.list_kind) == (
        after.rulebook, "dishonest-judgment-debtors", "失信被执行人名单", "black"
    )  # fmt: skip
    assert "JUD-DEBTOR-G1" in (rule.condition or "")
    assert rule.removal and rule.legal_basis
    assert [r.record_id for r in listing.facts.records] == [row.id]
    # in effect from the day the notice period (if the rulebook sets one) ran out
    run = after.history[0]
    assert listing.facts.since == getattr(run, "effective_from", run.since)
    assert listing.facts.until == run.until
    assert listing.facts.remedies == REMEDIES
    mrule = measure.facts.rule
    assert mrule is not None and mrule.measure_id == measures[0].measure_id
    assert mrule.actions == tuple(measures[0].actions) and mrule.agency == measures[0].agency
    assert mrule.legal_basis and measure.facts.since == measures[0].start
    assert all(n.subject_id == FIRM and n.created == CREATED for n in notices)


def test_regenerating_never_duplicates_and_nothing_new_means_no_notice(firm: Evaluated) -> None:
    before, after = firm.profile(records=[]), firm.profile()
    first = firm.notices(before, after)
    again = notices_from_profiles(before, after, firm.compiled, created="2027-01-01T00:00:00Z")
    assert [n.id for n in first] == [n.id for n in again]
    assert len({n.id for n in first}) == len(first)
    assert firm.notices(after, firm.profile()) == []
    # nothing known before: the same news, the same ids
    assert [n.id for n in firm.notices(None, after)] == [n.id for n in first]
    # the next day brings nothing new either
    assert firm.notices(after, firm.profile(on=date(2026, 12, 2))) == []


def _with_effective_from(profile: Profile, effective_from: str | None) -> Profile:
    """The profile with its list runs pending until ``effective_from`` (the notice period
    before listing; built here so the test holds whatever rulebook sets one)."""

    @dataclass(frozen=True)
    class Run(ListMembership):
        effective_from: str | None = None

    runs: list[ListMembership] = [
        Run(**{**dataclasses.asdict(m), "effective_from": effective_from}) for m in profile.history
    ]
    return dataclasses.replace(profile, history=runs)


def test_a_pending_listing_is_told_first_then_told_again_when_it_takes_effect(
    firm: Evaluated,
) -> None:
    empty = firm.profile(records=[])
    pending = _with_effective_from(firm.profile(), "2026-12-31")
    first = firm.notices(empty, pending)
    listing = [n for n in first if n.kind.value.startswith("listing")]
    assert [n.kind for n in listing] == [NoticeKind.LISTING_PENDING]
    assert listing[0].facts.effective_from == "2026-12-31"
    body = render(listing[0]).body
    assert "2026-12-31" in body and "尚未生效" in body and "to take effect on 2026-12-31" in body
    # the day it takes effect, the same run is told as in effect (and only that)
    later = _with_effective_from(firm.profile(on=date(2026, 12, 31)), "2026-12-31")
    second = [n for n in firm.notices(pending, later) if n.kind.value.startswith("listing")]
    assert [n.kind for n in second] == [NoticeKind.LISTING_EFFECTIVE]
    assert second[0].id != listing[0].id
    assert second[0].facts.since == "2026-12-31"


# --- rendering ------------------------------------------------------------------------


def test_rendering_is_bilingual_and_names_the_record_rule_period_and_remedies(
    firm: Evaluated,
) -> None:
    notices = firm.notices(firm.profile(records=[]), firm.profile(), subject_label="华韵科技")
    record, listing = render(notices[0]), render(notices[1])
    for text in (record.body, listing.body):
        assert "信用信息告知书" in text and "What:" in text
        assert "(2024)粤0305执1234号" in text  # the document number, in both halves
        assert "异议" in text and "To object" in text and "60 days" in text
        assert "15 个工作日" in text and "15 working days" in text
        assert "信用修复" in text and "Credit repair: you may apply from 2025-03-05" in text
        assert "华韵科技" in text
    assert "新增失信记录" in record.subject and "negative record" in record.subject
    assert "失信被执行人名单" in listing.body and "dishonest-judgment-debtors" in listing.body
    assert "JUD-DEBTOR-G1" in listing.body and "Legal basis:" in listing.body
    until = notices[1].facts.until
    assert "法律依据" in listing.body
    assert (f"{until} 起不再适用" if until else "至移出名单或期满时止") in listing.body
    assert f"ledger entry {firm.records[0].last_seq}" in listing.body


def test_a_person_is_never_named_by_a_raw_id_number(person: Evaluated) -> None:
    notices = person.notices(person.profile(records=[]), person.profile(),
                             subject_label=f"张三 {PERSON_ID}")  # fmt: skip
    assert notices and all(n.subject_id == PERSON for n in notices)
    decided = decision_notice(
        PERSON, NoticeKind.OBJECTION_DECIDED, decision_ref="OBJ-1", outcome="dismissed",
        created=CREATED, reasons=f"申请人 {PERSON_ID} 未提交新证据",
        records=[RecordRef(person.records[0].id, "JUD-DEBTOR-G1")],
    )  # fmt: skip
    for notice in [*notices, decided]:
        rendered = render(notice)
        stored = json.dumps(notice.to_json(), ensure_ascii=False)  # what the store keeps
        assert PERSON_ID not in rendered.subject + rendered.body + stored
        assert mask_code(PERSON_ID) in rendered.body
    assert "异议不成立" in render(decided).body and "dismissed" in render(decided).body
    # a person without a label is named not at all
    bare = render(person.notices(person.profile(records=[]), person.profile())[0]).body
    assert "告知对象" not in bare and "To:" not in bare and PERSON not in bare
    assert person_label(PERSON_ID) == mask_code(PERSON_ID)
    assert mask_text(f"x{PERSON_ID}") == f"x{PERSON_ID}"  # inside a longer code: not an ID
    assert mask_text(f"ID {PERSON_ID}.") == f"ID {mask_code(PERSON_ID)}."
    # and a USCC (the organisations' public code) is left as it is
    assert mask_text(f"企业 {FIRM}") == f"企业 {FIRM}"


# --- storing --------------------------------------------------------------------------


def test_saving_is_idempotent_and_notices_round_trip(firm: Evaluated) -> None:
    notices = firm.notices(firm.profile(records=[]), firm.profile(), subject_label="华韵科技")
    store = firm.store
    assert notice_store.save(store, notices) == len(notices)
    regenerated = notices_from_profiles(firm.profile(records=[]), firm.profile(), firm.compiled,
                                        created="2027-02-02T00:00:00Z")  # fmt: skip
    assert notice_store.save(store, [*notices, *regenerated]) == 0
    stored = notice_store.for_subject(store, FIRM)
    assert [s.notice for s in stored] == sorted(notices, key=lambda n: (n.created, n.id))
    assert all(s.delivered_at is None for s in stored)  # the first version is kept
    assert notice_store.for_subject(store, COURT) == []
    # inside a caller's transaction (a decision and its notice written together)
    decided = decision_notice(FIRM, NoticeKind.REPAIR_DECIDED, decision_ref="REP-1",
                              outcome="granted", created=CREATED)  # fmt: skip
    with committed(store, "a decision and its notice") as commit:
        assert notice_store.save_within(store, [decided, notices[0]], commit) == 1
    assert len(notice_store.undelivered(store, 2)) == 2
    assert len(notice_store.undelivered(store)) == len(notices) + 1
    notice_store.mark_delivered(store, notices[0].id, "2026-12-01T10:00:00+08:00", "outbox")
    notice_store.mark_delivered(store, notices[0].id, "2026-12-09T10:00:00+08:00", "smtp")
    first = notice_store.get(store, notices[0].id)
    assert first is not None
    assert (first.delivered_at, first.channel) == ("2026-12-01T10:00:00+08:00", "outbox")
    assert notices[0].id not in {s.notice.id for s in notice_store.undelivered(store)}


def test_saving_works_on_postgresql_too(db_url: str) -> None:
    store = _store(db_url, [debtor()])
    try:
        evaluated = _evaluated(store, FIRM)
        notices = evaluated.notices(None, evaluated.profile())
        assert notice_store.save(store, notices) == len(notices)
        assert notice_store.save(store, notices) == 0
        assert len(notice_store.for_subject(store, FIRM)) == len(notices)
        notice_store.set_address(store, FIRM, "a@example.org")
        notice_store.set_address(store, FIRM, "b@example.org")
        assert notice_store.addresses(store) == {FIRM: "b@example.org"}
    finally:
        store.close()


# --- delivering -----------------------------------------------------------------------


def _read(path: Path) -> EmailMessage:
    message = message_from_bytes(path.read_bytes(), policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def test_the_outbox_writes_one_private_message_file_per_notice(
    person: Evaluated, tmp_path: Path
) -> None:
    notices = person.notices(None, person.profile(), subject_label=person_label(PERSON_ID))
    notice_store.save(person.store, notices)
    outbox = OutboxSender(tmp_path / "outbox", "credit@example.gov.cn")
    counts = deliver(person.store, outbox, {PERSON: "zhangsan@example.org"})
    assert (counts.delivered, counts.failed, counts.no_address) == (len(notices), 0, 0)
    files = sorted((tmp_path / "outbox").iterdir())
    assert [f.name for f in files] == sorted(f"{n.id}.eml" for n in notices)  # no temp files
    assert stat.S_IMODE((tmp_path / "outbox").stat().st_mode) == 0o700
    for notice in notices:
        path = outbox.path_of(notice)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        raw = path.read_bytes()
        assert PERSON_ID.encode() not in raw
        message = _read(path)
        assert message["To"] == "zhangsan@example.org"
        assert message["From"] == "credit@example.gov.cn"
        assert message["X-Trustledger-Notice"] == notice.id
        assert message["Message-ID"] == f"<{notice.id}@example.gov.cn>"
        assert message.get_content_charset() == "utf-8"
        body = message.get_content()
        assert body == render(notice).body and "信用信息告知书" in body and "What:" in body
        assert mask_code(PERSON_ID) in body
    stored = notice_store.for_subject(person.store, PERSON)
    assert all(s.channel == "outbox" and s.delivered_at for s in stored)
    # delivered once: the next run has nothing to do
    assert deliver(person.store, outbox).delivered == 0


class _Collect:
    def __init__(self) -> None:
        self.envelopes: list[Envelope] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.envelopes.append(envelope)
        return "250 OK"


class _Refuse:
    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        return "550 5.1.1 mailbox unavailable"


@dataclass
class _Server:
    port: int
    handler: Any


@pytest.fixture
def smtp_server(request: pytest.FixtureRequest) -> Iterator[_Server]:
    """aiosmtpd on 127.0.0.1, on a port the system picks, in a thread of its own."""
    handler = getattr(request, "param", None) or _Collect()
    loop = asyncio.new_event_loop()
    server = loop.run_until_complete(
        loop.create_server(lambda: SMTP(handler, hostname="notices.test"), "127.0.0.1", 0)
    )
    port = server.sockets[0].getsockname()[1]
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield _Server(port, handler)
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        server.close()
        loop.run_until_complete(server.wait_closed())
        loop.close()


def test_smtp_delivers_to_a_real_local_server(
    firm: Evaluated, smtp_server: _Server, tmp_path: Path
) -> None:
    notices = firm.notices(None, firm.profile(), subject_label="深圳市华韵科技有限公司")
    notice_store.save(firm.store, notices)
    notice_store.set_address(firm.store, FIRM, "legal@huayun.example.cn")
    sender = SmtpSender("127.0.0.1", smtp_server.port, "credit@example.gov.cn", timeout=10)
    counts = deliver(firm.store, sender)  # addresses from the notice_addresses table
    assert (counts.delivered, counts.failed, counts.no_address) == (len(notices), 0, 0)
    envelopes = smtp_server.handler.envelopes
    assert len(envelopes) == len(notices)
    by_id = {}
    for envelope in envelopes:
        assert envelope.mail_from == "credit@example.gov.cn"
        assert envelope.rcpt_tos == ["legal@huayun.example.cn"]
        message = message_from_bytes(envelope.original_content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        by_id[message["X-Trustledger-Notice"]] = message
    assert set(by_id) == {n.id for n in notices}
    for notice in notices:
        message = by_id[notice.id]
        assert message["To"] == "legal@huayun.example.cn"
        assert message["Subject"] == render(notice).subject
        assert message["X-Trustledger-Kind"] == notice.kind.value
        assert message.get_content() == render(notice).body
    stored = notice_store.for_subject(firm.store, FIRM)
    assert all(s.channel == "smtp" and s.delivered_at for s in stored)


@pytest.mark.parametrize("smtp_server", [_Refuse()], indirect=True)
def test_a_refusing_server_leaves_the_notice_undelivered_with_the_error(
    firm: Evaluated, smtp_server: _Server
) -> None:
    notices = firm.notices(None, firm.profile())
    notice_store.save(firm.store, notices)
    sender = SmtpSender("127.0.0.1", smtp_server.port, "credit@example.gov.cn", timeout=10)
    counts = deliver(firm.store, sender, {FIRM: "legal@huayun.example.cn"})
    assert (counts.delivered, counts.failed) == (0, len(notices))
    assert len(notice_store.undelivered(firm.store)) == len(notices)
    for notice in notices:
        (attempt,) = notice_store.attempts(firm.store, notice.id)
        assert not attempt.ok and attempt.channel == "smtp"
        assert attempt.error and "SMTPRecipientsRefused" in attempt.error and "550" in attempt.error


def test_a_server_that_closes_or_is_not_there_loses_nothing(
    firm: Evaluated, smtp_server: _Server, tmp_path: Path
) -> None:
    notices = firm.notices(None, firm.profile())
    notice_store.save(firm.store, notices)
    addresses = {FIRM: "legal@huayun.example.cn"}
    # a server that accepts the connection and closes it at once
    closing = socket.socket()
    closing.bind(("127.0.0.1", 0))
    closing.listen()
    stop = threading.Event()

    def hang_up() -> None:
        closing.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = closing.accept()
            except TimeoutError:
                continue
            conn.close()

    thread = threading.Thread(target=hang_up, daemon=True)
    thread.start()
    try:
        sender = SmtpSender("127.0.0.1", closing.getsockname()[1], "c@example.gov.cn", timeout=5)
        counts = deliver(firm.store, sender, addresses)
    finally:
        stop.set()
        thread.join(5)
        closing.close()
    assert (counts.delivered, counts.failed) == (0, len(notices))
    # nothing listening at all: refused
    free = socket.socket()
    free.bind(("127.0.0.1", 0))
    port = free.getsockname()[1]
    free.close()
    counts = deliver(firm.store, SmtpSender("127.0.0.1", port, "c@example.gov.cn"), addresses)
    assert (counts.delivered, counts.failed) == (0, len(notices))
    for notice in notices:
        errors = [a.error or "" for a in notice_store.attempts(firm.store, notice.id)]
        assert len(errors) == 2 and "SMTPServerDisconnected" in errors[0]
        assert "ConnectionRefusedError" in errors[1]
    # the server back: every notice goes out, once
    working = SmtpSender("127.0.0.1", smtp_server.port, "c@example.gov.cn", timeout=10)
    assert deliver(firm.store, working, addresses).delivered == len(notices)
    assert len(smtp_server.handler.envelopes) == len(notices)
    assert notice_store.undelivered(firm.store) == []


def test_without_an_address_smtp_leaves_the_notice_in_the_outbox(
    firm: Evaluated, smtp_server: _Server, tmp_path: Path
) -> None:
    notices = firm.notices(None, firm.profile())
    notice_store.save(firm.store, notices)
    sender = SmtpSender("127.0.0.1", smtp_server.port, "c@example.gov.cn", timeout=10)
    outbox = OutboxSender(tmp_path / "outbox")
    counts = deliver(firm.store, sender, {}, outbox=outbox)
    assert (counts.delivered, counts.no_address) == (0, len(notices))
    assert smtp_server.handler.envelopes == []
    assert len(notice_store.undelivered(firm.store)) == len(notices)
    assert {p.name for p in (tmp_path / "outbox").iterdir()} == {f"{n.id}.eml" for n in notices}
    assert _read(outbox.path_of(notices[0]))["To"] is None


# --- application and command line -----------------------------------------------------


def test_the_application_builds_lists_and_delivers_with_the_configured_sender(
    tmp_path: Path, smtp_server: _Server
) -> None:
    line = debtor(subject=PERSON_ID, subject_name="张三", document_number="(2025)粤0305执7号",
                  decision_date="2025-05-01", publication_date="2025-05-02")  # fmt: skip
    db = f"sqlite:///{tmp_path / 'app.db'}"
    _store(db, [line, issue()]).close()
    settings = dataclasses.replace(
        Settings.from_env({}), db_url=db, notice_sender="smtp", smtp_host="127.0.0.1",
        smtp_port=smtp_server.port, smtp_from="credit@example.gov.cn",
        outbox_dir=tmp_path / "outbox",
    )  # fmt: skip
    from trustledger.app import notices as usecase

    clock = Clock(fixed_us=1_764_550_000_000_000)
    with Context.open(settings, keyer=KEYER, clock=clock) as ctx:
        built = usecase.notify_changes(ctx, PERSON_ID, before_at_us=None, on=TODAY)
        assert built and {n.subject_id for n in built} == {PERSON}
        assert usecase.notify_changes(ctx, PERSON_ID, before_at_us=None, on=TODAY) == built
        listed = usecase.list_notices(ctx, PERSON_ID)
        assert listed.subject_id == PERSON and len(listed.notices) == len(built)
        assert PERSON_ID not in json.dumps(listed.to_json(), ensure_ascii=False)
        done = usecase.deliver(ctx)
        assert (done.channel, done.counts.no_address) == ("smtp", len(built))
        usecase.set_address(ctx, PERSON_ID, "zhangsan@example.org")
        assert usecase.deliver(ctx).counts.delivered == len(built)
    assert len(smtp_server.handler.envelopes) == len(built)
    for path in [tmp_path / "app.db", *(tmp_path / "outbox").iterdir()]:
        assert PERSON_ID.encode() not in path.read_bytes(), path


def test_the_command_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    line = debtor(subject=PERSON_ID, subject_name="张三", document_number="(2025)粤0305执7号",
                  decision_date="2025-05-01", publication_date="2025-05-02")  # fmt: skip
    _store(db, [line]).close()
    key = tmp_path / "person.key"
    key.write_text(bytes(range(32)).hex())
    monkeypatch.setenv("TRUSTLEDGER_DB", db)
    monkeypatch.setenv("TRUSTLEDGER_PERSON_KEY_FILE", str(key))
    monkeypatch.delenv("TRUSTLEDGER_PERSON_KEY", raising=False)
    monkeypatch.setenv("TRUSTLEDGER_OUTBOX_DIR", str(tmp_path / "outbox"))
    monkeypatch.delenv("TRUSTLEDGER_NOTICE_SENDER", raising=False)
    with Context.open(Settings.from_env(), keyer=KEYER) as ctx:
        from trustledger.app.notices import notify_changes

        built = notify_changes(ctx, PERSON_ID, before_at_us=None, on=TODAY)
    runner = CliRunner()
    result = runner.invoke(cli_app, ["notices", "list", PERSON_ID, "--json"])
    assert result.exit_code == 0, result.output
    listed = json.loads(result.stdout)
    assert listed["subject"] == PERSON and len(listed["notices"]) == len(built)
    assert PERSON_ID not in result.stdout
    result = runner.invoke(cli_app, ["notices", "address", PERSON_ID, "not an address"])
    assert result.exit_code == 2 and "not an e-mail address" in result.output
    result = runner.invoke(cli_app, ["notices", "address", PERSON_ID, "zhangsan@example.org"])
    assert result.exit_code == 0 and PERSON_ID not in result.stdout, result.output
    result = runner.invoke(cli_app, ["notices", "deliver", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"channel": "outbox", "delivered": len(built),
                                         "failed": 0, "no_address": 0}  # fmt: skip
    result = runner.invoke(cli_app, ["notices", "list", PERSON_ID, "--text"])
    assert result.exit_code == 0 and "delivered" in result.stdout and "What:" in result.stdout
    assert PERSON_ID not in result.stdout and mask_code(PERSON_ID) not in result.stdout
    assert len(list((tmp_path / "outbox").iterdir())) == len(built)


def test_notices_for_what_the_ledger_learnt_since_an_instant(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'since.db'}"
    store = _store(db, [debtor()])
    time.sleep(0.002)
    known_before = time.time_ns() // 1000
    time.sleep(0.002)
    intake = Intake(store, national_catalogue(), KEYER, today=TODAY)
    (result,) = intake.submit_many([debtor(document_number="(2025)粤0305执55号",
                                           decision_date="2025-06-01",
                                           publication_date="2025-06-02")])  # fmt: skip
    assert result.outcome == "accepted"
    store.close()
    from trustledger.app.notices import notify_changes

    with Context.open(Settings(db_url=db), keyer=KEYER) as ctx:
        since = notify_changes(ctx, FIRM, before_at_us=known_before, on=TODAY)
        everything = notify_changes(ctx, FIRM, before_at_us=None, on=TODAY)
    # only the new record: the listing and its measures were known before
    assert [n.kind for n in since] == [NoticeKind.RECORD_ISSUED]
    assert since[0].facts.records[0].document_number == "(2025)粤0305执55号"
    assert since[0].id in {n.id for n in everything}
    assert since[0].subject_label == f"深圳市华韵科技有限公司（{FIRM}）"


def test_deliver_exits_5_when_notices_could_not_be_sent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    _store(db, [debtor()]).close()
    with Context.open(Settings(db_url=db), keyer=KEYER) as ctx:
        from trustledger.app.notices import notify_changes, set_address

        built = notify_changes(ctx, FIRM, before_at_us=None, on=TODAY)
        set_address(ctx, FIRM, "legal@huayun.example.cn")
    free = socket.socket()
    free.bind(("127.0.0.1", 0))
    port = free.getsockname()[1]
    free.close()
    monkeypatch.setenv("TRUSTLEDGER_DB", db)
    monkeypatch.setenv("TRUSTLEDGER_NOTICE_SENDER", "smtp")
    monkeypatch.setenv("TRUSTLEDGER_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("TRUSTLEDGER_SMTP_PORT", str(port))
    runner = CliRunner()
    result = runner.invoke(cli_app, ["notices", "deliver"])
    assert result.exit_code == 5, result.output
    assert f"0 delivered by smtp, {len(built)} failed" in result.stdout
    monkeypatch.setenv("TRUSTLEDGER_NOTICE_SENDER", "pigeon")
    result = runner.invoke(cli_app, ["notices", "deliver"])
    assert result.exit_code == 2 and "not one of outbox, smtp" in result.output
