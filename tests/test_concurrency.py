"""Several OS processes on one SQLite study: nothing lost, nothing doubled."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from hypertrail import Float, Int, Space, Study, TrialState
from hypertrail.replay import verify
from hypertrail.storage import open_storage

WORKER = textwrap.dedent(
    """
    import sys
    from hypertrail import Study
    study = Study.load("shared", sys.argv[1])
    study.optimize(lambda t: t.config["x"] * t.config["k"], max_trials=int(sys.argv[2]))
    print("worker done", len(study.trials))
    """
)


def test_four_processes_share_one_sqlite_study(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    space = Space({"x": Float(0.0, 1.0), "k": Int(1, 5)})
    Study.create("shared", space, storage=url, seed=3, optimizer="random").close()
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    total = 400
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), url, str(total)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(4)
    ]
    outputs = [p.communicate(timeout=300) for p in procs]
    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
        assert "locked" not in err.lower() and "busy" not in err.lower(), err
        assert "worker done" in out
    log = open_storage(url)
    events = log.read("shared")
    seqs = [e.seq for e in events]
    assert seqs == list(range(1, len(events) + 1)), "sequence numbers must be contiguous"
    study = Study.load("shared", log)
    trials = study.trials
    assert [t.number for t in trials] == list(range(total))
    assert all(t.state is TrialState.COMPLETE for t in trials)
    trial_events = [e for e in events if e.kind.startswith("trial.")]
    assert len(trial_events) == 2 * total  # (asked, completed) per trial, nothing requeued
    assert verify(log, "shared").ok, "parallel proposals must replay too"
    log.close()
