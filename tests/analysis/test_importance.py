"""Parameter importance: fANOVA, the quick method and local sensitivity on known functions."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pytest

from hypertrail import Categorical, Float, FrozenTrial, Metric, Space, TrialState
from hypertrail.analysis.importance import (
    ImportanceResult,
    importance,
    sensitivity,
)

LOSS = Metric("loss", "minimize")
DUMMIES = ("x2", "x3", "x4", "x5")


def _trials(
    space: Space, f: Callable[[Mapping[str, Any]], float], n: int, seed: int = 0, key: str = "loss"
) -> list[FrozenTrial]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        config = space.sample(rng)
        out.append(FrozenTrial(i, TrialState.COMPLETE, config, {key: f(config)}))
    return out


def _mixed_space() -> Space:
    return Space(
        {**{f"x{i}": Float(0.0, 1.0) for i in range(6)}, "c": Categorical(["a", "b", "c"])}
    )


def _mixed(config: Mapping[str, Any]) -> float:
    """x0, x1 and c matter (shares about 0.45, 0.08, 0.47); x2..x5 do not."""
    x0, x1 = float(config["x0"]), float(config["x1"])
    return 10 * (x0 - 0.3) ** 2 + 4 * abs(x1 - 0.5) + (3.0 if config["c"] == "b" else 0.0)


@pytest.fixture(scope="module")
def mixed() -> tuple[Space, list[FrozenTrial]]:
    space = _mixed_space()
    return space, _trials(space, _mixed, 300)


@pytest.fixture(scope="module")
def mixed_fanova(mixed: tuple[Space, list[FrozenTrial]]) -> ImportanceResult:
    space, trials = mixed
    return importance(space, trials, LOSS, method="fanova", n_trees=32)


def _shares(result: ImportanceResult) -> dict[str, float]:
    return {p.name: p.share for p in result.params}


def test_fanova_finds_the_parameters_that_matter(mixed_fanova: ImportanceResult) -> None:
    result = mixed_fanova
    assert result.method == "fanova"
    assert result.n_trials == 300
    assert {p.name for p in result.params} == {"x0", "x1", "x2", "x3", "x4", "x5", "c"}
    assert {p.name for p in result.params[:3]} == {"x0", "x1", "c"}
    shares = _shares(result)
    assert all(shares[d] < 0.05 for d in DUMMIES)
    assert shares["x0"] > 0.3 and shares["c"] > 0.3  # true shares: 0.45 and 0.47
    assert all(0.0 <= p.share <= 1.0 and p.std >= 0.0 for p in result.params)
    assert sum(shares.values()) <= 1.0 + 1e-9
    assert all(p.trials == 300 and not p.conditional for p in result.params)
    assert [p.share for p in result.params] == sorted(
        (p.share for p in result.params), reverse=True
    )
    # An additive loss: every pair's interaction is small.
    assert result.interactions and all(i.share < 0.1 for i in result.interactions)


def test_quick_method_finds_the_same_parameters(mixed: tuple[Space, list[FrozenTrial]]) -> None:
    space, trials = mixed
    result = importance(space, trials, LOSS, method="quick")
    assert result.method == "quick"
    assert {p.name for p in result.params[:3]} == {"x0", "x1", "c"}
    shares = _shares(result)
    # x1's effect is V-shaped, invisible to a rank correlation; it must still be found.
    assert shares["x1"] > 5 * max(shares[d] for d in DUMMIES)
    assert sum(shares.values()) == pytest.approx(1.0)
    assert all(p.std == 0.0 for p in result.params)
    assert result.interactions == ()
    assert "quick" in result.note


def test_auto_uses_fanova_when_scikit_learn_is_installed(
    mixed: tuple[Space, list[FrozenTrial]], mixed_fanova: ImportanceResult
) -> None:
    space, trials = mixed
    assert importance(space, trials, LOSS, n_trees=32) == mixed_fanova


def test_a_pure_product_is_an_interaction_not_two_main_effects() -> None:
    space = Space({f"x{i}": Float(0.0, 1.0) for i in range(4)})
    trials = _trials(space, lambda c: (c["x0"] - 0.5) * (c["x1"] - 0.5), 300, seed=1)
    result = importance(space, trials, LOSS, method="fanova", n_trees=32)
    top = result.interactions[0]
    assert {top.a, top.b} == {"x0", "x1"}
    assert top.share > 0.3
    assert all(i.share < 0.05 for i in result.interactions[1:])
    assert all(p.share < 0.15 for p in result.params)
    assert len(result.interactions) == 6  # every pair of the 4 always-active parameters


def test_pairs_limits_the_interactions(mixed: tuple[Space, list[FrozenTrial]]) -> None:
    space, trials = mixed
    result = importance(space, trials, LOSS, method="fanova", n_trees=8, pairs=3)
    assert len(result.interactions) == 3
    assert {n for i in result.interactions for n in (i.a, i.b)} == {"x0", "x1", "c"}
    assert importance(space, trials, LOSS, n_trees=8, pairs=0).interactions == ()


def _conditional_space() -> Space:
    return Space(
        {
            "optimizer": Categorical(["adam", "sgd"]),
            "lr": Float(1e-4, 1e-1, log=True),
            "momentum": Float(0.0, 0.99, when="optimizer == 'sgd'"),
            "junk": Float(0.0, 1.0),
        }
    )


def _conditional(config: Mapping[str, Any]) -> float:
    lr_term = 0.5 * (math.log10(config["lr"]) + 2.5) ** 2
    if config["optimizer"] == "sgd":
        return lr_term + 4 * (float(config["momentum"]) - 0.8) ** 2
    return lr_term + 0.5


def test_conditional_parameter_is_rated_on_the_trials_where_it_is_active() -> None:
    space = _conditional_space()
    trials = _trials(space, _conditional, 300, seed=2)
    n_sgd = sum(t.config["optimizer"] == "sgd" for t in trials)
    assert 100 < n_sgd < 200
    result = importance(space, trials, LOSS, method="fanova", n_trees=32)
    by_name = {p.name: p for p in result.params}
    assert set(by_name) == {"optimizer", "lr", "momentum", "junk"}
    momentum = by_name["momentum"]
    assert momentum.conditional and momentum.trials == n_sgd
    assert momentum.share > 0.6  # among sgd trials, momentum explains about 0.83
    assert by_name["junk"].share < 0.05
    for name in ("optimizer", "lr", "junk"):
        assert not by_name[name].conditional and by_name[name].trials == 300
    assert all("momentum" not in (i.a, i.b) for i in result.interactions)
    # Over all trials lr explains about 0.28 and there is no lr x junk interaction; a
    # forest blind to momentum would fit momentum's variance with lr and junk instead.
    assert by_name["lr"].share > 0.15
    assert all(i.share < 0.05 for i in result.interactions)
    assert "conditional" in result.note and "always-active" in result.note
    quick = importance(space, trials, LOSS, method="quick")
    quick_momentum = next(p for p in quick.params if p.name == "momentum")
    assert quick_momentum.conditional and quick_momentum.trials == n_sgd
    assert quick.params[0].name == "momentum"


def test_parameter_active_in_too_few_trials_is_left_out_with_a_note() -> None:
    space = _conditional_space()
    trials = _trials(space, _conditional, 60, seed=3)
    sgd = [t for t in trials if t.config["optimizer"] == "sgd"][:3]
    adam = [t for t in trials if t.config["optimizer"] == "adam"]
    for method in ("fanova", "quick"):
        result = importance(space, adam + sgd, LOSS, method=method, n_trees=8)
        assert "momentum" not in {p.name for p in result.params}
        assert "fewer than 5 trials: momentum" in result.note


def test_a_maximized_metric_is_turned_into_a_loss(
    mixed: tuple[Space, list[FrozenTrial]], mixed_fanova: ImportanceResult
) -> None:
    space, _ = mixed
    score = Metric("score", "maximize")
    trials = _trials(space, lambda c: -_mixed(c), 300, key="score")
    result = importance(space, trials, score, method="fanova", n_trees=32)
    assert [p.name for p in result.params] == [p.name for p in mixed_fanova.params]
    for mine, theirs in zip(result.params, mixed_fanova.params, strict=True):
        assert mine.share == pytest.approx(theirs.share, rel=1e-6, abs=1e-9)
    # Reading the score as a loss would keep the best trials of the worst kind.
    wrong = importance(space, trials, Metric("score", "minimize"), max_trials=50, n_trees=8)
    right = importance(space, trials, score, max_trials=50, n_trees=8)
    assert wrong != right


def test_too_few_usable_trials_give_a_note_not_an_error() -> None:
    space = _mixed_space()
    trials = _trials(space, _mixed, 4)
    failed = [
        FrozenTrial(10 + i, TrialState.FAILED, t.config, None, error="boom")
        for i, t in enumerate(trials)
    ]
    running = [FrozenTrial(20, TrialState.RUNNING, trials[0].config)]
    other_metric = [FrozenTrial(30, TrialState.COMPLETE, trials[0].config, {"other": 1.0})]
    not_finite = [FrozenTrial(31, TrialState.COMPLETE, trials[0].config, {"loss": math.nan})]
    for method in ("auto", "fanova", "quick"):
        result = importance(
            space, trials + failed + running + other_metric + not_finite, LOSS, method=method
        )
        assert result.params == () and result.interactions == ()
        assert result.n_trials == 4
        assert "only 4 usable complete trials" in result.note
    assert importance(space, [], LOSS).params == ()
    assert sensitivity(space, trials, LOSS, trials[0].config) == []


def test_bad_arguments_are_rejected(mixed: tuple[Space, list[FrozenTrial]]) -> None:
    space, trials = mixed
    with pytest.raises(ValueError, match=r"'forest'.*auto, fanova, quick"):
        importance(space, trials, LOSS, method="forest")
    with pytest.raises(ValueError, match="pairs"):
        importance(space, trials, LOSS, pairs=-1)
    with pytest.raises(ValueError, match="n_trees"):
        importance(space, trials, LOSS, n_trees=0)


def test_same_seed_same_result_other_seed_other_forest(
    mixed: tuple[Space, list[FrozenTrial]], mixed_fanova: ImportanceResult
) -> None:
    space, trials = mixed
    again = importance(space, trials, LOSS, method="fanova", n_trees=32)
    assert again == mixed_fanova
    other = importance(space, trials, LOSS, method="fanova", n_trees=32, seed=1)
    assert _shares(other) != _shares(mixed_fanova)
    assert {p.name for p in other.params[:3]} == {"x0", "x1", "c"}


def test_large_studies_are_subsampled_keeping_the_best_trials() -> None:
    space = _mixed_space()
    trials = _trials(space, _mixed, 400, seed=4)
    result = importance(space, trials, LOSS, method="fanova", max_trials=120, n_trees=16)
    assert result.n_trials == 120
    assert "subsampled 120 of 400 trials" in result.note
    assert "best 30" in result.note
    assert {p.name for p in result.params[:3]} == {"x0", "x1", "c"}
    assert importance(space, trials, LOSS, method="fanova", max_trials=120, n_trees=16) == result
    # The subsample holds the best quarter of its budget and a seeded draw of the rest.
    from hypertrail.analysis.importance import _subsample

    loss = np.array([t.values["loss"] for t in trials if t.values])
    keep = _subsample(loss, 120, seed=0)
    assert len(set(keep.tolist())) == 120 and list(keep) == sorted(keep)
    assert set(np.argsort(loss)[:30].tolist()) <= set(keep.tolist())
    assert np.array_equal(keep, _subsample(loss, 120, seed=0))
    assert not np.array_equal(keep, _subsample(loss, 120, seed=1))
    # The quick method is cheap enough for every trial.
    assert importance(space, trials, LOSS, method="quick", max_trials=120).n_trials == 400


def test_result_round_trips_through_json(mixed_fanova: ImportanceResult) -> None:
    data = json.loads(json.dumps(mixed_fanova.to_json(), allow_nan=False))
    assert data["schema_version"] == 1
    assert ImportanceResult.from_json(data) == mixed_fanova
    with pytest.raises(ValueError, match="schema_version"):
        ImportanceResult.from_json({**data, "schema_version": 99})


def test_decomposition_matches_the_tree_evaluated_on_a_fine_grid() -> None:
    """The exact box arithmetic against brute force: the marginals of one tree's own
    predict function, averaged on a grid of cell midpoints."""
    from sklearn.tree import DecisionTreeRegressor

    from hypertrail.analysis.importance import _main_variance, _pair_variance, _tree

    rng = np.random.default_rng(5)
    x = rng.random((200, 3))
    y = np.sin(5 * x[:, 0]) + x[:, 1] * x[:, 2] + 0.1 * rng.normal(size=200)
    model = DecisionTreeRegressor(max_leaf_nodes=40, random_state=0).fit(x, y)
    tree = _tree(model, 3)
    m = 80
    axis = (np.arange(m) + 0.5) / m
    grid = np.stack(np.meshgrid(axis, axis, axis, indexing="ij"), axis=-1).reshape(-1, 3)
    f = model.predict(grid).reshape(m, m, m)
    assert tree.mean == pytest.approx(f.mean(), abs=0.02)
    assert tree.variance == pytest.approx(f.var(), rel=0.05)
    for j in range(3):
        others = tuple(k for k in range(3) if k != j)
        brute = f.mean(axis=others).var()
        assert _main_variance(tree, j) == pytest.approx(brute, rel=0.05, abs=1e-4)
    brute_pair = f.mean(axis=0).var()
    assert _pair_variance(tree, 1, 2) == pytest.approx(brute_pair, rel=0.05, abs=1e-4)
    assert _pair_variance(tree, 1, 2) > _main_variance(tree, 1) + _main_variance(tree, 2)


def test_sensitivity_around_the_best_config(mixed: tuple[Space, list[FrozenTrial]]) -> None:
    space, trials = mixed
    best = min(trials, key=lambda t: t.values["loss"] if t.values else math.inf)
    result = sensitivity(space, trials, LOSS, best.config, n_trees=32)
    by_name = {s.name: s for s in result}
    assert set(by_name) == set(space.names)
    assert [s.delta for s in result] == sorted((s.delta for s in result), reverse=True)
    assert {s.name for s in result[:3]} == {"x0", "x1", "c"}
    assert all(by_name[d].delta < 0.2 * by_name["x1"].delta for d in DUMMIES)
    assert by_name["c"].values == ["a", "b", "c"]
    assert by_name["c"].delta == pytest.approx(3.0, abs=1.0)  # c = "b" costs 3
    x0 = by_name["x0"]
    assert len(x0.values) == 11 and x0.values[0] == 0.0 and x0.values[-1] == 1.0
    assert len(x0.predicted) == 11
    assert int(np.argmin(x0.predicted)) in (2, 3, 4)  # the optimum is at x0 = 0.3
    assert all(s.delta >= 0.0 for s in result)


def test_sensitivity_reports_metric_values_and_follows_conditions() -> None:
    space = _conditional_space()
    trials = _trials(space, lambda c: -_conditional(c), 200, seed=6, key="score")
    score = Metric("score", "maximize")
    best = max(trials, key=lambda t: t.values["score"] if t.values else -math.inf)
    sgd = {**best.config, "optimizer": "sgd", "momentum": 0.8}
    result = {s.name: s for s in sensitivity(space, trials, score, sgd, n_trees=16)}
    assert set(result) == {"optimizer", "lr", "momentum", "junk"}
    assert all(v <= 0.0 for s in result.values() for v in s.predicted)  # scores are <= 0
    lr = result["lr"]
    assert lr.values[0] == pytest.approx(1e-4) and lr.values[5] == pytest.approx(10**-2.5)
    momentum = result["momentum"]
    assert momentum.predicted[0] < momentum.predicted[8]  # 0.0 is worse than 0.79
    assert result["optimizer"].values == ["adam", "sgd"]
    adam = {k: v for k, v in sgd.items() if k != "momentum"} | {"optimizer": "adam"}
    names = {s.name for s in sensitivity(space, trials, score, adam, n_trees=16)}
    assert names == {"optimizer", "lr", "junk"}


def test_tree_structured_benchmark_rates_each_branch_on_its_own_trials() -> None:
    from hypertrail.benchmarks import get_problem

    problem = get_problem("jenatton")
    trials = _trials(problem.space, problem.evaluate, 400, seed=7)
    result = importance(problem.space, trials, LOSS, method="fanova", n_trees=32)
    by_name = {p.name: p for p in result.params}
    assert set(by_name) == set(problem.space.names)
    assert not by_name["x1"].conditional and by_name["x1"].trials == 400
    branch = {
        "x4": ("x1", 0, "x2", 0),
        "x5": ("x1", 0, "x2", 1),
        "x6": ("x1", 1, "x3", 0),
        "x7": ("x1", 1, "x3", 1),
    }
    for name, (a, va, b, vb) in branch.items():
        n_active = sum(t.config[a] == va and t.config.get(b) == vb for t in trials)
        assert by_name[name].conditional and by_name[name].trials == n_active
        assert by_name[name].share > 0.2  # about 0.5 of its branch's variance
    for name in ("r8", "r9"):
        assert by_name[name].share > 0.2
    # Inside a branch, x2 (x3) only shifts the loss by 0.1: nearly no share.
    assert by_name["x2"].share < 0.05 and by_name["x3"].share < 0.05


def test_without_scikit_learn_auto_falls_back_to_quick(
    mixed: tuple[Space, list[FrozenTrial]], monkeypatch: pytest.MonkeyPatch
) -> None:
    import hypertrail.analysis.importance as module

    space, trials = mixed
    monkeypatch.setattr(module, "_sklearn_available", lambda: False)
    result = importance(space, trials, LOSS)
    assert result.method == "quick"
    assert "scikit-learn is not installed" in result.note
    with pytest.raises(ImportError, match="scikit-learn"):
        importance(space, trials, LOSS, method="fanova")
    assert sensitivity(space, trials, LOSS, trials[0].config) == []


def test_importing_the_module_loads_neither_scikit_learn_nor_scipy() -> None:
    code = (
        "import sys, hypertrail.analysis.importance; "
        "print(sorted(m for m in ('sklearn', 'scipy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_constant_loss_rates_every_parameter_zero() -> None:
    space = _mixed_space()
    trials = _trials(space, lambda c: 1.0, 20)
    for method in ("fanova", "quick"):
        result = importance(space, trials, LOSS, method=method, n_trees=4)
        assert len(result.params) == 7 and all(p.share == 0.0 for p in result.params)
        assert "the loss is the same in every trial" in result.note
        assert [p.name for p in result.params] == sorted(p.name for p in result.params)
