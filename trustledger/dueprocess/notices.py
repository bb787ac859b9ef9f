"""Adverse-action notices: what happened to a subject, why, for how long, and how to contest it.

Every adverse change (a new negative record, a listing pending or in effect, a measure
starting) and every decision on an objection, a repair or a confirmation produces one
notice (DESIGN principle 4; issue 10 item 6). A notice's id is derived from what it is
about (its kind, its subject and the event it reports: the record, the list run, the
measure run, the decision), so building the notices again from the same evaluation never
makes a second one, and storing them is idempotent.

The text is rendered in Chinese and in English, both short. A person is never named by a
resident ID number: the subject id of a person is already the keyed hash, a person is
named by a masked ID or not at all, and the renderer masks any resident ID number that
reaches the text by another way (a label, a reason quoted from a decision) — principle 6.

Builders here use only what evaluation already knows: a pair of profiles (before, after)
of one subject under one compiled rulebook, and optionally the subject's record rows (for
document numbers and the ledger sequence numbers the notice rests on).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import date
from enum import StrEnum
from typing import Any

from trustledger.evaluate.profile import (
    CompiledRulebook,
    ListMembership,
    MeasureInForce,
    Profile,
    RecordView,
)
from trustledger.ids import check_resident_id, mask_code, normalise_code
from trustledger.ledger.projection import RecordRow

__all__ = [
    "Basis",
    "Facts",
    "Notice",
    "NoticeKind",
    "RecordRef",
    "Remedies",
    "Rendered",
    "RuleRef",
    "decision_notice",
    "is_person",
    "mask_text",
    "notice_id",
    "notices_from_profiles",
    "person_label",
    "render",
]


class NoticeKind(StrEnum):
    RECORD_ISSUED = "record_issued"  # a new negative record
    LISTING_PENDING = "listing_pending"  # a listing announced, not yet in effect
    LISTING_EFFECTIVE = "listing_effective"
    MEASURE_STARTED = "measure_started"
    OBJECTION_DECIDED = "objection_decided"
    REPAIR_DECIDED = "repair_decided"
    RECORD_CONFIRMED = "record_confirmed"  # a record on automated data confirmed by a person


@dataclass(frozen=True)
class RecordRef:
    """A record the notice is about or rests on."""

    record_id: str
    category: str
    category_title: str = ""
    category_title_zh: str = ""
    document_number: str | None = None
    tier: str | None = None
    published: str | None = None
    # the first day repair may be applied for (publication + the rulebook's publicity
    # minimum), and the day the record stops counting by itself (its maximum)
    repair_from: str | None = None
    publicity_ends: str | None = None


@dataclass(frozen=True)
class RuleRef:
    """The rule an outcome rests on: the rulebook, and the list or measure in it."""

    rulebook: str  # "<id>@<version>"
    rulebook_title: str = ""
    list_id: str | None = None
    list_title: str | None = None
    list_kind: str | None = None  # "black" or "red"
    condition: str | None = None  # the list's condition as written in the rulebook
    removal: str | None = None  # how a subject leaves the list
    measure_id: str | None = None
    measure_kind: str | None = None
    actions: tuple[str, ...] = ()
    agency: str | None = None
    legal_basis: tuple[str, ...] = ()


@dataclass(frozen=True)
class Remedies:
    """How to object or apply for repair, with the regime's deadlines as the caller gives
    them (the regimes differ; the caller knows which one applies)."""

    # objections are accepted within this many days of the notice (None: at any time)
    object_within_days: int | None = None
    # a reviewer decides an objection within this many working days
    reply_working_days: int | None = None
    # a pending listing or measure takes effect this many days after the notice
    notice_period_days: int | None = None
    repair_available: bool = True
    # where to object or apply (an office, an address, a portal page)
    contact: str | None = None


@dataclass(frozen=True)
class Basis:
    """What the notice rests on: a ledger entry, or an access-log entry."""

    ledger_seq: int | None = None
    access_log_ref: str | None = None


@dataclass(frozen=True)
class Facts:
    records: tuple[RecordRef, ...] = ()
    rule: RuleRef | None = None
    since: str | None = None  # the outcome lasts [since, until)
    until: str | None = None  # None: until the subject leaves the list (or no end date)
    # a listing: the day it takes effect after the notice period (None: it ends before)
    effective_from: str | None = None
    remedies: Remedies = field(default_factory=Remedies)
    basis: Basis = field(default_factory=Basis)
    # decisions (objection, repair, confirmation): the decision's reference, its outcome
    # ("upheld", "dismissed", "granted", "refused", "confirmed") and the reasons given
    decision_ref: str | None = None
    outcome: str | None = None
    reasons: str | None = None


@dataclass(frozen=True)
class Notice:
    id: str
    subject_id: str  # the ledger id: a USCC, or the keyed hash of a person's ID number
    kind: NoticeKind
    created: str  # ISO date-time
    facts: Facts
    # how the notice names the subject: an organisation's name, a person's masked ID, or
    # None (a person named not at all). Never part of the id.
    subject_label: str | None = None

    def body_json(self) -> dict[str, Any]:
        """What the store keeps as the body: the facts and the label."""
        return {"facts": asdict(self.facts), "subject_label": self.subject_label}

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "subject": self.subject_id,
            "kind": self.kind.value,
            "created": self.created,
            **self.body_json(),
        }

    @classmethod
    def from_row(
        cls, id: str, subject_id: str, kind: str, created: str, body: dict[str, Any]
    ) -> Notice:
        facts = dict(body["facts"])
        facts["records"] = tuple(RecordRef(**r) for r in facts.get("records", ()))
        rule = facts.get("rule")
        if rule is not None:
            rule = dict(rule)
            rule["actions"] = tuple(rule.get("actions", ()))
            rule["legal_basis"] = tuple(rule.get("legal_basis", ()))
            facts["rule"] = RuleRef(**rule)
        facts["remedies"] = Remedies(**facts.get("remedies", {}))
        facts["basis"] = Basis(**facts.get("basis", {}))
        return cls(
            id, subject_id, NoticeKind(kind), created, Facts(**facts), body.get("subject_label")
        )


def notice_id(subject_id: str, kind: NoticeKind | str, *about: object) -> str:
    """The id of the notice of ``kind`` to ``subject_id`` about one event (its identity:
    a record id; a rulebook, list and first day; a decision reference)."""
    text = json.dumps([str(kind), subject_id, *about], ensure_ascii=False, separators=(",", ":"))
    return "N" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def is_person(subject_id: str) -> bool:
    """Whether a ledger subject id is a person's keyed id (``P`` + 32 hex digits)."""
    return (
        len(subject_id) == 33
        and subject_id[0] == "P"
        and all(c in "0123456789abcdef" for c in subject_id[1:])
    )


