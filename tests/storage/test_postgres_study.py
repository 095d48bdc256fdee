"""A whole study on a real PostgreSQL: two processes, every trial once, replayable."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

from hypertrail import Float, Int, Space, Study, TrialState
from hypertrail.replay import verify
from hypertrail.storage import open_storage

WORKER = textwrap.dedent(
    """
    import sys
    from hypertrail import Study
    study = Study.load("pg", sys.argv[1])
    study.optimize(lambda t: t.config["x"] * t.config["k"], max_trials=int(sys.argv[2]))
    """
)


def test_two_processes_on_postgres(postgres_url: str, tmp_path: object) -> None:
    space = Space({"x": Float(0.0, 1.0), "k": Int(1, 5)})
    Study.create("pg", space, storage=postgres_url, seed=2, optimizer="tpe").close()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, postgres_url, "60"],
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
    log = open_storage(postgres_url)
    trials = Study.load("pg", log).trials
    assert [t.number for t in trials] == list(range(60))
    assert all(t.state is TrialState.COMPLETE for t in trials)
    events = log.read("pg")
    seqs = [e.seq or 0 for e in events]
    assert seqs == sorted(seqs)
    assert sum(1 for e in events if e.kind.startswith("trial.")) == 2 * 60
    # each process recorded where it ran, and ended its session cleanly
    kinds = [e.kind for e in events]
    assert kinds.count("session.started") == kinds.count("session.ended") == 2
    assert verify(log, "pg").ok
    log.close()
