"""Compare optimizers under an identical budget and identical seeds.

Every (optimizer, seed) pair is one study in one storage, so a comparison can be
replayed, resumed (running it again continues each study to the budget) and
reported like any other study. The numbers are computed here; tables and plots are
rendered from them (:mod:`hypertrail.reporting.comparison`).

A plan with a fidelity is compared in its own currency: every optimizer proposes
under the plan's scheduler (``asha`` unless the plan names one), the budget counts
fidelity units (a promotion costs its increase over its parent), and a run's value is
its best at the top fidelity, the only one at which runs are comparable. Anytime
curves are read on a grid of units spent rather than trials.

Example:
    >>> from hypertrail.analysis.compare import Target, compare
    >>> result = compare(Target.problem("jenatton"), ["random", "gp"],  # doctest: +SKIP
    ...                  seeds=range(5), budget=30, storage="sqlite:///cmp.db")
    >>> result.rows()[0]["optimizer"]  # doctest: +SKIP
    'random'
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from hypertrail.analysis.statistics import (
    PairedTest,
    best_so_far,
    bootstrap_ci,
    mean_ranks,
    paired_tests,
)
from hypertrail.errors import ConfigError, Issue, OptimizerError
from hypertrail.trial import Metric, TrialState

if TYPE_CHECKING:
    from hypertrail.space.space import Space
    from hypertrail.study import Study
    from hypertrail.trial import Trial

__all__ = ["Comparison", "RunRecord", "Target", "compare", "parse_optimizers", "run_study"]

Objective = Callable[["Trial"], Any]
GRID_POINTS = 100
"""Points of the anytime grid of a comparison whose budget counts fidelity units."""


@dataclass(frozen=True)
class Target:
    """What is optimized: a plan's objective, a packaged problem, or a callable.

    Plans and problems are rebuilt by name in each worker process; a callable
    target must be importable (module-level) to run with ``jobs > 1``.
    """

    kind: str  # "plan" | "problem" | "callable"
    ref: str  # plan path, problem name, or a label
    objective: Objective | None = None
    space: Space | None = None
    metrics: tuple[Metric, ...] = ()
    optimum: float | None = None
    fidelity: Mapping[str, Any] | None = None
    """A plan's fidelity (``name``, ``min``, ``max``, ...): budgets count its units."""

    @classmethod
    def plan(cls, path: str | Path) -> Target:
        """A plan's objective (and its fidelity, when it declares one)."""
        from hypertrail.plan import load_plan

        resolved = str(Path(path).resolve())
        return cls("plan", resolved, fidelity=_fidelity_of(load_plan(resolved).optimizer))

    @property
    def unit(self) -> str:
        """What a budget counts: ``trials``, or the fidelity's name (``epochs``)."""
        return str(self.fidelity["name"]) if self.fidelity else "trials"

    def optimizer_spec(self, optimizer: str) -> str | dict[str, Any]:
        """What a run of ``optimizer`` is created with: the name, or for a plan with a
        fidelity the plan's spec with ``optimizer`` proposing (PlanError if refused)."""
        if self.fidelity is None:
            return optimizer
        from hypertrail.plan import load_plan

        return load_plan(self.ref, optimizer=optimizer).optimizer

    @classmethod
    def problem(cls, name: str) -> Target:
        from hypertrail.benchmarks import get_problem

        problem = get_problem(name)  # unknown names fail here, before any run
        return cls("problem", name, optimum=problem.optimum)

    @classmethod
    def callable(
        cls, name: str, space: Space, objective: Objective, metric: Metric | str = "loss"
    ) -> Target:
        chosen = metric if isinstance(metric, Metric) else Metric(metric, "minimize")
        return cls("callable", name, objective, space, (chosen,))

    @property
    def name(self) -> str:
        if self.kind == "plan":
            from hypertrail.plan import load_plan

            return load_plan(self.ref).name  # the objective is not imported for a name
        return self.ref

    def build(self) -> tuple[str, Space, tuple[Metric, ...], Objective]:
        """(name, space, metrics, objective), loading the plan or problem."""
        if self.kind == "plan":
            from hypertrail.plan import load_plan

            plan = load_plan(self.ref)
            return plan.name, plan.space, plan.metrics, plan.load_objective()
        if self.kind == "problem":
            from hypertrail.benchmarks import get_problem

            problem = get_problem(self.ref)
            evaluate = problem.evaluate
            return (
                problem.name,
                problem.space,
                (Metric("loss", "minimize"),),
                _ProblemObjective(evaluate),
            )
        assert self.space is not None and self.objective is not None
        return self.ref, self.space, self.metrics, self.objective


