"""The condition language: grammar, scopes, types, errors, limits and canonical text."""

from __future__ import annotations

import pickle
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import get_args

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trustledger.rulebook.condition import (
    INT64_MAX,
    LITERAL_LIMIT,
    MAX_DEPTH,
    MAX_LENGTH,
    MAX_NODES,
    RECORD_NAMES,
    SUBJECT_NAMES,
    Aggregate,
    AggregateFunc,
    Arith,
    ArithOp,
    BoolLit,
    Compare,
    CompareOp,
    Condition,
    ConditionError,
    Expr,
    InList,
    IntLit,
    LiteralNode,
    Logic,
    LogicOp,
    Name,
    Neg,
    Not,
    Scope,
    TextLit,
    ValueType,
    magnitude,
    parse_condition,
    render,
)
from trustledger.rulebook.durations import Duration

N = Name
I = IntLit  # noqa: E741 - reads as "int literal" next to N, T and B
T = TextLit
B = BoolLit
TRUE = B(True)


def root(text: str, scope: Scope = "list") -> Expr:
    return parse_condition(text, scope).root


def error(text: str, scope: Scope = "list") -> ConditionError:
    with pytest.raises(ConditionError) as info:
        parse_condition(text, scope)
    return info.value


# ── grammar productions ──────────────────────────────────────────────────────────────────


def test_condition_keeps_text_scope_and_tree() -> None:
    cond = parse_condition("score >= 900", "grade")
    assert cond == Condition(Compare(">=", N("score"), I(900)), "score >= 900", "grade")
    assert str(cond) == "score >= 900"


@pytest.mark.parametrize(
    ("text", "tree"),
    [
        # atoms
        ("true", TRUE),
        ("false", B(False)),
        ("(true)", TRUE),
        ("((( true )))", TRUE),
        ("score == 0", Compare("==", N("score"), I(0))),
        ("score == 0042", Compare("==", N("score"), I(42))),
        ("grade == 'AAA'", Compare("==", N("grade"), T("AAA"))),
        ('grade == "AAA"', Compare("==", N("grade"), T("AAA"))),
        ("grade == ''", Compare("==", N("grade"), T(""))),
        (r"grade == 'it\'s'", Compare("==", N("grade"), T("it's"))),
        (r'grade == "say \"hi\""', Compare("==", N("grade"), T('say "hi"'))),
        (r"grade == 'a\"b'", Compare("==", N("grade"), T('a"b'))),
        ("grade == '信用 A'", Compare("==", N("grade"), T("信用 A"))),
        ("kind == 'enterprise'", Compare("==", N("kind"), T("enterprise"))),
        ("division == '371082'", Compare("==", N("division"), T("371082"))),
        ("true == false", Compare("==", TRUE, B(False))),
        # every comparison operator
        *[(f"score {op} 1", Compare(op, N("score"), I(1))) for op in get_args(CompareOp)],
        ("grade < 'B'", Compare("<", N("grade"), T("B"))),
        # in / not in
        ("grade in ['A', 'B']", InList(N("grade"), (T("A"), T("B")))),
        ("grade not in ['A']", InList(N("grade"), (T("A"),), negated=True)),
        ("score in []", InList(N("score"), ())),
        ("score in [1,2 , 3]", InList(N("score"), (I(1), I(2), I(3)))),
        ("true in [true, false]", InList(TRUE, (TRUE, B(False)))),
        ("score + 1 in [2]", InList(Arith("+", N("score"), I(1)), (I(2),))),
        # arithmetic, left-associative, * and / binding tighter than + and -
        ("score + 1 > 0", Compare(">", Arith("+", N("score"), I(1)), I(0))),
        (
            "score - 1 - 2 > 0",
            Compare(">", Arith("-", Arith("-", N("score"), I(1)), I(2)), I(0)),
        ),
        (
            "score - (1 - 2) > 0",
            Compare(">", Arith("-", N("score"), Arith("-", I(1), I(2))), I(0)),
        ),
        (
            "1 + score * 2 / 3 > 0",
            Compare(">", Arith("+", I(1), Arith("/", Arith("*", N("score"), I(2)), I(3))), I(0)),
        ),
        # unary minus binds tighter than *
        ("-score * 2 > 0", Compare(">", Arith("*", Neg(N("score")), I(2)), I(0))),
        ("- - 1 > 0", Compare(">", Neg(Neg(I(1))), I(0))),
        ("1--1 > 0", Compare(">", Arith("-", I(1), Neg(I(1))), I(0))),
        ("score > -5", Compare(">", N("score"), Neg(I(5)))),
        # not binds looser than comparison, tighter than and
        ("not score > 1", Not(Compare(">", N("score"), I(1)))),
        ("not not true", Not(Not(TRUE))),
        ("not true and false", Logic("and", Not(TRUE), B(False))),
        ("not score in [1]", Not(InList(N("score"), (I(1),)))),
        # and binds tighter than or; both left-associative
        ("true or false and true", Logic("or", TRUE, Logic("and", B(False), TRUE))),
        ("(true or false) and true", Logic("and", Logic("or", TRUE, B(False)), TRUE)),
        ("true or true or false", Logic("or", Logic("or", TRUE, TRUE), B(False))),
        ("true and true and false", Logic("and", Logic("and", TRUE, TRUE), B(False))),
        # whitespace of every kind between tokens
        ("score\t>\n1\r", Compare(">", N("score"), I(1))),
    ],
)
def test_productions(text: str, tree: Expr) -> None:
    assert root(text) == tree


