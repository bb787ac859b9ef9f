"""The Python compiler of conditions: worked examples and agreement with a plain interpreter."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_condition import VOCABULARY, exprs

from trustledger.rulebook.condition import (
    Aggregate,
    Arith,
    BoolLit,
    Compare,
    Condition,
    ConditionError,
    Expr,
    InList,
    IntLit,
    Logic,
    Name,
    Neg,
    Not,
    TextLit,
    parse_condition,
)
from trustledger.rulebook.pyeval import (
    NO_RECORD_DAYS,
    RecordFacts,
    SubjectFacts,
    Value,
    compile_condition,
)

FIRM = SubjectFacts(score=980, grade="A", kind="enterprise", division="371082")
T = date(2024, 6, 30)


def rec(
    published: date,
    *,
    category: str = "TAX-ARREARS",
    domain: str = "tax",
    tier: str = "general",
    polarity: str = "negative",
    decision_type: str = "administrative_penalty",
    points: int = -10,
) -> RecordFacts:
    return RecordFacts(category, domain, tier, polarity, decision_type, points, published)


def holds(
    text: str,
    records: Sequence[RecordFacts] = (),
    at: date = T,
    subject: SubjectFacts = FIRM,
) -> Value:
    return compile_condition(parse_condition(text))(subject, records, at)


def value(
    int_expr: str,
    records: Sequence[RecordFacts] = (),
    at: date = T,
    subject: SubjectFacts = FIRM,
) -> Value:
    """The value of an int expression, compiled as if it were a condition's root."""
    root = parse_condition(f"({int_expr}) == 0").root
    assert isinstance(root, Compare)
    return compile_condition(Condition(root.left, int_expr))(subject, records, at)


# ── subject names, literals, operators ───────────────────────────────────────────────────


def test_subject_names() -> None:
    assert holds("score == 980 and grade == 'A' and kind == 'enterprise'") is True
    assert holds("division == '371082'") is True
    assert holds("score > 980") is False
    assert holds("true") is True and holds("false") is False


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("7 / 2", 3),
        ("-7 / 2", -3),  # floor division would give -4
        ("7 / -2", -3),
        ("-7 / -2", 3),
        ("6 / 3", 2),
        ("-6 / 3", -2),
        ("1 / 2", 0),
        ("-1 / 2", 0),
        ("7 / 0", 0),
        ("-7 / 0", 0),
        ("0 / 0", 0),
        ("score / (score - score)", 0),
        ("score / 100", 9),
        ("-score / 100", -9),
        ("score - 1000 / 3", 647),
        ("(score - 1000) / 3", -6),
        ("2 + 3 * 4", 14),
        ("(2 + 3) * 4", 20),
        ("10 - 4 - 3", 3),
        ("- - 5", 5),
        ("-score * 2", -1960),
        ("999999 * 999999", 999998000001),
    ],
)
def test_arithmetic(expr: str, expected: int) -> None:
    assert value(expr) == expected


def test_a_product_python_could_compute_but_sql_cannot_is_refused_before_evaluation() -> None:
    # Python would answer 9999999999800000000001 where both SQL engines overflow: no
    # accepted condition may mean different things on different engines
    with pytest.raises(ConditionError, match="beyond the 64-bit integers"):
        value("99999999999 * 99999999999 * 99999999999")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("grade in ['A', 'B']", True),
        ("grade in ['AA', 'B']", False),
        ("grade not in ['AA', 'B']", True),
        ("grade not in ['A']", False),
        ("grade in []", False),
        ("grade not in []", True),
        ("score in [979, 980]", True),
        ("score + 1 in [980]", False),
        ("score + 1 not in [980]", True),
        ("(score > 1) in [true]", True),
        ("(score > 1) not in [true]", False),
        ("kind not in ['person', 'government']", True),
    ],
)
def test_in_and_not_in(text: str, expected: bool) -> None:
    assert holds(text) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # a or (b and c): a holds, so the whole holds; (a or b) and c would not.
        ("score > 0 or score > 1000 and score < 0", True),
        ("(score > 0 or score > 1000) and score < 0", False),
        # a and b or c == (a and b) or c
        ("score < 0 and score > 0 or score == 980", True),
        ("score < 0 and (score > 0 or score == 980)", False),
        # not binds looser than a comparison and tighter than and / or
        ("not score == 1", True),
        ("not score == 980 or true", True),
        ("not (score == 980 or true)", False),
        ("not not score == 980", True),
        ("true == not false", None),  # not a valid condition: `not` is not a sum
    ],
)
def test_precedence(text: str, expected: bool | None) -> None:
    if expected is None:
        with pytest.raises(ValueError):
            parse_condition(text)
    else:
        assert holds(text) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("grade == 'A'", True),
        ("grade != 'A'", False),
        ("grade < 'B'", True),
        ("grade <= 'A'", True),
        ("grade > 'A'", False),
        ("grade >= 'A'", True),
        ("grade < 'AA'", True),  # a prefix sorts first
        ("'AA' < 'AAA'", True),
        ("'Z' < 'a'", True),  # code-point order, not case-folded
        ("'B' > 'AAA'", True),
        ("division >= '370000' and division < '380000'", True),
        ("division < '37'", False),
        ("'' < grade", True),
        ("grade == 'a'", False),
    ],
)
def test_text_comparison(text: str, expected: bool) -> None:
    assert holds(text) is expected


