"""``hypertrail compare``: identical budgets and seeds, stored studies, tables, tests, plots."""

from __future__ import annotations

import json
import math
import textwrap
from pathlib import Path

import numpy as np
from click.testing import CliRunner

from hypertrail import Study
from hypertrail.analysis.compare import Comparison, RunRecord, Target, compare
from hypertrail.analysis.statistics import bootstrap_difference_ci, holm, paired_tests
from hypertrail.cli.main import cli
from hypertrail.replay import verify
from hypertrail.reporting.plots import anytime_bands
from hypertrail.storage import open_storage
from hypertrail.trial import Metric


def _plan(tmp_path: Path) -> Path:
    (tmp_path / "quad_objective.py").write_text(
        textwrap.dedent(
            """
            import math

            def evaluate(trial):
                c = trial.config
                penalty = {"a": 0.0, "b": 0.5, "c": 1.0}[c["kind"]]
                return {"score": -((c["x"] - 0.3) ** 2) - penalty - 0.1 * abs(c["n"] - 2)}
            """
        )
    )
    plan = tmp_path / "plan.yaml"
    plan.write_text(
        textwrap.dedent(
            """
            name: quad
            seed: 1
            space:
              params:
                kind: {type: categorical, choices: [c, b, a]}
                n: {type: int, low: 0, high: 4}
                x: {type: float, low: -2.0, high: 2.0}
            objective: quad_objective:evaluate
            metrics: {score: maximize}
            budget: {trials: 10}
            """
        )
    )
    return plan


def test_compare_a_plan_writes_tables_plots_and_replayable_studies(tmp_path: Path) -> None:
    plan = _plan(tmp_path)
    optimizers = "hybrid,random,structure-only,numeric-only"
    args = ["compare", str(plan), "--optimizers", optimizers, "--seeds", "3", "--budget", "14"]
    result = CliRunner().invoke(
        cli,
        [*args, "--jobs", "2"],
    )
    assert result.exit_code == 0, result.output
    folder = tmp_path / "quad-compare"
    data = json.loads((folder / "comparison.json").read_text())
    assert data["budget"] == 14 and data["seeds"] == [0, 1, 2]
    assert [r["optimizer"] for r in data["summary"]] == [
        "hybrid",
        "random",
        "structure-only",
        "numeric-only",
    ]
    assert len(data["runs"]) == 12 and all(len(r["losses"]) == 14 for r in data["runs"])
    assert len(data["tests"]) == 6
    # a maximized metric is reported in its own direction
    best = max(r["final_max"] for r in data["summary"])
    assert best <= 0.0 and all(r["final_mean"] <= r["final_max"] for r in data["summary"])
    page = (folder / "comparison.html").read_text()
    assert "plotly" in page.lower() and "Pairwise tests" in page and "hybrid" in page
    markdown = (folder / "comparison.md").read_text()
    assert "| hybrid |" in markdown and "Holm" in markdown
    # every run is a stored study that replays
    url = f"sqlite:///{tmp_path / 'quad-compare.db'}"
    log = open_storage(url)
    try:
        for run in data["runs"]:
            assert verify(log, run["study"]).ok
    finally:
        log.close()
    # running again continues (nothing to do) and gives the same numbers
    again = CliRunner().invoke(
        cli,
        args,
    )
    assert again.exit_code == 0, again.output
    assert json.loads((folder / "comparison.json").read_text())["summary"] == data["summary"]


