"""One benchmark job: an optimizer on a problem with a seed and a budget.

Optimizers are named on the command line: a hypertrail registry name (``tpe``, ``gp``,
``random``, ``sobol``, ``cmaes``, ...), a hypertrail spec as JSON
(``{"name": "tpe", "multivariate": false}``), or one of the Optuna samplers in
:data:`OPTUNA_SAMPLERS`. Both libraries search the problem's hypertrail space (Optuna
through :mod:`benchmarks.suite.adapter`), in memory, sequentially, with seed ``s``.
"""

from __future__ import annotations

import json
import math
import time
import traceback
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from benchmarks.suite.adapter import suggest_config
from benchmarks.suite.catalog import get_problem

from hypertrail.analysis.statistics import best_so_far

__all__ = [
    "OPTUNA_SAMPLERS",
    "OptimizerSpec",
    "best_so_far",
    "parse_optimizers",
    "run_job",
    "worker_init",
]


def _optuna_tpe(seed: int) -> Any:
    import optuna

    return optuna.samplers.TPESampler(seed=seed)


def _optuna_tpe_mv(seed: int) -> Any:
    import optuna

    return optuna.samplers.TPESampler(multivariate=True, group=True, seed=seed)


def _optuna_gp(seed: int) -> Any:
    import optuna

    return optuna.samplers.GPSampler(seed=seed)


def _optuna_random(seed: int) -> Any:
    import optuna

    return optuna.samplers.RandomSampler(seed=seed)


OPTUNA_SAMPLERS: dict[str, tuple[Callable[[int], Any], str]] = {
    # Optuna 5's TPESampler() defaults to multivariate=None, which means multivariate TPE
    # for one objective: ``optuna-tpe-mv`` differs from it only by ``group=True``.
    "optuna-tpe": (_optuna_tpe, "TPESampler() (in Optuna 5: multivariate for one objective)"),
    "optuna-tpe-mv": (_optuna_tpe_mv, "TPESampler(multivariate=True, group=True)"),
    "optuna-gp": (_optuna_gp, "GPSampler() (needs PyTorch)"),
    "optuna-random": (_optuna_random, "RandomSampler()"),
}


@dataclass(frozen=True)
class OptimizerSpec:
    """An optimizer as named on the command line."""

    label: str  # how tables name it
    library: str  # "hypertrail" | "optuna"
    spec: Any  # hypertrail: name or {"name": ..., **options}; optuna: sampler key

    @property
    def is_default(self) -> bool:
        """A hypertrail optimizer with default options (a bare registry name)."""
        return self.library == "hypertrail" and isinstance(self.spec, str)


def _split(text: str) -> list[str]:
    """Split on commas outside braces, so JSON specs may contain commas."""
    out, depth, token = [], 0, ""
    for ch in text:
        if ch == "," and depth == 0:
            out.append(token.strip())
            token = ""
            continue
        depth += ch == "{"
        depth -= ch == "}"
        token += ch
    out.append(token.strip())
    return [t for t in out if t]


def _label(spec: Mapping[str, Any]) -> str:
    options = ",".join(f"{k}={v}" for k, v in spec.items() if k != "name")
    return f"{spec['name']}({options})" if options else str(spec["name"])


def parse_optimizers(text: str) -> tuple[list[OptimizerSpec], list[str]]:
    """Specs to run and messages about names skipped (not registered in this checkout)."""
    from hypertrail.optimizers.base import OPTIMIZERS

    specs: list[OptimizerSpec] = []
    skipped: list[str] = []
    for token in _split(text):
        if token in OPTUNA_SAMPLERS:
            specs.append(OptimizerSpec(token, "optuna", token))
            continue
        if token.startswith("optuna-"):
            raise SystemExit(
                f"unknown Optuna sampler {token!r}; known: {', '.join(OPTUNA_SAMPLERS)}"
            )
        if token.startswith("{"):
            try:
                spec = json.loads(token)
            except json.JSONDecodeError as exc:
                raise SystemExit(f"optimizer spec {token!r} is not valid JSON: {exc}") from None
            if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
                raise SystemExit(f"optimizer spec {token!r} needs a 'name'")
            name, label = str(spec["name"]), _label(spec)
            value: str | dict[str, Any] = spec
        else:
            name, label, value = token, token, token
        if name not in OPTIMIZERS:
            skipped.append(f"{label}: not registered in hypertrail here (skipped)")
            continue
        specs.append(OptimizerSpec(label, "hypertrail", value))
    if len({s.label for s in specs}) != len(specs):
        raise SystemExit("an optimizer is named twice")
    return specs, skipped


