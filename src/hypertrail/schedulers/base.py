"""Multi-fidelity scheduling: which configuration runs next, at which fidelity.

A scheduler wraps an optimizer and is itself an optimizer (a pure function of the
space, the history and a generator), so everything that works for optimizers works
for it: the ``trial.asked`` event records its decision, replay re-derives it, and a
study resumed after a crash finds its brackets and rungs where they were, because
they are read back from the history alone.

Each evaluation at a fidelity is a trial. A *promotion* is a new trial with the same
configuration at the next rung, whose ``parent`` is the trial promoted and whose
reason says why ("promoted to rung 2 (epochs=9): 3rd of 27 at rung 1"); its
``checkpoint_dir`` is the one of the first trial of that configuration, so training
continues rather than starting over. A *new* configuration comes from the wrapped
optimizer, which sees (``model_based``) every configuration at the furthest rung it
completed, ranked: one that went further ranks above every one that stopped lower,
then by its loss there (``model_view: ranked``, the default, as Optuna's TPE ranks
pruned trials); or (``model_view: rung``, as BOHB does) the completed trials of the
highest rung with enough of them, falling back to lower rungs. Without
``model_based`` it sees none and proposes as it would at the start of a search.

Each proposal's extras carry ``{"fidelity": {"name", "value", "rung", "bracket"}}``;
:attr:`FrozenTrial.fidelity` and :attr:`FrozenTrial.rung` read them back.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, ClassVar

from hypertrail.errors import ConfigError, OptimizerError
from hypertrail.history import History
from hypertrail.optimizers.base import OPTIMIZERS, Optimizer, Proposal
from hypertrail.registry import build_from_spec
from hypertrail.trial import FrozenTrial, TrialState

if TYPE_CHECKING:
    import numpy as np

    from hypertrail.space.space import Space

__all__ = [
    "MODEL_VIEWS",
    "Fidelity",
    "New",
    "Promote",
    "Scheduled",
    "config_key",
    "fidelity_cost",
    "is_promotion",
    "renumber_reason",
    "rung_trials",
    "trial_costs",
]

MODEL_VIEWS = ("ranked", "rung")
"""What a model-based scheduler's optimizer sees (:attr:`Scheduled.model_view`)."""


@dataclass(frozen=True)
class Fidelity:
    """A resource to train with: epochs, steps, a fraction of the data.

    Rungs are ``max / eta**k`` for k = K..0 with the lowest at least ``min``, so the
    top rung is exactly ``max`` (integers are rounded, duplicates dropped).

    Example:
        >>> Fidelity("epochs", 1, 81, 3).rungs()
        [1, 3, 9, 27, 81]
    """

    name: str
    min: float
    max: float
    eta: float = 3.0
    integer: bool = True

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> Fidelity:
        """From a plan's ``fidelity`` mapping; ``ValueError`` says what is wrong."""
        if not isinstance(spec, Mapping):
            raise ValueError(f"fidelity must be a mapping, got {spec!r}")
        unknown = sorted(set(spec) - {"name", "min", "max", "eta", "type"})
        if unknown:
            raise ValueError(f"unknown fidelity keys {unknown}; known: name, min, max, eta, type")
        name = spec.get("name")
        if not isinstance(name, str) or not name:
            raise ValueError("fidelity needs a name (what it counts: epochs, steps, data)")
        low, high, eta = spec.get("min"), spec.get("max"), spec.get("eta", 3)
        for key, value in (("min", low), ("max", high), ("eta", eta)):
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"fidelity {key} must be a number, got {value!r}")
        assert isinstance(low, int | float) and isinstance(high, int | float)
        assert isinstance(eta, int | float)
        kind = spec.get(
            "type", "int" if isinstance(low, int) and isinstance(high, int) else "float"
        )
        if kind not in ("int", "float"):
            raise ValueError(f"fidelity type must be 'int' or 'float', got {kind!r}")
        if not 0 < low < high:
            raise ValueError(f"fidelity needs 0 < min < max, got min {low}, max {high}")
        if eta <= 1:
            raise ValueError(f"fidelity eta must be above 1, got {eta}")
        if high / low < eta:
            raise ValueError(
                f"fidelity max / min ({high / low:g}) is below eta ({eta:g}): one rung"
            )
        return cls(name, float(low), float(high), float(eta), kind == "int")

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "min": int(self.min) if self.integer else self.min,
            "max": int(self.max) if self.integer else self.max,
            "eta": self.eta,
            "type": "int" if self.integer else "float",
        }

    def rungs(self) -> list[float]:
        top = math.floor(math.log(self.max / self.min) / math.log(self.eta) + 1e-9)
        out: list[float] = []
        for k in range(top, -1, -1):
            value = self.max / self.eta**k
            value = float(max(round(value), 1)) if self.integer else value
            value = max(value, self.min)
            if not out or value > out[-1]:
                out.append(value)
        return [int(v) if self.integer else v for v in out]


