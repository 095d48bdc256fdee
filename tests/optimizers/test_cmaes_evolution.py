"""CMA-ES and regularized evolution: the conformance suite and their specifics."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest

from hypertrail import Categorical, Float, Int, OptimizerError, Ordinal, Repeat, Space, Study
from hypertrail.history import History
from hypertrail.optimizers.base import OPTIMIZERS, Optimizer
from hypertrail.optimizers.cmaes import CMAES
from hypertrail.optimizers.evolution import Evolution
from hypertrail.replay import verify
from hypertrail.testing import OptimizerConformance, conformance_spaces
from hypertrail.testing.optimizers import make_history
from hypertrail.trial import FrozenTrial, Metric, TrialState

METRICS = (Metric("loss", "minimize"),)


def _history(
    space: Space, trials: Sequence[tuple[dict[str, Any], TrialState, float | None]]
) -> History:
    """A history from (config, state, loss) triples, numbered in order."""
    frozen = tuple(
        FrozenTrial(
            i,
            state,
            space.canonical(config),
            values={"loss": loss} if loss is not None else None,
        )
        for i, (config, state, loss) in enumerate(trials)
    )
    return History(seed=5, metrics=METRICS, trials=frozen, cursor=2 * len(frozen))


def _sphere(trial: Any) -> float:
    return float(sum((trial.config[f"x{i}"] - 1.0) ** 2 for i in range(5)))


# --- CMA-ES ---------------------------------------------------------------------------


class TestCMAES(OptimizerConformance):
    def make_optimizer(self) -> Optimizer:
        return CMAES()


class TestCMAESSmallGenerations(OptimizerConformance):
    """popsize 4: the conformance histories span many generations, pending ones too."""

    history_sizes = (0, 2, 12, 40)

    def make_optimizer(self) -> Optimizer:
        return CMAES(popsize=4, categorical_explore=0.5)


def test_cmaes_is_registered_and_options_are_checked() -> None:
    assert OPTIMIZERS.get("cmaes") is CMAES
    for bad in ({"popsize": 3}, {"sigma0": 0.0}, {"start": "corner"}, {"margin": 0.7}):
        with pytest.raises(ValueError):
            CMAES(**bad)
    with pytest.raises(OptimizerError, match="popsize"):
        Study.create("c", Space({"x": Float(0.0, 1.0)}), optimizer={"name": "cmaes", "popsize": 0})


def test_cmaes_refuses_spaces_without_numeric_parameters() -> None:
    space = Space({"c": Categorical(["a", "b"]), "d": Categorical([True, False])})
    with pytest.raises(OptimizerError, match="numeric"):
        Study.create("c", space, optimizer="cmaes")


def test_cmaes_beats_random_on_a_sphere() -> None:
    # A sanity check that the distribution adapts, not a benchmark (benchmarks/).
    space = Space({f"x{i}": Float(-5.0, 5.0) for i in range(5)})

    def mean_best(optimizer: str) -> float:
        bests = []
        for seed in range(6):
            study = Study.create("s", space, optimizer=optimizer, seed=seed)
            study.optimize(_sphere, n_trials=150)
            value = study.best.value
            assert value is not None
            bests.append(value)
        return float(np.mean(bests))

    assert mean_best("cmaes") < 0.2 * mean_best("random")


def test_cmaes_on_a_mixed_integer_space() -> None:
    space = Space({"x": Float(-2.0, 2.0), "k": Int(0, 20), "b": Ordinal([8, 16, 32, 64])})

    def objective(trial: Any) -> float:
        c = trial.config
        return float((c["x"] - 0.5) ** 2 + (c["k"] - 7) ** 2 + (np.log2(c["b"]) - 4) ** 2)

    for seed in range(3):
        study = Study.create("m", space, optimizer={"name": "cmaes"}, seed=seed)
        study.optimize(objective, n_trials=120)
        best = study.best
        assert best.config["k"] == 7 and best.config["b"] == 16, best.config
        assert best.value is not None and best.value < 0.05
        assert all(isinstance(t.config["k"], int) for t in study.trials)
        assert study.trials[-1].reason.startswith("CMA-ES gen ")


def test_cmaes_state_does_not_diverge_on_integers() -> None:
    # CMAwM learns from the continuous point it sampled, not the integer it became.
    # Telling it the integer's cell centre instead feeds it steps stretched by the
    # margin factor A; with categorical noise on top, that made this setup blow up
    # (NaN state) on two seeds of four. The distribution must keep shrinking instead.
    space = Space(
        {
            "x": Float(0.0, 1.0),
            "n": Int(1, 8),
            "kind": Categorical(["a", "b"]),
            "b": Ordinal([1, 2, 4]),
        }
    )

    def objective(trial: Any) -> float:
        c = trial.config
        return float((c["x"] - 0.3) ** 2 + (c["n"] - 3) ** 2 + (c["kind"] != "b") + (c["b"] != 2))

    for seed in range(4):
        study = Study.create("d", space, optimizer="cmaes", seed=seed)
        study.optimize(objective, n_trials=400)
        sigmas = [float(re.findall(r"sigma=([0-9.e+-]+)", t.reason)[0]) for t in study.trials]
        assert sigmas[-1] < 0.01 and max(sigmas[200:]) < 0.05, seed
        assert study.best.value is not None and study.best.value < 1e-6, seed


def test_cmaes_cache_never_changes_a_result() -> None:
    space = conformance_spaces()["flat"]
    history = make_history(space, 30, seed=4)
    shared = CMAES(popsize=4)
    first = shared.propose(space, history, np.random.default_rng(11))[0]
    for seed in range(6):  # fill the cache with other studies and other prefixes
        shared.propose(
            space, make_history(space, 10 + 5 * seed, seed=seed), np.random.default_rng(0)
        )
        shared.propose(
            conformance_spaces()["repeat"],
            make_history(conformance_spaces()["repeat"], 25, seed=seed),
            np.random.default_rng(0),
        )
    again = shared.propose(space, history, np.random.default_rng(11))[0]
    fresh = CMAES(popsize=4).propose(space, history, np.random.default_rng(11))[0]
    assert first.config == again.config == fresh.config
    assert first.reason == again.reason == fresh.reason
    # a longer history that extends the cached one replays the same as from scratch
    longer = make_history(space, 38, seed=4)
    assert [p.config for p in shared.propose(space, longer, np.random.default_rng(3), 3)] == [
        p.config for p in CMAES(popsize=4).propose(space, longer, np.random.default_rng(3), 3)
    ]


def test_cmaes_generations_follow_trial_numbers() -> None:
    space = Space({"x": Float(0.0, 1.0), "y": Float(0.0, 1.0)})
    rng = np.random.default_rng(0)
    rows: list[tuple[dict[str, Any], TrialState, float | None]] = []
    for i in range(8):  # generation 0 complete, generation 1 still has a running trial
        config = space.sample(rng)
        running = i == 5
        rows.append(
            (
                config,
                TrialState.RUNNING if running else TrialState.COMPLETE,
                None if running else float(i),
            )
        )
    proposals = CMAES(popsize=4).propose(
        space, _history(space, rows), np.random.default_rng(1), n=2
    )
    assert [p.reason.split(" (")[0] for p in proposals] == ["CMA-ES gen 2", "CMA-ES gen 2"]
    assert all("1 earlier gen pending" in p.reason for p in proposals)


def test_cmaes_failed_trial_is_told_as_the_worst_of_its_generation() -> None:
    space = Space({"x": Float(0.0, 1.0), "y": Float(0.0, 1.0)})
    rng = np.random.default_rng(2)
    configs = [space.sample(rng) for _ in range(4)]
    losses = [0.3, 0.1, 0.2, 0.4]
    failed: list[tuple[dict[str, Any], TrialState, float | None]] = [
        (c, TrialState.COMPLETE, v) for c, v in zip(configs, losses, strict=True)
    ]
    failed[1] = (configs[1], TrialState.FAILED, None)
    worst = [(c, TrialState.COMPLETE, v) for c, v in zip(configs, losses, strict=True)]
    worst[1] = (configs[1], TrialState.COMPLETE, 9.0)
    a = CMAES(popsize=4).propose(space, _history(space, failed), np.random.default_rng(7), 3)
    b = CMAES(popsize=4).propose(space, _history(space, worst), np.random.default_rng(7), 3)
    assert [p.config for p in a] == [p.config for p in b]


def test_cmaes_generation_of_failures_teaches_nothing() -> None:
    space = Space({"x": Float(0.0, 1.0), "y": Float(0.0, 1.0)})
    rng = np.random.default_rng(3)
    rows = [(space.sample(rng), TrialState.FAILED, None) for _ in range(4)]
    after = CMAES(popsize=4).propose(space, _history(space, rows), np.random.default_rng(9))[0]
    before = CMAES(popsize=4).propose(space, _history(space, []), np.random.default_rng(9))[0]
    assert after.config == before.config


def test_cmaes_copies_categoricals_from_the_best_trial() -> None:
    space = Space(
        {
            "kind": Categorical(["a", "b", "c"]),
            "x": Float(0.0, 1.0),
            "m": Float(0.0, 1.0, when="kind == 'b'"),
        }
    )
    study = Study.create(
        "c", space, optimizer={"name": "cmaes", "categorical_explore": 0.0}, seed=2
    )
    study.optimize(lambda t: (t.config["kind"] != "b") + (t.config["x"] - 0.2) ** 2, n_trials=20)
    assert study.best.config["kind"] == "b"
    after = [t for t in study.trials if t.number > study.best.number]
    assert after and all(t.config["kind"] == "b" and "m" in t.config for t in after)


def test_cmaes_replays_with_pending_trials_out_of_order() -> None:
    space = Space({"x": Float(-1.0, 1.0), "k": Int(1, 6), "c": Categorical(["a", "b"])})
    study = Study.create("p", space, optimizer={"name": "cmaes", "popsize": 4}, seed=8)
    rng = np.random.default_rng(0)
    pending = []
    for _ in range(40):  # three "workers": ask ahead, tell in a shuffled order
        pending.append(study.ask())
        if len(pending) == 3:
            rng.shuffle(pending)
            trial = pending.pop()
            if trial.number % 9 == 4:
                study.fail(trial, "boom")
            else:
                study.tell(trial, (trial.config["x"] - 0.2) ** 2 + trial.config["k"])
    assert any("pending" in t.reason for t in study.trials)
    report = verify(study.storage, "p")
    assert report.ok and report.checked == 40


# --- evolution ------------------------------------------------------------------------


class TestEvolution(OptimizerConformance):
    def make_optimizer(self) -> Optimizer:
        return Evolution(population_size=5, sample_size=3)


class TestEvolutionDefaults(OptimizerConformance):
    history_sizes = (0, 12, 40)

    def make_optimizer(self) -> Optimizer:
        return Evolution()


def test_evolution_is_registered_and_options_are_checked() -> None:
    assert OPTIMIZERS.get("evolution") is Evolution
    for bad in (
        {"population_size": 0},
        {"population_size": 4, "sample_size": 5},
        {"mutation_scale": 0.0},
        {"extra_mutation_prob": 1.0},
    ):
        with pytest.raises(ValueError):
            Evolution(**bad)
    with pytest.raises(OptimizerError, match="sample_size"):
        Study.create(
            "e", Space({"x": Float(0.0, 1.0)}), optimizer={"name": "evolution", "sample_size": 50}
        )


def test_evolution_starts_at_random_until_the_population_is_complete() -> None:
    space = conformance_spaces()["flat"]
    history = make_history(space, 6, with_failures=False)
    proposal = Evolution(population_size=10).propose(space, history, np.random.default_rng(0))[0]
    assert proposal.parent is None and proposal.reason == "evolution init: random (6/10 complete)"


def test_evolution_parent_is_a_completed_member_of_the_population() -> None:
    space = conformance_spaces()["flat"]
    optimizer = Evolution(population_size=6, sample_size=2)
    for seed in range(5):
        history = make_history(space, 40, seed=seed)  # with failures and a running trial
        members = {t.number for t in optimizer.population(history)}
        assert len(members) == 6 and all(
            history.trials[n].state is TrialState.COMPLETE for n in members
        )
        for proposal in optimizer.propose(space, history, np.random.default_rng(seed), n=4):
            assert proposal.parent in members
            assert (
                proposal.reason.endswith(f"from #{proposal.parent}")
                or "newly active" in proposal.reason
            )


def test_evolution_population_ages_out_old_trials() -> None:
    space = Space({"x": Float(0.0, 1.0)})
    rows: list[tuple[dict[str, Any], TrialState, float | None]] = [
        ({"x": 0.5}, TrialState.COMPLETE, 0.0)
    ]
    rows += [({"x": 0.1 + i / 100}, TrialState.COMPLETE, 1.0 + i) for i in range(10)]
    history = _history(space, rows)
    optimizer = Evolution(population_size=10, sample_size=10)
    assert 0 not in {t.number for t in optimizer.population(history)}  # best, but oldest
    assert optimizer.propose(space, history, np.random.default_rng(0))[0].parent == 1


def test_evolution_reason_names_the_mutated_parameters() -> None:
    space = conformance_spaces()["repeat"]
    history = make_history(space, 40, seed=3)
    proposals = Evolution(population_size=8, sample_size=3).propose(
        space, history, np.random.default_rng(4), n=20
    )
    for proposal in proposals:
        match = re.fullmatch(r"mutated (.+) from #(\d+)( \(\d+ newly active\))?", proposal.reason)
        assert match, proposal.reason
        named = match.group(1).split(", ")
        parent = history.trials[int(match.group(2))].config
        child = proposal.config
        assert int(match.group(2)) == proposal.parent
        for name in named:
            assert child[name] != parent[name], (name, proposal.reason)
        for name in child:  # everything else kept, or newly active
            if name not in named and name in parent:
                assert child[name] == parent[name], (name, proposal.reason)
        assert bool(match.group(3)) == any(name not in parent for name in child)


def test_evolution_keeps_repeat_blocks_valid() -> None:
    space = Space(
        {
            "n_layers": Int(1, 4),
            "layers": Repeat(
                count="n_layers",
                max=4,
                item={
                    "width": Int(16, 512, log=True),
                    "act": Categorical(["relu", "tanh", "gelu"]),
                    "dropout": Float(0.0, 0.5, when="act != 'gelu'"),
                },
            ),
            "lr": Float(1e-4, 1e-1, log=True),
        },
        constraints=["n_layers <= 2 or lr < 0.01"],
    )

    def objective(trial: Any) -> float:
        c = trial.config
        widths = [c[f"layers.{i}.width"] for i in range(c["n_layers"])]
        return float(abs(c["n_layers"] - 3) + sum(abs(np.log2(w) - 6) for w in widths) / 10)

    study = Study.create(
        "r", space, optimizer={"name": "evolution", "population_size": 10, "sample_size": 3}, seed=3
    )
    study.optimize(objective, n_trials=120)  # Study refuses any invalid proposal
    parents = {t.number: t.parent for t in study.trials if t.parent is not None}
    children = [t for t in study.trials if t.number in parents]
    assert len(children) > 80

    def layers_of_parent(child: FrozenTrial) -> Any:
        return study.trials[parents[child.number]].config["n_layers"]

    assert any(t.config["n_layers"] != layers_of_parent(t) for t in children)
    grown = [t for t in children if t.config["n_layers"] > layers_of_parent(t)]
    assert grown and all("newly active" in t.reason for t in grown)
    for trial in study.trials:
        assert not space.problems(trial.config)
    assert study.best.config["n_layers"] == 3


def test_evolution_does_not_repeat_asked_configurations() -> None:
    space = Space({"a": Int(0, 3), "b": Categorical(["x", "y", "z"]), "c": Ordinal([1, 2, 4])})
    study = Study.create(
        "u", space, optimizer={"name": "evolution", "population_size": 4, "sample_size": 2}, seed=1
    )
    for _ in range(30):  # three workers: two trials always running
        trials = [study.ask() for _ in range(3)]
        for trial in trials[:1]:
            study.tell(trial, float(trial.config["a"]))
        for trial in trials[1:]:
            study.tell(trial, float(trial.config["a"]) + 0.5)
    configs = [tuple(sorted(t.config.items())) for t in study.trials if t.parent is not None]
    assert len(configs) == len(set(configs))
    assert verify(study.storage, "u").ok


def test_evolution_ignores_running_and_failed_trials() -> None:
    space = Space({"x": Float(0.0, 1.0), "k": Int(1, 5)})
    rng = np.random.default_rng(0)
    rows: list[tuple[dict[str, Any], TrialState, float | None]] = []
    for i in range(30):
        state = [TrialState.COMPLETE, TrialState.FAILED, TrialState.RUNNING][i % 3]
        rows.append((space.sample(rng), state, float(i) if state is TrialState.COMPLETE else None))
    history = _history(space, rows)
    proposals = Evolution(population_size=5, sample_size=5).propose(
        space, history, np.random.default_rng(1), n=5
    )
    assert {p.parent for p in proposals} == {15}  # the best of the last five completed
