"""The checkpoint folders of a study: what they hold, and pruning all but the best.

A configuration's promotions share one folder (``trial.checkpoint_dir``), so a study
under a scheduler leaves one folder per configuration it tried, and nothing removes
them by itself: under ASHA any configuration may still be promoted when the study
runs again. :func:`prune_checkpoints` keeps the ``keep`` best and deletes the rest.
Best means: trained furthest (the highest fidelity a complete trial of it reached,
not stopped early, as :func:`~hypertrail.trial.furthest_trained` reads it), then the
lowest loss there. A folder of a configuration with a running trial is never
deleted. A configuration promoted after its folder was deleted trains from scratch:
its result is still right, only dearer. Nothing in the event log changes.
"""

from __future__ import annotations

import math
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from hypertrail.trial import TrialState, furthest_trained

if TYPE_CHECKING:
    from hypertrail.study import Study

__all__ = ["CheckpointFolder", "checkpoint_folders", "prune_checkpoints"]


@dataclass(frozen=True)
class CheckpointFolder:
    """One configuration's folder: its trials (first of the promotion chain first),
    how far a complete trial of it trained and its loss there, bytes on disk."""

    path: Path
    trials: tuple[int, ...]
    fidelity: float | None
    loss: float
    size: int
    running: bool

    def rank_key(self) -> tuple[float, float, int]:
        """Sort key, best first: furthest trained, then lowest loss, then first tried."""
        reached = -math.inf if self.fidelity is None else self.fidelity
        return (-reached, self.loss, self.trials[0])


def _size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def checkpoint_folders(study: Study) -> list[CheckpointFolder]:
    """The study's checkpoint folders that exist on disk, best first."""
    history = study.history()
    chains: dict[Path, list[int]] = {}
    for t in history.trials:
        chains.setdefault(study.checkpoint_folder(t.number), []).append(t.number)
    folders = []
    for path, numbers in chains.items():
        if not path.is_dir():
            continue
        trials = [history.trials[n] for n in numbers]
        done = furthest_trained(t for t in trials if t.state is TrialState.COMPLETE)
        reached = max((t.fidelity for t in done if t.fidelity is not None), default=None)
        losses = [history.loss(t) for t in done]
        folders.append(
            CheckpointFolder(
                path=path,
                trials=tuple(numbers),
                fidelity=reached,
                loss=min(losses, default=math.inf),
                size=_size(path),
                running=any(t.state is TrialState.RUNNING for t in trials),
            )
        )
    return sorted(folders, key=CheckpointFolder.rank_key)


def prune_checkpoints(study: Study, keep: int) -> list[CheckpointFolder]:
    """Delete every checkpoint folder of ``study`` but the ``keep`` best and those of
    configurations still running; returns the deleted ones.

    Raises:
        ValueError: ``keep`` is negative.
    """
    if keep < 0:
        raise ValueError(f"keep must be 0 or more, got {keep}")
    removed = []
    for rank, folder in enumerate(checkpoint_folders(study)):
        if rank < keep or folder.running:
            continue
        shutil.rmtree(folder.path, ignore_errors=True)
        removed.append(folder)
    return removed