def person_label(resident_id: str) -> str:
    """How a notice may name a person: the masked ID number (first 6, last 4 kept)."""
    return mask_code(normalise_code(resident_id))


# 18 characters that may be a resident ID number, not inside a longer code
_RESIDENT_LIKE = re.compile(r"(?<![0-9A-Za-z])[0-9]{17}[0-9Xx](?![0-9A-Za-z])")


def mask_text(text: str) -> str:
    """The text with every valid resident ID number in it masked."""

    def mask(match: re.Match[str]) -> str:
        code = match.group(0).upper()
        return mask_code(code) if check_resident_id(code).valid else match.group(0)

    return _RESIDENT_LIKE.sub(mask, text)


# --- building notices from evaluation ---------------------------------------------------

_NOT_ADVERSE_STANDINGS = frozenset(
    {
        "revoked",
        "ended by its issuer",
        "not covered by this rulebook",
        "rests on automated data not yet confirmed by a person",
    }
)


def notices_from_profiles(
    before: Profile | None,
    after: Profile,
    rulebook: CompiledRulebook,
    *,
    created: str,
    remedies: Remedies | None = None,
    records: Mapping[str, RecordRow] | None = None,
    subject_label: str | None = None,
) -> list[Notice]:
    """The notices for what is new in ``after`` compared with ``before`` (None: nothing
    was known before) for one subject under one rulebook: new negative records, new black
    list runs (a run first known while in its notice period is pending; a run that has
    taken effect since ``before`` is effective) and restrictions that have started.

    ``records``: the subject's record rows by id, for document numbers and the ledger
    sequence numbers; without them a notice names the records by id and category only.
    Runs that ended before ``after.on`` are history, not news, and get no notice.
    """
    if after.subject_id != (before.subject_id if before else after.subject_id):
        raise ValueError("before and after are profiles of different subjects")
    if before is not None and before.rulebook.split("@")[0] != after.rulebook.split("@")[0]:
        raise ValueError("before and after are profiles under different rulebooks")
    if not after.applicable:
        return []
    remedies = remedies or Remedies()
    rows = records or {}
    views = {r.record_id: r for r in after.records}
    subject = after.subject_id
    out: list[Notice] = []

    def ref(record_id: str) -> RecordRef:
        return _record_ref(rulebook, views.get(record_id), rows.get(record_id), record_id)

    def seq(record_ids: Iterable[str]) -> int | None:
        seqs = [rows[r].last_seq for r in record_ids if r in rows]
        return max(seqs) if seqs else None

    known = {r.record_id for r in before.records} if before is not None else set()
    for view in after.records:
        if view.record_id in known or view.standing in _NOT_ADVERSE_STANDINGS:
            continue
        category = rulebook.categories.get(view.category)
        if category is None or category.polarity.value != "negative":
            continue
        row = rows.get(view.record_id)
        treatment = rulebook.treatment_of.get(view.category)
        cited = treatment.legal_basis if treatment and treatment.legal_basis else None
        basis = tuple(str(b) for b in (cited or category.legal_basis))
        facts = Facts(
            records=(ref(view.record_id),),
            rule=RuleRef(rulebook.ref, rulebook.rulebook.title, legal_basis=basis),
            since=view.published,
            until=view.publicity_ends,
            remedies=remedies,
            basis=Basis(ledger_seq=row.issued_seq if row else None),
        )
        out.append(
            _notice(
                subject, NoticeKind.RECORD_ISSUED, created, facts, subject_label, view.record_id
            )
        )

    prior_runs = {_key(m): m for m in before.history} if before is not None else {}
    for membership in after.history:
        if membership.kind != "black":
            continue
        if membership.until is not None and membership.until <= after.on:
            continue
        prior = prior_runs.get(_key(membership))
        effective_now = _effective(membership, after.on)
        was_effective = prior is not None and before is not None and _effective(prior, before.on)
        kinds: list[NoticeKind] = []
        if prior is None and not effective_now:
            kinds.append(NoticeKind.LISTING_PENDING)
        if effective_now and not was_effective:
            kinds.append(NoticeKind.LISTING_EFFECTIVE)
        spec = rulebook.rulebook.list_by_id(membership.list_id)
        # the list's own citations; the rulebook's when the list cites none
        cited = list(spec.legal_basis if spec else ()) or list(rulebook.rulebook.legal_basis)
        for kind in kinds:
            facts = Facts(
                records=tuple(ref(r) for r in membership.records),
                rule=RuleRef(
                    rulebook.ref,
                    rulebook.rulebook.title,
                    list_id=membership.list_id,
                    list_title=membership.title,
                    list_kind=membership.kind,
                    condition=_one_line(membership.condition),
                    removal=_one_line(spec.removal) if spec else None,
                    legal_basis=tuple(dict.fromkeys(str(b) for b in cited)),
                ),
                # pending: from its first day, taking effect on effective_from (None: it
                # ends before it would); effective: from the day it took effect
                since=membership.since
                if kind is NoticeKind.LISTING_PENDING
                else _effective_from(membership),
                until=membership.until,
                effective_from=_effective_from(membership),
                remedies=remedies,
                basis=Basis(ledger_seq=seq(membership.records)),
            )
            about = (_rulebook_id(rulebook), membership.list_id, membership.since)
            out.append(_notice(subject, kind, created, facts, subject_label, *about))

    prior_measures = (
        {_measure_key(m): m for m in before.measure_history} if before is not None else {}
    )
    runs = list(after.history)
    for measure in after.measure_history:
        if measure.kind != "restriction" or measure.start > after.on:
            continue  # a measure that has not started yet is told by its listing's notice
        if measure.end is not None and measure.end <= after.on:
            continue
        prior_measure = prior_measures.get(_measure_key(measure))
        if prior_measure is not None and before is not None and prior_measure.start <= before.on:
            continue
        run = _run_of(runs, measure)
        record_ids = run.records if run else []
        facts = Facts(
            records=tuple(ref(r) for r in record_ids),
            rule=RuleRef(
                rulebook.ref,
                rulebook.rulebook.title,
                list_id=measure.list_id,
                list_title=run.title if run else None,
                list_kind=run.kind if run else None,
                condition=_one_line(run.condition) if run else None,
                measure_id=measure.measure_id,
                measure_kind=measure.kind,
                actions=tuple(measure.actions),
                agency=measure.agency,
                legal_basis=tuple(measure.legal_basis),
            ),
            since=measure.start,
            until=measure.end,
            remedies=remedies,
            basis=Basis(ledger_seq=seq(record_ids)),
        )
        key = (_rulebook_id(rulebook), measure.measure_id, measure.list_id, measure.start)
        out.append(
            _notice(subject, NoticeKind.MEASURE_STARTED, created, facts, subject_label, *key)
        )
    return out


