"""The event-log conformance suite: what every storage must guarantee."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence

import pytest

from hypertrail.errors import DuplicateEventError
from hypertrail.storage.base import EventLog, LinkedAppend
from hypertrail.storage.events import STUDY_CREATED, Event

__all__ = ["EventLogConformance"]


class EventLogConformance:
    """Subclass and implement :meth:`make_log` (a fresh, empty log each call)."""

    def make_log(self) -> EventLog:
        raise NotImplementedError

    @pytest.fixture
    def log(self) -> Iterator[EventLog]:
        log = self.make_log()
        yield log
        log.close()

    def test_append_returns_increasing_seqs(self, log: EventLog) -> None:
        seqs = log.append([Event("k", "s", data={"i": i}) for i in range(5)])
        more = log.append([Event("k", "s")])
        assert seqs == sorted(seqs) and len(set(seqs)) == 5
        assert more[0] > seqs[-1]

    def test_read_returns_events_in_order_with_payload(self, log: EventLog) -> None:
        log.append([Event("a", "s", trial=0, data={"config": {"b": 1, "a": [1.5, "x", None]}})])
        log.append([Event("b", "s", trial=1, key="k1")])
        events = log.read("s")
        assert [e.kind for e in events] == ["a", "b"]
        assert events[0].data == {"config": {"b": 1, "a": [1.5, "x", None]}}
        assert list(events[0].data["config"]) == ["b", "a"], "key order must be kept"
        assert events[1].trial == 1 and events[1].key == "k1"
        assert all(e.seq is not None and e.time > 0 for e in events)

    def test_read_after_cursor(self, log: EventLog) -> None:
        seqs = log.append([Event("k", "s", data={"i": i}) for i in range(6)])
        tail = log.read("s", after=seqs[2])
        assert [e.data["i"] for e in tail] == [3, 4, 5]
        assert log.read("s", after=seqs[-1]) == []

    def test_studies_are_isolated(self, log: EventLog) -> None:
        log.append([Event(STUDY_CREATED, "one", key="created")])
        log.append([Event(STUDY_CREATED, "two", key="created")])
        log.append([Event("x", "one", key="same")])
        log.append([Event("x", "two", key="same")])  # same key, other study: fine
        assert log.studies() == ["one", "two"]
        assert [e.kind for e in log.read("one")] == [STUDY_CREATED, "x"]
        assert log.read("missing") == []

    def test_duplicate_key_is_refused_atomically(self, log: EventLog) -> None:
        log.append([Event("x", "s", key="k")])
        with pytest.raises(DuplicateEventError):
            log.append([Event("y", "s"), Event("x", "s", key="k")])
        assert [e.kind for e in log.read("s")] == ["x"], "a refused batch leaves nothing"

    def test_concurrent_appends_with_one_key_have_one_winner(self, log: EventLog) -> None:
        winners: list[int] = []
        losers: list[int] = []

        def race(i: int) -> None:
            try:
                log.append([Event("claim", "s", data={"by": i}, key="trial:0")])
                winners.append(i)
            except DuplicateEventError:
                losers.append(i)

        threads = [threading.Thread(target=race, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(winners) == 1 and len(losers) == 7
        assert [e.data["by"] for e in log.read("s")] == winners

    def test_linked_append_names_earlier_seqs(self, log: EventLog) -> None:
        if not isinstance(log, LinkedAppend):
            pytest.skip("this storage has no append_linked (optional)")
        log.append([Event("other", "x")])
        seen: list[list[int]] = []

        def resolve(i: int, seqs: Sequence[int]) -> dict[str, int] | None:
            seen.append(list(seqs))
            return {"previous": seqs[-1]} if i else None

        batch = [Event("k", "s", data={"i": i}, key=f"k{i}") for i in range(3)]
        seqs = log.append_linked(batch, resolve)
        assert seen[-1] == seqs[:2]
        events = log.read("s")
        assert [e.seq for e in events] == seqs
        assert [dict(e.data) for e in events] == [
            {"i": 0},
            {"previous": seqs[0]},
            {"previous": seqs[1]},
        ]
        assert [e.key for e in events] == ["k0", "k1", "k2"]

    def test_linked_append_is_atomic(self, log: EventLog) -> None:
        if not isinstance(log, LinkedAppend):
            pytest.skip("this storage has no append_linked (optional)")

        def fails(i: int, seqs: Sequence[int]) -> None:
            if i == 1:
                raise ValueError("cannot resolve")

        with pytest.raises(ValueError, match="cannot resolve"):
            log.append_linked([Event("k", "s"), Event("k", "s")], fails)
        log.append([Event("x", "s", key="k")])
        with pytest.raises(DuplicateEventError):
            log.append_linked([Event("y", "s"), Event("x", "s", key="k")], lambda i, s: None)
        assert [e.kind for e in log.read("s")] == ["x"], "a refused batch leaves nothing"
        assert log.append_linked([], lambda i, s: None) == []

    def test_empty_append(self, log: EventLog) -> None:
        assert log.append([]) == []

    def test_url_is_a_string(self, log: EventLog) -> None:
        assert isinstance(log.url, str) and log.url
