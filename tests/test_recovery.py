"""Sessions, heartbeats, lost trials taken over, deterministic parallel studies,
and the kill -9 campaign."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from tests import _objectives

from hypertrail import Float, Int, Space, Study, TrialState
from hypertrail.errors import ConfigError, StudyError
from hypertrail.recovery import Recovery, find_lost
from hypertrail.replay import verify
from hypertrail.storage import open_storage
from hypertrail.testing.campaign import kill_campaign, run_uninterrupted

SPACE = Space({"x": Float(0.0, 1.0), "k": Int(1, 5)})
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}

ASK_AND_HANG = textwrap.dedent(
    """
    import sys, time
    from hypertrail import Study
    study = Study.load("s", sys.argv[1])
    trial = study.ask()
    print(trial.number, flush=True)
    time.sleep(60)
    """
)


def _ask_in_a_process_and_kill_it(tmp_path: Path, url: str) -> int:
    script = tmp_path / "ask.py"
    script.write_text(ASK_AND_HANG)
    proc = subprocess.Popen(
        [sys.executable, str(script), url], stdout=subprocess.PIPE, text=True, env=ENV
    )
    assert proc.stdout is not None
    number = int(proc.stdout.readline())
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    return number


def test_recovery_settings_are_validated() -> None:
    with pytest.raises(ConfigError) as err:
        Recovery(heartbeat=10, grace=5, policy="retry", max_attempts=0)  # type: ignore[arg-type]
    paths = {i.path for i in err.value.issues}
    assert paths == {"recovery.grace", "recovery.policy", "recovery.max_attempts"}


def test_a_trial_of_a_killed_process_is_taken_over_by_the_next_ask(
    tmp_path: Path, sqlite_url: str
) -> None:
    Study.create("s", SPACE, storage=sqlite_url, seed=4, optimizer="random").close()
    number = _ask_in_a_process_and_kill_it(tmp_path, sqlite_url)
    study = Study.load("s", sqlite_url)
    lost = study.lost_trials()
    assert [x.trial.number for x in lost] == [number]
    assert "is gone" in lost[0].reason  # same machine: known at once, no grace to wait
    recorded = study.trials[number].config
    again = study.ask()  # an ask/tell user gets the lost trial first
    assert again.number == number and again.attempt == 1 and again.config == recorded
    study.tell(again, 0.5)
    assert study.trials[number].state is TrialState.COMPLETE
    assert study.trials[number].attempt == 1
    assert study.ask().number == number + 1
    assert verify(study.storage, "s").ok
    study.close()


def test_the_fail_policy_and_spent_attempts_record_a_failure(
    tmp_path: Path, sqlite_url: str
) -> None:
    Study.create("s", SPACE, storage=sqlite_url, optimizer="random").close()
    number = _ask_in_a_process_and_kill_it(tmp_path, sqlite_url)
    with Study.load("s", sqlite_url) as study:
        study.recovery = Recovery(policy="fail")
        fresh = study.ask()
        assert fresh.number == number + 1
        trial = study.trials[number]
        assert trial.state is TrialState.FAILED and (trial.error or "").startswith("lost: ")


def test_silence_past_the_grace_period_makes_a_trial_lost(sqlite_url: str) -> None:
    study = Study.create("s", SPACE, storage=sqlite_url, optimizer="random")
    trial = study.ask()
    study.refresh()
    state = study._state
    own = study.session.id
    recovery = Recovery(heartbeat=1, grace=5)
    now = time.time()
    # another process sees this session as alive while it beats...
    assert find_lost(state, recovery, own_session=None, now=now + 4) == []
    assert find_lost(state, recovery, own_session=own, now=now + 100) == []
    # ...and as lost once silent past the grace, even if its process id looks alive
    lost = find_lost(state, recovery, own_session=None, now=now + 6, alive=lambda p, s: True)
    assert [x.trial.number for x in lost] == [trial.number]
    assert "silent" in lost[0].reason
    study.close()


def test_sessions_beat_while_trials_are_outstanding(sqlite_url: str) -> None:
    study = Study.create("s", SPACE, storage=sqlite_url, optimizer="random")
    study.recovery = Recovery(heartbeat=0.1, grace=1.0)
    trial = study.ask()
    time.sleep(0.6)
    beats = [e for e in study.storage.read("s") if e.kind == "session.heartbeat"]
    assert len(beats) >= 2
    study.tell(trial, 1.0)
    time.sleep(0.2)
    settled = len([e for e in study.storage.read("s") if e.kind == "session.heartbeat"])
    time.sleep(0.5)
    after = len([e for e in study.storage.read("s") if e.kind == "session.heartbeat"])
    assert after == settled, "an idle session does not beat"
    started = next(e for e in study.storage.read("s") if e.kind == "session.started")
    env = started.data["environment"]
    assert env["python"] and env["packages"]["lock_hash"].startswith("sha256:")
    assert started.data["pid"] == os.getpid()
    study.close()


def test_a_worker_killed_mid_trial_is_requeued_and_completes(sqlite_url: str) -> None:
    study = Study.create("s", SPACE, storage=sqlite_url, seed=2, optimizer="random")
    study.optimize(_objectives.dies_on_first_attempt, n_trials=4, workers=2)
    trials = study.trials
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 4
    assert trials[1].attempt == 1 and all(t.attempt == 0 for t in trials if t.number != 1)
    requeued = [e for e in study.storage.read("s") if e.kind == "trial.requeued"]
    assert len(requeued) == 1 and "worker process died" in requeued[0].data["reason"]
    study.close()


def test_a_trial_that_always_kills_its_worker_fails_after_max_attempts(sqlite_url: str) -> None:
    study = Study.create("s", SPACE, storage=sqlite_url, optimizer="random")
    study.optimize(_objectives.dies, n_trials=2, workers=2)
    first = study.trials[0]
    assert first.state is TrialState.FAILED and first.attempt == 2
    assert "after 3 attempts" in (first.error or "") and "exit code 3" in (first.error or "")
    study.close()


def test_trials_record_where_they_ran_and_their_peak_memory(sqlite_url: str) -> None:
    study = Study.create("s", SPACE, storage=sqlite_url, optimizer="random")
    study.optimize(_objectives.allocates, n_trials=2, workers=2)
    for trial in study.trials:
        assert trial.pid is not None and trial.pid != os.getpid()  # a worker process
        assert trial.host and trial.cpu_time is not None
        assert trial.peak_memory is not None and trial.peak_memory > 40 * 2**20
    study.close()


def _signature(url: str, name: str) -> list[tuple[object, ...]]:
    with Study.load(name, url) as study:
        return [
            (t.number, dict(t.config), t.fidelity, t.rung, t.parent, t.values, t.state)
            for t in study.trials
        ]


def test_deterministic_studies_do_not_depend_on_timing_or_workers(tmp_path: Path) -> None:
    runs = {}
    for label, workers in (("a", 3), ("b", 3), ("c", 1)):
        url = f"sqlite:///{tmp_path / label}.db"
        study = Study.create("d", SPACE, storage=url, seed=5, optimizer="tpe", deterministic=3)
        # durations drawn from the clock: completion order differs between runs
        study.optimize(_objectives.jittered, n_trials=24, workers=workers)
        asks = [e for e in study.storage.read("d") if e.kind == "trial.asked"]
        assert [e.data["visible_below"] for e in asks] == [max(0, n - 2) for n in range(24)]
        assert verify(study.storage, "d").ok
        study.close()
        runs[label] = _signature(url, "d")
    assert runs["a"] == runs["b"] == runs["c"]
    assert len({str(r[1]) for r in runs["a"]}) == 24


def test_a_deterministic_ask_refuses_to_run_ahead(sqlite_url: str) -> None:
    study = Study.create("d", SPACE, storage=sqlite_url, optimizer="random", deterministic=2)
    first, second = study.ask(), study.ask()
    with pytest.raises(StudyError, match="trial 0 must end"):
        study.ask()
    study.tell(first, 1.0)
    assert study.ask().number == 2
    study.tell(second, 2.0)
    study.close()


def test_the_mode_of_a_study_cannot_change(sqlite_url: str) -> None:
    Study.create("d", SPACE, storage=sqlite_url, deterministic=2).close()
    with pytest.raises(StudyError, match="mode"):
        Study.create("d", SPACE, storage=sqlite_url, load_if_exists=True)
    # the number of workers may change: the recorded one keeps proposals identical
    Study.create("d", SPACE, storage=sqlite_url, load_if_exists=True, deterministic=4).close()


HYBRID_EARLY = {"name": "hybrid", "min_sweep": 4, "patience": 1}  # reaches stage 2 in 14


@pytest.mark.parametrize(
    "optimizer", ["random", "sobol", "tpe", "gp", "cmaes", "evolution", HYBRID_EARLY]
)
@pytest.mark.parametrize("deterministic", [False, True])
def test_replay_passes_for_every_optimizer_with_four_workers(
    optimizer: Any, deterministic: bool, sqlite_url: str
) -> None:
    study = Study.create(
        "r",
        SPACE,
        storage=sqlite_url,
        seed=1,
        optimizer=optimizer,
        deterministic=4 if deterministic else False,
    )
    study.optimize(_objectives.jittered, n_trials=14, workers=4)
    report = verify(study.storage, "r")
    assert report.ok, report.mismatches[:1]
    assert report.checked == 14
    study.close()


def test_kill_9_campaign_resumes_with_nothing_lost_and_the_same_study(tmp_path: Path) -> None:
    killed = f"sqlite:///{tmp_path / 'killed.db'}"
    result = kill_campaign(killed, kills=20, trials=120, workers=2, optimizer="tpe", seed=3)
    assert result.kills >= 20, result
    log = open_storage(killed)
    study = Study.load("campaign", log)
    trials = study.trials
    # no trial lost, none doubled, none left running
    assert [t.number for t in trials] == list(range(120))
    assert all(t.state is TrialState.COMPLETE for t in trials)
    ended = [e.trial for e in log.read("campaign") if e.kind in ("trial.completed", "trial.failed")]
    assert None not in ended
    assert sorted(t for t in ended if t is not None) == list(range(120))
    # every acknowledged result is there, unchanged
    for number, value in result.acknowledged.items():
        assert trials[number].value == value
    assert sum(t.attempt for t in trials) >= 1, "some kills must have hit running trials"
    assert verify(log, "campaign").ok
    study.close()
    log.close()
    # deterministic mode: identical to a run that was never interrupted
    reference = f"sqlite:///{tmp_path / 'reference.db'}"
    run_uninterrupted(reference, trials=120, workers=2, optimizer="tpe", seed=3, deterministic=True)
    assert _signature(killed, "campaign") == _signature(reference, "campaign")


ASHA = {
    "name": "asha",
    "optimizer": "tpe",
    "fidelity": {"name": "epochs", "min": 1, "max": 9, "eta": 3},
}


def test_kill_9_under_asha_resumes_with_rungs_and_checkpoints_intact(tmp_path: Path) -> None:
    killed = f"sqlite:///{tmp_path / 'killed.db'}"
    result = kill_campaign(killed, kills=10, trials=80, workers=2, optimizer=ASHA, seed=3)
    assert result.kills >= 10, result
    log = open_storage(killed)
    study = Study.load("campaign", log)
    trials = study.trials
    assert [t.number for t in trials] == list(range(80))
    assert all(t.state is TrialState.COMPLETE for t in trials)
    for number, value in result.acknowledged.items():
        assert trials[number].value == value
    promoted = [t for t in trials if t.parent is not None]
    assert {t.rung for t in promoted} == {1, 2}, "promotions must reach the top rung"
    # A promotion trained only the epochs above its parent's: its first report is the
    # epoch after them, whether or not its worker was killed on the way. (An attempt
    # killed after its last epoch was saved leaves the retry nothing to train or report.)
    for t in promoted:
        parent = trials[t.parent or 0]
        if t.reports:
            assert t.reports[0][0] > (parent.fidelity or 0), (t.number, t.reports)
        else:
            assert t.attempt > 0, t
    assert sum(t.attempt for t in trials) >= 1, "some kills must have hit running trials"
    assert verify(log, "campaign").ok
    study.close()
    log.close()
    reference = f"sqlite:///{tmp_path / 'reference.db'}"
    run_uninterrupted(reference, trials=80, workers=2, optimizer=ASHA, seed=3, deterministic=True)
    # the same configurations at the same rungs, promoted from the same parents
    assert _signature(killed, "campaign") == _signature(reference, "campaign")
