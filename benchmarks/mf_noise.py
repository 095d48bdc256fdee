"""How much of ``mf_mlp_digits``'s top-fidelity value is luck.

The problem's loss is the validation error of an MLP after 27 epochs, on 450 digits.
Two configurations a hair apart (continuous hyperparameters moved by a small fraction
of their range, the architecture kept) can train along different paths and end
several validation samples apart. A best value found may then be a lucky draw rather
than a good region; the neighbours of the best configuration tell which.

Usage, from the repository root::

    python benchmarks/mf_noise.py                  # ~5 min on 2 cores
    python benchmarks/mf_noise.py --seeds 1 --neighbours 5 --no-doc   # smoke

What it does:

1. Anchors: the best 27-epoch configuration of ``ht-asha-gp`` (at B = 33 full
   evaluations' epochs) and of ``ht-hybrid-full`` (100 full evaluations) on each seed,
   run exactly as ``benchmarks/multifidelity.py`` runs them.
2. Around each anchor, ``--neighbours`` configurations whose continuous
   hyperparameters each move by a normal step of s.d. ``--step`` in their unit
   coordinate (log scale where the parameter is; integers, categories and the
   architecture stay), each trained for 27 epochs.
3. Per anchor: its own error and its neighbours' (validation samples wrong); per
   method, the mean of each: where a method ends, with and without the luck of the
   one configuration it happened to evaluate.

The summary rewrites the ``mf-noise`` section of ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
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
from benchmarks.multifidelity import FULL, THREAD_VARIABLES, run_job  # noqa: E402
from benchmarks.suite.runners import worker_init  # noqa: E402

PROBLEM = "mf_mlp_digits"
ANCHOR_METHODS = ("ht-asha-gp", FULL)
DEFAULT_DOC = ROOT / "docs" / "benchmarks.md"
SECTION = "mf-noise"


def validation_size() -> int:
    """Digits in the validation split of ``mf_mlp_digits``."""
    from hypertrail.benchmarks.multifidelity import _digits

    return len(_digits()[3])


def neighbours(config: Mapping[str, Any], n: int, step: float, seed: int) -> list[dict[str, Any]]:
    """``n`` configurations with every active continuous parameter of ``config`` moved
    by ``N(0, step)`` in its unit coordinate (clipped); everything else kept."""
    import numpy as np

    from hypertrail.benchmarks.multifidelity import MF_PROBLEMS
    from hypertrail.space.params import Float

    space = MF_PROBLEMS[PROBLEM]().space
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        moved = dict(config)
        for param in space.dimensions:
            if param.name in moved and isinstance(param.domain, Float):
                u = param.domain.to_unit(moved[param.name]) + float(rng.normal(0.0, step))
                moved[param.name] = param.domain.from_unit(min(max(u, 0.0), 1.0 - 1e-12))
        out.append(space.canonical(moved))
    return out


def evaluate_all(configs: Sequence[Mapping[str, Any]]) -> list[int]:
    """Validation samples each configuration gets wrong after 27 epochs."""
    from hypertrail.benchmarks.multifidelity import MF_PROBLEMS

    problem = MF_PROBLEMS[PROBLEM]()
    size = validation_size()
    return [round(float(problem.evaluate(c, problem.max_fidelity)) * size) for c in configs]


def describe(config: Mapping[str, Any]) -> str:
    """``"(240, 239) relu, lr 0.0016, alpha 0.0021, batch 16"``."""
    widths = ", ".join(str(config[f"layers.{i}.width"]) for i in range(config["n_layers"]))
    return (
        f"({widths}) {config['activation']}, lr {config['learning_rate_init']:.2g}, "
        f"alpha {config['alpha']:.2g}, batch {config['batch_size']}"
    )


def summarize(anchors: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Per-anchor rows, and per method the mean anchor error, the mean of the
    neighbourhoods' means and the pooled s.d. of a neighbour around its mean."""
    rows = []
    for a in anchors:
        errors = a["neighbour_errors"]
        rows.append(
            {
                "method": a["method"],
                "seed": a["seed"],
                "anchor": a["anchor_error"],
                "mean": statistics.fmean(errors),
                "sd": statistics.pstdev(errors),
                "min": min(errors),
                "max": max(errors),
                "at_or_below": sum(e <= a["anchor_error"] for e in errors) / len(errors),
                "config": describe(a["config"]),
            }
        )
    methods = {}
    for method in dict.fromkeys(r["method"] for r in rows):
        mine = [r for r in rows if r["method"] == method]
        methods[method] = {
            "anchor": statistics.fmean(r["anchor"] for r in mine),
            "mean": statistics.fmean(r["mean"] for r in mine),
            "sd": math.sqrt(statistics.fmean(r["sd"] ** 2 for r in mine)),
        }
    return {"rows": rows, "methods": methods}


