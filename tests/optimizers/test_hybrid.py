"""The hybrid optimizer, its split and its ablations."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from hypertrail import Categorical, Float, Int, Space, Study
from hypertrail.errors import OptimizerError
from hypertrail.history import History
from hypertrail.optimizers.ablations import NumericOnly, StructureOnly
from hypertrail.optimizers.base import Optimizer
from hypertrail.optimizers.hybrid import Hybrid, default_structure, sweep_stage
from hypertrail.optimizers.split import Split
from hypertrail.space.repeat import Repeat
from hypertrail.testing import OptimizerConformance
from hypertrail.trial import FrozenTrial, Metric, TrialState

METRICS = (Metric("loss", "minimize"),)


class TestHybrid(OptimizerConformance):
    history_sizes = (0, 1, 12, 40)

    def make_optimizer(self) -> Optimizer:
        return Hybrid(min_sweep=6, patience=2)


class TestHybridEvolutionCMAES(OptimizerConformance):
    def make_optimizer(self) -> Optimizer:
        return Hybrid(structure="evolution", numeric="cmaes", min_sweep=6, patience=2)


class TestStructureOnly(OptimizerConformance):
    def make_optimizer(self) -> Optimizer:
        return StructureOnly(numbers="random")


class TestNumericOnly(OptimizerConformance):
    def make_optimizer(self) -> Optimizer:
        return NumericOnly(n_startup=5)


def _nas_space() -> Space:
    return Space(
        {
            "family": Categorical(["mlp", "tree"]),
            "n_layers": Int(1, 3),
            "layers": Repeat(
                count="n_layers",
                max=3,
                item={"width": Int(16, 512, log=True), "act": Categorical(["relu", "tanh"])},
            ),
            "depth": Int(2, 12, when="family == 'tree'"),
            "lr": Float(1e-4, 1e-1, log=True),
            "l2": Float(1e-6, 1e-2, log=True, when="family == 'mlp'"),
        }
    )


def _loss(config: dict[str, Any]) -> float:
    """Best structure: mlp with 2 layers of relu; best numbers lr = 0.01, l2 = 1e-4."""
    base = 0.0 if config["family"] == "mlp" else 0.6
    base += 0.3 * abs(config["n_layers"] - 2)
    base += 0.1 * sum(config.get(f"layers.{i}.act") == "tanh" for i in range(3))
    base += (math.log10(config["lr"]) + 2.0) ** 2
    if "l2" in config:
        base += 0.5 * (math.log10(config["l2"]) + 4.0) ** 2
    return float(base)


def test_split_puts_choices_counts_and_condition_readers_in_the_structure() -> None:
    split = Split.of(_nas_space())
    assert "family" in split.structure and "n_layers" in split.structure
    assert "layers.0.act" in split.structure and "layers.2.act" in split.structure
    assert {"lr", "l2", "layers.0.width", "depth"} <= set(split.numeric)
    assert "depth" not in split.structure  # 11 values > small_int


def test_split_patterns_override_and_are_checked() -> None:
    space = _nas_space()
    split = Split.of(space, structure_params=["depth"], numeric_params=["layers.*.act"])
    assert "depth" in split.structure and "layers.1.act" in split.numeric
    with pytest.raises(OptimizerError, match="matches no searched parameter"):
        Split.of(space, structure_params=["nope*"])
    with pytest.raises(OptimizerError, match="both structural and numeric"):
        Split.of(space, structure_params=["lr"], numeric_params=["l*"])
    with pytest.raises(OptimizerError, match="matches no searched"):
        Hybrid(structure_params=["missing"]).check(space)


def test_bad_engines_are_refused_before_any_trial() -> None:
    with pytest.raises(OptimizerError, match="unknown optimizer 'gpp'"):
        Hybrid(numeric="gpp")
    with pytest.raises(OptimizerError, match="cannot be an engine"):
        Hybrid(structure="hybrid")
    with pytest.raises(OptimizerError, match="unknown option"):
        Study.create(
            "s", _nas_space(), metrics="loss", optimizer={"name": "hybrid", "structur": "tpe"}
        )
    with pytest.raises(ValueError, match="max_sweep"):
        Hybrid(min_sweep=10, max_sweep=5)


def _history(space: Space, losses: list[float], rng_seed: int = 0) -> History:
    rng = np.random.default_rng(rng_seed)
    trials = tuple(
        FrozenTrial(i, TrialState.COMPLETE, space.canonical(space.sample(rng)), {"loss": v})
        for i, v in enumerate(losses)
    )
    return History(0, METRICS, trials, 2 * len(trials))


def test_sweep_ends_on_a_stall_not_a_count() -> None:
    space = _nas_space()
    improving = _history(space, [10.0 - i for i in range(10)])
    assert sweep_stage(improving, 6, 3, 24)[0] == 1  # still improving every trial
    stalled = _history(space, [5.0, 4.0, 3.0, 3.5, 3.2, 3.9, 4.0, 3.1])
    stage, evidence = sweep_stage(stalled, 6, 3, 24)
    assert stage == 2 and evidence["switched_after"] == 6 and evidence["last_gain_at"] == 3
    capped = _history(space, [30.0 - i for i in range(30)])
    stage, evidence = sweep_stage(capped, 6, 3, 24)
    assert stage == 2 and evidence["why"] == "sweep cap"


def test_decisions_are_recorded_with_their_evidence() -> None:
    optimizer = {"name": "hybrid", "top_structures": 2}  # pinned searches too
    study = Study.create("s", _nas_space(), metrics="loss", optimizer=optimizer, seed=3)
    study.optimize(lambda t: _loss(dict(t.config)), n_trials=40)
    reasons = [t.reason for t in study.trials]
    assert reasons[0].startswith("hybrid sweep")
    arms = {r.split(" ")[1] for r in reasons}
    assert {"sweep", "explore", "refine"} <= arms
    asked = [e for e in study.storage.read(study.name) if e.kind == "trial.asked"]
    decisions = [e.data["extras"]["hybrid"] for e in asked]
    stage_two = [d for d in decisions if d["stage"] == 2]
    assert stage_two, "the sweep never ended"
    first = stage_two[0]
    assert first["sweep"]["switched_after"] >= 8
    assert 0.2 <= first["p_explore"] <= 0.8
    assert set(first["recent"]) == {"explore", "refine"}
    assert "family" in first["structure"]
    pinned = [t for t in study.trials if "best of structure #" in t.reason]
    assert pinned and all(f"#{t.parent})" in t.reason for t in pinned)


def test_hybrid_finds_the_best_structure_and_beats_random() -> None:
    def best(optimizer: str, seed: int) -> float:
        study = Study.create("s", _nas_space(), metrics="loss", optimizer=optimizer, seed=seed)
        study.optimize(lambda t: _loss(dict(t.config)), n_trials=50)
        assert study.best is not None and study.best.values is not None
        return study.best.values["loss"]

    hybrid = [best("hybrid", s) for s in range(3)]
    random = [best("random", s) for s in range(3)]
    assert float(np.mean(hybrid)) < 0.5 * float(np.mean(random))
    assert float(np.mean(hybrid)) < 0.25  # the mlp family, near lr = 0.01


def test_allocator_moves_budget_to_the_arm_that_pays() -> None:
    """When refining keeps paying and exploring does not, refining gets more trials."""
    space = _nas_space()
    hybrid = Hybrid()
    rng = np.random.default_rng(0)
    trials = []
    loss = 10.0
    for i in range(30):
        arm = "refine" if i % 2 else "explore"
        if i >= 10 and arm == "refine":
            loss -= 0.5
        value = loss if arm == "refine" or i < 10 else 20.0
        reason = "hybrid sweep: sobol" if i < 10 else f"hybrid {arm} [x]: test"
        trials.append(
            FrozenTrial(
                i,
                TrialState.COMPLETE,
                space.canonical(space.sample(rng)),
                {"loss": value},
                reason=reason,
            )
        )
    stats = hybrid._arm_stats(History(0, METRICS, tuple(trials), 60))
    assert stats["refine"].rate > 5 * stats["explore"].rate
    assert stats["refine"].trials == stats["explore"].trials == 10


def test_structure_only_keeps_numbers_at_defaults() -> None:
    space = _nas_space()
    study = Study.create("s", space, metrics="loss", optimizer="structure-only", seed=1)
    study.optimize(lambda t: _loss(dict(t.config)), n_trials=15)
    defaults = {n: space[n].domain.default_value() for n in ("lr", "l2")}
    for trial in study.trials:
        assert trial.config["lr"] == defaults["lr"]
        if "l2" in trial.config:
            assert trial.config["l2"] == defaults["l2"]
    assert len({trial.config["family"] for trial in study.trials}) == 2


def test_numeric_only_keeps_the_default_structure() -> None:
    space = _nas_space()
    split = Split.of(space)
    structure = default_structure(space, split)
    assert structure["family"] == "mlp" and structure["n_layers"] == 2
    study = Study.create("s", space, metrics="loss", optimizer="numeric-only", seed=1)
    study.optimize(lambda t: _loss(dict(t.config)), n_trials=15)
    for trial in study.trials:
        assert split.structure_of(trial.config) == structure
    assert len({trial.config["lr"] for trial in study.trials}) == 15


def test_numeric_engine_other_than_gp_works_per_structure() -> None:
    study = Study.create(
        "s",
        _nas_space(),
        metrics="loss",
        optimizer={"name": "hybrid", "structure": "evolution", "numeric": "cmaes"},
        seed=2,
    )
    study.optimize(lambda t: _loss(dict(t.config)), n_trials=40)
    refined = [t for t in study.trials if t.reason.startswith("hybrid refine")]
    assert refined and all("CMA" in t.reason or "cma" in t.reason for t in refined)


def test_same_seed_same_study_whatever_the_timing() -> None:
    """Costs default to one per trial, so the clock never reaches a proposal."""
    import time

    def run(delay: float) -> list[dict[str, Any]]:
        study = Study.create("s", _nas_space(), metrics="loss", optimizer="hybrid", seed=5)

        def objective(trial: Any) -> float:
            time.sleep(delay * (trial.number % 3))
            return _loss(dict(trial.config))

        study.optimize(objective, n_trials=30)
        return [dict(t.config) for t in study.trials]

    assert run(0.0) == run(0.002)


def test_wall_time_or_reported_cost_divides_the_gain() -> None:
    space = _nas_space()
    rng = np.random.default_rng(0)
    trials = []
    for i in range(12):
        arm = "refine" if i % 2 else "explore"
        trials.append(
            FrozenTrial(
                i,
                TrialState.COMPLETE,
                space.canonical(space.sample(rng)),
                {"loss": 10.0 - i},  # every trial improves by 1
                reason=f"hybrid {arm} [x]: test",
                duration=4.0 if arm == "explore" else 1.0,
                extras={"gpu_hours": 1.0 if arm == "explore" else 3.0},
            )
        )
    history = History(0, METRICS, tuple(trials), 24)
    per_trial = Hybrid()._arm_stats(history)
    assert per_trial["explore"].rate == pytest.approx(per_trial["refine"].rate, rel=0.2)
    by_clock = Hybrid(cost="wall_time")._arm_stats(history)
    assert by_clock["refine"].rate > 2 * by_clock["explore"].rate
    by_gpu = Hybrid(cost="gpu_hours")._arm_stats(history)
    assert by_gpu["explore"].rate > 2 * by_gpu["refine"].rate


def test_engines_are_swapped_from_a_plan_and_bad_ones_named_there(tmp_path: Any) -> None:
    from hypertrail.errors import ConfigError
    from hypertrail.plan import plan_from_dict

    base = {
        "name": "p",
        "space": {
            "params": {
                "k": {"type": "categorical", "choices": ["a", "b"]},
                "x": {"type": "float", "low": 0.0, "high": 1.0},
            }
        },
        "objective": {"command": "echo {x}"},
        "metrics": {"loss": "minimize"},
        "budget": {"trials": 3},
    }
    good = {"name": "hybrid", "structure": "evolution", "numeric": "cmaes"}
    plan = plan_from_dict({**base, "optimizer": good}, tmp_path)
    assert plan.optimizer == good
    with pytest.raises(ConfigError) as bad:
        plan_from_dict({**base, "optimizer": {"name": "hybrid", "numeric": "gpp"}}, tmp_path)
    (issue,) = bad.value.issues
    assert issue.path == "optimizer" and "numeric: unknown optimizer 'gpp'" in issue.message


def _svc_like() -> Space:
    return Space(
        {
            "kernel": Categorical(["linear", "rbf", "poly"]),
            "degree": Int(2, 4, when="kernel == 'poly'"),
            "C": Float(1e-3, 1e3, log=True),
            "gamma": Float(1e-4, 1.0, log=True, when="kernel != 'linear'"),
        }
    )


def _svc_loss(config: dict[str, Any]) -> float:
    base = {"linear": 0.3, "rbf": 0.0, "poly": 0.2}[config["kernel"]]
    base += 0.05 * abs(config.get("degree", 2) - 2)
    base += 0.1 * (math.log10(config["C"]) - 1.0) ** 2
    return float(base + 0.1 * (math.log10(config.get("gamma", 1e-2)) + 2.0) ** 2)


def test_split_counts_structures_through_conditions() -> None:
    space = _svc_like()
    split = Split.of(space)
    assert split.structure == ("kernel", "degree")
    assert split.count(space) == 5  # linear, rbf, poly x 3 degrees
    assert split.count(space, cap=4) is None
    # Repeated blocks too: 2 families x (2 + 4 + 8 activations for 1, 2, 3 layers).
    assert Split.of(_nas_space()).count(_nas_space()) == 28


def test_exploring_stops_once_every_structure_of_a_small_space_was_seen() -> None:
    def decisions(**options: Any) -> list[dict[str, Any]]:
        study = Study.create(
            "s", _svc_like(), metrics="loss", optimizer={"name": "hybrid", **options}, seed=1
        )
        study.optimize(lambda t: _svc_loss(dict(t.config)), n_trials=45)
        asked = [e for e in study.storage.read(study.name) if e.kind == "trial.asked"]
        return [
            e.data["extras"]["hybrid"] for e in asked if e.data["extras"]["hybrid"]["stage"] == 2
        ]

    stage_two = decisions()
    exhausted = [d for d in stage_two if d["structures"]["seen"] == d["structures"]["total"] == 5]
    assert exhausted, "every structure should have been tried within 45 trials"
    assert all(d["arm"] == "refine" and d["p_explore"] == 0.0 for d in exhausted)
    assert all(d["p_explore"] > 0.0 for d in stage_two if d["structures"]["seen"] < 5)
    # exhaust: 0 explores to the end, and records no structure count.
    free = decisions(exhaust=0)
    assert all("structures" not in d and d["p_explore"] >= 0.1 for d in free)
    assert sum(d["arm"] == "explore" for d in free[-len(exhausted) :]) >= 1
