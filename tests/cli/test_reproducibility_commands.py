"""replay, show, lock / --amend, rerun, and the plan keys behind them."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from tests.cli.test_commands import invoke, write_plan

from hypertrail import Study
from hypertrail.errors import PlanError
from hypertrail.plan import load_plan


def _db(plan: Path) -> Path:
    return plan.parent / "toy.db"


def test_replay_passes_then_names_the_tampered_trial(tmp_path: Path) -> None:
    plan = write_plan(tmp_path / "a", trials=10)
    plan.write_text(plan.read_text().replace("optimizer: random", "optimizer: tpe"))
    assert invoke("run", str(plan), "--no-progress")[0] == 0
    code, out, _ = invoke("replay", str(plan))
    assert code == 0 and "all 10 proposals identical" in out
    assert out.count(": identical") == 10
    # change trial 6's recorded configuration behind hypertrail's back
    with sqlite3.connect(_db(plan)) as conn:
        seq, data = conn.execute(
            "SELECT seq, data FROM hypertrail_events WHERE kind='trial.asked' AND trial=6"
        ).fetchone()
        payload = json.loads(data)
        payload["config"]["act"] = "tanh" if payload["config"]["act"] == "relu" else "relu"
        conn.execute("UPDATE hypertrail_events SET data=? WHERE seq=?", (json.dumps(payload), seq))
    code, out, err = invoke("replay", str(plan), "--quiet")
    assert code == 1
    assert "trial 6: DIFFERENT: configuration differs: act" in out
    assert "the first is trial 6" in err
    assert "trial 5" not in out  # earlier trials are still identical


def test_show_prints_the_record_environment_and_lineage(tmp_path: Path) -> None:
    plan = write_plan(tmp_path / "a", trials=24)
    plan.write_text(
        plan.read_text().replace(
            "optimizer: random", "optimizer: {name: evolution, population_size: 6, sample_size: 3}"
        )
    )
    assert invoke("run", str(plan), "--no-progress")[0] == 0
    with Study.load("toy", f"sqlite:///{_db(plan)}") as study:
        child = next(t for t in study.trials if t.parent is not None)
    code, out, _ = invoke("show", str(plan), str(child.number), "--json")
    assert code == 0
    record = json.loads(out)
    assert record["trial"]["config"] == dict(child.config)
    assert record["lineage"]["ancestors"][0]["number"] == child.parent
    session = next(iter(record["sessions"].values()))
    assert session["python"] and session["packages"]["lock_hash"].startswith("sha256:")
    assert session["plan_hash"] == load_plan(plan).hash
    assert [e["kind"] for e in record["events"]] == ["trial.asked", "trial.completed"]
    code, out, _ = invoke("show", str(plan), str(child.number))
    assert code == 0 and f"ancestors  #{child.parent}" in out and "session" in out
    code, _, err = invoke("show", str(plan), "99")
    assert code == 1 and "no trial 99" in err


def test_lock_refuses_a_changed_plan_until_amended(tmp_path: Path) -> None:
    plan = write_plan(tmp_path / "a", trials=4)
    code, out, _ = invoke("lock", str(plan))
    assert code == 0 and "locked plan" in out
    assert invoke("lock", str(plan))[1].startswith("study 'toy' is already locked")
    assert invoke("run", str(plan), "--no-progress")[0] == 0
    plan.write_text(plan.read_text().replace("trials: 4", "trials: 6"))
    code, _, err = invoke("run", str(plan), "--no-progress")
    assert code == 1 and "locked and has changed (budget)" in err and "--amend" in err
    with Study.load("toy", f"sqlite:///{_db(plan)}") as study:
        assert len(study.trials) == 4  # nothing ran
    code, _, err = invoke("run", str(plan), "--no-progress", "--amend", "more budget after review")
    assert code == 0, err
    assert "amended (budget): more budget after review" in err
    with Study.load("toy", f"sqlite:///{_db(plan)}") as study:
        assert len(study.trials) == 6
        kinds = [r["kind"] for r in study._state.locks]
        assert kinds == ["plan.locked", "plan.amended"]
        assert study._state.locks[1]["changed"] == ["budget"]
    # the amended plan is now the locked one
    assert invoke("run", str(plan), "--no-progress")[0] == 0


def test_rerun_adds_seeds_to_the_best_configurations(tmp_path: Path) -> None:
    plan = write_plan(tmp_path / "a", trials=8)
    assert invoke("run", str(plan), "--no-progress")[0] == 0
    code, out, err = invoke("rerun", str(plan), "--best", "2", "--seeds", "3")
    assert code == 0, err
    assert "reruns of loss" in out
    with Study.load("toy", f"sqlite:///{_db(plan)}") as study:
        reruns = study._state.reruns
        assert len(reruns) == 2 and all(len(v) == 3 for v in reruns.values())
        seeds = {r["seed"] for v in reruns.values() for r in v}
        assert len(seeds) == 6  # a new seed per replicate
        assert len(study.trials) == 8  # reruns are not trials
    # asking for more seeds runs only the missing replicates
    assert invoke("rerun", str(plan), "--best", "2", "--seeds", "4")[0] == 0
    with Study.load("toy", f"sqlite:///{_db(plan)}") as study:
        assert all(len(v) == 4 for v in study._state.reruns.values())


def test_plan_reproducibility_keys_are_validated_with_lines(tmp_path: Path) -> None:
    plan = write_plan(
        tmp_path / "a",
        extra=(
            "deterministic: yes please\n"
            "recovery: {grace: 1s, heartbeat: 5s, policy: retry, attempts: 3}\n"
            "data: [missing.csv]\n"
        ),
    )
    with pytest.raises(PlanError) as err:
        load_plan(plan)
    paths = {i.path: i for i in err.value.issues}
    assert {
        "deterministic",
        "recovery.grace",
        "recovery.policy",
        "recovery.attempts",
        "data.0",
    } <= set(paths)
    assert all(i.line is not None for i in paths.values())


def test_data_fingerprints_are_recorded_with_each_run(tmp_path: Path) -> None:
    folder = tmp_path / "a"
    plan = write_plan(folder, trials=3, extra="data: [train.csv]\ndeterministic: true\n")
    (folder / "train.csv").write_text("a,b\n1,2\n")
    assert invoke("run", str(plan), "--no-progress")[0] == 0
    (folder / "train.csv").write_text("a,b\n1,3\n")
    # the data are not part of the plan's hash: the run goes on and records the new print
    assert invoke("run", str(plan), "--no-progress", "--trials", "4")[0] == 0
    with Study.load("toy", f"sqlite:///{_db(plan)}") as study:
        starts = [e.data for e in study.storage.read("toy") if e.kind == "session.started"]
        prints = [s["data"][0]["sha256"] for s in starts]
        assert study.deterministic == 1
    assert len(prints) == 2 and prints[0] != prints[1]
