"""The condition language of rulebooks (docs/rulebooks.md, "Condition language").

One parser turns a condition's text into an immutable, typed tree; the Python compiler
(`pyeval`) and the SQL compiler both start from that tree, so everything they may rely on
(names valid in their scope, operand types, argument shapes, limits) is settled here.

Readings of the specification that it leaves open (each also noted where it is decided):

* `literal` in a list is INT, STRING, `true` or `false`; a negative number is `-` INT,
  which is an expression, so `points in [-50]` is refused (write `points == -50`).
* A backslash in a string must start `\\'` or `\\"`; any other backslash is an error, so no
  text value ever contains a backslash.
* `days_since` takes no `within` (the specification's table gives it none).
* Keyword arguments come after positional ones, each at most once, as in Python.
* Columns count characters from the start of the whole text (a newline is one character).
* Every literal, name, operator and call counts as one node, including list elements and
  the `points` and `within` arguments of an aggregate.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar, Final, Literal, TypeAlias, assert_never

from trustledger.rulebook.durations import Duration, parse_duration

__all__ = [
    "AGGREGATES",
    "COUNT_LIMIT",
    "DAYS_LIMIT",
    "INT64_MAX",
    "LITERAL_LIMIT",
    "MAX_DEPTH",
    "MAX_LENGTH",
    "MAX_NODES",
    "POINTS_LIMIT",
    "RECORD_NAMES",
    "SCORE_BASE_LIMIT",
    "SUBJECT_NAMES",
    "Aggregate",
    "AggregateFunc",
    "Arith",
    "ArithOp",
    "BoolLit",
    "Compare",
    "CompareOp",
    "Condition",
    "ConditionError",
    "Expr",
    "InList",
    "IntLit",
    "LiteralNode",
    "Logic",
    "LogicOp",
    "Name",
    "Neg",
    "Not",
    "Scope",
    "TextLit",
    "ValueType",
    "magnitude",
    "parse_condition",
    "render",
]

ValueType: TypeAlias = Literal["int", "text", "bool"]
Scope: TypeAlias = Literal["list", "grade", "filter"]
AggregateFunc: TypeAlias = Literal["count", "sum", "max", "min", "days_since"]
ArithOp: TypeAlias = Literal["+", "-", "*", "/"]
CompareOp: TypeAlias = Literal["==", "!=", "<", "<=", ">", ">="]
LogicOp: TypeAlias = Literal["and", "or"]

MAX_LENGTH: Final = 4096
MAX_NODES: Final = 200
# Nesting levels: each "(", "not", unary "-" and call opens one. The recursive-descent
# parser spends about ten Python frames per level, so 32 levels stay far below the
# interpreter's recursion limit while being several times deeper than any real rulebook.
MAX_DEPTH: Final = 32

# Insertion order is the order names are listed in messages (the specification's order).
SUBJECT_NAMES: Final[Mapping[str, ValueType]] = {
    "score": "int",
    "grade": "text",
    "kind": "text",
    "division": "text",
}
RECORD_NAMES: Final[Mapping[str, ValueType]] = {
    "category": "text",
    "domain": "text",
    "tier": "text",
    "polarity": "text",
    "decision_type": "text",
    "points": "int",
    "age": "int",
}
AGGREGATES: Final[tuple[AggregateFunc, ...]] = ("count", "sum", "max", "min", "days_since")
_POINTS_AGGREGATES: Final = frozenset({"sum", "max", "min"})
_KEYWORDS: Final = frozenset({"and", "or", "not", "in", "true", "false"})
_COMPARE_OPS: Final[Mapping[str, CompareOp]] = {
    "==": "==",
    "!=": "!=",
    "<": "<",
    "<=": "<=",
    ">": ">",
    ">=": ">=",
}
_ARITH_OPS: Final[Mapping[str, ArithOp]] = {"+": "+", "-": "-", "*": "*", "/": "/"}
_SYMBOLS_2: Final = frozenset({"==", "!=", "<=", ">="})
_SYMBOLS_1: Final = frozenset("<>+-*/()[],=")
_WHITESPACE: Final = frozenset(" \t\r\n")
_ARTICLE: Final[Mapping[ValueType, str]] = {"int": "an int", "bool": "a bool", "text": "text"}


class ConditionError(ValueError):
    """A condition that does not parse or type-check; `column` is 1-based."""

    def __init__(self, column: int, detail: str) -> None:
        super().__init__(f"column {column}: {detail}")
        self.column = column
        self.detail = detail

    def __reduce__(self) -> tuple[type[ConditionError], tuple[int, str]]:
        # The default reduce would call ConditionError(message) and fail on unpickling
        # (errors cross process boundaries when the suite or validation runs in workers).
        return (ConditionError, (self.column, self.detail))


# ── the tree ─────────────────────────────────────────────────────────────────────────────
#
# Columns are excluded from equality so that a tree equals the tree of its rendering (and
# hand-built trees in tests need no columns). `col` is where the node's text starts;
# operators also keep `op_col` so that a mismatch can point at the operator itself.


@dataclass(frozen=True, slots=True)
class IntLit:
    value: int
    col: int = field(default=0, compare=False, kw_only=True)
    value_type: ClassVar[ValueType] = "int"


@dataclass(frozen=True, slots=True)
class TextLit:
    value: str
    col: int = field(default=0, compare=False, kw_only=True)
    value_type: ClassVar[ValueType] = "text"


@dataclass(frozen=True, slots=True)
class BoolLit:
    value: bool
    col: int = field(default=0, compare=False, kw_only=True)
    value_type: ClassVar[ValueType] = "bool"


@dataclass(frozen=True, slots=True)
class Name:
    """A subject name at the top level, a record name inside a filter."""

    name: str
    col: int = field(default=0, compare=False, kw_only=True)

    @property
    def value_type(self) -> ValueType:
        found = SUBJECT_NAMES.get(self.name)
        return found if found is not None else RECORD_NAMES[self.name]


@dataclass(frozen=True, slots=True)
class Neg:
    operand: Expr
    col: int = field(default=0, compare=False, kw_only=True)
    value_type: ClassVar[ValueType] = "int"


@dataclass(frozen=True, slots=True)
class Not:
    operand: Expr
    col: int = field(default=0, compare=False, kw_only=True)
    value_type: ClassVar[ValueType] = "bool"


@dataclass(frozen=True, slots=True)
class Arith:
    """`+ - * /` on ints; `/` truncates toward zero and x / 0 is 0."""

    op: ArithOp
    left: Expr
    right: Expr
    col: int = field(default=0, compare=False, kw_only=True)
    op_col: int = field(default=0, compare=False, kw_only=True)
    value_type: ClassVar[ValueType] = "int"


@dataclass(frozen=True, slots=True)
class Compare:
    op: CompareOp
    left: Expr
    right: Expr
    col: int = field(default=0, compare=False, kw_only=True)
    op_col: int = field(default=0, compare=False, kw_only=True)
    value_type: ClassVar[ValueType] = "bool"


@dataclass(frozen=True, slots=True)
class InList:
    """`operand in [...]` or, with `negated`, `operand not in [...]`."""

    operand: Expr
    values: tuple[LiteralNode, ...]
    negated: bool = False
    col: int = field(default=0, compare=False, kw_only=True)
    op_col: int = field(default=0, compare=False, kw_only=True)
    value_type: ClassVar[ValueType] = "bool"


@dataclass(frozen=True, slots=True)
class Logic:
    op: LogicOp
    left: Expr
    right: Expr
    col: int = field(default=0, compare=False, kw_only=True)
    op_col: int = field(default=0, compare=False, kw_only=True)
    value_type: ClassVar[ValueType] = "bool"


@dataclass(frozen=True, slots=True)
class Aggregate:
    """An aggregate over the subject's records in force at T.

    `sum`, `max` and `min` aggregate `points`, which is therefore implied rather than
    stored. `filter` is None when every record counts; `within` is None for no window.
    """

    func: AggregateFunc
    filter: Expr | None = None
    within: Duration | None = None
    col: int = field(default=0, compare=False, kw_only=True)
    value_type: ClassVar[ValueType] = "int"


LiteralNode: TypeAlias = IntLit | TextLit | BoolLit
Expr: TypeAlias = (
    IntLit | TextLit | BoolLit | Name | Neg | Not | Arith | Compare | InList | Logic | Aggregate
)


@dataclass(frozen=True, slots=True)
class Condition:
    """A parsed, type-checked condition: a bool-valued tree and the text it came from."""

    root: Expr
    text: str
    scope: Scope = "list"

    def __str__(self) -> str:
        return render(self.root)


# ── tokens ───────────────────────────────────────────────────────────────────────────────


@dataclass(frozen=True, slots=True)
class _Token:
    # "INT", "STRING", "NAME", "END", or the keyword / symbol itself ("and", "==", "(").
    kind: str
    # Source text, except for STRING where it is the decoded value.
    text: str
    col: int


def _describe(tok: _Token) -> str:
    if tok.kind == "END":
        return "the end of the condition"
    if tok.kind == "INT":
        return f"number {tok.text}"
    if tok.kind == "STRING":
        return f"text {_quote(tok.text)}"
    if tok.kind == "NAME":
        return f"name {tok.text!r}"
    return repr(tok.text)


def _is_name_start(c: str) -> bool:
    return c == "_" or ("a" <= c <= "z") or ("A" <= c <= "Z")


def _is_name_char(c: str) -> bool:
    return _is_name_start(c) or ("0" <= c <= "9")


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c in _WHITESPACE:
            i += 1
            continue
        col = i + 1
        if "0" <= c <= "9":
            j = i
            while j < n and "0" <= text[j] <= "9":
                j += 1
            if j < n and _is_name_char(text[j]):
                k = j
                while k < n and _is_name_char(text[k]):
                    k += 1
                word = text[i:k]
                hint = f"; a duration is text: '{word}'" if text[j:k] in ("d", "m", "y") else ""
                raise ConditionError(col, f"invalid number {word!r}{hint}")
            tokens.append(_Token("INT", text[i:j], col))
            i = j
        elif _is_name_start(c):
            j = i
            while j < n and _is_name_char(text[j]):
                j += 1
            word = text[i:j]
            tokens.append(_Token(word if word in _KEYWORDS else "NAME", word, col))
            i = j
        elif c in "'\"":
            i = _read_string(text, i, tokens)
        elif text[i : i + 2] in _SYMBOLS_2:
            tokens.append(_Token(text[i : i + 2], text[i : i + 2], col))
            i += 2
        elif c in _SYMBOLS_1:
            tokens.append(_Token(c, c, col))
            i += 1
        else:
            hint = "; did you mean '!='?" if c == "!" else ""
            raise ConditionError(col, f"unexpected character {c!r}{hint}")
    tokens.append(_Token("END", "", n + 1))
    return tokens


def _read_string(text: str, start: int, tokens: list[_Token]) -> int:
    """Append the string token starting at `start`; return the index after its quote."""
    quote = text[start]
    n = len(text)
    parts: list[str] = []
    j = start + 1
    run = j
    while True:
        if j >= n:
            raise ConditionError(start + 1, "unterminated string")
        ch = text[j]
        if ch == quote:
            break
        if ch == "\\":
            if j + 1 >= n:
                raise ConditionError(start + 1, "unterminated string")
            escaped = text[j + 1]
            # Only \' and \" exist (specification); refusing the rest keeps backslashes out
            # of values, so render() can always write them back.
            if escaped not in "'\"":
                raise ConditionError(
                    j + 1, f"unsupported escape '\\{escaped}' (only \\' and \\\" are allowed)"
                )
            parts.append(text[run:j])
            parts.append(escaped)
            j += 2
            run = j
            continue
        j += 1
    parts.append(text[run:j])
    tokens.append(_Token("STRING", "".join(parts), start + 1))
    return j + 1


# ── parser ───────────────────────────────────────────────────────────────────────────────


class _Parser:
    """Recursive descent over the specification's grammar, bounded by MAX_DEPTH."""

    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens
        self.pos = 0
        self.nodes = 0
        self.depth = 0

    def peek(self, ahead: int = 0) -> _Token:
        return self.tokens[min(self.pos + ahead, len(self.tokens) - 1)]

    def advance(self) -> _Token:
        tok = self.tokens[self.pos]
        if tok.kind != "END":
            self.pos += 1
        return tok

    def expect(self, kind: str, what: str) -> _Token:
        tok = self.peek()
        if tok.kind != kind:
            raise ConditionError(tok.col, f"expected {what}, found {_describe(tok)}")
        return self.advance()

    def node(self, col: int) -> None:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise ConditionError(col, f"condition has more than {MAX_NODES} nodes")

    def enter(self, tok: _Token) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ConditionError(tok.col, f"condition is nested more than {MAX_DEPTH} levels deep")

    def leave(self) -> None:
        self.depth -= 1

    def parse(self) -> Expr:
        root = self.expr()
        tok = self.peek()
        if tok.kind != "END":
            hint = ""
            if tok.kind == "=":
                hint = "; use '==' to compare"
            elif tok.kind in _COMPARE_OPS or tok.kind == "in":
                hint = "; comparisons do not chain, combine them with 'and'"
            raise ConditionError(
                tok.col, f"expected the end of the condition, found {_describe(tok)}{hint}"
            )
        return root

    def expr(self) -> Expr:
        left = self.and_()
        while self.peek().kind == "or":
            op = self.advance()
            right = self.and_()
            self.node(op.col)
            left = Logic("or", left, right, col=left.col, op_col=op.col)
        return left

    def and_(self) -> Expr:
        left = self.not_()
        while self.peek().kind == "and":
            op = self.advance()
            right = self.not_()
            self.node(op.col)
            left = Logic("and", left, right, col=left.col, op_col=op.col)
        return left

    def not_(self) -> Expr:
        tok = self.peek()
        if tok.kind != "not":
            return self.comparison()
        self.advance()
        self.node(tok.col)
        self.enter(tok)
        operand = self.not_()
        self.leave()
        return Not(operand, col=tok.col)

    def comparison(self) -> Expr:
        left = self.sum_()
        tok = self.peek()
        compare_op = _COMPARE_OPS.get(tok.kind)
        if compare_op is not None:
            self.advance()
            self.node(tok.col)
            right = self.sum_()
            return Compare(compare_op, left, right, col=left.col, op_col=tok.col)
        negated = tok.kind == "not" and self.peek(1).kind == "in"
        if tok.kind == "in" or negated:
            self.advance()
            if negated:
                self.advance()
            self.node(tok.col)
            values = self.literal_list()
            return InList(left, values, negated, col=left.col, op_col=tok.col)
        return left

    def literal_list(self) -> tuple[LiteralNode, ...]:
        self.expect("[", "'[' after 'in'")
        values: list[LiteralNode] = []
        if self.peek().kind != "]":
            while True:
                values.append(self.literal())
                if self.peek().kind != ",":
                    break
                self.advance()
        self.expect("]", "',' or ']' in the list")
        return tuple(values)

    def literal(self) -> LiteralNode:
        tok = self.peek()
        value: LiteralNode
        if tok.kind == "INT":
            value = IntLit(int(tok.text), col=tok.col)
        elif tok.kind == "STRING":
            value = TextLit(tok.text, col=tok.col)
        elif tok.kind in ("true", "false"):
            value = BoolLit(tok.kind == "true", col=tok.col)
        else:
            # Includes "-": the grammar's list holds literals, and -5 is an expression.
            raise ConditionError(
                tok.col,
                f"expected a literal (number, text, true or false), found {_describe(tok)}",
            )
        self.advance()
        self.node(tok.col)
        return value

    def sum_(self) -> Expr:
        left = self.product()
        while self.peek().kind in ("+", "-"):
            op = self.advance()
            right = self.product()
            self.node(op.col)
            left = Arith(_ARITH_OPS[op.kind], left, right, col=left.col, op_col=op.col)
        return left

    def product(self) -> Expr:
        left = self.unary()
        while self.peek().kind in ("*", "/"):
            op = self.advance()
            right = self.unary()
            self.node(op.col)
            left = Arith(_ARITH_OPS[op.kind], left, right, col=left.col, op_col=op.col)
        return left

    def unary(self) -> Expr:
        tok = self.peek()
        if tok.kind != "-":
            return self.atom()
        self.advance()
        self.node(tok.col)
        self.enter(tok)
        operand = self.unary()
        self.leave()
        return Neg(operand, col=tok.col)

    def atom(self) -> Expr:
        tok = self.peek()
        if tok.kind in ("INT", "STRING", "true", "false"):
            return self.literal()
        if tok.kind == "NAME":
            self.advance()
            if self.peek().kind == "(":
                return self.call(tok)
            self.node(tok.col)
            return Name(tok.text, col=tok.col)
        if tok.kind == "(":
            self.advance()
            self.enter(tok)
            inner = self.expr()
            self.expect(")", "')'")
            self.leave()
            return inner
        raise ConditionError(tok.col, f"expected a value, found {_describe(tok)}")

    def call(self, name: _Token) -> Aggregate:
        func = next((f for f in AGGREGATES if f == name.text), None)
        if func is None:
            raise ConditionError(
                name.col,
                f"unknown function {name.text!r}; valid functions: {', '.join(AGGREGATES)}",
            )
        self.node(name.col)
        self.advance()  # "("
        self.enter(name)
        positional: list[Expr] = []
        within: Duration | None = None
        seen_keyword = False
        if self.peek().kind != ")":
            while True:
                tok = self.peek()
                if tok.kind == "NAME" and self.peek(1).kind == "=":
                    self.advance()
                    self.advance()
                    value = self.expr()
                    duration = self.within(func, tok, value)
                    if within is not None:
                        raise ConditionError(tok.col, f"{func}() got within twice")
                    within = duration
                    seen_keyword = True
                else:
                    if seen_keyword:
                        raise ConditionError(
                            tok.col, f"{func}(): positional argument after keyword argument"
                        )
                    positional.append(self.expr())
                if self.peek().kind != ",":
                    break
                self.advance()
        self.expect(")", f"',' or ')' in {func}()")
        self.leave()
        return Aggregate(func, self.filter_argument(func, name, positional), within, col=name.col)

    def within(self, func: AggregateFunc, keyword: _Token, value: Expr) -> Duration:
        if keyword.text != "within":
            allowed = "takes no keyword arguments" if func == "days_since" else "takes only within"
            raise ConditionError(
                keyword.col, f"unknown argument {keyword.text!r}: {func}() {allowed}"
            )
        if func == "days_since":
            # The specification's table gives days_since no window.
            raise ConditionError(keyword.col, "days_since() takes no within argument")
        if not isinstance(value, TextLit):
            raise ConditionError(
                value.col, "within must be a duration in quotes, such as within='3y'"
            )
        try:
            return parse_duration(value.value)
        except ValueError as exc:
            raise ConditionError(value.col, f"bad within duration: {exc}") from None

    @staticmethod
    def filter_argument(func: AggregateFunc, name: _Token, positional: list[Expr]) -> Expr | None:
        if func in _POINTS_AGGREGATES:
            if not positional or positional[0] != Name("points"):
                col = positional[0].col if positional else name.col
                raise ConditionError(col, f"{func}() needs points as its first argument")
            positional = positional[1:]
            limit = f"{func}() takes points and at most one filter"
        else:
            limit = f"{func}() takes at most one filter"
        if len(positional) > 1:
            raise ConditionError(positional[1].col, limit)
        return positional[0] if positional else None