@dataclass(frozen=True)
class Promote:
    """Run ``trial``'s configuration again at ``rung`` (of ``bracket``)."""

    trial: FrozenTrial
    rung: int
    bracket: int
    why: str


@dataclass(frozen=True)
class New:
    """Ask the wrapped optimizer for a new configuration, to run at ``rung``."""

    rung: int
    bracket: int
    why: str


def is_promotion(trial: FrozenTrial) -> bool:
    """Whether ``trial`` re-runs its parent's configuration at a higher fidelity."""
    tag = trial.tags.get("fidelity")
    return isinstance(tag, Mapping) and bool(tag.get("promoted")) and trial.parent is not None


def rung_trials(history: History, rung: int, bracket: int | None = None) -> list[FrozenTrial]:
    """Trials asked at ``rung`` (of ``bracket`` when given), in number order."""
    out = []
    for t in history.trials:
        tag = t.tags.get("fidelity")
        if not isinstance(tag, Mapping) or int(tag["rung"]) != rung:
            continue
        if bracket is not None and int(tag.get("bracket", 0)) != bracket:
            continue
        out.append(t)
    return out


def trial_costs(trials: Sequence[FrozenTrial]) -> list[float]:
    """The fidelity units each trial spent, in the given order: a promotion its
    increase over its parent (it continues from the parent's checkpoint), a stopped
    trial up to its last step; a trial without a fidelity 0."""
    by_number = {t.number: t for t in trials}
    costs = []
    for t in trials:
        if t.fidelity is None:
            costs.append(0.0)
            continue
        parent = by_number.get(t.parent) if is_promotion(t) and t.parent is not None else None
        below = parent.fidelity if parent is not None else None
        spent = t.fidelity - (below or 0.0)
        if t.stopped is not None:
            spent = min(spent, t.stopped - (below or 0.0))
        costs.append(max(spent, 0.0))
    return costs


def fidelity_cost(trials: Sequence[FrozenTrial]) -> float:
    """Fidelity units spent by ``trials`` (:func:`trial_costs`, summed)."""
    return float(sum(trial_costs(trials)))


def config_key(config: Mapping[str, Any]) -> str:
    """A configuration as a string, equal for equal configurations (a promotion's and
    its parent's)."""
    import json

    return json.dumps(dict(config), sort_keys=True, default=str)


def renumber_reason(reason: str, numbers: Sequence[int]) -> str:
    """A reason written over a renumbered view (``#3``), with the study's numbers."""
    import re

    def study_number(match: re.Match[str]) -> str:
        i = int(match.group(1))
        return f"#{numbers[i]}" if 0 <= i < len(numbers) else match.group(0)

    return re.sub(r"#(\d+)", study_number, reason)


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


