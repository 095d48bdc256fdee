"""The condition/constraint language: grammar, values, three-valued logic, safety."""

from __future__ import annotations

from typing import Any

import pytest

from hypertrail.errors import ExpressionError, SpaceError
from hypertrail.space import Categorical, Float, Int, Space, parse
from hypertrail.space.expressions import FUNCTIONS, MISSING


def value(source: str, **env: Any) -> Any:
    """Evaluate ``source`` with ``env`` as the parameter values."""
    return parse(source).evaluate(env)


def parse_error(source: str) -> ExpressionError:
    """The error that parsing ``source`` raises."""
    with pytest.raises(ExpressionError) as info:
        parse(source)
    return info.value


# --- precedence and associativity ----------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("1 + 2 * 3", 7),
        ("(1 + 2) * 3", 9),
        ("10 - 4 - 3", 3),  # left-associative
        ("2 * 3 ** 2", 18),
        ("2 ** 3 ** 2", 512),  # right-associative, as in Python
        ("-2 ** 2", -4),  # ** binds tighter than unary minus
        ("2 ** -1", 0.5),
        ("(-2) ** 2", 4),
        ("--3", 3),
        ("+3", 3),
        ("7 // 2", 3),
        ("7 % 4", 3),
        ("7 / 2", 3.5),
        ("1 + 2 * 3 - 4 / 2", 5.0),
        ("7 // 2 % 3", 0),
        ("1 + 1 == 2", True),  # arithmetic before comparison
        ("not 1 == 2", True),  # not is looser than ==
        ("not 1 == 1 or true", True),
        ("true or false and false", True),  # and binds tighter than or
        ("(true or false) and false", False),
        ("not true and false", False),  # (not true) and false
        ("not (true and false)", True),
        ("not not true", True),
        ("1.5e1 + .5", 15.5),
        ("'a' + 'b' == 'ab'", True),
        ("null == null", True),
        ("None == null and True == true and False == false", True),
    ],
)
def test_precedence_and_arithmetic(source: str, expected: Any) -> None:
    result = value(source)
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("1 < 2 < 3", True),
        ("1 < 3 < 2", False),
        ("3 > 2 > 1", True),
        ("3 > 2 < 1", False),
        ("1 <= 1 < 2 != 3", True),
        ("1 == 1 == 1", True),
        ("1 < 2 == 2", True),  # 1 < 2 and 2 == 2, not (1 < 2) == 2
        ("0 < x <= 4", True),
        ("0 < x < 3", False),
    ],
)
def test_chained_comparisons(source: str, expected: bool) -> None:
    assert value(source, x=3) is expected


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("x in ['a', 'b']", True),
        ("x in ['c']", False),
        ("x not in ['c', 'd']", True),
        ("x not in ['a']", False),
        ("not x in ['a']", False),
        ("n in [1, 2, 3]", True),
        ("n in []", False),
        ("n + 1 in [3, 4]", True),
        ("n in [1.0, 2.0]", True),  # 2 == 2.0
        ("b in [1, 2]", False),  # true is not 1
        ("b in [true]", True),
        ("b == 1", False),
        ("n == true", False),
        ("n != true", True),
    ],
)
def test_membership_and_equality(source: str, expected: bool) -> None:
    assert value(source, x="a", n=2, b=True) is expected


def test_booleans_and_numbers_stay_apart_in_conditions() -> None:
    # choices [1, true] are two values; a condition on one must not match the other.
    space = Space(
        {
            "flag": Categorical([1, True]),
            "extra": Float(0.0, 1.0, when="flag == 1"),
        }
    )
    assert space.active_names({"flag": True}) == ["flag"]
    assert space.active_names({"flag": 1}) == ["flag", "extra"]


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("abs(-3)", 3),
        ("min(3, 1, 2)", 1),
        ("max(3, 1, 2)", 3),
        ("sum(1, 2, 3)", 6),
        ("sqrt(16)", 4.0),
        ("log(exp(2))", 2.0),
        ("log2(8)", 3.0),
        ("log10(1000)", 3.0),
        ("floor(2.7) + ceil(2.1)", 5),
        ("round(3.7)", 4),
        ("coalesce(1, 2)", 1),
        ("coalesce(gone, 2)", 2),
        ("coalesce(gone, also_gone, n)", 5),
        ("coalesce(gone, 0) + n", 5),
        ("max(n, 2) * 2", 10),
        ("min(n, 10) - abs(-n)", 0),
    ],
)
def test_functions(source: str, expected: Any) -> None:
    assert value(source, n=5) == pytest.approx(expected)


def test_coalesce_of_only_missing_values_is_missing() -> None:
    assert value("coalesce(gone)") is MISSING
    assert value("coalesce(gone, also_gone)") is MISSING


def test_function_table_is_the_documented_whitelist() -> None:
    assert set(FUNCTIONS) == {
        "abs", "min", "max", "sum", "log", "log2", "log10",
        "exp", "sqrt", "floor", "ceil", "round", "coalesce",
    }  # fmt: skip


