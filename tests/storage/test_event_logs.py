"""Every storage passes the same conformance suite; storage-specific behaviour below."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from hypertrail.errors import DuplicateEventError, SchemaVersionError, StorageError
from hypertrail.storage import Event, EventLog, MemoryEventLog, open_storage
from hypertrail.storage.sql import SQLEventLog
from hypertrail.testing import EventLogConformance


class TestMemoryEventLog(EventLogConformance):
    def make_log(self) -> EventLog:
        return MemoryEventLog()


class TestSQLiteEventLog(EventLogConformance):
    @pytest.fixture(autouse=True)
    def _tmp(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.count = 0

    def make_log(self) -> EventLog:
        self.count += 1
        return SQLEventLog(f"sqlite:///{self.tmp_path / f'log{self.count}.db'}")


class TestPostgresEventLog(EventLogConformance):
    @pytest.fixture(autouse=True)
    def _db(self, postgres_url: str) -> None:
        self.url = postgres_url

    def make_log(self) -> EventLog:
        return SQLEventLog(self.url)


def test_sqlite_is_in_wal_mode_and_reopens(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    log = open_storage(path)
    log.append([Event("x", "s", data={"a": 1})])
    log.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert SQLEventLog(f"sqlite:///{path}").settings() == {
        "journal_mode": "WAL",
        "synchronous": "NORMAL",
    }
    again = open_storage(f"sqlite:///{path}")
    assert [e.data for e in again.read("s")] == [{"a": 1}]
    again.close()


def test_sqlite_seqs_are_contiguous(tmp_path: Path) -> None:
    log = open_storage(tmp_path / "c.db")
    for i in range(10):
        log.append([Event("x", "s", key=f"k{i}")])
        with pytest.raises(DuplicateEventError):  # a refused insert must not burn a number
            log.append([Event("x", "s", key=f"k{i}")])
    seqs = [e.seq for e in log.read("s")]
    assert seqs == list(range(1, 11))
    log.close()


def test_newer_schema_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "v.db"
    open_storage(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE hypertrail_meta SET value = '99' WHERE name = 'schema_version'")
    with pytest.raises(SchemaVersionError, match="schema version 99"):
        open_storage(path)


def test_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="does not exist"):
        open_storage(f"sqlite:///{tmp_path / 'nope' / 'x.db'}")


def test_a_file_that_is_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "junk.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StorageError, match="not a database"):
        open_storage(path)


def test_unknown_scheme() -> None:
    with pytest.raises(StorageError, match="unknown storage"):
        open_storage("redis://localhost")


def test_open_storage_passes_logs_through() -> None:
    log = MemoryEventLog()
    assert open_storage(log) is log
    assert isinstance(open_storage("memory"), MemoryEventLog)
