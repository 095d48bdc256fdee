"""Under a fidelity, the parameter views (importance, slices, parallel coordinates,
choices) compare trials of one fidelity: a loss after 1 epoch is not one after 3."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from hypertrail import Float, Space, Study
from hypertrail.cli.main import cli
from hypertrail.reporting.data import (
    RATED_MIN_TRIALS,
    analyse,
    build_report,
    rated_trials,
    study_data,
)
from hypertrail.trial import Trial

FIDELITY = {"name": "epochs", "min": 1, "max": 3, "eta": 3}


def crossing(trial: Trial) -> float:
    """After 1 epoch only y tells configurations apart; after 3 only x does."""
    if (trial.fidelity or 3) < 3:
        return float(trial.config["y"])
    return float(trial.config["x"])


@pytest.fixture(scope="module")
def asha(tmp_path_factory: pytest.TempPathFactory) -> Study:
    url = f"sqlite:///{tmp_path_factory.mktemp('rated') / 'rated.db'}"
    study = Study.create(
        "rated",
        Space({"x": Float(0.0, 1.0), "y": Float(0.0, 1.0)}),
        storage=url,
        seed=3,
        metrics="loss",
        optimizer={"name": "asha", "optimizer": "random", "fidelity": FIDELITY},
    )
    study.optimize(crossing, n_trials=110)
    return study


def test_auto_rates_the_highest_fidelity_with_enough_trials(asha: Study) -> None:
    data = study_data(asha.storage.read("rated"), "rated")
    counts = Counter(t.fidelity for t in data.completed())
    assert counts[3.0] >= RATED_MIN_TRIALS and counts[1.0] > counts[3.0]
    rated = rated_trials(data)
    assert rated.fidelity == 3.0 and rated.label == "epochs=3"
    assert [t.number for t in rated.trials] == sorted(
        t.number for t in data.completed() if t.fidelity == 3.0
    )
    assert f"{counts[3.0]} of {len(data.completed())} complete trials" in rated.note
    assert f"{counts[1.0]} at 1, {counts[3.0]} at 3" in rated.note
    assert "All of them were promoted from a lower epochs" in rated.note

    # At 3 epochs only x matters; all trials together say y (most ran 1 epoch).
    top, _ = analyse(data, method="fanova")
    mixed, _ = analyse(data, method="fanova", fidelity="all")
    low, _ = analyse(data, method="fanova", fidelity=1)
    assert top is not None and mixed is not None and low is not None
    assert top.params[0].name == "x" and top.params[0].share > 0.9
    assert mixed.params[0].name == "y" and low.params[0].name == "y"
    assert top.n_trials == counts[3.0] and mixed.n_trials == len(data.completed())

    report = build_report(data, importance=top)
    importance = report.section("importance")
    assert importance.data["fidelity"] == 3.0
    assert importance.note.startswith("Rated at epochs=3 (the highest epochs value with at least")
    slices = report.section("slices")
    assert slices.note.startswith("Trials at epochs=3 only")
    assert sorted(slices.data["params"][0]["trials"]) == [t.number for t in rated.trials]
    assert len(report.section("parallel").data["trials"]) == counts[3.0]
    every = build_report(data, fidelity="all").section("slices").data["params"][0]["trials"]
    assert len(every) == len(data.completed())


def test_few_trials_at_the_top_fall_back_to_the_most_populated_fidelity() -> None:
    study = Study.create(
        "few",
        Space({"x": Float(0.0, 1.0), "y": Float(0.0, 1.0)}),
        storage="memory",
        seed=3,
        metrics="loss",
        optimizer={"name": "asha", "optimizer": "random", "fidelity": FIDELITY},
    )
    study.optimize(crossing, n_trials=24)
    data = study_data(study.storage.read("few"), "few")
    counts = Counter(t.fidelity for t in data.completed())
    assert counts[3.0] < counts[1.0] < RATED_MIN_TRIALS
    rated = rated_trials(data)
    assert rated.fidelity == 1.0 and len(rated.trials) == counts[1.0]
    assert f"no epochs has {RATED_MIN_TRIALS} trials; the one with the most" in rated.note
    assert "promoted" not in rated.note


def test_a_fidelity_where_new_configurations_also_ran_says_how_many_were_promoted() -> None:
    from hypertrail import Categorical

    space = Space({"x": Float(0.0, 1.0), "k": Categorical(["a", "b", "c"]), "y": Float(0, 1)})
    study = Study.create(
        "hy",
        space,
        storage="memory",
        seed=1,
        metrics="loss",
        optimizer={"name": "hybrid", "fidelity": {"name": "epochs", "min": 1, "max": 9}},
    )
    study.optimize(crossing, n_trials=24)
    data = study_data(study.storage.read("hy"), "hy")
    rated = rated_trials(data, 9)
    promoted = [t for t in rated.trials if t.parent is not None and "promote" in t.reason]
    assert 0 < len(promoted) < len(rated.trials)  # the sweep's best, then refinement
    assert f" {len(promoted)} of them were promoted from a lower epochs." in rated.note
    assert "All of them" not in rated.note


def test_bad_fidelities_say_what_the_study_has(asha: Study) -> None:
    data = study_data(asha.storage.read("rated"), "rated")
    with pytest.raises(ValueError, match=r"no complete trial ran at epochs=2; .* ran at 1, 3"):
        rated_trials(data, 2.0)
    with pytest.raises(ValueError, match="'auto', 'all' or a number"):
        rated_trials(data, "top")
    plain = Study.create("plain", Space({"x": Float(0.0, 1.0)}), storage="memory", seed=0)
    plain.optimize(lambda t: float(t.config["x"]), n_trials=6)
    flat = study_data(plain.storage.read("plain"), "plain")
    rated = rated_trials(flat)
    assert len(rated.trials) == 6 and rated.fidelity is None and rated.note == ""
    with pytest.raises(ValueError, match="has no fidelity"):
        rated_trials(flat, 3.0)


def test_median_stopping_leaves_out_the_trials_stopped_early() -> None:
    from tests import _objectives

    study = Study.create(
        "median",
        Space({"x": Float(0.0, 1.0)}),
        storage="memory",
        seed=1,
        metrics="loss",
        optimizer={
            "name": "median",
            "fidelity": {"name": "epochs", "min": 1, "max": 9},
            "min_trials": 2,
        },
    )
    study.optimize(_objectives.learning_curve, n_trials=12)
    data = study_data(study.storage.read("median"), "median")
    stopped = {t.number for t in data.completed() if t.stopped is not None}
    assert stopped
    rated = rated_trials(data)
    assert rated.fidelity == 9.0
    assert {t.number for t in rated.trials} == {t.number for t in data.completed()} - stopped
    assert f"{len(stopped)} stopped early" in rated.note and "promoted" not in rated.note


def test_report_command_takes_a_fidelity_and_refuses_one_the_study_lacks(
    asha: Study, tmp_path: Path
) -> None:
    url = asha.storage.url
    runner = CliRunner()
    out = tmp_path / "r.html"
    result = runner.invoke(
        cli, ["report", "rated", "-s", url, "-o", str(out), "--fidelity", "5", "--no-replay"]
    )
    assert result.exit_code != 0 and not out.exists()
    assert "--fidelity: no complete trial ran at epochs=5" in result.output
    result = runner.invoke(cli, ["report", "rated", "-s", url, "-o", str(out), "--fidelity", "x"])
    assert result.exit_code != 0 and "must be auto, all or a number" in result.output
    numbers = tmp_path / "r.json"
    args = ["report", "rated", "-s", url, "-o", str(out), "--json", str(numbers), "--no-replay"]
    result = runner.invoke(cli, [*args, "--fidelity", "1"])
    assert result.exit_code == 0, result.output
    assert out.exists() and '"fidelity": 1.0' in numbers.read_text()
