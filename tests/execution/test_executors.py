"""Worker processes: results, timeouts, crashed workers, command objectives."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from tests import _objectives

from hypertrail import Float, ObjectiveError, Space, Study, TrialState
from hypertrail.execution import CommandObjective, ProcessExecutor
from hypertrail.trial import Metric, Trial


@pytest.fixture
def space() -> Space:
    return Space({"x": Float(0.0, 1.0)})


def test_two_workers_run_trials_in_other_processes(space: Space, sqlite_url: str) -> None:
    import os

    study = Study.create("s", space, storage=sqlite_url, seed=2, optimizer="random")
    study.optimize(_objectives.seeded, n_trials=6, workers=2)
    trials = study.trials
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 6
    pids = {t.extras["pid"] for t in trials}
    assert os.getpid() not in pids and 1 <= len(pids) <= 2


def test_worker_results_equal_in_process_results(space: Space) -> None:
    sequential = Study.create("s", space, seed=8, optimizer="random")
    sequential.optimize(_objectives.seeded, n_trials=4)
    parallel = Study.create("s", space, seed=8, optimizer="random")
    parallel.optimize(_objectives.seeded, n_trials=4, workers=2)
    by_number = {t.number: (t.config, t.value, t.extras["seed"]) for t in parallel.trials}
    assert by_number == {t.number: (t.config, t.value, t.extras["seed"]) for t in sequential.trials}


def test_timeout_fails_the_trial_and_the_study_goes_on(space: Space) -> None:
    study = Study.create("s", space, optimizer="random")
    study.optimize(_objectives.sleeps, n_trials=3, workers=1, timeout=1.0)
    trials = study.trials
    assert trials[0].state is TrialState.FAILED and "timed out after 1 s" in (trials[0].error or "")
    assert [t.state for t in trials[1:]] == [TrialState.COMPLETE] * 2


def test_a_dying_worker_fails_its_trial_only(space: Space) -> None:
    study = Study.create("s", space, optimizer="random")
    study.optimize(_objectives.dies, n_trials=3, workers=2)
    trials = study.trials
    assert trials[0].state is TrialState.FAILED and "exit code 3" in (trials[0].error or "")
    assert [t.state for t in trials[1:]] == [TrialState.COMPLETE] * 2


def test_objectives_must_be_importable_for_workers(space: Space) -> None:
    study = Study.create("s", space, optimizer="random")
    with pytest.raises(ObjectiveError, match="importable"):
        study.optimize(lambda t: 0.0, n_trials=2, workers=2)
    assert study.trials == []


def test_process_executor_rejects_zero_workers() -> None:
    with pytest.raises(ValueError):
        ProcessExecutor(_objectives.noop, [Metric("v", "minimize")], workers=0)


def _trial(config: dict[str, object]) -> Trial:
    return Trial.from_task({"study": "s", "number": 3, "config": config, "seed": 1})


def test_command_objective_reads_the_last_json_line(tmp_path: Path) -> None:
    script = tmp_path / "train.py"
    script.write_text(
        "import json, os, sys\n"
        "print('epoch 1 loss 0.9')\n"
        "print(json.dumps({'loss': float(sys.argv[1]) * 2, 'layers': sys.argv[2]}))\n"
        "print(json.dumps({'loss': float(sys.argv[1]), 'trial': os.environ['HYPERTRAIL_TRIAL']}))\n"
        "print('done')\n"
    )
    objective = CommandObjective(f"{sys.executable} {script} {{lr}} {{layers.0.width}}")
    result = objective(_trial({"lr": 0.5, "layers.0.width": 32}))
    assert result == {"loss": 0.5, "trial": "3"}


def test_command_objective_gets_the_fidelity_and_checkpoint_folder(tmp_path: Path) -> None:
    script = tmp_path / "train.py"
    script.write_text(
        "import json, os, sys\n"
        "print(json.dumps({'loss': 1.0, 'args': sys.argv[1:],\n"
        "    'env': [os.environ.get('HYPERTRAIL_FIDELITY'),\n"
        "            os.environ.get('HYPERTRAIL_CHECKPOINT_DIR')]}))\n"
    )
    objective = CommandObjective(
        f"{sys.executable} {script} --epochs {{fidelity}} {{checkpoint_dir}}"
    )
    folder = tmp_path / "ckpt" / "7"
    task = {"study": "s", "number": 3, "config": {}, "seed": 1, "checkpoint_dir": str(folder)}
    at_9 = objective(Trial.from_task({**task, "fidelity": 9.0, "rung": 1}))
    assert at_9["args"] == ["--epochs", "9", str(folder)]
    assert at_9["env"] == ["9", str(folder)] and folder.is_dir()
    fraction = objective(Trial.from_task({**task, "fidelity": 0.25, "rung": 0}))
    assert fraction["args"][1] == "0.25" and fraction["env"][0] == "0.25"
    plain = CommandObjective(f"{sys.executable} {script} {{trial_number}}")(_trial({}))
    assert plain["args"] == ["3"] and plain["env"] == [None, None]


def test_command_values_cannot_inject_shell(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    objective = CommandObjective(
        f"{sys.executable} -c \"import sys, json; print(json.dumps({{'v': len(sys.argv[1])}}))\" {{name}}"
    )
    result = objective(_trial({"name": f"x; touch {marker}"}))
    assert result == {"v": len(f"x; touch {marker}")} and not marker.exists()


def test_command_failures_are_explained(tmp_path: Path) -> None:
    fails = CommandObjective(
        f"{sys.executable} -c \"import sys; sys.stderr.write('bad input'); sys.exit(4)\""
    )
    with pytest.raises(ObjectiveError, match="exited with code 4: bad input"):
        fails(_trial({}))
    silent = CommandObjective(f"{sys.executable} -c \"print('no json')\"")
    with pytest.raises(ObjectiveError, match="no JSON object"):
        silent(_trial({}))
    slow = CommandObjective(f'{sys.executable} -c "import time; time.sleep(10)"', timeout=0.5)
    with pytest.raises(ObjectiveError, match="timed out"):
        slow(_trial({}))


_REPORTING = """
import json, signal, sys, time
def stopped(signum, frame):
    print(json.dumps({"loss": loss, "step": step, "got": "SIGTERM"}))
    sys.exit(0)