@dataclass(frozen=True)
class Scheduled:
    """What every multi-fidelity scheduler shares: the wrapped optimizer, the
    fidelity, and turning a decision into a :class:`Proposal`.

    Attributes:
        optimizer: the optimizer that proposes new configurations (a registry name or
            ``{name: ..., options}``); any but another scheduler.
        fidelity: ``{name, min, max, eta, type}`` (see :class:`Fidelity`).
        model_based: the optimizer sees the trials so far (as ``model_view`` says);
            False: it sees none and proposes as at the start of a search.
        model_view: what a model-based optimizer sees. ``ranked`` (the default):
            every configuration once, at the furthest rung it completed, scored so
            that going further beats any loss at a lower rung and, within a rung,
            a lower loss wins (:meth:`ranked_view`); a configuration whose run
            failed past that rung is failed. ``rung``: the completed trials of the
            highest rung holding at least ``min_points`` of them (else the lowest
            rung with any), as BOHB; the other configurations show as running.
        min_points: trials a rung needs to feed the model under ``model_view:
            rung`` (default: the space's searched parameters + 2, at least 5).
        across_fidelities: one GP on the trials of every rung with the fidelity as
            an input, new configurations chosen at the top fidelity
            (:mod:`hypertrail.schedulers.joint`), instead of ``model_view``. Needs
            ``optimizer: gp``; the default (None) turns it on for gp, off otherwise.
        joint_acquisition: how that GP chooses: ``thompson`` (a posterior draw, the
            default) or ``ei`` (log EI).
    """

    name: ClassVar[str] = ""
    revision: ClassVar[int] = 5
    """2: ``model_view: ranked`` became the default (it was ``rung``). 3 and 4 tried
    other turns for the joint GP's new configurations (a second region; then a draw, a
    random configuration and a second region in turn) and were withdrawn; 5 proposes as
    2 did."""
    needs_fidelity: ClassVar[bool] = True  # median stopping works on reported steps alone
    optimizer: Any = "random"
    fidelity: Any = None
    model_based: bool = True
    model_view: str = "ranked"
    min_points: int | None = None
    across_fidelities: bool | None = None
    joint_acquisition: str = "thompson"
    _inner: Optimizer = field(init=False, repr=False, compare=False)
    _fidelity: Fidelity | None = field(init=False, repr=False, compare=False)
    _joint: bool = field(init=False, repr=False, compare=False, default=False)

    def __post_init__(self) -> None:
        if self.fidelity is None and self.needs_fidelity:
            raise ValueError(f"the {self.name} scheduler needs a fidelity {{name, min, max, eta}}")
        fidelity = Fidelity.from_spec(self.fidelity) if self.fidelity is not None else None
        object.__setattr__(self, "_fidelity", fidelity)
        inner_name = self.optimizer if isinstance(self.optimizer, str) else None
        if isinstance(self.optimizer, Mapping):
            inner_name = self.optimizer.get("name")
        if inner_name in OPTIMIZERS and issubclass(OPTIMIZERS.get(str(inner_name)), Scheduled):
            raise OptimizerError(f"a {self.name} scheduler cannot wrap another scheduler")
        try:
            inner, _ = build_from_spec(OPTIMIZERS, self.optimizer, "optimizer")
        except ConfigError as exc:
            raise OptimizerError("; ".join(str(i) for i in exc.issues)) from None
        object.__setattr__(self, "_inner", inner)
        if not isinstance(self.model_based, bool):
            raise ValueError(f"model_based must be true or false, got {self.model_based!r}")
        if self.model_view not in MODEL_VIEWS:
            raise ValueError(
                f"model_view must be one of {', '.join(MODEL_VIEWS)}, got {self.model_view!r}"
            )
        if self.min_points is not None and (
            isinstance(self.min_points, bool)
            or not isinstance(self.min_points, int)
            or self.min_points < 1
        ):
            raise ValueError(f"min_points must be a positive integer, got {self.min_points!r}")
        from hypertrail.optimizers.gp.optimizer import GPOptimizer

        joint_possible = (
            isinstance(inner, GPOptimizer) and self.model_based and fidelity is not None
        )
        if self.across_fidelities is None:
            object.__setattr__(self, "_joint", joint_possible)
        elif not isinstance(self.across_fidelities, bool):
            raise ValueError(
                f"across_fidelities must be true or false, got {self.across_fidelities!r}"
            )
        elif self.across_fidelities and not joint_possible:
            raise ValueError(
                "across_fidelities needs optimizer gp, model_based: true and a fidelity"
            )
        else:
            object.__setattr__(self, "_joint", self.across_fidelities)
        from hypertrail.schedulers.joint import ACQUISITIONS

        if self.joint_acquisition not in ACQUISITIONS:
            raise ValueError(
                f"joint_acquisition must be one of {', '.join(ACQUISITIONS)}, "
                f"got {self.joint_acquisition!r}"
            )

    @property
    def inner(self) -> Optimizer:
        return self._inner

    @property
    def fid(self) -> Fidelity:
        """The fidelity (schedulers that need one always have it)."""
        if self._fidelity is None:
            raise OptimizerError(f"the {self.name} scheduler has no fidelity")
        return self._fidelity

    @property
    def levels(self) -> list[float]:
        return self._fidelity.rungs() if self._fidelity is not None else []

    def check(self, space: Space) -> None:
        self._inner.check(space)

    def first_top(self, space: Space) -> float | None:
        """Fidelity units a study spends before its first trial at the top fidelity,
        when the scheduler fixes it in advance (``multistart``'s phases); None when it
        depends on the results (ASHA, Hyperband). The plan checks it against the
        declared fidelity budget."""
        return None

    def decide(self, history: History) -> Promote | New:  # pragma: no cover - abstract
        raise NotImplementedError

    def loss(self, history: History, trial: FrozenTrial) -> float:
        """A trial's loss at its own rung; failed and running trials rank last."""
        return history.loss(trial) if trial.state is TrialState.COMPLETE else math.inf

    def _tag(self, rung: int, bracket: int, promoted: bool = False) -> dict[str, Any]:
        tag: dict[str, Any] = {
            "name": self.fid.name,
            "value": self.levels[rung],
            "rung": rung,
            "bracket": bracket,
        }
        if promoted:
            tag["promoted"] = True
        return {"fidelity": tag}

    def propose(
        self, space: Space, history: History, rng: np.random.Generator, n: int = 1
    ) -> list[Proposal]:
        decision = self.decide(history)
        name = self.fid.name
        if isinstance(decision, Promote):
            value = self.levels[decision.rung]
            return [
                Proposal(
                    dict(decision.trial.config),
                    reason=f"{self.name}: promoted #{decision.trial.number} to rung "
                    f"{decision.rung} ({name}={value:g}): {decision.why}",
                    parent=decision.trial.number,
                    extras=self._tag(decision.rung, decision.bracket, promoted=True),
                )
            ]
        if self._joint:
            from hypertrail.optimizers.gp.optimizer import GPOptimizer
            from hypertrail.schedulers.joint import propose_across_fidelities

            assert isinstance(self._inner, GPOptimizer)
            joint = propose_across_fidelities(
                self._inner, space, history, self.fid, rng, self.joint_acquisition
            )
            if joint is not None:
                value = self.levels[decision.rung]
                return [
                    Proposal(
                        joint[0],
                        reason=f"{self.name}: new at rung {decision.rung} ({name}={value:g}), "
                        f"{decision.why}; {joint[1]}",
                        extras=self._tag(decision.rung, decision.bracket),
                    )
                ]
        view, numbers, source = self.view(space, history)
        inner = self._inner.propose(space, view, rng, 1)
        if not inner:
            return []
        proposal = inner[0]
        parent = numbers[proposal.parent] if proposal.parent is not None else None
        value = self.levels[decision.rung]
        return [
            Proposal(
                proposal.config,
                reason=f"{self.name}: new at rung {decision.rung} ({name}={value:g}), "
                f"{decision.why}; {self._inner.name} on {source}: "
                + renumber_reason(proposal.reason, numbers),
                parent=parent,
                extras={**dict(proposal.extras), **self._tag(decision.rung, decision.bracket)},
            )
        ]

    def view(self, space: Space, history: History) -> tuple[History, list[int], str]:
        """What the wrapped optimizer sees, renumbered from 0; the original numbers;
        and a few words on which rung it is."""
        births = [t for t in history.trials if not is_promotion(t)]
        if not self.model_based:
            # Every configuration proposed so far, values hidden: a sequence (Sobol)
            # moves on, a model-based optimizer stays in its start-up phase.
            hidden = tuple(
                replace(t, number=i, parent=None, state=TrialState.RUNNING, values=None)
                for i, t in enumerate(births)
            )
            return (
                History(history.seed, history.metrics, hidden, history.cursor),
                [t.number for t in births],
                "no values (model_based: false)",
            )
        if self.model_view == "ranked":
            return self.ranked_view(history, births)
        need = self.min_points or max(5, len(space.dimensions) + 2)
        chosen, rung_used = [], None
        for rung in range(len(self.levels) - 1, -1, -1):
            done = [t for t in rung_trials(history, rung) if t.state is TrialState.COMPLETE]
            if len(done) >= need:
                chosen, rung_used = done, rung
                break
            if done:  # the lowest rung with anything is the fallback
                chosen, rung_used = done, rung
        # One row per configuration ever proposed, in order (so a sequence such as
        # Sobol moves on): its value at the chosen rung when it has one, else shown
        # as pending, as a running trial of another worker would be.
        at_rung = {config_key(t.config): t for t in chosen}
        rows = []
        for i, birth in enumerate(births):
            found = at_rung.get(config_key(birth.config))
            if found is not None:
                rows.append(replace(found, number=i, parent=None))
            else:
                rows.append(
                    replace(birth, number=i, parent=None, state=TrialState.RUNNING, values=None)
                )
        source = f"{len(chosen)} trials of rung {rung_used}" if chosen else "no trials"
        return (
            History(history.seed, history.metrics, tuple(rows), history.cursor),
            [t.number for t in births],
            source,
        )

    def ranked_view(
        self, history: History, births: Sequence[FrozenTrial]
    ) -> tuple[History, list[int], str]:
        """``model_view: ranked``: one row per configuration ever proposed, in order.

        A configuration that completed rung ``r`` (its furthest) scores
        ``(top - r) + position / (n + 1)``, ``position`` its place (0 first) among the
        ``n`` completed trials of rung ``r`` by loss: whatever went further ranks
        first, and the optimizer sees ranks, not losses, so values of different
        fidelities are never compared. One whose run failed at a rung above its
        furthest complete one is failed (a bad region); one with nothing complete yet
        is running. Other metrics keep their values at the furthest rung.
        """
        metric = history.metrics[0]
        top = len(self.levels) - 1
        furthest: dict[str, tuple[FrozenTrial, int, float]] = {}
        failed_at: dict[str, int] = {}
        for rung in range(top + 1):
            trials = rung_trials(history, rung)
            done = sorted(
                (t for t in trials if t.state is TrialState.COMPLETE),
                key=lambda t: (history.loss(t), t.number),
            )
            for position, t in enumerate(done):
                furthest[config_key(t.config)] = (
                    t,
                    rung,
                    (top - rung) + position / (len(done) + 1),
                )
            for t in trials:
                if t.state is TrialState.FAILED:
                    failed_at[config_key(t.config)] = rung
        rows = []
        reached = [0] * (top + 1)
        failed = 0
        for i, birth in enumerate(births):
            key = config_key(birth.config)
            found = furthest.get(key)
            if failed_at.get(key, -1) > (found[1] if found is not None else -1):
                failed += 1
                rows.append(
                    replace(birth, number=i, parent=None, state=TrialState.FAILED, values=None)
                )
            elif found is not None:
                trial, rung, score = found
                reached[rung] += 1
                values = {**(trial.values or {}), metric.name: metric.sign * score}
                rows.append(
                    replace(birth, number=i, parent=None, state=TrialState.COMPLETE, values=values)
                )
            else:
                rows.append(
                    replace(birth, number=i, parent=None, state=TrialState.RUNNING, values=None)
                )
        counts = [f"{n} at rung {r}" for r, n in reversed(list(enumerate(reached))) if n]
        source = f"{sum(reached)} configurations ranked by the rung they reached"
        if counts:
            source += f" ({', '.join(counts)})"
        if failed:
            source += f", {failed} failed"
        return (
            History(history.seed, history.metrics, tuple(rows), history.cursor),
            [t.number for t in births],
            source,
        )

    @staticmethod
    def promoted(history: History, rung: int) -> set[int]:
        """Trials that already have a promotion to ``rung`` (any state). New
        configurations with a parent (an evolution's mutation) do not count."""
        return {
            t.parent for t in rung_trials(history, rung) if t.parent is not None and is_promotion(t)
        }

    @staticmethod
    def rank_words(position: int, of: int, rung: int) -> str:
        return f"{_ordinal(position)} of {of} at rung {rung}"