# ── type checker ─────────────────────────────────────────────────────────────────────────


def _names_in(scope: Scope) -> Mapping[str, ValueType]:
    if scope == "filter":
        return RECORD_NAMES
    if scope == "grade":
        return {n: t for n, t in SUBJECT_NAMES.items() if n != "grade"}
    return SUBJECT_NAMES


def _unknown_name(node: Name, scope: Scope) -> ConditionError:
    valid = ", ".join(_names_in(scope))
    name = node.name
    if scope == "grade" and name == "grade":
        return ConditionError(
            node.col, f"a grade rule may not refer to grade; valid names: {valid}"
        )
    detail = f"unknown name {name!r}; valid names: {valid}"
    if scope == "filter" and name in SUBJECT_NAMES:
        detail += " (subject names are not valid inside a filter)"
    elif scope != "filter" and name in RECORD_NAMES:
        detail += " (record names are valid only inside an aggregate's filter)"
    elif name in AGGREGATES:
        detail += f" ({name} is a function: {name}(...))"
    elif name.lower() in _KEYWORDS:
        detail += " (keywords are lower-case)"
    return ConditionError(node.col, detail)


def _expect(node: Expr, want: ValueType, scope: Scope) -> None:
    got = _check(node, scope)
    if got != want:
        raise ConditionError(node.col, f"expected {_ARTICLE[want]}, got {got}")