@pytest.mark.parametrize(
    ("text", "aggregate"),
    [
        ("count()", Aggregate("count")),
        ("count(tier == 'serious')", Aggregate("count", Compare("==", N("tier"), T("serious")))),
        ("count(within='3y')", Aggregate("count", None, Duration(3, "y"))),
        (
            "count(polarity == 'negative', within = \"18m\")",
            Aggregate("count", Compare("==", N("polarity"), T("negative")), Duration(18, "m")),
        ),
        ("sum(points)", Aggregate("sum")),
        ("sum((points), within='30d')", Aggregate("sum", None, Duration(30, "d"))),
        ("max(points, age < 365)", Aggregate("max", Compare("<", N("age"), I(365)))),
        (
            "min(points, domain in ['tax'], within='1y')",
            Aggregate("min", InList(N("domain"), (T("tax"),)), Duration(1, "y")),
        ),
        ("days_since()", Aggregate("days_since")),
        (
            "days_since(decision_type == 'court_judgment')",
            Aggregate("days_since", Compare("==", N("decision_type"), T("court_judgment"))),
        ),
        (
            "count(category == 'X' or points < -10 and not age > 30)",
            Aggregate(
                "count",
                Logic(
                    "or",
                    Compare("==", N("category"), T("X")),
                    Logic(
                        "and",
                        Compare("<", N("points"), Neg(I(10))),
                        Not(Compare(">", N("age"), I(30))),
                    ),
                ),
            ),
        ),
    ],
)
def test_aggregate_calls(text: str, aggregate: Aggregate) -> None:
    assert root(f"{text} > 0") == Compare(">", aggregate, I(0))


def test_aggregates_combine_with_subject_names() -> None:
    tree = root("count(tier == 'serious') + score / 100 >= 10 or kind == 'person'")
    assert tree == Logic(
        "or",
        Compare(
            ">=",
            Arith(
                "+",
                Aggregate("count", Compare("==", N("tier"), T("serious"))),
                Arith("/", N("score"), I(100)),
            ),
            I(10),
        ),
        Compare("==", N("kind"), T("person")),
    )


def test_filter_scope_parses_one_record_condition() -> None:
    assert root("tier == 'serious' and age <= 30", "filter") == Logic(
        "and", Compare("==", N("tier"), T("serious")), Compare("<=", N("age"), I(30))
    )