def decision_notice(
    subject_id: str,
    kind: NoticeKind,
    *,
    decision_ref: str,
    outcome: str,
    created: str,
    reasons: str | None = None,
    records: Sequence[RecordRef] = (),
    rule: RuleRef | None = None,
    since: str | None = None,
    until: str | None = None,
    remedies: Remedies | None = None,
    basis: Basis | None = None,
    subject_label: str | None = None,
) -> Notice:
    """The notice of a decision on an objection, a repair application or a confirmation
    (``kind`` one of OBJECTION_DECIDED, REPAIR_DECIDED, RECORD_CONFIRMED). One notice per
    decision: ``decision_ref`` (the decision's ledger entry or id) is its identity."""
    if kind not in _DECISIONS:
        raise ValueError(f"{kind} is not a decision notice")
    facts = Facts(
        records=tuple(records),
        rule=rule,
        since=since,
        until=until,
        remedies=remedies or Remedies(),
        basis=basis or Basis(),
        decision_ref=decision_ref,
        outcome=outcome,
        reasons=reasons,
    )
    return _notice(subject_id, kind, created, facts, subject_label, decision_ref)


_DECISIONS = frozenset(
    {NoticeKind.OBJECTION_DECIDED, NoticeKind.REPAIR_DECIDED, NoticeKind.RECORD_CONFIRMED}
)


