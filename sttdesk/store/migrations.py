"""Schema versions of the job database, and the migrator that upgrades an old file in place.

Why a small hand-written migrator rather than Alembic: the store is one SQLite
file that ships inside a desktop app and is opened by several processes (the
app, ``sttdesk serve``, CLI commands). What it needs is exactly: an ordered list
of steps, each applied once, atomically, under a lock that makes concurrent
openers wait, and a refusal to touch a file from a newer version. SQLite has
transactional DDL and a version slot in the file header (``PRAGMA
user_version``), so that is a few dozen lines. Alembic would add a migration
environment and script folder to package, an ``alembic_version`` table, and
"batch mode" table rebuilds that we would still have to reason about for
SQLite; its autogenerate feature does not help when the DDL must be frozen.

Each step's DDL is written out as SQL and never changes once released: the
current tables in :mod:`sttdesk.store.schema` describe the result of applying
every step, and a test checks the two agree.

Upgrade procedure (SQLite's recommended one for schema changes): foreign keys
off, ``BEGIN IMMEDIATE``, apply the missing steps, ``PRAGMA foreign_key_check``,
set the new ``user_version``, ``COMMIT``. Any failure rolls the whole upgrade
back and leaves the file as it was.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Connection

from .errors import NotAStoreFileError, SchemaTooNewError, StoreError

log = logging.getLogger(__name__)

#: Written to ``PRAGMA application_id`` so a foreign SQLite file is recognised ("STTD").
APPLICATION_ID = 0x53545444


@dataclass(frozen=True, slots=True)
class Migration:
    """One step from schema ``version - 1`` to ``version``."""

    version: int
    description: str
    statements: tuple[str, ...]


_V1_JOBS = """
CREATE TABLE jobs (
    id TEXT NOT NULL PRIMARY KEY,
    seq INTEGER NOT NULL UNIQUE,
    priority INTEGER NOT NULL DEFAULT 0,
    state TEXT NOT NULL,
    source_path TEXT NOT NULL,
    display_name TEXT NOT NULL,
    size_bytes INTEGER NOT NULL DEFAULT 0,
    duration_seconds REAL,
    language_requested TEXT NOT NULL,
    language_detected TEXT,
    model_name TEXT NOT NULL,
    decode_options TEXT NOT NULL DEFAULT '{}',
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    started_at REAL,
    finished_at REAL,
    planned_at REAL,
    chunk_total INTEGER NOT NULL DEFAULT 0,
    chunk_done INTEGER NOT NULL DEFAULT 0,
    retry_count INTEGER NOT NULL DEFAULT 0,
    error_code TEXT,
    error_en TEXT,
    error_vi TEXT,
    work_dir TEXT,
    extras TEXT NOT NULL DEFAULT '{}'
)
"""

# AUTOINCREMENT: a chunk id is never reused, even after its job is deleted, so
# a reply that arrives very late can never land on an unrelated chunk.
_V1_CHUNKS = """
CREATE TABLE chunks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    chunk_index INTEGER NOT NULL,
    order_key TEXT NOT NULL,
    parent_id INTEGER REFERENCES chunks (id) ON DELETE CASCADE,
    start_seconds REAL NOT NULL,
    end_seconds REAL NOT NULL,
    cut TEXT NOT NULL,
    overlap_before REAL NOT NULL DEFAULT 0,
    state TEXT NOT NULL,
    attempt INTEGER NOT NULL DEFAULT 0,
    failures INTEGER NOT NULL DEFAULT 0,
    lease_id TEXT,
    lease_agent_id TEXT,
    lease_deadline REAL,
    leased_at REAL,
    not_before REAL,
    deadline_seconds REAL NOT NULL,
    error_code TEXT,
    error_en TEXT,
    error_vi TEXT,
    result_json TEXT,
    engine_seconds REAL,
    agent_seconds REAL,
    done_agent_id TEXT,
    done_at REAL,
    failed_at REAL,
    purged_at REAL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    UNIQUE (job_id, order_key)
)
"""

_V1_AGENTS = """
CREATE TABLE agents (
    id TEXT NOT NULL PRIMARY KEY,
    name TEXT NOT NULL,
    host TEXT NOT NULL DEFAULT '',
    endpoint TEXT NOT NULL DEFAULT '',
    public_key TEXT,
    fingerprint TEXT,
    trusted INTEGER NOT NULL DEFAULT 0,
    local INTEGER NOT NULL DEFAULT 0,
    slots INTEGER NOT NULL DEFAULT 1,
    threads INTEGER NOT NULL DEFAULT 1,
    models TEXT NOT NULL DEFAULT '[]',
    cpu TEXT NOT NULL DEFAULT '',
    version TEXT NOT NULL DEFAULT '',
    first_seen REAL NOT NULL,
    last_seen REAL NOT NULL,
    chunks_done INTEGER NOT NULL DEFAULT 0,
    audio_seconds REAL NOT NULL DEFAULT 0,
    busy_seconds REAL NOT NULL DEFAULT 0,
    crashes INTEGER NOT NULL DEFAULT 0
)
"""

# No foreign keys: the log outlives what it mentions (a deleted job, a forgotten agent).
_V1_EVENTS = """
CREATE TABLE events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL,
    kind TEXT NOT NULL,
    job_id TEXT,
    chunk_id INTEGER,
    agent_id TEXT,
    data TEXT
)
"""

_V2_SEGMENT_EDITS = """
CREATE TABLE segment_edits (
    job_id TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    segment_index INTEGER NOT NULL,
    segment_start REAL NOT NULL,
    text TEXT NOT NULL,
    edited_at REAL NOT NULL,
    PRIMARY KEY (job_id, segment_index)
)
"""

MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "jobs, chunks, agents and the event log",
        (
            _V1_JOBS,
            "CREATE INDEX ix_jobs_state ON jobs (state, priority, seq)",
            "CREATE INDEX ix_jobs_finished ON jobs (finished_at)",
            _V1_CHUNKS,
            # Serves "the first queued chunks of job X in order" and per-state counts.
            "CREATE INDEX ix_chunks_state_job ON chunks (state, job_id, order_key)",
            "CREATE INDEX ix_chunks_lease_deadline ON chunks (state, lease_deadline)",
            "CREATE INDEX ix_chunks_not_before ON chunks (state, not_before)",
            "CREATE INDEX ix_chunks_parent ON chunks (parent_id)",
            "CREATE INDEX ix_chunks_lease_agent ON chunks (lease_agent_id)",
            _V1_AGENTS,
            _V1_EVENTS,
            "CREATE INDEX ix_events_job ON events (job_id, id)",
            "CREATE INDEX ix_events_chunk ON events (chunk_id)",
            "CREATE INDEX ix_events_kind_at ON events (kind, at)",
        ),
    ),
    Migration(2, "transcript edits made in the viewer", (_V2_SEGMENT_EDITS,)),
)

#: The schema version this program writes.
SCHEMA_VERSION = MIGRATIONS[-1].version


@dataclass(frozen=True, slots=True)
class MigrationReport:
    """What opening the database did to its schema."""

    from_version: int
    to_version: int

    @property
    def upgraded(self) -> bool:
        return self.to_version != self.from_version


def run_outside_transaction(conn: Connection, sql: str) -> Any:
    """Run a statement SQLite refuses inside a transaction (some PRAGMAs); return its first value."""
    cursor = conn.connection.driver_connection.execute(sql)  # type: ignore[union-attr]
    try:
        row = cursor.fetchone()
    finally:
        cursor.close()
    return None if row is None else row[0]


def read_version(conn: Connection) -> tuple[int, int]:
    """``(user_version, application_id)`` of the open database."""
    version = int(conn.exec_driver_sql("PRAGMA user_version").scalar_one())
    app_id = int(conn.exec_driver_sql("PRAGMA application_id").scalar_one())
    return version, app_id


def _object_count(conn: Connection) -> int:
    return int(conn.exec_driver_sql("SELECT count(*) FROM sqlite_master").scalar_one())


def _check_openable(conn: Connection, path: Path, version: int, app_id: int) -> None:
    """Refuse a file from a newer sttdesk, or one that is not ours, before writing anything."""
    if version > SCHEMA_VERSION:
        raise SchemaTooNewError(path=str(path), found=version, supported=SCHEMA_VERSION)
    if app_id not in (0, APPLICATION_ID):
        raise NotAStoreFileError(f"application id {app_id:#x}", path=str(path))
    if version == 0 and _object_count(conn) > 0:
        raise NotAStoreFileError("it holds tables of another program", path=str(path))
    if version > 0 and app_id != APPLICATION_ID:
        raise NotAStoreFileError("no sttdesk application id", path=str(path))


def migrate(conn: Connection, path: Path, *, migrations: tuple[Migration, ...] = MIGRATIONS) -> MigrationReport:
    """Bring the database on ``conn`` (a connection outside any transaction) up to date.

    Raises SchemaTooNewError or NotAStoreFileError, without writing to the file,
    when the file is not one this program may use.
    """
    if conn.connection.driver_connection.isolation_level is not None:  # type: ignore[union-attr]
        # With the driver's own implicit transactions, DDL would commit step by step.
        raise StoreError("schema upgrades need a connection from sttdesk.store.database")
    target = migrations[-1].version
    # A first look without any lock, so a newer or foreign file is never written to,
    # not even to take a lock on it.
    with conn.begin():
        version, app_id = read_version(conn)
        _check_openable(conn, path, version, app_id)
    if version == target:
        return MigrationReport(version, version)

    # Foreign keys can only be switched outside a transaction; off, a step may rebuild a table.
    run_outside_transaction(conn, "PRAGMA foreign_keys = OFF")
    try:
        with conn.execution_options(sttdesk_begin="IMMEDIATE").begin():
            # Another process may have migrated the file while we waited for the lock.
            version, app_id = read_version(conn)
            _check_openable(conn, path, version, app_id)
            start = version
            for step in migrations:
                if step.version <= version:
                    continue
                log.info("Upgrading job database %s to schema %d: %s", path, step.version, step.description)
                for statement in step.statements:
                    conn.exec_driver_sql(statement)
                version = step.version
            problems = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            if problems:
                raise StoreError(f"schema upgrade to {version} broke {len(problems)} references; nothing was changed")
            # PRAGMA arguments cannot be bound parameters; both are our own integers.
            conn.exec_driver_sql(f"PRAGMA application_id = {APPLICATION_ID:d}")
            conn.exec_driver_sql(f"PRAGMA user_version = {int(version):d}")
    finally:
        run_outside_transaction(conn, "PRAGMA foreign_keys = ON")
    if start:
        log.info("Job database %s upgraded from schema %d to %d", path, start, version)
    return MigrationReport(start, version)