def test_columns() -> None:
    tree = root("not (score + 10) * 2 > 1 and count(tier == 'x', within='3y') in [1]")
    assert isinstance(tree, Logic) and (tree.col, tree.op_col) == (1, 26)
    negated = tree.left
    assert isinstance(negated, Not) and negated.col == 1
    compare = negated.operand
    assert isinstance(compare, Compare) and (compare.col, compare.op_col) == (6, 22)
    product = compare.left
    assert isinstance(product, Arith) and (product.col, product.op_col) == (6, 18)
    total = product.left
    assert isinstance(total, Arith) and (total.col, total.op_col) == (6, 12)
    assert isinstance(total.left, Name) and total.left.col == 6
    assert isinstance(total.right, IntLit) and total.right.col == 14
    member = tree.right
    assert isinstance(member, InList) and (member.col, member.op_col) == (30, 62)
    assert member.values[0].col == 66
    call = member.operand
    assert isinstance(call, Aggregate) and call.col == 30
    assert isinstance(call.filter, Compare) and call.filter.col == 36


def test_columns_do_not_take_part_in_equality() -> None:
    assert root("score   >   1") == root("score > 1")
    assert N("score", col=3) == N("score", col=9)
    assert hash(N("score", col=3)) == hash(N("score"))


def test_literal_kinds_are_distinct() -> None:
    # True == 1 in Python; the tree must still tell a bool from an int.
    one: Expr = I(1)
    zero: Expr = I(0)
    assert one != B(True)
    assert zero != B(False)
    assert root("1 in [1]") != root("true in [true]")


# ── value types of nodes ─────────────────────────────────────────────────────────────────


def test_value_types() -> None:
    assert [N(n).value_type for n in SUBJECT_NAMES] == ["int", "text", "text", "text"]
    assert N("points").value_type == "int" and N("age").value_type == "int"
    assert N("tier").value_type == "text"
    assert Aggregate("days_since").value_type == "int"
    assert InList(N("score"), ()).value_type == "bool"
    assert Neg(I(1)).value_type == "int" and Not(TRUE).value_type == "bool"