# --- three-valued logic --------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("gone == 1", MISSING),
        ("gone != 1", MISSING),
        ("gone > 1", MISSING),
        ("gone in [1, 2]", MISSING),
        ("gone + 1", MISSING),
        ("-gone", MISSING),
        ("abs(gone)", MISSING),
        ("max(gone, 1)", MISSING),
        ("not gone", MISSING),
        ("not (gone > 1)", MISSING),
        ("gone == gone", MISSING),
        ("1 < gone < 3", MISSING),
        ("false and gone > 1", False),
        ("gone > 1 and false", False),
        ("true and gone > 1", MISSING),
        ("true or gone > 1", True),
        ("gone > 1 or true", True),
        ("false or gone > 1", MISSING),
        ("5 < 3 < gone", False),  # a definite False ends the chain
        ("gone > 1 or n == 5", True),
        ("gone > 1 and n == 4", False),
    ],
)
def test_missing_propagates_with_three_valued_logic(source: str, expected: Any) -> None:
    result = value(source, n=5)
    if expected is MISSING:
        assert result is MISSING
    else:
        assert result is expected


def test_condition_on_a_missing_parameter_is_not_met() -> None:
    condition = parse("optimizer == 'sgd'")
    assert condition.holds({"optimizer": "sgd"})
    assert not condition.holds({"optimizer": "adam"})
    assert not condition.holds({})
    negated = parse("optimizer != 'sgd'")
    assert not negated.holds({})  # unknown is not true either way


def test_constraint_on_a_missing_parameter_is_not_violated() -> None:
    constraint = parse("layers.2.width <= 64")
    assert constraint.violated({"layers.2.width": 128})
    assert not constraint.violated({"layers.2.width": 32})
    assert not constraint.violated({"n_layers": 2})
    bounded = parse("coalesce(layers.2.width, 0) + layers.0.width <= 100")
    assert bounded.violated({"layers.0.width": 101})
    assert not bounded.violated({"layers.0.width": 100})


def test_missing_has_no_truth_value() -> None:
    with pytest.raises(TypeError):
        bool(MISSING)
    assert repr(MISSING) == "MISSING"


def test_space_uses_three_valued_logic_for_activity_and_constraints() -> None:
    space = Space(
        {
            "optimizer": Categorical(["adam", "sgd"]),
            "momentum": Float(0.0, 0.99, when="optimizer == 'sgd'"),
            "nesterov": Categorical([True, False], when="momentum > 0.5"),
        },
        constraints=["momentum < 0.9"],
    )
    adam = {"optimizer": "adam"}
    assert space.active_names(adam) == ["optimizer"]
    assert space.problems(adam) == []  # the constraint on inactive momentum does not bind
    assert space.problems({"optimizer": "sgd", "momentum": 0.3}) == []
    assert space.problems({"optimizer": "sgd", "momentum": 0.95, "nesterov": True}) == [
        "violates constraint 'momentum < 0.9'"
    ]


# --- names ---------------------------------------------------------------------------


def test_names_include_dotted_names_and_exclude_functions_and_keywords() -> None:
    expr = parse("coalesce(layers.0.width, 0) > n and act in ['relu'] or not flag == true")
    assert expr.names == {"layers.0.width", "n", "act", "flag"}
    assert parse("1 + 2").names == frozenset()


def test_rename_rewrites_every_name() -> None:
    expr = parse("width > 16 and act != 'gelu'")
    renamed = expr.rename(lambda name: f"layers.1.{name}")
    assert renamed.names == {"layers.1.width", "layers.1.act"}
    assert renamed.holds({"layers.1.width": 32, "layers.1.act": "relu"})
    assert not renamed.holds({"width": 32, "act": "relu"})
    assert parse(renamed.source).names == renamed.names  # the rendering parses back
    assert expr.rename(lambda name: name) is expr


def test_conjoin() -> None:
    both = parse("x > 1").conjoin(parse("y < 2"))
    assert both.names == {"x", "y"}
    assert both.holds({"x": 2, "y": 1})
    assert not both.holds({"x": 2, "y": 3})
    assert not both.holds({"x": 2})


