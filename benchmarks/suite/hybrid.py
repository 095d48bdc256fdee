"""The hybrid optimizer's section of ``docs/benchmarks.md``: the claims of the hybrid
search checked on the suite's runs, and an anytime plot per problem.

Written only when the run includes ``hybrid``. Significance: per problem, hybrid's
per-seed normalized regrets against random, structure-only and numeric-only, each a
two-sided Wilcoxon signed-rank test paired by seed, Holm-corrected over those three.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from benchmarks.suite.report import Summary, normalized_regret
from benchmarks.svg import bands_svg

from hypertrail.analysis.statistics import paired_tests
from hypertrail.reporting.plots import anytime_bands

__all__ = ["hybrid_section"]

HYBRID = "hybrid"
REFERENCE = "optuna-tpe"
ABLATIONS = ("random", "structure-only", "numeric-only")
SINGLE_ENGINES = ("gp", "tpe", "cmaes", "evolution", "sobol", "random")
ANYTIME = ("hybrid", "gp", "tpe", "optuna-tpe", "structure-only", "numeric-only", "random")


def _regret_curves(
    jobs: Sequence[Mapping[str, Any]],
    problem: str,
    optimum: float,
    reference: float,
) -> dict[str, np.ndarray]:
    by_optimizer: dict[str, list[list[float]]] = {}
    for job in sorted(jobs, key=lambda j: (j["optimizer"], j["seed"])):
        if job["problem"] != problem or job.get("error") or job["optimizer"] not in ANYTIME:
            continue
        curve = [
            1.0 if v is None else normalized_regret(float(v), optimum, reference)
            for v in job["best_so_far"]
        ]
        by_optimizer.setdefault(job["optimizer"], []).append(curve)
    return {o: np.array(by_optimizer[o]) for o in ANYTIME if o in by_optimizer}


def hybrid_section(
    summary: Summary,
    jobs: Sequence[Mapping[str, Any]],
    optima: Mapping[str, float | None],
    references: Mapping[str, float | None],
    image_dir: Path,
    image_prefix: str,
) -> str | None:
    """The Markdown section, writing one SVG per problem into ``image_dir``."""
    opts = summary.optimizers
    if HYBRID not in opts:
        return None
    problems = summary.problems
    mean = summary.suite_mean
    lines = ["## Hybrid search", ""]
    lines += [
        "Generated with the quality section above, from the same runs; the hybrid's",
        "claims checked on them. `structure-only` searches the structure with TPE, numbers",
        "at their defaults; `numeric-only` searches the numbers with the GP in the",
        "structure of the space's defaults.",
        "",
        "| claim | measured | holds |",
        "|---|---|---|",
    ]
    if REFERENCE in opts and mean[REFERENCE] > 0:
        ratio = mean[HYBRID] / mean[REFERENCE]
        lines.append(
            f"| mean normalized regret ≤ 0.7 × Optuna's default TPE | {mean[HYBRID]:.4f} vs "
            f"{mean[REFERENCE]:.4f}: {ratio:.2f}× | {'yes' if ratio <= 0.7 else 'no'} |"
        )
    engines = [o for o in SINGLE_ENGINES if o in opts]
    if engines:
        worst_gap = min(mean[o] - mean[HYBRID] for o in engines)
        lowest = ", ".join(f"{o} {mean[o]:.4f}" for o in engines)
        lines.append(
            f"| below every single-engine optimizer of hypertrail on average | hybrid "
            f"{mean[HYBRID]:.4f}; {lowest} | {'yes' if worst_gap > 0 else 'no'} |"
        )
    baselines = [o for o in ABLATIONS if o in opts]
    wins: dict[str, int] = {o: 0 for o in baselines}
    rows = []
    for p in problems:
        labels = [HYBRID, *baselines]
        matrix = np.array([summary.regrets[(p, o)] for o in labels])
        tests = paired_tests(labels, matrix, pairs=[(0, i) for i in range(1, len(labels))])
        cells = []
        for t in tests:
            won = t.better == HYBRID and t.significant()
            wins[t.b] += won
            mark = "**" if won else ""
            cells.append(f"{mark}{t.p_holm:.3g}{mark} ({t.better or 'tie'})")
        rows.append(f"| `{p}` | " + " | ".join(cells) + " |")
    if baselines:
        half = math.ceil(len(problems) / 2)
        all_three = sum(
            all(
                t.better == HYBRID and t.significant()
                for t in paired_tests(
                    [HYBRID, *baselines],
                    np.array([summary.regrets[(p, o)] for o in [HYBRID, *baselines]]),
                    pairs=[(0, i) for i in range(1, len(baselines) + 1)],
                )
            )
            for p in problems
        )
        text = "; ".join(f"{o} on {wins[o]}" for o in baselines)
        lines.append(
            f"| significantly better than {', '.join(baselines)} on ≥ half the problems "
            f"(Holm p < 0.05) | {text} of {len(problems)}; all three at once on {all_three} | "
            f"{'yes' if all(w >= half for w in wins.values()) else 'no'} |"
        )
    lines += [
        "",
        "Per problem: Holm-corrected p of hybrid against each baseline (Wilcoxon signed-rank",
        "on per-seed normalized regret), and which had the lower median difference; bold",
        "where hybrid is significantly better.",
        "",
        "| problem | " + " | ".join(f"vs {o}" for o in baselines) + " |",
        "|---|" + "--:|" * len(baselines),
        *rows,
        "",
        "### Anytime: normalized regret by evaluations",
        "",
        "Mean over seeds with its 95 % bootstrap band (log scale, floored at 1e-6).",
        "",
    ]
    image_dir.mkdir(parents=True, exist_ok=True)
    for p in problems:
        optimum, reference = optima.get(p), references.get(p)
        if optimum is None or reference is None:
            continue
        bands = anytime_bands(_regret_curves(jobs, p, optimum, reference))
        name = f"anytime-{p}.svg"
        (image_dir / name).write_text(bands_svg(bands, p, "normalized regret"), encoding="utf-8")
        lines.append(f"![anytime {p}]({image_prefix}{name})")
    lines.append("")
    spread = statistics.fmean(len(summary.regrets[(p, HYBRID)]) for p in problems)
    lines.append(f"Seeds per problem: {spread:.0f}.")
    return "\n".join(lines) + "\n"
