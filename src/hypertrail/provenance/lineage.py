"""Lineage: where a configuration came from and what came of it.

Optimizers record a parent with each proposal (evolution's mutations, local moves);
recovery records each requeued attempt. These functions read them from the trials
a study folds; they never touch storage.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from hypertrail.trial import FrozenTrial

__all__ = ["Lineage", "lineage"]


@dataclass(frozen=True)
class Lineage:
    """A trial's ancestors (nearest first) and its direct children."""

    trial: int
    ancestors: tuple[int, ...]
    children: tuple[int, ...]


def lineage(trials: Sequence[FrozenTrial], number: int) -> Lineage:
    """Ancestors by following ``parent`` links (stopping at a cycle or an unknown
    number, which a damaged log could hold), and the trials whose parent it is."""
    if not 0 <= number < len(trials):
        raise IndexError(f"no trial {number} (the study has {len(trials)})")
    ancestors: list[int] = []
    seen = {number}
    parent = trials[number].parent
    while parent is not None and 0 <= parent < len(trials) and parent not in seen:
        ancestors.append(parent)
        seen.add(parent)
        parent = trials[parent].parent
    children = tuple(t.number for t in trials if t.parent == number)
    return Lineage(number, tuple(ancestors), children)
