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
