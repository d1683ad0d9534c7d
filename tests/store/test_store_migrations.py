"""Opening the database: fresh files, upgrades from schema 1, and files this program must not touch."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import pytest

from sttdesk.domain.jobs import ChunkState, JobState
from sttdesk.store import (
    SCHEMA_VERSION,
    DatabaseUnavailableError,
    Durability,
    JobStore,
    NotAStoreFileError,
    SchemaTooNewError,
    StoreError,
    StoreOptions,
    default_database_path,
)
from sttdesk.store.migrations import APPLICATION_ID, MIGRATIONS, Migration
from sttdesk.store.schema import metadata
from tests.store.helpers import T0, result_json

# The schema-1 file as sttdesk 0.1 wrote it, spelled out independently of the
# migration code so that a change to migration 1 cannot go unnoticed.
V1_SQL = """
CREATE TABLE jobs (
    id TEXT NOT NULL PRIMARY KEY, seq INTEGER NOT NULL UNIQUE, priority INTEGER NOT NULL DEFAULT 0,
    state TEXT NOT NULL, source_path TEXT NOT NULL, display_name TEXT NOT NULL,
    size_bytes INTEGER NOT NULL DEFAULT 0, duration_seconds REAL, language_requested TEXT NOT NULL,
    language_detected TEXT, model_name TEXT NOT NULL, decode_options TEXT NOT NULL DEFAULT '{}',
    created_at REAL NOT NULL, updated_at REAL NOT NULL, started_at REAL, finished_at REAL, planned_at REAL,
    chunk_total INTEGER NOT NULL DEFAULT 0, chunk_done INTEGER NOT NULL DEFAULT 0,
    retry_count INTEGER NOT NULL DEFAULT 0, error_code TEXT, error_en TEXT, error_vi TEXT, work_dir TEXT,
    extras TEXT NOT NULL DEFAULT '{}');
CREATE INDEX ix_jobs_state ON jobs (state, priority, seq);
CREATE INDEX ix_jobs_finished ON jobs (finished_at);
CREATE TABLE chunks (
    id INTEGER PRIMARY KEY AUTOINCREMENT, job_id TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    chunk_index INTEGER NOT NULL, order_key TEXT NOT NULL, parent_id INTEGER REFERENCES chunks (id) ON DELETE CASCADE,
    start_seconds REAL NOT NULL, end_seconds REAL NOT NULL, cut TEXT NOT NULL, overlap_before REAL NOT NULL DEFAULT 0,
    state TEXT NOT NULL, attempt INTEGER NOT NULL DEFAULT 0, failures INTEGER NOT NULL DEFAULT 0,
    lease_id TEXT, lease_agent_id TEXT, lease_deadline REAL, leased_at REAL, not_before REAL,
    deadline_seconds REAL NOT NULL, error_code TEXT, error_en TEXT, error_vi TEXT, result_json TEXT,
    engine_seconds REAL, agent_seconds REAL, done_agent_id TEXT, done_at REAL, failed_at REAL, purged_at REAL,
    created_at REAL NOT NULL, updated_at REAL NOT NULL, UNIQUE (job_id, order_key));
CREATE INDEX ix_chunks_state_job ON chunks (state, job_id, order_key);
CREATE INDEX ix_chunks_lease_deadline ON chunks (state, lease_deadline);
CREATE INDEX ix_chunks_not_before ON chunks (state, not_before);
CREATE INDEX ix_chunks_parent ON chunks (parent_id);
CREATE INDEX ix_chunks_lease_agent ON chunks (lease_agent_id);
CREATE TABLE agents (
    id TEXT NOT NULL PRIMARY KEY, name TEXT NOT NULL, host TEXT NOT NULL DEFAULT '', endpoint TEXT NOT NULL DEFAULT '',
    public_key TEXT, fingerprint TEXT, trusted INTEGER NOT NULL DEFAULT 0, local INTEGER NOT NULL DEFAULT 0,
    slots INTEGER NOT NULL DEFAULT 1, threads INTEGER NOT NULL DEFAULT 1, models TEXT NOT NULL DEFAULT '[]',
    cpu TEXT NOT NULL DEFAULT '', version TEXT NOT NULL DEFAULT '', first_seen REAL NOT NULL, last_seen REAL NOT NULL,
    chunks_done INTEGER NOT NULL DEFAULT 0, audio_seconds REAL NOT NULL DEFAULT 0, busy_seconds REAL NOT NULL DEFAULT 0,
    crashes INTEGER NOT NULL DEFAULT 0);
CREATE TABLE events (
    id INTEGER PRIMARY KEY AUTOINCREMENT, at REAL NOT NULL, kind TEXT NOT NULL, job_id TEXT, chunk_id INTEGER,
    agent_id TEXT, data TEXT);