def worker_init() -> None:
    """Quiet libraries in worker processes."""
    warnings.filterwarnings("ignore")
    try:
        import optuna
    except ImportError:  # pragma: no cover - depends on the environment
        return
    optuna.logging.set_verbosity(optuna.logging.ERROR)


def _run_hypertrail(
    problem_name: str, spec: OptimizerSpec, seed: int, budget: int
) -> tuple[list[float | None], list[dict[str, Any] | None], float]:
    from hypertrail import Study, Trial, TrialState

    problem = get_problem(problem_name)
    spent = [0.0]

    def objective(trial: Trial) -> float:
        start = time.perf_counter()
        try:
            return problem.evaluate(trial.config)
        finally:
            spent[0] += time.perf_counter() - start

    study = Study.create(
        f"{problem_name}-{spec.label}-{seed}",
        problem.space,
        storage="memory",
        seed=seed,
        optimizer=spec.spec,
    )
    with study:
        study.optimize(objective, n_trials=budget)
        trials = sorted(study.trials, key=lambda t: t.number)
    values = [t.value if t.state is TrialState.COMPLETE else None for t in trials]
    configs = [dict(t.config) for t in trials]
    return values, list(configs), spent[0]


def _run_optuna(
    problem_name: str, spec: OptimizerSpec, seed: int, budget: int
) -> tuple[list[float | None], list[dict[str, Any] | None], float]:
    import optuna

    problem = get_problem(problem_name)
    spent = [0.0]
    configs: dict[int, dict[str, Any]] = {}

    def objective(trial: optuna.Trial) -> float:
        config, feasible = suggest_config(trial, problem.space)
        configs[trial.number] = config
        if not feasible:
            return math.nan  # Optuna records the trial as failed
        start = time.perf_counter()
        try:
            return problem.evaluate(config)
        finally:
            spent[0] += time.perf_counter() - start

    sampler = OPTUNA_SAMPLERS[spec.spec][0](seed)
    study = optuna.create_study(sampler=sampler, direction="minimize")
    study.optimize(objective, n_trials=budget, catch=(Exception,))
    trials = sorted(study.get_trials(deepcopy=False), key=lambda t: t.number)
    complete = optuna.trial.TrialState.COMPLETE
    values = [
        float(t.value) if t.state == complete and t.value is not None else None for t in trials
    ]
    return values, [configs.get(t.number) for t in trials], spent[0]


def run_job(problem_name: str, spec: OptimizerSpec, seed: int, budget: int) -> dict[str, Any]:
    """Run one job; never raises (an error is returned in the record)."""
    record: dict[str, Any] = {
        "kind": "job",
        "problem": problem_name,
        "optimizer": spec.label,
        "library": spec.library,
        "spec": spec.spec,
        "seed": seed,
        "budget": budget,
    }
    start = time.perf_counter()
    try:
        runner = _run_hypertrail if spec.library == "hypertrail" else _run_optuna
        values, configs, eval_seconds = runner(problem_name, spec, seed, budget)
    except Exception as exc:  # a broken optimizer must not end the whole benchmark
        record.update(error=f"{type(exc).__name__}: {exc}", traceback=traceback.format_exc())
        record["seconds"] = time.perf_counter() - start
        return record
    seconds = time.perf_counter() - start
    curve = best_so_far(values)
    finite = [(v, i) for i, v in enumerate(values) if v is not None and math.isfinite(v)]
    best_index = min(finite)[1] if finite else None
    record.update(
        values=values,
        best_so_far=curve,
        best=curve[-1] if curve else None,
        best_config=configs[best_index] if best_index is not None else None,
        failed=sum(v is None for v in values),
        seconds=seconds,
        eval_seconds=eval_seconds,
        optimizer_seconds=max(seconds - eval_seconds, 0.0),
    )
    return record