def _check(node: Expr, scope: Scope) -> ValueType:
    """Type of `node`, after checking names against `scope` and operand types.

    Recursion is safe: a tree has at most MAX_NODES nodes, hence at most that depth.
    """
    match node:
        case IntLit() | TextLit() | BoolLit():
            return node.value_type
        case Name():
            found = _names_in(scope).get(node.name)
            if found is None:
                raise _unknown_name(node, scope)
            return found
        case Neg():
            _expect(node.operand, "int", scope)
            return "int"
        case Not():
            _expect(node.operand, "bool", scope)
            return "bool"
        case Arith():
            _expect(node.left, "int", scope)
            _expect(node.right, "int", scope)
            return "int"
        case Logic():
            _expect(node.left, "bool", scope)
            _expect(node.right, "bool", scope)
            return "bool"
        case Compare():
            left = _check(node.left, scope)
            right = _check(node.right, scope)
            if left != right:
                raise ConditionError(node.op_col, f"cannot compare {left} with {right}")
            if left == "bool" and node.op not in ("==", "!="):
                raise ConditionError(
                    node.op_col, f"cannot order bool values with {node.op!r}; use == or !="
                )
            return "bool"
        case InList():
            operand = _check(node.operand, scope)
            for value in node.values:
                if value.value_type != operand:
                    raise ConditionError(
                        value.col,
                        f"expected {_ARTICLE[operand]} in the list, got {value.value_type}",
                    )
            return "bool"
        case Aggregate():
            if scope == "filter":
                raise ConditionError(
                    node.col, f"{node.func}() inside a filter: aggregates may not nest"
                )
            if node.filter is not None:
                _expect(node.filter, "bool", "filter")
            return "int"
        case _:
            assert_never(node)