# --- errors --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "column", "fragment"),
    [
        ("x = 1", 3, "'=' is not an operator (did you mean '=='?)"),
        ("optimizer = 'sgd'", 11, "did you mean '=='?"),
        ("x == ", 6, "expected a value, found end of expression"),
        ("(x > 1", 7, "expected ')'"),
        ("x == 1)", 7, "unexpected ')'"),
        ("[1, 2", 6, "expected ']'"),
        ("", 1, "empty expression"),
        ("   ", 4, "empty expression"),
        ("and x", 1, "unexpected keyword 'and'"),
        ("x and", 6, "expected a value"),
        ("x not 1", 3, "unexpected 'not'"),
        ("1 2", 3, "unexpected '2'"),
        ("x in", 5, "expected a value"),
        ("x @ y", 3, "unexpected character '@'"),
        ("x ! y", 3, "unexpected character '!'"),
        ("'unterminated", 1, 'unexpected character "\'"'),
        ("min()", 1, "min() takes at least 1 argument(s), got 0"),
        ("lr < 0.1 and abs(1, 2) > 0", 14, "abs() takes 1 argument(s), got 2"),
        ("coalesce()", 1, "coalesce() takes at least 1"),
        ("lr < 1 and sin(lr) > 0", 12, "unknown function 'sin'"),
        ("1" + "0" * 5000, 1, "number too long"),
    ],
)
def test_malformed_expressions_raise_with_a_column(source: str, column: int, fragment: str) -> None:
    error = parse_error(source)
    assert error.column == column
    assert fragment in str(error)
    assert error.source == source
    assert f"at column {column}" in str(error)


def test_non_string_expression_is_rejected() -> None:
    with pytest.raises(ExpressionError, match="must be a string"):
        parse(3)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("source", "fragment"),
    [
        ("log(0)", "undefined"),
        ("sqrt(-1)", "undefined"),
        ("exp(1000)", "undefined"),
        ("1 / 0", "division by zero"),
        ("1 // 0", "division by zero"),
        ("1 % 0", "division by zero"),
        ("2.0 ** 5000", "overflow"),
        ("2 ** 10 ** 10", "overflow"),  # refused at once, not computed for minutes
        ("10 ** 10 ** 10 > 1", "overflow"),
        ("'a' < 1", "cannot order"),
        ("1 in 2", "needs a list"),
        ("'a' * 2", "needs a number"),
        ("abs('a')", "needs a number"),
        ("-'a'", "needs a number"),
        ("1 + true", "needs a number"),
    ],
)
def test_evaluation_errors_are_expression_errors(source: str, fragment: str) -> None:
    expr = parse(source)
    with pytest.raises(ExpressionError) as info:
        expr.evaluate({})
    assert fragment in str(info.value)
    assert info.value.source == source


def test_big_exact_integers_within_reason_still_work() -> None:
    assert value("2 ** 64") == 18446744073709551616
    assert value("2 ** -2000") == 0.0
    assert value("1 ** (10 ** 10)") == 1
    assert value("(-1) ** (10 ** 10 + 1)") == -1


# --- safety: nothing reaches Python --------------------------------------------------


@pytest.mark.parametrize(
    ("source", "fragment"),
    [
        ("__import__('os')", "unknown function '__import__'"),
        ("__import__('os').system('false')", "unexpected character '.'"),
        ("eval('1')", "unknown function 'eval'"),
        ("exec('x = 1')", "unknown function 'exec'"),
        ("open('/etc/passwd')", "unknown function 'open'"),
        ("getattr(x, 'y')", "unknown function 'getattr'"),
        ("x.__class__()", "unknown function 'x.__class__'"),
        ("().__class__", "unexpected character '.'"),
        ("'a'.upper()", "unexpected character '.'"),
        ("[].__class__.__bases__", "unexpected character '.'"),
        ("x[0]", "unexpected '['"),
        ("x['__class__']", "unexpected '['"),
        ("lambda: 1", "unexpected character ':'"),
        ("x if x else y", "unexpected 'if'"),
        ("f'{x}'", "unexpected"),
        ("x; y", "unexpected character ';'"),
    ],
)
def test_python_constructs_are_rejected(source: str, fragment: str) -> None:
    assert fragment in str(parse_error(source))


@pytest.mark.parametrize("source", ["x.__class__", "x.__dict__", "__builtins__", "os.system"])
def test_attribute_like_names_are_plain_unknown_names(source: str) -> None:
    # Read as a (dotted) parameter name, looked up in the config only, never in Python.
    expr = parse(source)
    assert expr.names == {source}
    assert expr.evaluate({"x": 3}) is MISSING
    assert expr.evaluate({source: 7}) == 7


def test_attribute_like_names_are_unknown_parameters_in_a_space() -> None:
    with pytest.raises(SpaceError) as info:
        Space({"x": Int(1, 4), "y": Float(0.0, 1.0, when="x.__class__ == 'int'")})
    [issue] = info.value.issues
    assert issue.path == "params.y.when"
    assert "unknown parameter 'x.__class__'" in issue.message


def test_space_reports_malformed_conditions_and_constraints_with_their_column() -> None:
    with pytest.raises(SpaceError) as info:
        Space(
            {"x": Int(1, 4), "y": Float(0.0, 1.0, when="x = 2")},
            constraints=["x <= 3", "x >"],
        )
    issues = {i.path: i.message for i in info.value.issues}
    assert "did you mean '=='?" in issues["params.y.when"]
    assert "at column 3" in issues["params.y.when"]
    assert "at column 4" in issues["constraints[1]"]
    assert len(issues) == 2