# ── errors ───────────────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    ("text", "scope", "column", "detail"),
    [
        # tokens
        ("score > 'abc", "list", 9, "unterminated string"),
        ('grade == "abc', "list", 10, "unterminated string"),
        ("grade == 'abc\\", "list", 10, "unterminated string"),
        ("grade == 'a\\nb'", "list", 12, "unsupported escape '\\n'"),
        ("score ! 1", "list", 7, "unexpected character '!'; did you mean '!='?"),
        ("score > 1 && true", "list", 11, "unexpected character '&'"),
        ("score\u3000> 1", "list", 6, "unexpected character '\\u3000'"),
        ("score > 1.5", "list", 10, "unexpected character '.'"),
        ("count(within=3y) > 0", "list", 14, "invalid number '3y'; a duration is text: '3y'"),
        ("score > 12abc", "list", 9, "invalid number '12abc'"),
        # unexpected tokens
        ("", "list", 1, "expected a value, found the end of the condition"),
        ("   ", "list", 4, "expected a value, found the end of the condition"),
        ("score >", "list", 8, "expected a value, found the end of the condition"),
        ("score > > 1", "list", 9, "expected a value, found '>'"),
        ("(score > 1", "list", 11, "expected ')', found the end of the condition"),
        ("score > 1)", "list", 10, "expected the end of the condition, found ')'"),
        ("score > 1 true", "list", 11, "expected the end of the condition, found 'true'"),
        ("score = 1", "list", 7, "found '='; use '==' to compare"),
        ("1 < score < 3", "list", 11, "found '<'; comparisons do not chain"),
        ("score not 1", "list", 7, "expected the end of the condition, found 'not'"),
        ("and true", "list", 1, "expected a value, found 'and'"),
        ("grade in 'A'", "list", 10, "expected '[' after 'in', found text 'A'"),
        ("grade in ['A' 'B']", "list", 15, "expected ',' or ']' in the list, found text 'B'"),
        ("grade in ['A',]", "list", 15, "expected a literal (number, text, true or false)"),
        (
            "score in [-1]",
            "list",
            11,
            "expected a literal (number, text, true or false), found '-'",
        ),
        ("score in [score]", "list", 11, "found name 'score'"),
        ("count(", "list", 7, "expected a value, found the end of the condition"),
        ("count(true true) > 0", "list", 12, "expected ',' or ')' in count(), found 'true'"),
        ("count(true,) > 0", "list", 12, "expected a value, found ')'"),
        # names and scopes
        (
            "scor > 1",
            "list",
            1,
            "unknown name 'scor'; valid names: score, grade, kind, division",
        ),
        (
            "tier == 'serious'",
            "list",
            1,
            "unknown name 'tier'; valid names: score, grade, kind, division (record names are "
            "valid only inside an aggregate's filter)",
        ),
        (
            "grade == 'A'",
            "grade",
            1,
            "a grade rule may not refer to grade; valid names: score, kind, division",
        ),
        ("score > 1 or grade == 'A'", "grade", 14, "a grade rule may not refer to grade"),
        (
            "count(score > 1) > 0",
            "list",
            7,
            "unknown name 'score'; valid names: category, domain, tier, polarity, "
            "decision_type, points, age (subject names are not valid inside a filter)",
        ),
        ("count(grade == 'A') > 0", "grade", 7, "unknown name 'grade'; valid names: category"),
        (
            "count > 0",
            "list",
            1,
            "unknown name 'count'; valid names: score, grade, kind, "
            "division (count is a function: count(...))",
        ),
        (
            "True",
            "list",
            1,
            "unknown name 'True'; valid names: score, grade, kind, division "
            "(keywords are lower-case)",
        ),
        ("score > 1 AND true", "list", 11, "expected the end of the condition, found name 'AND'"),
        ("__class__ == 1", "list", 1, "unknown name '__class__'"),
        ("score", "filter", 1, "unknown name 'score'; valid names: category, domain"),
        # functions and their arguments
        (
            "foo(1) > 0",
            "list",
            1,
            "unknown function 'foo'; valid functions: count, sum, max, min, days_since",
        ),
        ("score(1) > 0", "list", 1, "unknown function 'score'"),
        ("Count() > 0", "list", 1, "unknown function 'Count'"),
        ("sum() > 0", "list", 1, "sum() needs points as its first argument"),
        ("sum(tier == 'x') > 0", "list", 5, "sum() needs points as its first argument"),
        ("max(within='1y') > 0", "list", 1, "max() needs points as its first argument"),
        ("min(age) > 0", "list", 5, "min() needs points as its first argument"),
        ("sum(points, true, false) > 0", "list", 19, "sum() takes points and at most one filter"),
        ("count(true, false) > 0", "list", 13, "count() takes at most one filter"),
        ("days_since(true, true) > 0", "list", 18, "days_since() takes at most one filter"),
        ("count(since='3y') > 0", "list", 7, "unknown argument 'since': count() takes only within"),
        (
            "days_since(within='3y') > 0",
            "list",
            12,
            "days_since() takes no within argument",
        ),
        (
            "days_since(after='3y') > 0",
            "list",
            12,
            "unknown argument 'after': days_since() takes no keyword arguments",
        ),
        (
            "count(within='3y', within='1y') > 0",
            "list",
            20,
            "count() got within twice",
        ),
        (
            "count(within='3y', true) > 0",
            "list",
            20,
            "count(): positional argument after keyword argument",
        ),
        # bad within
        ("count(within='3x') > 0", "list", 14, "bad within duration: invalid duration '3x'"),
        ("count(within='0d') > 0", "list", 14, "bad within duration: invalid duration '0d': must"),
        ("count(within='') > 0", "list", 14, "bad within duration: invalid duration ''"),
        ("count(within=3) > 0", "list", 14, "within must be a duration in quotes"),
        ("count(within=grade) > 0", "list", 14, "within must be a duration in quotes"),
        # nested aggregates
        ("count(count() > 0) > 0", "list", 7, "count() inside a filter: aggregates may not nest"),
        (
            "sum(points, days_since() < 5) > 0",
            "list",
            13,
            "days_since() inside a filter: aggregates may not nest",
        ),
        ("count() > 0", "filter", 1, "count() inside a filter: aggregates may not nest"),
        # types
        ("score", "list", 1, "expected a bool, got int"),
        ("grade", "list", 1, "expected a bool, got text"),
        ("score + 1", "list", 1, "expected a bool, got int"),
        ("count(tier == 'x')", "list", 1, "expected a bool, got int"),
        ("points", "filter", 1, "expected a bool, got int"),
        ("true and score", "list", 10, "expected a bool, got int"),
        ("score or true", "list", 1, "expected a bool, got int"),
        ("not score", "list", 5, "expected a bool, got int"),
        ("score + 'a' > 1", "list", 9, "expected an int, got text"),
        ("true * 2 > 1", "list", 1, "expected an int, got bool"),
        ("-grade == 1", "list", 2, "expected an int, got text"),
        ("score == 'a'", "list", 7, "cannot compare int with text"),
        ("(score > 1) == 1", "list", 13, "cannot compare bool with int"),
        ("true < false", "list", 6, "cannot order bool values with '<'; use == or !="),
        ("grade in ['A', 1]", "list", 16, "expected text in the list, got int"),
        ("score in [1, 'A']", "list", 14, "expected an int in the list, got text"),
        ("count(points) > 0", "list", 7, "expected a bool, got int"),
        ("count(tier) > 0", "list", 7, "expected a bool, got text"),
        ("count(tier == 1) > 0", "list", 12, "cannot compare text with int"),
    ],
)
def test_errors(text: str, scope: Scope, column: int, detail: str) -> None:
    exc = error(text, scope)
    assert exc.column == column, str(exc)
    assert detail in exc.detail, str(exc)
    assert str(exc) == f"column {column}: {exc.detail}"
    assert isinstance(exc, ValueError)


