"""An in-memory event log, for tests and throw-away studies."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import replace

from hypertrail.errors import DuplicateEventError
from hypertrail.storage.base import Resolve
from hypertrail.storage.events import STUDY_CREATED, Event

__all__ = ["MemoryEventLog"]


class MemoryEventLog:
    """Events in a list, guarded by a lock; gone when the process ends.

    Example:
        >>> log = MemoryEventLog()
        >>> log.append([Event("study.created", "s", key="created")])
        [1]
    """

    url = "memory"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._events: list[Event] = []
        self._by_study: dict[str, list[Event]] = {}
        self._keys: set[tuple[str, str]] = set()

    def append(self, events: Sequence[Event]) -> list[int]:
        return self.append_linked(events, _keep)

    def append_linked(self, events: Sequence[Event], resolve: Resolve) -> list[int]:
        with self._lock:
            keys = [(e.study, e.key) for e in events if e.key is not None]
            for study, key in keys:
                if (study, key) in self._keys:
                    raise DuplicateEventError(study, key)
            if len(set(keys)) != len(keys):
                study, key = keys[0]
                raise DuplicateEventError(study, key)
            # Build the whole batch first, so a failing ``resolve`` stores nothing.
            first = len(self._events) + 1
            seqs: list[int] = []
            batch: list[Event] = []
            for i, event in enumerate(events):
                data = resolve(i, seqs)
                stored = replace(
                    event,
                    seq=first + i,
                    data=event.data if data is None else data,
                    time=event.time or time.time(),
                )
                batch.append(stored)
                seqs.append(first + i)
            for stored in batch:
                self._events.append(stored)
                self._by_study.setdefault(stored.study, []).append(stored)
                if stored.key is not None:
                    self._keys.add((stored.study, stored.key))
            return seqs

    def read(self, study: str, after: int = 0) -> list[Event]:
        with self._lock:
            events = self._by_study.get(study, [])
            # Sequence numbers are increasing: skip the prefix by binary search.
            lo, hi = 0, len(events)
            while lo < hi:
                mid = (lo + hi) // 2
                if (events[mid].seq or 0) <= after:
                    lo = mid + 1
                else:
                    hi = mid
            return events[lo:]

    def studies(self) -> list[str]:
        with self._lock:
            return [e.study for e in self._events if e.kind == STUDY_CREATED]

    def close(self) -> None:
        """Nothing to release."""


def _keep(index: int, seqs: Sequence[int]) -> None:
    return None
