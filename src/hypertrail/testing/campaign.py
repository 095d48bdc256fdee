"""A kill -9 campaign: run a study in a subprocess, kill it (or one of its workers)
with SIGKILL at random moments, resume, and check that nothing was lost or doubled.

Used by the test suite (about 20 kills) and by ``benchmarks/reproducibility.py``
(hundreds). Each driver prints one ``ack N VALUE`` line after a trial's result is
committed; every acknowledged result must be in the final study unchanged. Under a
multi-fidelity scheduler (an optimizer spec with a ``fidelity``) the objective is
:func:`curve`, which trains epoch by epoch and resumes from its checkpoint.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hypertrail.trial import Trial

__all__ = [
    "CampaignResult",
    "campaign_space",
    "curve",
    "kill_campaign",
    "objective",
    "run_uninterrupted",
]

_DRIVER = textwrap.dedent(
    """
    import sys
    from hypertrail import Study
    from hypertrail.recovery import Recovery
    from hypertrail.testing.campaign import curve, objective


    def main():
        url, total, workers = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
        fn = curve if sys.argv[4] == "curve" else objective
        study = Study.load("campaign", url)
        study.recovery = Recovery(heartbeat=0.5, grace=5.0, max_attempts=10_000)

        def acknowledge(study, outcome):
            value = outcome.values.get("value") if outcome.ok else None
            print(f"ack {outcome.number} {value!r}", flush=True)

        print("ready", flush=True)
        with study:
            study.optimize(fn, max_trials=total, workers=workers, callbacks=[acknowledge])
        print("done", flush=True)

    if __name__ == "__main__":  # spawned workers import this file too
        main()
    """
)


def campaign_space() -> Any:
    from hypertrail import Categorical, Float, Int, Space

    return Space(
        {
            "kind": Categorical(["a", "b", "c"]),
            "x": Float(-2.0, 2.0),
            "y": Float(1e-3, 1.0, log=True),
            "n": Int(1, 8),
        }
    )


def objective(trial: Trial) -> float:
    """Deterministic given the configuration and the trial's seed; takes a seeded
    20-120 ms, so kills land in the middle of trials."""
    rng = trial.rng
    time.sleep(float(rng.uniform(0.02, 0.12)))
    return float(_loss(trial.config) + 0.01 * rng.random())


def _loss(c: Mapping[str, Any]) -> float:
    """The campaign's loss of a configuration, without noise."""
    offset = {"a": 0.0, "b": 0.5, "c": 1.0}[c["kind"]]
    return float((c["x"] - 0.3) ** 2 + offset + abs(math.log10(c["y"]) + 1) + 0.1 * c["n"])


def curve(trial: Trial) -> float:
    """:func:`objective`'s loss without its noise, plus ``1 / epoch``, trained to
    ``trial.fidelity`` epochs of a seeded 5-25 ms each, reported every epoch. The
    epochs done are saved to the trial's checkpoint folder after each one (written
    whole, then renamed), so a promotion, or an attempt after a kill, continues where
    training stopped, and the result is the same whichever attempt finishes."""
    base = _loss(trial.config)
    state = trial.checkpoint_dir / "state.json"
    done = int(json.loads(state.read_text())["epochs"]) if state.exists() else 0
    epochs = int(trial.fidelity or 1)
    for epoch in range(done + 1, epochs + 1):
        time.sleep(float(trial.rng.uniform(0.005, 0.025)))
        if trial.report(epoch, float(base + 1.0 / epoch)):
            return float(base + 1.0 / epoch)
        partial = state.with_suffix(".tmp")
        partial.write_text(json.dumps({"epochs": epoch}))
        os.replace(partial, state)
    return float(base + 1.0 / max(epochs, done))


def _objective_name(optimizer: str | Mapping[str, Any]) -> str:
    return "curve" if isinstance(optimizer, Mapping) and "fidelity" in optimizer else "objective"


@dataclass
class CampaignResult:
    """What a campaign did and what it found."""

    kills: int = 0
    driver_kills: int = 0
    worker_kills: int = 0
    restarts: int = 0
    acknowledged: dict[int, float | None] = field(default_factory=dict)
    seconds: float = 0.0


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}


def _create(
    url: str, optimizer: str | Mapping[str, Any], seed: int, workers: int, deterministic: bool
) -> None:
    from hypertrail import Study

    Study.create(
        "campaign",
        campaign_space(),
        storage=url,
        seed=seed,
        optimizer=dict(optimizer) if isinstance(optimizer, Mapping) else optimizer,
        deterministic=workers if deterministic else False,
    ).close()


