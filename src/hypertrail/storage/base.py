"""The storage protocol: an append-only event log, and how to open one by URL."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from hypertrail.errors import StorageError
from hypertrail.storage.events import Event

__all__ = [
    "STORAGE_SCHEMA_VERSION",
    "EventLog",
    "LinkedAppend",
    "Resolve",
    "open_storage",
    "register_storage",
]

STORAGE_SCHEMA_VERSION = 1


@runtime_checkable
class EventLog(Protocol):
    """An append-only, sequence-numbered log of events for many studies.

    Implementations must make :meth:`append` atomic (all events or none), assign
    strictly increasing sequence numbers, and refuse an event whose ``key`` already
    exists for its study by raising :class:`~hypertrail.errors.DuplicateEventError`.
    """

    url: str

    def append(self, events: Sequence[Event]) -> list[int]:
        """Store ``events`` atomically and return their sequence numbers."""
        ...

    def read(self, study: str, after: int = 0) -> list[Event]:
        """Events of ``study`` with ``seq > after``, in sequence order."""
        ...

    def studies(self) -> list[str]:
        """Names of the studies with a ``study.created`` event, in creation order."""
        ...

    def close(self) -> None:
        """Release connections; the log must not be used afterwards."""
        ...


Resolve = Callable[[int, Sequence[int]], Mapping[str, Any] | None]
"""``resolve(i, seqs)``: the data to store for event ``i`` of a batch, given the
sequence numbers already assigned to events ``0 .. i-1``; None keeps its data."""


@runtime_checkable
class LinkedAppend(Protocol):
    """An event log that can store a batch whose events refer to each other's
    sequence numbers (optional; the built-in storages have it).

    Sequence numbers are assigned by the storage, so an event that must name the
    number of an earlier event of the same atomic batch (the history cursor of an
    imported ``trial.asked``, see :mod:`hypertrail.portable`) can only be completed
    while the batch is being stored.
    """

    def append_linked(self, events: Sequence[Event], resolve: Resolve) -> list[int]:
        """Like :meth:`EventLog.append` (atomic, all or nothing), but just before
        ``events[i]`` is stored, ``resolve(i, seqs)`` may replace its data.
        ``resolve`` must be pure: a storage may call it again when it retries."""
        ...


def _memory(url: str) -> EventLog:
    from hypertrail.storage.memory import MemoryEventLog

    return MemoryEventLog()


def _sql(url: str) -> EventLog:
    from hypertrail.storage.sql import SQLEventLog

    return SQLEventLog(url)


_SCHEMES: dict[str, Callable[[str], EventLog]] = {
    "memory": _memory,
    "sqlite": _sql,
    "postgresql": _sql,
    "postgres": _sql,
}


def register_storage(scheme: str, factory: Callable[[str], EventLog]) -> None:
    """Make ``scheme://...`` URLs open with ``factory`` (for plug-in storages)."""
    _SCHEMES[scheme] = factory


def open_storage(target: str | Path | EventLog) -> EventLog:
    """Open an event log from a URL, a path to a ``.db`` file, or pass one through.

    Examples of URLs: ``memory``, ``sqlite:///study.db``,
    ``postgresql://user@127.0.0.1:5432/test``.
    """
    if isinstance(target, EventLog) and not isinstance(target, str | Path):
        return target
    url = str(target)
    if isinstance(target, Path) or (
        "://" not in url and url != "memory" and url.endswith((".db", ".sqlite", ".sqlite3"))
    ):
        url = f"sqlite:///{url}"
    scheme = url.split(":", 1)[0].split("+", 1)[0]
    factory = _SCHEMES.get(scheme)
    if factory is None:
        known = ", ".join(sorted(_SCHEMES))
        raise StorageError(f"unknown storage {url!r}: expected a URL with one of: {known}")
    return factory(url)
