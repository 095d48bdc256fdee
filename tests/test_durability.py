"""Every acknowledged event survives SIGKILL of the process that wrote it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np

from hypertrail import Float, Space, Study, TrialState

WRITER = textwrap.dedent(
    """
    import sys
    from hypertrail import Study
    study = Study.load("d", sys.argv[1])
    while True:
        trial = study.ask()
        study.tell(trial, trial.config["x"])
        print(trial.number, flush=True)   # acknowledged: tell has returned
    """
)


def test_acknowledged_trials_survive_kill_9(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'd.db'}"
    Study.create(
        "d", Space({"x": Float(0.0, 1.0)}), storage=url, seed=1, optimizer="random"
    ).close()
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    rng = np.random.default_rng(0)
    acknowledged: list[int] = []
    for _ in range(5):
        proc = subprocess.Popen(
            [sys.executable, str(script), url], stdout=subprocess.PIPE, text=True, env=env
        )
        assert proc.stdout is not None
        wanted = int(rng.integers(20, 200))
        for count, line in enumerate(proc.stdout, start=1):
            acknowledged.append(int(line))
            if count >= wanted:
                break
        time.sleep(float(rng.uniform(0, 0.05)))  # kill at a random moment mid-write
        proc.send_signal(signal.SIGKILL)
        rest, _ = proc.communicate()
        acknowledged.extend(int(x) for x in rest.split())
    study = Study.load("d", url)
    trials = study.trials
    complete = {t.number for t in trials if t.state is TrialState.COMPLETE}
    assert set(acknowledged) <= complete
    assert [t.number for t in trials] == list(range(len(trials)))
    # At most one trial per kill was asked but not told.
    assert sum(t.state is TrialState.RUNNING for t in trials) <= 5