# ── entry point ──────────────────────────────────────────────────────────────────────────


def parse_condition(text: str, scope: Scope = "list") -> Condition:
    """Parse and type-check a condition; raise ConditionError naming the column.

    `scope` is "list" for a list's `when`, "grade" for a grade rule's `when` (no `grade`)
    and "filter" for a condition over one record (record names, no aggregates).
    """
    if scope not in ("list", "grade", "filter"):
        raise ValueError(f"unknown condition scope {scope!r}")
    if not isinstance(text, str):
        # YAML turns an unquoted `when: true` into a bool; say so instead of crashing.
        raise ConditionError(1, f"a condition must be text, got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise ConditionError(
            MAX_LENGTH + 1, f"condition is longer than {MAX_LENGTH:,} characters ({len(text):,})"
        )
    root = _Parser(_tokenize(text)).parse()
    _expect(root, "bool", scope)
    _check_bounds(root)
    return Condition(root, text, scope)


# ── integer bounds ───────────────────────────────────────────────────────────────────────
#
# Python's integers have no bound; DuckDB and PostgreSQL compute in 64 bits and fail on
# overflow. So that an accepted condition gives the same answer on every engine, no
# integer a condition can compute may leave the 64-bit range: every name has a largest
# magnitude the platform guarantees (points and score bases are bounded by the rulebook
# schema, the number of records of one subject by COUNT_LIMIT, days by the calendar), and
# the largest magnitude of each sum, product, quotient and negation is computed from
# those of its operands and refused above INT64_MAX, at the operator's column.