def _fidelity_of(spec: Any) -> Mapping[str, Any] | None:
    fidelity = spec.get("fidelity") if isinstance(spec, Mapping) else None
    return fidelity if isinstance(fidelity, Mapping) else None


@dataclass(frozen=True)
class _ProblemObjective:
    evaluate: Callable[[Mapping[str, Any]], float]

    def __call__(self, trial: Trial) -> float:
        return float(self.evaluate(trial.config))


def parse_optimizers(text: str | Sequence[str], space: Space) -> list[str]:
    """Registry names from a comma list, each built and checked on ``space``.

    Raises:
        ConfigError: unknown or duplicate names, or an optimizer that refuses the
            space; every problem named, before any trial runs.
    """
    from hypertrail.study import make_optimizer

    names = [n.strip() for n in text.split(",")] if isinstance(text, str) else list(text)
    issues = []
    seen: set[str] = set()
    for i, name in enumerate(names):
        path = f"optimizers[{i}]"
        if not name:
            issues.append(Issue(path, "empty optimizer name"))
            continue
        if name in seen:
            issues.append(Issue(path, f"{name!r} is listed twice"))
        seen.add(name)
        try:
            optimizer, _ = make_optimizer(name)
            optimizer.check(space)
        except OptimizerError as exc:
            issues.append(Issue(path, str(exc)))
    if not names:
        issues.append(Issue("optimizers", "name at least one optimizer"))
    if issues:
        raise ConfigError(issues)
    return names


def _check_under_fidelity(target: Target, optimizers: Sequence[str], budget: int) -> None:
    """Every optimizer accepted under the plan's scheduler, and a budget of at least
    one evaluation at the top fidelity; every problem named, before any run."""
    from hypertrail.errors import PlanError

    assert target.fidelity is not None
    issues = []
    for i, name in enumerate(optimizers):
        try:
            target.optimizer_spec(name)
        except PlanError as exc:
            issues += [Issue(f"optimizers[{i}]", f"{name!r}: {x.message}") for x in exc.issues]
    top = float(target.fidelity["max"])
    if budget < top:
        issues.append(
            Issue(
                "budget",
                f"counts {target.unit} here (the plan's fidelity); {budget} is less than "
                f"one evaluation at the top ({top:g})",
            )
        )
    if issues:
        raise ConfigError(issues)


def study_name(target: str, optimizer: str, seed: int) -> str:
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", optimizer)
    return f"compare:{target}:{slug}:seed{seed}"


@dataclass(frozen=True)
class RunRecord:
    """One optimizer on one seed: per-trial losses (smaller is better) and costs."""

    optimizer: str
    seed: int
    study: str
    losses: tuple[float | None, ...]
    evaluations: int
    failed: int
    wall_time: float
    cpu_time: float
    spent: tuple[float, ...] = ()
    """With a fidelity: the units spent after each trial (in trial order); only
    top-fidelity trials have a loss."""

    @property
    def curve(self) -> list[float | None]:
        return best_so_far(self.losses)

    @property
    def final(self) -> float:
        done = [v for v in self.losses if v is not None and math.isfinite(v)]
        return min(done) if done else math.inf

    def curve_on(self, grid: Sequence[float]) -> list[float | None]:
        """The best loss after each amount of fidelity units in ``grid`` (None before
        the first top-fidelity result)."""
        out: list[float | None] = []
        curve, i, best = self.curve, 0, None
        for units in grid:
            while i < len(self.spent) and self.spent[i] <= units + 1e-9:
                best = curve[i] if curve[i] is not None else best
                i += 1
            out.append(best)
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "optimizer": self.optimizer,
            "seed": self.seed,
            "study": self.study,
            "losses": list(self.losses),
            "evaluations": self.evaluations,
            "failed": self.failed,
            "wall_time": self.wall_time,
            "cpu_time": self.cpu_time,
            **({"spent": list(self.spent)} if self.spent else {}),
        }


