"""A memo of trial encodings shared by the model-based optimizers.

Optimizers are pure functions of the history, but re-encoding a thousand trials
per proposal is most of their cost. Recorded configurations never change, so the
encoding of trial *n* can be kept. The memo is keyed by (space fingerprint, trial
number) and checked against the configuration itself (by identity first, then
equality), so one optimizer instance shared by several studies stays exact.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from hypertrail.trial import FrozenTrial

__all__ = ["EncodingCache"]


class EncodingCache:
    """Rows of encoded trial configurations, memoized per trial."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rows: dict[tuple[str, int], tuple[Mapping[str, Any], np.ndarray]] = {}

    def rows(
        self,
        fingerprint: str,
        trials: Sequence[FrozenTrial],
        encode: Callable[[Mapping[str, Any]], np.ndarray],
        width: int,
    ) -> np.ndarray:
        if not trials:
            return np.empty((0, width))
        out = []
        with self._lock:
            for trial in trials:
                key = (fingerprint, trial.number)
                hit = self._rows.get(key)
                if hit is not None and (hit[0] is trial.config or hit[0] == trial.config):
                    out.append(hit[1])
                    continue
                row = encode(trial.config)
                self._rows[key] = (trial.config, row)
                out.append(row)
        return np.vstack(out)