INT64_MAX: Final = 2**63 - 1
LITERAL_LIMIT: Final = 10**12  # a number written in a condition, either sign
POINTS_LIMIT: Final = 1_000_000  # a treatment's points per record, either sign
SCORE_BASE_LIMIT: Final = 1_000_000_000  # a banded score's base, either sign
COUNT_LIMIT: Final = 2**31  # records of one subject: far above any real file
DAYS_LIMIT: Final = 3_652_059  # days between 0001-01-01 and 9999-12-31
SCORE_LIMIT: Final = SCORE_BASE_LIMIT + COUNT_LIMIT * POINTS_LIMIT
_NAME_LIMITS: Final[Mapping[str, int]] = {
    "score": SCORE_LIMIT,
    "points": POINTS_LIMIT,
    "age": DAYS_LIMIT,
}
_AGGREGATE_LIMITS: Final[Mapping[str, int]] = {
    "count": COUNT_LIMIT,
    "sum": COUNT_LIMIT * POINTS_LIMIT,
    "max": POINTS_LIMIT,
    "min": POINTS_LIMIT,
    "days_since": DAYS_LIMIT,
}


def magnitude(node: Expr) -> int:
    """The largest absolute value an int expression can take (0 for other types)."""
    match node:
        case IntLit():
            return abs(node.value)
        case Name():
            return _NAME_LIMITS.get(node.name, 0)
        case Neg():
            return magnitude(node.operand)
        case Arith():
            left, right = magnitude(node.left), magnitude(node.right)
            if node.op == "*":
                return left * right
            if node.op == "/":
                # truncating division never grows a value (x / 0 is 0); by a number, it
                # shrinks it by that much
                if isinstance(node.right, IntLit) and node.right.value:
                    return left // abs(node.right.value)
                return left
            return left + right
        case Aggregate():
            return _AGGREGATE_LIMITS[node.func]
        case _:
            return 0


