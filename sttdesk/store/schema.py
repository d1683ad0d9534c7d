"""The tables of the job database, as SQLAlchemy Core objects for building queries.

These describe the schema *after* every step of :mod:`sttdesk.store.migrations`
has run; the migrations, not these objects, create the tables (a test checks
that both agree column for column). Core rather than the ORM: every state
change is one explicit ``UPDATE ... WHERE state = :old`` whose row count is
the answer, which an identity map and a unit of work would only hide.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Float, ForeignKey, Integer, MetaData, Table, Text

metadata = MetaData()

jobs = Table(
    "jobs",
    metadata,
    Column("id", Text, primary_key=True),
    Column("seq", Integer, nullable=False, unique=True),
    Column("priority", Integer, nullable=False, default=0),
    Column("state", Text, nullable=False),
    Column("source_path", Text, nullable=False),
    Column("display_name", Text, nullable=False),
    Column("size_bytes", Integer, nullable=False, default=0),
    Column("duration_seconds", Float),
    Column("language_requested", Text, nullable=False),
    Column("language_detected", Text),
    Column("model_name", Text, nullable=False),
    Column("decode_options", Text, nullable=False, default="{}"),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("started_at", Float),
    Column("finished_at", Float),
    Column("planned_at", Float),
    Column("chunk_total", Integer, nullable=False, default=0),
    Column("chunk_done", Integer, nullable=False, default=0),
    Column("retry_count", Integer, nullable=False, default=0),
    Column("error_code", Text),
    Column("error_en", Text),
    Column("error_vi", Text),
    Column("work_dir", Text),
    Column("extras", Text, nullable=False, default="{}"),
)

chunks = Table(
    "chunks",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("job_id", Text, ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False),
    Column("chunk_index", Integer, nullable=False),
    Column("order_key", Text, nullable=False),
    Column("parent_id", Integer, ForeignKey("chunks.id", ondelete="CASCADE")),
    Column("start_seconds", Float, nullable=False),
    Column("end_seconds", Float, nullable=False),
    Column("cut", Text, nullable=False),
    Column("overlap_before", Float, nullable=False, default=0.0),
    Column("state", Text, nullable=False),
    Column("attempt", Integer, nullable=False, default=0),
    Column("failures", Integer, nullable=False, default=0),
    Column("lease_id", Text),
    Column("lease_agent_id", Text),
    Column("lease_deadline", Float),
    Column("leased_at", Float),
    Column("not_before", Float),
    Column("deadline_seconds", Float, nullable=False),
    Column("error_code", Text),
    Column("error_en", Text),
    Column("error_vi", Text),
    Column("result_json", Text),
    Column("engine_seconds", Float),
    Column("agent_seconds", Float),
    Column("done_agent_id", Text),
    Column("done_at", Float),
    Column("failed_at", Float),
    Column("purged_at", Float),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)

agents = Table(
    "agents",
    metadata,
    Column("id", Text, primary_key=True),
    Column("name", Text, nullable=False),
    Column("host", Text, nullable=False, default=""),
    Column("endpoint", Text, nullable=False, default=""),
    Column("public_key", Text),
    Column("fingerprint", Text),
    Column("trusted", Boolean(create_constraint=False), nullable=False, default=False),
    Column("local", Boolean(create_constraint=False), nullable=False, default=False),
    Column("slots", Integer, nullable=False, default=1),
    Column("threads", Integer, nullable=False, default=1),
    Column("models", Text, nullable=False, default="[]"),
    Column("cpu", Text, nullable=False, default=""),
    Column("version", Text, nullable=False, default=""),
    Column("first_seen", Float, nullable=False),
    Column("last_seen", Float, nullable=False),
    Column("chunks_done", Integer, nullable=False, default=0),
    Column("audio_seconds", Float, nullable=False, default=0.0),
    Column("busy_seconds", Float, nullable=False, default=0.0),
    Column("crashes", Integer, nullable=False, default=0),
)

events = Table(
    "events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", Float, nullable=False),
    Column("kind", Text, nullable=False),
    Column("job_id", Text),
    Column("chunk_id", Integer),
    Column("agent_id", Text),
    Column("data", Text),
)

segment_edits = Table(
    "segment_edits",
    metadata,
    Column("job_id", Text, ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True),
    Column("segment_index", Integer, primary_key=True),
    Column("segment_start", Float, nullable=False),
    Column("text", Text, nullable=False),
    Column("edited_at", Float, nullable=False),
)
