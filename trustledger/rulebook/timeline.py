"""When a condition can change because time alone passes (DESIGN.md "Time").

A condition reads the day T in three ways: `within=` windows (a record drops out of the
window the day `within.before(T)` passes its publication), `age` inside a filter
(T − published) and `days_since(…)` (T − the latest matching publication). Standing is
stored as exact intervals, so every day on which one of these can turn a comparison must
be found, not only the days records change.

That is exact only when each time term is compared straight with a number: `age >= 1096`,
`days_since(tier == 'serious') < 365`, `age in [30, 60]`. Then a comparison can turn only
`k` or `k + 1` days after a publication, for each number `k` it is compared with. Time
terms inside arithmetic (`age * 2 > 10`, `days_since(…) - score > 0`) would move the turning
day by a value that itself changes, so the lint refuses them (`time_problems`) rather than
answering on the wrong day.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta

from trustledger.rulebook.condition import (
    Aggregate,
    Arith,
    BoolLit,
    Compare,
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

__all__ = ["TimeUse", "time_problems", "time_use", "window_exit"]


@dataclass(frozen=True)
class TimeUse:
    """How a set of conditions reads the day: the windows, and the day offsets after a
    publication on which an `age` or `days_since` comparison can turn."""

    windows: frozenset[Duration]
    age_offsets: frozenset[int]  # a record's filter can turn `k` days after its publication
    since_offsets: frozenset[int]  # a days_since comparison can turn `k` days after one

    @property
    def offsets(self) -> frozenset[int]:
        return self.age_offsets | self.since_offsets

    def change_days(self, published: date) -> Iterator[date]:
        """The days after a publication on which these conditions can turn because of it."""
        for window in self.windows:
            yield window_exit(window, published)
        for k in self.offsets:
            yield from _shifted(published, k)


def window_exit(window: Duration, published: date) -> date:
    """The first day T with `window.before(T) > published`: the record has left the window.

    `before` is monotone in T, so the days in the window are a run ending the day before
    this one; `after(published) + 1` is that day except where month clamping moves it.
    """
    day = window.after(published)
    if day == date.max:
        return day
    day += timedelta(days=1)
    while window.before(day - timedelta(days=1)) > published:
        day -= timedelta(days=1)
    while window.before(day) <= published:
        day += timedelta(days=1)
    return day


def _shifted(published: date, k: int) -> Iterator[date]:
    for offset in (k, k + 1):
        try:
            yield published + timedelta(days=offset)
        except OverflowError:
            continue


def time_use(trees: Iterable[Expr]) -> TimeUse:
    """The time use of these condition trees (already linted: see `time_problems`)."""
    windows: set[Duration] = set()
    ages: set[int] = set()
    since: set[int] = set()
    for tree in trees:
        for node in _walk(tree):
            if isinstance(node, Aggregate) and node.within is not None:
                windows.add(node.within)
            if isinstance(node, Compare):
                for side, other in ((node.left, node.right), (node.right, node.left)):
                    value = constant(other)
                    if value is None:
                        continue
                    if _is_age(side):
                        ages.add(value)
                    elif _is_days_since(side):
                        since.add(value)
            elif isinstance(node, InList):
                values = {v.value for v in node.values if isinstance(v, IntLit)}
                if _is_age(node.operand):
                    ages |= values
                elif _is_days_since(node.operand):
                    since |= values
    return TimeUse(frozenset(windows), frozenset(ages), frozenset(since))


def time_problems(tree: Expr) -> list[str]:
    """Uses of `age` or `days_since` whose turning day cannot be computed exactly."""
    problems: list[str] = []
    _check(tree, problems, allowed=False)
    return problems


def _check(node: Expr, problems: list[str], *, allowed: bool) -> None:
    """`allowed`: this node stands straight on one side of a comparison with a number, or
    is the operand of an `in` list."""
    if _is_age(node) or _is_days_since(node):
        if not allowed:
            what = "age" if _is_age(node) else "days_since(…)"
            problems.append(
                f"{what} must be compared straight with a number (such as `{what} >= 365`): "
                "inside arithmetic or against a changing value, the day the comparison "
                "turns cannot be known exactly"
            )
        if isinstance(node, Aggregate) and node.filter is not None:
            _check(node.filter, problems, allowed=False)
        return
    match node:
        case Compare():
            left_ok = constant(node.right) is not None
            right_ok = constant(node.left) is not None
            _check(node.left, problems, allowed=left_ok)
            _check(node.right, problems, allowed=right_ok)
        case InList():
            _check(node.operand, problems, allowed=True)
        case Aggregate():
            if node.filter is not None:
                _check(node.filter, problems, allowed=False)
        case Neg() | Not():
            _check(node.operand, problems, allowed=False)
        case Arith() | Logic():
            _check(node.left, problems, allowed=False)
            _check(node.right, problems, allowed=False)
        case IntLit() | TextLit() | BoolLit() | Name():
            pass


def _is_age(node: Expr) -> bool:
    return isinstance(node, Name) and node.name == "age"


def _is_days_since(node: Expr) -> bool:
    return isinstance(node, Aggregate) and node.func == "days_since"


def constant(node: Expr) -> int | None:
    """The value of an int expression made of numbers alone (`365 * 2`), as the compilers
    compute it (division truncates toward zero; by zero it is 0); None if it reads
    anything."""
    match node:
        case IntLit():
            return node.value
        case Neg():
            inner = constant(node.operand)
            return None if inner is None else -inner
        case Arith():
            left, right = constant(node.left), constant(node.right)
            if left is None or right is None:
                return None
            if node.op == "+":
                return left + right
            if node.op == "-":
                return left - right
            if node.op == "*":
                return left * right
            if right == 0:
                return 0
            quotient = abs(left) // abs(right)  # truncation toward zero, as the engines do
            return quotient if (left >= 0) == (right > 0) else -quotient
        case _:
            return None


def _walk(node: Expr) -> Iterator[Expr]:
    yield node
    match node:
        case Neg() | Not():
            yield from _walk(node.operand)
        case Arith() | Compare() | Logic():
            yield from _walk(node.left)
            yield from _walk(node.right)
        case InList():
            yield from _walk(node.operand)
        case Aggregate():
            if node.filter is not None:
                yield from _walk(node.filter)
        case _:
            pass