def _check_bounds(node: Expr) -> None:
    """Refuse a literal beyond LITERAL_LIMIT and any arithmetic that can leave 64 bits."""
    match node:
        case IntLit():
            if abs(node.value) > LITERAL_LIMIT:
                raise ConditionError(
                    node.col,
                    f"the number {node.value:,} is out of range: a condition's numbers lie "
                    f"within ±{LITERAL_LIMIT:,}",
                )
        case Neg() | Not():
            _check_bounds(node.operand)
        case Arith():
            _check_bounds(node.left)
            _check_bounds(node.right)
            reach = magnitude(node)
            if reach > INT64_MAX:
                raise ConditionError(
                    node.op_col,
                    f"this {_OPERATION[node.op]} can reach {reach:.3g}, beyond the 64-bit "
                    f"integers (±{INT64_MAX:,}) SQL engines compute in: an evaluation could "
                    "fail or differ between engines; use smaller numbers",
                )
        case Compare() | Logic():
            _check_bounds(node.left)
            _check_bounds(node.right)
        case InList():
            _check_bounds(node.operand)
            for value in node.values:
                _check_bounds(value)
        case Aggregate():
            if node.filter is not None:
                _check_bounds(node.filter)
        case _:
            pass


_OPERATION: Final[Mapping[str, str]] = {
    "+": "sum",
    "-": "difference",
    "*": "product",
    "/": "quotient",
}


