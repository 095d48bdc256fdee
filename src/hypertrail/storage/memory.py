"""An in-memory event log, for tests and throw-away studies."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

from hypertrail.errors import DuplicateEventError
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
        with self._lock:
            keys = [(e.study, e.key) for e in events if e.key is not None]
            for study, key in keys:
                if (study, key) in self._keys:
                    raise DuplicateEventError(study, key)
            if len(set(keys)) != len(keys):
                study, key = keys[0]
                raise DuplicateEventError(study, key)
            seqs = []
            for event in events:
                stored = event.with_seq(len(self._events) + 1)
                if stored.time == 0.0:
                    stored = Event(**{**stored.__dict__, "time": time.time()})
                self._events.append(stored)
                self._by_study.setdefault(event.study, []).append(stored)
                if event.key is not None:
                    self._keys.add((event.study, event.key))
                seqs.append(len(self._events))
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