CREATE INDEX ix_events_job ON events (job_id, id);
CREATE INDEX ix_events_chunk ON events (chunk_id);
CREATE INDEX ix_events_kind_at ON events (kind, at);
"""


def _write_v1_file(path: Path) -> None:
    """A schema-1 database with one job half done: chunk 1 done, chunk 2 leased, chunk 3 queued."""
    conn = sqlite3.connect(path)
    conn.executescript(V1_SQL)
    conn.execute(
        "INSERT INTO jobs (id, seq, state, source_path, display_name, size_bytes, language_requested, model_name,"
        " created_at, updated_at, started_at, planned_at, chunk_total, chunk_done)"
        " VALUES ('0123456789ab', 1, 'PROCESSING', '/rec/old.mp3', 'old.mp3', 999, 'vi', 'base', ?, ?, ?, ?, 3, 1)",
        (T0, T0, T0, T0),
    )
    result = result_json("xin chào")
    for index, (state, res) in enumerate([("DONE", result), ("LEASED", None), ("PENDING", None)]):
        conn.execute(
            "INSERT INTO chunks (job_id, chunk_index, order_key, start_seconds, end_seconds, cut, state, attempt,"
            " lease_id, lease_agent_id, lease_deadline, deadline_seconds, result_json, created_at, updated_at)"
            " VALUES ('0123456789ab', ?, ?, ?, ?, 'silence', ?, ?, ?, ?, ?, 300, ?, ?, ?)",
            (
                index,
                f"{index:08d}",
                index * 30.0,
                index * 30.0 + 30.0,
                state,
                1 if state != "PENDING" else 0,
                "L1" if state != "PENDING" else None,
                "a1" if state != "PENDING" else None,
                T0 + 300 if state == "LEASED" else None,
                res,
                T0,
                T0,
            ),
        )
    conn.execute("INSERT INTO events (at, kind, job_id) VALUES (?, 'job_added', '0123456789ab')", (T0,))
    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()


def _pragma(path: Path, name: str):
    conn = sqlite3.connect(path)
    try:
        return conn.execute(f"PRAGMA {name}").fetchone()[0]
    finally:
        conn.close()


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_fresh_file_gets_the_current_schema_in_wal_mode(db_path: Path) -> None:
    with JobStore(db_path) as store:
        assert (store.schema.from_version, store.schema.to_version) == (0, SCHEMA_VERSION)
        assert store.check_integrity() == []
    assert _pragma(db_path, "user_version") == SCHEMA_VERSION
    assert _pragma(db_path, "application_id") == APPLICATION_ID
    assert _pragma(db_path, "journal_mode") == "wal"


def test_migrations_produce_exactly_the_tables_the_code_queries(db_path: Path) -> None:
    JobStore(db_path).close()
    conn = sqlite3.connect(db_path)
    try:
        for table in metadata.sorted_tables:
            columns = [row[1] for row in conn.execute(f"PRAGMA table_info({table.name})")]
            assert columns == [c.name for c in table.columns], table.name
            not_null = {row[1] for row in conn.execute(f"PRAGMA table_info({table.name})") if row[3]}
            expected = {
                c.name for c in table.columns if not c.nullable and not (c.primary_key and c.autoincrement is True)
            }
            assert expected <= not_null | {c.name for c in table.primary_key.columns}, table.name
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert tables - {"sqlite_sequence"} == set(metadata.tables)
    finally:
        conn.close()


def test_reopening_a_current_file_changes_nothing(db_path: Path) -> None:
    with JobStore(db_path) as store:
        store.add_job(source_path="/a.wav", language="en", model_name="base")
    with JobStore(db_path) as again:
        assert not again.schema.upgraded and again.count_jobs() == 1


def test_schema_1_file_is_upgraded_in_place_with_its_data(db_path: Path) -> None:
    _write_v1_file(db_path)
    with JobStore(db_path) as store:
        assert (store.schema.from_version, store.schema.to_version) == (1, 2)
        job = store.get_job("0123456789ab")
        assert (job.state, job.chunk_done, job.language_requested, job.display_name) == (
            JobState.PROCESSING,
            1,
            "vi",
            "old.mp3",
        )
        chunks = store.chunks_of(job.id)
        assert [c.state for c in chunks] == [ChunkState.DONE, ChunkState.LEASED, ChunkState.PENDING]
        assert chunks[0].result().text == "xin chào"
        assert [e.kind for e in store.events()] == ["job_added"]
        # The new table of schema 2 works, and so does the old data.
        store.save_segment_edit(job.id, segment_index=0, segment_start=0.0, text="Xin chào!")
        recovered = store.recover_after_restart(now=T0 + 10)
        assert [c.index for c in recovered] == [1]
        for chunk in store.dispatchable_chunks(limit=5, now=T0 + 11):
            leased = store.lease_chunk(chunk.id, agent_id="a2", lease_id=f"n{chunk.id}", deadline=T0 + 400, now=T0 + 11)
            assert store.complete_chunk(
                leased.id,
                lease_id=leased.lease_id,
                attempt=leased.attempt,
                result_json=result_json("x"),
                agent_id="a2",
                now=T0 + 20,
            ).accepted
        assert store.get_job(job.id).state is JobState.COMPLETED
        assert store.check_integrity() == []
    assert _pragma(db_path, "user_version") == 2


def test_a_failing_upgrade_leaves_the_file_as_it_was(db_path: Path) -> None:
    from sttdesk.store.database import Database

    _write_v1_file(db_path)
    before = _digest(db_path)
    broken = MIGRATIONS[:1] + (Migration(2, "broken", ("CREATE TABLE segment_edits (x)", "CREATE TABLE jobs (y)")),)
    database = Database(db_path, StoreOptions())
    try:
        with pytest.raises(StoreError, match="already exists"):
            database.open(migrations=broken)
    finally:
        database.dispose()
    assert _pragma(db_path, "user_version") == 1
    conn = sqlite3.connect(db_path)
    assert conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'segment_edits'").fetchone()[0] == 0
    conn.close()
    assert _digest(db_path) == before


def test_file_from_a_newer_sttdesk_is_refused_and_untouched(db_path: Path) -> None:
    JobStore(db_path).close()
    conn = sqlite3.connect(db_path)
    conn.execute("PRAGMA journal_mode = DELETE")
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    before = _digest(db_path)
    with pytest.raises(SchemaTooNewError) as caught:
        JobStore(db_path)
    assert str(SCHEMA_VERSION + 1) in caught.value.user_message("en")
    assert str(SCHEMA_VERSION + 1) in caught.value.user_message("vi")
    assert not caught.value.transient
    assert _digest(db_path) == before
    assert _pragma(db_path, "journal_mode") == "delete"


def test_another_programs_sqlite_file_is_refused_and_untouched(db_path: Path) -> None:
    conn = sqlite3.connect(db_path)
    conn.execute("CREATE TABLE contacts (name TEXT)")
    conn.execute("INSERT INTO contacts VALUES ('Lan')")
    conn.commit()
    conn.close()
    before = _digest(db_path)
    with pytest.raises(NotAStoreFileError) as caught:
        JobStore(db_path)
    assert str(db_path) in caught.value.user_message("vi")
    assert _digest(db_path) == before


def test_a_file_that_is_not_sqlite_is_refused(db_path: Path) -> None:
    db_path.write_bytes(b"this is a text file, not a database\n" * 200)
    with pytest.raises(DatabaseUnavailableError) as caught:
        JobStore(db_path)
    assert caught.value.code == "database_unavailable"
    assert db_path.read_bytes().startswith(b"this is a text file")


def test_unusable_location_is_reported(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    with pytest.raises(DatabaseUnavailableError) as caught:
        JobStore(blocker / "sttdesk.db")
    assert "not-a-folder" in caught.value.user_message("en")


def test_default_location_is_in_the_data_folder(isolated_dirs: Path) -> None:
    path = default_database_path()
    assert path == isolated_dirs / "data" / "sttdesk.db"
    with JobStore() as store:
        assert store.path == path and path.is_file()


def test_connection_settings_and_power_loss_durability(db_path: Path) -> None:
    with JobStore(db_path, options=StoreOptions(busy_timeout_seconds=7.5)) as store:
        assert store.sqlite_settings() == {
            "journal_mode": "wal",
            "synchronous": "NORMAL",
            "foreign_keys": True,
            "busy_timeout_ms": 7500,
            "schema_version": SCHEMA_VERSION,
        }
    with JobStore(db_path, options=StoreOptions(durability=Durability.POWER_LOSS)) as store:
        assert store.sqlite_settings()["synchronous"] == "FULL"


def test_migrations_refuse_a_connection_that_commits_ddl_on_its_own(db_path: Path) -> None:
    from sqlalchemy import create_engine

    from sttdesk.store.migrations import migrate

    engine = create_engine(f"sqlite:///{db_path}")
    try:
        with engine.connect() as conn, pytest.raises(StoreError, match="schema upgrades need"):
            migrate(conn, db_path)
    finally:
        engine.dispose()
    assert _pragma(db_path, "user_version") == 0


def test_store_errors_share_one_base() -> None:
    assert issubclass(SchemaTooNewError, StoreError) and issubclass(DatabaseUnavailableError, StoreError)
    assert json.dumps(SchemaTooNewError(path="x", found=3, supported=2).to_dict())