def test_exact_messages() -> None:
    assert str(error("score + 1")) == "column 1: expected a bool, got int"
    assert str(error("'abc")) == "column 1: unterminated string"
    assert str(error("score > 1 x")) == (
        "column 11: expected the end of the condition, found name 'x'"
    )


def test_error_pickles() -> None:
    exc = error("score + 1")
    copy = pickle.loads(pickle.dumps(exc))
    assert (copy.column, copy.detail, str(copy)) == (exc.column, exc.detail, str(exc))


def test_non_text_and_bad_scope() -> None:
    assert str(error(True)) == "column 1: a condition must be text, got bool"  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown condition scope 'measure'"):
        parse_condition("true", "measure")  # type: ignore[arg-type]


# ── limits ───────────────────────────────────────────────────────────────────────────────


def test_length_limit() -> None:
    padded = "true".ljust(MAX_LENGTH)
    assert root(padded) == TRUE
    exc = error(padded + " ")
    assert exc.column == MAX_LENGTH + 1
    assert exc.detail == "condition is longer than 4,096 characters (4,097)"


def test_one_megabyte_input_is_refused_at_once() -> None:
    exc = error("(" * 1_000_000)
    assert exc.column == 4097 and "longer than 4,096 characters (1,000,000)" in exc.detail
    exc = error("score > 1 or " * 90_000 + "true")
    assert exc.column == 4097


def test_ten_thousand_parentheses() -> None:
    assert error("(" * 10_000 + "true" + ")" * 10_000).column == MAX_LENGTH + 1
    # Inside the length limit, the depth limit speaks.
    exc = error("(" * 2_000 + "true" + ")" * 2_000)
    assert (exc.column, exc.detail) == (
        MAX_DEPTH + 1,
        "condition is nested more than 32 levels deep",
    )
    assert error("(" * 4_000).column == MAX_DEPTH + 1


