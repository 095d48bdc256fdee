"""What a multi-fidelity study calls its best, and reruns under a fidelity, on a real
SQLite study: a cheap rung's value never passes for a trained model, and every
replicate of a rerun trains from the start at its trial's fidelity."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hypertrail import Float, Space, Study
from hypertrail.analysis.pareto import study_front
from hypertrail.progress import ProgressBar
from hypertrail.reporting.data import build_report, study_data
from hypertrail.reporting.summary import summary_lines
from hypertrail.reruns import best_trials, rerun
from hypertrail.trial import FrozenTrial, Trial, TrialState, furthest_trained

SPACE = Space({"x": Float(0.0, 1.0)})
FIDELITY = {"name": "epochs", "min": 1, "max": 9, "eta": 3}


def _cheap_looks_better(trial: Trial) -> dict[str, float]:
    """Loss grows with the epochs trained, so every 1-epoch value beats every 9-epoch
    one; the state file holds the epochs trained and the seed that started them."""
    assert trial.fidelity is not None
    state = trial.checkpoint_dir / "state.json"
    start = json.loads(state.read_text())["epochs"] if state.exists() else 0
    state.write_text(json.dumps({"epochs": trial.fidelity, "seed": trial.seed}))
    noise = 0.001 * trial.rng.standard_normal()
    return {
        "loss": (trial.config["x"] - 0.3) ** 2 + trial.fidelity / 10 + noise,
        "size": 1.0 - trial.config["x"],
        "resumed_from": float(start),
    }


@pytest.fixture
def study(tmp_path: Path) -> Study:
    study = Study.create(
        "mf-best",
        SPACE,
        storage=f"sqlite:///{tmp_path / 'mf.db'}",
        seed=3,
        metrics={"loss": "minimize", "size": "minimize"},
        optimizer={"name": "asha", "fidelity": FIDELITY},
    )
    study.optimize(_cheap_looks_better, n_trials=40)
    return study


def _lowest(trials: list[FrozenTrial]) -> FrozenTrial:
    return min(trials, key=lambda t: ((t.values or {})["loss"], t.number))


def test_the_best_is_the_best_at_the_highest_fidelity_reached(study: Study) -> None:
    done = [t for t in study.trials if t.state is TrialState.COMPLETE]
    at_top = [t for t in done if t.fidelity == 9]
    assert at_top and _lowest(done).fidelity == 1  # the naive best is a cheap value
    assert study.best == _lowest(at_top)
    assert study.history().best() == _lowest(done)  # an optimizer's incumbent is unchanged
    assert study.history().best_trained() == study.best
    assert furthest_trained(done) == at_top

    lines = summary_lines(study)
    assert lines[1].startswith(f"best trial #{study.best.number}:")
    assert "top 5 by loss (minimize) at epochs=9:" in lines
    ranked = [int(line.split()[0].lstrip("#")) for line in lines[-5:]]
    assert ranked[0] == study.best.number
    assert all(study.trials[n].fidelity == 9 for n in ranked)

    assert {t.fidelity for t in best_trials(study, 3)} == {9.0}
    front = study_front(study.trials, study.metrics)
    assert {study.trials[n].fidelity for n in front.trials} == {9.0}
    assert front.front and set(front.front) <= set(front.trials)


def test_the_report_and_the_progress_bar_agree(study: Study) -> None:
    data = study_data(study.storage.read(study.name), study.name)
    assert data.best() == study.best
    steps = build_report(data).section("history").data["best"]
    assert all(study.trials[int(n)].fidelity == 9 for n, _ in steps[:-1])
    assert steps[-1][1] == pytest.approx((study.best.values or {})["loss"])

    bar = ProgressBar(study, total=None, enabled=False)
    assert bar._best_text() == f"loss={(study.best.values or {})['loss']:.5g}"
    cheap = next(t for t in study.trials if t.fidelity == 1)
    bar._better(cheap, -1.0)  # a cheap rung's lower value does not move it
    assert bar._best_text() == f"loss={(study.best.values or {})['loss']:.5g}"


def test_a_trial_stopped_early_is_never_the_best(tmp_path: Path) -> None:
    study = Study.create(
        "median-best",
        SPACE,
        storage=f"sqlite:///{tmp_path / 'm.db'}",
        seed=1,
        optimizer={"name": "median", "min_trials": 1},
    )
    first = study.ask()
    assert not study.report(first, 1, 0.5)
    study.tell(first, 0.4)
    stopped = study.ask()
    assert study.report(stopped, 1, 0.9)  # worse than the median at step 1: stop
    study.tell(stopped, 0.05)  # whatever it returns, it did not finish its training
    assert study.trials[stopped.number].stopped == 1
    assert study.best.number == first.number
    assert study.history().best() == study.trials[stopped.number]


def test_reruns_train_from_the_start_at_the_trials_fidelity(study: Study) -> None:
    chosen = best_trials(study, 2)
    summaries = rerun(study, _cheap_looks_better, best=2, seeds=3)
    assert [s.trial for s in summaries] == [t.number for t in chosen]
    for trial in chosen:
        records = study._state.reruns[trial.number]
        assert len(records) == 3
        assert all(r["extras"]["resumed_from"] == 0.0 for r in records)  # none resumed
        values = {r["values"]["loss"] for r in records}
        assert len(values) == 3  # new seeds, new values
        assert all(abs(v - (trial.values or {})["loss"]) < 0.01 for v in values)  # at 9 epochs
    # the trials' own folders still hold their state; the replicates' are gone
    saved = study.checkpoint_folder(chosen[0].number) / "state.json"
    assert json.loads(saved.read_text())["epochs"] == 9.0
    assert not (study.checkpoint_folder(0).parent / "reruns").exists()
