"""What reproducibility costs and whether it holds under fire.

1. Throughput of a deterministic study against an asynchronous one: the same study
   (TPE, 4 workers, 60 trials whose durations vary as real training times do) run in
   both modes, several seeds, in one run. Reported: wall time, trials per second and
   worker utilization (busy time / (wall time x workers)), and the ratio.
2. A kill -9 campaign longer than the test suite's: a deterministic study killed
   (driver, driver and workers, or one worker) at random moments and resumed each
   time; reported: kills, acknowledged results kept, trials requeued, and whether the
   final study equals an uninterrupted run. Twice: a TPE study, and an ASHA study whose
   objective trains epoch by epoch from its checkpoint (rungs, parents and values
   compared with the uninterrupted run's).

    python -m benchmarks.reproducibility            # writes docs/benchmarks.md
    python -m benchmarks.reproducibility --no-doc --seeds 1 --kills 10
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from benchmarks.common import ROOT, cpu_model, git_revision, update_section

from hypertrail import Categorical, Float, Int, Space, Study, Trial
from hypertrail.testing.campaign import kill_campaign, run_uninterrupted

SPACE = Space(
    {
        "lr": Float(1e-4, 1e-1, log=True),
        "depth": Int(1, 6),
        "act": Categorical(["relu", "tanh", "gelu"]),
    }
)


def training(trial: Trial) -> float:
    """Sleeps a log-normal 20-300 ms drawn from the trial's own seed (so both modes
    see the same durations trial by trial) and returns a smooth loss."""
    time.sleep(min(0.3, max(0.02, float(trial.rng.lognormal(-3.0, 0.7)))))
    c = trial.config
    return float((c["lr"] - 0.01) ** 2 * 100 + 0.05 * abs(c["depth"] - 3) + (c["act"] == "tanh"))


def throughput(mode: str, seed: int, workers: int, trials: int, folder: Path) -> dict[str, float]:
    url = f"sqlite:///{folder / f'{mode}-{seed}.db'}"
    study = Study.create(
        "t",
        SPACE,
        storage=url,
        seed=seed,
        optimizer="tpe",
        deterministic=workers if mode == "deterministic" else False,
    )
    start = time.perf_counter()
    study.optimize(training, n_trials=trials, workers=workers)
    wall = time.perf_counter() - start
    busy = sum(t.duration or 0.0 for t in study.trials)
    study.close()
    return {"wall": wall, "rate": trials / wall, "utilization": busy / (wall * workers)}


ASHA = {
    "name": "asha",
    "optimizer": "tpe",
    "fidelity": {"name": "epochs", "min": 1, "max": 9, "eta": 3},
}


def campaign(
    label: str, optimizer: str | Mapping[str, Any], kills: int, folder: Path
) -> dict[str, Any]:
    """One kill -9 campaign of 300 trials on 2 workers, and its uninterrupted twin."""
    killed = f"sqlite:///{folder / f'killed-{label}.db'}"
    started = time.perf_counter()
    result = kill_campaign(killed, kills=kills, trials=300, workers=2, optimizer=optimizer, seed=11)
    reference = f"sqlite:///{folder / f'reference-{label}.db'}"
    run_uninterrupted(
        reference, trials=300, workers=2, optimizer=optimizer, seed=11, deterministic=True
    )
    with Study.load("campaign", killed) as a, Study.load("campaign", reference) as b:
        ta, tb = a.trials, b.trials

        def key(t: Any) -> tuple[Any, ...]:
            return (t.config, t.values, t.fidelity, t.rung, t.parent)

        return {
            "result": result,
            "same": [key(t) for t in ta] == [key(t) for t in tb],
            "kept": sum(ta[n].value == v for n, v in result.acknowledged.items()),
            "requeued": sum(t.attempt for t in ta),
            "complete": sum(t.state.value == "complete" for t in ta),
            "promotions": sum(t.parent is not None for t in ta),
            "seconds": time.perf_counter() - started,
        }


def _campaign_line(what: str, c: dict[str, Any]) -> str:
    r = c["result"]
    return (
        f"{what}, killed {r.kills} times with SIGKILL ({r.driver_kills} kills of the "
        f"driver alone or with its workers, {r.worker_kills} of one worker) at random "
        f"moments, restarted {r.restarts} times in {c['seconds']:.0f} s: {c['complete']} of "
        f"300 trials complete, {c['kept']} of {len(r.acknowledged)} acknowledged results "
        f"present and unchanged, {c['requeued']} runs requeued in place, final study "
        f"{'identical to' if c['same'] else 'DIFFERENT from'} an uninterrupted run."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--kills", type=int, default=100)
    parser.add_argument("--no-doc", action="store_true")
    args = parser.parse_args()
    rows: dict[str, list[dict[str, float]]] = {"asynchronous": [], "deterministic": []}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for seed in range(args.seeds):
            for mode in rows:  # alternate, so both modes share the machine's state
                rows[mode].append(throughput(mode, seed, args.workers, args.trials, folder))
                print(mode, seed, rows[mode][-1], flush=True)
        tpe = campaign("tpe", "tpe", args.kills, folder)
        print(_campaign_line("tpe", tpe), flush=True)
        asha = campaign("asha", ASHA, args.kills, folder)
        print(_campaign_line("asha", asha), flush=True)

    def stat(mode: str, key: str) -> str:
        values = [r[key] for r in rows[mode]]
        spread = statistics.stdev(values) if len(values) > 1 else 0.0
        return f"{statistics.fmean(values):.3g} ± {spread:.2g}"

    ratios = [
        d["rate"] / a["rate"]
        for a, d in zip(rows["asynchronous"], rows["deterministic"], strict=True)
    ]
    lines = [
        "## Reproducibility: the cost of deterministic mode, and kill -9 campaigns",
        "",
        "Generated by `python -m benchmarks.reproducibility`; edit the script, not this section.",
        f"Machine: {cpu_model()}; hypertrail git {git_revision()}.",
        "",
        f"**Throughput.** TPE, {args.workers} worker processes, {args.trials} trials whose "
        "objective sleeps a log-normal 20-300 ms drawn from the trial's seed (identical "
        f"durations in both modes), SQLite, {args.seeds} seeds, modes alternated. Mean ± "
        "standard deviation over seeds.",
        "",
        "| mode | wall time (s) | trials / s | worker utilization |",
        "|---|--:|--:|--:|",
    ]
    for mode in rows:
        lines.append(
            f"| {mode} | {stat(mode, 'wall')} | {stat(mode, 'rate')} "
            f"| {stat(mode, 'utilization')} |"
        )
    lines += [
        "",
        f"Deterministic throughput ÷ asynchronous: {statistics.fmean(ratios):.2f} "
        f"(per seed: {', '.join(f'{r:.2f}' for r in ratios)}). A deterministic proposal "
        f"*n* waits for trial *n − {args.workers}* to end, so a slow trial idles the "
        "workers that would run ahead of it.",
        "",
        "**Kill -9 campaigns.** "
        + _campaign_line("A deterministic TPE study of 300 trials on 2 workers", tpe),
        "",
        _campaign_line(
            "A deterministic ASHA + TPE study of 300 trials on 2 workers (epochs 1-9, eta 3; "
            f"{asha['promotions']} of its trials are promotions), whose objective trains "
            "epoch by epoch (5-25 ms each) and saves the epochs done to its checkpoint "
            "folder after each one",
            asha,
        )
        + " Identical here means the same configurations at the same fidelities and "
        "rungs, promoted from the same parents, with the same values: an attempt killed "
        "mid-training resumed from its checkpoint and ended where the uninterrupted run did.",
        "",
    ]
    section = "\n".join(lines)
    print(section)
    if not args.no_doc:
        update_section(ROOT / "docs" / "benchmarks.md", "reproducibility", section)


if __name__ == "__main__":
    main()
