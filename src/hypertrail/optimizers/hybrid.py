"""Hybrid search: a broad sweep of structures, then refinement of their numbers.

A space splits into structure and numbers (:mod:`.split`). The search has two
stages, both decided from the history alone so that every proposal replays:

1. **Sweep.** A scrambled Sobol sequence over the whole space: every structural
   choice and every number spread evenly. It ends on evidence, not a count: once
   at least ``min_sweep`` trials have ended (and one more than there are structural
   parameters), as soon as the best value has not improved by more than 1 % of the
   observed range for ``patience`` trials in a row; ``max_sweep`` caps it.
2. **Explore or refine.** Each proposal plays one of two arms.

   * *refine*: the numeric engine polishes the numbers of promising structures.
     With ``numeric: gp`` one Gaussian process is fitted on every trial of every
     structure (so structures share what they teach about the numbers) and log EI
     is maximized over the whole space, its local searches starting from the best
     trials; with ``top_structures`` > 0 it is also maximized with the structure
     pinned in each of the best structures, and the best score wins (measured worse
     on the suite, so off by default). Another engine (``cmaes``, ``tpe``, ...) works
     on the best structure's numbers alone, as a space of its own.
   * *explore*: the structure engine (``tpe``, ``evolution``, ``random``, ...)
     proposes ``explore_candidates`` configurations on the whole space; their
     structures are kept and, with ``numeric: gp``, their numbers are chosen by the
     same acquisition (the structure engine's own numbers otherwise) or, with
     probability ``transplant``, the best trial's numbers are moved into the
     candidate structure the model rates highest: a direct test of the structure.

   The allocator picks the arm at random with a probability set by the improvement
   per unit of cost each arm returned over its last ``window`` trials (the gain over
   the best value known before the trial, in units of the spread of values, divided
   by the trial's cost relative to the median: one per trial by default, or its wall
   time, or a cost the objective reports; see ``cost``), weighted by a prior share
   of exploring (``explore_share``: with equal returns, that is the probability),
   with a floor of ``explore_floor`` on exploring and on refining.

The defaults (``explore_share`` 0.4, ``transplant`` 1.0, ``top_structures`` 0,
``exhaust`` 64) were chosen on the benchmark suite (``docs/benchmarks.md``, hybrid
section). With ``exhaust``, a space of few structures stops exploring once the
structure engine has led the search to every one of them; making exploring visit the
untried structures first, so as to stop sooner, brought ``svc_breast_cancer`` level
with ``gp`` but cost ``mixed_ackley10`` more (suite mean 0.047 against 0.041), so the
structure engine keeps choosing.

Every proposal records its decision in its ``extras`` under ``"hybrid"`` (stage, arm,
probability, the recent evidence of each arm, the structure), which land in the
``trial.asked`` event: a report can show how the budget was spent and why.

Example:
    >>> from hypertrail import Study
    >>> study = Study.create(space, metrics="loss", optimizer={  # doctest: +SKIP
    ...     "name": "hybrid", "structure": "evolution", "numeric": "gp"})
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from hypertrail.errors import ConfigError, OptimizerError
from hypertrail.optimizers.base import OPTIMIZERS, Optimizer, Proposal
from hypertrail.optimizers.split import Split, SplitOptions, StructureKey
from hypertrail.registry import build_from_spec
from hypertrail.trial import TrialState

if TYPE_CHECKING:
    from hypertrail.history import History
    from hypertrail.optimizers.gp.optimizer import GPOptimizer, Surrogate
    from hypertrail.space.space import Space
    from hypertrail.trial import FrozenTrial

__all__ = ["Hybrid", "build_engine", "default_structure", "propose_within", "sweep_stage"]

EXPLORE = "explore"
REFINE = "refine"
_PREFIX = "hybrid "
_PRIOR_RATE = 0.05  # pseudo-observation of each arm's rate: both start even


def build_engine(spec: Any, path: str) -> Optimizer:
    """An engine from a registry name or spec; bad specs raise :class:`OptimizerError`."""
    try:
        engine, _ = build_from_spec(OPTIMIZERS, spec, path)
    except ConfigError as exc:
        raise OptimizerError("; ".join(str(i) for i in exc.issues)) from None
    if getattr(engine, "name", None) in {"hybrid", "structure-only", "numeric-only", "grid"}:
        raise OptimizerError(f"{path}: {engine.name!r} cannot be an engine of a hybrid search")
    return engine


def _ended(history: History) -> list[FrozenTrial]:
    return sorted(
        (t for t in history.trials if t.state in (TrialState.COMPLETE, TrialState.FAILED)),
        key=lambda t: t.number,
    )


def _losses(history: History, trials: Sequence[FrozenTrial]) -> np.ndarray:
    """Primary losses; a failed trial counts as the worst value seen (inf if none)."""
    raw = np.array([history.loss(t) for t in trials], dtype=float)
    finite = raw[np.isfinite(raw)]
    worst = float(finite.max()) if finite.size else math.inf
    return np.where(np.isfinite(raw), raw, worst)


def sweep_stage(
    history: History, min_ended: int, patience: int, max_sweep: int
) -> tuple[int, dict[str, Any]]:
    """The stage (1 sweep, 2 refine) and the evidence for it.

    The switch point is the first prefix of ended trials, in trial order, of at least
    ``min_ended`` trials whose best value stalled for ``patience`` trials, or
    ``max_sweep`` trials; it depends on the history alone.
    """
    ended = _ended(history)
    if len(ended) < min_ended:
        return 1, {"ended": len(ended), "needed": min_ended}
    losses = _losses(history, ended)
    best = math.inf
    last_gain = -1
    finite_seen: list[float] = []
    for k, loss in enumerate(losses.tolist(), start=1):
        if math.isfinite(loss):
            finite_seen.append(loss)
        spread = (max(finite_seen) - min(finite_seen)) if finite_seen else 0.0
        if loss < best - 0.01 * spread or (best == math.inf and math.isfinite(loss)):
            best = loss
            last_gain = k
        if k >= min_ended and k - last_gain >= patience:
            return 2, {
                "switched_after": k,
                "why": f"no gain over 1% of the range in the last {k - last_gain} trials",
                "best": best,
                "last_gain_at": last_gain,
            }
        if k >= max_sweep:
            return 2, {"switched_after": k, "why": "sweep cap", "best": best}
    return 1, {"ended": len(ended), "last_gain_at": last_gain, "best": best}


def default_structure(space: Space, split: Split) -> dict[str, Any]:
    """The structure of the space's defaults (declared, or the first choice / midpoint)."""
    defaults = {n: space[n].domain.default_value() for n in split.structure}
    env: dict[str, Any] = {}
    for param in space.params:
        if param.condition is None or param.condition.holds(env):
            env[param.name] = defaults.get(param.name, param.domain.default_value())
    return split.structure_of(env)


