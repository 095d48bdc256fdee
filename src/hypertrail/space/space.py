"""The search space: declared parameters, flattened, ordered and validated.

A :class:`Space` is built from declarations (domains and repeat blocks) and
constraints. It expands blocks into flat dotted names, resolves every name that a
condition or constraint uses, orders parameters so that each comes after the
parameters its condition reads, and checks the whole thing before any trial runs.
"""

from __future__ import annotations

import difflib
import hashlib
import itertools
import json
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from hypertrail.errors import ExpressionError, Issue, OptimizerError, SpaceError
from hypertrail.space.expressions import MISSING, Expression, parse
from hypertrail.space.params import Domain, Fixed, Int, Ordinal
from hypertrail.space.repeat import Repeat

if TYPE_CHECKING:
    import numpy as np

__all__ = ["SPACE_SCHEMA_VERSION", "Constraint", "Param", "Space"]

SPACE_SCHEMA_VERSION = 1
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_RESERVED = frozenset({"and", "or", "not", "in", "true", "false", "null", "True", "False", "None"})
# Budgets of the validation probes; they bound validation time on huge spaces.
_PROBE_EXHAUSTIVE = 20_000
_PROBE_SAMPLES = 4_000
_CONSTRAINT_SAMPLES = 2_000
_SAMPLE_TRIES = 10_000


@dataclass(frozen=True)
class Param:
    """One flattened parameter: a dotted name, its domain and its full condition.

    ``condition`` already folds in the block a parameter belongs to (copy *i* of
    ``layers`` carries ``n_layers > i``), so activity is decided by it alone.
    """

    name: str
    domain: Domain
    condition: Expression | None
    path: str  # key path of the declaration, e.g. "params.layers.item.width"

    @property
    def kind(self) -> str:
        return self.domain.kind


@dataclass(frozen=True)
class Constraint:
    """An expression every configuration must satisfy."""

    source: str
    expression: Expression
    index: int