signal.signal(signal.SIGTERM, stopped)
step, loss = 0, 1.0
print("not json", flush=False)
while True:  # never ends by itself: only a stop (or the time limit) ends it
    step, loss = step + 1, 1.0 / (step + 1)
    print(json.dumps({"step": step, "loss": loss, "other": 1}))
    time.sleep(0.02)
"""


def test_command_reports_stream_and_a_stop_ends_the_command(tmp_path: Path) -> None:
    """Each {"step", metric} line reaches trial.report while the command runs; the
    scheduler's stop sends SIGTERM, and the command's last JSON line is the result."""
    script = tmp_path / "train.py"
    script.write_text(_REPORTING)
    seen: list[tuple[int, float, float]] = []

    def reporter(number: int, step: float, value: float) -> bool:
        seen.append((number, step, value))
        return step >= 3

    trial = Trial.from_task({"study": "s", "number": 3, "config": {}, "seed": 1}, reporter)
    objective = CommandObjective(f"{sys.executable} {script}", metric="loss", timeout=60)
    result = objective(trial)
    assert seen[:3] == [(3, 1.0, 1.0), (3, 2.0, 0.5), (3, 3.0, 1 / 3)]
    assert trial.should_stop() and len(seen) == 3  # nothing reported after the stop
    assert result["got"] == "SIGTERM" and result["step"] >= 3
    unreported = Trial.from_task({"study": "s", "number": 3, "config": {}, "seed": 1}, reporter)
    with pytest.raises(ObjectiveError, match="timed out"):  # no metric: no line is a report
        CommandObjective(f"{sys.executable} {script}", timeout=1)(unreported)
    assert len(seen) == 3


def test_a_command_that_ignores_sigterm_is_killed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hypertrail.execution import command

    monkeypatch.setattr(command, "STOP_GRACE", 0.5)
    script = tmp_path / "stubborn.py"
    script.write_text(
        "import json, signal, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "print(json.dumps({'step': 1, 'loss': 0.5}))\n"
        "time.sleep(600)\n"
    )
    trial = Trial.from_task(
        {"study": "s", "number": 0, "config": {}, "seed": 1}, lambda n, s, v: True
    )
    result = CommandObjective(f"{sys.executable} {script}", metric="loss", timeout=60)(trial)
    assert result == {"step": 1, "loss": 0.5}  # killed (-9), not a failure: it was stopped


def test_median_stopping_ends_command_trials(tmp_path: Path) -> None:
    """Under the median scheduler a command's reports are recorded and bad trials are
    ended early, in worker processes too."""
    script = tmp_path / "curve.py"
    script.write_text(
        "import json, sys\n"
        "x = float(sys.argv[1])\n"
        "for step in range(1, 11):\n"
        "    print(json.dumps({'step': step, 'loss': (x - 0.3) ** 2 + 1.0 / step}))\n"
    )
    study = Study.create(
        "s",
        Space({"x": Float(0.0, 1.0)}),
        storage=f"sqlite:///{tmp_path / 's.db'}",
        seed=3,
        metrics="loss",
        optimizer={"name": "median", "min_trials": 2},
    )
    study.optimize(CommandObjective(f"{sys.executable} {script} {{x}}"), n_trials=8, workers=2)
    trials = study.trials
    assert all(t.state is TrialState.COMPLETE for t in trials)
    assert all(t.reports for t in trials)
    stopped = [t for t in trials if t.stopped is not None]
    assert stopped
    for t in stopped:  # the result is the line of the step it was stopped at, or a later one
        assert t.value == pytest.approx((t.config["x"] - 0.3) ** 2 + 1.0 / t.extras["step"])
        assert t.extras["step"] >= t.stopped


def test_command_objective_in_a_study(space: Space) -> None:
    objective = CommandObjective(
        f"{sys.executable} -c \"import json,sys; x=float(sys.argv[1]); print(json.dumps({{'value': (x-0.5)**2}}))\" {{x}}"
    )
    study = Study.create("s", space, seed=1, optimizer="random")
    study.optimize(objective, n_trials=3, workers=2)
    assert all(t.state is TrialState.COMPLETE for t in study.trials)
    assert all(t.value == pytest.approx((t.config["x"] - 0.5) ** 2) for t in study.trials)


def test_an_idle_worker_killed_between_trials_is_replaced(space: Space) -> None:
    import signal

    from hypertrail.execution.processes import ProcessExecutor
    from hypertrail.trial import Metric

    executor = ProcessExecutor(_objectives.noop, [Metric("value", "minimize")], 1)
    try:
        study = Study.create("s", space, optimizer="random")
        first = study.ask()
        executor.submit(first.to_task())
        assert [o.ok for o in executor.results()] == [True]
        victim = executor._workers[0].process
        os.kill(victim.pid, signal.SIGKILL)
        victim.join(timeout=10)
        second = study.ask()
        executor.submit(second.to_task())  # no BrokenPipeError: a fresh worker runs it
        outcomes = list(executor.results())
        assert [(o.number, o.ok) for o in outcomes] == [(second.number, True)]
        assert executor._workers[0].process.pid != victim.pid
    finally:
        executor.close()


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, dead but not yet reaped, does not)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in status


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_command_dies_with_its_worker(tmp_path: Path) -> None:
    """A worker killed on a time limit takes its command with it: nothing keeps
    training (and writing to the checkpoint folder) after the trial has failed."""
    import time

    pids = tmp_path / "pids"
    script = tmp_path / "hang.py"
    script.write_text(
        "import os, sys, time\n"
        f"open({str(pids)!r}, 'a').write(f'{{os.getpid()}}\\n')\n"
        "time.sleep(600)\n"
    )
    study = Study.create("s", Space({"x": Float(0.0, 1.0)}), optimizer="random")
    study.optimize(CommandObjective(f"{sys.executable} {script}"), n_trials=2, workers=2, timeout=2)
    assert [t.state for t in study.trials] == [TrialState.FAILED] * 2
    started = [int(line) for line in pids.read_text().split()]
    assert len(started) == 2
    deadline = time.monotonic() + 30
    while any(_alive(pid) for pid in started) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(pid) for pid in started)
