"""One subject's check for the CLI: "may X do Y on day D?", from that subject's rows only.

The live answer (``known_at`` now) comes from the state tables, read for this subject (and
for the organisations whose restrictions extend to this person), into the same
``CheckIndex`` the API serves from, so both faces give the same answer with the same
reasons. An answer as known at another instant evaluates the subject from the ledger as it
stood then (the live state is never touched).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from trustledger.app import queries
from trustledger.app.errors import BadInput
from trustledger.app.time import When

if TYPE_CHECKING:
    from trustledger.app.context import Context
    from trustledger.sanctions.check import CheckIndex, Decision

# exit codes are the answer, so scripts need not parse the output
EXIT_BY_STATUS = {"allow": 0, "allow_with_incentives": 0, "deny": 3, "unknown": 4}


@dataclass(frozen=True)
class CheckAnswer:
    subject_id: str  # the keyed hash for a person: the clear ID number is never kept
    action: str
    when: When
    decision: Decision

    @property
    def exit_code(self) -> int:
        return EXIT_BY_STATUS[self.decision.status]

    def to_json(self) -> dict[str, Any]:
        return {"subject": self.subject_id, "action": self.action, **self.when.to_json(),
                **self.decision.to_json()}  # fmt: skip


def resolve_subject(ctx: Context, text: str, *, link: bool = True) -> str:
    """A ledger id from what a user types: a USCC, a resident ID number (hashed here, never
    kept) or an internal person id. A person found through a retired person key is linked
    to the current one on record at once (``link`` False: the caller does it, under its
    own lock, with ``person_keys.record_links``)."""
    from trustledger.domain import SubjectKind
    from trustledger.ids import check_identifier

    text = text.strip()
    if len(text) == 33 and text.startswith("P") and all(c in "0123456789abcdef" for c in text[1:]):
        return text
    check = check_identifier(text, None, frozenset())
    if not check.valid:
        raise BadInput(f"{check.display_code} is not a valid identifier: {'; '.join(check.errors)}")
    if check.kind is SubjectKind.PERSON:
        keyer = ctx.keyer
        if keyer is None:
            raise BadInput("a resident ID number needs the person key (TRUSTLEDGER_PERSON_KEY)")
        person_id = keyer.person_id(check.code)
        if link:
            from trustledger.app.person_keys import record_links

            record_links(ctx)
        return person_id
    return check.code


def _is_person(subject_id: str) -> bool:
    return subject_id.startswith("P")


def subject_index(ctx: Context, subject_id: str) -> CheckIndex:
    """A check index holding just this subject's live state."""
    from trustledger.evaluate.queries import latest_positions
    from trustledger.sanctions.check import CheckIndex

    store = ctx.store
    profiles, lists, measures = (list(rows) for rows in queries.state_of(store, subject_id))
    # only persons are reached through an organisation's records (its representative)
    extended = queries.measures_extending_to(store, subject_id) if _is_person(subject_id) else []
    # an extended measure counts only beside its organisation's evaluation (the index
    # fails closed on a measure without a profile), and carries its list's records
    for organisation in sorted({row[2] for row in extended} - {subject_id}):
        org_profiles, org_lists, _ = queries.state_of(store, organisation)
        profiles += org_profiles
        lists += org_lists
    measures += [row for row in extended if row[2] != subject_id]
    known = [subject_id] if queries.subject_exists(store, subject_id) else []
    return CheckIndex(
        subjects=known,
        profiles=profiles,
        lists=lists,
        measures=measures,
        timezone=ctx.settings.timezone,
        positions=latest_positions(store, [subject_id]),
        exceptions=queries.exceptions_of(store, subject_id),
    )


def _index_as_known_at(ctx: Context, subject_id: str, when: When) -> CheckIndex:
    """A check index from evaluating the subject (and the organisations that named it in
    the live state) on the ledger as it stood at ``when.at_us``."""
    from trustledger.evaluate.service import UnknownSubject, subject_profiles
    from trustledger.sanctions.check import CheckIndex

    assert when.at_us is not None
    size = ctx.store.size_at(when.at_us)
    rows: tuple[list[tuple[Any, ...]], ...] = ([], [], [])
    extended = (
        queries.measures_extending_to(ctx.store, subject_id) if _is_person(subject_id) else []
    )
    organisations = {row[2] for row in extended}
    known: list[str] = []
    for sid in [subject_id, *sorted(organisations - {subject_id})]:
        try:
            profiles = subject_profiles(ctx.store, ctx.catalogue, sid, at_us=when.at_us,
                                        on=when.on)  # fmt: skip
        except UnknownSubject:
            continue
        if sid == subject_id:
            known.append(sid)
        for p in profiles:
            if not p.applicable:
                continue
            rows[0].append((p.rulebook, sid, p.score, p.grade,
                            json.dumps([m.list_id for m in p.lists]), p.on, size))  # fmt: skip
            rows[1].extend(
                (p.rulebook, m.list_id, sid, m.kind, m.since, m.until, json.dumps(m.records))
                for m in p.lists
            )
            rows[2].extend(
                (p.rulebook, m.measure_id, sid, m.kind, m.list_id, json.dumps(m.actions),
                 m.start, m.end, m.agency, json.dumps(m.extends_to, sort_keys=True))
                for m in p.measures
                if sid == subject_id or any(subject_id in v for v in m.extends_to.values())
            )  # fmt: skip
    return CheckIndex(subjects=known, profiles=rows[0], lists=rows[1], measures=rows[2],
                      timezone=ctx.settings.timezone,
                      exceptions=queries.exceptions_of(ctx.store, subject_id, size))  # fmt: skip


def record_local(
    ctx: Context, action: str, subject_id: str | None, detail: dict[str, Any] | None = None
) -> None:
    """A read at the command line — by someone holding the database itself, with no key —
    in the access log: role ``local``, the operating-system user in ``detail``."""
    import dataclasses
    import getpass

    from trustledger.access.log import PendingAccess, record_many

    try:
        user: str | None = getpass.getuser()
    except Exception:
        user = None
    row = PendingAccess.of(None, action, subject_id=subject_id, purpose=None,
                           detail={**(detail or {}), "user": user})  # fmt: skip
    record_many(ctx.store, [dataclasses.replace(row, role="local")])


def check_subject(
    ctx: Context, subject: str, action: str, when: When, *, log: bool = True
) -> CheckAnswer:
    """The decision for one subject and one action, with reasons. A check on a person is
    written to the access log as a local read (``log`` False: the caller logs it, as the
    API does with its principal)."""
    subject_id = resolve_subject(ctx, subject)
    if log and _is_person(subject_id):
        record_local(ctx, "check", subject_id, {"action": action})
    if when.live:
        index = subject_index(ctx, subject_id)
    else:
        index = _index_as_known_at(ctx, subject_id, when)
    return CheckAnswer(subject_id, action, when, index.check(subject_id, action, when.on))
