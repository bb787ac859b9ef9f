"""The check index: "may subject X do action Y on day D?", answered from memory with reasons.

The index is built once from the state tables that evaluation writes. Everything a check
needs is precomputed into plain dicts keyed by ``(subject_id, action)``, so the common
case (no measure touches the pair) is one dict miss plus two membership tests, and the
answer is a shared immutable ``Decision``.

Fail closed (principle 7): an action outside the catalogue, a subject the ledger does not
know, and a subject that was never evaluated are each answered ``unknown`` with a reason,
never ``allow``.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from trustledger.evaluate.queries import latest_positions
from trustledger.ledger.store import Store
from trustledger.sanctions.actions import load_actions

__all__ = [
    "BEHIND",
    "EXCEPTION_GRANTED",
    "INCENTIVES_WITHHELD",
    "UNEVALUATED",
    "UNKNOWN_ACTION",
    "UNKNOWN_SUBJECT",
    "CheckIndex",
    "Decision",
    "Status",
]

Status = Literal["allow", "deny", "allow_with_incentives", "unknown"]

UNKNOWN_ACTION = "unknown action"
UNEVALUATED = "no evaluation for this subject"
UNKNOWN_SUBJECT = "subject unknown"
INCENTIVES_WITHHELD = "incentives withheld: on the black list "
BEHIND = "evaluation behind the ledger: entries about this subject since it was evaluated"
EXCEPTION_GRANTED = "exception granted by the court (spending with personal funds): "

# An open-ended measure (ends when the subject leaves the list) compares as never ending.
_OPEN = date.max.toordinal() + 1


@dataclass(frozen=True, slots=True)
class Decision:
    """The answer to one check. ``reasons`` are the measures behind a deny or an incentive;
    ``ledger_size`` is the ledger position the index reflects; ``why`` explains "unknown"."""

    status: Status
    reasons: tuple[dict[str, Any], ...] = ()
    ledger_size: int = 0
    why: str | None = None

    @property
    def allowed(self) -> bool:
        return self.status in ("allow", "allow_with_incentives")

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "why": self.why,
            "ledger_size": self.ledger_size,
            # shared, not copied: reasons are never changed once built, and serialisers
            # write tuples as arrays
            "reasons": self.reasons,
        }


@dataclass(frozen=True, slots=True)
class _Measure:
    start: int  # date ordinal
    end: int  # date ordinal, exclusive; _OPEN when open-ended
    reason: dict[str, Any]


@dataclass(slots=True)
class _Pair:
    restrictions: list[_Measure] = field(default_factory=list)
    incentives: list[_Measure] = field(default_factory=list)
    # restrictions that reach this person through an organisation's listing (its legal
    # representative, where the rulebook says so); kept apart so that either side's
    # state can be replaced without the other's
    extended: list[_Measure] = field(default_factory=list)
    # the last answer and the (day, ledger position) it was for: batches ask about the same
    # few listed subjects again and again, and an unchanged answer can be shared
    memo: Decision | None = None
    memo_day: int = -1
    memo_size: int = -1


@dataclass(frozen=True, slots=True)
class _Grant:
    """A court's exception to a restriction (SPC provisions on high consumption, art. 3)."""

    start: int  # date ordinal
    end: int  # date ordinal, exclusive
    entity: str | None  # lifts only restrictions reaching the person through this subject
    measure: str | None  # lifts only this measure
    reason: dict[str, Any]

    def lifts(self, m: _Measure, day: int) -> bool:
        if not self.start <= day < self.end:
            return False
        if self.measure is not None and m.reason["measure"] != self.measure:
            return False
        return self.entity is None or m.reason.get("via", {}).get("subject") == self.entity


def _ordinal(text: str | None, default: int) -> int:
    return default if text is None else date.fromisoformat(text).toordinal()


