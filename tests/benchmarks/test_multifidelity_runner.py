"""The multi-fidelity benchmark's reading of runs: regret at a spending, and the fewest
fidelity units after which a method's mean regret reaches a target."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import multifidelity as mf  # noqa: E402
from hypertrail.benchmarks.multifidelity import mf_branin  # noqa: E402


def _job(method: str, seed: int, top: list[list[float]], budget: float = 270.0) -> dict[str, Any]:
    return {
        "kind": "job",
        "problem": "mf_branin",
        "method": method,
        "seed": seed,
        "top": top,
        "budget": budget,
        "trials": len(top),
        "cost": top[-1][0] if top else 0.0,
        "seconds": 0.1,
    }


def test_units_to_reach_reads_every_run_at_the_same_spending() -> None:
    # optimum 0, reference 1: regret = the loss itself
    runs = [{"top": [[10.0, 0.8], [40.0, 0.1]]}, {"top": [[20.0, 0.3], [30.0, 0.2]]}]
    assert mf.units_to_reach(runs, 0.5, 0.0, 1.0) == 30.0  # (0.8 + 0.2) / 2
    assert mf.units_to_reach(runs, 0.16, 0.0, 1.0) == 40.0  # (0.1 + 0.2) / 2
    assert mf.units_to_reach(runs, 0.1, 0.0, 1.0) is None
    # a run with nothing at the top yet counts as regret 1
    assert mf.units_to_reach([{"top": []}, {"top": [[5.0, 0.0]]}], 0.5, 0.0, 1.0) == 5.0


def test_summary_names_the_method_of_ours_that_reaches_the_full_run_first() -> None:
    optimum = mf_branin().optimum
    assert optimum is not None
    reference = {"mf_branin": {"median": optimum + 1.0, "best": optimum}}
    jobs = []
    for seed in range(3):
        jobs.append(_job(mf.FULL, seed, [[27.0 * (k + 1), optimum + 0.2] for k in range(10)]))
        jobs.append(_job("ht-asha-gp", seed, [[50.0, optimum + 0.5], [200.0, optimum + 0.1]]))
        jobs.append(_job("ht-hyperband-gp", seed, [[120.0, optimum + 0.15]]))
    summary = mf.summarize(
        jobs, reference, ["mf_branin"], ["ht-asha-gp", "ht-hyperband-gp", mf.FULL]
    )
    entry = summary["problems"]["mf_branin"]
    assert entry["reach"] == {"ht-asha-gp": 200.0, "ht-hyperband-gp": 120.0}
    assert entry["bar2"] is True
    # best of ours at B (asha-gp, 0.1 on every seed) minus the full run's 0.2 at its end
    difference, (low, high) = entry["bar2_difference"]
    assert difference == pytest.approx(-0.1) and low == pytest.approx(-0.1)
    assert high == pytest.approx(-0.1)
    assert mf._signed(entry["bar2_difference"]) == "−0.100 [−0.100, −0.100]"
    assert mf._signed((0.004, (-0.01, 0.02))) == "+4.0e-03 [−0.010, +0.020]"
    text = mf._reach(entry["reach"], 270.0, 2700.0)
    assert text == "120 (0.04 of 2700): `ht-hyperband-gp`"
    assert mf._reach({"ht-asha-gp": None}, 891.0, 2700.0) == "not within B = 891"


def test_the_second_bar_is_met_at_or_below_and_missed_only_when_the_interval_is_above_0() -> None:
    assert mf.verdict((-0.01, (-0.02, 0.0))) == "met"
    assert mf.verdict((0.0, (-0.01, 0.01))) == "met"
    assert mf.verdict((0.01, (-0.02, 0.04))) == "not told apart"
    assert mf.verdict((0.01, (0.0, 0.02))) == "not told apart"  # the interval reaches 0
    assert mf.verdict((0.03, (0.01, 0.05))) == "missed"


def test_seed_counts_per_problem_family_and_an_explicit_list_for_all() -> None:
    from benchmarks.multifidelity import _seeds_for, parse_args

    args = parse_args(["--synthetic-seeds", "20", "--mlp-seeds", "10"])
    assert _seeds_for("mf_branin", args) == list(range(20))
    assert _seeds_for("mf_mlp_digits", args) == list(range(10))
    default = parse_args([])
    assert len(_seeds_for("mf_hartmann6", default)) == 10
    assert len(_seeds_for("mf_mlp_digits", default)) == 3
    explicit = parse_args(["--seeds", "4-5", "--mlp-seeds", "10"])
    assert _seeds_for("mf_mlp_digits", explicit) == [4, 5]
    with pytest.raises(SystemExit):
        parse_args(["--mlp-seeds", "0"])
    assert parse_args(["--title", "More seeds"]).title == "More seeds"


def test_winners_are_remeasured_where_the_problem_offers_it() -> None:
    def job(method: str, seed: int, best: float, fresh: list[float] | None) -> dict[str, Any]:
        record = {
            "kind": "job",
            "problem": "mf_mlp_digits",
            "method": method,
            "seed": seed,
            "top": [[27.0, best + 0.01], [54.0, best]],
            "budget": 270.0,
            "trials": 2,
            "cost": 54.0,
            "seconds": 0.1,
        }
        if fresh is not None:
            record["remeasured"] = fresh
        return record

    jobs = []
    for seed in range(4):
        # the full run's best looks better in the search, but is worse re-measured
        full = job(mf.FULL, seed, 0.010, [0.020, 0.024])
        full["top"] = [[27.0 * k, 0.012 if k <= 10 else 0.010] for k in range(1, 101)]
        full["remeasured_at_budget"] = [0.025, 0.023 - 0.002 * seed]  # 0.024 - 0.001 seed
        jobs.append(full)
        jobs.append(job("ht-asha-gp", seed, 0.015, [0.016, 0.018]))
        jobs.append(job(mf.OPTUNA_HB, seed, 0.020, None if seed == 3 else [0.03]))
    reference = {"mf_mlp_digits": {"median": 0.05, "best": 0.012}}
    methods = ["ht-asha-gp", mf.OPTUNA_HB, mf.FULL]
    summary = mf.summarize(jobs, reference, ["mf_mlp_digits"], methods)
    entry = summary["problems"]["mf_mlp_digits"]
    rows = entry["methods"]
    assert rows["ht-asha-gp"]["remeasured"] == pytest.approx([0.017] * 4)
    assert rows["ht-asha-gp"]["search_best"] == pytest.approx(0.015)
    assert "remeasured" not in rows[mf.OPTUNA_HB]  # one of its runs has none
    assert entry["bar2"] is False  # in the search, the full run's 0.010 is ahead
    lines = mf._remeasured_lines(summary, 10, 100)
    assert "### The winners re-measured: `mf_mlp_digits`" in lines
    # mean 1.70 on every seed (so median 1.70); minus the full run's 2.20: -0.50
    assert (
        "| **`ht-asha-gp`** | 2.0 | 1.50 | 1.70 [1.70, 1.70] | 1.70 | 0.20 | −0.500 [−0.500, −0.500] |"
        in lines
    )
    assert (
        "The second bar on the re-measured errors, `ht-asha-gp` at B minus "
        f"`{mf.FULL}` at 100 evaluations: −0.500 [−0.500, −0.500] points, **met**." in lines
    )
    full_rows = [line for line in lines if line.startswith(f"| `{mf.FULL}`")]
    # B = 270 units = its first 10 evaluations; re-measured 2.4, 2.3, 2.2, 2.1 %
    assert full_rows[0].startswith(f"| `{mf.FULL}` at 10 evaluations | 10.0 | 1.20 | 2.25 [")
    assert full_rows[0].endswith("] | 2.25 | 1.05 | +0.050 [−0.050, +0.150] |")
    assert full_rows[1] == (
        f"| `{mf.FULL}` at 100 evaluations | 100.0 | 1.00 | 2.20 [2.20, 2.20] | 2.20 | 1.20 | — |"
    )
    assert len(full_rows) == 2
    assert not any(mf.OPTUNA_HB in line for line in lines if line.startswith("|"))
    # paired per seed: 2.2 - (2.4, 2.3, 2.2, 2.1) points
    assert any("at 100 minus at 10 evaluations" in line and "−0.050 [" in line for line in lines)
    # A problem exact at the top has nothing to re-measure: no section.
    jobs = [{**j, "problem": "mf_branin"} for j in jobs]
    for j in jobs:
        j.pop("remeasured", None)
    branin = mf.summarize(jobs, {"mf_branin": reference["mf_mlp_digits"]}, ["mf_branin"], methods)
    assert mf._remeasured_lines(branin, 10, 100) == []


def test_a_section_leaves_out_the_bar_whose_reference_method_did_not_run() -> None:
    optimum = mf_branin().optimum
    assert optimum is not None
    reference = {"mf_branin": {"median": optimum + 1.0, "best": optimum}}
    jobs = []
    for seed in range(3):
        jobs.append(_job("ht-asha-gp", seed, [[50.0, optimum + 0.5], [200.0, optimum + 0.1]]))
        jobs.append(_job(mf.OPTUNA_HB, seed, [[27.0, optimum + 0.3]]))
        jobs.append(_job(mf.FULL, seed, [[27.0 * (k + 1), optimum + 0.2] for k in range(10)]))
    meta = {
        "command": "python benchmarks/multifidelity.py",
        "date": "2026-11-25",
        "git": "abc1234",
        "cpu": "test CPU",
        "cores": 2,
        "load": 0.1,
        "python": "3.11",
        "optuna": "5",
        "sklearn": "1",
        "numpy": "2",
        "workers": 1,
        "minutes": 0.1,
        "results_file": "r.jsonl",
        "budget_evals": 10,
        "full_evals": 10,
    }

    def section(methods: list[str]) -> str:
        kept = [j for j in jobs if j["method"] in methods]
        summary = mf.summarize(kept, reference, ["mf_branin"], methods)
        return mf.render_section(summary, [], {**meta, "methods": methods}, kept)

    both = section(["ht-asha-gp", mf.OPTUNA_HB, mf.FULL])
    assert "### Ours against Optuna's Hyperband" in both
    assert "| `mf_branin` | `ht-asha-gp` |" in both
    assert "### A third of the budget against" in both
    no_optuna = section(["ht-asha-gp", mf.FULL])
    assert "Optuna's Hyperband" not in no_optuna
    assert "### A third of the budget against" in no_optuna
    # ours 0.1 on every seed against the full run's 0.2 at its end
    assert "| −0.100 [−0.100, −0.100] | met |" in both
    no_full = section(["ht-asha-gp", mf.OPTUNA_HB])
    assert "### Ours against Optuna's Hyperband" in no_full
    assert "A third of the budget" not in no_full


def test_utilization_is_measured_with_and_without_the_end_of_the_run(tmp_path: Path) -> None:
    row = mf.measure_utilization(2, 16, 0, tmp_path)
    assert row["trials"] == 16 and row["failed"] == 0 and row["replay_ok"]
    assert 0.0 < row["utilization"] <= 1.0 and 0.0 < row["steady_utilization"] <= 1.0
    assert row["idle_tail"] >= 0.0 and row["promotion_problems"] == 0
    lines = mf._utilization_lines([row], {"utilization_repeats": 1})
    assert f"| 2 | {row['utilization']:.2f} (" in "\n".join(lines)
    assert f"| {row['steady_utilization']:.2f} (" in "\n".join(lines)


def test_progress_says_none_for_a_run_that_never_reached_the_top() -> None:
    line = mf._progress({**_job("ht-multistart-gp", 3, []), "promotion_problems": 0})
    assert "best@27 none" in line and "top 0" in line
    line = mf._progress(_job("ht-asha-gp", 3, [[27.0, 0.5]]))
    assert "best@27 0.5 " in line