def test_compare_refuses_bad_input_before_any_run(tmp_path: Path) -> None:
    plan = _plan(tmp_path)
    bad = CliRunner().invoke(cli, ["compare", str(plan), "--optimizers", "hybrid,gpp,hybrid"])
    assert bad.exit_code == 2
    assert "optimizers[1]" in bad.output and "gpp" in bad.output
    assert "listed twice" in bad.output
    assert not (tmp_path / "quad-compare.db").exists()
    neither = CliRunner().invoke(cli, ["compare"])
    assert neither.exit_code == 2 and "PLAN_FILE or --problem" in neither.output
    unknown = CliRunner().invoke(cli, ["compare", "--problem", "nope"])
    assert unknown.exit_code == 2 and "jenatton" in unknown.output
    seeds = CliRunner().invoke(cli, ["compare", str(plan), "--seeds", "x"])
    assert seeds.exit_code == 2
    plan.write_text(plan.read_text() + "fidelity: {name: epochs, min: 1, max: 9}\n")
    small = CliRunner().invoke(
        cli, ["compare", str(plan), "--optimizers", "gp,random", "--budget", "5"]
    )
    assert small.exit_code == 2
    assert "budget" in small.output and "counts epochs here" in small.output
    plan.write_text(plan.read_text() + "scheduler: median\n")
    median = CliRunner().invoke(
        cli, ["compare", str(plan), "--optimizers", "gp,grid", "--budget", "50"]
    )
    assert median.exit_code == 2 and "optimizers[1]" in median.output
    assert not (tmp_path / "quad-compare.db").exists()