# ── canonical text ───────────────────────────────────────────────────────────────────────

# Binding strength of each production, loosest first; a child binding more loosely than
# its position admits is parenthesised.
_OR, _AND, _NOT, _COMPARISON, _SUM, _PRODUCT, _UNARY, _ATOM = range(1, 9)


def _level(node: Expr) -> int:
    match node:
        case Logic():
            return _OR if node.op == "or" else _AND
        case Not():
            return _NOT
        case Compare() | InList():
            return _COMPARISON
        case Arith():
            return _SUM if node.op in ("+", "-") else _PRODUCT
        case Neg():
            return _UNARY
        case _:
            return _ATOM


def _quote(value: str) -> str:
    # Prefer the quote that needs no escape, for readable explanations.
    if "'" in value and '"' not in value:
        return f'"{value}"'
    return "'" + value.replace("'", "\\'") + "'"


def _wrap(node: Expr, min_level: int) -> str:
    text = _render(node)
    return f"({text})" if _level(node) < min_level else text


def _render(node: Expr) -> str:
    match node:
        case IntLit():
            return str(node.value)
        case TextLit():
            return _quote(node.value)
        case BoolLit():
            return "true" if node.value else "false"
        case Name():
            return node.name
        case Neg():
            return "-" + _wrap(node.operand, _UNARY)
        case Not():
            return "not " + _wrap(node.operand, _NOT)
        case Arith():
            level = _level(node)
            # Left-associative: an equal-level right child needs parentheses to survive.
            return f"{_wrap(node.left, level)} {node.op} {_wrap(node.right, level + 1)}"
        case Logic():
            level = _level(node)
            return f"{_wrap(node.left, level)} {node.op} {_wrap(node.right, level + 1)}"
        case Compare():
            # Non-associative: both operands are sums.
            return f"{_wrap(node.left, _SUM)} {node.op} {_wrap(node.right, _SUM)}"
        case InList():
            op = "not in" if node.negated else "in"
            values = ", ".join(_render(v) for v in node.values)
            return f"{_wrap(node.operand, _SUM)} {op} [{values}]"
        case Aggregate():
            args = ["points"] if node.func in _POINTS_AGGREGATES else []
            if node.filter is not None:
                args.append(_render(node.filter))
            if node.within is not None:
                args.append(f"within='{node.within}'")
            return f"{node.func}({', '.join(args)})"
        case _:
            assert_never(node)