def test_bool_equality() -> None:
    assert holds("(score > 1) == true") is True
    assert holds("(score > 1) != (score < 1)") is True


# ── aggregates ───────────────────────────────────────────────────────────────────────────

RECORDS = [
    rec(date(2024, 6, 30), tier="serious", points=-50, category="ENV-MAJOR-INCIDENT"),
    rec(date(2024, 1, 15), tier="serious", points=-30, domain="environment"),
    rec(date(2022, 3, 1), tier="general", points=-10),
    rec(date(2020, 12, 31), tier="minor", points=-5),
    rec(
        date(2023, 5, 20),
        tier="general",
        polarity="positive",
        points=20,
        domain="honours",
        decision_type="commendation",
    ),
]


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("count()", 5),
        ("count(tier == 'serious')", 2),
        ("count(tier == 'serious' and polarity == 'negative', within='3y')", 2),
        ("count(tier == 'serious' and domain == 'environment')", 1),
        ("count(category == 'ENV-MAJOR-INCIDENT')", 1),
        ("count(domain in ['tax', 'environment'])", 4),
        ("count(domain not in ['tax', 'environment'])", 1),
        ("count(decision_type == 'commendation')", 1),
        ("count(polarity == 'positive' or points < -20)", 3),
        ("count(false)", 0),
        ("count(within='3y')", 4),  # from 2021-06-30: the 2020 record is out
        ("count(within='6m')", 2),  # from 2023-12-30
        ("count(within='166d')", 1),  # from 2024-01-16: the record of 2024-01-15 is out
        ("count(age == 0)", 1),
        ("count(age <= 167)", 2),
        ("count(age > 1000)", 1),  # 2020-12-31 is 1,277 days back, 2022-03-01 only 852
        ("sum(points)", -75),
        ("sum(points, polarity == 'negative')", -95),
        ("sum(points, within='1y')", -80),
        ("sum(points, points > 100)", 0),
        ("max(points)", 20),
        ("max(points, polarity == 'negative')", -5),
        ("max(points, false)", 0),
        ("min(points)", -50),
        ("min(points, polarity == 'positive')", 20),
        ("min(points, false, within='1d')", 0),
        ("min(points, within='1d')", -50),
        ("days_since()", 0),
        ("days_since(tier == 'minor')", (T - date(2020, 12, 31)).days),
        ("days_since(polarity == 'positive')", (T - date(2023, 5, 20)).days),
        ("days_since(tier == 'nothing')", NO_RECORD_DAYS),
        ("days_since(tier == 'general')", (T - date(2023, 5, 20)).days),
        ("count(tier == 'serious') * 100 + days_since(tier == 'minor')", 200 + 1277),
    ],
)
def test_aggregates(expr: str, expected: int) -> None:
    assert value(expr, RECORDS) == expected


def test_within_167_days_is_exclusive_of_the_day_before() -> None:
    # 2024-06-30 minus 167 days is 2024-01-15: a record published that day is kept.
    assert date(2024, 6, 30) - timedelta(days=167) == date(2024, 1, 15)
    assert value("count(within='167d')", RECORDS) == 2
    assert value("count(within='166d')", RECORDS) == 1


def test_aggregates_without_records() -> None:
    assert value("count()") == 0
    assert value("sum(points)") == 0
    assert value("max(points)") == 0
    assert value("min(points)") == 0
    assert value("days_since()") == NO_RECORD_DAYS
    assert holds("days_since() > 36500") is True


