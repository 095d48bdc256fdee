"""Multi-start search: local searches from several cheap starts, the best polished.

A model fitted on the whole space sends every new configuration towards the best
basin it has seen; on a space with two good basins, the wider one is met first and
holds the search, and a narrow, deeper one whose slope was sampled is never followed
(``docs/benchmarks.md``, ``mf_hartmann6``: about 45 % of runs of ``hyperband`` +
``gp`` end in the local basin). Local descents from several starts do not share that
belief: from uniformly random starts, a local descent of Hartmann-6 ends in the
global basin about two times in three, so one of three descents nearly always does.
The cheap fidelity pays for the descents, the top fidelity decides between them:

1. **Screen**: ``screen`` random configurations at the lowest fidelity.
2. **Regions**: the ``regions`` best screened configurations that lie more than
   ``SEPARATION`` apart (on some coordinate of the unit cube) start one local search
   each. In turn, each region proposes a configuration at the lowest fidelity, by
   the wrapped GP's log EI on the region's trials, within a box around the region's
   best trial (a trust region, as in TuRBO: Eriksson et al., "Scalable global
   optimization via local Bayesian optimization", 2019). The box's half-width starts
   at ``width``, doubles after ``EXPAND_AFTER`` improvements in a row and halves after
   ``SHRINK_AFTER`` proposals without one; ``steps`` proposals per region.
3. **Compare**: each region's best configuration by the GP's mean over its trials
   (the lowest observed value of a noisy fidelity is a lucky draw) is promoted to the
   top fidelity, continuing from its checkpoint.
4. **Polish**: every later configuration is a Thompson draw at the top fidelity from
   one GP with the fidelity as an input (:mod:`hypertrail.schedulers.joint`), fitted
   on the trials of the region whose promoted configuration scored best, over close
   neighbours of its five best configurations.

The phase, region and box of every proposal are read back from the history (each
trial's ``multistart`` tag says its phase and region), so a resumed or replayed study
continues exactly. The search needs the ``gp`` optimizer. Conditional parameters and
blocks work: two configurations with different active parameters count as far apart,
and a box leaves whole a parameter inactive at its centre or read by a condition
(:func:`box_space`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from hypertrail.errors import OptimizerError, SpaceError
from hypertrail.history import History
from hypertrail.optimizers.base import Proposal
from hypertrail.schedulers.base import New, Promote, Scheduled
from hypertrail.space.params import Float, Int
from hypertrail.space.repeat import Repeat
from hypertrail.space.space import Space
from hypertrail.trial import FrozenTrial, TrialState

if TYPE_CHECKING:
    from hypertrail.optimizers.gp.optimizer import GPOptimizer

__all__ = ["MultiStart", "box_space"]

SEPARATION = 0.25
"""Two region starts differ by more than this on some coordinate of the unit cube."""
EXPAND_AFTER, SHRINK_AFTER = 3, 6
"""Improvements in a row that double a region's box; proposals without one that halve it."""
MIN_WIDTH, MAX_WIDTH = 0.05, 0.4
"""Bounds of a box's half-width in the unit cube."""
IMPROVEMENT = 0.05
"""An improvement beats the region's best by this share of the screen's s.d."""
POLISH_STEPS = (0.05, 0.01)
POLISH_NEIGHBOURS = 64
LOCAL_STARTUP = 4
"""Random configurations a region's GP starts from inside a box (the region's own
trials there count)."""

CHEAP_SHARE = 0.35
"""With a ``budget``, the share of it the screen and the local searches may spend."""

_PHASES = ("screen", "region", "compare", "polish")


