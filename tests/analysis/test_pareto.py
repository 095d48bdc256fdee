"""Pareto front and hypervolume, checked against brute force on random sets."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from hypertrail.analysis.pareto import front, hypervolume, reference_point, study_front
from hypertrail.trial import FrozenTrial, Metric, TrialState


def _brute_front(points: np.ndarray) -> list[int]:
    out = []
    for i, p in enumerate(points):
        if not any(np.all(q <= p) and np.any(q < p) for j, q in enumerate(points) if j != i):
            out.append(i)
    return out


def _brute_volume(points: np.ndarray, ref: np.ndarray) -> float:
    """Sum of the grid cells (cut at every coordinate) that some point dominates."""
    axes = [np.unique(np.append(points[:, d], ref[d])) for d in range(points.shape[1])]
    total = 0.0
    for cell in itertools.product(*(range(len(a) - 1) for a in axes)):
        low = np.array([axes[d][k] for d, k in enumerate(cell)])
        high = np.array([axes[d][k + 1] for d, k in enumerate(cell)])
        if np.any(np.all(points <= low, axis=1)):
            total += float(np.prod(high - low))
    return total


@pytest.mark.parametrize("m", [2, 3, 4])
@pytest.mark.parametrize("seed", range(4))
def test_front_and_volume_match_brute_force(m: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    points = rng.integers(0, 6, size=(12, m)).astype(float)  # ties on purpose
    assert front(points).tolist() == _brute_front(points)
    ref = reference_point(points)
    assert hypervolume(points, ref) == pytest.approx(_brute_volume(points, ref))


def test_volume_by_hand_and_edge_cases() -> None:
    square = np.array([[1.0, 1.0]])
    assert hypervolume(square, np.array([3.0, 2.0])) == pytest.approx(2.0)
    # A point outside the reference box adds nothing; an empty set has no volume.
    assert hypervolume(np.array([[4.0, 0.0]]), np.array([3.0, 2.0])) == 0.0
    assert hypervolume(np.empty((0, 2)), np.array([1.0, 1.0])) == 0.0
    with pytest.raises(ValueError, match="do not match"):
        hypervolume(np.ones((2, 3)), np.ones(2))
    with pytest.raises(ValueError, match="matrix"):
        front(np.ones(3))


def test_study_front_respects_goals_and_skips_incomplete() -> None:
    metrics = (Metric("accuracy", "maximize"), Metric("latency", "minimize"))

    def trial(n: int, acc: float, lat: float) -> FrozenTrial:
        return FrozenTrial(n, TrialState.COMPLETE, {}, {"accuracy": acc, "latency": lat})

    trials = [
        trial(0, 0.90, 10.0),
        trial(1, 0.95, 20.0),
        trial(2, 0.85, 15.0),  # worse than #0 on both
        FrozenTrial(3, TrialState.FAILED, {}),
        FrozenTrial(4, TrialState.COMPLETE, {}, {"accuracy": 0.99}),  # no latency
        trial(5, 0.80, 5.0),
    ]
    pf = study_front(trials, metrics, reference=[0.0, 30.0])
    assert pf.trials == (0, 1, 2, 5)
    assert pf.front == (0, 1, 5)
    # In losses: (-0.80, 5), (-0.90, 10), (-0.95, 20) against (0, 30).
    expected = 0.80 * 25 + 0.10 * 20 + 0.05 * 10
    assert pf.hypervolume == pytest.approx(expected)
    assert pf.to_json()["front"] == [0, 1, 5]
    assert study_front([], metrics).front == ()
