"""Conditions in plain English, for people reading a rulebook (the portal's rulebook pages).

Rendered from the parser's typed tree (``trustledger.rulebook.condition``), never from the
text, so every construct of the language has words and none falls back to the source:
``count(tier == 'serious', within='3y') >= 1`` reads "at least 1 serious record in force,
published within the last 3 years".

Aggregates are always over the subject's records *in force* (docs/rulebooks.md), so each
phrase says so; category codes are given with their catalogue titles when a lookup is
passed in, because a code alone means nothing to a reader.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import assert_never

from trustledger.rulebook.condition import (
    Aggregate,
    Arith,
    BoolLit,
    Compare,
    CompareOp,
    Condition,
    Expr,
    InList,
    IntLit,
    LiteralNode,
    Logic,
    Name,
    Neg,
    Not,
    TextLit,
)
from trustledger.rulebook.durations import Duration
from trustledger.rulebook.timeline import constant

__all__ = ["condition_words", "duration_words"]

# A reader's word for each operator, and the operator seen from the other side (so that
# `1 <= count(…)` reads like `count(…) >= 1`).
_FLIPPED: Mapping[CompareOp, CompareOp] = {
    "==": "==", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<=",
}  # fmt: skip
_QUANTITY: Mapping[CompareOp, str] = {
    "==": "exactly", "!=": "other than", "<": "fewer than", "<=": "at most",
    ">": "more than", ">=": "at least",
}  # fmt: skip
_AMOUNT: Mapping[CompareOp, str] = {
    "==": "is", "!=": "is not", "<": "is below", "<=": "is at most",
    ">": "is above", ">=": "is at least",
}  # fmt: skip
# a relation after a noun: "points below 0"
_RELATION: Mapping[CompareOp, str] = {
    "==": "equal to", "!=": "other than", "<": "below", "<=": "at most",
    ">": "above", ">=": "at least",
}  # fmt: skip
_UNITS = {"d": ("day", "days"), "m": ("month", "months"), "y": ("year", "years")}
_DECISIONS = {
    "court_judgment": "a court judgment",
    "administrative_penalty": "an administrative penalty decision",
    "administrative_decision": "an administrative decision",
    "commendation": "a commendation",
}
# names whose values are adjectives of "record": "a serious negative record"
_ADJECTIVES = ("tier", "polarity")

Titles = Callable[[str], str | None]


def _number(value: int) -> str:
    return f"{value:,}"


def duration_words(duration: Duration) -> str:
    one, many = _UNITS[duration.unit]
    return f"{_number(duration.count)} {one if duration.count == 1 else many}"


def _label(value: str) -> str:
    return value.replace("_", " ")


def _article(noun: str) -> str:
    return ("an " if noun[:1].lower() in "aeiou" else "a ") + noun


class _Words:
    def __init__(self, titles: Titles | None) -> None:
        self.titles = titles

    # ── record filters (the inside of an aggregate) ───────────────────────────────────

    def category(self, code: str) -> str:
        title = self.titles(code) if self.titles is not None else None
        return f"“{title}” ({code})" if title else code

    def literal(self, node: LiteralNode, name: str | None = None) -> str:
        if isinstance(node, IntLit):
            return _number(node.value)
        if isinstance(node, BoolLit):
            return "true" if node.value else "false"
        if name == "category":
            return self.category(node.value)
        if name == "decision_type":
            return _DECISIONS.get(node.value, _label(node.value))
        return _label(node.value)

    def record_test(self, node: Expr) -> str:
        """What a record must be, as a predicate: "is serious", "is of category …"."""
        match node:
            case Logic():
                left, right = self.record_test(node.left), self.record_test(node.right)
                if node.op == "or":
                    return f"either {left} or {right}"
                return f"{left} and {right}"
            case Not(operand=InList() as inner):
                flipped = InList(inner.operand, inner.values, not inner.negated)
                return self.record_test(flipped)
            case Not(operand=Compare(op="==" | "!=") as compared):
                other: CompareOp = "!=" if compared.op == "==" else "=="
                return self.record_test(Compare(other, compared.left, compared.right))
            case Not():
                return f"does not meet this test: it {self.record_test(node.operand)}"
            case BoolLit():
                return "is any record" if node.value else "is no record at all"
            case Compare(left=Name() as named, right=IntLit() | TextLit() | BoolLit() as value):
                return self.record_compare(named.name, node.op, value)
            case Compare(left=IntLit() | TextLit() | BoolLit() as value, right=Name() as named):
                return self.record_compare(named.name, _FLIPPED[node.op], value)
            case InList() if isinstance(node.operand, Name):
                name = node.operand.name
                values = [self.literal(v, name) for v in node.values]
                listed = _or_list(values) if values else "nothing"
                negation = "not " if node.negated else ""
                if name == "category":
                    what = "one of the categories" if len(values) != 1 else "the category"
                    return f"is {negation}of {what} {listed}"
                return f"has {negation}a {_label(name)} of {listed}"
            case _:
                return f"satisfies this: {self.words(node)}"

    def record_compare(self, name: str, op: CompareOp, value: LiteralNode) -> str:
        shown = self.literal(value, name)
        match name:
            case "tier" | "polarity" | "domain":
                suffix = " domain" if name == "domain" else ""
                if name == "domain":
                    shown = f"the {shown}"
                if op == "==":
                    return f"is {'in ' if name == 'domain' else ''}{shown}{suffix}"
                if op == "!=":
                    return f"is not {'in ' if name == 'domain' else ''}{shown}{suffix}"
                return f"has a {name} {_RELATION[op]} {shown} (alphabetically)"
            case "category":
                if op == "==":
                    return f"is of the category {shown}"
                if op == "!=":
                    return f"is not of the category {shown}"
                return f"has a category code {_RELATION[op]} {shown} (alphabetically)"
            case "decision_type":
                if op == "==":
                    return f"rests on {shown}"
                if op == "!=":
                    return f"does not rest on {shown}"
                return f"has a decision type {_RELATION[op]} {shown} (alphabetically)"
            case "age":
                days = "day" if shown == "1" else "days"
                return f"{_QUANTITY_AGE[op]} {shown} {days} old (counted from publication)"
            case "points":
                return f"has points {_RELATION[op]} {shown}"
            case _:
                return f"has {_label(name)} {_AMOUNT[op]} {shown}"

    def records(self, node: Aggregate, *, plural: bool) -> str:
        """The records an aggregate reads, as a noun phrase: "serious negative records in
        force of the category …, published within the last 3 years"."""
        adjectives: list[str] = []
        tests: list[Expr] = []
        for part in _conjuncts(node.filter) if node.filter is not None else []:
            if (
                isinstance(part, Compare)
                and part.op == "=="
                and isinstance(part.left, Name)
                and part.left.name in _ADJECTIVES
                and isinstance(part.right, TextLit)
            ):
                adjectives.append(_label(part.right.value))
            else:
                tests.append(part)
        noun = "records" if plural else "record"
        phrase = " ".join([*adjectives, noun, "in force"])
        if tests:
            clause = " and ".join(self.record_test(t) for t in tests)
            if plural:
                clause = _plural_verbs(clause)
            phrase += f" that {clause}"
        if node.within is not None:
            phrase += f", published within the last {duration_words(node.within)}"
        return phrase

    # ── values and the subject's conditions ───────────────────────────────────────────

    def value(self, node: Expr, *, record: bool = False) -> str:
        """An int or text value in words: "the score", "the sum of points of …"."""
        match node:
            case IntLit() | TextLit() | BoolLit():
                return self.literal(node)
            case Name():
                return {
                    "score": "the score",
                    "grade": "the grade",
                    "kind": "the subject's kind",
                    "division": "the subject's division code",
                    "age": "the record's age in days",
                    "points": "the record's points",
                }.get(node.name, f"the {_label(node.name)}")
            case Neg():
                return f"minus {self.value(node.operand, record=record)}"
            case Arith():
                words = {"+": "plus", "-": "minus", "*": "times", "/": "divided by (whole part)"}
                left = self.value(node.left, record=record)
                right = self.value(node.right, record=record)
                if isinstance(node.right, Arith):
                    right = f"({right})"
                return f"{left} {words[node.op]} {right}"
            case Aggregate():
                return self.aggregate_value(node)
            case Not() | Compare() | InList() | Logic():
                return f"whether {self.words(node)}"
            case _:
                assert_never(node)

    def aggregate_value(self, node: Aggregate) -> str:
        match node.func:
            case "count":
                return f"the number of {self.records(node, plural=True)}"
            case "sum":
                return f"the sum of the points of {self.records(node, plural=True)} (0 if none)"
            case "max":
                return f"the largest points of any {self.records(node, plural=False)} (0 if none)"
            case "min":
                return f"the smallest points of any {self.records(node, plural=False)} (0 if none)"
            case "days_since":
                return (
                    f"the days since the latest {self.records(node, plural=False)} was "
                    "published (100,000 if there is none)"
                )
            case _:
                assert_never(node.func)

    def compare(self, node: Compare) -> str:
        left, op, right = _fold(node.left), node.op, _fold(node.right)
        if _is_literal(left) and not _is_literal(right):
            left, op, right = right, _FLIPPED[op], left
        if isinstance(left, Aggregate) and isinstance(right, IntLit):
            return self.aggregate_compare(left, op, right.value)
        if isinstance(left, Name) and isinstance(right, TextLit | IntLit | BoolLit):
            return self.subject_compare(left.name, op, right)
        return f"{self.value(left)} {_AMOUNT[op]} {self.value(right)}"

    def aggregate_compare(self, node: Aggregate, op: CompareOp, number: int) -> str:
        if node.func == "count":
            if (
                (op == "==" and number == 0)
                or (op == "<" and number == 1)
                or (op == "<=" and number == 0)
            ):
                return f"no {self.records(node, plural=False)}"
            if op == ">" and number == 0:
                op, number = ">=", 1
            plural = not (number == 1 and op in ("==", ">=", "<="))
            return f"{_QUANTITY[op]} {_number(number)} {self.records(node, plural=plural)}"
        if node.func == "days_since":
            latest = f"the latest {self.records(node, plural=False)}"
            if op in ("<", "<="):
                within = "fewer than" if op == "<" else "at most"
                return f"{latest} was published {within} {_number(number)} days ago"
            if op in (">", ">="):
                beyond = "more than" if op == ">" else "at least"
                return (
                    f"{latest} was published {beyond} {_number(number)} days ago, or there is none"
                )
            return f"{latest} was published {_QUANTITY[op]} {_number(number)} days ago"
        return f"{self.aggregate_value(node)} {_AMOUNT[op]} {_number(number)}"

    def subject_compare(self, name: str, op: CompareOp, value: LiteralNode) -> str:
        shown = self.literal(value)
        if name == "kind" and op in ("==", "!="):
            negation = "not " if op == "!=" else ""
            return f"the subject is {negation}{_article(shown)}"
        if name == "grade" and op in ("==", "!="):
            return f"the grade {'is' if op == '==' else 'is not'} {shown}"
        return f"{self.value(Name(name))} {_AMOUNT[op]} {shown}"

    def words(self, node: Expr) -> str:
        match node:
            case BoolLit():
                return "always" if node.value else "never"
            case Logic():
                parts = []
                for child in (node.left, node.right):
                    text = self.words(child)
                    # a different connective below needs brackets to keep its grouping
                    if isinstance(child, Logic) and child.op != node.op:
                        text = f"({text})"
                    parts.append(text)
                # long parts (records with their categories) are told apart by a semicolon
                glue = "; " if any(len(p) > 60 for p in parts) else " "
                return f"{parts[0]}{glue}{node.op} {parts[1]}"
            case Not():
                inner = self.words(node.operand)
                if isinstance(node.operand, Logic):
                    inner = f"({inner})"
                return f"it is not the case that {inner}"
            case Compare():
                return self.compare(node)
            case InList():
                values = [self.literal(v) for v in node.values]
                listed = _or_list(values) if values else "nothing"
                negation = "not " if node.negated else ""
                if isinstance(node.operand, Name) and node.operand.name == "kind":
                    kinds = _or_list([_article(v) for v in values]) if values else "nothing"
                    return f"the subject is {negation}{kinds}"
                return f"{self.value(node.operand)} is {negation}one of {listed}"
            case Name():
                return f"{self.value(node)} is true"
            case Aggregate() | IntLit() | TextLit() | Neg() | Arith():
                # only bool values stand alone; the type checker refuses the others
                return f"{self.value(node)} is true"
            case _:
                assert_never(node)


