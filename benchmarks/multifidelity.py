"""Multi-fidelity search side by side: hypertrail's schedulers against Optuna's pruners
at an equal budget of fidelity units, and how busy ASHA keeps parallel workers.

Usage, from the repository root::

    python benchmarks/multifidelity.py                       # defaults, ~15-30 min on 2 cores
    python benchmarks/multifidelity.py --problems mf_branin --seeds 2 --budget-evals 10 \\
        --no-doc --utilization-trials 20                      # smoke, about a minute
    python benchmarks/multifidelity.py --from-results benchmarks/results/multifidelity-X.jsonl
    python benchmarks/multifidelity.py --budget-evals 100 --section multifidelity-long \\
        --utilization-trials 0                                # B = 2700: how far each gets
    python benchmarks/multifidelity.py --synthetic-seeds 20 --mlp-seeds 10 \\
        --methods ht-asha-gp,ht-hyperband-gp,optuna-tpe-hyperband,ht-hybrid-full \\
        --utilization-trials 0 --section multifidelity-seeds   # more seeds, ~20 min
    python benchmarks/multifidelity.py --problems mf_branin,mf_hartmann6 --seeds 20-39 \\
        --methods ht-asha-gp,ht-hyperband-gp,optuna-tpe-hyperband,ht-hybrid-full \\
        --utilization-trials 0 --section multifidelity-heldout  # seeds no variant was tried on
    python benchmarks/multifidelity.py --problems mf_branin,mf_hartmann6 --seeds 0-39 \\
        --methods ht-asha-gp,ht-hyperband-gp,optuna-tpe-hyperband,ht-hybrid-full \\
        --utilization-trials 0 --section multifidelity-synthetic-40  # all 40 read together
    python benchmarks/multifidelity.py --problems mf_mlp_digits --seeds 10-29 \\
        --methods ht-asha-gp,ht-hyperband-gp,optuna-tpe-hyperband,ht-hybrid-full \\
        --utilization-trials 0 --section multifidelity-mlp-heldout  # the same, ~25 min
    python benchmarks/multifidelity.py --problems mf_mlp_digits --seeds 0-29 \\
        --methods ht-asha-gp,ht-hyperband-gp,optuna-tpe-hyperband,ht-hybrid-full \\
        --utilization-trials 0 --section multifidelity-mlp-30  # all 30 read together, ~30 min
    python benchmarks/multifidelity.py --problems mf_hartmann6 --seeds 480-599 \
        --methods ht-multistart-gp,ht-hyperband-gp,optuna-tpe-hyperband,ht-hybrid-full \
        --utilization-trials 0 --section multifidelity-multistart-hartmann  # ~21 min
    python benchmarks/multifidelity.py --synthetic-seeds 40 --mlp-seeds 10 \
        --methods ht-asha-tpe,ht-asha-tpe-rung,ht-hyperband-tpe,ht-hyperband-tpe-rung,\
ht-asha-gp-ranked,ht-asha-gp-rung,optuna-tpe-hyperband --utilization-trials 0 \
        --section multifidelity-views   # what the optimizer sees of the rungs, ~15 min

Every (problem, method, seed) is one job, run sequentially in memory; jobs are spread
over ``--workers`` spawned processes (one BLAS thread each). A job's budget is
``B = budget_evals x max_fidelity`` fidelity units (epochs), 33 x 27 = 891 by default:

* ``ht-asha-tpe``, ``ht-hyperband-tpe``, ``ht-asha-random``: a hypertrail scheduler
  wrapping an optimizer (fidelity epochs 1..27, eta 3), asked and told trial by trial
  until :func:`~hypertrail.schedulers.base.fidelity_cost` of the study reaches ``B`` (a
  promotion costs its increase over its parent; the last trial's whole cost counts).
  A ``-rung`` suffix: the optimizer sees one rung (``model_view: rung``, as BOHB)
  instead of every configuration ranked by the rung it reached (the default).
* ``optuna-tpe-hyperband``, ``optuna-tpe-sh``: ``TPESampler(seed=s)`` with
  ``HyperbandPruner(min_resource=1, max_resource=27, reduction_factor=3)`` or
  ``SuccessiveHalvingPruner(min_resource=1, reduction_factor=3)``; the objective reports
  the loss at every step 1..27 and asks ``should_prune`` after each; a trial costs the
  steps it ran, and the study stops once they add up to ``B``.
* ``ht-hybrid-full``: hypertrail's ``hybrid`` optimizer at full fidelity only, for
  ``--full-evals`` (100) evaluations; read at ``B`` (33 evaluations) and at the end.

A run's result is the best loss at the top fidelity among configurations evaluated
there (top rung; Optuna: trials that reported step 27), as normalized regret
``(best - optimum) / (reference - optimum)``; a run with no such trial scores 1.
Where the top value is itself one noisy draw (``mf_mlp_digits``: one split, one
initialization), each run's best configuration is also trained again from scratch on
draws no search saw (``MFProblem.remeasure``), and the mean error of those is shown
beside the search's own best: the more configurations a run takes to the top, the
luckier its best draw.

Then ASHA (wrapping TPE) runs ``--utilization-trials`` trials of an objective that
sleeps 10 ms per epoch with 2 and 4 process workers, on SQLite; utilization is the sum
of trial durations over (workers x wall span), and the study's log is replayed.

Results go to ``benchmarks/results/multifidelity-<date>.jsonl``; the summary rewrites
the ``multifidelity`` section of ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import json
import math
import os
import platform
import statistics
import sys
import tempfile
import time
import traceback
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.common import (  # noqa: E402
    command_line,
    cpu_model,
    git_revision,
    package_version,
    update_section,
)
from benchmarks.suite.runners import worker_init  # noqa: E402

from hypertrail.analysis.statistics import (  # noqa: E402
    bootstrap_ci,
    bootstrap_difference_ci,
    holm,
    paired_tests,
)
from hypertrail.benchmarks.multifidelity import (  # noqa: E402
    MF_PROBLEMS,
    REMEASURE_SEEDS,
    SLEEP_PER_UNIT,
    MFProblem,
)

DEFAULT_DOC = ROOT / "docs" / "benchmarks.md"
DEFAULT_RESULTS = ROOT / "benchmarks" / "results"
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
REFERENCE_SEED = 20240601  # the suite's (benchmarks/suite/reference.py)
FRACTIONS = (1 / 3, 2 / 3, 1.0)
SYNTHETIC_SEEDS = 10
MLP_SEEDS = 3

# label -> (kind, spec, description)
METHODS: dict[str, tuple[str, Any, str]] = {
    "ht-asha-tpe": ("ours", {"name": "asha", "optimizer": "tpe"}, "hypertrail `asha` + `tpe`"),
    "ht-hyperband-tpe": (
        "ours",
        {"name": "hyperband", "optimizer": "tpe"},
        "hypertrail `hyperband` + `tpe`",
    ),
    "ht-asha-random": (
        "ours",
        {"name": "asha", "optimizer": "random"},
        "hypertrail `asha` + `random`",
    ),
    "ht-asha-gp": (
        "ours",
        {"name": "asha", "optimizer": "gp"},
        "hypertrail `asha` + `gp`: one GP on the trials of every rung, the fidelity an "
        "input and the noise growing below the top, new configurations by Thompson "
        "sampling at 27 epochs (`across_fidelities`, the default with `gp`)",
    ),
    "ht-asha-gp-rung": (
        "ours",
        {"name": "asha", "optimizer": "gp", "across_fidelities": False, "model_view": "rung"},
        "hypertrail `asha` + `gp` on one rung's trials (the highest with enough, as BOHB)",
    ),
    "ht-hyperband-gp": (
        "ours",
        {"name": "hyperband", "optimizer": "gp"},
        "hypertrail `hyperband` + `gp` (across fidelities)",
    ),
    # Not run by default: how the optimizer's view of the rungs (``model_view``) and
    # the hybrid under a scheduler compare (``--methods`` names them).
    "ht-asha-tpe-rung": (
        "ours",
        {"name": "asha", "optimizer": "tpe", "model_view": "rung"},
        "hypertrail `asha` + `tpe` on one rung's trials (`model_view: rung`, as BOHB)",
    ),
    "ht-hyperband-tpe-rung": (
        "ours",
        {"name": "hyperband", "optimizer": "tpe", "model_view": "rung"},
        "hypertrail `hyperband` + `tpe` on one rung's trials (`model_view: rung`, as BOHB)",
    ),
    "ht-asha-gp-ranked": (
        "ours",
        {"name": "asha", "optimizer": "gp", "across_fidelities": False},
        "hypertrail `asha` + `gp` on every configuration ranked by the rung it reached "
        "(`model_view: ranked`), not the joint GP",
    ),
    "ht-asha-hybrid": (
        "ours",
        {"name": "asha", "optimizer": "hybrid"},
        "hypertrail `asha` + `hybrid` (`model_view: ranked`)",
    ),
    "ht-hybrid-mf": (
        "ours",
        {"name": "hybrid"},
        "hypertrail `hybrid` with the fidelity: its sweep at 1 epoch, the best third of it "
        "promoted to 27, then explore/refine at 27",
    ),
    "optuna-tpe-hyperband": (
        "optuna",
        "hyperband",
        "Optuna `TPESampler(seed=s)` + `HyperbandPruner(1, 27, 3)`",
    ),
    "optuna-tpe-sh": (
        "optuna",
        "sh",
        "Optuna `TPESampler(seed=s)` + `SuccessiveHalvingPruner(min_resource=1, "
        "reduction_factor=3)`",
    ),
    "ht-multistart-gp": (
        "ours",
        {"name": "multistart", "optimizer": "gp"},
        "hypertrail `multistart` + `gp`: 10 random configurations per parameter at 1 epoch, "
        "3 local GP searches (80 steps each at 1 epoch, in boxes that follow each one's "
        "best) from the best screened configurations far apart, each one's best promoted "
        "to 27 epochs, then Thompson draws at 27 near the best region's best",
    ),
    "ht-multistart-gp-sized": (
        "ours",
        {"name": "multistart", "optimizer": "gp", "budget": "B"},
        "hypertrail `multistart` + `gp` told the budget (`budget: B`): the screen and the "
        "local searches take at most 35 % of B",
    ),
    "ht-hybrid-full": ("full", "hybrid", "hypertrail `hybrid`, every trial at 27 epochs"),
}
OPTIONAL = (
    "ht-asha-tpe-rung",
    "ht-hyperband-tpe-rung",
    "ht-asha-gp-ranked",
    "ht-asha-hybrid",
    "ht-multistart-gp-sized",  # the same as ht-multistart-gp at the default B
)
DEFAULT_METHODS = tuple(m for m in METHODS if m not in OPTIONAL)
OURS_MF = tuple(m for m, (kind, _, _) in METHODS.items() if kind == "ours")
OPTUNA_HB = "optuna-tpe-hyperband"
FULL = "ht-hybrid-full"
SECTION = "multifidelity"


# --- one job -------------------------------------------------------------------------------


def _scheduler_spec(
    problem: MFProblem, spec: Mapping[str, Any], budget: float | None = None
) -> dict[str, Any]:
    """``spec`` under the problem's fidelity; ``budget: "B"`` becomes the run's budget
    in fidelity units (a scheduler told what it will spend)."""
    out = {**spec, "fidelity": problem.fidelity_spec()}
    if out.get("budget") == "B":
        out["budget"] = budget
    return out


def _promotion_checks(trials: Sequence[Any], eta: float) -> dict[str, Any]:
    """What a sequential run's promotions should satisfy: the same configuration one
    rung up, promoted once, from the top ``1/eta`` of its rung (same bracket) among
    the trials asked before it (all ended: the run is sequential)."""
    wrong: list[str] = []
    seen: set[tuple[int, int]] = set()
    from hypertrail.schedulers.base import is_promotion

    for t in trials:
        if not is_promotion(t):
            continue
        parent = trials[t.parent]
        if parent.config != t.config or (t.rung or 0) <= (parent.rung or 0):
            wrong.append(f"#{t.number}: not its parent #{parent.number} at a higher rung")
        if (parent.number, t.rung) in seen:
            wrong.append(f"#{t.number}: #{parent.number} promoted to rung {t.rung} twice")
        seen.add((parent.number, t.rung))
        bracket = parent.tags["fidelity"].get("bracket", 0)
        peers = [
            p
            for p in trials[: t.number]
            if p.rung == parent.rung and p.tags["fidelity"].get("bracket", 0) == bracket
        ]
        better = [p for p in peers if _loss(p) < _loss(parent)]
        if "multistart" in t.tags:
            continue  # promoted as its region's best by the GP's mean, not by rank
        if len(better) >= max(1, math.ceil(len(peers) / eta)):
            wrong.append(
                f"#{t.number}: parent #{parent.number} ranked {len(better) + 1} of "
                f"{len(peers)} at rung {parent.rung}"
            )
    return {"promotion_problems": len(wrong), "promotion_examples": wrong[:5]}


def _loss(trial: Any) -> float:
    return math.inf if trial.value is None else float(trial.value)


def _run_ours(
    problem: MFProblem, spec: Mapping[str, Any], seed: int, budget: float
) -> dict[str, Any]:
    from hypertrail import Study
    from hypertrail.schedulers.base import fidelity_cost

    study = Study.create(
        f"{problem.name}-{seed}",
        problem.space,
        storage="memory",
        seed=seed,
        metrics="loss",
        optimizer=_scheduler_spec(problem, spec, budget),
    )
    ask_seconds: list[float] = []
    spent, eval_seconds = 0.0, 0.0
    top: list[list[float]] = []
    best: tuple[float, dict[str, Any] | None] = (math.inf, None)
    with study:
        while spent < budget:
            start = time.perf_counter()
            trial = study.ask()
            ask_seconds.append(time.perf_counter() - start)
            assert trial.fidelity is not None
            start = time.perf_counter()
            value = float(problem.evaluate(trial.config, trial.fidelity))
            eval_seconds += time.perf_counter() - start
            study.tell(trial, value)
            spent = fidelity_cost(study.trials)
            if trial.fidelity >= problem.max_fidelity:
                top.append([spent, value])
                if value < best[0]:
                    best = (value, dict(trial.config))
        trials = study.trials
    rungs: dict[str, int] = {}
    for t in trials:
        key = f"b{t.tags['fidelity'].get('bracket', 0)}r{t.rung}"
        rungs[key] = rungs.get(key, 0) + 1
    return {
        "top": top,
        "cost": spent,
        "trials": len(trials),
        "rungs": rungs,
        "ask_seconds": sum(ask_seconds),
        "ask_max_seconds": max(ask_seconds),
        "ask_last10_seconds": statistics.fmean(ask_seconds[-10:]),
        "eval_seconds": eval_seconds,
        "best_config": best[1],
        **_promotion_checks(trials, problem.eta),
    }


def _run_optuna(problem: MFProblem, pruner_kind: str, seed: int, budget: float) -> dict[str, Any]:
    import optuna
    from benchmarks.suite.adapter import suggest_config

    top_step = round(problem.max_fidelity)
    low = round(problem.min_fidelity)
    eta = round(problem.eta)
    if pruner_kind == "hyperband":
        pruner: Any = optuna.pruners.HyperbandPruner(
            min_resource=low, max_resource=top_step, reduction_factor=eta
        )
    else:
        pruner = optuna.pruners.SuccessiveHalvingPruner(min_resource=low, reduction_factor=eta)
    # HyperbandPruner assigns brackets by a hash of the study name and trial number: a
    # fixed name makes the run reproducible (Optuna's own advice).
    study = optuna.create_study(
        study_name=f"{problem.name}-{pruner_kind}-{seed}",
        sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=pruner,
        direction="minimize",
    )
    state = {"spent": 0.0, "eval": 0.0, "pruned": 0}
    top: list[list[float]] = []
    best: tuple[float, dict[str, Any] | None] = (math.inf, None)

    def objective(trial: optuna.Trial) -> float:
        nonlocal best
        config, feasible = suggest_config(trial, problem.space)
        if not feasible:  # pragma: no cover - these spaces have no constraints
            raise optuna.TrialPruned()
        value = math.nan
        for step in range(1, top_step + 1):
            start = time.perf_counter()
            value = float(problem.evaluate(config, step))
            state["eval"] += time.perf_counter() - start
            state["spent"] += 1
            trial.report(value, step)
            if step == top_step:
                top.append([state["spent"], value])
                if value < best[0]:
                    best = (value, dict(config))
            if trial.should_prune():
                state["pruned"] += 1
                raise optuna.TrialPruned()
        return value

    def stop_at_budget(study: optuna.Study, _: Any) -> None:
        if state["spent"] >= budget:
            study.stop()

    study.optimize(objective, callbacks=[stop_at_budget])
    return {
        "top": top,
        "cost": state["spent"],
        "trials": len(study.trials),
        "pruned": state["pruned"],
        "eval_seconds": state["eval"],
        "best_config": best[1],
    }


def _run_full(
    problem: MFProblem, name: str, seed: int, evaluations: int, budget_evals: int
) -> dict[str, Any]:
    from hypertrail import Study

    study = Study.create(
        f"{problem.name}-full-{seed}",
        problem.space,
        storage="memory",
        seed=seed,
        metrics="loss",
        optimizer=name,
    )
    top: list[list[float]] = []
    eval_seconds = 0.0
    best: tuple[float, dict[str, Any] | None] = (math.inf, None)
    at_budget = best

    def objective(trial: Any) -> float:
        nonlocal eval_seconds, best, at_budget
        start = time.perf_counter()
        value = float(problem.evaluate(trial.config, problem.max_fidelity))
        eval_seconds += time.perf_counter() - start
        top.append([(len(top) + 1) * problem.max_fidelity, value])
        if value < best[0]:
            best = (value, dict(trial.config))
        if len(top) <= budget_evals:
            at_budget = best
        return value

    with study:
        study.optimize(objective, n_trials=evaluations)
    return {
        "top": top,
        "cost": len(top) * problem.max_fidelity,
        "trials": len(top),
        "eval_seconds": eval_seconds,
        "best_config": best[1],
        "best_config_at_budget": at_budget[1],
    }


def run_job(
    problem_name: str, method: str, seed: int, budget_evals: int, full_evals: int
) -> dict[str, Any]:
    """One (problem, method, seed); never raises (an error is returned in the record)."""
    problem = MF_PROBLEMS[problem_name]()
    budget = budget_evals * problem.max_fidelity
    kind, spec, _ = METHODS[method]
    record: dict[str, Any] = {
        "kind": "job",
        "problem": problem_name,
        "method": method,
        "seed": seed,
        "budget": budget,
    }
    start = time.perf_counter()
    try:
        if kind == "ours":
            record.update(_run_ours(problem, spec, seed, budget))
        elif kind == "optuna":
            record.update(_run_optuna(problem, spec, seed, budget))
        else:
            record.update(_run_full(problem, spec, seed, full_evals, budget_evals))
    except Exception as exc:  # one broken run must not end the benchmark
        record.update(error=f"{type(exc).__name__}: {exc}", traceback=traceback.format_exc())
    record["seconds"] = time.perf_counter() - start
    epochs = getattr(problem.evaluate, "epochs_trained", None)
    if epochs is not None:
        record["epochs_trained"] = epochs
    if problem.remeasure is not None and record.get("best_config") is not None:
        start = time.perf_counter()
        try:
            record["remeasured"] = problem.remeasure(record["best_config"])
            if record.get("best_config_at_budget") is not None:
                record["remeasured_at_budget"] = problem.remeasure(record["best_config_at_budget"])
        except Exception as exc:  # the run itself stands; say why this part is missing
            record["remeasure_error"] = f"{type(exc).__name__}: {exc}"
        record["remeasure_seconds"] = time.perf_counter() - start
    return record


def compute_reference(problem_name: str) -> dict[str, Any]:
    """Losses at the top fidelity of ``reference_size`` random configurations drawn
    from ``default_rng(REFERENCE_SEED)``."""
    import numpy as np

    problem = MF_PROBLEMS[problem_name]()
    rng = np.random.default_rng(REFERENCE_SEED)
    start = time.perf_counter()
    values = []
    for _ in range(problem.reference_size):
        config = problem.space.sample(rng)
        values.append(float(problem.evaluate(config, problem.max_fidelity)))
    finite = [v for v in values if math.isfinite(v)]
    return {
        "kind": "reference",
        "problem": problem_name,
        "n": len(values),
        "seed": REFERENCE_SEED,
        "median": statistics.median(finite),
        "mean": statistics.fmean(finite),
        "best": min(finite),
        "seconds": time.perf_counter() - start,
    }


# --- utilization ---------------------------------------------------------------------------


def warm_up_driver() -> None:
    """Run a short ASHA + TPE study in memory, so that one-time costs of the driver
    process (TPE imports SciPy lazily at its first model-based proposal, 0.2-0.4 s)
    are not in the utilization measured next."""
    from hypertrail import Study
    from hypertrail.benchmarks.multifidelity import mf_branin

    problem = mf_branin()
    study = Study.create(
        "warm-up",
        problem.space,
        storage="memory",
        seed=0,
        metrics="loss",
        optimizer=_scheduler_spec(problem, {"name": "asha", "optimizer": "tpe"}),
    )
    for _ in range(30):
        trial = study.ask()
        study.tell(trial, problem.evaluate(trial.config, trial.fidelity or 1.0))
    study.close()


def measure_utilization(
    workers: int, trials: int, repeat: int, folder: Path, sleep_per_unit: float = SLEEP_PER_UNIT
) -> dict[str, Any]:
    """ASHA + TPE on ``sleeping_branin`` with ``workers`` processes, on SQLite, each
    trial sleeping ``sleep_per_unit`` seconds per epoch."""
    from hypertrail import Study
    from hypertrail.benchmarks.multifidelity import mf_branin, sleeping_branin
    from hypertrail.replay import verify

    problem = mf_branin()
    name = f"util-{workers}-{repeat}-{sleep_per_unit:g}"
    study = Study.create(
        name,
        problem.space,
        storage=f"sqlite:///{folder / (name + '.db')}",
        seed=repeat,
        metrics="loss",
        optimizer=_scheduler_spec(problem, {"name": "asha", "optimizer": "tpe"}),
    )
    wall = time.perf_counter()
    objective = functools.partial(sleeping_branin, sleep_per_unit=sleep_per_unit)
    study.optimize(objective, n_trials=trials, workers=workers)
    wall = time.perf_counter() - wall
    done = study.trials
    durations = [t.duration or 0.0 for t in done]
    # From the first objective start (the workers' start-up is excluded: it is the same
    # for any scheduler) to the last result.
    began = {t.number: (t.finished or 0.0) - (t.duration or 0.0) for t in done}
    first = min(began.values())
    span = max(t.finished or 0.0 for t in done) - first
    sleep = sum(sleep_per_unit * (t.fidelity or 0.0) for t in done)
    # As in the scheduler tests: a promotion's parent ranked in the top 1/eta of the
    # trials of its rung that had ended when the promotion was asked.
    late = 0
    for t in done:
        if t.parent is None:
            continue
        parent = done[t.parent]
        peers = [
            p
            for p in done[: t.number]
            if p.rung == parent.rung and p.finished is not None and p.finished <= t.started
        ]
        better = [p for p in peers if _loss(p) < _loss(parent)]
        late += len(better) >= max(1, int(len(peers) // problem.eta))
    # Where the idle worker time went: before a worker's first trial, between a result
    # and the worker's next trial (the driver's tell + ask + dispatch), after its last.
    by_pid: dict[int, list[Any]] = {}
    for t in done:
        by_pid.setdefault(t.pid or 0, []).append(t)
    gaps: list[float] = []
    tail = 0.0
    end = first + span
    for mine in by_pid.values():
        mine.sort(key=lambda t: t.finished or 0.0)
        starts = [began[t.number] for t in mine]
        gaps += [b - (a.finished or 0.0) for a, b in zip(mine, starts[1:], strict=False)]
        tail += end - (mine[-1].finished or 0.0)
    idle = workers * span - sum(durations)
    # While trials were left to start (up to the last start), how busy the workers
    # were: a finite run's end, where workers wait for the last results, is not in it.
    last_start = max(began.values())
    window = last_start - first
    steady_busy = sum(max(0.0, min(t.finished or 0.0, last_start) - began[t.number]) for t in done)
    start = time.perf_counter()
    report = verify(study.storage, name)
    replay_seconds = time.perf_counter() - start
    study.close()
    return {
        "kind": "utilization",
        "workers": workers,
        "repeat": repeat,
        "sleep_per_unit": sleep_per_unit,
        "trials": len(done),
        "failed": sum(t.value is None for t in done),
        "busy": sum(durations),
        "sleep": sleep,
        "span": span,
        "wall": wall,
        "utilization": sum(durations) / (workers * span),
        "steady_utilization": steady_busy / (workers * window) if window > 0 else math.nan,
        "ideal_span": sleep / workers,
        "idle": idle,
        "idle_gaps": sum(gaps),
        "idle_tail": tail,
        "gap_ms_median": 1000.0 * statistics.median(gaps) if gaps else math.nan,
        "replay_ok": bool(report.ok),
        "promotion_problems": late,
        "replay_ms_per_trial": 1000.0 * replay_seconds / max(len(done), 1),
        "rungs": [t.rung for t in done],
    }


# --- statistics -------------------------------------------------------------------------------


def regret(best: float | None, optimum: float, reference: float) -> float:
    """Normalized regret, 1 when nothing reached the top fidelity, floored at 0."""
    if best is None:
        return 1.0
    return max((best - optimum) / (reference - optimum), 0.0)


def best_within(job: Mapping[str, Any], cost: float | None) -> float | None:
    """The best top-fidelity loss among trials whose running cost is within ``cost``
    (``None``: the whole run)."""
    values = [v for c, v in job["top"] if (cost is None or c <= cost + 1e-9) and math.isfinite(v)]
    return min(values) if values else None


def units_to_reach(
    runs: Sequence[Mapping[str, Any]], target: float, optimum: float, reference: float
) -> float | None:
    """The fewest fidelity units after which the mean regret over ``runs`` is at most
    ``target`` (runs read at the same spending), or ``None`` if they never get there.

    Example:
        >>> runs = [{"top": [[10, 1.0], [30, 0.0]]}, {"top": [[20, 0.5]]}]
        >>> units_to_reach(runs, 0.25, 0.0, 1.0), units_to_reach(runs, 0.1, 0.0, 1.0)
        (30, None)
    """
    for cost in sorted({c for j in runs for c, _ in j["top"]}):
        mean = statistics.fmean(regret(best_within(j, cost), optimum, reference) for j in runs)
        if mean <= target:
            return float(cost)
    return None


def summarize(
    jobs: Sequence[Mapping[str, Any]],
    references: Mapping[str, Mapping[str, Any]],
    problems: Sequence[str],
    methods: Sequence[str],
) -> dict[str, Any]:
    """Regrets per (problem, method), the comparisons, in plain numbers."""
    ok = [j for j in jobs if not j.get("error")]
    optima: dict[str, float] = {}
    for p in problems:
        exact = MF_PROBLEMS[p]().optimum
        if exact is not None:
            optima[p] = exact
            continue
        seen = [v for j in ok if j["problem"] == p for _, v in j["top"] if math.isfinite(v)]
        sample = references.get(p)
        if sample is not None:
            seen.append(float(sample["best"]))
        if seen:
            optima[p] = min(seen)
    out: dict[str, Any] = {"optima": optima, "problems": {}}
    tests: list[tuple[str, float]] = []
    for p in problems:
        if p not in optima or p not in references:
            continue
        opt, ref = optima[p], float(references[p]["median"])
        budget = next((j["budget"] for j in ok if j["problem"] == p), None)
        if budget is None:
            continue
        table: dict[str, Any] = {}
        for m in methods:
            runs = sorted((j for j in ok if j["problem"] == p and j["method"] == m), key=_seed)
            if not runs:
                continue
            at = {
                f"{f:.3f}": [regret(best_within(j, f * budget), opt, ref) for j in runs]
                for f in FRACTIONS
            }
            at_b = at[f"{1.0:.3f}"]
            if m == FULL:  # B is reached after budget_evals trials; the end is its own bar
                end = [regret(best_within(j, None), opt, ref) for j in runs]
            else:
                end = at_b = [regret(best_within(j, None), opt, ref) for j in runs]
                at[f"{1.0:.3f}"] = at_b
            table[m] = {
                "seeds": [int(j["seed"]) for j in runs],
                "at": {k: statistics.fmean(v) for k, v in at.items()},
                "regrets": at_b,
                "mean": statistics.fmean(at_b),
                "ci": bootstrap_ci(at_b),
                "end": end,
                "end_mean": statistics.fmean(end),
                "end_ci": bootstrap_ci(end),
                "top_evals": statistics.fmean(len(j["top"]) for j in runs),
                "trials": statistics.fmean(j["trials"] for j in runs),
                "cost": statistics.fmean(j["cost"] for j in runs),
                "seconds": statistics.fmean(j["seconds"] for j in runs),
            }
            if all(j.get("remeasured") for j in runs):
                fresh = [statistics.fmean(j["remeasured"]) for j in runs]
                own = [best_within(j, None) for j in runs]
                table[m]["remeasured"] = fresh
                table[m]["remeasured_ci"] = bootstrap_ci(fresh)
                table[m]["search_best"] = statistics.fmean(
                    math.inf if v is None else v for v in own
                )
            if m == FULL and all(j.get("remeasured_at_budget") for j in runs):
                fresh = [statistics.fmean(j["remeasured_at_budget"]) for j in runs]
                own = [best_within(j, budget) for j in runs]
                table[m]["at_budget"] = {
                    "remeasured": fresh,
                    "remeasured_ci": bootstrap_ci(fresh),
                    "search_best": statistics.fmean(math.inf if v is None else v for v in own),
                    "top_evals": statistics.fmean(
                        len([c for c, _ in j["top"] if c <= budget + 1e-9]) for j in runs
                    ),
                }
        entry: dict[str, Any] = {"optimum": opt, "reference": ref, "methods": table}
        ours = [m for m in OURS_MF if m in table]
        if ours:
            best = min(ours, key=lambda m: (table[m]["mean"], m))
            entry["ours"] = best
            if OPTUNA_HB in table and table[OPTUNA_HB]["seeds"] == table[best]["seeds"]:
                hb = table[OPTUNA_HB]["mean"]
                entry["ratio"] = table[best]["mean"] / hb if hb > 0 else math.inf
                import numpy as np

                matrix = np.array([table[best]["regrets"], table[OPTUNA_HB]["regrets"]])
                test = paired_tests([best, OPTUNA_HB], matrix)[0]
                entry["p"] = test.p
                entry["better"] = test.better
                tests.append((p, test.p))
            if FULL in table:
                target = table[FULL]["end_mean"]
                entry["bar2"] = table[best]["mean"] <= target
                # Seeds do not pair these runs (one is multi-fidelity, one is not):
                # the two samples are resampled independently.
                entry["bar2_difference"] = _difference(table[best]["regrets"], table[FULL]["end"])
                entry["reach"] = {
                    m: units_to_reach(
                        [j for j in ok if j["problem"] == p and j["method"] == m], target, opt, ref
                    )
                    for m in ours
                }
        out["problems"][p] = entry
    for (p, _), adjusted in zip(tests, holm([t[1] for t in tests]), strict=True):
        out["problems"][p]["p_holm"] = adjusted
    return out


def _overshoot(jobs: Sequence[Mapping[str, Any]]) -> float:
    over = [
        float(j["cost"]) - float(j["budget"])
        for j in jobs
        if not j.get("error") and j["method"] != FULL
    ]
    return max([0.0, *over])


def _seed(job: Mapping[str, Any]) -> int:
    return int(job["seed"])


# --- Markdown ---------------------------------------------------------------------------------


def _num(x: float) -> str:
    if not math.isfinite(x):
        return "—"
    if x == 0:
        return "0"
    if abs(x) >= 0.01:
        return f"{x:.3f}"
    return f"{x:.1e}"


def _ci(mean: float, ci: Sequence[float]) -> str:
    return f"{_num(mean)} [{_num(ci[0])}, {_num(ci[1])}]"


def _signed(difference: Sequence[Any]) -> str:
    """``+0.039 [-0.012, 0.090]``: a difference and its interval, signs shown."""
    mean, (low, high) = difference

    def one(x: float) -> str:
        return ("+" if x > 0 else "−" if x < 0 else "") + _num(abs(x))

    return f"{one(mean)} [{one(low)}, {one(high)}]"


def _p(x: float | None) -> str:
    return "—" if x is None else f"{x:.3f}" if x >= 0.001 else f"{x:.1e}"


def render_section(
    summary: Mapping[str, Any],
    utilization: Sequence[Mapping[str, Any]],
    meta: Mapping[str, Any],
    jobs: Sequence[Mapping[str, Any]],
    title: str = "Multi-fidelity search",
) -> str:
    budget_evals, full_evals = meta["budget_evals"], meta["full_evals"]
    shared = ": other work shared the machine" if meta["load"] >= 1.0 else ""
    lines = [
        f"## {title}",
        "",
        f"Measured by `{meta['command'].strip()}` on {meta['date']}, commit {meta['git']}, "
        f"{meta['cpu']} ({meta['cores']} logical cores, load average {meta['load']:.1f} at "
        f"the start{shared}), Python {meta['python']}, Optuna "
        f"{meta['optuna']}, scikit-learn {meta['sklearn']}, numpy {meta['numpy']}; "
        f"{meta['workers']} worker processes, one BLAS thread each; wall time "
        f"{meta['minutes']:.1f} min. Per-run records: `{meta['results_file']}` (not committed).",
    ]
    if not jobs:  # a run of the utilization measurement alone
        return "\n".join(lines + _utilization_lines(utilization, meta))
    lines += [
        "",
        f"Every run has the same budget B = {budget_evals} x 27 epochs = "
        f"{budget_evals * 27} fidelity units (what {budget_evals} evaluations at full "
        "fidelity cost). A run scores the best loss at 27 epochs among the configurations "
        "it trained that far, as **normalized regret** (best − optimum) / (reference − "
        "optimum), as in the quality section: the reference is the median loss at 27 "
        "epochs of random configurations (200, or 50 for `mf_mlp_digits`, seed "
        f"{REFERENCE_SEED}); a run that never reached 27 epochs scores 1. Lower is better; "
        "intervals are 95 % bootstrap intervals of the mean over seeds.",
        "",
        "| problem | parameters | optimum at 27 epochs | reference | what the fidelity is |",
        "|---|---|--:|--:|---|",
    ]
    for p, entry in summary["problems"].items():
        problem = MF_PROBLEMS[p]()
        kind = (
            "epochs of `MLPClassifier.partial_fit` on the digits; loss = validation error"
            if problem.optimum is None
            else "z = epochs / 27 in BOCA's bias (Kandasamy et al. 2017) + hashed noise"
        )
        how = " (best seen in this run)" if problem.optimum is None else ""
        lines.append(
            f"| `{p}` | {len(problem.space.dimensions)} | {entry['optimum']:.6g}{how} | "
            f"{entry['reference']:.6g} | {kind} |"
        )
    lines += ["", "Methods:", ""]
    for m in meta["methods"]:
        lines.append(f"- `{m}`: {METHODS[m][2]}")
    lines += [
        "",
        "### Regret at budget B, per problem",
        "",
        "Mean normalized regret after a third, two thirds and all of B (fidelity units "
        "spent in trial order), with the 95 % interval at B; `top` is the mean number of "
        "evaluations at 27 epochs per run, `trials` the mean number of trials (a "
        "promotion is a trial)."
        + (
            f" `{FULL}` is read after {budget_evals} of its {full_evals} evaluations here."
            if FULL in meta["methods"]
            else ""
        ),
        "",
    ]
    for p, entry in summary["problems"].items():
        seeds = len(next(iter(entry["methods"].values()))["seeds"])
        lines += [
            f"**`{p}`** ({seeds} seeds)",
            "",
            "| method | B/3 | 2B/3 | B [95 % CI] | top | trials | s per run |",
            "|---|--:|--:|--:|--:|--:|--:|",
        ]
        for m, row in entry["methods"].items():
            name = f"**`{m}`**" if m == entry.get("ours") else f"`{m}`"
            at = row["at"]
            lines.append(
                f"| {name} | {_num(at['0.333'])} | {_num(at['0.667'])} | "
                f"{_ci(row['mean'], row['ci'])} | {row['top_evals']:.1f} | "
                f"{row['trials']:.0f} | {row['seconds']:.1f} |"
            )
        lines.append("")
    bar1_rows: list[str] = []
    for p, entry in summary["problems"].items():
        if "ours" not in entry or OPTUNA_HB not in entry["methods"]:
            continue
        ours, hb = entry["methods"][entry["ours"]], entry["methods"][OPTUNA_HB]
        bar1_rows.append(
            f"| `{p}` | `{entry['ours']}` | {_ci(ours['mean'], ours['ci'])} | "
            f"{_ci(hb['mean'], hb['ci'])} | {_num(entry.get('ratio', math.nan))} | "
            f"{_p(entry.get('p'))} ({_p(entry.get('p_holm'))}) | "
            f"{entry.get('better') or 'tie'} |"
        )
    if bar1_rows:  # only a run with Optuna's Hyperband has the first bar
        lines += [
            "### Ours against Optuna's Hyperband",
            "",
            "Ours = the hypertrail multi-fidelity method with the lowest mean regret at B on "
            "that problem (chosen after the fact, which favours us slightly); ratio = its "
            f"mean regret / `{OPTUNA_HB}`'s; p = two-sided Wilcoxon signed-rank test over "
            "seeds (paired by seed index), Holm-corrected over the problems.",
            "",
            f"| problem | ours | ours at B | `{OPTUNA_HB}` at B | ratio | p (Holm) "
            "| lower median |",
            "|---|---|--:|--:|--:|--:|---|",
        ]
        lines += bar1_rows
    bar2_rows: list[str] = []
    for p, entry in summary["problems"].items():
        if "ours" not in entry or FULL not in entry["methods"]:
            continue
        ours, full = entry["methods"][entry["ours"]], entry["methods"][FULL]
        bar2_rows.append(
            f"| `{p}` | {_ci(ours['mean'], ours['ci'])} | {_ci(full['mean'], full['ci'])} | "
            f"{_ci(full['end_mean'], full['end_ci'])} | {_signed(entry['bar2_difference'])} | "
            f"{verdict(entry['bar2_difference'])} | "
            f"{_reach(entry.get('reach', {}), budget_evals * 27, full_evals * 27)} |"
        )
    if bar2_rows:  # only a run with the full hybrid has the second bar
        lines += [
            "",
            f"### A third of the budget against `{FULL}` at {full_evals} full evaluations",
            "",
            f"The bar: our best multi-fidelity method with a third of the epochs of {full_evals} "
            f"full evaluations should do at least as well as the hybrid optimizer given "
            f"{full_evals} full evaluations. Here B = {budget_evals} full evaluations' worth "
            f"of epochs, {budget_evals / full_evals:.2f} of theirs. Mean "
            "regret, 95 % interval. The last column reads every method of ours along its "
            "runs: the fewest fidelity units after which its mean regret (runs read at the "
            f"same spending) is at most `{FULL}`'s at {full_evals} evaluations, for the method "
            f"that gets there first, as a share of `{FULL}`'s {full_evals * 27} units. "
            f"The difference is ours at B minus `{FULL}` at {full_evals} evaluations, with a "
            "95 % bootstrap interval resampling the two sets of runs independently (the seeds "
            "do not pair them): an interval that holds 0 does not tell the two apart. "
            "Verdict: **met** when ours is at or below, **not told apart** when it is above "
            "but the interval holds 0, **missed** when the whole interval is above 0.",
            "",
            f"| problem | ours at B | `{FULL}` at {budget_evals} evaluations | "
            f"`{FULL}` at {full_evals} evaluations | difference [95 % CI] | verdict "
            "| units ours needed |",
            "|---|--:|--:|--:|--:|---|---|",
        ]
        lines += bar2_rows
    lines += _remeasured_lines(summary, budget_evals, full_evals)
    lines += _utilization_lines(utilization, meta)
    lines += _how_lines(summary, jobs, meta)
    return "\n".join(lines)


def verdict(difference: tuple[float, Sequence[float]]) -> str:
    """How the second bar reads from ``(ours − theirs, (low, high))``: ``met`` at or
    below them, ``not told apart`` above with an interval that holds 0, else ``missed``.

    Example:
        >>> verdict((-0.01, (-0.02, 0.0))), verdict((0.01, (-0.02, 0.04)))
        ('met', 'not told apart')
        >>> verdict((0.03, (0.01, 0.05)))
        'missed'
    """
    mean, (low, _) = difference
    if mean <= 0.0:
        return "met"
    return "not told apart" if low <= 0.0 else "missed"


def _percent(mean: float, ci: Sequence[float] | None = None) -> str:
    text = f"{100 * mean:.2f}"
    return text if ci is None else f"{text} [{100 * ci[0]:.2f}, {100 * ci[1]:.2f}]"


def _remeasured_row(name: str, row: Mapping[str, Any], full: Sequence[float] | None) -> str:
    """One row; ``full``: the full hybrid's re-measured errors at the end, to subtract
    (the two sets of runs resampled independently), or ``None`` for its own row."""
    fresh = statistics.fmean(row["remeasured"])
    versus = "—" if full is None else _signed(_in_points(_difference(row["remeasured"], full)))
    median = statistics.median(row["remeasured"])
    return (
        f"| {name} | {row['top_evals']:.1f} | {_percent(row['search_best'])} | "
        f"{_percent(fresh, row['remeasured_ci'])} | {_percent(median)} "
        f"| {_percent(fresh - row['search_best'])} | {versus} |"
    )


def _difference(
    ours: Sequence[float], theirs: Sequence[float]
) -> tuple[float, tuple[float, float]]:
    """Mean of ``ours`` minus mean of ``theirs``, with the bootstrap interval that
    resamples the two independently."""
    low, high = bootstrap_difference_ci(ours, theirs)
    return statistics.fmean(ours) - statistics.fmean(theirs), (low, high)


def _in_points(difference: tuple[float, tuple[float, float]]) -> tuple[float, tuple[float, float]]:
    mean, (low, high) = difference
    return 100 * mean, (100 * low, 100 * high)


def _remeasured_lines(summary: Mapping[str, Any], budget_evals: int, full_evals: int) -> list[str]:
    """The best configuration of every run, trained again on data and draws the
    search never saw (problems whose top value is one noisy draw)."""
    lines: list[str] = []
    for p, entry in summary["problems"].items():
        rows = {m: r for m, r in entry["methods"].items() if "remeasured" in r}
        if not rows:
            continue
        full = rows.get(FULL, {})
        against = full.get("remeasured")
        seeds = len(REMEASURE_SEEDS)
        lines += [
            "",
            f"### The winners re-measured: `{p}`",
            "",
            f"The search sees one draw of `{p}`: one split of the digits, one "
            "initialization, one order of the examples per epoch. The best validation "
            "error a run found is the lowest of the draws it made at 27 epochs, so it "
            "rewards luck, and more so the more configurations a run trains to 27 "
            "epochs. Here each run's best configuration (ours and Optuna's at B, "
            f"`{FULL}`'s after {budget_evals} and after {full_evals} evaluations) is "
            f"trained again from scratch, {seeds} times, on stratified splits, "
            "initializations and epoch orders "
            f"{', '.join(map(str, REMEASURE_SEEDS))} that no search saw; its score is "
            "the mean validation error of those. Errors in % (points); mean and median "
            "over seeds, 95 % bootstrap intervals; `top` is the mean number of "
            "evaluations at 27 epochs; optimism = re-measured − best in the search; the "
            f"last column is the method's re-measured mean minus `{FULL}`'s at "
            f"{full_evals} evaluations (the two sets of runs resampled independently).",
            "",
            "| method | top | best error in the search | re-measured [95 % CI] | median "
            f"| optimism | − `{FULL}` at {full_evals} [95 % CI] |",
            "|---|--:|--:|--:|--:|--:|--:|",
        ]
        for m, row in rows.items():
            name = f"**`{m}`**" if m == entry.get("ours") else f"`{m}`"
            if m != FULL:
                lines.append(_remeasured_row(name, row, against))
                continue
            if "at_budget" in row:
                at_budget = f"`{m}` at {budget_evals} evaluations"
                lines.append(_remeasured_row(at_budget, row["at_budget"], against))
            lines.append(_remeasured_row(f"{name} at {full_evals} evaluations", row, None))
        ours = entry.get("ours")
        if against and ours in rows:
            difference = _difference(rows[ours]["remeasured"], against)
            lines += [
                "",
                f"The second bar on the re-measured errors, `{ours}` at B minus `{FULL}` at "
                f"{full_evals} evaluations: {_signed(_in_points(difference))} points, "
                f"**{verdict(difference)}**.",
            ]
        if "remeasured" in full and "at_budget" in full:
            gain = [
                a - b
                for a, b in zip(full["remeasured"], full["at_budget"]["remeasured"], strict=True)
            ]
            low, high = bootstrap_ci(gain)
            text = _signed((100 * statistics.fmean(gain), (100 * low, 100 * high)))
            lines += [
                "",
                f"`{FULL}` at {full_evals} minus at {budget_evals} evaluations, re-measured "
                f"(the same runs, paired by seed): {text} points of error.",
            ]
    return lines


def _reach(reach: Mapping[str, float | None], budget: float, full_units: float) -> str:
    """``1530 (0.57 of 2700): `method` `` for the method that got there first."""
    reached = {m: u for m, u in reach.items() if u is not None}
    if not reached:
        return f"not within B = {budget:g}"
    method = min(reached, key=lambda m: (reached[m], m))
    units = reached[method]
    return f"{units:g} ({units / full_units:.2f} of {full_units:g}): `{method}`"


def _ms(seconds: float) -> str:
    return f"{1000 * seconds:g} ms" if seconds < 1 else f"{seconds:g} s"


def _utilization_lines(rows: Sequence[Mapping[str, Any]], meta: Mapping[str, Any]) -> list[str]:
    if not rows:
        return []
    sleep = float(rows[0].get("sleep_per_unit", SLEEP_PER_UNIT))
    lines = [
        "",
        "### ASHA: how busy the workers are",
        "",
        f"`asha` + `tpe` on `mf_branin`, {rows[0]['trials']} trials of an objective that "
        f"sleeps {_ms(sleep)} per epoch ({_ms(sleep)}-{_ms(27 * sleep)}), "
        "`study.optimize(..., workers=W)` with process "
        f"workers and a SQLite file, {meta['utilization_repeats']} repeats (seeds 0..). "
        "Utilization = sum of trial durations / (W x span from the first objective start to "
        "the last result); the workers' start-up is outside the span. While trials were "
        "left = the same from the first objective start to the last one, so the end of a "
        "finite run (workers waiting for the last results) is left out. Replay: "
        "`hypertrail.replay.verify` on the study's log.",
        "",
        "| workers | utilization, median (min–max) | while trials were left, median "
        "(min–max) | span / ideal span | idle: between trials / after the last | driver "
        "gap, median ms | replay verified | replay ms per trial |",
        "|--:|--:|--:|--:|--:|--:|---|--:|",
    ]
    for w in sorted({int(r["workers"]) for r in rows}):
        mine = [r for r in rows if int(r["workers"]) == w]
        util = [float(r["utilization"]) for r in mine]
        stretch = [float(r["span"]) / float(r["ideal_span"]) for r in mine]
        ok = sum(bool(r["replay_ok"]) for r in mine)
        replay = statistics.median(float(r["replay_ms_per_trial"]) for r in mine)
        idle = sum(float(r["idle"]) for r in mine)
        gaps = sum(float(r["idle_gaps"]) for r in mine) / idle
        tail = sum(float(r["idle_tail"]) for r in mine) / idle
        gap_ms = statistics.median(float(r["gap_ms_median"]) for r in mine)
        steady = [float(r["steady_utilization"]) for r in mine if "steady_utilization" in r]
        while_left = (
            f"{statistics.median(steady):.2f} ({min(steady):.2f}–{max(steady):.2f})"
            if steady
            else "—"
        )
        lines.append(
            f"| {w} | {statistics.median(util):.2f} ({min(util):.2f}–{max(util):.2f}) | "
            f"{while_left} | {statistics.median(stretch):.2f} | {gaps:.0%} / {tail:.0%} | "
            f"{gap_ms:.1f} | "
            f"{ok} of {len(mine)} | {replay:.1f} |"
        )
    late = sum(int(r.get("promotion_problems", 0)) for r in rows)
    lines += [
        "",
        "Idle worker time is split into the time between a worker's result and its next "
        "trial (the driver's tell, ask — ASHA's decision and TPE's proposal — and "
        "dispatch, all on SQLite) and the time after a worker's last trial while the others "
        "finish (the end of a finite run); the rest is before a worker's first trial. "
        "The driver ran a short study first, so the one-time lazy import of SciPy at "
        "TPE's first model-based proposal (0.2-0.4 s, during which every worker that "
        "finishes waits) is not measured. "
        f"Trials here last {_ms(sleep)}-{_ms(27 * sleep)}, so a few ms of driver time per "
        "trial shows the shorter they are (`--utilization-sleep` sets the sleep per epoch). "
        "Promotions whose parent was not in the "
        "top third of the trials of its rung that had ended when it was asked: "
        f"{late}.",
    ]
    return lines


def _how_lines(
    summary: Mapping[str, Any], jobs: Sequence[Mapping[str, Any]], meta: Mapping[str, Any]
) -> list[str]:
    errors = [j for j in jobs if j.get("error")]
    problems = [j for j in jobs if j.get("promotion_problems")]
    seeds = sorted({_seed(j) for j in jobs})
    fewest = min(
        (
            len({_seed(j) for j in jobs if j["problem"] == p and j["method"] == m})
            for p, m in {(j["problem"], j["method"]) for j in jobs}
        ),
        default=0,
    )
    seed_words = (
        f"seeds {seeds[0]}..{seeds[-1]}"
        if seeds and seeds == list(range(seeds[0], seeds[-1] + 1))
        else "seeds " + ", ".join(map(str, seeds))
    )
    small = (
        f"With {fewest} seeds a Wilcoxon test cannot reach p < 0.25: those rows are descriptive. "
        if 0 < fewest <= 3
        else ""
    )
    lines = [
        "",
        "### How it was measured",
        "",
        "Each run is sequential and in memory. hypertrail's schedulers are asked and told "
        "trial by trial; a promotion continues its parent's training (for `mf_mlp_digits` "
        "an in-process memo of trained models, keyed by configuration and epochs, resumes "
        "from the furthest trained copy — the same memo serves Optuna's step-by-step "
        "objective, so neither side retrains) and costs the epochs it adds. Optuna's "
        "objective reports every epoch 1..27 and stops when pruned; it pays every epoch it "
        "ran. Both sides search the same spaces (Optuna through "
        f"`benchmarks/suite/adapter.py`), each with seed *s* for {seed_words}; pairing by seed "
        "index is nominal (the libraries draw differently). The synthetic problems are "
        "cheap, so their runs measure search quality per fidelity unit, not time; on "
        "`mf_mlp_digits` training dominates. The optimum of `mf_mlp_digits` is the lowest "
        "validation error at 27 epochs any run or the reference sample found, so the best "
        f"run there scores 0 by construction. {small}The last trial of a run may overshoot "
        f"B; its whole cost counts (at most {_overshoot(jobs):.0f} epochs over B here). "
        "`top` shows how differently the two families spend B: Optuna's pruners compare a "
        "trial with the trials that reached the same step before it, so the first trials "
        "of a study (or bracket) run to 27 epochs; ASHA promotes a configuration only once "
        "it ranks in the top third of at least three trials that ended at its rung, and "
        "Hyperband once the bracket's rung is complete. The "
        "reference is the median of random configurations (as in the quality section), "
        "not their mean, which one diverged network or a far corner of Branin would "
        "dominate.",
    ]
    if problems:
        total = sum(int(j["promotion_problems"]) for j in problems)
        lines += [
            "",
            f"Promotion checks found {total} promotion(s) that were not from the top 1/eta "
            f"of their rung in {len(problems)} run(s); see the results file.",
        ]
    if errors:
        lines += ["", "Runs that failed:", ""]
        lines += [
            f"- `{j['method']}` on `{j['problem']}`, seed {j['seed']}: {j['error']}"
            for j in errors[:10]
        ]
    return lines


# --- command line ---------------------------------------------------------------------------


def _seed_list(text: str) -> list[int] | None:
    """``10`` -> 0..9; ``3-7``; ``1,4,9``; empty -> the per-problem default."""
    text = text.strip()
    if not text:
        return None
    if text.isdigit():
        return list(range(int(text)))
    if "-" in text and "," not in text:
        a, b = (int(x) for x in text.split("-", 1))
        return list(range(a, b + 1))
    return [int(x) for x in text.split(",") if x.strip()]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python benchmarks/multifidelity.py",
        description="Multi-fidelity search: hypertrail schedulers vs Optuna pruners.",
    )
    parser.add_argument("--problems", default=",".join(MF_PROBLEMS))
    parser.add_argument(
        "--methods",
        default=",".join(DEFAULT_METHODS),
        help=f"comma-separated (default: all but {', '.join(OPTIONAL)})",
    )
    parser.add_argument(
        "--seeds",
        default="",
        help="N, A-B or a,b,c for every problem (default: --synthetic-seeds and --mlp-seeds)",
    )
    parser.add_argument(
        "--synthetic-seeds",
        type=int,
        default=SYNTHETIC_SEEDS,
        help="seeds 0..N-1 for the synthetic problems when --seeds is not given",
    )
    parser.add_argument(
        "--mlp-seeds",
        type=int,
        default=MLP_SEEDS,
        help="seeds 0..N-1 for mf_mlp_digits when --seeds is not given",
    )
    parser.add_argument("--budget-evals", type=int, default=33, help="B in full evaluations")
    parser.add_argument("--full-evals", type=int, default=100, help="ht-hybrid-full's budget")
    parser.add_argument("--workers", type=int, default=2, help="job processes (at most 2 here)")
    parser.add_argument("--utilization-trials", type=int, default=200)
    parser.add_argument("--utilization-repeats", type=int, default=3)
    parser.add_argument("--utilization-workers", default="2,4")
    parser.add_argument(
        "--utilization-sleep",
        type=float,
        default=SLEEP_PER_UNIT,
        help="seconds each utilization trial sleeps per epoch (default %(default)s)",
    )
    parser.add_argument("--results-dir", type=Path, default=DEFAULT_RESULTS)
    parser.add_argument("--doc", type=Path, default=DEFAULT_DOC)
    parser.add_argument("--no-doc", action="store_true", help="print the section only")
    parser.add_argument(
        "--section",
        default=SECTION,
        help=f"the section of the doc to rewrite (default {SECTION}; another name keeps "
        "the default section, for a run with another budget)",
    )
    parser.add_argument(
        "--title", help="the section's heading (default: from the section and budget)"
    )
    parser.add_argument("--from-results", type=Path, help="re-render from a results file")
    args = parser.parse_args(argv)
    args.problem_list = [p.strip() for p in args.problems.split(",") if p.strip()]
    args.method_list = [m.strip() for m in args.methods.split(",") if m.strip()]
    for p in args.problem_list:
        if p not in MF_PROBLEMS:
            parser.error(f"unknown problem {p!r}; known: {', '.join(MF_PROBLEMS)}")
    for m in args.method_list:
        if m not in METHODS:
            parser.error(f"unknown method {m!r}; known: {', '.join(METHODS)}")
    args.seed_list = _seed_list(args.seeds)
    if args.budget_evals < 1 or args.full_evals < args.budget_evals or args.workers < 1:
        parser.error("need --budget-evals >= 1, --full-evals >= --budget-evals, --workers >= 1")
    if args.synthetic_seeds < 1 or args.mlp_seeds < 1:
        parser.error("need --synthetic-seeds >= 1 and --mlp-seeds >= 1")
    return args


def _seeds_for(problem: str, args: argparse.Namespace) -> list[int]:
    if args.seed_list is not None:
        return list(args.seed_list)
    return list(range(args.mlp_seeds if problem == "mf_mlp_digits" else args.synthetic_seeds))


def _cost(job: tuple[str, str, int]) -> float:
    """Rough relative cost, to start the long jobs first."""
    problem, method, _ = job
    heavy = 30.0 if problem == "mf_mlp_digits" else 1.0
    return heavy * (3.0 if method == FULL else 1.0)


def _meta(args: argparse.Namespace, started: dt.datetime) -> dict[str, Any]:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else math.nan
    return {
        "kind": "run",
        "command": command_line("python benchmarks/multifidelity.py"),
        "date": started.strftime("%Y-%m-%d"),
        "git": git_revision(),
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "load": load,
        "python": platform.python_version(),
        "optuna": package_version("optuna"),
        "sklearn": package_version("scikit-learn"),
        "numpy": package_version("numpy"),
        "workers": args.workers,
        "problems": args.problem_list,
        "methods": args.method_list,
        "budget_evals": args.budget_evals,
        "full_evals": args.full_evals,
        "utilization_repeats": args.utilization_repeats,
    }


def _progress(record: Mapping[str, Any]) -> str:
    if record["kind"] == "reference":
        return f"reference {record['problem']}: median {record['median']:.4g}"
    head = f"{record['method']:<21} {record['problem']:<14} seed {record['seed']:<2}"
    if record.get("error"):
        return f"{head} ERROR {record['error']}"
    best = best_within(record, None)
    shown = "none" if best is None else f"{best:.5g}"  # none: nothing reached 27 epochs
    extra = ""
    if record.get("promotion_problems"):
        extra = f" PROMOTIONS {record['promotion_problems']}"
    return (
        f"{head} best@27 {shown:<10} "
        f"top {len(record['top']):<3} trials {record['trials']:<4} "
        f"{record['seconds']:6.1f} s{extra}"
    )


def run(args: argparse.Namespace) -> int:
    started = dt.datetime.now(dt.UTC)
    clock = time.perf_counter()
    for var in THREAD_VARIABLES:  # inherited by the spawned workers
        os.environ.setdefault(var, "1")
    meta = _meta(args, started)
    args.results_dir.mkdir(parents=True, exist_ok=True)
    results = args.results_dir / f"multifidelity-{started.strftime('%Y-%m-%dT%H%M%S')}.jsonl"
    meta["results_file"] = (
        str(results.relative_to(ROOT)) if results.is_relative_to(ROOT) else str(results)
    )
    jobs = [
        (p, m, s) for p in args.problem_list for m in args.method_list for s in _seeds_for(p, args)
    ]
    jobs.sort(key=lambda j: -_cost(j))
    records: list[dict[str, Any]] = []
    ctx = get_context("spawn")
    with results.open("w") as out:
        out.write(json.dumps(meta) + "\n")
        total = len(jobs) + len(args.problem_list)
        print(f"{len(jobs)} runs + {len(args.problem_list)} references -> {results}", flush=True)
        with ProcessPoolExecutor(args.workers, mp_context=ctx, initializer=worker_init) as pool:
            futures: list[Future[dict[str, Any]]] = [
                pool.submit(compute_reference, p) for p in args.problem_list
            ]
            futures += [
                pool.submit(run_job, p, m, s, args.budget_evals, args.full_evals)
                for p, m, s in jobs
            ]
            for done, future in enumerate(as_completed(futures), start=1):
                record = future.result()
                out.write(json.dumps(record, allow_nan=False) + "\n")
                out.flush()
                records.append(record)
                elapsed = time.perf_counter() - clock
                print(
                    f"[{done}/{total} {elapsed:5.0f}s] {_progress(record)}",
                    flush=True,
                )
        utilization: list[dict[str, Any]] = []
        if args.utilization_trials > 0:
            folder = Path(tempfile.mkdtemp(prefix="mf-utilization-"))
            warm_up_driver()
            for repeat in range(args.utilization_repeats):
                for w in (int(x) for x in args.utilization_workers.split(",")):
                    row = measure_utilization(
                        w, args.utilization_trials, repeat, folder, args.utilization_sleep
                    )
                    out.write(json.dumps(row) + "\n")
                    out.flush()
                    utilization.append(row)
                    print(
                        f"utilization W={w} repeat {repeat}: {row['utilization']:.2f} "
                        f"(span {row['span']:.2f} s, ideal {row['ideal_span']:.2f} s), "
                        f"replay ok {row['replay_ok']}",
                        flush=True,
                    )
        meta["minutes"] = (time.perf_counter() - clock) / 60
        out.write(json.dumps({"kind": "end", "minutes": meta["minutes"]}) + "\n")
    return _report(meta, records, utilization, args)


def _report(
    meta: dict[str, Any],
    records: Sequence[Mapping[str, Any]],
    utilization: Sequence[Mapping[str, Any]],
    args: argparse.Namespace,
) -> int:
    jobs = [r for r in records if r["kind"] == "job"]
    references = {r["problem"]: r for r in records if r["kind"] == "reference"}
    summary = summarize(jobs, references, meta["problems"], meta["methods"])
    title = args.title or "Multi-fidelity search"
    if args.section != SECTION and not args.title:
        title += f", B = {meta['budget_evals']} full evaluations"
    section = render_section(summary, utilization, meta, jobs, title)
    print()
    print(section)
    if not args.no_doc:
        update_section(args.doc, args.section, section)
        print(f"\nwrote the {args.section} section of {args.doc}")
    return 1 if any(j.get("error") for j in jobs) else 0


def rerender(args: argparse.Namespace) -> int:
    lines = [json.loads(x) for x in args.from_results.read_text().splitlines() if x.strip()]
    meta = next(r for r in lines if r.get("kind") == "run")
    end = [r for r in lines if r.get("kind") == "end"]
    meta["minutes"] = end[-1]["minutes"] if end else math.nan
    meta["results_file"] = str(args.from_results)
    records = [r for r in lines if r.get("kind") in ("job", "reference")]
    utilization = [r for r in lines if r.get("kind") == "utilization"]
    return _report(meta, records, utilization, args)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.from_results is not None:
        return rerender(args)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