def _suggest(name: str, known: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, known, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


class Space:
    """A validated, hierarchical search space.

    Args:
        params: name -> domain or :class:`Repeat` block, in declaration order.
        constraints: expressions that every configuration must satisfy.
        description: free text kept with the space.

    Raises:
        SpaceError: with every problem found, each naming its key path.

    Example:
        >>> from hypertrail import Categorical, Float, Space
        >>> space = Space({
        ...     "optimizer": Categorical(["adam", "sgd"]),
        ...     "momentum": Float(0.0, 0.99, when="optimizer == 'sgd'"),
        ... })
        >>> [p.name for p in space.params]
        ['optimizer', 'momentum']
    """

    def __init__(
        self,
        params: Mapping[str, Domain | Repeat],
        constraints: Sequence[str] = (),
        *,
        description: str | None = None,
    ) -> None:
        self.declared: dict[str, Domain | Repeat] = dict(params)
        self.constraint_sources: tuple[str, ...] = tuple(constraints)
        self.description = description
        self._blocks: list[tuple[str, Repeat, str]] = []
        issues: list[Issue] = []
        flat = self._flatten(self.declared, "params", (), issues)
        self._by_name: dict[str, Param] = {}
        for param in flat:
            if param.name in self._by_name:
                issues.append(Issue(param.path, f"duplicate parameter name {param.name!r}"))
            self._by_name[param.name] = param
        self.constraints = self._parse_constraints(issues)
        if not issues:
            self._check_names(issues)
        self.params: tuple[Param, ...] = ()
        if not issues:
            self.params = self._order(flat, issues)
        if not issues:
            self._check_satisfiable(issues)
        if issues:
            raise SpaceError(issues)

    # --- construction ----------------------------------------------------------------

    def _flatten(
        self,
        decls: Mapping[str, Domain | Repeat],
        path: str,
        scopes: tuple[tuple[str, frozenset[str]], ...],
        issues: list[Issue],
        prefix: str = "",
        outer: Expression | None = None,
    ) -> list[Param]:
        """Expand blocks into flat params; ``scopes`` resolves names inside items."""
        if not isinstance(decls, Mapping) or not decls:
            issues.append(Issue(path, "must be a non-empty mapping of parameters"))
            return []
        local = frozenset(decls)
        scopes = (*scopes, (prefix, local))
        out: list[Param] = []
        for name, spec in decls.items():
            key = f"{path}.{name}"
            if not isinstance(name, str) or not _NAME.match(name) or name in _RESERVED:
                issues.append(
                    Issue(key, f"invalid name {name!r}: use letters, digits and '_', no dots")
                )
                continue
            own = self._parse_when(spec, key, scopes, issues)
            condition = own if outer is None else (outer if own is None else outer.conjoin(own))
            if isinstance(spec, Repeat):
                out.extend(self._expand(name, spec, key, scopes, issues, prefix, condition))
            elif isinstance(spec, Domain):
                for sub, message in spec.problems():
                    issues.append(Issue(f"{key}.{sub}", message))
                out.append(Param(prefix + name, spec, condition, key))
            else:
                issues.append(Issue(key, f"not a parameter declaration: {spec!r}"))
        return out

    def _parse_when(
        self,
        spec: Any,
        key: str,
        scopes: tuple[tuple[str, frozenset[str]], ...],
        issues: list[Issue],
    ) -> Expression | None:
        when = getattr(spec, "when", None)
        if when is None:
            return None
        try:
            expr = parse(when)
        except ExpressionError as exc:
            issues.append(Issue(f"{key}.when", f"malformed condition: {exc}"))
            return None
        return expr.rename(lambda n: _resolve(n, scopes))

    def _expand(
        self,
        name: str,
        block: Repeat,
        key: str,
        scopes: tuple[tuple[str, frozenset[str]], ...],
        issues: list[Issue],
        prefix: str,
        condition: Expression | None,
    ) -> list[Param]:
        count_name = block.count
        if not isinstance(count_name, str) or not count_name:
            issues.append(Issue(f"{key}.count", "must name an integer parameter"))
            return []
        if isinstance(block.max, bool) or not isinstance(block.max, int) or block.max < 1:
            issues.append(Issue(f"{key}.max", f"must be a positive integer, got {block.max!r}"))
            return []
        if not block.item:
            issues.append(Issue(f"{key}.item", "must declare at least one parameter"))
            return []
        resolved = _resolve(count_name, scopes)
        out: list[Param] = []
        for i in range(block.max):
            clause = parse(f"{resolved} > {i}")
            copy_condition = clause if condition is None else condition.conjoin(clause)
            out.extend(
                self._flatten(
                    block.item,
                    f"{key}.item",
                    scopes,
                    issues,
                    f"{prefix}{name}.{i}.",
                    copy_condition,
                )
            )
            if issues:
                break  # one copy's errors are enough; the others would repeat them
        self._blocks.append((key, block, resolved))
        return out

    def _parse_constraints(self, issues: list[Issue]) -> tuple[Constraint, ...]:
        out: list[Constraint] = []
        if isinstance(self.constraint_sources, str):
            issues.append(Issue("constraints", "must be a list of expressions"))
            return ()
        for i, source in enumerate(self.constraint_sources):
            try:
                out.append(Constraint(source, parse(source), i))
            except ExpressionError as exc:
                issues.append(Issue(f"constraints[{i}]", f"malformed constraint: {exc}"))
        return tuple(out)

    def _check_names(self, issues: list[Issue]) -> None:
        known = list(self._by_name)
        # An unknown count is reported once at the block's ``count``; every copy of its
        # item carries it in its condition, which must not add one issue per copy.
        unknown_counts = {count for _, _, count in self._blocks if count not in self._by_name}
        seen: set[tuple[str, str]] = set()
        for param in self._by_name.values():
            if param.condition is None:
                continue
            for ref in sorted(param.condition.names):
                if ref not in self._by_name and ref not in unknown_counts:
                    issue = Issue(
                        _when_path(param),
                        f"condition names unknown parameter {_display(ref)!r}"
                        + _suggest(_display(ref), known),
                    )
                    if (issue.path, issue.message) not in seen:  # once, not once per copy
                        seen.add((issue.path, issue.message))
                        issues.append(issue)
        for constraint in self.constraints:
            for ref in sorted(constraint.expression.names):
                if ref not in self._by_name:
                    issues.append(
                        Issue(
                            f"constraints[{constraint.index}]",
                            f"constraint names unknown parameter {ref!r}" + _suggest(ref, known),
                        )
                    )
        checked: set[str] = set()
        for key, block, count in self._blocks:
            if key in checked:  # a block inside a block is expanded once per outer copy
                continue
            checked.add(key)
            target = self._by_name.get(count)
            if target is None:
                issues.append(
                    Issue(f"{key}.count", f"count names unknown parameter {block.count!r}")
                )
                continue
            domain = target.domain
            if isinstance(domain, Int | Ordinal | Fixed):
                values = domain.values() if not isinstance(domain, Int) else [domain.high]
                if not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
                    issues.append(
                        Issue(f"{key}.count", f"count {count!r} must take integer values")
                    )
                    continue
                top = max(values) if not isinstance(domain, Int) else int(domain.high)
                if top != block.max:
                    issues.append(
                        Issue(
                            f"{key}.max",
                            f"max is {block.max} but count {count!r} reaches {top}; "
                            "they must agree",
                        )
                    )
            else:
                issues.append(
                    Issue(
                        f"{key}.count",
                        f"count {count!r} must be an int, ordinal or fixed parameter",
                    )
                )

    def _order(self, flat: list[Param], issues: list[Issue]) -> tuple[Param, ...]:
        """Topological order (stable): each param after those its condition reads."""
        state: dict[str, int] = {}  # 1 = visiting, 2 = done
        ordered: list[Param] = []
        reported: set[frozenset[str]] = set()
        reported_paths: set[str] = set()

        def visit(name: str, trail: list[str]) -> None:
            if state.get(name) == 2:
                return
            if state.get(name) == 1:
                cycle = [*trail[trail.index(name) :], name]
                param = self._by_name[name]
                # Copies of a block item share a declaration: one issue, not one per copy.
                if frozenset(cycle) not in reported and _when_path(param) not in reported_paths:
                    reported.add(frozenset(cycle))
                    reported_paths.add(_when_path(param))
                    issues.append(
                        Issue(_when_path(param), "cyclic conditions: " + " -> ".join(cycle))
                    )
                return
            state[name] = 1
            param = self._by_name[name]
            if param.condition is not None:
                for ref in sorted(param.condition.names):
                    visit(ref, [*trail, name])
            state[name] = 2
            ordered.append(param)

        for param in flat:
            visit(param.name, [])
        return tuple(ordered)

    # --- validation by probing -------------------------------------------------------

    def _check_satisfiable(self, issues: list[Issue]) -> None:
        import numpy as np

        rng = np.random.default_rng(0)  # a fixed seed: validation must be repeatable
        # Copies of a block item share one declaration. A condition like "n_layers == 1"
        # may hold in copy 0 only; that is fine. It is an error only when no copy can
        # ever be active, and then it is reported once, with the first copy's message.
        failures: dict[str, str] = {}
        held: set[str] = set()
        for param in self.params:
            if param.condition is None:
                continue
            path = _when_path(param)
            if path in held:
                continue
            message = self._never_holds(param, rng)
            if message is None:
                held.add(path)
                failures.pop(path, None)
            else:
                failures.setdefault(path, message)
        issues.extend(Issue(path, message) for path, message in failures.items())
        if issues or not self.constraints:
            return
        self._check_constraints(issues, rng)

    def ancestors(self, name: str) -> list[Param]:
        """Params whose values can decide whether ``name`` is active, in order."""
        seen: set[str] = set()
        own = self._by_name[name].condition
        stack = list(own.names) if own is not None else []
        while stack:
            ref = stack.pop()
            if ref in seen:
                continue
            seen.add(ref)
            cond = self._by_name[ref].condition
            if cond is not None:
                stack.extend(cond.names)
        return [p for p in self.params if p.name in seen]

    def _never_holds(self, param: Param, rng: np.random.Generator) -> str | None:
        assert param.condition is not None
        ancestors = self.ancestors(param.name)
        literals = [v for p in (param, *ancestors) if p.condition for v in p.condition.literals()]
        candidates = [p.domain.probe_values(literals, rng) for p in ancestors]
        total = math.prod(len(c) for c in candidates)
        exhaustive = total <= _PROBE_EXHAUSTIVE
        combos: Iterator[tuple[Any, ...]]
        if exhaustive:
            combos = itertools.product(*candidates)
        else:
            combos = (
                tuple(c[int(rng.integers(len(c)))] for c in candidates)
                for _ in range(_PROBE_SAMPLES)
            )
        tried = 0
        try:
            for combo in combos:
                tried += 1
                env: dict[str, Any] = {}
                for ancestor, value in zip(ancestors, combo, strict=True):
                    if ancestor.condition is None or ancestor.condition.holds(env):
                        env[ancestor.name] = value
                if param.condition.holds(env):
                    return None
        except ExpressionError as exc:
            return f"condition cannot be evaluated: {exc}"
        names = ", ".join(p.name for p in ancestors) or "(no parameters)"
        if exhaustive:
            return f"condition can never hold (checked all {tried} combinations of {names})"
        return f"condition never held in {tried} sampled combinations of {names}"

    def _check_constraints(self, issues: list[Issue], rng: np.random.Generator) -> None:
        satisfied = [False] * len(self.constraints)
        tried = 0
        try:
            while tried < _CONSTRAINT_SAMPLES:
                tried += 1
                config = self._draw(rng)
                ok = [not c.expression.violated(config) for c in self.constraints]
                satisfied = [a or b for a, b in zip(satisfied, ok, strict=True)]
                if all(ok):
                    return
        except ExpressionError as exc:
            issues.append(Issue("constraints", f"constraint cannot be evaluated: {exc}"))
            return
        for constraint, held in zip(self.constraints, satisfied, strict=True):
            if not held:
                issues.append(
                    Issue(
                        f"constraints[{constraint.index}]",
                        f"no configuration satisfied {constraint.source!r} "
                        f"in {tried} sampled configurations",
                    )
                )
        if all(satisfied):
            issues.append(
                Issue(
                    "constraints",
                    f"each constraint holds alone, but no configuration satisfied all of them "
                    f"together in {tried} sampled configurations",
                )
            )

    # --- configurations --------------------------------------------------------------

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.params]

    def __getitem__(self, name: str) -> Param:
        return self._by_name[name]

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __len__(self) -> int:
        return len(self.params)

    @cached_property
    def dimensions(self) -> tuple[Param, ...]:
        """The searched params (all but ``fixed``), in order; one unit-cube axis each."""
        return tuple(p for p in self.params if p.domain.has_dimension)

    def _draw(self, rng: np.random.Generator) -> dict[str, Any]:
        config: dict[str, Any] = {}
        for param in self.params:
            if param.condition is None or param.condition.holds(config):
                config[param.name] = param.domain.sample(rng)
        return config

    def complete(
        self, values: Mapping[str, Any], rng: np.random.Generator, *, trusted: bool = False
    ) -> dict[str, Any]:
        """The configuration ``values`` imply: walk the parameters in order, keep the
        active ones (taking their value from ``values`` when it is in the domain,
        drawing one otherwise) and drop the inactive ones.

        Local moves use this: changing ``n_layers`` or a categorical can switch
        parameters on or off, and the result must still have a consistent active set.
        Constraints are not checked (see :meth:`is_feasible`). ``trusted`` skips the
        domain check of given values, for callers whose values are valid by
        construction (an optimizer's local moves; it is their hot loop).
        """
        config: dict[str, Any] = {}
        for param in self.params:
            if param.condition is None or param.condition.holds(config):
                value = values.get(param.name, MISSING)
                if value is MISSING or not (trusted or param.domain.contains(value)):
                    value = param.domain.sample(rng)
                config[param.name] = value
        return config

    def is_feasible(self, config: Mapping[str, Any]) -> bool:
        """Whether ``config`` satisfies every constraint."""
        return not any(c.expression.violated(config) for c in self.constraints)

    def sample(self, rng: np.random.Generator, max_tries: int = _SAMPLE_TRIES) -> dict[str, Any]:
        """A random configuration (active parameters only) satisfying all constraints.

        Raises:
            OptimizerError: when ``max_tries`` draws all violate the constraints.
        """
        for _ in range(max_tries):
            config = self._draw(rng)
            if self.is_feasible(config):
                return config
        raise OptimizerError(f"no configuration satisfied the constraints in {max_tries} draws")

    def decode(self, unit: Sequence[float]) -> dict[str, Any]:
        """Map a point of the unit cube (one coordinate per dimension) to a config."""
        if len(unit) != len(self.dimensions):
            raise ValueError(f"expected {len(self.dimensions)} coordinates, got {len(unit)}")
        coords = {p.name: float(u) for p, u in zip(self.dimensions, unit, strict=True)}
        config: dict[str, Any] = {}
        for param in self.params:
            if param.condition is None or param.condition.holds(config):
                config[param.name] = param.domain.from_unit(coords.get(param.name, 0.5))
        return config

    def encode(self, config: Mapping[str, Any]) -> list[float]:
        """Unit-cube coordinates of ``config``; NaN for inactive parameters."""
        return [
            p.domain.to_unit(config[p.name]) if p.name in config else math.nan
            for p in self.dimensions
        ]

    def active_names(self, config: Mapping[str, Any]) -> list[str]:
        """The names that must be present in ``config``, judged by its own values."""
        env: dict[str, Any] = {}
        out: list[str] = []
        for param in self.params:
            if param.condition is None or param.condition.holds(env):
                out.append(param.name)
                env[param.name] = config.get(param.name, MISSING)
        return out

    def problems(self, config: Mapping[str, Any]) -> list[str]:
        """Everything wrong with ``config``: missing, extra or out-of-domain values,
        violated constraints. An empty list means the config is valid."""
        out: list[str] = []
        active = self.active_names(config)
        for name in active:
            if name not in config:
                out.append(f"{name}: missing (it is active)")
            elif not self._by_name[name].domain.contains(config[name]):
                out.append(f"{name}: {config[name]!r} is outside its domain")
        for name in config:
            if name not in self._by_name:
                out.append(f"{name}: not a parameter of this space")
            elif name not in active:
                out.append(f"{name}: present but inactive")
        if not out:
            for constraint in self.constraints:
                if constraint.expression.violated(config):
                    out.append(f"violates constraint {constraint.source!r}")
        return out

    def canonical(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """``config`` with keys in space order (stored configs are compared as JSON)."""
        return {p.name: config[p.name] for p in self.params if p.name in config}

    def cardinality_bound(self) -> int | None:
        """Product of discrete domain sizes (an upper bound when conditions exist);
        None when the space has a continuous parameter."""
        total = 1
        for param in self.params:
            card = param.domain.cardinality()
            if card is None:
                return None
            total *= card
        return total

    def discrete_cardinality(self) -> int:
        """Upper bound on distinct settings of the discrete parameters alone."""
        return math.prod(p.domain.cardinality() or 1 for p in self.params)

    # --- serialization ---------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        """The declaration, JSON-ready, with every default written out."""
        out: dict[str, Any] = {
            "schema_version": SPACE_SCHEMA_VERSION,
            "params": {name: spec.to_json() for name, spec in self.declared.items()},
            "constraints": list(self.constraint_sources),
        }
        if self.description is not None:
            out["description"] = self.description
        return out

    @cached_property
    def fingerprint(self) -> str:
        """A content hash that ignores formatting, comments and description.

        Parameter order counts: it decides the order of draws and of unit-cube axes,
        so two spaces with one fingerprint give the same proposals for one seed.
        """
        data = self.to_json()
        data.pop("description", None)
        data["params"] = _ordered(data["params"])
        text = json.dumps(data, sort_keys=True, separators=(",", ":"), allow_nan=False)
        return "sha256:" + hashlib.sha256(text.encode()).hexdigest()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Space) and self.fingerprint == other.fingerprint

    def __hash__(self) -> int:
        return hash(self.fingerprint)

    def __repr__(self) -> str:
        return f"Space({len(self.params)} params, {self.fingerprint[:19]})"


def _ordered(params: dict[str, Any]) -> list[Any]:
    """Declarations as ``[name, spec]`` pairs, so that sorting keys keeps their order."""
    out: list[Any] = []
    for name, spec in params.items():
        if spec.get("type") == "repeat":
            spec = {**spec, "item": _ordered(spec["item"])}
        out.append([name, spec])
    return out


def _resolve(name: str, scopes: tuple[tuple[str, frozenset[str]], ...]) -> str:
    """The flat name a bare ``name`` means inside nested block items."""
    head = name.split(".", 1)[0]
    for prefix, local in reversed(scopes):
        if head in local:
            return prefix + name
    return name


def _display(name: str) -> str:
    return name


def _when_path(param: Param) -> str:
    return f"{param.path}.when" if param.domain.when is not None else f"{param.path}"


def require_valid(space: Space, config: Mapping[str, Any]) -> None:
    """Raise :class:`OptimizerError` when ``config`` is not valid in ``space``."""
    problems = space.problems(config)
    if problems:
        raise OptimizerError("invalid configuration: " + "; ".join(problems))