def test_compare_a_plan_with_a_fidelity_at_equal_units(tmp_path: Path) -> None:
    """Each optimizer proposes under the plan's scheduler; the budget counts epochs,
    and a run is scored on its trials at the top fidelity only."""
    plan = _plan(tmp_path)
    (tmp_path / "quad_by_epochs.py").write_text(
        textwrap.dedent(
            """
            def evaluate(trial):
                c = trial.config
                penalty = {"a": 0.0, "b": 0.5, "c": 1.0}[c["kind"]]
                # cheap rungs are biased: one epoch reads 0.3 too well
                bias = 0.3 * (1 - trial.fidelity / 9)
                return {"score": -((c["x"] - 0.3) ** 2) - penalty + bias}
            """
        )
    )
    # a module name of its own: the objective modules of these tests share sys.modules
    text = plan.read_text().replace("quad_objective:", "quad_by_epochs:")
    plan.write_text(text + "fidelity: {name: epochs, min: 1, max: 9, eta: 3}\n")
    args = ["compare", str(plan), "--optimizers", "gp,random", "--seeds", "2", "--budget", "60"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "60 epochs" in result.output
    folder = tmp_path / "quad-compare"
    data = json.loads((folder / "comparison.json").read_text())
    assert data["unit"] == "epochs" and data["budget"] == 60
    url = f"sqlite:///{tmp_path / 'quad-compare.db'}"
    log = open_storage(url)
    try:
        for run in data["runs"]:
            spent = run["spent"]
            assert len(spent) == len(run["losses"]) and spent[-2] < 60 <= spent[-1]
            assert verify(log, run["study"]).ok
            with Study.load(run["study"], log) as study:
                fidelities = [t.fidelity for t in study.trials]
                assert "asha" in study.trials[0].reason
            assert 9 in fidelities and 1 in fidelities
            top = [loss for loss, f in zip(run["losses"], fidelities, strict=True) if f == 9]
            low = [loss for loss, f in zip(run["losses"], fidelities, strict=True) if f != 9]
            assert all(v is None for v in low) and any(v is not None for v in top)
    finally:
        log.close()
    # the biased cheap rungs never score: the best value is a real 9-epoch one (<= 0)
    assert all(row["final_max"] <= 0.0 for row in data["summary"])
    assert "epochs spent" in (folder / "comparison.html").read_text()
    assert "best at the top epochs" in (folder / "comparison.md").read_text()


def test_compare_under_median_stopping_scores_only_trials_trained_to_the_top(
    tmp_path: Path,
) -> None:
    plan = _plan(tmp_path)
    (tmp_path / "quad_reported.py").write_text(
        textwrap.dedent(
            """
            def evaluate(trial):
                c = trial.config
                loss = (c["x"] - 0.3) ** 2 + {"a": 0.0, "b": 0.5, "c": 1.0}[c["kind"]]
                for epoch in range(1, int(trial.fidelity) + 1):
                    value = -(loss + 1.0 / epoch)
                    if trial.report(epoch, -value):
                        break
                return {"score": value}
            """
        )
    )
    text = plan.read_text().replace("quad_objective:", "quad_reported:")
    plan.write_text(text + "fidelity: {name: epochs, min: 1, max: 9}\nscheduler: median\n")
    url = f"sqlite:///{tmp_path / 'm.db'}"
    result = compare(Target.plan(plan), ["random"], seeds=[0], budget=90, storage=url)
    (run,) = result.runs
    with Study.load(run.study, url) as study:
        stopped = {t.number for t in study.trials if t.stopped is not None}
    assert stopped, "median stopping stopped nothing"
    assert all(run.losses[n] is None for n in stopped)
    scored = [loss for n, loss in enumerate(run.losses) if n not in stopped]
    assert scored and all(v is not None for v in scored)
    assert run.spent[-1] >= 90 > run.spent[-2]


def test_compare_a_packaged_problem_from_python(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'c.db'}"
    result = compare(
        Target.problem("mixed_branin"), ["gp", "random"], seeds=range(6), budget=20, storage=url
    )
    rows = {r["optimizer"]: r for r in result.rows()}
    assert rows["gp"]["regret_mean"] < rows["random"]["regret_mean"]
    assert rows["gp"]["mean_rank"] < rows["random"]["mean_rank"]
    assert rows["gp"]["evaluations"] == 120 and rows["gp"]["cpu_time"] > 0
    (test,) = result.tests()
    assert test.n == 6 and test.better == "gp"


def _record(optimizer: str, seed: int, losses: list[float | None]) -> RunRecord:
    return RunRecord(optimizer, seed, f"s-{optimizer}-{seed}", tuple(losses), len(losses), 0, 1, 1)


def test_statistics_of_a_comparison_by_hand() -> None:
    runs = [_record("a", s, [5.0, None, 1.0 + 0.5 * s]) for s in range(8)]
    runs += [_record("b", s, [9.0, 8.0, 2.0 + 0.5 * s]) for s in range(8)]
    c = Comparison(
        "t", Metric("loss", "minimize"), ("a", "b"), tuple(range(8)), 3, "memory", None, tuple(runs)
    )
    rows = {r["optimizer"]: r for r in c.rows()}
    assert rows["a"]["final_mean"] == 2.75 and rows["b"]["final_mean"] == 3.75
    # the AUC fills the failed second trial with the best so far: (5 + 5 + (1 + s/2)) / 3
    assert math.isclose(rows["a"]["auc_mean"], np.mean([(11 + 0.5 * s) / 3 for s in range(8)]))
    assert rows["a"]["mean_rank"] == 1.0 and rows["b"]["mean_rank"] == 2.0
    (test,) = c.tests()
    assert test.better == "a" and test.p < 0.01
    bands = anytime_bands(c.curves())
    assert bands[0].mean == [5.0, 5.0, 2.75] and bands[0].low[2] <= 2.75 <= bands[0].high[2]


def test_holm_and_ties() -> None:
    assert holm([0.01, 0.04, 0.03]) == [0.03, 0.06, 0.06]
    # a p far below 1e-12 stays what it is (it was rounded to 0 once)
    assert holm([3e-13]) == [3e-13] and holm([1e-20, 0.5]) == [2e-20, 0.5]
    tie = paired_tests(["x", "y"], np.array([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]]))
    assert tie[0].p == 1.0 and tie[0].better is None


def test_difference_interval_of_two_independent_samples() -> None:
    far = bootstrap_difference_ci([1.0, 1.2, 0.9, 1.1], [3.0, 3.1, 2.8, 3.2])
    assert far[0] < -2.0 + 0.01 and far[1] < 0 and far[0] > -2.5
    # overlapping samples: the interval holds 0, and swapping them mirrors it
    a, b = [0.1, 0.3, 0.2, 0.5, 0.0], [0.2, 0.1, 0.4, 0.3, 0.2]
    low, high = bootstrap_difference_ci(a, b)
    assert low < 0 < high
    assert bootstrap_difference_ci(a, b) == bootstrap_difference_ci(a, b)  # fixed generator
    assert all(math.isnan(v) for v in bootstrap_difference_ci([], [1.0]))
