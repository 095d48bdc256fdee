"""Multi-fidelity schedulers: rungs, promotions, brackets, checkpoints, stopping,
replay and resume, on real studies."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from tests import _objectives

from hypertrail import Float, Space, Study
from hypertrail.errors import OptimizerError, StudyError, TrialStateError
from hypertrail.history import History
from hypertrail.optimizers.base import Optimizer
from hypertrail.replay import verify
from hypertrail.schedulers.base import Fidelity, fidelity_cost, rung_trials
from hypertrail.testing import OptimizerConformance
from hypertrail.trial import FrozenTrial, TrialState

SPACE = Space({"x": Float(0.0, 1.0), "y": Float(0.0, 1.0)})
EPOCHS = {"name": "epochs", "min": 1, "max": 27, "eta": 3}


def _epochs(trial: FrozenTrial) -> float:
    assert trial.fidelity is not None
    return trial.fidelity


def _parent(trials: list[FrozenTrial], trial: FrozenTrial) -> FrozenTrial:
    assert trial.parent is not None
    return trials[trial.parent]


def _study(tmp_path: Path, scheduler: str, name: str = "mf", **options: Any) -> Study:
    spec = {"name": scheduler, "fidelity": EPOCHS, **options}
    return Study.create(
        name,
        SPACE,
        storage=f"sqlite:///{tmp_path / 'mf.db'}",
        seed=4,
        optimizer=spec,
        load_if_exists=True,
        metrics="loss",
    )


def test_rungs_and_fidelity_checks() -> None:
    assert Fidelity("epochs", 1, 81, 3).rungs() == [1, 3, 9, 27, 81]
    assert Fidelity("epochs", 1, 100, 3).rungs() == [1, 4, 11, 33, 100]
    assert Fidelity("data", 0.1, 1.0, 2, integer=False).rungs() == pytest.approx(
        [0.125, 0.25, 0.5, 1.0]
    )
    assert Fidelity.from_spec({"name": "data", "min": 0.1, "max": 1.0}).integer is False
    cases: list[tuple[Any, str]] = [
        ({"name": "e", "min": 5, "max": 1}, "0 < min < max"),
        ({"name": "e", "min": 1, "max": 2, "eta": 3}, "one rung"),
        ({"min": 1, "max": 9}, "needs a name"),
        ({"name": "e", "min": 1, "max": 9, "eta": 1}, "above 1"),
        ({"name": "e", "min": 1, "max": 9, "step": 2}, "unknown fidelity keys"),
        ({"name": "e", "min": "1", "max": 9}, "must be a number"),
    ]
    for bad, words in cases:
        with pytest.raises(ValueError, match=words):
            Fidelity.from_spec(bad)
    with pytest.raises(OptimizerError, match="needs a fidelity"):
        Study.create("x", SPACE, storage="memory", optimizer="asha")
    with pytest.raises(OptimizerError, match="cannot wrap another scheduler"):
        Study.create(
            "x",
            SPACE,
            storage="memory",
            optimizer={"name": "asha", "fidelity": EPOCHS, "optimizer": "hyperband"},
        )
    with pytest.raises(OptimizerError, match=r"unknown optimizer .tpee."):
        Study.create(
            "x",
            SPACE,
            storage="memory",
            optimizer={"name": "asha", "fidelity": EPOCHS, "optimizer": "tpee"},
        )


def _check_promotions(trials: list[FrozenTrial], levels: list[int], eta: int) -> None:
    """Every promotion repeats its parent's configuration one rung up, and the parent
    was in the top 1/eta of its rung among the trials that had ended when asked."""
    for t in trials:
        assert t.fidelity == levels[t.rung or 0]
        if t.parent is None:
            continue
        parent = trials[t.parent]
        assert parent.config == t.config and t.rung == (parent.rung or 0) + 1
        peers = [
            p
            for p in trials[: t.number]
            if p.rung == parent.rung
            and p.finished
            and p.finished <= t.started
            and p.tags["fidelity"]["bracket"] == parent.tags["fidelity"]["bracket"]
        ]
        better = [p for p in peers if (p.value or math.inf) < (parent.value or math.inf)]
        assert len(better) < max(1, len(peers) // eta), (t.number, len(better), len(peers))


def test_asha_promotes_the_top_third_and_checkpoints_carry_over(tmp_path: Path) -> None:
    study = _study(tmp_path, "asha")
    study.optimize(_objectives.learning_curve, n_trials=40)
    trials = study.trials
    levels = [1, 3, 9, 27]
    _check_promotions(trials, levels, 3)
    counts = Counter(t.rung for t in trials)
    assert counts[0] > counts[1] > counts[2] >= 1
    for t in trials:
        extras = t.extras
        assert extras["fidelity_seen"] == t.fidelity  # the objective saw its fidelity
        # A promotion continues from the checkpoint its parent's run saved.
        expected = trials[t.parent].fidelity if t.parent is not None else 0
        assert extras["resumed_from"] == expected
        assert t.reason.startswith("asha: ")
    promoted = [t for t in trials if t.parent is not None]
    assert "promoted #" in promoted[0].reason and "rung 1 (epochs=3)" in promoted[0].reason
    assert (tmp_path / "mf-checkpoints" / "mf").is_dir()
    # Cost in epochs: each promotion pays only the epochs above its parent.
    assert fidelity_cost(trials) == sum(
        _epochs(t) - (_epochs(trials[t.parent]) if t.parent is not None else 0) for t in trials
    )
    assert verify(study.storage, "mf").ok


def test_successive_halving_brackets_promote_only_complete_rungs(tmp_path: Path) -> None:
    study = _study(tmp_path, "successive_halving")
    study.optimize(_objectives.learning_curve, n_trials=40)
    trials = study.trials
    bracket0 = [t for t in trials if t.tags["fidelity"]["bracket"] == 0]
    assert [t.rung for t in bracket0] == [0] * 27 + [1] * 9 + [2] * 3 + [3]
    rung0 = sorted(bracket0[:27], key=lambda t: (t.value, t.number))
    assert {t.parent for t in bracket0[27:36]} == {t.number for t in rung0[:9]}
    assert trials[-1].tags["fidelity"]["bracket"] == 0
    _check_promotions(trials, [1, 3, 9, 27], 3)
    assert verify(study.storage, "mf").ok


def test_hyperband_cycles_brackets_from_every_rung(tmp_path: Path) -> None:
    study = _study(tmp_path, "hyperband")
    study.optimize(_objectives.learning_curve, n_trials=70)
    by_bracket: dict[int, list[FrozenTrial]] = {}
    for t in study.trials:
        by_bracket.setdefault(t.tags["fidelity"]["bracket"], []).append(t)
    # s_max = 3: brackets start at rungs 0, 1, 2, 3 with ceil(4/(s+1) * 3**s) trials.
    assert [t.rung for t in by_bracket[0]] == [0] * 27 + [1] * 9 + [2] * 3 + [3]
    assert [t.rung for t in by_bracket[1]] == [1] * 12 + [2] * 4 + [3]
    assert [t.rung for t in by_bracket[2]] == [2] * 6 + [3] * 2
    assert [t.rung for t in by_bracket[3]][:4] == [3, 3, 3, 3]


def test_resume_continues_brackets_where_they_were(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    whole = _study(tmp_path / "a", "hyperband", name="whole")
    whole.optimize(_objectives.learning_curve, n_trials=45)
    (tmp_path / "b").mkdir()
    first = _study(tmp_path / "b", "hyperband", name="split")
    first.optimize(_objectives.learning_curve, n_trials=20)
    first.close()
    again = _study(tmp_path / "b", "hyperband", name="split")
    again.optimize(_objectives.learning_curve, n_trials=25)
    key = [(t.config, t.parent, t.tags["fidelity"]) for t in whole.trials]
    assert [(t.config, t.parent, t.tags["fidelity"]) for t in again.trials] == key


@pytest.mark.parametrize("scheduler", ["asha", "hyperband"])
def test_parallel_workers_replay(tmp_path: Path, scheduler: str) -> None:
    study = _study(tmp_path, scheduler, optimizer="tpe")
    study.optimize(_objectives.learning_curve, n_trials=30, workers=3)
    trials = study.trials
    assert all(t.state is TrialState.COMPLETE for t in trials)
    if scheduler == "asha":
        assert any(t.parent is not None for t in trials)
    # (Hyperband's first rung holds 27 trials: whether it completed before the 30th
    # ask depends on timing, so its promotions may not have started yet.)
    report = verify(study.storage, "mf")
    assert report.ok and report.checked == 30


def _tagged(
    n: int,
    rung: int,
    value: float | None,
    parent: int | None = None,
    state: TrialState | None = None,
) -> FrozenTrial:
    """Trial ``n`` at ``rung`` of EPOCHS with ``x = n / 10`` (its parent's when promoted);
    complete with ``value``, running without one, or ``state``."""
    if state is None:
        state = TrialState.COMPLETE if value is not None else TrialState.RUNNING
    tag: dict[str, Any] = {"name": "epochs", "value": [1, 3, 9, 27][rung], "rung": rung}
    tag["bracket"] = 0
    if parent is not None:
        tag["promoted"] = True
    return FrozenTrial(
        n,
        state,
        {"x": (n if parent is None else parent) / 10, "y": 0.5},
        {"loss": value} if value is not None else None,
        parent=parent,
        tags={"fidelity": tag},
    )


def _history(trials: list[FrozenTrial]) -> History:
    from hypertrail.trial import Metric

    return History(0, (Metric("loss", "minimize"),), tuple(trials), len(trials))


def test_rung_view_uses_the_highest_rung_with_enough_trials() -> None:
    from hypertrail.schedulers.asha import ASHA

    asha = ASHA(optimizer="tpe", fidelity=EPOCHS, min_points=3, model_view="rung")
    trials = [_tagged(i, 0, 1.0 + i) for i in range(6)]
    trials += [_tagged(6, 1, 0.5, 0), _tagged(7, 1, 0.4, 1), _tagged(8, 0, None)]
    view, numbers, source = asha.view(SPACE, _history(trials))
    assert source == "6 trials of rung 0"  # rung 1 has 2 < 3
    assert numbers == [0, 1, 2, 3, 4, 5, 8] and view.trials[-1].state is TrialState.RUNNING
    trials.append(_tagged(9, 1, 0.3, 2))
    view, numbers, source = asha.view(SPACE, _history(trials))
    # One row per configuration: the promoted ones with their rung-1 values, the
    # others pending, so the model sees one fidelity and a sequence keeps moving.
    assert source == "3 trials of rung 1" and numbers == [0, 1, 2, 3, 4, 5, 8]
    assert [t.value for t in view.trials] == [0.5, 0.4, 0.3, None, None, None, None]
    assert [t.number for t in view.trials] == list(range(7))
    blind = ASHA(optimizer="sobol", fidelity=EPOCHS, model_based=False)
    view, numbers, source = blind.view(SPACE, _history(trials))
    assert all(t.values is None for t in view.trials) and numbers == [0, 1, 2, 3, 4, 5, 8]


def test_ranked_view_puts_every_configuration_at_its_furthest_rung() -> None:
    from hypertrail.schedulers.asha import ASHA

    asha = ASHA(optimizer="tpe", fidelity=EPOCHS)
    assert asha.model_view == "ranked"
    # Rung 0: configurations 0-5 (losses 1..6); 0 and 1 promoted to rung 1, where 0
    # is worse (0.5) than 1 (0.4) and still better than every loss at rung 0; 2's
    # promotion failed; 3's is running; 7 is new and running.
    trials = [_tagged(i, 0, 1.0 + i) for i in range(6)]
    trials += [
        _tagged(6, 1, 0.5, 0),
        _tagged(7, 0, None),
        _tagged(8, 1, 0.4, 1),
        _tagged(9, 1, None, 2, state=TrialState.FAILED),
        _tagged(10, 1, None, 3),
    ]
    view, numbers, source = asha.view(SPACE, _history(trials))
    assert numbers == [0, 1, 2, 3, 4, 5, 7]
    assert source == (
        "5 configurations ranked by the rung they reached (2 at rung 1, 3 at rung 0), 1 failed"
    )
    states = [t.state for t in view.trials]
    assert states[2] is TrialState.FAILED and states[6] is TrialState.RUNNING
    loss = {t.number: view.loss(t) for t in view.trials if t.state is TrialState.COMPLETE}
    # What went further ranks first, then by loss at that rung; 3 keeps its rung-0
    # place while its promotion runs. Scores, not losses: rung 1 in [2, 3), rung 0 in [3, 4).
    assert sorted(loss, key=loss.__getitem__) == [1, 0, 3, 4, 5]
    assert all(2 <= loss[n] < 3 for n in (0, 1)) and all(3 <= loss[n] < 4 for n in (3, 4, 5))
    # A maximized metric gets the same order (values carry its sign).
    from hypertrail.trial import Metric

    flipped = [replace(t, values={"acc": -t.value}) if t.value is not None else t for t in trials]
    maximized = History(0, (Metric("acc", "maximize"),), tuple(flipped), len(flipped))
    view, _, _ = asha.view(SPACE, maximized)
    ranked = sorted((t for t in view.trials if t.state is TrialState.COMPLETE), key=view.loss)
    assert [t.number for t in ranked] == [1, 0, 3, 4, 5]


def test_model_view_is_checked() -> None:
    from hypertrail.schedulers.asha import ASHA

    with pytest.raises(ValueError, match="model_view must be one of ranked, rung, got 'best'"):
        ASHA(optimizer="tpe", fidelity=EPOCHS, model_view="best")


def test_median_stopping_stops_bad_trials_and_records_why(tmp_path: Path) -> None:
    study = _study(tmp_path, "median", min_trials=3)
    study.optimize(_objectives.learning_curve, n_trials=30)
    trials = study.trials
    stopped = [t for t in trials if t.stopped is not None]
    assert stopped and all(t.state is TrialState.COMPLETE for t in stopped)
    assert all(t.fidelity == 27 for t in trials)
    for t in stopped:
        assert len(t.reports) == t.stopped  # one report per epoch, up to the stop
        assert abs(t.config["x"] - 0.3) > 0.05  # far from the optimum
    best = min(trials, key=lambda t: t.value or math.inf)
    assert best.stopped is None and len(best.reports) == 27
    events = [e for e in study.storage.read("mf") if e.kind == "trial.reported" and e.data["stop"]]
    assert len(events) == len(stopped)
    assert "worse than the median" in events[0].data["reason"]
    assert verify(study.storage, "mf").ok


def test_median_stopping_in_worker_processes(tmp_path: Path) -> None:
    study = _study(tmp_path, "median", min_trials=2)
    study.optimize(_objectives.learning_curve, n_trials=12, workers=2)
    trials = study.trials
    assert all(t.state is TrialState.COMPLETE for t in trials)
    assert all(len(t.reports) >= 1 for t in trials)  # reports crossed the process boundary
    assert any(t.stopped is not None for t in trials)


def test_ask_tell_reports_and_their_errors() -> None:
    study = Study.create(
        "at",
        SPACE,
        storage="memory",
        seed=0,
        metrics="loss",
        optimizer={"name": "median", "min_trials": 1},
    )
    first = study.ask()
    assert first.fidelity is None  # median without a fidelity: steps are the objective's
    assert study.report(first, 1, 0.1) is False
    study.tell(first, 0.1)
    second = study.ask()
    assert second.report(1, 5.0) is True and second.should_stop()
    assert study.trials[1].stopped == 1.0
    study.tell(second, 5.0)
    with pytest.raises(TrialStateError, match="not running"):
        study.report(second, 2, 1.0)
    third = study.ask()
    with pytest.raises(Exception, match="not finite"):
        study.report(third, 1, math.nan)


class TestASHAConformance(OptimizerConformance):
    def make_optimizer(self) -> Optimizer:
        from hypertrail.schedulers.asha import ASHA

        return ASHA(optimizer="tpe", fidelity=EPOCHS)


class TestHyperbandConformance(OptimizerConformance):
    def make_optimizer(self) -> Optimizer:
        from hypertrail.schedulers.successive_halving import Hyperband

        return Hyperband(optimizer="random", fidelity=EPOCHS)


def test_rung_trials_reads_tags() -> None:
    from hypertrail.trial import Metric

    tagged = FrozenTrial(
        0, TrialState.RUNNING, {"x": 0.1}, tags={"fidelity": {"rung": 1, "value": 3}}
    )
    plain = FrozenTrial(1, TrialState.RUNNING, {"x": 0.2})
    history = History(0, (Metric("loss", "minimize"),), (tagged, plain), 2)
    assert rung_trials(history, 1) == [tagged] and rung_trials(history, 0) == []
    assert tagged.fidelity == 3 and plain.fidelity is None and plain.rung is None
    with pytest.raises(StudyError):
        Study.create("bad", SPACE, storage="memory", seed=-1)


def _structured(trial: Any) -> float:
    c = trial.config
    return float((c["x"] - 0.3) ** 2 + (0.5 if c["k"] == "b" else 0.0) + 1.0 / trial.fidelity)


def test_hybrid_sweeps_at_low_fidelity_then_refines_at_full(tmp_path: Path) -> None:
    from hypertrail import Categorical

    space = Space({"x": Float(0.0, 1.0), "k": Categorical(["a", "b", "c"]), "y": Float(0, 1)})
    study = Study.create(
        "hy", space, storage="memory", seed=1, optimizer={"name": "hybrid", "fidelity": EPOCHS}
    )
    study.optimize(_structured, n_trials=24)
    trials = study.trials
    sweep = [t for t in trials if t.rung == 0]
    assert sweep and all(t.fidelity == 1 and "sweep" in t.reason for t in sweep)
    assert [t.rung for t in trials] == [0] * len(sweep) + [3] * (len(trials) - len(sweep))
    promotions = [t for t in trials if "promote" in t.reason]
    assert len(promotions) == math.ceil(len(sweep) / 3)
    best_swept = sorted(sweep, key=lambda t: (t.value, t.number))[: len(promotions)]
    assert [t.parent for t in promotions] == [t.number for t in best_swept]
    assert all(t.config == _parent(trials, t).config for t in promotions)
    later = trials[len(sweep) + len(promotions) :]
    assert later and all(t.fidelity == 27 for t in later)
    assert all(("refine" in t.reason or "explore" in t.reason) for t in later)
    # Parents named in reasons are the study's own numbers, not the engines' view.
    for t in later:
        if t.parent is not None:
            assert trials[t.parent].fidelity == 27
    assert verify(study.storage, "hy").ok


def test_a_plan_gives_the_hybrid_its_fidelity(tmp_path: Path) -> None:
    from tests.cli.test_commands import write_plan

    from hypertrail.plan import load_plan

    plan = write_plan(tmp_path / "p", extra="fidelity: {name: epochs, min: 1, max: 9}\n")
    text = plan.read_text().replace("optimizer: random", "optimizer: hybrid")
    plan.write_text(text)
    spec = load_plan(plan).optimizer
    assert spec["name"] == "hybrid" and spec["fidelity"]["max"] == 9


def test_a_killed_worker_resumes_with_its_rung_and_fidelity(tmp_path: Path) -> None:
    study = _study(tmp_path, "asha")
    study.optimize(_objectives.curve_dies_on_first_attempt, n_trials=16, workers=2)
    trials = study.trials
    assert all(t.state is TrialState.COMPLETE for t in trials)
    lost = trials[4]
    assert lost.attempt == 1
    assert lost.extras["fidelity_seen"] == lost.fidelity  # the retry ran at its own rung
    # The killed attempt's report was dropped with it: the record holds the retry's.
    start = int(lost.extras["resumed_from"])
    x = lost.config["x"]
    expected = [
        (float(e), (x - 0.3) ** 2 + 1.0 / e) for e in range(start + 1, int(lost.fidelity or 0) + 1)
    ]
    assert [step for step, _ in lost.reports] == [step for step, _ in expected]
    assert [v for _, v in lost.reports] == pytest.approx([v for _, v in expected])
    killed = [e for e in study.storage.read("mf") if e.kind == "trial.reported" and e.trial == 4]
    assert len(killed) == len(expected) + 1
    assert verify(study.storage, "mf").ok


def test_show_tells_a_promoted_trial_its_rung_reports_and_ancestors(tmp_path: Path) -> None:
    from tests.cli.test_commands import invoke

    study = _study(tmp_path, "asha")
    study.optimize(_objectives.learning_curve, n_trials=20)
    top = max(study.trials, key=lambda t: (t.rung or 0, -t.number))
    chain = []
    parent = top.parent
    while parent is not None:
        chain.append(parent)
        parent = study.trials[parent].parent
    study.close()
    code, out, err = invoke("show", "mf", str(top.number), "--storage", str(tmp_path / "mf.db"))
    assert code == 0, err
    assert f"fidelity   epochs={top.fidelity:g} (rung {top.rung})" in out
    assert f"reports    {len(top.reports)}, last at step {top.fidelity:g}" in out
    assert "ancestors  " + " <- ".join(f"#{n}" for n in chain) in out
    assert '"step": ' in out  # reports listed among the events


def test_mutations_inside_hyperband_are_new_configurations_not_promotions(tmp_path: Path) -> None:
    study = _study(tmp_path, "hyperband", optimizer={"name": "evolution", "population_size": 8})
    study.optimize(_objectives.learning_curve, n_trials=70)
    by_bracket: dict[int, list[FrozenTrial]] = {}
    for t in study.trials:
        by_bracket.setdefault(t.tags["fidelity"]["bracket"], []).append(t)
    mutants = [
        t for t in study.trials if t.parent is not None and not t.tags["fidelity"].get("promoted")
    ]
    assert mutants  # evolution records its parents...
    # ...and the brackets keep their textbook sizes all the same.
    assert [t.rung for t in by_bracket[0]] == [0] * 27 + [1] * 9 + [2] * 3 + [3]
    assert [t.rung for t in by_bracket[1]] == [1] * 12 + [2] * 4 + [3]
    assert fidelity_cost(study.trials) == sum(
        _epochs(t)
        - (_epochs(_parent(study.trials, t)) if t.tags["fidelity"].get("promoted") else 0)
        for t in study.trials
    )


def test_hybrid_with_a_fidelity_on_a_space_without_structure(tmp_path: Path) -> None:
    study = Study.create(
        "flat",
        SPACE,
        storage="memory",
        seed=2,
        metrics="loss",
        optimizer={"name": "hybrid", "fidelity": EPOCHS},
    )
    study.optimize(_objectives.learning_curve, n_trials=20)
    rungs = [t.rung if t.rung is not None else -1 for t in study.trials]
    assert rungs[0] == 0 and rungs[-1] == 3 and rungs == sorted(rungs)
    assert all(t.extras["fidelity_seen"] == t.fidelity for t in study.trials)
    assert "numbers only" in study.trials[-1].reason
    assert verify(study.storage, "flat").ok


def test_a_fidelity_budget_counts_running_trials_with_workers(tmp_path: Path) -> None:
    study = _study(tmp_path, "asha", optimizer="random")
    study.optimize(_objectives.learning_curve, workers=2, fidelity_budget=80)
    trials = study.trials
    assert fidelity_cost(trials) >= 80
    # Units are committed when a trial is asked: with two workers, at most the last
    # trial asked went over, never a trial asked after the budget was committed.
    assert fidelity_cost(trials[:-1]) < 80
    with pytest.raises(StudyError, match="fidelity_budget"):
        study.optimize(_objectives.learning_curve)