def propose_within(
    engine: Optimizer,
    space: Space,
    split: Split,
    structure: Mapping[str, Any],
    history: History,
    rng: np.random.Generator,
) -> Proposal:
    """A proposal of ``engine`` for the numbers of one structure.

    The engine sees a space of its own: the numeric parameters active in the
    structure (renamed ``x0, x1, ...``, conditions dropped, since the structure
    decides them) and the history of that structure's trials, renumbered in order.
    The result is mapped back; if it breaks a constraint, random numbers are drawn
    within the structure instead.
    """
    from dataclasses import replace as dc_replace

    from hypertrail.history import History as HistoryType
    from hypertrail.optimizers.gp.optimizer import sample_within
    from hypertrail.space.space import Space as SpaceType

    names = [n for n in space.active_names(structure) if n in split.numeric]
    if not names:
        return Proposal(sample_within(space, structure, rng), "no numbers to refine")
    domains: dict[str, Any] = {
        f"x{i}": dc_replace(space[n].domain, when=None)  # type: ignore[type-var]
        for i, n in enumerate(names)
    }
    sub = SpaceType(domains)
    key = tuple(structure.items())
    mine = [
        t
        for t in history.trials
        if split.key(t.config) == key and all(n in t.config for n in names)
    ]
    projected = tuple(
        replace(
            t,
            number=i,
            parent=None,
            config={f"x{j}": t.config[n] for j, n in enumerate(names)},
        )
        for i, t in enumerate(mine)
    )
    sub_history = HistoryType(history.seed, history.metrics, projected, history.cursor)
    found = engine.propose(sub, sub_history, rng, 1)
    if not found:
        return Proposal(sample_within(space, structure, rng), "engine had nothing to propose")
    numbers = {n: found[0].config[f"x{i}"] for i, n in enumerate(names)}
    config = space.complete({**structure, **numbers}, rng)
    if not space.is_feasible(config):
        return Proposal(sample_within(space, structure, rng), "engine proposal infeasible")
    parent = mine[found[0].parent].number if found[0].parent is not None else None
    return Proposal(space.canonical(config), found[0].reason, parent)