def run_study(target: Target, optimizer: str, seed: int, budget: int, storage: str) -> RunRecord:
    """Run (or continue) one study of the comparison up to ``budget`` trials, or
    ``budget`` fidelity units for a target with a fidelity."""
    from hypertrail.study import Study

    name, space, metrics, objective = target.build()
    study = Study.create(
        study_name(name, optimizer, seed),
        space,
        metrics=metrics,
        storage=storage,
        seed=seed,
        optimizer=target.optimizer_spec(optimizer),
        load_if_exists=True,
        info={"compare": {"target": name, "kind": target.kind, "optimizer": optimizer}},
    )
    with study:
        if target.fidelity is None:
            study.optimize(objective, max_trials=budget)
        else:
            study.optimize(objective, fidelity_budget=budget)
        return _record(study, optimizer, seed, metrics[0], target.fidelity)


def _record(
    study: Study,
    optimizer: str,
    seed: int,
    metric: Metric,
    fidelity: Mapping[str, Any] | None = None,
) -> RunRecord:
    from hypertrail.schedulers.base import trial_costs

    trials = sorted(study.trials, key=lambda t: t.number)
    top = float(fidelity["max"]) if fidelity else None
    losses: list[float | None] = []
    for t in trials:
        ok = t.state is TrialState.COMPLETE and t.values is not None
        # With a fidelity, only what was trained to the top scores: not a cheap rung,
        # and not a trial stopped early (its last report is not a top-fidelity value).
        ok = ok and (
            top is None
            or (t.fidelity is not None and t.fidelity >= top - 1e-9 and t.stopped is None)
        )
        losses.append(metric.sign * t.values[metric.name] if ok and t.values else None)
    started = [t.started for t in trials]
    finished = [t.finished for t in trials if t.finished is not None]
    return RunRecord(
        optimizer=optimizer,
        seed=seed,
        study=study.name,
        losses=tuple(losses),
        evaluations=sum(t.state is not TrialState.RUNNING for t in trials),
        failed=sum(t.state is TrialState.FAILED for t in trials),
        wall_time=(max(finished) - min(started)) if finished and started else 0.0,
        cpu_time=float(sum(t.cpu_time or 0.0 for t in trials)),
        spent=tuple(np.cumsum(trial_costs(trials)).tolist()) if fidelity else (),
    )


def _job(args: tuple[Target, str, int, int, str]) -> RunRecord:
    return run_study(*args)


def compare(
    target: Target,
    optimizers: Sequence[str],
    *,
    seeds: Iterable[int],
    budget: int,
    storage: str,
    jobs: int = 1,
    on_run: Callable[[RunRecord], None] | None = None,
) -> Comparison:
    """Run every optimizer on every seed with the same budget, then summarize.

    Args:
        target: what to optimize.
        optimizers: registry names (see :func:`parse_optimizers`).
        seeds: the same seeds for every optimizer.
        budget: trials per study (failed trials count), or fidelity units when the
            target has a fidelity.
        storage: where the studies are recorded (one per optimizer and seed).
        jobs: studies run at once, in spawned worker processes when above 1.
        on_run: called with each finished run (for progress output).
    """
    seed_list = sorted(set(int(s) for s in seeds))
    if budget < 1:
        raise ConfigError([Issue("budget", f"must be at least 1, got {budget}")])
    if not seed_list:
        raise ConfigError([Issue("seeds", "name at least one seed")])
    name, space, metrics, _ = target.build()
    parse_optimizers(list(optimizers), space)
    if target.fidelity is not None:
        _check_under_fidelity(target, optimizers, budget)
    work = [(target, o, s, budget, storage) for s in seed_list for o in optimizers]
    records: list[RunRecord] = []
    if jobs <= 1:
        for args in work:
            record = _job(args)
            records.append(record)
            if on_run is not None:
                on_run(record)
    else:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor, as_completed

        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
            futures = [pool.submit(_job, args) for args in work]
            for future in as_completed(futures):
                record = future.result()
                records.append(record)
                if on_run is not None:
                    on_run(record)
    return Comparison(
        target=name,
        metric=metrics[0],
        optimizers=tuple(optimizers),
        seeds=tuple(seed_list),
        budget=budget,
        storage=storage,
        optimum=target.optimum,
        unit=target.unit,
        runs=tuple(sorted(records, key=lambda r: (optimizers.index(r.optimizer), r.seed))),
    )


