"""Several metrics at once: the Pareto front and the hypervolume it dominates.

Everything here works on *losses* (each metric multiplied by its sign, so smaller is
better on every axis), as :meth:`hypertrail.history.History.loss` does for one
metric. :func:`front` and :func:`study_front` return which trials are not dominated;
:func:`hypervolume` measures the region a front dominates up to a reference point,
the usual single number for comparing fronts (larger is better).

Example:
    >>> import numpy as np
    >>> losses = np.array([[1.0, 4.0], [2.0, 2.0], [3.0, 3.0], [4.0, 1.0]])
    >>> front(losses).tolist()
    [0, 1, 3]
    >>> hypervolume(losses[[0, 1, 3]], np.array([5.0, 5.0]))
    10.0
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from hypertrail.trial import FrozenTrial, Metric, TrialState, furthest_trained

__all__ = ["ParetoFront", "front", "hypervolume", "reference_point", "study_front"]


def front(losses: np.ndarray) -> np.ndarray:
    """Indices (ascending) of the rows of ``losses`` that no other row dominates.

    A row dominates another when it is no worse on every column and better on one.
    Duplicated rows are all kept (none dominates the other).
    """
    points = np.asarray(losses, dtype=float)
    if points.ndim != 2:
        raise ValueError(f"losses must be a (points x metrics) matrix, got shape {points.shape}")
    n = len(points)
    if n == 0:
        return np.empty(0, dtype=int)
    # Visiting points in lexicographic order, a point can only be dominated by one
    # visited before it, and only by one already on the front.
    order = np.lexsort(points.T[::-1])
    kept: list[int] = []
    for i in order:
        if kept:
            others = points[kept]
            dominated = np.all(others <= points[i], axis=1) & np.any(others < points[i], axis=1)
            if dominated.any():
                continue
        kept.append(int(i))
    return np.sort(np.asarray(kept, dtype=int))


def reference_point(losses: np.ndarray, margin: float = 0.1) -> np.ndarray:
    """The worst loss on each axis, pushed out by ``margin`` of that axis's range
    (or by ``margin`` itself when every value is equal), so every point counts."""
    points = np.asarray(losses, dtype=float)
    worst = points.max(axis=0)
    spread = worst - points.min(axis=0)
    out: np.ndarray = worst + margin * np.where(spread > 0, spread, 1.0)
    return out


def hypervolume(losses: np.ndarray, reference: np.ndarray) -> float:
    """The volume dominated by ``losses`` and bounded by ``reference`` (exact).

    Points not strictly better than the reference on every axis add nothing. Two
    metrics take one sweep; more use slicing along the last axis (fine for the
    fronts a study has: tens to hundreds of points, up to four or five metrics).
    """
    points = np.asarray(losses, dtype=float)
    ref = np.asarray(reference, dtype=float)
    if points.size == 0:
        return 0.0
    if points.ndim != 2 or points.shape[1] != ref.shape[0]:
        raise ValueError(
            f"losses of shape {points.shape} do not match a reference of {ref.shape[0]} values"
        )
    points = points[np.all(points < ref, axis=1)]
    if len(points) == 0:
        return 0.0
    points = points[front(points)]
    return float(_volume(points, ref))


def _volume(points: np.ndarray, ref: np.ndarray) -> float:
    m = points.shape[1]
    if m == 1:
        return float(ref[0] - points[:, 0].min())
    if m == 2:
        order = np.argsort(points[:, 0], kind="stable")
        total, best_y = 0.0, ref[1]
        for x, y in points[order]:
            if y < best_y:
                total += (ref[0] - x) * (best_y - y)
                best_y = y
        return total
    # Slice along the last axis: between consecutive levels, the dominated region is
    # the (m-1)-dimensional volume of the points at or below that level.
    order = np.argsort(points[:, -1], kind="stable")
    levels = points[order, -1]
    total = 0.0
    for k in range(len(order)):
        upper = levels[k + 1] if k + 1 < len(order) else ref[-1]
        depth = upper - levels[k]
        if depth <= 0:
            continue
        slab = points[order[: k + 1], :-1]
        total += depth * _volume(slab[front(slab)], ref[:-1])
    return total


@dataclass(frozen=True)
class ParetoFront:
    """The non-dominated complete trials of a study, for its metrics.

    Attributes:
        metrics: the metrics, in the study's order.
        trials: numbers of every complete trial considered, in order.
        losses: their losses (one row per trial, one column per metric).
        front: numbers of the non-dominated trials.
        reference: the reference point (in losses) used for ``hypervolume``.
        hypervolume: the volume the front dominates up to ``reference``.
    """

    metrics: tuple[Metric, ...]
    trials: tuple[int, ...]
    losses: np.ndarray
    front: tuple[int, ...]
    reference: np.ndarray
    hypervolume: float

    def to_json(self) -> dict[str, Any]:
        return {
            "metrics": [m.to_json() for m in self.metrics],
            "front": list(self.front),
            "reference": [float(v) for v in self.reference],
            "hypervolume": self.hypervolume,
        }


def study_front(
    trials: Sequence[FrozenTrial],
    metrics: Sequence[Metric],
    reference: Sequence[float] | None = None,
) -> ParetoFront:
    """The Pareto front of the complete trials that report every metric (under a
    fidelity, of those that trained furthest: see :func:`furthest_trained`).

    ``reference`` is given in metric units (as the user reads them); by default it
    is :func:`reference_point` of the trials' losses.
    """
    signs = np.array([m.sign for m in metrics])
    done = furthest_trained(
        t
        for t in trials
        if t.state is TrialState.COMPLETE
        and t.values is not None
        and all(m.name in t.values for m in metrics)
    )
    losses = np.array(
        [[t.values[m.name] for m in metrics] for t in done if t.values is not None],
        dtype=float,
    ).reshape(len(done), len(metrics))
    losses = losses * signs
    if not done:
        return ParetoFront(tuple(metrics), (), losses, (), np.zeros(len(metrics)), 0.0)
    ref = (
        np.asarray(reference, dtype=float) * signs
        if reference is not None
        else reference_point(losses)
    )
    idx = front(losses)
    return ParetoFront(
        tuple(metrics),
        tuple(t.number for t in done),
        losses,
        tuple(done[i].number for i in idx),
        ref,
        hypervolume(losses[idx], ref),
    )
