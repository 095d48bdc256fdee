"""A plan's ``fidelity`` and ``scheduler`` keys, checked before any trial runs."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.cli.test_commands import invoke, write_plan


def test_a_plan_with_a_fidelity_runs_under_asha_by_default(tmp_path: Path) -> None:
    plan = write_plan(
        tmp_path / "p", trials=20, extra="fidelity: {name: epochs, min: 1, max: 9, eta: 3}\n"
    )
    code, _, err = invoke("run", str(plan), "--no-progress")
    assert code == 0, err
    code, out, _ = invoke("trials", str(plan), "--format", "json")
    trials = json.loads(out)
    tags = [t["tags"]["fidelity"] for t in trials]
    assert {t["value"] for t in tags} >= {1, 3}
    assert all(t["reason"].startswith("asha: ") for t in trials)
    code, out, _ = invoke("replay", str(plan))
    assert code == 0, out


def test_scheduler_options_wrap_the_plan_optimizer(tmp_path: Path) -> None:
    plan = write_plan(
        tmp_path / "p",
        trials=12,
        extra="fidelity: {name: epochs, min: 1, max: 9}\n"
        "scheduler: {name: hyperband, model_based: false}\n",
    )
    code, _, err = invoke("run", str(plan), "--no-progress")
    assert code == 0, err
    code, out, _ = invoke("trials", str(plan), "--format", "json")
    assert all(t["reason"].startswith("hyperband: ") for t in json.loads(out))


def test_the_model_view_is_a_plan_option_and_named_in_reasons(tmp_path: Path) -> None:
    reasons = {}
    for view in ("ranked", "rung"):
        plan = write_plan(
            tmp_path / view,
            trials=30,
            extra="fidelity: {name: epochs, min: 1, max: 9}\n"
            f"scheduler: {{name: asha, model_view: {view}}}\n",
            optimizer="tpe",
        )
        code, _, err = invoke("run", str(plan), "--no-progress")
        assert code == 0, err
        code, out, _ = invoke("trials", str(plan), "--format", "json")
        reasons[view] = [t["reason"] for t in json.loads(out)]
    # The optimizer (TPE) says what it saw: every configuration, or one rung.
    ranked = [r for r in reasons["ranked"] if "; tpe on " in r]
    one_rung = [r for r in reasons["rung"] if "; tpe on " in r]
    assert ranked and all("configurations ranked by the rung they reached" in r for r in ranked)
    assert one_rung and all(
        re.search(r"tpe on (\d+ trials of rung \d|no trials)", r) for r in one_rung
    )


def test_bad_fidelity_and_scheduler_are_reported_with_their_line(tmp_path: Path) -> None:
    cases = {
        "fidelity: {name: epochs, min: 9, max: 1}\n": "fidelity: fidelity needs 0 < min < max",
        "scheduler: asha\n": "scheduler: the asha scheduler needs a fidelity",
        "fidelity: {name: e, min: 1, max: 9}\nscheduler: ashaa\n": "unknown scheduler 'ashaa'",
        "fidelity: {name: e, min: 1, max: 9}\nscheduler: {name: asha, eta: 2}\n": "unknown option 'eta'",
        "fidelity: {name: e, min: 1, max: 9}\n"
        "scheduler: {name: asha, across_fidelities: true}\n": "across_fidelities needs optimizer gp",
        "fidelity: {name: e, min: 1, max: 9}\n"
        "scheduler: {name: asha, joint_acquisition: ucb}\n": "joint_acquisition must be one of",
        "fidelity: {name: e, min: 1, max: 9}\n"
        "scheduler: {name: asha, model_view: best}\n": "model_view must be one of ranked, rung",
    }
    for i, (extra, message) in enumerate(cases.items()):
        plan = write_plan(tmp_path / f"p{i}", extra=extra)
        code, _, err = invoke("validate", str(plan))
        assert code == 2, (extra, err)
        assert message in err, (extra, err)
        assert "plan.yaml:" in err  # where
        assert not (tmp_path / f"p{i}" / "toy.db").exists()


def test_a_budget_in_fidelity_units_stops_the_run_there(tmp_path: Path) -> None:
    from hypertrail.plan import load_plan
    from hypertrail.schedulers.base import fidelity_cost

    plan = write_plan(tmp_path / "p", extra="fidelity: {name: epochs, min: 1, max: 9, eta: 3}\n")
    text = plan.read_text().replace("budget: {trials: 8}", "budget: {fidelity: 60}")
    plan.write_text(text)
    code, out, err = invoke("validate", str(plan))
    assert code == 0, err
    assert "fidelity=60" in out
    code, _, err = invoke("run", str(plan), "--no-progress")
    assert code == 0, err
    assert "budget 60 epochs" in err
    study = load_plan(plan).open_study()
    with study:
        trials = study.trials
    spent = fidelity_cost(trials)
    # The run asked until the committed units reached 60, not one trial more.
    assert spent >= 60 and fidelity_cost(trials[:-1]) < 60
    # Running again with the budget spent asks nothing; the bar counts epochs.
    code, _, err = invoke("run", str(plan))
    assert code == 0, err
    study = load_plan(plan).open_study()
    with study:
        assert len(study.trials) == len(trials)


def test_a_fidelity_budget_needs_a_fidelity_and_a_positive_number(tmp_path: Path) -> None:
    cases = {
        "": "budget.fidelity: counts units of the plan's fidelity, but the plan declares none",
        "fidelity: {name: epochs, min: 1, max: 9}\n": None,
    }
    for i, (extra, message) in enumerate(cases.items()):
        plan = write_plan(tmp_path / f"p{i}", extra=extra)
        value = "-5" if message is None else "100"
        plan.write_text(plan.read_text().replace("{trials: 8}", f"{{fidelity: {value}}}"))
        code, _, err = invoke("validate", str(plan))
        assert code == 2, err
        assert (message or "budget.fidelity: must be a positive number, got -5") in err, err
        assert "plan.yaml:" in err


def test_the_progress_bar_counts_fidelity_units(tmp_path: Path) -> None:
    from tests import _objectives

    from hypertrail import Float, Space, Study
    from hypertrail.progress import ProgressBar
    from hypertrail.schedulers.base import fidelity_cost

    study = Study.create(
        "bar",
        Space({"x": Float(0.0, 1.0)}),
        storage="memory",
        metrics="loss",
        optimizer={"name": "asha", "fidelity": {"name": "epochs", "min": 1, "max": 9}},
    )
    bar = ProgressBar(study, None, enabled=False, units=("epochs", 40))
    with bar:
        study.optimize(_objectives.learning_curve, fidelity_budget=40, callbacks=[bar])
    assert bar._completed == fidelity_cost(study.trials) >= 40
    assert bar._label == "epochs" and bar._total == 40


def test_a_fidelity_budget_too_small_for_multistart_is_refused_with_the_fix(
    tmp_path: Path,
) -> None:
    fidelity = "fidelity: {name: epochs, min: 1, max: 9, eta: 3}\n"
    plan = write_plan(
        tmp_path / "short",
        extra=fidelity + "scheduler: multistart\n",
        optimizer="gp",
    )
    text = plan.read_text().replace("budget: {trials: 8}", "budget: {fidelity: 60}")
    plan.write_text(text)
    code, _, err = invoke("validate", str(plan))
    # 10 x 5 parameters screened + 3 x 80 steps at 1 epoch, then 8 more to the top.
    assert code == 2 and "budget.fidelity" in err and "after 298" in err, err
    assert "budget: 60" in err
    plan.write_text(
        text.replace("scheduler: multistart", "scheduler: {name: multistart, budget: 60}")
    )
    code, _, err = invoke("run", str(plan), "--no-progress")
    assert code == 0, err
    code, out, _ = invoke("trials", str(plan), "--format", "json")
    rows = json.loads(out)
    assert any(row["tags"]["fidelity"]["value"] == 9 for row in rows), "nothing reached the top"


def test_multistart_in_a_plan_says_what_it_needs(tmp_path: Path) -> None:
    fidelity = "fidelity: {name: epochs, min: 1, max: 9, eta: 3}\nscheduler: multistart\n"
    plan = write_plan(tmp_path / "tpe", extra=fidelity, optimizer="tpe")
    code, _, err = invoke("validate", str(plan))
    assert code == 2 and "the multistart scheduler needs optimizer: gp" in err, err
    assert not (tmp_path / "tpe" / "toy.db").exists()
    # A block of layers: every phase runs, and each configuration has its active layers.
    small = "scheduler: {name: multistart, screen: 6, regions: 2, steps: 3}\n"
    extra = "fidelity: {name: epochs, min: 1, max: 9, eta: 3}\n" + small
    plan = write_plan(tmp_path / "blocks", trials=6 + 6 + 2 + 2, extra=extra, optimizer="gp")
    code, _, err = invoke("run", str(plan), "--no-progress")
    assert code == 0, err
    code, out, _ = invoke("trials", str(plan), "--format", "json")
    rows = json.loads(out)
    assert len(rows) == 16
    for row in rows:
        config = row["config"]
        assert sorted(k for k in config if k.startswith("layers.")) == [
            f"layers.{i}.width" for i in range(config["n_layers"])
        ]
