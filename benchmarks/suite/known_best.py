"""Establish the best known value of problems without an exact optimum.

A long search per problem, run once and recorded in ``data/known_best.json``: half
the evaluations on random configurations, then a local search around the best
configurations found (Gaussian steps in the unit-cube encoding of numeric
parameters, shrinking over time; a categorical switched to another choice; each move
changes one parameter, or more with decreasing probability; the active set follows
the new values through ``Space.complete``). The benchmark runner later lowers an
entry whenever any run finds better.

Usage (from the repository root)::

    python -m benchmarks.suite.known_best --problems sklearn,nas --evaluations 1000
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from typing import Any

import numpy as np
from benchmarks.suite.catalog import get_problem, select_problems
from benchmarks.suite.reference import KNOWN_BEST, load_json, save_json, update_known_best
from benchmarks.suite.runners import worker_init

from hypertrail.space.params import Categorical, Ordinal

__all__ = ["search"]

SEED = 7


def _mutate(
    config: dict[str, Any], problem_name: str, rng: np.random.Generator, sigma: float
) -> dict[str, Any]:
    space = get_problem(problem_name).space
    active = [p for p in space.dimensions if p.name in config]
    values = dict(config)
    n_moves = int(rng.geometric(0.6))  # 1 move, 2 with p = 0.4, ...
    for index in rng.choice(len(active), size=min(n_moves, len(active)), replace=False):
        param = active[int(index)]
        domain = param.domain
        if isinstance(domain, Categorical) and not isinstance(domain, Ordinal):
            others = [c for c in domain.choices if c != config[param.name]]
            if others:
                values[param.name] = others[int(rng.integers(len(others)))]
        else:
            u = domain.to_unit(config[param.name]) + float(rng.normal(0.0, sigma))
            values[param.name] = domain.from_unit(min(max(u, 0.0), 1.0 - 1e-12))
    return space.complete(values, rng)


def search(problem_name: str, evaluations: int, seed: int = SEED) -> dict[str, Any]:
    """Random then local search; returns the best value and configuration."""
    worker_init()
    problem = get_problem(problem_name)
    rng = np.random.default_rng(seed)
    seen: dict[str, float] = {}
    ranked: list[tuple[float, str]] = []
    start = time.perf_counter()

    def evaluate(config: dict[str, Any]) -> None:
        key = json.dumps(problem.space.canonical(config), sort_keys=True)
        if key in seen:
            return
        value = float(problem.evaluate(config))
        seen[key] = value
        if math.isfinite(value):
            ranked.append((value, key))

    n_random = evaluations // 2
    while len(seen) < n_random:
        evaluate(problem.space.sample(rng))
    tries = 0
    while len(seen) < evaluations and tries < 50 * evaluations:
        tries += 1
        progress = (len(seen) - n_random) / max(evaluations - n_random, 1)
        sigma = 0.15 * (1 - progress) + 0.02 * progress
        ranked.sort()
        parent_key = ranked[min(int(rng.geometric(0.5)) - 1, len(ranked) - 1)][1]
        child = _mutate(json.loads(parent_key), problem_name, rng, sigma)
        if problem.space.is_feasible(child):
            evaluate(child)
    ranked.sort()
    value, key = ranked[0]
    return {
        "problem": problem_name,
        "value": value,
        "config": problem.space.canonical(json.loads(key)),
        "evaluations": len(seen),
        "random": n_random,
        "seconds": time.perf_counter() - start,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--problems", default="sklearn,nas", help="names or families")
    parser.add_argument("--evaluations", type=int, default=1000, help="per problem")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    names = [n for n in select_problems(args.problems) if get_problem(n).optimum is None]
    if not names:
        print("every selected problem has an exact optimum; nothing to do")
        return 0
    known = load_json(KNOWN_BEST)
    ctx = get_context("spawn")
    with ProcessPoolExecutor(args.workers, mp_context=ctx, initializer=worker_init) as pool:
        futures = [pool.submit(search, name, args.evaluations) for name in names]
        for future in as_completed(futures):
            result = future.result()
            source = (
                f"known_best search: {result['evaluations']} evaluations "
                f"({result['random']} random, the rest local), seed {SEED}"
            )
            changed = update_known_best(
                known, result["problem"], result["value"], result["config"], source
            )
            save_json(KNOWN_BEST, known)
            print(
                f"{result['problem']}: best {result['value']:.6g} after {result['evaluations']} "
                f"evaluations in {result['seconds']:.0f} s"
                + ("" if changed else " (the stored value was already as good)"),
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
