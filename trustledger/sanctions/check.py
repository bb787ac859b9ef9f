"""The check index: "may subject X do action Y on day D?", answered from memory with reasons.

The index is built once from the state tables that evaluation writes. It holds, per
subject with a measure, the measures themselves, each with the set of actions it reaches
(one shared set for every measure of a kind): a restriction on 30 actions is one object,
not 30. The common case (a subject no measure touches) is one dict miss plus two
membership tests, and the answer is a shared immutable ``Decision``; a subject with
measures is answered by filtering its few measures on the action.

Fail closed (principle 7): an action outside the catalogue, a subject the ledger does not
know, and a subject that was never evaluated are each answered ``unknown`` with a reason,
never ``allow``.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
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


# the keys of a measure's reason, in the order answers give them; an extended one adds "via"
_REASON_KEYS: tuple[str, ...] = ("measure", "kind", "list", "rulebook", "start", "end",
                                 "agency", "records")  # fmt: skip
_VIA_KEYS = (*_REASON_KEYS, "via")
# distinct answers kept for batches that ask about the same listed subjects again and again
_MEMO_LIMIT = 100_000


@dataclass(frozen=True, slots=True)
class _Measure:
    start: int  # date ordinal
    end: int  # date ordinal, exclusive; _OPEN when open-ended
    actions: frozenset[str]  # the catalogue's actions it reaches (shared between measures)
    fields: tuple[Any, ...]  # the reason's values, in the order of ``keys``
    keys: tuple[str, ...] = _REASON_KEYS

    def reason(self) -> dict[str, Any]:
        """The reason an answer gives (a new dict: a caller may keep or change it)."""
        return dict(zip(self.keys, self.fields, strict=True))

    @property
    def measure_id(self) -> str:
        return str(self.fields[0])

    @property
    def via_subject(self) -> str | None:
        """The organisation whose listing this measure reaches a person through."""
        return str(self.fields[8]["subject"]) if self.keys is _VIA_KEYS else None


@dataclass(frozen=True, slots=True)
class _Run:
    """A black-list run in effect from ``start`` (withholds every incentive)."""

    start: int
    end: int
    reason: dict[str, Any]


@dataclass(slots=True)
class _Held:
    """The measures a subject holds."""

    restrictions: list[_Measure] = field(default_factory=list)
    incentives: list[_Measure] = field(default_factory=list)
    # restrictions that reach this person through an organisation's listing (its legal
    # representative, where the rulebook says so); kept apart so that either side's
    # state can be replaced without the other's
    extended: list[_Measure] = field(default_factory=list)
    # every action a measure held reaches (a set shared with the subjects holding the same)
    actions: frozenset[str] = frozenset()

    def empty(self) -> bool:
        return not (self.restrictions or self.incentives or self.extended)

    def measures(self) -> Iterator[_Measure]:
        yield from self.restrictions
        yield from self.incentives
        yield from self.extended


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
        if self.measure is not None and m.measure_id != self.measure:
            return False
        return self.entity is None or m.via_subject == self.entity


def _ordinal(text: str | None, default: int) -> int:
    return default if text is None else date.fromisoformat(text).toordinal()


class CheckIndex:
    """Measures in force per (subject, action), built from the state tables."""

    __slots__ = (
        "_actions",
        "_allow",
        "_behind",
        "_black",
        "_evaluated",
        "_extended_by",
        "_grants",
        "_held",
        "_known",
        "_memo",
        "_narrower",
        "_reached",
        "_sets",
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
        self._held: dict[str, _Held] = {}
        # organisation → the persons its measures reach
        self._extended_by: dict[str, set[str]] = defaultdict(set)
        # subject → its black-list runs: no incentive reaches a subject on any black list
        self._black: dict[str, list[_Run]] = {}
        # a measure's actions (as the state writes them) → the set of actions it reaches
        self._reached: dict[str, frozenset[str]] = {}
        # one copy of each set of actions, and of each union of two (subjects share them)
        self._sets: dict[Any, frozenset[str]] = {}
        # (subject, action) → (day, ledger position, the answer then)
        self._memo: dict[tuple[str, str], tuple[int, int, Decision]] = {}
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
        self._memo.clear()
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
        # state rows repeat a few texts (rulebooks, lists, days, agencies) millions of times:
        # one copy of each is kept
        texts: dict[Any, Any] = {}
        one = texts.setdefault
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
                run = {"list": one(row[1], row[1]), "rulebook": one(row[0], row[0]),
                       "since": one(effective, effective),
                       "until": one(row[5], row[5])}  # fmt: skip
                self._black.setdefault(row[2], []).append(
                    _Run(_ordinal(effective, 0), _ordinal(row[5], _OPEN), run)
                )
        for row in measures:
            rulebook, measure_id, subject_id, kind, list_id, acts, starts, ends, agency = row[:9]
            if subject_id not in reflects:
                continue  # a measure without a profile is inconsistent state: fail closed
            fields = (
                one(measure_id, measure_id), one(kind, kind), one(list_id, list_id),
                one(rulebook, rulebook), one(starts, starts), one(ends, ends),
                one(agency, agency), records.get((rulebook, list_id, subject_id, starts), ()),
            )  # fmt: skip
            m = _Measure(_ordinal(starts, 0), _ordinal(ends, _OPEN), self._reached_by(acts),
                         fields)  # fmt: skip
            if m.actions:  # an action outside the catalogue stays unanswerable
                held = self._held.get(subject_id)
                if held is None:
                    held = self._held[subject_id] = _Held()
                (held.restrictions if kind == "restriction" else held.incentives).append(m)
                self._widen(held, m.actions)
            if kind == "restriction" and row[9] != "{}":
                self._extend(subject_id, m, json.loads(row[9]))
        self._memo.clear()
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

    def _reached_by(self, acts: str) -> frozenset[str]:
        """The catalogue's actions a measure on ``acts`` (a JSON list) reaches, one shared
        set for every measure written with the same list."""
        found = self._reached.get(acts)
        if found is None:
            reached = frozenset(a for a in self._reach(json.loads(acts)) if a in self._actions)
            found = self._reached[acts] = reached
        return found

    def _widen(self, held: _Held, actions: frozenset[str]) -> None:
        if actions <= held.actions:
            return
        key = (held.actions, actions)
        union = self._sets.get(key)
        if union is None:
            union = held.actions | actions
            union = self._sets[key] = self._sets.setdefault(union, union)
        held.actions = union

    def _narrow(self, held: _Held) -> None:
        """Work ``held.actions`` out again after measures were taken away."""
        union = frozenset().union(*(m.actions for m in held.measures()))
        held.actions = self._sets.setdefault(union, union)

    def _extend(self, organisation: str, m: _Measure, extends_to: dict[str, list[str]]) -> None:
        if not m.actions:
            return
        for role, persons in extends_to.items():
            via = {"subject": organisation, "role": role}
            extended = _Measure(m.start, m.end, m.actions, (*m.fields, via), _VIA_KEYS)
            for person in persons:
                held = self._held.get(person)
                if held is None:
                    held = self._held[person] = _Held()
                held.extended.append(extended)
                self._widen(held, m.actions)
                self._extended_by[organisation].add(person)

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
            held = self._held.get(subject_id)
            if held is not None:
                held.restrictions, held.incentives = [], []
                self._narrow(held)
                self._drop_if_empty(subject_id, held)
            for person in self._extended_by.pop(subject_id, ()):
                held = self._held[person]
                held.extended = [m for m in held.extended if m.via_subject != subject_id]
                self._narrow(held)
                self._drop_if_empty(person, held)
        self._add(profiles, lists, measures, positions)

    def _drop_if_empty(self, subject_id: str, held: _Held) -> None:
        if held.empty():
            del self._held[subject_id]

    @classmethod
    def load(cls, store: Store, *, timezone: str = "Asia/Shanghai") -> CheckIndex:
        def rows(table: str) -> Iterator[tuple[Any, ...]]:
            # read when the index comes to the table: one table's rows held at a time
            yield from store.state_rows(table)

        return cls(
            subjects=(row[0] for row in store.iter_rows("subjects")),
            profiles=rows("state_profiles"),
            lists=rows("state_lists"),
            measures=rows("state_measures"),
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
        held = self._held.get(subject_id)
        if held is not None and action in held.actions:
            return self._decide(
                subject_id, action, held, (self.today() if on is None else on).toordinal()
            )
        if action in self._actions and subject_id in self._evaluated:
            return self._allow
        return self._unknown(subject_id, action)

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

    def _decide(self, subject_id: str, action: str, held: _Held, day: int) -> Decision:
        key = (subject_id, action)
        memo = self._memo.get(key)
        if memo is not None and memo[0] == day and memo[1] == self.ledger_size:
            return memo[2]
        decision = self._judge(subject_id, action, held, day)
        if len(self._memo) >= _MEMO_LIMIT:
            self._memo.clear()
        self._memo[key] = (day, self.ledger_size, decision)
        return decision

    def _judge(self, subject_id: str, action: str, held: _Held, day: int) -> Decision:
        if subject_id in self._behind:
            return self._unknown(subject_id, action)
        restricting = [m for m in (*held.restrictions, *held.extended)
                       if action in m.actions and m.start <= day < m.end]  # fmt: skip
        grants = self._grants.get((subject_id, action), ()) if restricting else ()
        lifted = [g for g in grants if any(g.lifts(m, day) for m in restricting)]
        if lifted:
            # a court's exception (art. 3): the restrictions it covers do not deny today
            restricting = [m for m in restricting if not any(g.lifts(m, day) for g in lifted)]
        denied = tuple(m.reason() for m in restricting)
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
        rewarded = tuple(m.reason() for m in held.incentives
                         if action in m.actions and m.start <= day < m.end)  # fmt: skip
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
