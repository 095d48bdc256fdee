"""Study: create/load, ask/tell, optimize, failures, budgets, determinism."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from tests import _objectives

from hypertrail import (
    Categorical,
    Float,
    Int,
    ObjectiveError,
    Space,
    Study,
    StudyError,
    TrialState,
    TrialStateError,
)
from hypertrail.history import History
from hypertrail.optimizers.base import Proposal
from hypertrail.optimizers.random import RandomSearch
from hypertrail.recovery import Recovery
from hypertrail.replay import verify
from hypertrail.storage import open_storage
from hypertrail.storage.events import TRIAL_ASKED


@pytest.fixture
def space() -> Space:
    return Space(
        {
            "x": Float(0.0, 1.0),
            "kind": Categorical(["a", "b"]),
            "n": Int(1, 3, when="kind == 'b'"),
        }
    )


def test_create_ask_tell_and_load(space: Space, sqlite_url: str) -> None:
    study = Study.create(
        "s", space, metrics={"loss": "minimize"}, storage=sqlite_url, seed=5, optimizer="random"
    )
    trial = study.ask()
    assert trial.number == 0 and set(trial.config) <= {"x", "kind", "n"}
    frozen = study.tell(trial, {"loss": 0.5, "note": "extra"})
    assert frozen.state is TrialState.COMPLETE and frozen.values == {"loss": 0.5}
    assert frozen.extras == {"note": "extra"}
    study.close()
    again = Study.load("s", sqlite_url)
    assert again.seed == 5 and again.space == space
    assert [t.state for t in again.trials] == [TrialState.COMPLETE]
    assert again.best.number == 0
    again.close()


def test_tell_twice_is_refused(space: Space) -> None:
    study = Study.create("s", space, optimizer="random")
    trial = study.ask()
    study.tell(trial, 1.0)
    with pytest.raises(TrialStateError, match="already ended"):
        study.tell(trial, 2.0)
    with pytest.raises(TrialStateError, match="no trial 7"):
        study.tell(7, 1.0)


def test_tell_by_another_process_wins_once(space: Space, sqlite_url: str) -> None:
    one = Study.create("s", space, storage=sqlite_url, optimizer="random")
    two = Study.load("s", sqlite_url)
    trial = one.ask()
    two.tell(trial.number, 1.0)
    with pytest.raises(TrialStateError):
        one.tell(trial, 2.0)
    assert one.trials[0].values == {"value": 1.0}


def test_nan_is_a_failure_and_wrong_shape_is_an_error(space: Space) -> None:
    study = Study.create("s", space, optimizer="random")
    failed = study.tell(study.ask(), math.nan)
    assert failed.state is TrialState.FAILED and "not finite" in (failed.error or "")
    trial = study.ask()
    with pytest.raises(ObjectiveError, match="expected a number"):
        study.tell(trial, "oops")
    assert study.trials[trial.number].state is TrialState.RUNNING


def test_best_without_complete_trials(space: Space) -> None:
    with pytest.raises(StudyError, match="no complete trial"):
        _ = Study.create("s", space, optimizer="random").best


def test_maximize(space: Space) -> None:
    study = Study.create("s", space, metrics={"acc": "maximize"}, seed=2, optimizer="random")
    study.optimize(lambda t: t.config["x"], n_trials=30)
    assert study.best.value == max(t.value for t in study.trials if t.value is not None)


def test_multi_metric_values(space: Space) -> None:
    study = Study.create(
        "s", space, metrics={"err": "minimize", "latency": "minimize"}, optimizer="random"
    )
    study.optimize(lambda t: (t.config["x"], 1.0 - t.config["x"]), n_trials=5)
    assert all(set(t.values or {}) == {"err", "latency"} for t in study.trials)


def test_failures_are_recorded_and_the_study_goes_on(space: Space) -> None:
    study = Study.create("s", space, optimizer="random")
    study.optimize(_objectives.raises_on_odd, n_trials=6)
    states = [t.state for t in study.trials]
    assert states == [TrialState.COMPLETE, TrialState.FAILED] * 3
    failed = study.trials[1]
    assert failed.error == "ValueError: odd trial 1"
    assert "Traceback" in (failed.traceback or "") and "raises_on_odd" in (failed.traceback or "")


def test_wrong_shape_from_objective_fails_the_trial(space: Space) -> None:
    study = Study.create("s", space, optimizer="random")
    study.optimize(_objectives.wrong_shape, n_trials=2)
    assert all(t.state is TrialState.FAILED for t in study.trials)
    assert "expected a number" in (study.trials[0].error or "")


def test_budget_continues_up_to_max_trials(space: Space, sqlite_url: str) -> None:
    study = Study.create("s", space, storage=sqlite_url, seed=1, optimizer="random")
    study.optimize(_objectives.quadratic, max_trials=4)
    assert len(study.trials) == 4
    study.optimize(_objectives.quadratic, max_trials=4)
    assert len(study.trials) == 4
    study.optimize(_objectives.quadratic, max_trials=7)
    assert len(study.trials) == 7


def test_unbounded_optimize_is_refused(space: Space) -> None:
    with pytest.raises(StudyError, match="never ends"):
        Study.create("s", space, optimizer="random").optimize(_objectives.quadratic)


def test_same_seed_same_configurations(space: Space, tmp_path: Path) -> None:
    def run(path: Path, optimizer: str) -> list[dict[str, object]]:
        study = Study.create("s", space, storage=path, seed=11, optimizer=optimizer)
        study.optimize(_objectives.quadratic, n_trials=15)
        configs = [dict(t.config) for t in study.trials]
        study.close()
        return configs

    for optimizer in ("random", "sobol"):
        a = run(tmp_path / f"a-{optimizer}.db", optimizer)
        b = run(tmp_path / f"b-{optimizer}.db", optimizer)
        assert a == b
    assert run(tmp_path / "c.db", "random") != run(tmp_path / "d.db", "sobol")


def test_trial_seed_and_rng_are_derived_from_study_seed(space: Space) -> None:
    one = Study.create("s", space, seed=3, optimizer="random")
    two = Study.create("s", space, seed=3, optimizer="random")
    other = Study.create("s", space, seed=4, optimizer="random")
    for study in (one, two, other):
        study.optimize(_objectives.seeded, n_trials=3)
    extras = [[t.extras["seed"] for t in s.trials] for s in (one, two, other)]
    assert extras[0] == extras[1] != extras[2]
    assert len(set(extras[0])) == 3
    assert [t.value for t in one.trials] == [t.value for t in two.trials]


def test_load_if_exists_checks_the_study_is_the_same(space: Space, sqlite_url: str) -> None:
    Study.create("s", space, storage=sqlite_url, seed=1, optimizer="random").close()
    with pytest.raises(StudyError, match="already exists"):
        Study.create("s", space, storage=sqlite_url, seed=1, optimizer="random")
    Study.create(
        "s", space, storage=sqlite_url, seed=1, load_if_exists=True, optimizer="random"
    ).close()
    with pytest.raises(StudyError, match="different seed"):
        Study.create(
            "s", space, storage=sqlite_url, seed=2, load_if_exists=True, optimizer="random"
        )
    other = Space({"x": Float(0.0, 2.0)})
    with pytest.raises(StudyError, match="different space"):
        Study.create(
            "s", other, storage=sqlite_url, seed=1, load_if_exists=True, optimizer="random"
        )


def test_load_unknown_study_lists_the_known_ones(space: Space, sqlite_url: str) -> None:
    Study.create("known", space, storage=sqlite_url, optimizer="random").close()
    with pytest.raises(StudyError, match="studies there: known"):
        Study.load("unknown", sqlite_url)


def test_bad_arguments(space: Space) -> None:
    with pytest.raises(StudyError, match="seed"):
        Study.create("s", space, seed=-1, optimizer="random")
    with pytest.raises(StudyError, match="goal"):
        Study.create("s", space, metrics={"a": "minimise"}, optimizer="random")
    with pytest.raises(StudyError, match="name"):
        Study.create("", space, optimizer="random")
    with pytest.raises(Exception, match=r"unknown optimizer 'sobl'.*did you mean 'sobol'"):
        Study.create("s", space, optimizer="sobl")


def test_every_ask_records_cursor_and_rng_key(space: Space, sqlite_url: str) -> None:
    study = Study.create("s", space, storage=sqlite_url, seed=9, optimizer="random")
    study.optimize(_objectives.quadratic, n_trials=5)
    log = open_storage(sqlite_url)
    asks = [e for e in log.read("s") if e.kind == TRIAL_ASKED]
    assert [e.trial for e in asks] == list(range(5))
    for event in asks:
        assert event.data["rng"] == {"seed": 9, "trial": event.trial, "purpose": "propose"}
        assert 0 < event.data["cursor"] < (event.seq or 0)
    log.close()


@pytest.mark.parametrize("optimizer", ["random", "sobol", "grid"])
def test_recorded_proposals_replay_exactly(optimizer: str, sqlite_url: str) -> None:
    space = Space(
        {"k": Int(1, 4), "c": Categorical(["a", "b", "c"]), "m": Int(0, 3, when="c != 'a'")}
    )
    study = Study.create("s", space, storage=sqlite_url, seed=4, optimizer=optimizer)
    study.optimize(_objectives.noop, n_trials=12)
    report = verify(study.storage, "s")
    assert report.ok and report.checked == 12


def test_each_proposal_records_the_revisions_of_its_optimizers(sqlite_url: str) -> None:
    space = Space({"x": Float(0.0, 1.0)})
    plan = {
        "name": "asha",
        "optimizer": "random",
        "fidelity": {"name": "epochs", "min": 1, "max": 9},
    }
    study = Study.create("s", space, storage=sqlite_url, seed=0, optimizer=plan)
    study.optimize(lambda t: t.config["x"], n_trials=6)
    asks = [e for e in study.storage.read("s") if e.kind == TRIAL_ASKED]
    assert len(asks) == 6
    assert all(e.data["revisions"] == {"asha": 5, "random": 1} for e in asks)


def _shifted(
    self: RandomSearch, space: Space, history: History, rng: np.random.Generator, n: int = 1
) -> list[Proposal]:
    """A "new version" of random search: it skips one draw before proposing."""
    space.sample(rng)
    return [Proposal(space.sample(rng), "random") for _ in range(n)]


def test_replay_after_an_algorithm_change_says_which_revision_changed(
    space: Space, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    study = Study.create("s", space, storage=sqlite_url, seed=3, optimizer="random")
    study.optimize(_objectives.noop, n_trials=5)
    monkeypatch.setattr(RandomSearch, "propose", _shifted)
    # Changed without a revision: the replay cannot tell why (a bug, or a changed log).
    silent = verify(study.storage, "s")
    assert len(silent.mismatches) == 5
    assert all("revision" not in m.detail for m in silent.mismatches)
    # Changed with a revision, as every change of proposals must be.
    monkeypatch.setattr(RandomSearch, "revision", 2, raising=False)
    report = verify(study.storage, "s")
    assert len(report.mismatches) == 5
    first = report.mismatches[0].detail
    assert first.startswith("configuration differs: ")
    assert "random is at revision 2 here, 1 when this trial was proposed" in first
    assert "replay with the hypertrail that recorded the study" in first


def test_replay_of_a_log_without_revisions_says_so(space: Space, tmp_path: Path) -> None:
    import json
    import sqlite3

    db = tmp_path / "old.db"
    study = Study.create("s", space, storage=f"sqlite:///{db}", seed=3, optimizer="random")
    study.optimize(_objectives.noop, n_trials=3)
    study.close()
    # As a hypertrail before revisions were kept wrote it, then trial 1 changed.
    with sqlite3.connect(db) as conn:
        for seq, data in conn.execute(
            "SELECT seq, data FROM hypertrail_events WHERE kind='trial.asked'"
        ).fetchall():
            payload = json.loads(data)
            del payload["revisions"]
            if payload["config"]["kind"] == "a":
                payload["config"]["x"] = 0.5
            else:
                payload["config"]["kind"] = "a"
                payload["config"].pop("n", None)
            conn.execute(
                "UPDATE hypertrail_events SET data=? WHERE seq=?", (json.dumps(payload), seq)
            )
    log = open_storage(f"sqlite:///{db}")
    report = verify(log, "s")
    log.close()
    assert len(report.mismatches) == 3
    assert all("records no optimizer revisions" in m.detail for m in report.mismatches)


def test_config_keeps_space_order(space: Space, sqlite_url: str) -> None:
    study = Study.create("s", space, storage=sqlite_url, seed=0, optimizer="random")
    study.optimize(_objectives.noop, n_trials=10)
    again = Study.load("s", sqlite_url)
    for trial in again.trials:
        assert list(trial.config) == [n for n in space.names if n in trial.config]


def test_wall_time_stops_asking(space: Space) -> None:
    study = Study.create("s", space, optimizer="random")
    study.optimize(_objectives.short_sleep, wall_time=0.3)
    trials = study.trials
    assert 1 <= len(trials) < 100
    assert all(t.state is TrialState.COMPLETE for t in trials)


def test_interrupt_leaves_the_running_trial_for_the_next_run(space: Space, sqlite_url: str) -> None:
    study = Study.create("s", space, storage=sqlite_url, optimizer="random")
    with pytest.raises(KeyboardInterrupt):
        study.optimize(_objectives.interrupts_at_three, n_trials=10)
    study.close()  # ends the session: its running trial is lost at once
    again = Study.load("s", sqlite_url)
    trials = again.trials
    assert len(trials) == 4 and trials[3].state is TrialState.RUNNING
    lost = again.lost_trials()
    assert [x.trial.number for x in lost] == [3] and "ended" in lost[0].reason
    again.optimize(_objectives.noop, max_trials=4)
    trials = again.trials
    assert len(trials) == 4  # taken over, not asked again
    assert trials[3].state is TrialState.COMPLETE and trials[3].attempt == 1
    again.close()


def test_interrupt_under_the_fail_policy_fails_the_running_trial(
    space: Space, sqlite_url: str
) -> None:
    study = Study.create("s", space, storage=sqlite_url, optimizer="random")
    study.recovery = Recovery(policy="fail")
    with pytest.raises(KeyboardInterrupt):
        study.optimize(_objectives.interrupts_at_three, n_trials=10)
    trials = Study.load("s", sqlite_url).trials
    assert len(trials) == 4
    assert trials[3].state is TrialState.FAILED and trials[3].error == "interrupted"
