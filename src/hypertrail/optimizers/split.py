"""The split of a space into its structure and its numbers.

Structure is what changes the shape of a model or a pipeline: categorical choices,
ordinal sequences, small integer ranges (depths, counts), and every parameter a
condition reads (it switches others on or off). Numbers are the rest: continuous
ranges and wide integer ranges, which a model-based optimizer polishes well.

The hybrid optimizer and its ablations (:mod:`hypertrail.optimizers.ablations`)
share this split; plans can override it with name patterns (``fnmatch`` style, so
``layers.*.activation`` names every copy of a block parameter).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hypertrail.errors import OptimizerError
from hypertrail.space.params import Categorical

if TYPE_CHECKING:
    from hypertrail.space.space import Param, Space

__all__ = ["Split", "SplitOptions", "structure_key"]

StructureKey = tuple[tuple[str, Any], ...]


def structure_key(structure: Mapping[str, Any]) -> StructureKey:
    """A hashable identity of a structure (names in space order, as given)."""
    return tuple(structure.items())


def _matches(name: str, patterns: Sequence[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, p) for p in patterns)


@dataclass(frozen=True)
class Split:
    """Which searched parameters are structural and which numeric.

    Example:
        >>> from hypertrail import Categorical, Float, Int, Space
        >>> space = Space({"act": Categorical(["relu", "tanh"]), "depth": Int(1, 4),
        ...                "lr": Float(1e-4, 1e-1, log=True), "width": Int(16, 512)})
        >>> split = Split.of(space)
        >>> split.structure, split.numeric
        (('act', 'depth'), ('lr', 'width'))
    """

    structure: tuple[str, ...]
    numeric: tuple[str, ...]

    @classmethod
    def of(
        cls,
        space: Space,
        structure_params: Sequence[str] = (),
        numeric_params: Sequence[str] = (),
        small_int: int = 8,
    ) -> Split:
        """The automatic split, with explicit patterns taking precedence.

        Raises:
            OptimizerError: a pattern matches no parameter, or one parameter is
                named by both lists.
        """
        names = [p.name for p in space.dimensions]
        for option, patterns in (
            ("structure_params", structure_params),
            ("numeric_params", numeric_params),
        ):
            for pattern in patterns:
                if not any(fnmatch.fnmatchcase(n, pattern) for n in names):
                    raise OptimizerError(
                        f"{option}: {pattern!r} matches no searched parameter; "
                        f"parameters: {', '.join(names)}"
                    )
        both = [n for n in names if _matches(n, structure_params) and _matches(n, numeric_params)]
        if both:
            raise OptimizerError(f"parameters named both structural and numeric: {', '.join(both)}")
        readers: set[str] = set()
        for param in space.params:
            if param.condition is not None:
                readers |= param.condition.names
        structure: list[str] = []
        numeric: list[str] = []
        for param in space.dimensions:
            if _matches(param.name, structure_params):
                is_structure = True
            elif _matches(param.name, numeric_params):
                is_structure = False
            else:
                is_structure = _is_structural(param, readers, small_int)
            (structure if is_structure else numeric).append(param.name)
        return cls(tuple(structure), tuple(numeric))

    def structure_of(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """The structural values of ``config`` (active ones only)."""
        return {n: config[n] for n in self.structure if n in config}

    def key(self, config: Mapping[str, Any]) -> StructureKey:
        return structure_key(self.structure_of(config))

    def structures(self, space: Space, cap: int = 64) -> list[dict[str, Any]] | None:
        """Every structure of the space, in space order (conditions followed,
        constraints not applied), or None when there are more than ``cap`` (or
        infinitely many: a condition reads a continuous parameter).

        Example:
            >>> from hypertrail import Categorical, Float, Int, Space
            >>> space = Space({"kernel": Categorical(["rbf", "poly"]),
            ...                "degree": Int(2, 4, when="kernel == 'poly'"),
            ...                "C": Float(1e-3, 1e3, log=True)})
            >>> [Split.of(space).key(s) for s in Split.of(space).structures(space)][:2]
            [(('kernel', 'rbf'),), (('kernel', 'poly'), ('degree', 2))]
        """
        chosen = set(self.structure)
        params = [p for p in space.params if p.name in chosen or not p.domain.has_dimension]
        if any(p.domain.cardinality() is None for p in params):
            return None  # a continuous parameter that a condition reads
        config: dict[str, Any] = {}
        found: list[dict[str, Any]] = []

        def walk(i: int) -> bool:  # False once past the cap
            if i == len(params):
                found.append(self.structure_of(config))
                return len(found) <= cap
            param = params[i]
            if param.condition is not None and not param.condition.holds(config):
                return walk(i + 1)
            for value in param.domain.values():
                config[param.name] = value
                if not walk(i + 1):
                    return False
            del config[param.name]
            return True

        return found if walk(0) else None

    def count(self, space: Space, cap: int = 64) -> int | None:
        """How many structures :meth:`structures` lists, or None past ``cap``."""
        found = self.structures(space, cap)
        return None if found is None else len(found)

    def describe(self, structure: Mapping[str, Any], limit: int = 60) -> str:
        """A short text of a structure for proposal reasons."""
        text = ",".join(f"{k}={v}" for k, v in structure.items()) or "-"
        return text if len(text) <= limit else text[: limit - 1] + "…"


def _is_structural(param: Param, readers: set[str], small_int: int) -> bool:
    if param.name in readers or isinstance(param.domain, Categorical):
        return True  # categorical includes ordinal (a subclass)
    card = param.domain.cardinality()
    return card is not None and card <= small_int


@dataclass(frozen=True)
class SplitOptions:
    """The split options every structure-aware optimizer takes, and the split they give.

    Args:
        structure_params, numeric_params: name patterns overriding the automatic
            split (see :meth:`Split.of`).
        small_int: integer ranges with at most this many values count as structure.
    """

    structure_params: Sequence[str] = ()
    numeric_params: Sequence[str] = ()
    small_int: int = 8

    def check_split_options(self) -> None:
        """Raise ``ValueError`` for malformed options (called by ``__post_init__``)."""
        for option in ("structure_params", "numeric_params"):
            value = getattr(self, option)
            if isinstance(value, str) or not all(isinstance(p, str) for p in value):
                raise ValueError(f"{option} must be a list of parameter names or patterns")
        if isinstance(self.small_int, bool) or not isinstance(self.small_int, int):
            raise ValueError(f"small_int must be a positive integer, got {self.small_int!r}")
        if self.small_int < 1:
            raise ValueError(f"small_int must be a positive integer, got {self.small_int!r}")

    def split_of(self, space: Space) -> Split:
        return Split.of(space, self.structure_params, self.numeric_params, self.small_int)
