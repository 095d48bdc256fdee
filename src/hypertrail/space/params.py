"""Parameter domains: what values a parameter can take and how to draw them.

Each domain has two faces (the split ConfigSpace calls value space and vector
space): the *value* a user's objective sees, and a position on the unit interval
used by space-filling and model-based optimizers (:meth:`Domain.to_unit`,
:meth:`Domain.from_unit`). Domains are plain frozen dataclasses and do not raise on
construction; :meth:`Domain.problems` lists everything wrong so that a space can
report all of its errors at once.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, TypeAlias

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "Categorical",
    "Domain",
    "Fixed",
    "Float",
    "Int",
    "Ordinal",
    "Scalar",
]

Scalar: TypeAlias = str | int | float | bool | None
Problem: TypeAlias = tuple[str, str]  # (key inside the parameter, message)

_FLOAT_TOLERANCE = 1e-9


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | bool) or _is_number(value)


def _fmt(value: Any) -> str:
    return (
        repr(value) if isinstance(value, str) else f"{value:g}" if _is_number(value) else str(value)
    )


class Domain:
    """Base of all parameter domains. Subclasses are frozen dataclasses."""

    kind: ClassVar[str]
    when: str | None
    default: Any

    @property
    def is_discrete(self) -> bool:
        return self.cardinality() is not None

    @property
    def has_dimension(self) -> bool:
        """Whether optimizers search this parameter (``fixed`` ones are not searched)."""
        return True

    def problems(self) -> list[Problem]:
        """Everything wrong with this domain, as ``(key, message)`` pairs."""
        raise NotImplementedError

    def cardinality(self) -> int | None:
        """Number of distinct values, or None for a continuous range."""
        raise NotImplementedError

    def values(self) -> list[Any]:
        """All values of a discrete domain, in order."""
        raise NotImplementedError

    def contains(self, value: Any) -> bool:
        raise NotImplementedError

    def sample(self, rng: np.random.Generator) -> Any:
        return self.from_unit(float(rng.random()))

    def from_unit(self, u: float) -> Any:
        """Map ``u`` in [0, 1) to a value."""
        raise NotImplementedError

    def to_unit(self, value: Any) -> float:
        """Map a value to the centre of its cell in [0, 1]."""
        raise NotImplementedError

    def default_value(self) -> Any:
        """The declared default, or a neutral value (midpoint, first choice)."""
        raise NotImplementedError

    def to_unit_many(self, values: Sequence[Any]) -> np.ndarray:
        """:meth:`to_unit` of many values at once (vectorized where it matters)."""
        import numpy as np

        return np.array([self.to_unit(v) for v in values], dtype=float)

    def probe_values(self, literals: Sequence[Any], rng: np.random.Generator) -> list[Any]:
        """A handful of telling values: bounds, middle, and values near ``literals``.

        Used to decide, without enumeration, whether a condition can ever hold.
        """
        card = self.cardinality()
        if card is not None and card <= 64:
            return self.values()
        out = [self.from_unit(0.0), self.from_unit(0.5), self.from_unit(1.0 - 1e-12)]
        for lit in literals:
            if self.contains(lit):
                out.append(lit)
            if _is_number(lit):
                for candidate in (lit, lit - 1, lit + 1, lit * (1 + 1e-9), lit * (1 - 1e-9)):
                    snapped = self.from_unit(min(max(self.to_unit(candidate), 0.0), 1 - 1e-12))
                    out.append(snapped)
        out.extend(self.sample(rng) for _ in range(8))
        unique: list[Any] = []
        for value in out:
            if value not in unique:
                unique.append(value)
        return unique

    def to_json(self) -> dict[str, Any]:
        """The declaration as a JSON-ready dict (defaults filled in, for fingerprints)."""
        raise NotImplementedError

    def _common_problems(self) -> list[Problem]:
        out: list[Problem] = []
        if self.when is not None and not isinstance(self.when, str):
            out.append(("when", "must be an expression string"))
        if self.default is not None and not self.contains(self.default):
            out.append(("default", f"default {_fmt(self.default)} is not in the domain"))
        return out


def _normal(value: Any, kind: type[int] | type[float]) -> Any:
    """``value`` as ``kind`` when it is exactly such a number (4.0 -> 4 for an int),
    else unchanged, so that equal declarations serialize, and hash, alike."""
    if not _is_number(value) or (kind is int and not float(value).is_integer()):
        return value
    return kind(value)


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _range_problems(low: Any, high: Any, log: Any, step: Any, integer: bool) -> list[Problem]:
    out: list[Problem] = []
    for key, value in (("low", low), ("high", high)):
        if not _is_number(value):
            hint = ""
            if isinstance(value, str) and _looks_numeric(value):
                hint = f" (YAML reads {value} as text; write it with a dot, e.g. 1.0e-5)"
            out.append((key, f"must be a finite number, got {value!r}{hint}"))
        elif integer and not float(value).is_integer():
            out.append((key, f"must be an integer, got {value!r}"))
    if not isinstance(log, bool):
        out.append(("log", f"must be true or false, got {log!r}"))
    if out:
        return out
    if low > high:
        out.append(("low", f"low ({_fmt(low)}) > high ({_fmt(high)})"))
    elif low == high:
        out.append(("high", f"empty range: low == high == {_fmt(low)} (use type: fixed)"))
    if log and low <= 0:
        out.append(("low", f"log scale needs low > 0, got {_fmt(low)}"))
    if step is not None:
        if not _is_number(step) or step <= 0:
            out.append(("step", f"step must be a positive number, got {step!r}"))
        elif integer and not float(step).is_integer():
            out.append(("step", f"step of an int must be an integer, got {step!r}"))
        elif log:
            out.append(("step", "step cannot be combined with log: true"))
        elif low < high:
            if step > high - low:
                out.append(
                    ("step", f"step {_fmt(step)} is larger than the range {_fmt(high - low)}")
                )
            else:
                n = (high - low) / step
                if abs(n - round(n)) > 1e-6 * max(1.0, n):
                    out.append(
                        (
                            "step",
                            f"range {_fmt(low)}..{_fmt(high)} is not a multiple of "
                            f"step {_fmt(step)}",
                        )
                    )
    return out


@dataclass(frozen=True)
class Float(Domain):
    """A real number in ``[low, high]``, optionally on a log scale or a grid of ``step``.

    Example:
        >>> Float(1e-5, 1e-1, log=True).from_unit(0.5)  # geometric middle
        0.001
    """

    kind: ClassVar[str] = "float"
    low: float
    high: float
    log: bool = False
    step: float | None = None
    default: float | None = None
    when: str | None = None

    def problems(self) -> list[Problem]:
        out = _range_problems(self.low, self.high, self.log, self.step, integer=False)
        return out or self._common_problems()

    def _n_steps(self) -> int:
        assert self.step is not None
        return round((self.high - self.low) / self.step)

    def cardinality(self) -> int | None:
        return None if self.step is None else self._n_steps() + 1

    def values(self) -> list[Any]:
        if self.step is None:
            raise ValueError("a continuous float has no finite list of values")
        return [self._grid(i) for i in range(self._n_steps() + 1)]

    def _grid(self, i: int) -> float:
        assert self.step is not None
        # Rounding keeps 0.1 * 3 from becoming 0.30000000000000004 in stored configs.
        return min(round(self.low + i * self.step, 12), self.high)

    def contains(self, value: Any) -> bool:
        if not _is_number(value):
            return False
        span = self.high - self.low
        tol = _FLOAT_TOLERANCE * max(1.0, abs(span))
        if not (self.low - tol <= value <= self.high + tol):
            return False
        if self.step is not None:
            k = (float(value) - self.low) / self.step
            return abs(k - round(k)) < 1e-6
        return True

    def from_unit(self, u: float) -> float:
        if self.step is not None:
            n = self._n_steps()
            return self._grid(min(int(u * (n + 1)), n))
        if self.log:
            lo, hi = math.log(self.low), math.log(self.high)
            value = math.exp(lo + u * (hi - lo))
        else:
            value = self.low + u * (self.high - self.low)
        return min(max(value, self.low), self.high)

    def to_unit(self, value: Any) -> float:
        if self.step is not None:
            n = self._n_steps()
            k = round((float(value) - self.low) / self.step)
            return (min(max(k, 0), n) + 0.5) / (n + 1)
        if self.log:
            lo, hi = math.log(self.low), math.log(self.high)
            return min(max((math.log(max(float(value), self.low)) - lo) / (hi - lo), 0.0), 1.0)
        return min(max((float(value) - self.low) / (self.high - self.low), 0.0), 1.0)

    def to_unit_many(self, values: Sequence[Any]) -> np.ndarray:
        import numpy as np

        v = np.asarray(values, dtype=float)
        if self.step is not None:
            n = self._n_steps()
            k = np.clip(np.round((v - self.low) / self.step), 0, n)
            out: np.ndarray = (k + 0.5) / (n + 1)
            return out
        if self.log:
            lo, hi = math.log(self.low), math.log(self.high)
            logs: np.ndarray = np.clip((np.log(np.maximum(v, self.low)) - lo) / (hi - lo), 0.0, 1.0)
            return logs
        linear: np.ndarray = np.clip((v - self.low) / (self.high - self.low), 0.0, 1.0)
        return linear

    def default_value(self) -> float:
        return self.default if self.default is not None else self.from_unit(0.5)

    def to_json(self) -> dict[str, Any]:
        return _range_json(self, float)


@dataclass(frozen=True)
class Int(Domain):
    """An integer in ``[low, high]`` (inclusive), optionally log-scaled or stepped.

    Example:
        >>> Int(1, 4).values()
        [1, 2, 3, 4]
    """

    kind: ClassVar[str] = "int"
    low: int
    high: int
    log: bool = False
    step: int | None = None
    default: int | None = None
    when: str | None = None

    def problems(self) -> list[Problem]:
        out = _range_problems(self.low, self.high, self.log, self.step, integer=True)
        return out or self._common_problems()

    def _step(self) -> int:
        return int(self.step) if self.step is not None else 1

    def cardinality(self) -> int:
        return (int(self.high) - int(self.low)) // self._step() + 1

    def values(self) -> list[Any]:
        return list(range(int(self.low), int(self.high) + 1, self._step()))

    def contains(self, value: Any) -> bool:
        integral = isinstance(value, int) or (isinstance(value, float) and value.is_integer())
        if isinstance(value, bool) or not integral:
            return False
        return self.low <= value <= self.high and (int(value) - int(self.low)) % self._step() == 0

    def from_unit(self, u: float) -> int:
        if self.log:
            # Each integer owns the log-interval [k - 0.5, k + 0.5], as the float
            # relaxation of a log-uniform integer.
            lo, hi = math.log(self.low - 0.5), math.log(self.high + 0.5)
            value = round(math.exp(lo + u * (hi - lo)))
            return int(min(max(value, self.low), self.high))
        n = self.cardinality()
        return int(self.low) + min(int(u * n), n - 1) * self._step()

    def to_unit(self, value: Any) -> float:
        if self.log:
            lo, hi = math.log(self.low - 0.5), math.log(self.high + 0.5)
            return min(max((math.log(value) - lo) / (hi - lo), 0.0), 1.0)
        n = self.cardinality()
        k = (int(value) - int(self.low)) // self._step()
        return (min(max(k, 0), n - 1) + 0.5) / n

    def to_unit_many(self, values: Sequence[Any]) -> np.ndarray:
        import numpy as np

        v = np.asarray(values, dtype=float)
        if self.log:
            lo, hi = math.log(self.low - 0.5), math.log(self.high + 0.5)
            logs: np.ndarray = np.clip((np.log(v) - lo) / (hi - lo), 0.0, 1.0)
            return logs
        n = self.cardinality()
        k = np.clip(np.floor_divide(v - int(self.low), self._step()), 0, n - 1)
        out: np.ndarray = (k + 0.5) / n
        return out

    def default_value(self) -> int:
        if self.default is not None:
            return int(self.default)
        return self.from_unit(0.5)

    def to_json(self) -> dict[str, Any]:
        return _range_json(self, int)


def _range_json(domain: Float | Int, kind: type[int] | type[float]) -> dict[str, Any]:
    """The declaration of a range. Numbers are normalized to ``kind`` (``low: 0`` and
    ``low: 0.0`` declare the same float), so equal declarations fingerprint alike."""
    out: dict[str, Any] = {
        "type": domain.kind,
        "low": _normal(domain.low, kind),
        "high": _normal(domain.high, kind),
        "log": domain.log,
    }
    if domain.step is not None:
        out["step"] = _normal(domain.step, kind)
    if domain.default is not None:
        out["default"] = _normal(domain.default, kind)
    if domain.when is not None:
        out["when"] = domain.when
    return out


def _choice_problems(key: str, items: Any) -> list[Problem]:
    if not isinstance(items, list | tuple):
        return [(key, f"must be a list, got {type(items).__name__}")]
    if not items:
        return [(key, "must not be empty")]
    out: list[Problem] = []
    seen: dict[Any, int] = {}
    for i, item in enumerate(items):
        if not _is_scalar(item):
            out.append((f"{key}[{i}]", f"must be a string, number, boolean or null, got {item!r}"))
            continue
        # 1 == 1.0 == True in Python; keep them apart so [1, true] is not a duplicate.
        marker = (
            type(item).__name__ if isinstance(item, bool | str) or item is None else "num",
            item,
        )
        if marker in seen:
            out.append(
                (f"{key}[{i}]", f"duplicate value {_fmt(item)} (also at index {seen[marker]})")
            )
        else:
            seen[marker] = i
    return out


def _choice_key(value: Any) -> tuple[str, Any]:
    """A dict key under which 3 and 3.0 meet but True and 1 do not."""
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, int | float):
        return ("num", value)
    return (type(value).__name__, value)


@dataclass(frozen=True)
class Categorical(Domain):
    """An unordered choice among scalars.

    Example:
        >>> Categorical(["adam", "sgd"]).from_unit(0.7)
        'sgd'
    """

    kind: ClassVar[str] = "categorical"
    choices: Sequence[Scalar]
    default: Scalar = None
    when: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.choices, list):  # stored as a tuple: frozen and hashable
            object.__setattr__(self, "choices", tuple(self.choices))

    def problems(self) -> list[Problem]:
        out = _choice_problems("choices", self.choices)
        return out or self._common_problems()

    def cardinality(self) -> int:
        return len(self.choices)

    def values(self) -> list[Any]:
        return list(self.choices)

    def index(self, value: Any) -> int:
        """Position of ``value`` among the choices (``3.0`` finds ``3``, never ``True``)."""
        lookup = self.__dict__.get("_lookup")
        if lookup is None:
            # Built once: optimizers ask for indices millions of times, and a list
            # scan is O(choices). Keys keep booleans apart from numbers.
            lookup = {}
            for i, item in enumerate(self.choices):
                lookup.setdefault(_choice_key(item), i)
            object.__setattr__(self, "_lookup", lookup)
        try:
            found = lookup.get(_choice_key(value))
        except TypeError:  # unhashable: not a choice
            found = None
        if found is None:
            raise ValueError(f"{value!r} is not one of the values")
        return int(found)

    def contains(self, value: Any) -> bool:
        try:
            self.index(value)
        except ValueError:
            return False
        return True

    def sample(self, rng: np.random.Generator) -> Any:
        return self.choices[int(rng.integers(len(self.choices)))]

    def from_unit(self, u: float) -> Any:
        n = len(self.choices)
        return self.choices[min(int(u * n), n - 1)]

    def to_unit(self, value: Any) -> float:
        return (self.index(value) + 0.5) / len(self.choices)

    def default_value(self) -> Any:
        return self.default if self.default is not None else self.choices[0]

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "categorical", "choices": list(self.choices)}
        if self.default is not None:
            out["default"] = self.default
        if self.when is not None:
            out["when"] = self.when
        return out


@dataclass(frozen=True)
class Ordinal(Categorical):
    """An ordered choice: like :class:`Categorical`, but neighbours are similar.

    Example:
        >>> Ordinal([16, 32, 64]).to_unit(32)
        0.5
    """

    kind: ClassVar[str] = "ordinal"
    choices: Sequence[Scalar] = field(default=())

    def problems(self) -> list[Problem]:
        out = _choice_problems("values", self.choices)
        return out or self._common_problems()

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "ordinal", "values": list(self.choices)}
        if self.default is not None:
            out["default"] = self.default
        if self.when is not None:
            out["when"] = self.when
        return out


@dataclass(frozen=True)
class Fixed(Domain):
    """A constant, recorded with every configuration but never searched.

    Example:
        >>> Fixed(20).values()
        [20]
    """

    kind: ClassVar[str] = "fixed"
    value: Scalar
    when: str | None = None
    default: Any = field(default=None, init=False, repr=False)

    @property
    def has_dimension(self) -> bool:
        return False

    def problems(self) -> list[Problem]:
        if not _is_scalar(self.value):
            return [("value", f"must be a string, number, boolean or null, got {self.value!r}")]
        return self._common_problems()

    def cardinality(self) -> int:
        return 1

    def values(self) -> list[Any]:
        return [self.value]

    def contains(self, value: Any) -> bool:
        return bool(value == self.value and type(value) is type(self.value)) or (
            _is_number(value) and _is_number(self.value) and value == self.value
        )

    def sample(self, rng: np.random.Generator) -> Any:
        return self.value

    def from_unit(self, u: float) -> Any:
        return self.value

    def to_unit(self, value: Any) -> float:
        return 0.5

    def default_value(self) -> Any:
        return self.value

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "fixed", "value": self.value}
        if self.when is not None:
            out["when"] = self.when
        return out