@pytest.mark.parametrize(
    ("at", "within", "published", "kept"),
    [
        # Month-end: 2024-03-31 minus 1m is 2024-02-29 (leap year), kept inclusively.
        (date(2024, 3, 31), "1m", date(2024, 2, 29), True),
        (date(2024, 3, 31), "1m", date(2024, 2, 28), False),
        (date(2023, 3, 31), "1m", date(2023, 2, 28), True),
        (date(2023, 3, 31), "1m", date(2023, 2, 27), False),
        (date(2024, 5, 31), "3m", date(2024, 2, 29), True),
        (date(2024, 5, 31), "3m", date(2024, 2, 28), False),
        (date(2024, 4, 30), "1m", date(2024, 3, 30), True),
        (date(2024, 4, 30), "1m", date(2024, 3, 29), False),
        # Feb 29: 2024-02-29 minus 1y is 2023-02-28.
        (date(2024, 2, 29), "1y", date(2023, 2, 28), True),
        (date(2024, 2, 29), "1y", date(2023, 2, 27), False),
        (date(2024, 2, 29), "12m", date(2023, 2, 28), True),
        (date(2028, 2, 29), "4y", date(2024, 2, 29), True),
        (date(2028, 2, 29), "4y", date(2024, 2, 28), False),
        # A year back from 2025-02-28 is 2024-02-28: the leap day itself is inside.
        (date(2025, 2, 28), "1y", date(2024, 2, 28), True),
        (date(2025, 2, 28), "1y", date(2024, 2, 27), False),
        (date(2025, 3, 1), "1y", date(2024, 3, 1), True),
        (date(2025, 3, 1), "1y", date(2024, 2, 29), False),
        # Days are calendar days: 30 days before 2024-03-01 is 2024-01-31.
        (date(2024, 3, 1), "30d", date(2024, 1, 31), True),
        (date(2024, 3, 1), "30d", date(2024, 1, 30), False),
        (date(2024, 3, 1), "1d", date(2024, 2, 29), True),
        (date(2024, 3, 1), "1d", date(2024, 2, 28), False),
        # T itself is always inside the window.
        (date(2024, 3, 1), "1d", date(2024, 3, 1), True),
    ],
)
def test_within_windows(at: date, within: str, published: date, kept: bool) -> None:
    records = [rec(published)]
    assert value(f"count(within='{within}')", records, at) == int(kept)
    assert value(f"sum(points, within='{within}')", records, at) == (-10 if kept else 0)
    assert holds(f"count(tier == 'general', within='{within}') >= 1", records, at) is kept


def test_age_and_days_since_count_calendar_days() -> None:
    records = [rec(date(2024, 2, 28)), rec(date(2023, 2, 28), tier="serious")]
    at = date(2024, 3, 1)
    assert value("max(points, age == 2)", records, at) == -10
    assert value("count(age == 367)", records, at) == 1  # 2023-02-28 → 2024-03-01 spans Feb 29
    assert value("days_since()", records, at) == 2
    assert value("days_since(tier == 'serious')", records, at) == 367


def test_one_compiled_condition_serves_many_subjects_and_dates() -> None:
    evaluate = compile_condition(
        parse_condition("count(tier == 'serious', within='1y') >= 1 and score < 1000")
    )
    serious = [rec(date(2024, 1, 1), tier="serious")]
    # The same T repeatedly, then others, then back: the window must follow T.
    for at, expected in [
        (date(2024, 6, 30), True),
        (date(2024, 6, 30), True),
        (date(2025, 1, 1), True),
        (date(2025, 1, 2), False),
        (date(2024, 6, 30), True),
        (date(2025, 1, 2), False),
    ]:
        assert evaluate(FIRM, serious, at) is expected
    assert evaluate(FIRM._replace(score=1000), serious, date(2024, 6, 30)) is False
    assert evaluate(FIRM, [], date(2024, 6, 30)) is False


def test_records_may_be_any_sequence() -> None:
    assert holds("count() == 2", (rec(T), rec(T))) is True


def test_filter_scope_is_not_compiled_alone() -> None:
    with pytest.raises(ValueError, match="compiled as part of its aggregate"):
        compile_condition(parse_condition("tier == 'serious'", "filter"))


# ── agreement with a plain tree-walking interpreter ──────────────────────────────────────