_QUANTITY_AGE: Mapping[CompareOp, str] = {
    "==": "is exactly", "!=": "is not", "<": "is less than", "<=": "is at most",
    ">": "is more than", ">=": "is at least",
}  # fmt: skip


def _fold(node: Expr) -> Expr:
    value = constant(node)
    return node if value is None or isinstance(node, IntLit) else IntLit(value)


def _is_literal(node: Expr) -> bool:
    return isinstance(node, IntLit | TextLit | BoolLit)


def _conjuncts(node: Expr) -> list[Expr]:
    if isinstance(node, Logic) and node.op == "and":
        return [*_conjuncts(node.left), *_conjuncts(node.right)]
    return [node]


def _or_list(items: list[str]) -> str:
    if len(items) <= 2:
        return " or ".join(items)
    return ", ".join(items[:-1]) + " or " + items[-1]


def _plural_verbs(clause: str) -> str:
    # the record tests are written for one record ("is serious"); after a plural noun the
    # leading verbs agree with it
    for one, many in (("is ", "are "), ("has ", "have "), ("rests ", "rest "),
                      ("does ", "do "), ("counts ", "count ")):  # fmt: skip
        clause = clause.replace(f" and {one}", f" and {many}").replace(
            f"either {one}", f"either {many}"
        )
        clause = clause.replace(f" or {one}", f" or {many}")
        if clause.startswith(one):
            clause = many + clause[len(one) :]
    return clause


def condition_words(condition: Condition | Expr, titles: Titles | None = None) -> str:
    """``condition`` in plain English. ``titles`` gives a category code's title (or None)."""
    root = condition.root if isinstance(condition, Condition) else condition
    return _Words(titles).words(root)
