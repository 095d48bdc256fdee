"""The event log on SQLAlchemy Core: SQLite by default, PostgreSQL for many machines.

Design notes:

* One table of events; a unique index on ``(study, key)`` turns "allocate trial
  number *n*" and "end trial *n*" into atomic inserts that fail for the loser of a
  race, which the caller retries. No row is ever updated or deleted.
* SQLite runs in WAL mode with ``synchronous=NORMAL``: a committed event survives
  the death of any process (the OS holds the WAL); only a power cut can lose the
  last commits. Writers take the lock up front (``BEGIN IMMEDIATE``) so two
  processes never deadlock upgrading a read lock, and a bounded retry with backoff
  absorbs the rare ``database is locked`` past the busy timeout.
* On PostgreSQL, a transaction-scoped advisory lock serializes appends, so a
  reader never sees sequence number 11 committed before 10 and skips 10 forever.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from hypertrail.errors import DuplicateEventError, SchemaVersionError, StorageError
from hypertrail.storage.base import STORAGE_SCHEMA_VERSION, Resolve
from hypertrail.storage.events import STUDY_CREATED, Event, dumps, loads

__all__ = ["SQLEventLog"]

T = TypeVar("T")

_BUSY_TIMEOUT_MS = 20_000
_RETRIES = 8
_APPEND_LOCK_ID = 0x6879_7074  # "hypt": the advisory lock key used on PostgreSQL


def _is_locked(exc: BaseException) -> bool:
    text = str(getattr(exc, "orig", exc)).lower()
    return "database is locked" in text or "database is busy" in text or "busy" in text


class SQLEventLog:
    """An :class:`~hypertrail.storage.base.EventLog` in a relational database.

    Args:
        url: an SQLAlchemy URL, e.g. ``sqlite:///study.db`` or
            ``postgresql://user@127.0.0.1:5432/test`` (psycopg 3 is used).

    Example:
        >>> log = SQLEventLog("sqlite:///:memory:")
        >>> log.append([Event("study.created", "demo", key="created")])
        [1]
    """

    def __init__(self, url: str) -> None:
        import sqlalchemy as sa

        self.url = url
        sa_url = url
        if url.startswith(("postgresql://", "postgres://")):
            sa_url = "postgresql+psycopg://" + url.split("://", 1)[1]
        self._sqlite = sa_url.startswith("sqlite")
        if self._sqlite:
            self._check_sqlite_path(sa_url)
        # A per-process jitter source for retry backoff; never used for proposals.
        self._jitter = random.Random(os.getpid())
        try:
            self._engine = sa.create_engine(sa_url, **self._engine_options())
        except Exception as exc:
            raise StorageError(f"cannot open storage {url!r}: {exc}") from exc
        if self._sqlite:
            self._install_sqlite_hooks()
        meta = sa.MetaData()
        self._events = sa.Table(
            "hypertrail_events",
            meta,
            sa.Column(
                "seq",
                sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                primary_key=True,
                autoincrement=True,
            ),
            sa.Column("study", sa.String(255), nullable=False),
            sa.Column("kind", sa.String(64), nullable=False),
            sa.Column("trial", sa.Integer, nullable=True),
            sa.Column("key", sa.String(255), nullable=True),
            sa.Column("time", sa.Float, nullable=False),
            sa.Column("data", sa.Text, nullable=False),
            sa.UniqueConstraint("study", "key", name="uq_hypertrail_events_study_key"),
            sa.Index("ix_hypertrail_events_study_seq", "study", "seq"),
            sqlite_autoincrement=True,
        )
        self._meta = sa.Table(
            "hypertrail_meta",
            meta,
            sa.Column("name", sa.String(64), primary_key=True),
            sa.Column("value", sa.Text, nullable=False),
        )
        self._metadata = meta
        self._retry(self._init_schema)
        self._insert = self._events.insert()

    # --- setup -----------------------------------------------------------------------

    def _engine_options(self) -> dict[str, Any]:
        if self._sqlite:
            return {
                "connect_args": {"timeout": _BUSY_TIMEOUT_MS / 1000, "check_same_thread": False}
            }
        return {"pool_pre_ping": True}

    def _check_sqlite_path(self, sa_url: str) -> None:
        path = sa_url.split("///", 1)[1] if "///" in sa_url else ""
        if path and path != ":memory:":
            parent = Path(path).expanduser().resolve().parent
            if not parent.is_dir():
                raise StorageError(
                    f"cannot open storage {self.url!r}: folder {str(parent)!r} does not exist"
                )

    def _install_sqlite_hooks(self) -> None:
        from sqlalchemy import event

        @event.listens_for(self._engine, "connect")
        def _on_connect(dbapi_connection: Any, record: Any) -> None:
            # Let SQLAlchemy's "begin" hook issue BEGIN instead of pysqlite.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        @event.listens_for(self._engine, "begin")
        def _on_begin(conn: Any) -> None:
            write = conn.get_execution_options().get("hypertrail_write", False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    def _init_schema(self) -> None:
        import sqlalchemy as sa

        with self._engine.connect() as conn:
            conn.execution_options(hypertrail_write=True)
            with conn.begin():
                self._metadata.create_all(conn, checkfirst=True)
                row = conn.execute(
                    sa.select(self._meta.c.value).where(self._meta.c.name == "schema_version")
                ).first()
                if row is None:
                    conn.execute(
                        self._meta.insert().values(
                            name="schema_version", value=str(STORAGE_SCHEMA_VERSION)
                        )
                    )
                    return
        found = row[0]
        if found != str(STORAGE_SCHEMA_VERSION):
            raise SchemaVersionError(
                f"storage {self.url!r} has schema version {found}; this hypertrail reads "
                f"version {STORAGE_SCHEMA_VERSION}. Use the hypertrail that wrote it, or "
                "export the studies and import them here."
            )

    # --- retry -----------------------------------------------------------------------

    def _retry(self, operation: Callable[[], T]) -> T:
        import sqlalchemy.exc as sa_exc

        delay = 0.01
        for attempt in range(_RETRIES + 1):
            try:
                return operation()
            except sa_exc.OperationalError as exc:
                if not _is_locked(exc) or attempt == _RETRIES:
                    raise StorageError(f"storage {self.url!r}: {exc.orig}") from exc
            except sa_exc.DatabaseError as exc:
                raise StorageError(f"storage {self.url!r}: {exc.orig}") from exc
            time.sleep(delay * (1 + self._jitter.random()))
            delay = min(delay * 2, 1.0)
        raise AssertionError("unreachable")

    # --- EventLog --------------------------------------------------------------------

    def append(self, events: Sequence[Event]) -> list[int]:
        return self._append(events, None)

    def append_linked(self, events: Sequence[Event], resolve: Resolve) -> list[int]:
        return self._append(events, resolve)

    def _append(self, events: Sequence[Event], resolve: Resolve | None) -> list[int]:
        if not events:
            return []
        rows = [
            {
                "study": e.study,
                "kind": e.kind,
                "trial": e.trial,
                "key": e.key,
                "time": e.time or time.time(),
                "data": dumps(e.data),
            }
            for e in events
        ]
        return self._retry(lambda: self._append_rows(events, rows, resolve))

    def _append_rows(
        self, events: Sequence[Event], rows: list[dict[str, Any]], resolve: Resolve | None
    ) -> list[int]:
        import sqlalchemy as sa
        import sqlalchemy.exc as sa_exc

        try:
            with self._engine.connect() as conn:
                conn.execution_options(hypertrail_write=True)
                with conn.begin():
                    if not self._sqlite:
                        conn.execute(sa.text(f"SELECT pg_advisory_xact_lock({_APPEND_LOCK_ID})"))
                    seqs: list[int] = []
                    for i, row in enumerate(rows):
                        # Completed inside the transaction: it may name earlier seqs.
                        data = resolve(i, seqs) if resolve is not None else None
                        if data is not None:
                            row = {**row, "data": dumps(data)}
                        key = conn.execute(self._insert, row).inserted_primary_key
                        assert key is not None
                        seqs.append(int(key[0]))
                    return seqs
        except sa_exc.IntegrityError as exc:
            keyed = [e for e in events if e.key is not None]
            study, key = (keyed[0].study, keyed[0].key or "") if keyed else (events[0].study, "")
            if len(keyed) > 1:
                key = ", ".join(str(e.key) for e in keyed)
            raise DuplicateEventError(study, key) from exc

    def read(self, study: str, after: int = 0) -> list[Event]:
        import sqlalchemy as sa

        table = self._events
        query = (
            sa.select(
                table.c.seq, table.c.kind, table.c.trial, table.c.key, table.c.time, table.c.data
            )
            .where(table.c.study == study, table.c.seq > after)
            .order_by(table.c.seq)
        )

        def run() -> list[Event]:
            with self._engine.connect() as conn:
                rows = conn.execute(query).all()
            return [
                Event(
                    kind=row.kind,
                    study=study,
                    trial=row.trial,
                    data=loads(row.data),
                    key=row.key,
                    time=row.time,
                    seq=int(row.seq),
                )
                for row in rows
            ]

        return self._retry(run)

    def studies(self) -> list[str]:
        import sqlalchemy as sa

        table = self._events
        query = sa.select(table.c.study).where(table.c.kind == STUDY_CREATED).order_by(table.c.seq)

        def run() -> list[str]:
            with self._engine.connect() as conn:
                return [row.study for row in conn.execute(query)]

        return self._retry(run)

    def settings(self) -> dict[str, str]:
        """The durability settings in force on this log's connections (SQLite only;
        empty for other databases): ``journal_mode`` and ``synchronous``."""
        if not self._sqlite:
            return {}
        names = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}
        with self._engine.connect() as conn:
            journal = conn.exec_driver_sql("PRAGMA journal_mode").scalar()
            sync = conn.exec_driver_sql("PRAGMA synchronous").scalar()
        return {
            "journal_mode": str(journal).upper(),
            "synchronous": names.get(int(sync or 0), str(sync)),
        }

    def close(self) -> None:
        self._engine.dispose()

    def __repr__(self) -> str:
        return f"SQLEventLog({self.url!r})"