@pytest.mark.parametrize(
    ("opener", "width"),
    [("(", 1), ("not ", 4), ("- ", 2), ("count(", 6)],
)
def test_depth_limit(opener: str, width: int) -> None:
    def nested(levels: int) -> str:
        if opener == "(":
            return "(" * levels + "true" + ")" * levels
        if opener == "not ":
            return "not " * levels + "true"
        if opener == "- ":
            return "- " * levels + "1 > 0"
        return "count(" * levels + ")" * levels + " > 0"

    if opener != "count(":  # nested calls are refused by the type checker, not the depth limit
        parse_condition(nested(MAX_DEPTH))
    exc = error(nested(MAX_DEPTH + 1))
    assert exc.column == MAX_DEPTH * width + 1
    assert "nested more than 32 levels deep" in exc.detail
    very_deep = nested(MAX_LENGTH // (2 * width + 1))
    assert len(very_deep) <= MAX_LENGTH
    assert "nested more than 32 levels deep" in error(very_deep).detail


@contextmanager
def recursion_headroom(frames: int) -> Iterator[None]:
    """Leave only `frames` frames between here and RecursionError."""
    depth = 0
    frame = sys._getframe()
    while frame.f_back is not None:
        frame = frame.f_back
        depth += 1
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(depth + frames)
    try:
        yield
    finally:
        sys.setrecursionlimit(old)


def test_deepest_conditions_fit_in_a_modest_stack() -> None:
    # The depth limit exists so that the interpreter's limit is never reached; the worst
    # accepted nesting must fit with a wide margin under the default limit of 1,000.
    deepest = "(" * (MAX_DEPTH - 1) + "score > -1" + ")" * (MAX_DEPTH - 1)  # "-" is a level
    mixed = "not (" * (MAX_DEPTH // 2) + "true" + ")" * (MAX_DEPTH // 2)
    with recursion_headroom(450):
        assert render(parse_condition(deepest)) == "score > -1"
        parse_condition(mixed)
        error("(" * MAX_LENGTH)
        error("not " * 1_000 + "true")


def test_node_limit() -> None:
    # not + score + 98 × (+ 1) + (> 0) = 1 + 1 + 196 + 2 = 200 nodes
    body = "score" + " + 1" * 98 + " > 0"
    parse_condition("not " + body)
    exc = error("not not " + body)
    assert exc.detail == "condition has more than 200 nodes"
    assert MAX_NODES == 200


def test_node_limit_counts_list_elements() -> None:
    parse_condition("score in [" + ", ".join(["1"] * (MAX_NODES - 2)) + "]")
    exc = error("score in [" + ", ".join(["1"] * (MAX_NODES - 1)) + "]")
    assert exc.detail == "condition has more than 200 nodes"


def test_long_flat_chain_is_fine() -> None:
    # Left-associative chains are loops in the parser; only the node limit bounds them.
    cond = parse_condition(" or ".join(["true"] * 100))
    assert render(cond) == " or ".join(["true"] * 100)


# ── canonical text ───────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("score>1", "score > 1"),
        ("((score > 1))", "score > 1"),
        ("true or (false and true)", "true or false and true"),
        ("(true or false) and true", "(true or false) and true"),
        ("true or (true or false)", "true or (true or false)"),
        ("(true or true) or false", "true or true or false"),
        ("not (score > 1)", "not score > 1"),
        ("not (true and false)", "not (true and false)"),
        ("(not true) == false", "(not true) == false"),
        ("(score > 1) == (score < 5)", "(score > 1) == (score < 5)"),
        ("score - (1 - 2) > 0", "score - (1 - 2) > 0"),
        ("(score - 1) - 2 > 0", "score - 1 - 2 > 0"),
        ("score * (1 + 2) > 0", "score * (1 + 2) > 0"),
        ("-(score + 1) > 0", "-(score + 1) > 0"),
        ("--1 > 0", "--1 > 0"),
        ("score / (2 * 3) > 0", "score / (2 * 3) > 0"),
        ("grade in [\"A\",'B']", "grade in ['A', 'B']"),
        ("grade not in []", "grade not in []"),
        ("(score + 1) in [1]", "score + 1 in [1]"),
        ("(score > 1) in [true]", "(score > 1) in [true]"),
        (r"grade == 'it\'s'", 'grade == "it\'s"'),
        (r"grade == 'a\'b\"c'", r"grade == 'a\'b" + '"' + "c'"),
        ('grade == "x"', "grade == 'x'"),
        ("sum( points ,within='018m')>0", "sum(points, within='18m') > 0"),
        (
            "count((tier=='serious'),within=\"3y\")>=1",
            "count(tier == 'serious', within='3y') >= 1",
        ),
        ("days_since() > 0", "days_since() > 0"),
        ("max(points, age < 5) > 0", "max(points, age < 5) > 0"),
    ],
)
def test_render(text: str, canonical: str) -> None:
    cond = parse_condition(text)
    assert render(cond) == canonical
    assert render(cond.root) == canonical
    assert parse_condition(canonical).root == cond.root


