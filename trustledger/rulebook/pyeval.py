"""The Python compiler of conditions: one subject, its records in force at T, and T.

The tree is turned into nested closures once; evaluating a condition then runs only those
closures, with no per-node dispatch. The semantics are the specification's
(docs/rulebooks.md, "Condition language") and must agree with the SQL compiler's:

* `/` truncates toward zero and x / 0 is 0;
* `within` keeps records with `published >= within.before(T)`;
* `age` is (T - published) in days;
* `days_since` is (T - latest matching published) in days, or 100000 when none match;
* `sum`, `max` and `min` of no records are 0.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date
from typing import Any, Final, NamedTuple, TypeAlias, assert_never

from trustledger.rulebook.condition import (
    Aggregate,
    Arith,
    BoolLit,
    Compare,
    Condition,
    Expr,
    InList,
    IntLit,
    Logic,
    Name,
    Neg,
    Not,
    TextLit,
)
from trustledger.rulebook.durations import Duration

__all__ = [
    "NO_RECORD_DAYS",
    "Evaluator",
    "RecordFacts",
    "SubjectFacts",
    "Value",
    "compile_condition",
    "compile_matcher",
]

NO_RECORD_DAYS: Final = 100_000


class SubjectFacts(NamedTuple):
    score: int
    grade: str
    kind: str
    division: str


class RecordFacts(NamedTuple):
    category: str
    domain: str
    tier: str
    polarity: str
    decision_type: str
    points: int
    published: date


Value: TypeAlias = bool | int | str
Evaluator: TypeAlias = Callable[[SubjectFacts, Sequence[RecordFacts], date], Value]

# Every closure takes (env, T). At the top level env is the subject's fields followed by
# its records; inside a filter env is one RecordFacts. A single calling convention lets one
# compiler serve both scopes, and plain tuple indexing is the cheapest lookup Python has.
_Env: TypeAlias = tuple[Any, ...]
_Fn: TypeAlias = Callable[[_Env, date], Any]

_SUBJECT_INDEX: Final[Mapping[str, int]] = {n: i for i, n in enumerate(SubjectFacts._fields)}
_RECORDS: Final = len(SubjectFacts._fields)
_RECORD_INDEX: Final[Mapping[str, int]] = {n: i for i, n in enumerate(RecordFacts._fields)}
_PUBLISHED: Final = RecordFacts._fields.index("published")


def compile_condition(cond: Condition) -> Evaluator:
    """Compile a list or grade condition into `evaluate(subject, records, at)`.

    `records` are the subject's records in force at `at`; the result is the condition's
    value (a bool for every condition `parse_condition` accepts).
    """
    if cond.scope == "filter":
        raise ValueError("a filter condition is compiled as part of its aggregate, not alone")
    fn = _compile(cond.root, _SUBJECT_INDEX)

    def evaluate(subject: SubjectFacts, records: Sequence[RecordFacts], at: date) -> Value:
        result: Value = fn((*subject, records), at)
        return result

    return evaluate


def _div(a: int, b: int) -> int:
    # Python's // floors; SQL and the specification truncate toward zero.
    if b == 0:
        return 0
    q = abs(a) // abs(b)
    return q if (a < 0) == (b < 0) else -q


def _constant(node: Expr) -> tuple[bool, Any]:
    if isinstance(node, IntLit | TextLit | BoolLit):
        return True, node.value
    return False, None


def _compile(node: Expr, names: Mapping[str, int]) -> _Fn:
    match node:
        case IntLit() | TextLit() | BoolLit():
            value = node.value
            return lambda e, t: value
        case Name():
            if node.name == "age":
                return lambda e, t: (t - e[_PUBLISHED]).days
            i = names[node.name]
            return lambda e, t: e[i]
        case Neg():
            f = _compile(node.operand, names)
            return lambda e, t: -f(e, t)
        case Not():
            f = _compile(node.operand, names)
            return lambda e, t: not f(e, t)
        case Arith():
            return _compile_arith(node, names)
        case Compare():
            return _compile_compare(node, names)
        case InList():
            return _compile_in(node, names)
        case Logic():
            fl = _compile(node.left, names)
            fr = _compile(node.right, names)
            if node.op == "and":
                return lambda e, t: fl(e, t) and fr(e, t)
            return lambda e, t: fl(e, t) or fr(e, t)
        case Aggregate():
            return _compile_aggregate(node)
        case _:
            assert_never(node)


def _compile_arith(node: Arith, names: Mapping[str, int]) -> _Fn:
    fl = _compile(node.left, names)
    fr = _compile(node.right, names)
    match node.op:
        case "+":
            return lambda e, t: fl(e, t) + fr(e, t)
        case "-":
            return lambda e, t: fl(e, t) - fr(e, t)
        case "*":
            return lambda e, t: fl(e, t) * fr(e, t)
        case "/":
            return lambda e, t: _div(fl(e, t), fr(e, t))
        case _:
            assert_never(node.op)


def _compile_compare(node: Compare, names: Mapping[str, int]) -> _Fn:
    fl = _compile(node.left, names)
    is_constant, v = _constant(node.right)
    # `x OP literal` is the common shape (tier == 'serious', count(...) >= 1); comparing
    # against the literal directly saves a call per evaluation, per record in a filter.
    if is_constant:
        if isinstance(node.left, Name) and node.left.name != "age":
            i = names[node.left.name]
            match node.op:
                case "==":
                    return lambda e, t: e[i] == v
                case "!=":
                    return lambda e, t: e[i] != v
                case "<":
                    return lambda e, t: e[i] < v
                case "<=":
                    return lambda e, t: e[i] <= v
                case ">":
                    return lambda e, t: e[i] > v
                case ">=":
                    return lambda e, t: e[i] >= v
                case _:
                    assert_never(node.op)
        match node.op:
            case "==":
                return lambda e, t: fl(e, t) == v
            case "!=":
                return lambda e, t: fl(e, t) != v
            case "<":
                return lambda e, t: fl(e, t) < v
            case "<=":
                return lambda e, t: fl(e, t) <= v
            case ">":
                return lambda e, t: fl(e, t) > v
            case ">=":
                return lambda e, t: fl(e, t) >= v
            case _:
                assert_never(node.op)
    fr = _compile(node.right, names)
    match node.op:
        case "==":
            return lambda e, t: fl(e, t) == fr(e, t)
        case "!=":
            return lambda e, t: fl(e, t) != fr(e, t)
        case "<":
            return lambda e, t: fl(e, t) < fr(e, t)
        case "<=":
            return lambda e, t: fl(e, t) <= fr(e, t)
        case ">":
            return lambda e, t: fl(e, t) > fr(e, t)
        case ">=":
            return lambda e, t: fl(e, t) >= fr(e, t)
        case _:
            assert_never(node.op)


def _compile_in(node: InList, names: Mapping[str, int]) -> _Fn:
    # The type checker made every element the operand's type, so True and 1 (equal and
    # equally hashed in Python) never meet in one set.
    values = frozenset(v.value for v in node.values)
    if isinstance(node.operand, Name) and node.operand.name != "age":
        i = names[node.operand.name]
        if node.negated:
            return lambda e, t: e[i] not in values
        return lambda e, t: e[i] in values
    f = _compile(node.operand, names)
    if node.negated:
        return lambda e, t: f(e, t) not in values
    return lambda e, t: f(e, t) in values


def _window(within: Duration) -> Callable[[date], date]:
    """`within.before`, remembering the last T: one evaluation run uses one T throughout."""
    last: list[tuple[date, date] | None] = [None]

    def cutoff(t: date) -> date:
        # One tuple read and one tuple write: safe without a lock across threads.
        seen = last[0]
        if seen is not None and seen[0] == t:
            return seen[1]
        lo = within.before(t)
        last[0] = (t, lo)
        return lo

    return cutoff


def _compile_aggregate(node: Aggregate) -> _Fn:
    keep = None if node.filter is None else _compile(node.filter, _RECORD_INDEX)
    cutoff = None if node.within is None else _window(node.within)

    def matching(e: _Env, t: date) -> Sequence[RecordFacts]:
        records: Sequence[RecordFacts] = e[_RECORDS]
        if cutoff is not None:
            lo = cutoff(t)
            records = [r for r in records if r.published >= lo]
        if keep is not None:
            records = [r for r in records if keep(r, t)]
        return records

    match node.func:
        case "count":
            return lambda e, t: len(matching(e, t))
        case "sum":
            return lambda e, t: sum([r.points for r in matching(e, t)])
        case "max":
            return lambda e, t: max([r.points for r in matching(e, t)], default=0)
        case "min":
            return lambda e, t: min([r.points for r in matching(e, t)], default=0)
        case "days_since":

            def days_since(e: _Env, t: date) -> int:
                latest = max([r.published for r in matching(e, t)], default=None)
                return NO_RECORD_DAYS if latest is None else (t - latest).days

            return days_since
        case _:
            assert_never(node.func)


def compile_matcher(node: Aggregate) -> Callable[[Sequence[RecordFacts], date], list[int]]:
    """For an aggregate, the positions of the records it counts at T (for explanations)."""
    keep = None if node.filter is None else _compile(node.filter, _RECORD_INDEX)
    cutoff = None if node.within is None else _window(node.within)

    def positions(records: Sequence[RecordFacts], t: date) -> list[int]:
        lo = None if cutoff is None else cutoff(t)
        return [
            i
            for i, r in enumerate(records)
            if (lo is None or r.published >= lo) and (keep is None or keep(r, t))
        ]

    return positions