def render(node: Expr | Condition) -> str:
    """Canonical text of a tree: parsing it again gives an equal tree.

    Text values are assumed free of backslashes, which holds for every parsed tree.
    """
    return _render(node.root if isinstance(node, Condition) else node)


def aggregates(node: Expr | Condition) -> list[Aggregate]:
    """Every aggregate call in a condition, left to right (explanations cite them)."""
    out: list[Aggregate] = []
    stack: list[Expr] = [node.root if isinstance(node, Condition) else node]
    while stack:
        current = stack.pop()
        if isinstance(current, Aggregate):
            out.append(current)
        elif isinstance(current, Neg | Not | InList):
            stack.append(current.operand)
        elif isinstance(current, Arith | Compare | Logic):
            stack.extend((current.right, current.left))
    return out


def names(node: Expr | Condition) -> set[str]:
    """The names a condition reads outside aggregates (`score`, `grade`, `kind`, …)."""
    found: set[str] = set()
    stack: list[Expr] = [node.root if isinstance(node, Condition) else node]
    while stack:
        current = stack.pop()
        if isinstance(current, Name):
            found.add(current.name)
        elif isinstance(current, Neg | Not | InList):
            stack.append(current.operand)
        elif isinstance(current, Arith | Compare | Logic):
            stack.extend((current.right, current.left))
    return found