# Trees are generated well typed, so that every one of them must parse back.

# Mostly words that the subject and record facts of test_pyeval actually hold, so that the
# evaluator comparison there sees comparisons come out both ways.
VOCABULARY = ("", "A", "B", "AA", "enterprise", "person", "371082", "serious", "tax", "negative")
_TEXT_VALUES = st.sampled_from(VOCABULARY) | st.text(
    st.characters(codec="utf-8", exclude_characters="\\"), max_size=8
)
_LITERALS: dict[ValueType, st.SearchStrategy[LiteralNode]] = {
    # small numbers, so that comparisons come out both ways, and the edges of the range a
    # condition's numbers may take
    "int": (
        st.integers(min_value=0, max_value=1000)
        | st.sampled_from([LITERAL_LIMIT, LITERAL_LIMIT - 1, 10**9, 2**31, 3_652_059])
    ).map(IntLit),
    "text": _TEXT_VALUES.map(TextLit),
    "bool": st.booleans().map(BoolLit),
}
_DURATIONS = st.builds(
    Duration, st.integers(min_value=1, max_value=999), st.sampled_from(["d", "m", "y"])
)


def _names(scope: Scope, value_type: ValueType) -> list[Name]:
    names = RECORD_NAMES if scope == "filter" else SUBJECT_NAMES
    return [Name(n) for n, t in names.items() if t == value_type]


def within_64_bits(tree: Expr) -> bool:
    """No arithmetic in ``tree`` can leave the 64-bit integers (what parsing demands)."""
    match tree:
        case Arith():
            return (
                magnitude(tree) <= INT64_MAX
                and within_64_bits(tree.left)
                and within_64_bits(tree.right)
            )
        case Neg() | Not():
            return within_64_bits(tree.operand)
        case Compare() | Logic():
            return within_64_bits(tree.left) and within_64_bits(tree.right)
        case InList():
            return within_64_bits(tree.operand)
        case Aggregate():
            return tree.filter is None or within_64_bits(tree.filter)
        case _:
            return True


@cache
def exprs(value_type: ValueType, scope: Scope, depth: int) -> st.SearchStrategy[Expr]:
    """Well-typed trees of `value_type` valid in `scope`, at most `depth` deep, whose
    arithmetic stays within 64 bits, as parsing demands (test_pyeval uses them too)."""
    return unbounded_exprs(value_type, scope, depth).filter(within_64_bits)


@cache
def unbounded_exprs(value_type: ValueType, scope: Scope, depth: int) -> st.SearchStrategy[Expr]:
    """Well-typed trees, their arithmetic unbounded."""
    leaves: list[st.SearchStrategy[Expr]] = [_LITERALS[value_type]]
    if names := _names(scope, value_type):
        leaves.append(st.sampled_from(names))
    if depth == 0:
        return st.one_of(leaves)

    def below(operand_type: ValueType) -> st.SearchStrategy[Expr]:
        return exprs(operand_type, scope, depth - 1)

    branches: list[st.SearchStrategy[Expr]] = []
    if value_type == "int":
        branches.append(st.builds(Neg, below("int")))
        branches.append(
            st.builds(Arith, st.sampled_from(get_args(ArithOp)), below("int"), below("int"))
        )
        if scope != "filter":
            branches.append(
                st.builds(
                    Aggregate,
                    st.sampled_from(get_args(AggregateFunc)),
                    st.none() | exprs("bool", "filter", depth - 1),
                    st.none() | _DURATIONS,
                ).map(lambda a: Aggregate(a.func, a.filter) if a.func == "days_since" else a)
            )
    if value_type == "bool":
        branches.append(st.builds(Not, below("bool")))
        branches.append(
            st.builds(Logic, st.sampled_from(get_args(LogicOp)), below("bool"), below("bool"))
        )
        for operand_type in get_args(ValueType):
            ops = get_args(CompareOp) if operand_type != "bool" else ("==", "!=")
            branches.append(
                st.builds(Compare, st.sampled_from(ops), below(operand_type), below(operand_type))
            )
            branches.append(
                st.builds(
                    InList,
                    below(operand_type),
                    st.lists(_LITERALS[operand_type], max_size=3).map(tuple),
                    st.booleans(),
                )
            )
    return st.one_of(*leaves, *branches)