def _notice(
    subject_id: str,
    kind: NoticeKind,
    created: str,
    facts: Facts,
    label: str | None,
    *about: object,
) -> Notice:
    # free text reaches the store too: no resident ID number in it, whoever the subject
    if label is not None:
        label = mask_text(label)
    if facts.reasons is not None:
        facts = replace(facts, reasons=mask_text(facts.reasons))
    return Notice(notice_id(subject_id, kind, *about), subject_id, kind, created, facts, label)


def _rulebook_id(rulebook: CompiledRulebook) -> str:
    # the rulebook's id, not its version: a new version re-deriving the same run is the
    # same news, not a second notice
    return rulebook.rulebook.id


def _key(membership: ListMembership) -> tuple[str, str]:
    return membership.list_id, membership.since


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _effective_from(membership: ListMembership) -> str | None:
    """The day the run takes effect (after the rulebook's notice period; None: it ends
    before it would). Profiles without a notice period take effect on their first day."""
    value = getattr(membership, "effective_from", membership.since)
    return None if value is None else str(value)


def _effective(membership: ListMembership, on: str) -> bool:
    start = _effective_from(membership)
    return start is not None and start <= on


def _run_of(runs: Sequence[ListMembership], measure: MeasureInForce) -> ListMembership | None:
    """The list run that triggered a measure: of its list, containing its first day."""
    for run in runs:
        if (
            run.list_id == measure.list_id
            and run.since <= measure.start
            and (run.until is None or measure.start < run.until)
        ):
            return run
    return None


def _measure_key(measure: MeasureInForce) -> tuple[str, str, str]:
    return measure.measure_id, measure.list_id, measure.start


def _record_ref(
    rulebook: CompiledRulebook, view: RecordView | None, row: RecordRow | None, record_id: str
) -> RecordRef:
    category_code = view.category if view else (row.category if row else "")
    category = rulebook.categories.get(category_code)
    published = view.published if view else (row.publication_date if row else None)
    treatment = rulebook.treatment_of.get(category_code)
    repair_from = None
    if row is not None:
        # the minimum after the day this regime counts the window from (decision or
        # publication, and an earlier version's for an earlier decision)
        first = rulebook.repair_from(row)
        repair_from = first.isoformat() if first is not None else None
    elif treatment is not None and published is not None:
        repair_from = treatment.publicity.min.after(date.fromisoformat(published)).isoformat()
    return RecordRef(
        record_id=record_id,
        category=category_code,
        category_title=category.title if category else "",
        category_title_zh=category.title_zh if category else "",
        document_number=row.document_number if row else None,
        tier=view.tier if view else (row.tier if row else None),
        published=published,
        repair_from=repair_from,
        publicity_ends=view.publicity_ends if view else None,
    )