def box_space(space: Space, center: Mapping[str, Any], width: float) -> Space:
    """``space`` with every numeric parameter narrowed to ``±width`` (unit cube)
    around ``center``'s value, at least one grid cell each way; categorical and fixed
    parameters unchanged. Constraints are kept.

    Kept whole as well: a parameter ``center`` does not set (inactive there), and one
    that a condition reads (``n_layers`` of a block, ``lr`` of ``when: lr > 0.05``),
    which switches parameters on and off as a categorical does: narrowed, it could
    leave a conditional parameter that can never be active. The copies of a block
    share one declaration, so a block's parameter is narrowed to the union of the
    boxes of its copies active in ``center``: a copy switched on inside the box
    starts near its siblings. When the constraints cannot hold in the box, the
    parameters they read are kept whole too (and the whole space is the last resort).
    """
    active = set(space.active_names(center))
    switches = {n for p in space.params if p.condition is not None for n in p.condition.names}
    constrained = {n for c in space.constraints for n in c.expression.names}
    copies: dict[str, list[str]] = {}
    for param in space.dimensions:
        if param.name not in switches:
            copies.setdefault(param.path, []).append(param.name)

    def narrowed(domain: Float | Int, names: Sequence[str]) -> Float | Int:
        bounds = [_bounds(domain, center[n], width) for n in names if n in active]
        if not bounds:
            return domain
        low, high = min(b[0] for b in bounds), max(b[1] for b in bounds)
        if not low < high:
            return domain
        if isinstance(domain, Float):
            return replace(domain, low=float(low), high=float(high), default=None)
        return replace(domain, low=int(low), high=int(high), default=None)

    def rebuild(decls: Mapping[str, Any], path: str, whole: set[str]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, spec in decls.items():
            key = f"{path}.{name}"
            names = copies.get(key, [])
            if isinstance(spec, Repeat):
                out[name] = replace(spec, item=rebuild(spec.item, f"{key}.item", whole))
            elif isinstance(spec, Float | Int) and names and not whole.intersection(names):
                out[name] = narrowed(spec, names)
            else:
                out[name] = spec
        return out

    for whole in (set(), constrained):
        try:
            declared = rebuild(space.declared, "params", whole)
            return Space(declared, space.constraint_sources, description=space.description)
        except SpaceError:
            continue
    return space


def _bounds(domain: Float | Int, value: Any, width: float) -> tuple[float, float]:
    """``value ± width`` in ``domain``'s unit cube, at least one grid cell each way."""
    u = domain.to_unit(value)
    low = domain.from_unit(max(u - width, 0.0))
    high = domain.from_unit(min(u + width, 1.0 - 1e-12))
    cardinality = domain.cardinality()
    if cardinality is not None and cardinality > 1:
        cell = 1.0 / cardinality
        low = min(low, domain.from_unit(max(u - cell, 0.0)))
        high = max(high, domain.from_unit(min(u + cell, 1.0 - 1e-12)))
    return low, high


def _gap(a: np.ndarray, b: np.ndarray) -> float:
    """How far apart two encoded configurations are: the largest coordinate
    difference in the unit cube, 1 where a parameter is active in one only."""
    known_a, known_b = ~np.isnan(a), ~np.isnan(b)
    both = known_a & known_b
    gap = float(np.max(np.abs(a[both] - b[both]), initial=0.0))
    return 1.0 if np.any(known_a != known_b) else gap


def _tag(trial: FrozenTrial) -> Mapping[str, Any]:
    tag = trial.tags.get("multistart")
    return tag if isinstance(tag, Mapping) else {}


def _renumbered(history: History, trials: Sequence[FrozenTrial]) -> History:
    rows = tuple(replace(t, number=i, parent=None) for i, t in enumerate(trials))
    return History(history.seed, history.metrics, rows, history.cursor)


@dataclass(frozen=True)
class _Region:
    start: FrozenTrial
    trials: list[FrozenTrial]  # the screen trials near the start, then its own
    own: list[FrozenTrial]
    width: float


@dataclass(frozen=True)
class MultiStart(Scheduled):
    """Screen, several local searches at the lowest fidelity, the best polished at the top.

    Attributes:
        screen: random configurations screened at the lowest fidelity (default 10
            per searched parameter).
        regions: local searches started from the best screened configurations.
        steps: proposals of each local search at the lowest fidelity.
        width: the starting half-width of a local search's box (unit cube).
        budget: the fidelity units the study will spend, when known. The screen and
            the local searches then take at most ``CHEAP_SHARE`` of it (fewer screened
            configurations and steps, never more than ``screen`` and ``steps``), so a
            small budget still reaches the top fidelity; at 891 units (33 evaluations
            of 27 epochs) the defaults fit whole.

    Example:
        >>> from hypertrail import Float, Space, Study
        >>> study = Study.create("ms-doc", Space({"x": Float(0, 1), "y": Float(0, 1)}),
        ...     storage="memory", optimizer={"name": "multistart", "optimizer": "gp",
        ...     "screen": 6, "regions": 2, "steps": 3,
        ...     "fidelity": {"name": "epochs", "min": 1, "max": 9}})
        >>> study.optimize(lambda t: (t.config["x"] - 0.3) ** 2 + t.config["y"], n_trials=15)
        >>> [t.tags["multistart"]["phase"] for t in study.trials][5:14]
        ['screen', 'region', 'region', 'region', 'region', 'region', 'region', 'compare', 'compare']
    """

    name: ClassVar[str] = "multistart"
    revision: ClassVar[int] = 1
    optimizer: Any = "gp"
    screen: int | None = None
    regions: int = 3
    steps: int = 80
    width: float = 0.2
    budget: float | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        from hypertrail.optimizers.gp.optimizer import GPOptimizer

        if not isinstance(self.inner, GPOptimizer):
            raise OptimizerError("the multistart scheduler needs optimizer: gp")
        for key, value, least in (
            ("regions", self.regions, 1),
            ("steps", self.steps, 1),
            ("screen", self.screen if self.screen is not None else 1, 1),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise ValueError(f"{key} must be an integer of at least {least}, got {value!r}")
        if self.screen is not None and self.screen < self.regions:
            raise ValueError(
                f"screen ({self.screen}) must be at least regions ({self.regions}): "
                "each region starts from a screened configuration"
            )
        if self.budget is not None and (
            isinstance(self.budget, bool)
            or not isinstance(self.budget, int | float)
            or not math.isfinite(self.budget)
            or self.budget <= 0
        ):
            raise ValueError(
                f"budget must be a positive number of fidelity units, got {self.budget!r}"
            )
        if (
            isinstance(self.width, bool)
            or not isinstance(self.width, int | float)
            or not MIN_WIDTH <= self.width <= MAX_WIDTH
        ):
            raise ValueError(
                f"width must be a number in [{MIN_WIDTH}, {MAX_WIDTH}], got {self.width!r}"
            )

    def decide(self, history: History) -> Promote | New:  # pragma: no cover - unused
        raise NotImplementedError("multistart proposes by phase; see propose")

    # --- phases ---------------------------------------------------------------------

    def screen_size(self, space: Space) -> int:
        """Configurations screened at the lowest fidelity: ``screen`` (or 10 per
        searched parameter), fewer when a ``budget`` is too small for them (at most
        half of its cheap share)."""
        size = self.screen if self.screen is not None else max(10 * len(space.dimensions), 1)
        if self.budget is not None:
            size = min(size, int(CHEAP_SHARE * self.budget / 2 / self.levels[0]))
        return max(size, self.regions)

    def local_steps(self, space: Space) -> int:
        """Proposals of each local search: ``steps``, fewer when a ``budget`` is too
        small for them (the screen and the searches within its cheap share)."""
        if self.budget is None:
            return self.steps
        left = CHEAP_SHARE * self.budget / self.levels[0] - self.screen_size(space)
        return max(1, min(self.steps, int(left / self.regions)))

    def first_top(self, space: Space) -> float:
        """Fidelity units spent when the first configuration reaches the top (the
        screen, the local searches and one comparison)."""
        low = self.levels[0]
        cheap = (self.screen_size(space) + self.regions * self.local_steps(space)) * low
        return cheap + self.levels[-1] - low

    def propose(
        self, space: Space, history: History, rng: np.random.Generator, n: int = 1
    ) -> list[Proposal]:
        gp = self.inner
        from hypertrail.optimizers.gp.optimizer import GPOptimizer

        assert isinstance(gp, GPOptimizer)
        by_phase: dict[str, list[FrozenTrial]] = {p: [] for p in _PHASES}
        for t in history.trials:
            phase = _tag(t).get("phase")
            if phase in by_phase:
                by_phase[str(phase)].append(t)
        screened = by_phase["screen"]
        done = [t for t in screened if t.state is TrialState.COMPLETE]
        if len(screened) < self.screen_size(space) or not done:
            config = space.canonical(space.sample(rng))
            return [
                self._proposal(
                    config,
                    0,
                    "screen",
                    None,
                    f"screen {len(screened) + 1} of {self.screen_size(space)} at the lowest "
                    "fidelity, at random",
                )
            ]
        regions = self._regions(history, space, by_phase)
        asked = len(by_phase["region"])
        if asked < self.regions * self.local_steps(space):
            k = asked % len(regions)
            return [self._local(space, history, gp, regions[k], k, rng)]
        compared = {int(_tag(t)["region"]) for t in by_phase["compare"]}
        promoted = {t.parent for t in by_phase["compare"] if t.parent is not None}
        for k, region in enumerate(regions):
            if k not in compared:
                return [self._compare(space, history, gp, region, k, promoted)]
        return [self._polish(space, history, gp, regions, by_phase["compare"], rng)]

    def _proposal(
        self,
        config: Mapping[str, Any],
        rung: int,
        phase: str,
        region: int | None,
        why: str,
        parent: int | None = None,
        start: int | None = None,
    ) -> Proposal:
        extras = self._tag(rung, 0, promoted=parent is not None)
        tag: dict[str, Any] = {"phase": phase}
        if region is not None:
            tag["region"] = region
        if start is not None:
            tag["start"] = start
        value = self.levels[rung]
        return Proposal(
            dict(config),
            reason=f"{self.name}: {why} ({self.fid.name}={value:g})",
            parent=parent,
            extras={**extras, "multistart": tag},
        )

    def _regions(
        self,
        history: History,
        space: Space,
        by_phase: Mapping[str, list[FrozenTrial]],
    ) -> list[_Region]:
        """The regions, their starts read back from the history (or chosen now from
        the screen, for those that have none yet), each with its trials and box."""
        screened = [t for t in by_phase["screen"] if t.state is TrialState.COMPLETE]
        by_number = {t.number: t for t in history.trials}
        starts: list[FrozenTrial] = []
        for t in by_phase["region"]:
            k, number = int(_tag(t)["region"]), int(_tag(t)["start"])
            if k == len(starts):
                starts.append(by_number[number])
        ranked = sorted(screened, key=lambda t: (history.loss(t), t.number))
        units = {t.number: np.array(space.encode(t.config)) for t in [*screened, *starts]}
        for t in ranked:
            if len(starts) >= self.regions:
                break
            if all(_gap(units[t.number], units[s.number]) > SEPARATION for s in starts):
                starts.append(t)
        for t in ranked:  # too few apart: the best of the rest
            if len(starts) >= self.regions:
                break
            if t not in starts:
                starts.append(t)
        losses = [history.loss(t) for t in screened]
        scale = float(np.std(losses)) if len(losses) > 1 else 0.0
        regions = []
        for k, start in enumerate(starts):
            here = units[start.number]
            near = [t for t in screened if _gap(units[t.number], here) <= self.width]
            own = [t for t in by_phase["region"] if int(_tag(t)["region"]) == k]
            regions.append(_Region(start, near + own, own, self._width(history, near, own, scale)))
        return regions

    def _width(
        self,
        history: History,
        near: Sequence[FrozenTrial],
        own: Sequence[FrozenTrial],
        scale: float,
    ) -> float:
        """The box's half-width after the region's own trials, replayed in order."""
        best = min((history.loss(t) for t in near), default=math.inf)
        width, wins, misses = float(self.width), 0, 0
        for t in own:
            if t.state is not TrialState.COMPLETE:
                continue
            loss = history.loss(t)
            if loss < best - IMPROVEMENT * scale:
                wins, misses = wins + 1, 0
            else:
                wins, misses = 0, misses + 1
            best = min(best, loss)
            if wins >= EXPAND_AFTER:
                width, wins = min(MAX_WIDTH, 2 * width), 0
            if misses >= SHRINK_AFTER:
                width, misses = max(MIN_WIDTH, width / 2), 0
        return width

    def _local(
        self,
        space: Space,
        history: History,
        gp: GPOptimizer,
        region: _Region,
        k: int,
        rng: np.random.Generator,
    ) -> Proposal:
        complete = [t for t in region.trials if t.state is TrialState.COMPLETE]
        best = min(complete, key=lambda t: (history.loss(t), t.number))
        box = box_space(space, best.config, region.width)
        inside = [t for t in region.trials if not box.problems(dict(t.config))]
        local = replace(gp, n_startup=LOCAL_STARTUP)
        proposal = local.propose(box, _renumbered(history, inside), rng, 1)[0]
        why = (
            f"region {k} (from #{region.start.number}), step {len(region.own) + 1} of "
            f"{self.local_steps(space)}: {proposal.reason} within ±{region.width:g} of "
            f"#{best.number}"
        )
        return self._proposal(
            space.canonical(proposal.config), 0, "region", k, why, start=region.start.number
        )

    def _denoised(
        self,
        space: Space,
        history: History,
        gp: GPOptimizer,
        region: _Region,
        exclude: set[int],
    ) -> FrozenTrial:
        """The region's trial of lowest GP mean (its own noisy values smoothed), but
        none in ``exclude`` (promoted for another region: regions may share
        screened trials) unless nothing else is left."""
        complete = [t for t in region.trials if t.state is TrialState.COMPLETE]
        surrogate = replace(gp, n_startup=LOCAL_STARTUP).fit(space, _renumbered(history, complete))
        mean = surrogate.gp.predict(surrogate.inputs([t.config for t in complete]))[0]
        for i in np.argsort(mean, kind="stable"):
            if complete[int(i)].number not in exclude:
                return complete[int(i)]
        return complete[int(np.argmin(mean))]

    def _compare(
        self,
        space: Space,
        history: History,
        gp: GPOptimizer,
        region: _Region,
        k: int,
        exclude: set[int],
    ) -> Proposal:
        chosen = self._denoised(space, history, gp, region, exclude)
        top = len(self.levels) - 1
        why = (
            f"region {k}'s best by the GP's mean, #{chosen.number}, promoted to rung {top} "
            "to compare the regions"
        )
        return self._proposal(chosen.config, top, "compare", k, why, parent=chosen.number)

    def _polish(
        self,
        space: Space,
        history: History,
        gp: GPOptimizer,
        regions: Sequence[_Region],
        compared: Sequence[FrozenTrial],
        rng: np.random.Generator,
    ) -> Proposal:
        from hypertrail.schedulers.joint import fit_across, thompson_choice

        scored = [t for t in compared if t.state is TrialState.COMPLETE]
        pool = scored or list(compared)
        winner = min(pool, key=lambda t: (history.loss(t), t.number))
        k = int(_tag(winner)["region"])
        polished = [
            t
            for t in history.trials
            if _tag(t).get("phase") == "polish" and int(_tag(t).get("region", -1)) == k
        ]
        trials = [*regions[k].trials, winner, *polished]
        sub = _renumbered(history, trials)
        surrogate = fit_across(gp, space, sub, self.fid)
        top = len(self.levels) - 1
        drawn = None
        if surrogate is not None:
            drawn = thompson_choice(gp, space, surrogate, rng, 0, POLISH_NEIGHBOURS, POLISH_STEPS)
        if drawn is None:
            config = space.canonical(space.sample(rng))
            why = f"polish region {k}: nothing left to draw, at random"
        else:
            config = drawn[0]
            why = (
                f"polish region {k} (#{winner.number} scored best of the regions at the "
                f"top): Thompson draw {drawn[1]:.3g} near its best"
            )
        return self._proposal(config, top, "polish", k, why)
