"""A small, whitelisted expression language for conditions and constraints.

Space files say things like ``when: "optimizer == 'sgd'"`` or
``"n_layers <= 2 or lr < 0.01"``. This module parses such text with a hand-written
recursive-descent parser into a tiny AST; nothing is ever handed to ``eval``.

Grammar (Python's precedence, loosest first)::

    expr       := or ;  or := and ("or" and)* ;  and := not ("and" not)*
    not        := "not" not | comparison
    comparison := arith (("=="|"!="|"<"|"<="|">"|">="|"in"|"not in") arith)*
    arith      := term (("+"|"-") term)* ;  term := unary (("*"|"/"|"//"|"%") unary)*
    unary      := ("-"|"+") unary | power ;  power := atom ("**" unary)?
    atom       := NUMBER | STRING | true | false | null | NAME | CALL | "(" expr ")"
                | "[" [expr ("," expr)*] "]"

Names may be dotted (``layers.0.width``). A name whose parameter is inactive
evaluates to :data:`MISSING`, and ``MISSING`` propagates with SQL-like
three-valued logic: arithmetic and comparisons on it are ``MISSING``,
``False and MISSING`` is ``False``, ``True or MISSING`` is ``True``. A condition is
met only when it is ``True``; a constraint is violated only when it is ``False``.
``coalesce(a, b, ...)`` returns its first argument that is not ``MISSING``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from hypertrail.errors import ExpressionError

__all__ = ["FUNCTIONS", "MISSING", "Expression", "parse"]


class _Missing:
    """The value of an inactive parameter inside an expression (one instance: MISSING)."""

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        raise TypeError("MISSING has no truth value; use three-valued helpers")


MISSING: Final[_Missing] = _Missing()

_KEYWORDS = frozenset({"and", "or", "not", "in", "true", "false", "null", "True", "False", "None"})

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<number>(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?)
  | (?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.(?:[A-Za-z_][A-Za-z0-9_]*|\d+))*)
  | (?P<op>\*\*|//|==|!=|<=|>=|[-+*/%<>()\[\],])
    """,
    re.VERBOSE,
)


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str
    column: int