# --- rendering ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Rendered:
    """A notice as sent: a subject line and a plain-text body (Chinese, then English);
    ``to`` is the recipient's address when one is known."""

    subject: str
    body: str
    to: str | None = None


_WHAT = {
    NoticeKind.RECORD_ISSUED: ("新增失信记录", "A negative record about you was published"),
    NoticeKind.LISTING_PENDING: (
        "拟列入名单（尚未生效）",
        "You are to be placed on a list (not yet in effect)",
    ),
    NoticeKind.LISTING_EFFECTIVE: ("列入名单", "You are placed on a list"),
    NoticeKind.MEASURE_STARTED: ("实施惩戒措施", "A restriction applies to you"),
    NoticeKind.OBJECTION_DECIDED: ("异议处理结果", "Your objection was decided"),
    NoticeKind.REPAIR_DECIDED: (
        "信用修复申请处理结果",
        "Your credit repair application was decided",
    ),
    NoticeKind.RECORD_CONFIRMED: (
        "自动监测记录经人工确认",
        "A record on monitoring data was confirmed",
    ),
}

_OUTCOME_ZH = {
    "upheld": "异议成立",
    "dismissed": "异议不成立",
    "granted": "准予修复",
    "refused": "不予修复",
    "confirmed": "已确认",
    "rejected": "不予确认",
}


def render(notice: Notice) -> Rendered:
    """The notice in Chinese and English: what happened, the records and rule, how long,
    how to object or apply for repair, and what it rests on. No resident ID number."""
    zh, en = _WHAT[notice.kind]
    f = notice.facts
    who = notice.subject_label
    if who is None and not is_person(notice.subject_id):
        who = notice.subject_id  # an organisation's USCC is public
    lines_zh = [f"信用信息告知书 {notice.id}", ""]
    lines_en = [f"Notice {notice.id}", ""]
    if who:
        lines_zh.append(f"告知对象：{who}")
        lines_en.append(f"To: {who}")
    lines_zh.append(f"事项：{zh}")
    lines_en.append(f"What: {en}.")
    if f.outcome:
        lines_zh.append(f"结果：{_OUTCOME_ZH.get(f.outcome, f.outcome)}（决定 {f.decision_ref}）")
        lines_en.append(f"Outcome: {f.outcome} (decision {f.decision_ref}).")
    if f.reasons:
        lines_zh.append(f"理由：{f.reasons}")
        lines_en.append(f"Reasons: {f.reasons}")
    for r in f.records:
        doc_zh = f"，文书号 {r.document_number}" if r.document_number else ""
        doc_en = f", document {r.document_number}" if r.document_number else ""
        lines_zh.append(
            f"记录：{r.category_title_zh or r.category}（{r.category}{doc_zh}，"
            f"记录编号 {r.record_id}）"
        )
        lines_en.append(
            f"Record: {r.category_title or r.category} ({r.category}{doc_en}, "
            f"record {r.record_id})."
        )
    rule = f.rule
    if rule is not None:
        lines_zh.append(f"规则：{rule.rulebook_title}（{rule.rulebook}）")
        lines_en.append(f"Rule: {rule.rulebook_title} ({rule.rulebook}).")
        if rule.list_id:
            lines_zh.append(
                f"名单：{rule.list_title or rule.list_id}（{rule.list_id}）；条件：{rule.condition}"
            )
            lines_en.append(
                f"List: {rule.list_title or rule.list_id} ({rule.list_id}), "
                f"{rule.list_kind or ''} list; condition: {rule.condition}."
            )
        if rule.measure_id:
            lines_zh.append(
                f"措施：{rule.measure_id}，限制 {'、'.join(rule.actions)}；实施单位：{rule.agency}"
            )
            lines_en.append(
                f"Measure: {rule.measure_id}, restricting {', '.join(rule.actions)}; "
                f"applied by {rule.agency}."
            )
        if rule.legal_basis:
            lines_zh.append(f"法律依据：{'；'.join(rule.legal_basis)}")
            lines_en.append(f"Legal basis: {'; '.join(rule.legal_basis)}.")
    if f.since or f.until:
        pending = notice.kind is NoticeKind.LISTING_PENDING
        # `until` is the first day it no longer applies ([since, until))
        end_zh = f"{f.until} 起不再适用" if f.until else "至移出名单或期满时止"
        end_en = (
            f"no longer applies from {f.until}"
            if f.until
            else "until removed from the list or expired"
        )
        if pending and f.effective_from:
            start_zh = f"自 {f.since} 起公示告知，拟于 {f.effective_from} 生效"
            start_en = f"announced from {f.since}, to take effect on {f.effective_from}"
        elif pending:
            start_zh = f"自 {f.since} 起告知，期满前不生效"
            start_en = f"announced from {f.since}; it ends before it would take effect"
        else:
            start_zh, start_en = f"自 {f.since} 起", f"from {f.since}"
        lines_zh.append(f"期限：{start_zh}，{end_zh}")
        lines_en.append(f"How long: {start_en}, {end_en}.")
    if rule is not None and rule.removal:
        lines_en.append(f"Removal: {rule.removal}")
    lines_zh += _remedies_zh(notice)
    lines_en += _remedies_en(notice)
    b = f.basis
    if b.ledger_seq is not None or b.access_log_ref:
        ref = f"ledger entry {b.ledger_seq}" if b.ledger_seq is not None else ""
        ref_zh = f"账本序号 {b.ledger_seq}" if b.ledger_seq is not None else ""
        if b.access_log_ref:
            ref += ("; " if ref else "") + f"access log {b.access_log_ref}"
            ref_zh += ("；" if ref_zh else "") + f"访问日志 {b.access_log_ref}"
        lines_zh.append(f"依据记录：{ref_zh}")
        lines_en.append(f"Rests on: {ref}.")
    lines_zh.append(f"生成时间：{notice.created}")
    lines_en.append(f"Issued: {notice.created}")
    body = "\n".join([*lines_zh, "", "—" * 20, "", *lines_en]) + "\n"
    subject = f"信用信息告知 / Notice: {zh} / {en}"
    return Rendered(mask_text(subject), mask_text(body))