@dataclass(frozen=True)
class Comparison:
    """The runs of a comparison and the statistics computed from them.

    Values in :meth:`rows` are in the metric's own units and direction; ranks and
    tests use losses (smaller is better).
    """

    target: str
    metric: Metric
    optimizers: tuple[str, ...]
    seeds: tuple[int, ...]
    budget: int
    storage: str
    optimum: float | None
    runs: tuple[RunRecord, ...]
    unit: str = "trials"
    """What ``budget`` counts: ``trials``, or a fidelity's units (then curves and
    areas are read on :meth:`grid`)."""
    _cache: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def _runs_of(self, optimizer: str) -> list[RunRecord]:
        return [r for r in self.runs if r.optimizer == optimizer]

    def finals(self) -> np.ndarray:
        """optimizer x seed matrix of final losses."""
        return np.array([[r.final for r in self._runs_of(o)] for o in self.optimizers])

    def grid(self) -> list[float]:
        """Where anytime values are read: trials 1..budget, or with a fidelity
        ``GRID_POINTS`` even amounts of units up to the budget."""
        if self.unit == "trials":
            return [float(i) for i in range(1, self.budget + 1)]
        return [self.budget * (i + 1) / GRID_POINTS for i in range(GRID_POINTS)]

    def _filled(self, run: RunRecord) -> list[float]:
        """``run``'s best-so-far loss at every point of :meth:`grid`: before its first
        result, the first; past its end, its last; NaN throughout if it has none."""
        curve = run.curve[: self.budget] if self.unit == "trials" else run.curve_on(self.grid())
        first = next((v for v in curve if v is not None), math.nan)
        filled = [first if v is None else v for v in curve]
        return filled + [filled[-1] if filled else math.nan] * (len(self.grid()) - len(filled))

    def aucs(self) -> np.ndarray:
        """optimizer x seed matrix of the mean best-so-far loss over :meth:`grid`
        (infinite for a run without any result)."""
        out = []
        for o in self.optimizers:
            row = []
            for r in self._runs_of(o):
                filled = self._filled(r)
                row.append(math.inf if math.isnan(filled[0]) else float(np.mean(filled)))
            out.append(row)
        return np.array(out)

    def value(self, loss: float) -> float:
        """A loss back in the metric's direction."""
        return self.metric.sign * loss

    def curves(self) -> dict[str, np.ndarray]:
        """optimizer -> seed x trial matrix of best-so-far values (metric units)."""
        out = {}
        for o in self.optimizers:
            rows = [[self.value(v) for v in self._filled(r)] for r in self._runs_of(o)]
            out[o] = np.array(rows, dtype=float)
        return out

    def rows(self) -> list[dict[str, Any]]:
        """One summary row per optimizer."""
        finals, aucs = self.finals(), self.aucs()
        ranks = mean_ranks(finals)
        out = []
        for i, o in enumerate(self.optimizers):
            runs = self._runs_of(o)
            values = [self.value(v) for v in finals[i]]
            auc_values = [self.value(v) for v in aucs[i]]
            low, high = sorted(self.value(v) for v in bootstrap_ci(finals[i]))
            auc_low, auc_high = sorted(self.value(v) for v in bootstrap_ci(aucs[i]))
            row: dict[str, Any] = {
                "optimizer": o,
                "final_mean": float(np.mean(values)),
                "final_ci": (low, high),
                "final_std": float(np.std(values, ddof=1)) if len(values) > 1 else 0.0,
                "final_min": float(min(values)),
                "final_max": float(max(values)),
                "auc_mean": float(np.mean(auc_values)),
                "auc_ci": (auc_low, auc_high),
                "mean_rank": float(ranks[i]),
                "evaluations": sum(r.evaluations for r in runs),
                "failed": sum(r.failed for r in runs),
                "wall_time": sum(r.wall_time for r in runs),
                "cpu_time": sum(r.cpu_time for r in runs),
            }
            if self.optimum is not None:
                row["regret_mean"] = float(np.mean([v - self.optimum for v in values]))
            out.append(row)
        return out

    def tests(self) -> list[PairedTest]:
        """Pairwise Wilcoxon signed-rank tests of final losses, Holm-corrected."""
        if "tests" not in self._cache:
            self._cache["tests"] = paired_tests(list(self.optimizers), self.finals())
        tests: list[PairedTest] = self._cache["tests"]
        return tests

    def to_json(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "metric": {"name": self.metric.name, "goal": self.metric.goal},
            "optimizers": list(self.optimizers),
            "seeds": list(self.seeds),
            "budget": self.budget,
            "unit": self.unit,
            "storage": self.storage,
            "optimum": self.optimum,
            "summary": [
                {k: (list(v) if isinstance(v, tuple) else v) for k, v in row.items()}
                for row in self.rows()
            ],
            "tests": [t.__dict__ for t in self.tests()],
            "runs": [r.to_json() for r in self.runs],
        }