@dataclass(frozen=True)
class _ArmStats:
    trials: int
    gain: float
    cost: float

    @property
    def rate(self) -> float:
        return (self.gain + _PRIOR_RATE) / (self.cost + 1.0)

    def to_json(self) -> dict[str, Any]:
        return {"trials": self.trials, "gain": round(self.gain, 6), "cost": round(self.cost, 4)}


@dataclass(frozen=True)
class Hybrid(SplitOptions):
    """Structure sweep, then model-based refinement with an adaptive budget split.

    Args:
        structure: engine that searches structures (a registry name or spec).
        numeric: engine that refines numbers (``gp`` shares one model across
            structures; others work per structure).
        structure_params, numeric_params, small_int: the split (see
            :class:`~hypertrail.optimizers.split.SplitOptions`).
        min_sweep, max_sweep, patience: when the sweep ends (see the module doc).
        explore_floor: least probability of each arm.
        explore_share: the exploring arm's share when both arms return the same gain
            per cost (the allocator's prior); evidence moves it.
        window: recent trials per arm that set the allocator's rates.
        top_structures: best structures the GP refinement also searches pinned.
        explore_candidates: structure proposals scored per exploring step.
        transplant: probability that an exploring step moves the best trial's
            numbers into a new structure instead of choosing numbers for it.
        exhaust: with ``numeric: gp``, a space of at most this many structures stops
            exploring once every structure has a complete trial: the shared GP
            models them all, and its refinement moves between them on its own
            (0: explore to the end). Measured on the suite: trying the structures
            never tried first, to get there sooner, was worse (module doc).
        fidelity: ``{name, min, max, eta}``: sweep at the lowest fidelity, promote the
            best ``1/eta`` of the sweep to the full fidelity, and explore and refine
            there (a plan with a fidelity and ``optimizer: hybrid`` sets it).
        cost: what a trial costs the allocator: ``trials`` (one each, the default),
            ``wall_time`` (its duration), or the name of a value the objective
            returns besides its metrics (seconds of training, say). Costs measured
            by the clock make proposals depend on timing: replay stays exact, but a
            second run with the same seed may differ.
    """

    name: ClassVar[str] = "hybrid"
    structure: Any = "tpe"
    numeric: Any = "gp"
    min_sweep: int = 8
    max_sweep: int = 16
    patience: int = 4
    explore_floor: float = 0.1
    explore_share: float = 0.4
    window: int = 10
    top_structures: int = 0
    explore_candidates: int = 6
    cost: str = "trials"
    transplant: float = 1.0
    exhaust: int = 64
    fidelity: Any = None
    _structure_engine: Optimizer = field(init=False, repr=False, compare=False)
    _levels: Any = field(init=False, repr=False, compare=False, default=None)
    _numeric_engine: Optimizer = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.check_split_options()
        for option in ("min_sweep", "max_sweep", "patience", "window"):
            value = getattr(self, option)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{option} must be a positive integer, got {value!r}")
        if not isinstance(self.explore_candidates, int) or self.explore_candidates < 1:
            raise ValueError("explore_candidates must be a positive integer")
        if not isinstance(self.top_structures, int) or self.top_structures < 0:
            raise ValueError("top_structures must be a non-negative integer")
        if self.max_sweep < self.min_sweep:
            raise ValueError("max_sweep must be at least min_sweep")
        if not isinstance(self.cost, str) or not self.cost:
            raise ValueError("cost must be 'trials', 'wall_time' or the name of a value")
        if not 0.0 < self.explore_share < 1.0:
            raise ValueError("explore_share must be within (0, 1)")
        if isinstance(self.exhaust, bool) or not isinstance(self.exhaust, int) or self.exhaust < 0:
            raise ValueError(f"exhaust must be a non-negative integer, got {self.exhaust!r}")
        if not 0.0 <= self.transplant <= 1.0:
            raise ValueError("transplant must be a probability")
        if not 0.0 <= self.explore_floor <= 0.5:
            raise ValueError("explore_floor must be within [0, 0.5]")
        object.__setattr__(self, "_structure_engine", build_engine(self.structure, "structure"))
        object.__setattr__(self, "_numeric_engine", build_engine(self.numeric, "numeric"))
        if self.fidelity is not None:
            from hypertrail.schedulers.base import Fidelity

            object.__setattr__(self, "_levels", Fidelity.from_spec(self.fidelity))

    # --- protocol --------------------------------------------------------------------

    def check(self, space: Space) -> None:
        self.split_of(space)
        self._structure_engine.check(space)
        self._numeric_engine.check(space)

    def propose(
        self, space: Space, history: History, rng: np.random.Generator, n: int = 1
    ) -> list[Proposal]:
        split = self.split_of(space)
        if self.fidelity is not None:
            return self._multi_fidelity(space, split, history, rng, n)
        if not split.structure or not split.numeric:
            return self._single_engine(space, split, history, rng, n)
        min_ended = max(self.min_sweep, len(split.structure) + 1)
        stage, evidence = sweep_stage(history, min_ended, self.patience, self.max_sweep)
        if stage == 1:
            from hypertrail.optimizers.sobol import SobolSearch

            return [
                Proposal(
                    p.config,
                    f"{_PREFIX}sweep [{split.describe(split.structure_of(p.config))}]: {p.reason}",
                    extras={"hybrid": {"stage": 1, "arm": "sweep", "evidence": evidence}},
                )
                for p in SobolSearch().propose(space, history, rng, n)
            ]
        return self._stage_two(space, split, history, rng, n, evidence)

    # --- with a fidelity ---------------------------------------------------------------

    def _multi_fidelity(
        self, space: Space, split: Split, history: History, rng: np.random.Generator, n: int
    ) -> list[Proposal]:
        """The sweep at the lowest fidelity; then the best ``1/eta`` of it promoted to
        the full fidelity; then explore/refine at full fidelity, the engines seeing
        only full-fidelity trials (values at different fidelities do not compare)."""
        from hypertrail.history import History as Snapshot
        from hypertrail.optimizers.sobol import SobolSearch
        from hypertrail.schedulers.base import Fidelity, is_promotion, renumber_reason

        fid: Fidelity = self._levels
        levels = fid.rungs()
        top = len(levels) - 1

        def tag(rung: int) -> dict[str, Any]:
            return {"name": fid.name, "value": levels[rung], "rung": rung, "bracket": 0}

        sweep = [t for t in history.trials if t.rung == 0]
        full = [t for t in history.trials if t.rung == top]
        min_ended = max(self.min_sweep, len(split.structure) + 1, len(split.numeric) // 2 + 1)
        swept = Snapshot(history.seed, history.metrics, tuple(_renumbered(sweep)), history.cursor)
        stage, evidence = sweep_stage(swept, min_ended, self.patience, self.max_sweep)
        if stage == 1:
            return [
                Proposal(
                    p.config,
                    f"{_PREFIX}sweep [{split.describe(split.structure_of(p.config))}] at "
                    f"{fid.name}={levels[0]:g}: {p.reason}",
                    extras={
                        "hybrid": {"stage": 1, "arm": "sweep", "evidence": evidence},
                        "fidelity": tag(0),
                    },
                )
                for p in SobolSearch().propose(space, history, rng, n)
            ]
        ended = [t for t in sweep if t.state is not TrialState.RUNNING]
        quota = math.ceil(len(ended) / fid.eta)
        ranked = sorted(
            (t for t in ended if t.state is TrialState.COMPLETE),
            key=lambda t: (history.loss(t), t.number),
        )[:quota]
        promoted = {t.parent for t in full if is_promotion(t)}
        for position, trial in enumerate(ranked, start=1):
            if trial.number not in promoted:
                return [
                    Proposal(
                        dict(trial.config),
                        f"{_PREFIX}promote #{trial.number} to {fid.name}={levels[top]:g}: "
                        f"{position} of the best {quota} of {len(ended)} swept",
                        parent=trial.number,
                        extras={
                            "hybrid": {"stage": 2, "arm": "promote", "sweep": evidence},
                            "fidelity": {**tag(top), "promoted": True},
                        },
                    )
                ]
        view = Snapshot(history.seed, history.metrics, tuple(_renumbered(full)), history.cursor)
        numbers = [t.number for t in full]
        if not split.structure or not split.numeric:
            proposals = self._single_engine(space, split, view, rng, n)
        else:
            proposals = self._stage_two(space, split, view, rng, n, evidence)
        return [
            replace(
                p,
                reason=renumber_reason(p.reason, numbers),
                parent=numbers[p.parent] if p.parent is not None else None,
                extras={**dict(p.extras), "fidelity": tag(top)},
            )
            for p in proposals
        ]

    # --- stage 2 ---------------------------------------------------------------------

    def _stage_two(
        self,
        space: Space,
        split: Split,
        history: History,
        rng: np.random.Generator,
        n: int,
        evidence: dict[str, Any],
    ) -> list[Proposal]:
        from hypertrail.optimizers.gp.optimizer import GPOptimizer, single_threaded_blas

        stats = self._arm_stats(history)
        rates = {arm: s.rate for arm, s in stats.items()}
        weighted = self.explore_share * rates[EXPLORE]
        p_explore = weighted / (weighted + (1.0 - self.explore_share) * rates[REFINE])
        p_explore = min(max(p_explore, self.explore_floor), 1.0 - self.explore_floor)
        coverage = self._coverage(space, split, history)
        if coverage is not None and not coverage[0]:
            p_explore = 0.0  # nothing left to discover: the shared model covers them all
        gp = self._numeric_engine if isinstance(self._numeric_engine, GPOptimizer) else None
        out: list[Proposal] = []
        with single_threaded_blas():
            surrogate = gp.fit(space, history) if gp is not None and history.completed() else None
            for _ in range(n):
                arm = EXPLORE if rng.random() < p_explore else REFINE
                decision = {
                    "stage": 2,
                    "arm": arm,
                    "p_explore": round(p_explore, 4),
                    "recent": {a: s.to_json() for a, s in stats.items()},
                    "sweep": evidence,
                }
                if coverage is not None:
                    total = coverage[1]
                    decision["structures"] = {"seen": total - len(coverage[0]), "total": total}
                if arm == REFINE:
                    proposal = self._refine(space, split, history, rng, gp, surrogate)
                else:
                    proposal = self._explore(space, split, history, rng, gp, surrogate)
                structure = split.structure_of(proposal.config)
                decision["structure"] = structure
                out.append(
                    replace(
                        proposal,
                        reason=f"{_PREFIX}{arm} [{split.describe(structure)}]: {proposal.reason}",
                        extras={"hybrid": decision},
                    )
                )
                if surrogate is not None:
                    surrogate = surrogate.believe(proposal.config)
                history = _with_pending(history, proposal)
        return out

    def _coverage(
        self, space: Space, split: Split, history: History
    ) -> tuple[list[dict[str, Any]], int] | None:
        """(structures without a complete trial, structures in the space) when the
        space holds at most ``exhaust`` of them and a GP refines (it models them all)."""
        from hypertrail.optimizers.gp.optimizer import GPOptimizer

        if not self.exhaust or not isinstance(self._numeric_engine, GPOptimizer):
            return None
        structures = split.structures(space, self.exhaust)
        if structures is None:
            return None
        seen = {split.key(t.config) for t in history.completed()}
        return [s for s in structures if split.key(s) not in seen], len(structures)

    def _arm_stats(self, history: History) -> dict[str, _ArmStats]:
        ended = _ended(history)
        losses = _losses(history, ended)
        finite = losses[np.isfinite(losses)]
        spread = float(np.median(finite) - finite.min()) if finite.size else 0.0
        spread = spread if spread > 0 else 1.0
        unit = self._cost_unit(ended)
        best = math.inf
        per_arm: dict[str, list[tuple[float, float]]] = {EXPLORE: [], REFINE: []}
        for trial, loss in zip(ended, losses.tolist(), strict=True):
            arm = _arm_of(trial)
            if arm is not None:
                gain = max(0.0, best - loss) / spread if math.isfinite(best) else 0.0
                cost = self._cost(trial) / unit if unit else 1.0
                per_arm[arm].append((min(gain, 10.0), cost))
            best = min(best, loss)
        out = {}
        for arm, items in per_arm.items():
            recent = items[-self.window :]
            out[arm] = _ArmStats(len(recent), sum(g for g, _ in recent), sum(c for _, c in recent))
        return out

    def _cost(self, trial: FrozenTrial) -> float:
        if self.cost == "wall_time":
            return float(trial.duration or 0.0)
        value = trial.extras.get(self.cost)
        return float(value) if isinstance(value, int | float) and value > 0 else 0.0

    def _cost_unit(self, ended: Sequence[FrozenTrial]) -> float | None:
        """The median cost, when every ended trial has one; None means one per trial."""
        if self.cost == "trials" or not ended:
            return None
        costs = [self._cost(t) for t in ended]
        return float(np.median(costs)) if all(c > 0 for c in costs) else None

    def _ranked_structures(
        self, split: Split, history: History
    ) -> list[tuple[dict[str, Any], FrozenTrial]]:
        best: dict[StructureKey, tuple[float, FrozenTrial]] = {}
        for trial in history.completed():
            key = split.key(trial.config)
            loss = history.loss(trial)
            if key not in best or loss < best[key][0]:
                best[key] = (loss, trial)
        ranked = sorted(best.values(), key=lambda item: (item[0], item[1].number))
        return [(split.structure_of(t.config), t) for _, t in ranked]

    def _refine(
        self,
        space: Space,
        split: Split,
        history: History,
        rng: np.random.Generator,
        gp: GPOptimizer | None,
        surrogate: Surrogate | None,
    ) -> Proposal:
        ranked = self._ranked_structures(split, history)
        if not ranked:
            return self._explore(space, split, history, rng, gp, surrogate)
        if gp is None or surrogate is None:
            structure, best_trial = ranked[0]
            proposal = propose_within(self._numeric_engine, space, split, structure, history, rng)
            origin = proposal.parent if proposal.parent is not None else best_trial.number
            return replace(proposal, parent=origin)
        # The unpinned search lets the numbers of a structure move together with a
        # small structural step (an ordered integer, say); the pinned searches polish
        # each of the best structures. One model scores all, so the best score wins.
        top = ranked[: self.top_structures]
        config, score = gp.maximize(space, surrogate, rng)
        best: tuple[dict[str, Any], float, str, int | None] = (config, score, "anywhere", None)
        for structure, trial in top:
            config, score = gp.maximize(space, surrogate, rng, structure, 1.0 / len(top))
            if score > best[1]:
                best = (config, score, f"best of structure #{trial.number}", trial.number)
        config, score, where, parent = best
        if parent is None:  # the unpinned search won: its structure's best, if seen
            key = split.key(config)
            parent = next((t.number for s, t in ranked if split.key(s) == key), None)
        return Proposal(config, f"GP logEI={score:.3g} ({where})", parent)

    def _explore(
        self,
        space: Space,
        split: Split,
        history: History,
        rng: np.random.Generator,
        gp: GPOptimizer | None,
        surrogate: Surrogate | None,
    ) -> Proposal:
        candidates = self._structure_engine.propose(
            space, history, rng, self.explore_candidates if gp is not None else 1
        )
        if not candidates:
            from hypertrail.optimizers.gp.optimizer import sample_within

            return Proposal(sample_within(space, {}, rng), "structure engine had nothing")
        if gp is None or surrogate is None:
            return candidates[0]
        distinct: dict[StructureKey, Proposal] = {}
        for candidate in candidates:
            distinct.setdefault(split.key(candidate.config), candidate)
        incumbent = history.best()
        if incumbent is not None and rng.random() < self.transplant:
            transplant = self._transplant(space, split, incumbent, distinct, surrogate, rng)
            if transplant is not None:
                return transplant
        effort = 1.0 / len(distinct)
        scored = []
        for candidate in distinct.values():
            structure = split.structure_of(candidate.config)
            config, score = gp.maximize(space, surrogate, rng, structure, effort)
            scored.append((score, config, candidate))
        score, config, candidate = max(scored, key=lambda item: item[0])
        origin = candidate.reason.split(":")[0] if candidate.reason else self._structure_engine.name
        return Proposal(config, f"{origin}; GP logEI={score:.3g}", candidate.parent)

    def _transplant(
        self,
        space: Space,
        split: Split,
        incumbent: FrozenTrial,
        structures: Mapping[StructureKey, Proposal],
        surrogate: Surrogate,
        rng: np.random.Generator,
    ) -> Proposal | None:
        """The incumbent's numbers in another structure: a direct test of what the
        structure alone is worth. The transplant the model rates highest wins."""
        own = split.key(incumbent.config)
        configs = []
        for key, candidate in structures.items():
            if key == own:
                continue
            values = {**incumbent.config, **split.structure_of(candidate.config)}
            config = space.canonical(space.complete(values, rng))
            if space.is_feasible(config):
                configs.append(config)
        if not configs:
            return None
        scores = surrogate.score(configs)
        best = int(np.argmax(scores))
        if not math.isfinite(float(scores[best])):
            return None  # every transplant was tried already
        return Proposal(
            configs[best],
            f"numbers of #{incumbent.number} in a new structure; GP logEI={scores[best]:.3g}",
            incumbent.number,
        )

    # --- degenerate spaces -----------------------------------------------------------

    def _single_engine(
        self,
        space: Space,
        split: Split,
        history: History,
        rng: np.random.Generator,
        n: int,
    ) -> list[Proposal]:
        """A space with no structure (or no numbers) is the numeric (structure) engine's."""
        engine = self._numeric_engine if not split.structure else self._structure_engine
        role = "numbers" if not split.structure else "structure"
        return [
            replace(
                p,
                reason=f"{_PREFIX}{role} only ({engine.name}): {p.reason}",
                extras={"hybrid": {"stage": 0, "arm": role, "engine": engine.name}},
            )
            for p in engine.propose(space, history, rng, n)
        ]


def _arm_of(trial: FrozenTrial) -> str | None:
    if not trial.reason.startswith(_PREFIX):
        return None
    word = trial.reason[len(_PREFIX) :].split(" ", 1)[0]
    return word if word in (EXPLORE, REFINE) else None


def _renumbered(trials: Sequence[FrozenTrial]) -> list[FrozenTrial]:
    """``trials`` numbered from 0 in order, parents dropped: a history of their own."""
    return [replace(t, number=i, parent=None) for i, t in enumerate(trials)]


def _with_pending(history: History, proposal: Proposal) -> History:
    """``history`` with ``proposal`` as a running trial (later proposals of a batch
    see it, as they would see another worker's trial)."""
    from hypertrail.trial import FrozenTrial as Frozen

    pending = Frozen(
        history.next_number, TrialState.RUNNING, dict(proposal.config), reason=proposal.reason
    )
    return replace(history, trials=(*history.trials, pending))