def _tokenize(source: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    while pos < len(source):
        match = _TOKEN.match(source, pos)
        if match is None and source[pos] == "=":
            raise ExpressionError("'=' is not an operator (did you mean '=='?)", source, pos + 1)
        if match is None:
            raise ExpressionError(f"unexpected character {source[pos]!r}", source, pos + 1)
        kind = match.lastgroup or ""
        if kind != "ws":
            tokens.append(_Token(kind, match.group(), pos + 1))
        pos = match.end()
    tokens.append(_Token("end", "", len(source) + 1))
    return tokens


def _truth(value: object) -> bool | _Missing:
    if isinstance(value, _Missing):
        return value
    return bool(value)


def _require_number(value: Any, what: str) -> float | int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ExpressionError(f"{what} needs a number, got {value!r}")
    return value


def _fn_numeric(fn: Callable[..., Any], name: str) -> Callable[..., Any]:
    def call(*args: Any) -> Any:
        if any(a is MISSING for a in args):
            return MISSING
        try:
            return fn(*(_require_number(a, name) for a in args))
        except (ValueError, OverflowError, ZeroDivisionError) as exc:
            raise ExpressionError(f"{name}{tuple(args)!r} is undefined ({exc})") from exc

    return call


def _coalesce(*args: Any) -> Any:
    for arg in args:
        if arg is not MISSING:
            return arg
    return MISSING


FUNCTIONS: Final[Mapping[str, tuple[Callable[..., Any], int, int | None]]] = {
    # name: (function, min args, max args or None for any)
    "abs": (_fn_numeric(abs, "abs"), 1, 1),
    "min": (_fn_numeric(min, "min"), 1, None),
    "max": (_fn_numeric(max, "max"), 1, None),
    "sum": (_fn_numeric(lambda *a: sum(a), "sum"), 1, None),
    "log": (_fn_numeric(math.log, "log"), 1, 1),
    "log2": (_fn_numeric(math.log2, "log2"), 1, 1),
    "log10": (_fn_numeric(math.log10, "log10"), 1, 1),
    "exp": (_fn_numeric(math.exp, "exp"), 1, 1),
    "sqrt": (_fn_numeric(math.sqrt, "sqrt"), 1, 1),
    "floor": (_fn_numeric(math.floor, "floor"), 1, 1),
    "ceil": (_fn_numeric(math.ceil, "ceil"), 1, 1),
    "round": (_fn_numeric(round, "round"), 1, 1),
    "coalesce": (_coalesce, 1, None),
}


# --- AST -----------------------------------------------------------------------------


class _Node:
    def evaluate(self, env: Mapping[str, Any]) -> Any:
        raise NotImplementedError

    def names(self) -> set[str]:
        raise NotImplementedError

    def rename(self, fn: Callable[[str], str]) -> _Node:
        raise NotImplementedError

    def render(self) -> str:
        raise NotImplementedError

    def literals(self) -> list[Any]:
        return []


@dataclass(frozen=True)
class _Const(_Node):
    value: Any

    def evaluate(self, env: Mapping[str, Any]) -> Any:
        return self.value

    def names(self) -> set[str]:
        return set()

    def rename(self, fn: Callable[[str], str]) -> _Node:
        return self

    def render(self) -> str:
        if self.value is None:
            return "null"
        if isinstance(self.value, bool):
            return "true" if self.value else "false"
        return repr(self.value)

    def literals(self) -> list[Any]:
        return [self.value]


@dataclass(frozen=True)
class _Name(_Node):
    name: str

    def evaluate(self, env: Mapping[str, Any]) -> Any:
        return env.get(self.name, MISSING)

    def names(self) -> set[str]:
        return {self.name}

    def rename(self, fn: Callable[[str], str]) -> _Node:
        return _Name(fn(self.name))

    def render(self) -> str:
        return self.name


_MAX_INT_BITS = 4096  # larger exact integers have no use in a condition or constraint


def _arith(op: str, a: Any, b: Any) -> Any:
    if a is MISSING or b is MISSING:
        return MISSING
    if op == "+" and isinstance(a, str) and isinstance(b, str):
        return a + b
    _require_number(a, f"'{op}'")
    _require_number(b, f"'{op}'")
    try:
        if op == "+":
            return a + b
        if op == "-":
            return a - b
        if op == "*":
            return a * b
        if op == "/":
            return a / b
        if op == "//":
            return a // b
        if op == "%":
            return a % b
        if (
            isinstance(a, int)
            and isinstance(b, int)
            and abs(a) > 1
            and b > 0
            and (abs(a).bit_length() - 1) * b > _MAX_INT_BITS
        ):
            # Exact integer powers have no overflow: 2 ** 10 ** 10 would run for
            # minutes and eat gigabytes inside validation. Refuse it like a float would.
            raise OverflowError
        return a**b
    except ZeroDivisionError as exc:
        raise ExpressionError(f"division by zero in {a!r} {op} {b!r}") from exc
    except OverflowError as exc:
        raise ExpressionError(f"overflow in {a!r} {op} {b!r}") from exc


@dataclass(frozen=True)
class _Binary(_Node):
    op: str
    left: _Node
    right: _Node

    def evaluate(self, env: Mapping[str, Any]) -> Any:
        return _arith(self.op, self.left.evaluate(env), self.right.evaluate(env))

    def names(self) -> set[str]:
        return self.left.names() | self.right.names()

    def rename(self, fn: Callable[[str], str]) -> _Node:
        return _Binary(self.op, self.left.rename(fn), self.right.rename(fn))

    def render(self) -> str:
        return f"({self.left.render()} {self.op} {self.right.render()})"

    def literals(self) -> list[Any]:
        return self.left.literals() + self.right.literals()


@dataclass(frozen=True)
class _Negate(_Node):
    operand: _Node

    def evaluate(self, env: Mapping[str, Any]) -> Any:
        value = self.operand.evaluate(env)
        if value is MISSING:
            return MISSING
        return -_require_number(value, "unary '-'")

    def names(self) -> set[str]:
        return self.operand.names()

    def rename(self, fn: Callable[[str], str]) -> _Node:
        return _Negate(self.operand.rename(fn))

    def render(self) -> str:
        return f"-{self.operand.render()}"

    def literals(self) -> list[Any]:
        return [-v for v in self.operand.literals() if isinstance(v, int | float)]


def _equal(a: Any, b: Any) -> bool:
    """``a == b``, except that booleans never equal numbers (Python says True == 1).

    Domains keep ``true`` and ``1`` apart (``choices: [1, true]`` has two values), so
    ``x == 1`` must not hold when ``x`` is ``true``.
    """
    if isinstance(a, bool) != isinstance(b, bool):
        return False
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def _compare(op: str, a: Any, b: Any) -> Any:
    if a is MISSING or b is MISSING:
        return MISSING
    if op == "==":
        return _equal(a, b)
    if op == "!=":
        return not _equal(a, b)
    if op in ("in", "not in"):
        if not isinstance(b, list):
            raise ExpressionError(f"'{op}' needs a list on its right, got {b!r}")
        return any(_equal(a, item) for item in b) == (op == "in")
    numeric = isinstance(a, int | float) and isinstance(b, int | float)
    if not numeric and not (isinstance(a, str) and isinstance(b, str)):
        raise ExpressionError(f"cannot order {a!r} and {b!r} with '{op}'")
    if op == "<":
        return a < b
    if op == "<=":
        return a <= b
    if op == ">":
        return a > b
    return a >= b


@dataclass(frozen=True)
class _Compare(_Node):
    first: _Node
    rest: tuple[tuple[str, _Node], ...]

    def evaluate(self, env: Mapping[str, Any]) -> Any:
        left = self.first.evaluate(env)
        result: Any = True
        for op, node in self.rest:
            right = node.evaluate(env)
            result = _and(result, _compare(op, left, right))
            if result is False:
                return False
            left = right
        return result

    def names(self) -> set[str]:
        out = self.first.names()
        for _, node in self.rest:
            out |= node.names()
        return out

    def rename(self, fn: Callable[[str], str]) -> _Node:
        return _Compare(self.first.rename(fn), tuple((op, n.rename(fn)) for op, n in self.rest))

    def render(self) -> str:
        parts = [self.first.render()]
        for op, node in self.rest:
            parts += [op, node.render()]
        return " ".join(parts)

    def literals(self) -> list[Any]:
        out = self.first.literals()
        for _, node in self.rest:
            out += node.literals()
        return out


def _and(a: Any, b: Any) -> Any:
    ta, tb = _truth(a), _truth(b)
    if ta is False or tb is False:
        return False
    if ta is MISSING or tb is MISSING:
        return MISSING
    return True


def _or(a: Any, b: Any) -> Any:
    ta, tb = _truth(a), _truth(b)
    if ta is True or tb is True:
        return True
    if ta is MISSING or tb is MISSING:
        return MISSING
    return False


@dataclass(frozen=True)
class _BoolOp(_Node):
    op: str
    operands: tuple[_Node, ...]

    def evaluate(self, env: Mapping[str, Any]) -> Any:
        combine = _and if self.op == "and" else _or
        stop = self.op == "or"  # value that decides the result at once
        result: Any = not stop
        for node in self.operands:
            result = combine(result, node.evaluate(env))
            if result is stop:
                return result
        return result

    def names(self) -> set[str]:
        out: set[str] = set()
        for node in self.operands:
            out |= node.names()
        return out

    def rename(self, fn: Callable[[str], str]) -> _Node:
        return _BoolOp(self.op, tuple(n.rename(fn) for n in self.operands))

    def render(self) -> str:
        return "(" + f" {self.op} ".join(n.render() for n in self.operands) + ")"

    def literals(self) -> list[Any]:
        return [v for n in self.operands for v in n.literals()]


@dataclass(frozen=True)
class _Not(_Node):
    operand: _Node

    def evaluate(self, env: Mapping[str, Any]) -> Any:
        value = _truth(self.operand.evaluate(env))
        return MISSING if value is MISSING else not value

    def names(self) -> set[str]:
        return self.operand.names()

    def rename(self, fn: Callable[[str], str]) -> _Node:
        return _Not(self.operand.rename(fn))

    def render(self) -> str:
        return f"not {self.operand.render()}"

    def literals(self) -> list[Any]:
        return self.operand.literals()


@dataclass(frozen=True)
class _List(_Node):
    items: tuple[_Node, ...]

    def evaluate(self, env: Mapping[str, Any]) -> Any:
        return [node.evaluate(env) for node in self.items]

    def names(self) -> set[str]:
        out: set[str] = set()
        for node in self.items:
            out |= node.names()
        return out

    def rename(self, fn: Callable[[str], str]) -> _Node:
        return _List(tuple(n.rename(fn) for n in self.items))

    def render(self) -> str:
        return "[" + ", ".join(n.render() for n in self.items) + "]"

    def literals(self) -> list[Any]:
        return [v for n in self.items for v in n.literals()]


@dataclass(frozen=True)
class _Call(_Node):
    function: str
    args: tuple[_Node, ...]

    def evaluate(self, env: Mapping[str, Any]) -> Any:
        fn = FUNCTIONS[self.function][0]
        return fn(*(node.evaluate(env) for node in self.args))

    def names(self) -> set[str]:
        out: set[str] = set()
        for node in self.args:
            out |= node.names()
        return out

    def rename(self, fn: Callable[[str], str]) -> _Node:
        return _Call(self.function, tuple(n.rename(fn) for n in self.args))

    def render(self) -> str:
        return f"{self.function}(" + ", ".join(n.render() for n in self.args) + ")"

    def literals(self) -> list[Any]:
        return [v for n in self.args for v in n.literals()]


# --- parser --------------------------------------------------------------------------

_COMPARE_OPS = frozenset({"==", "!=", "<", "<=", ">", ">="})


class _Parser:
    def __init__(self, source: str) -> None:
        self.source = source
        self.tokens = _tokenize(source)
        self.pos = 0

    def peek(self) -> _Token:
        return self.tokens[self.pos]

    def take(self) -> _Token:
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def fail(self, message: str, token: _Token | None = None) -> ExpressionError:
        token = token or self.peek()
        return ExpressionError(message, self.source, token.column)

    def expect(self, text: str) -> None:
        token = self.peek()
        if token.text != text:
            shown = repr(token.text) if token.kind != "end" else "end of expression"
            raise self.fail(f"expected {text!r}, found {shown}")
        self.take()

    def is_word(self, word: str) -> bool:
        token = self.peek()
        return token.kind == "name" and token.text == word

    def parse(self) -> _Node:
        if self.peek().kind == "end":
            raise self.fail("empty expression")
        node = self.parse_or()
        token = self.peek()
        if token.kind != "end":
            raise self.fail(f"unexpected {token.text!r}")
        return node

    def parse_or(self) -> _Node:
        operands = [self.parse_and()]
        while self.is_word("or"):
            self.take()
            operands.append(self.parse_and())
        return operands[0] if len(operands) == 1 else _BoolOp("or", tuple(operands))

    def parse_and(self) -> _Node:
        operands = [self.parse_not()]
        while self.is_word("and"):
            self.take()
            operands.append(self.parse_not())
        return operands[0] if len(operands) == 1 else _BoolOp("and", tuple(operands))

    def parse_not(self) -> _Node:
        if self.is_word("not"):
            self.take()
            return _Not(self.parse_not())
        return self.parse_comparison()

    def parse_comparison(self) -> _Node:
        first = self.parse_arith()
        rest: list[tuple[str, _Node]] = []
        while True:
            token = self.peek()
            if token.kind == "op" and token.text in _COMPARE_OPS:
                self.take()
                rest.append((token.text, self.parse_arith()))
            elif self.is_word("in"):
                self.take()
                rest.append(("in", self.parse_arith()))
            elif self.is_word("not") and self.tokens[self.pos + 1].text == "in":
                self.take()
                self.take()
                rest.append(("not in", self.parse_arith()))
            else:
                break
        return first if not rest else _Compare(first, tuple(rest))

    def parse_arith(self) -> _Node:
        node = self.parse_term()
        while self.peek().text in ("+", "-") and self.peek().kind == "op":
            op = self.take().text
            node = _Binary(op, node, self.parse_term())
        return node

    def parse_term(self) -> _Node:
        node = self.parse_unary()
        while self.peek().kind == "op" and self.peek().text in ("*", "/", "//", "%"):
            op = self.take().text
            node = _Binary(op, node, self.parse_unary())
        return node

    def parse_unary(self) -> _Node:
        token = self.peek()
        if token.kind == "op" and token.text in ("-", "+"):
            self.take()
            operand = self.parse_unary()
            return _Negate(operand) if token.text == "-" else operand
        return self.parse_power()

    def parse_power(self) -> _Node:
        node = self.parse_atom()
        if self.peek().kind == "op" and self.peek().text == "**":
            self.take()
            node = _Binary("**", node, self.parse_unary())
        return node

    def parse_atom(self) -> _Node:
        token = self.peek()
        if token.kind == "number":
            self.take()
            text = token.text
            is_float = any(c in text for c in ".eE")
            try:
                return _Const(float(text) if is_float else int(text))
            except ValueError as exc:  # more digits than Python converts (4300)
                raise self.fail(f"number too long ({len(text)} digits)", token) from exc
        if token.kind == "string":
            self.take()
            body = token.text[1:-1]
            return _Const(re.sub(r"\\(.)", r"\1", body))
        if token.kind == "op" and token.text == "(":
            self.take()
            node = self.parse_or()
            self.expect(")")
            return node
        if token.kind == "op" and token.text == "[":
            self.take()
            items: list[_Node] = []
            if self.peek().text != "]":
                items.append(self.parse_or())
                while self.peek().text == ",":
                    self.take()
                    items.append(self.parse_or())
            self.expect("]")
            return _List(tuple(items))
        if token.kind == "name":
            return self.parse_name()
        shown = repr(token.text) if token.kind != "end" else "end of expression"
        raise self.fail(f"expected a value, found {shown}")

    def parse_name(self) -> _Node:
        token = self.take()
        text = token.text
        if text in ("true", "True"):
            return _Const(True)
        if text in ("false", "False"):
            return _Const(False)
        if text in ("null", "None"):
            return _Const(None)
        if text in _KEYWORDS:
            raise self.fail(f"unexpected keyword {text!r}", token)
        if self.peek().kind == "op" and self.peek().text == "(":
            if text not in FUNCTIONS:
                allowed = ", ".join(sorted(FUNCTIONS))
                raise self.fail(f"unknown function {text!r} (allowed: {allowed})", token)
            self.take()
            args: list[_Node] = []
            if self.peek().text != ")":
                args.append(self.parse_or())
                while self.peek().text == ",":
                    self.take()
                    args.append(self.parse_or())
            self.expect(")")
            _, low, high = FUNCTIONS[text]
            if len(args) < low or (high is not None and len(args) > high):
                want = str(low) if high == low else f"at least {low}"
                raise self.fail(f"{text}() takes {want} argument(s), got {len(args)}", token)
            return _Call(text, tuple(args))
        return _Name(text)


@dataclass(frozen=True)
class Expression:
    """A parsed condition or constraint.

    Example:
        >>> e = parse("optimizer == 'sgd' and lr < 0.1")
        >>> sorted(e.names)
        ['lr', 'optimizer']
        >>> e.holds({"optimizer": "sgd", "lr": 0.01})
        True
    """

    source: str
    root: _Node
    names: frozenset[str]

    def evaluate(self, env: Mapping[str, Any]) -> Any:
        """The raw value (may be :data:`MISSING`)."""
        try:
            return self.root.evaluate(env)
        except ExpressionError as exc:
            if exc.source:
                raise
            raise ExpressionError(exc.reason, self.source) from exc

    def holds(self, env: Mapping[str, Any]) -> bool:
        """True only when the expression is definitely true (conditions)."""
        return _truth(self.evaluate(env)) is True

    def violated(self, env: Mapping[str, Any]) -> bool:
        """True only when the expression is definitely false (constraints)."""
        return _truth(self.evaluate(env)) is False

    def rename(self, fn: Callable[[str], str]) -> Expression:
        """The same expression with every parameter name passed through ``fn``."""
        root = self.root.rename(fn)
        renamed = frozenset(fn(n) for n in self.names)
        if renamed == self.names:
            return self
        return Expression(root.render(), root, renamed)

    def literals(self) -> list[Any]:
        """Constants written in the expression (used to probe satisfiability)."""
        return self.root.literals()

    def conjoin(self, other: Expression) -> Expression:
        """``self and other`` as one expression."""
        root = _BoolOp("and", (self.root, other.root))
        return Expression(root.render(), root, self.names | other.names)

    def __str__(self) -> str:
        return self.source


def parse(source: str) -> Expression:
    """Parse ``source`` into an :class:`Expression` or raise :class:`ExpressionError`."""
    if not isinstance(source, str):
        raise ExpressionError(f"an expression must be a string, got {type(source).__name__}")
    root = _Parser(source).parse()
    return Expression(source, root, frozenset(root.names()))
