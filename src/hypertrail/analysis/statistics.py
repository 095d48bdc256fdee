"""Statistics across seeds: best-so-far curves, bootstrap intervals, ranks, paired tests.

Pure functions over plain numbers, shared by ``hypertrail compare``, reports and the
benchmark suite. Intervals use a fixed generator, so the same numbers always give
the same interval.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "BOOTSTRAP_RESAMPLES",
    "PairedTest",
    "best_so_far",
    "bootstrap_ci",
    "bootstrap_difference_ci",
    "holm",
    "mean_ranks",
    "paired_tests",
]

BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_SEED = 12345


def best_so_far(values: Sequence[float | None]) -> list[float | None]:
    """The running minimum; ``None`` (a failed trial) and non-finite values skip.

    Example:
        >>> best_so_far([3.0, None, 1.0, 2.0])
        [3.0, 3.0, 1.0, 1.0]
    """
    out: list[float | None] = []
    best: float | None = None
    for v in values:
        if v is not None and math.isfinite(v) and (best is None or v < best):
            best = v
        out.append(best)
    return out


def bootstrap_ci(
    values: Sequence[float], level: float = 0.95, resamples: int = BOOTSTRAP_RESAMPLES
) -> tuple[float, float]:
    """Percentile interval of the mean, resampling the values (fixed generator).

    Example:
        >>> low, high = bootstrap_ci([1.0, 2.0, 3.0, 4.0])
        >>> low < 2.5 < high
        True
    """
    data = np.asarray(values, dtype=float)
    if len(data) == 0:
        return (math.nan, math.nan)
    if len(data) < 2:
        return (float(data.mean()), float(data.mean()))
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    idx = rng.integers(0, len(data), size=(resamples, len(data)))
    means = data[idx].mean(axis=1)
    tail = 100.0 * (1.0 - level) / 2.0
    low, high = np.percentile(means, [tail, 100.0 - tail])
    return float(low), float(high)


def bootstrap_difference_ci(
    a: Sequence[float],
    b: Sequence[float],
    level: float = 0.95,
    resamples: int = BOOTSTRAP_RESAMPLES,
) -> tuple[float, float]:
    """Percentile interval of ``mean(a) - mean(b)`` for two independent samples
    (each resampled on its own; fixed generator). Use it where seeds do not pair the
    runs, such as two methods whose seeds draw different things; an interval that
    holds 0 says the data do not tell the two means apart.

    Example:
        >>> low, high = bootstrap_difference_ci([1.0, 2.0, 3.0], [5.0, 6.0, 7.0])
        >>> low < -4.0 < high < 0.0
        True
    """
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if len(x) == 0 or len(y) == 0:
        return (math.nan, math.nan)
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    mx = x[rng.integers(0, len(x), size=(resamples, len(x)))].mean(axis=1)
    my = y[rng.integers(0, len(y), size=(resamples, len(y)))].mean(axis=1)
    tail = 100.0 * (1.0 - level) / 2.0
    low, high = np.percentile(mx - my, [tail, 100.0 - tail])
    return float(low), float(high)


def mean_ranks(matrix: np.ndarray) -> np.ndarray:
    """Mean rank of each row over columns (1 = smallest value; ties share ranks).

    ``matrix[i, j]`` is optimizer *i*'s value on seed (or problem) *j*; smaller is
    better.
    """
    from scipy.stats import rankdata

    ranks = np.apply_along_axis(rankdata, 0, np.asarray(matrix, dtype=float))
    out: np.ndarray = ranks.mean(axis=1)
    return out


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (step-down, monotone, capped at 1).

    Example:
        >>> holm([0.01, 0.04, 0.03])
        [0.03, 0.06, 0.06]
    """
    m = len(pvalues)
    order = sorted(range(m), key=lambda i: pvalues[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * pvalues[i]))
        # 12 significant digits: float noise goes (3 x 0.01 reads 0.03), tiny p stay.
        adjusted[i] = float(f"{running:.12g}")
    return adjusted


@dataclass(frozen=True)
class PairedTest:
    """A Wilcoxon signed-rank test of two optimizers over paired seeds.

    ``better`` names the one with the smaller median of paired differences (or
    ``None`` when they tie); ``p_holm`` is corrected over all pairs tested together.
    """

    a: str
    b: str
    n: int
    statistic: float
    p: float
    p_holm: float
    better: str | None

    def significant(self, alpha: float = 0.05) -> bool:
        return self.p_holm < alpha


def paired_tests(
    labels: Sequence[str],
    matrix: np.ndarray,
    pairs: Sequence[tuple[int, int]] | None = None,
) -> list[PairedTest]:
    """Pairs of rows of ``matrix`` (optimizer x seed, smaller is better) tested with a
    two-sided Wilcoxon signed-rank test; Holm correction over the pairs tested.

    ``pairs`` (row indices) defaults to every pair. Pairs whose values are all equal
    get p = 1.
    """
    from scipy.stats import wilcoxon

    data = np.asarray(matrix, dtype=float)
    if pairs is None:
        pairs = [(i, j) for i in range(len(labels)) for j in range(i + 1, len(labels))]
    raw: list[tuple[str, str, int, float, float, str | None]] = []
    for i, j in pairs:
        diff = data[i] - data[j]
        keep = np.isfinite(diff)
        diff = diff[keep]
        median = float(np.median(diff)) if diff.size else 0.0
        better = labels[i] if median < 0 else labels[j] if median > 0 else None
        if diff.size == 0 or not np.any(diff != 0):
            raw.append((labels[i], labels[j], int(diff.size), 0.0, 1.0, None))
            continue
        result = wilcoxon(diff, zero_method="wilcox", alternative="two-sided")
        raw.append(
            (
                labels[i],
                labels[j],
                int(diff.size),
                float(result.statistic),
                float(result.pvalue),
                better,
            )
        )
    adjusted = holm([r[4] for r in raw])
    return [
        PairedTest(a, b, n, stat, p, p_adj, better)
        for (a, b, n, stat, p, better), p_adj in zip(raw, adjusted, strict=True)
    ]