def render(summary: Mapping[str, Any], meta: Mapping[str, Any]) -> str:
    size = meta["validation_size"]
    lines = [
        "## How much of `mf_mlp_digits` is luck",
        "",
        f"Measured by `{meta['command']}` on {meta['date']}, commit {meta['git']}, "
        f"{meta['cpu']} ({meta['cores']} logical cores), Python {meta['python']}, "
        f"scikit-learn {meta['sklearn']}; {meta['workers']} worker processes; wall time "
        f"{meta['minutes']:.1f} min.",
        "",
        f"Anchors: the best 27-epoch configuration of each run below. Around each, "
        f"{meta['neighbours']} neighbours: every continuous hyperparameter moved by "
        f"N(0, {meta['step']:g}) in its unit coordinate (the learning rate and `alpha` on "
        f"their log scale), the architecture, activation and batch size kept; each trained "
        f"27 epochs. Errors are validation samples wrong, of {size}.",
        "",
        "| anchor | configuration | its error | neighbours: mean | s.d. | min | max | "
        "neighbours at or below the anchor |",
        "|---|---|--:|--:|--:|--:|--:|--:|",
    ]
    for r in summary["rows"]:
        lines.append(
            f"| `{r['method']}` seed {r['seed']} | {r['config']} | {r['anchor']} | "
            f"{r['mean']:.1f} | {r['sd']:.1f} | {r['min']} | {r['max']} | {r['at_or_below']:.0%} |"
        )
    lines += ["", "| method | anchors' error, mean | neighbourhoods' means, mean | pooled s.d. |"]
    lines.append("|---|--:|--:|--:|")
    for method, m in summary["methods"].items():
        lines.append(f"| `{method}` | {m['anchor']:.1f} | {m['mean']:.1f} | {m['sd']:.1f} |")
    return "\n".join(lines)


def anchor_job(method: str, seed: int, budget_evals: int, full_evals: int) -> dict[str, Any]:
    record = run_job(PROBLEM, method, seed, budget_evals, full_evals)
    if record.get("error"):
        raise RuntimeError(f"{method} seed {seed}: {record['error']}")
    return record


def neighbour_job(record: Mapping[str, Any], n: int, step: float, index: int) -> dict[str, Any]:
    config = record["best_config"]
    errors = evaluate_all([config, *neighbours(config, n, step, index)])
    return {
        "method": record["method"],
        "seed": record["seed"],
        "config": config,
        "anchor_error": errors[0],
        "neighbour_errors": errors[1:],
    }


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=3, help="seeds per anchor method (3)")
    parser.add_argument("--neighbours", type=int, default=30, help="per anchor (30)")
    parser.add_argument("--step", type=float, default=0.005, help="s.d. in unit coordinates")
    parser.add_argument("--budget-evals", type=int, default=33)
    parser.add_argument("--full-evals", type=int, default=100)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--doc", type=Path, default=DEFAULT_DOC)
    parser.add_argument("--no-doc", action="store_true", help="print only")
    args = parser.parse_args(argv)
    if args.seeds < 1 or args.neighbours < 2 or not args.step > 0:
        parser.error("--seeds must be >= 1, --neighbours >= 2, --step > 0")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    started, clock = dt.datetime.now(dt.UTC), time.perf_counter()
    for var in THREAD_VARIABLES:  # inherited by the spawned workers
        os.environ.setdefault(var, "1")
    ctx = get_context("spawn")
    with ProcessPoolExecutor(args.workers, mp_context=ctx, initializer=worker_init) as pool:
        runs = [
            pool.submit(anchor_job, m, s, args.budget_evals, args.full_evals)
            for m in ANCHOR_METHODS
            for s in range(args.seeds)
        ]
        records = [f.result() for f in runs]
        print(f"{len(records)} anchor runs done ({time.perf_counter() - clock:.0f} s)", flush=True)
        around = [
            pool.submit(neighbour_job, r, args.neighbours, args.step, i)
            for i, r in enumerate(records)
        ]
        anchors = [f.result() for f in around]
    meta = {
        "command": command_line("python benchmarks/mf_noise.py", argv),
        "date": started.strftime("%Y-%m-%d"),
        "git": git_revision(),
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "sklearn": package_version("scikit-learn"),
        "workers": args.workers,
        "neighbours": args.neighbours,
        "step": args.step,
        "validation_size": validation_size(),
        "minutes": (time.perf_counter() - clock) / 60,
    }
    section = render(summarize(anchors), meta)
    print(section)
    if not args.no_doc:
        update_section(args.doc, SECTION, section)
        print(f"\nwrote the {SECTION} section of {args.doc}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