def _remedies_zh(notice: Notice) -> list[str]:
    f, r = notice.facts, notice.facts.remedies
    out: list[str] = []
    if notice.kind is NoticeKind.LISTING_PENDING and r.notice_period_days is not None:
        out.append(f"宽限期：{r.notice_period_days} 日；期间提出异议的，暂缓生效")
    within = f"自本告知之日起 {r.object_within_days} 日内" if r.object_within_days else ""
    reply = f"，将在 {r.reply_working_days} 个工作日内答复" if r.reply_working_days else ""
    out.append(f"异议：如认为记录或结果有误，可{within}提出异议并附理由和证据{reply}")
    if r.repair_available:
        repair = [x.repair_from for x in f.records if x.repair_from]
        when = f"自 {min(repair)} 起" if repair else "在最短公示期满后"
        out.append(f"信用修复：{when}可申请信用修复（免费）")
    if r.contact:
        out.append(f"受理：{r.contact}")
    return out


def _remedies_en(notice: Notice) -> list[str]:
    f, r = notice.facts, notice.facts.remedies
    out: list[str] = []
    if notice.kind is NoticeKind.LISTING_PENDING and r.notice_period_days is not None:
        out.append(f"Grace: {r.notice_period_days} days; an objection filed meanwhile holds it.")
    within = f" within {r.object_within_days} days of this notice" if r.object_within_days else ""
    reply = (
        f"; a reviewer replies within {r.reply_working_days} working days"
        if r.reply_working_days
        else ""
    )
    out.append(
        f"To object: if a record or outcome is wrong, object{within} with reasons and "
        f"evidence{reply}."
    )
    if r.repair_available:
        repair = [x.repair_from for x in f.records if x.repair_from]
        when = f"from {min(repair)}" if repair else "after the minimum publicity period"
        out.append(f"Credit repair: you may apply {when} (free of charge).")
    if r.contact:
        out.append(f"Where: {r.contact}")
    return out