@pytest.mark.parametrize(
    ("text", "col", "message"),
    [
        ("score < 9223372036854775808", 9, "out of range"),  # 2^63, the red team's
        (f"score < {LITERAL_LIMIT + 1}", 9, "out of range"),
        ("score == score * score", 16, "this product can reach 4.61e+30"),
        ("count(true) * count(true) * count(true) > 0", 27, "beyond the 64-bit"),
        ("score * 4295 > 0", 7, "this product can reach 9.22e+18"),  # one past the edge
        ("1000000000000 * 1000000000000 > score", 15, "this product can reach 1e+24"),
        ("-1000000000000 * 1000000000000 - score < 0", 16, "product"),
        ("sum(points) * sum(points) > 0", 13, "beyond the 64-bit"),
    ],
)
def test_arithmetic_that_can_leave_64_bits_is_refused_where_it_is(
    text: str, col: int, message: str
) -> None:
    with pytest.raises(ConditionError, match=re.escape(message)) as caught:
        parse_condition(text)
    assert caught.value.column == col


def test_the_edges_of_the_range_are_accepted() -> None:
    parse_condition(f"score * 4294 > {LITERAL_LIMIT}")  # 2.1e15 * 4294 ≤ 2^63 - 1
    parse_condition("days_since(true) * count(true) * 1000 > 0")  # 3.65e6 * 2^31 * 1e3
    parse_condition(f"score / {LITERAL_LIMIT} * {LITERAL_LIMIT} > 0")  # score / 1e12 ≤ 2147


@settings(max_examples=300)
@given(tree=unbounded_exprs("bool", "list", 3))
def test_a_tree_parses_exactly_when_its_arithmetic_stays_within_64_bits(tree: Expr) -> None:
    text = render(tree)
    if within_64_bits(tree):
        assert parse_condition(text).root == tree
    else:
        with pytest.raises(ConditionError, match="beyond the 64-bit integers"):
            parse_condition(text)


@settings(max_examples=400)
@given(tree=exprs("bool", "list", 4))
def test_render_round_trips_generated_trees(tree: Expr) -> None:
    text = render(tree)
    cond = parse_condition(text)
    assert cond.root == tree
    assert render(cond) == text


_FRAGMENTS = [
    "score", "grade", "kind", "division", "tier", "points", "age", "count(", "sum(points, ",
    "days_since(", "max(points", "within='3y'", "within=", "(", ")", "[", "]", ",", "==", "!=",
    "<", "<=", ">", ">=", "+", "-", "*", "/", "and", "or", "not", "in", "true", "false", "0",
    "17", "'a'", '"b"', "'", " ", "=",
]  # fmt: skip


@settings(max_examples=1_000)
@given(st.lists(st.sampled_from(_FRAGMENTS), max_size=25).map(" ".join))
def test_any_text_parses_or_raises_condition_error(text: str) -> None:
    try:
        cond = parse_condition(text)
    except ConditionError as exc:
        assert 1 <= exc.column <= len(text) + 1
        return
    assert parse_condition(render(cond)).root == cond.root


@given(st.text(max_size=60))
def test_arbitrary_text_never_crashes(text: str) -> None:
    for scope in get_args(Scope):
        try:
            parse_condition(text, scope)
        except ConditionError as exc:
            assert 1 <= exc.column <= len(text) + 1