def run_uninterrupted(
    url: str,
    *,
    trials: int,
    workers: int,
    optimizer: str | Mapping[str, Any],
    seed: int,
    deterministic: bool,
) -> None:
    """The same study, run once without interruption (the reference)."""
    _create(url, optimizer, seed, workers, deterministic)
    script = _script(url)
    subprocess.run(
        [sys.executable, str(script), url, str(trials), str(workers), _objective_name(optimizer)],
        check=True,
        capture_output=True,
        env=_env(),
        timeout=600,
    )


def _script(url: str) -> Path:
    path = Path(url.removeprefix("sqlite:///")).with_suffix(".driver.py")
    path.write_text(_DRIVER)
    return path


def kill_campaign(
    url: str,
    *,
    kills: int,
    trials: int,
    workers: int = 2,
    optimizer: str | Mapping[str, Any] = "tpe",
    seed: int = 0,
    deterministic: bool = True,
    rng_seed: int = 0,
    window: tuple[float, float] = (0.05, 0.6),
) -> CampaignResult:
    """Run the campaign study to ``trials`` trials with ``kills`` SIGKILLs on the way.

    Each cycle starts the driver, waits until it is ready, then a random delay in
    ``window`` seconds, and kills with SIGKILL either the driver alone, the driver
    and its workers, or one worker (the driver goes on). After the kills, the
    driver runs once more to completion. A driver that completes the budget
    before its kill ends the campaign early: ``result.kills`` says how many landed.
    An ``optimizer`` spec with a ``fidelity`` (a scheduler) runs :func:`curve`.
    """
    import numpy as np
    import psutil

    _create(url, optimizer, seed, workers, deterministic)
    script = _script(url)
    fn = _objective_name(optimizer)
    rng = np.random.default_rng(rng_seed)
    result = CampaignResult()
    started = time.monotonic()
    while True:
        proc = subprocess.Popen(
            [sys.executable, str(script), url, str(trials), str(workers), fn],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_env(),
            start_new_session=True,
        )
        lines: list[str] = []
        ready = threading.Event()

        def read(stream: Any = proc.stdout, sink: list[str] = lines, flag: Any = ready) -> None:
            for line in stream:
                sink.append(line)
                if line.startswith("ready"):
                    flag.set()

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        result.restarts += 1
        finished = False
        if result.kills < kills:
            ready.wait(timeout=60)
            time.sleep(float(rng.uniform(*window)))
            mode = int(rng.integers(3)) if workers > 1 else 0
            if proc.poll() is None:
                if mode == 2:
                    children = psutil.Process(proc.pid).children()
                    workers_alive = [c for c in children if c.is_running()]
                    if workers_alive:
                        victim = workers_alive[int(rng.integers(len(workers_alive)))]
                        victim.send_signal(signal.SIGKILL)
                        result.worker_kills += 1
                        result.kills += 1
                    # the driver goes on: let it finish or be killed next cycle
                    time.sleep(float(rng.uniform(*window)))
                if proc.poll() is None:
                    if mode == 1:
                        os.killpg(proc.pid, signal.SIGKILL)
                    else:
                        proc.send_signal(signal.SIGKILL)
                    result.driver_kills += 1
                    result.kills += 1
            proc.wait(timeout=60)
            finished = proc.returncode == 0  # it completed the budget before the kill
            # orphaned workers notice their driver's death and exit; reap any left
            with contextlib.suppress(OSError):
                os.killpg(proc.pid, signal.SIGKILL)
        else:
            proc.wait(timeout=600)
            finished = True
        reader.join(timeout=10)
        assert proc.stderr is not None
        err = proc.stderr.read()
        proc.stderr.close()
        for line in lines:
            if line.startswith("ack "):
                _, number, value = line.split(" ", 2)
                result.acknowledged[int(number)] = eval_value(value.strip())
        if finished:
            if proc.returncode != 0:
                raise RuntimeError(f"the final run failed ({proc.returncode}):\n{err}")
            break
        if proc.returncode not in (0, -signal.SIGKILL):
            raise RuntimeError(f"driver exited with {proc.returncode}:\n{err}")
    result.seconds = time.monotonic() - started
    return result


def eval_value(text: str) -> float | None:
    """Parse the ``repr`` of an acknowledged value (a float or None); no eval."""
    return None if text == "None" else float(text)