class CheckIndex:
    """Measures in force per (subject, action), built from the state tables."""

    __slots__ = (
        "_actions",
        "_allow",
        "_behind",
        "_black",
        "_by_subject",
        "_evaluated",
        "_extended_by",
        "_grants",
        "_known",
        "_narrower",
        "_pairs",
        "_zone",
        "ledger_size",
    )

    def __init__(
        self,
        *,
        subjects: Iterable[str],
        profiles: Iterable[Sequence[Any]],
        lists: Iterable[Sequence[Any]],
        measures: Iterable[Sequence[Any]],
        actions: Iterable[str] | None = None,
        timezone: str = "Asia/Shanghai",
        positions: Mapping[str, int] | None = None,
        exceptions: Iterable[Sequence[Any]] = (),
    ) -> None:
        """Rows as the state tables hold them (``state_profiles``, ``state_lists``,
        ``state_measures``, column order of ledger/schema.py); ``subjects`` are every
        subject id the ledger knows; ``actions`` default to the shipped catalogue;
        ``positions`` the newest entry about each subject (`latest_positions`): a subject
        evaluated before it is answered ``unknown`` (no current evaluation); ``exceptions``
        the courts' grants (rows of the ``exceptions`` table)."""
        catalogue = load_actions()
        self._actions = frozenset(catalogue.codes if actions is None else actions)
        # a measure on an action reaches the actions within it (all subsidies → environmental)
        self._narrower = catalogue.narrower if actions is None else {}
        self._zone = ZoneInfo(timezone)
        self._known = set(subjects)
        # evaluated and current; evaluated but older than an entry about the subject
        self._evaluated: set[str] = set()
        self._behind: set[str] = set()
        self._pairs: dict[tuple[str, str], _Pair] = {}
        # the actions each subject has measures for, so one subject can be replaced alone
        self._by_subject: dict[str, set[str]] = defaultdict(set)
        # organisation → the (person, action) pairs its measures reach
        self._extended_by: dict[str, set[tuple[str, str]]] = defaultdict(set)
        # subject → its black-list runs: no incentive reaches a subject on any black list
        self._black: dict[str, list[_Measure]] = {}
        self.ledger_size = 0
        # (subject, action) → the exceptions granted for it
        self._grants: dict[tuple[str, str], list[_Grant]] = {}
        self._add(profiles, lists, measures, positions)
        self.set_exceptions(exceptions)

    def set_exceptions(self, rows: Iterable[Sequence[Any]]) -> None:
        """Replace every grant of an exception with these rows (column order of the
        ``exceptions`` table): a small table, read whole whenever the ledger moves."""
        grants: dict[tuple[str, str], list[_Grant]] = {}
        for row in rows:
            grant_id, subject_id, authority, document, decided, entity, measure = row[:7]
            acts, valid_from, valid_until = row[7:10]
            reason = {
                "exception": grant_id,
                "authority": authority,
                "document_number": document,
                "decision_date": decided,
                "valid_from": valid_from,
                "valid_until": valid_until,
                "entity": entity,
                "measure": measure,
            }
            end = date.fromisoformat(valid_until).toordinal() + 1  # its last day included
            grant = _Grant(_ordinal(valid_from, 0), end, entity, measure, reason)
            for action in json.loads(acts):
                for reached in self._reach([action]):
                    grants.setdefault((subject_id, reached), []).append(grant)
        for key in self._grants.keys() | grants.keys():
            pair = self._pairs.get(key)
            if pair is not None:
                pair.memo = None
        self._grants = grants

    def _add(
        self,
        profiles: Iterable[Sequence[Any]],
        lists: Iterable[Sequence[Any]],
        measures: Iterable[Sequence[Any]],
        positions: Mapping[str, int] | None = None,
    ) -> None:
        # the oldest ledger position any of a subject's profiles reflects
        reflects: dict[str, int] = {}
        for profile in profiles:
            subject_id, size = profile[1], int(profile[6])
            old = reflects.get(subject_id)
            reflects[subject_id] = size if old is None else min(old, size)
            # the newest position any state row reflects: incremental refreshes only rewrite
            # the subjects an entry touched, so the rest are current as of that position too
            self.ledger_size = max(self.ledger_size, size)
        for subject_id, size in reflects.items():
            # entry seq s is in a ledger of size > s
            if positions is not None and positions.get(subject_id, -1) >= size:
                self._behind.add(subject_id)
            else:
                self._evaluated.add(subject_id)
        # (rulebook, list, subject, since) → the records behind that run
        records: dict[tuple[str, str, str, str], tuple[str, ...]] = {}
        for row in lists:
            behind = tuple(json.loads(row[6]))
            records[row[0], row[1], row[2], row[4]] = behind
            if len(row) > 7 and row[7] is not None:  # its measures start when it takes effect
                records[row[0], row[1], row[2], row[7]] = behind
            # a black list withholds incentives once in effect (pending: in its notice period)
            effective = row[7] if len(row) > 7 else row[4]
            if row[3] == "black" and row[2] in reflects and effective is not None:
                run = {"list": row[1], "rulebook": row[0], "since": effective, "until": row[5]}
                self._black.setdefault(row[2], []).append(
                    _Measure(_ordinal(effective, 0), _ordinal(row[5], _OPEN), run)
                )
        for row in measures:
            rulebook, measure_id, subject_id, kind, list_id, acts, starts, ends, agency = row[:9]
            if subject_id not in reflects:
                continue  # a measure without a profile is inconsistent state: fail closed
            reason = {
                "measure": measure_id,
                "kind": kind,
                "list": list_id,
                "rulebook": rulebook,
                "start": starts,
                "end": ends,
                "agency": agency,
                "records": records.get((rulebook, list_id, subject_id, starts), ()),
            }
            m = _Measure(_ordinal(starts, 0), _ordinal(ends, _OPEN), reason)
            actions = self._reach(json.loads(acts))
            for action in actions:
                # an action outside the catalogue stays unanswerable rather than half-known
                if action in self._actions:
                    pair = self._pairs.get((subject_id, action))
                    if pair is None:
                        pair = self._pairs[subject_id, action] = _Pair()
                        self._by_subject[subject_id].add(action)
                    (pair.restrictions if kind == "restriction" else pair.incentives).append(m)
                    pair.memo = None
            if kind == "restriction" and row[9] != "{}":
                self._extend(subject_id, m, json.loads(row[9]), actions)
        self._allow = Decision("allow", (), self.ledger_size)

    @property
    def subjects_evaluated(self) -> int:
        """Subjects the index holds an evaluation of (current or behind)."""
        return len(self._evaluated) + len(self._behind)

    def _reach(self, actions: list[str]) -> list[str]:
        if not self._narrower:
            return actions
        return list(dict.fromkeys(a for action in actions
                                  for a in (action, *self._narrower.get(action, ()))))  # fmt: skip

    def _extend(
        self, organisation: str, m: _Measure, extends_to: dict[str, list[str]], acts: list[str]
    ) -> None:
        for role, persons in extends_to.items():
            reason = {**m.reason, "via": {"subject": organisation, "role": role}}
            extended = _Measure(m.start, m.end, reason)
            for person in persons:
                for action in acts:
                    if action in self._actions:
                        pair = self._pairs.get((person, action))
                        if pair is None:
                            pair = self._pairs[person, action] = _Pair()
                        pair.extended.append(extended)
                        pair.memo = None
                        self._extended_by[organisation].add((person, action))

    def replace_subjects(
        self,
        subject_ids: Iterable[str],
        profiles: Iterable[Sequence[Any]],
        lists: Iterable[Sequence[Any]],
        measures: Iterable[Sequence[Any]],
        positions: Mapping[str, int] | None = None,
    ) -> None:
        """Swap in the current state rows of just these subjects (no full rebuild)."""
        for subject_id in subject_ids:
            self._known.add(subject_id)
            self._evaluated.discard(subject_id)
            self._behind.discard(subject_id)
            self._black.pop(subject_id, None)
            for action in self._by_subject.pop(subject_id, ()):
                pair = self._pairs[subject_id, action]
                pair.restrictions, pair.incentives, pair.memo = [], [], None
                self._drop_if_empty(subject_id, action, pair)
            for person, action in self._extended_by.pop(subject_id, ()):
                pair = self._pairs[person, action]
                pair.extended = [
                    m for m in pair.extended if m.reason["via"]["subject"] != subject_id
                ]
                pair.memo = None
                self._drop_if_empty(person, action, pair)
        self._add(profiles, lists, measures, positions)

    def _drop_if_empty(self, subject_id: str, action: str, pair: _Pair) -> None:
        if not (pair.restrictions or pair.incentives or pair.extended):
            del self._pairs[subject_id, action]

    @classmethod
    def load(cls, store: Store, *, timezone: str = "Asia/Shanghai") -> CheckIndex:
        return cls(
            subjects=(row[0] for row in store.iter_rows("subjects")),
            profiles=store.state_rows("state_profiles"),
            lists=store.state_rows("state_lists"),
            measures=store.state_rows("state_measures"),
            timezone=timezone,
            positions=latest_positions(store),
            exceptions=store.iter_rows("exceptions"),
        )

    @property
    def actions(self) -> frozenset[str]:
        return self._actions

    def today(self) -> date:
        return datetime.now(self._zone).date()

    def check(self, subject_id: str, action: str, on: date | None = None) -> Decision:
        """The decision for ``subject_id`` doing ``action`` on day ``on`` (default today)."""
        pair = self._pairs.get((subject_id, action))
        if pair is None:
            if action in self._actions and subject_id in self._evaluated:
                return self._allow
            return self._unknown(subject_id, action)
        return self._decide(
            subject_id, action, pair, (self.today() if on is None else on).toordinal()
        )

    def check_many(
        self, pairs: Iterable[tuple[str, str]], on: date | None = None
    ) -> list[Decision]:
        """Decisions for many (subject id, action) pairs, in order, all judged on one day."""
        day = self.today() if on is None else on
        check = self.check
        return [check(subject_id, action, day) for subject_id, action in pairs]

    def _unknown(self, subject_id: str, action: str) -> Decision:
        if action not in self._actions:
            why = UNKNOWN_ACTION
        elif subject_id in self._behind:
            why = BEHIND
        elif subject_id in self._known:
            why = UNEVALUATED
        else:
            why = UNKNOWN_SUBJECT
        return Decision("unknown", (), self.ledger_size, why)

    def _decide(self, subject_id: str, action: str, pair: _Pair, day: int) -> Decision:
        if pair.memo is not None and pair.memo_day == day and pair.memo_size == self.ledger_size:
            return pair.memo
        decision = self._judge(subject_id, action, pair, day)
        pair.memo, pair.memo_day, pair.memo_size = decision, day, self.ledger_size
        return decision

    def _judge(self, subject_id: str, action: str, pair: _Pair, day: int) -> Decision:
        if subject_id in self._behind:
            return self._unknown(subject_id, action)
        restricting = [m for m in (*pair.restrictions, *pair.extended) if m.start <= day < m.end]
        grants = self._grants.get((subject_id, action), ()) if restricting else ()
        lifted = [g for g in grants if any(g.lifts(m, day) for m in restricting)]
        if lifted:
            # a court's exception (art. 3): the restrictions it covers do not deny today
            restricting = [m for m in restricting if not any(g.lifts(m, day) for g in lifted)]
        denied = tuple(dict(m.reason) for m in restricting)
        if denied:
            return Decision("deny", denied, self.ledger_size)
        if lifted:
            granted = tuple(dict(g.reason) for g in lifted)
            why = EXCEPTION_GRANTED + "; ".join(
                f"{g.reason['document_number']} ({g.reason['valid_from']} to "
                f"{g.reason['valid_until']})"
                for g in lifted
            )
            if subject_id not in self._evaluated:
                # the grant lifts the restriction through the organisation; the person's
                # own standing is not known here
                return Decision("unknown", granted, self.ledger_size, f"{why}; {UNEVALUATED}")
            return Decision("allow", granted, self.ledger_size, why)
        if subject_id not in self._evaluated:
            # only reached through an organisation, and not restricted today: the person's
            # own standing is not known here
            return self._unknown(subject_id, action)
        rewarded = tuple(dict(m.reason) for m in pair.incentives if m.start <= day < m.end)
        if not rewarded:
            return self._allow
        black = [m.reason for m in self._black.get(subject_id, ()) if m.start <= day < m.end]
        if black:
            # joint rewards are for the trustworthy: a black list anywhere withholds every
            # incentive, whatever rulebook grants it
            why = INCENTIVES_WITHHELD + "; ".join(
                f"{b['list']} ({b['rulebook']}) since {b['since']}" for b in black
            )
            withheld = tuple({**r, "withheld_by": black} for r in rewarded)
            return Decision("allow", withheld, self.ledger_size, why)
        return Decision("allow_with_incentives", rewarded, self.ledger_size)