def _trunc_div(a: int, b: int) -> int:
    if b == 0:
        return 0
    sign = -1 if (a < 0) != (b < 0) else 1
    return sign * (abs(a) // abs(b))


def interpret(node: Expr, subject: SubjectFacts, records: Sequence[RecordFacts], at: date) -> Value:
    """The specification read literally, one isinstance at a time."""

    def run(node: Expr, record: RecordFacts | None) -> Value:
        if isinstance(node, IntLit | TextLit | BoolLit):
            return node.value
        if isinstance(node, Name):
            if record is None:
                field: Value = getattr(subject, node.name)
                return field
            if node.name == "age":
                return (at - record.published).days
            field = getattr(record, node.name)
            return field
        if isinstance(node, Neg):
            return -int(run(node.operand, record))
        if isinstance(node, Not):
            return not run(node.operand, record)
        if isinstance(node, Arith):
            a, b = int(run(node.left, record)), int(run(node.right, record))
            return {"+": a + b, "-": a - b, "*": a * b, "/": _trunc_div(a, b)}[node.op]
        if isinstance(node, Compare):
            left, right = run(node.left, record), run(node.right, record)
            if node.op == "==":
                return left == right
            if node.op == "!=":
                return left != right
            assert type(left) is type(right) and not isinstance(left, bool)
            ordered: dict[str, bool] = {
                "<": left < right,  # type: ignore[operator]
                "<=": left <= right,  # type: ignore[operator]
                ">": left > right,  # type: ignore[operator]
                ">=": left >= right,  # type: ignore[operator]
            }
            return ordered[node.op]
        if isinstance(node, InList):
            found = any(run(node.operand, record) == v.value for v in node.values)
            return found != node.negated
        if isinstance(node, Logic):
            left_value = bool(run(node.left, record))
            right_value = bool(run(node.right, record))
            return left_value and right_value if node.op == "and" else left_value or right_value
        assert isinstance(node, Aggregate)
        chosen = [
            r
            for r in records
            if (node.within is None or r.published >= node.within.before(at))
            and (node.filter is None or run(node.filter, r))
        ]
        if node.func == "count":
            return len(chosen)
        if node.func == "days_since":
            return (at - max(r.published for r in chosen)).days if chosen else NO_RECORD_DAYS
        points = [r.points for r in chosen]
        if not points:
            return 0
        if node.func == "sum":
            return sum(points)
        return max(points) if node.func == "max" else min(points)

    return run(node, None)


_WORDS = st.sampled_from(VOCABULARY)
_RECORD_FACTS = st.builds(
    RecordFacts,
    _WORDS,
    _WORDS,
    _WORDS,
    _WORDS,
    _WORDS,
    st.integers(min_value=-100, max_value=100),
    st.dates(min_value=date(2019, 1, 1), max_value=date(2025, 12, 31)),
)
_SUBJECTS = st.builds(
    SubjectFacts, st.integers(min_value=-5, max_value=1200), _WORDS, _WORDS, _WORDS
)


@settings(max_examples=500)
@given(
    tree=exprs("bool", "list", 4),
    subject=_SUBJECTS,
    records=st.lists(_RECORD_FACTS, max_size=8),
    at=st.dates(min_value=date(2023, 1, 1), max_value=date(2025, 12, 31)),
)
def test_compiled_agrees_with_interpreter(
    tree: Expr, subject: SubjectFacts, records: list[RecordFacts], at: date
) -> None:
    compiled = compile_condition(Condition(tree, "generated"))
    expected = interpret(tree, subject, records, at)
    assert compiled(subject, records, at) == expected
    # Again, for the window cache, and at another date.
    assert compiled(subject, records, at) == expected
    later = at + timedelta(days=400)
    assert compiled(subject, records, later) == interpret(tree, subject, records, later)


# ── speed ────────────────────────────────────────────────────────────────────────────────


def test_two_aggregates_over_twenty_records() -> None:
    evaluate = compile_condition(
        parse_condition(
            "count(tier == 'serious' and polarity == 'negative', within='3y') >= 1"
            " and sum(points, domain in ['tax', 'environment'], within='18m') < -30"
        )
    )
    records = [
        rec(
            T - timedelta(days=70 * i),
            tier=("minor", "general", "serious")[i % 3],
            domain=("tax", "environment", "market")[i % 3],
            points=-10 * (i % 5),
        )
        for i in range(20)
    ]
    assert evaluate(FIRM, records, T) is True
    # its speed is measured in bench/condition.py, not asserted here
