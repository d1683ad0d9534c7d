"""The SQLite engine under the job store: connection settings, transactions, error translation.

Durability. The file runs in WAL mode. With ``synchronous=NORMAL`` (the
default, :attr:`Durability.PROCESS_CRASH`) a committed transaction survives any
crash or kill of the program, because it is in the WAL file before ``COMMIT``
returns; only an operating-system crash or power loss may undo the last few
commits (never corrupting the file). ``synchronous=FULL``
(:attr:`Durability.POWER_LOSS`) also fsyncs the WAL at every commit, so commits
survive power loss too, at the cost of one disk flush per state change.

Concurrency. Several processes (the app, ``sttdesk serve``, CLI commands) and
several threads of each may use the file at once. Readers never block in WAL
mode. Every write transaction starts with ``BEGIN IMMEDIATE``, taking the write
lock up front: a read-then-write transaction that started as a reader could
otherwise fail half-way when another writer commits first, instead of waiting.
Waiting is bounded by the busy timeout. Python's sqlite3 module would issue its
own deferred ``BEGIN`` lazily; it is switched off and SQLAlchemy's ``begin``
event issues ours instead.
"""

from __future__ import annotations

import logging
import os
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from .errors import DatabaseLockedError, DatabaseUnavailableError, InvalidStoreValueError, translate_sqlite_error
from .migrations import MIGRATIONS, Migration, MigrationReport, migrate, run_outside_transaction

log = logging.getLogger(__name__)

#: File name of the job database inside the data folder.
DATABASE_FILE_NAME = "sttdesk.db"
#: How long a writer waits for another one before giving up with DatabaseLockedError.
DEFAULT_BUSY_TIMEOUT_SECONDS = 20.0
#: Connections kept open per process, and extra ones allowed under load (one per busy thread).
DEFAULT_POOL_SIZE = 4
DEFAULT_POOL_OVERFLOW = 12

# Custom execution option read by the "begin" listener: how to start a transaction.
_BEGIN_OPTION = "sttdesk_begin"


class Durability(str, Enum):
    """What a committed change survives (SQLite's ``synchronous`` setting in WAL mode)."""

    #: Any crash or kill of a program; the last commits may be lost on power loss.
    PROCESS_CRASH = "NORMAL"
    #: Power loss and operating-system crashes too; one disk flush per commit.
    POWER_LOSS = "FULL"


@dataclass(frozen=True, slots=True)
class StoreOptions:
    """How the job database is opened."""

    #: Seconds a writer waits for the write lock before DatabaseLockedError.
    busy_timeout_seconds: float = DEFAULT_BUSY_TIMEOUT_SECONDS
    durability: Durability = Durability.PROCESS_CRASH
    pool_size: int = DEFAULT_POOL_SIZE
    pool_overflow: int = DEFAULT_POOL_OVERFLOW

    def __post_init__(self) -> None:
        timeout = self.busy_timeout_seconds
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 <= timeout <= 3600:
            raise InvalidStoreValueError(f"expected 0 to 3600 seconds, got {timeout!r}", field="busy_timeout_seconds")
        try:
            Durability(self.durability)
        except ValueError as exc:
            raise InvalidStoreValueError(
                f"expected one of {', '.join(d.value for d in Durability)}, got {self.durability!r}", field="durability"
            ) from exc
        for name in ("pool_size", "pool_overflow"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < (1 if name == "pool_size" else 0):
                raise InvalidStoreValueError(f"expected a small whole number, got {value!r}", field=name)


class Database:
    """One SQLite file: the engine, its connection settings and transaction helpers."""

    def __init__(self, path: Path, options: StoreOptions) -> None:
        self.path = path
        self.options = options
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DatabaseUnavailableError(str(exc), path=str(path)) from exc
        engine = create_engine(
            URL.create("sqlite", database=str(path)),
            connect_args={"check_same_thread": False, "timeout": options.busy_timeout_seconds},
            pool_size=options.pool_size,
            max_overflow=options.pool_overflow,
            pool_timeout=options.busy_timeout_seconds,
        )
        event.listen(engine, "connect", self._on_connect)
        event.listen(engine, "begin", _on_begin)
        self._engine: Engine = engine
        self._writer: Engine = engine.execution_options(**{_BEGIN_OPTION: "IMMEDIATE"})
        # A forked child must not use the parent's open SQLite connections (that
        # corrupts locks); it drops them from its copy of the pool and opens its own.
        this = weakref.ref(self)

        def _forget_parent_connections() -> None:
            database = this()
            if database is not None:
                database._engine.dispose(close=False)

        os.register_at_fork(after_in_child=_forget_parent_connections)

    def _on_connect(self, dbapi_connection: Any, _record: Any) -> None:
        # Hand transaction control to the "begin" listener (see the module docstring).
        dbapi_connection.isolation_level = None
        busy_ms = int(self.options.busy_timeout_seconds * 1000)
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {busy_ms:d}")
            cursor.execute("PRAGMA foreign_keys = ON")
            cursor.execute(f"PRAGMA synchronous = {Durability(self.options.durability).value}")
        finally:
            cursor.close()

    def open(self, *, migrations: tuple[Migration, ...] = MIGRATIONS) -> MigrationReport:
        """Check and upgrade the schema, then switch the file to WAL mode."""
        with self._translated(), self._engine.connect() as conn:
            report = migrate(conn, self.path, migrations=migrations)
            mode = run_outside_transaction(conn, "PRAGMA journal_mode = WAL")
            if str(mode).lower() != "wal":
                log.warning(
                    "Job database %s runs in %s journal mode, not WAL: concurrent use will be slower", self.path, mode
                )
        return report

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction (``BEGIN IMMEDIATE``): committed on success, rolled back on error."""
        with self._translated(), self._writer.begin() as conn:
            yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read transaction: one consistent snapshot for every query inside it."""
        with self._translated(), self._engine.begin() as conn:
            yield conn

    @contextmanager
    def _translated(self) -> Iterator[None]:
        try:
            yield
        except DBAPIError as exc:
            raise translate_sqlite_error(exc, path=self.path, busy_timeout=self.options.busy_timeout_seconds) from exc
        except PoolTimeoutError as exc:
            raise DatabaseLockedError(
                "no free connection", path=str(self.path), seconds=self.options.busy_timeout_seconds
            ) from exc

    def dispose(self) -> None:
        """Close every pooled connection."""
        self._engine.dispose()


def _on_begin(conn: Connection) -> None:
    mode = conn.get_execution_options().get(_BEGIN_OPTION, "DEFERRED")
    conn.exec_driver_sql(f"BEGIN {mode}")
