"""Storage: the append-only event log every study is folded from."""

from hypertrail.storage.base import EventLog, open_storage, register_storage
from hypertrail.storage.events import Event
from hypertrail.storage.memory import MemoryEventLog

__all__ = ["Event", "EventLog", "MemoryEventLog", "open_storage", "register_storage"]
