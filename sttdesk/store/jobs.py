"""Job rows: add, read, list, change state (compare-and-set), edit fields, delete.

Functions here run inside a transaction their caller opened, so a chunk
operation can change its job in the same transaction.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable, Mapping
from pathlib import PurePath
from typing import Any

from sqlalchemy import and_, delete, func, insert, select, update
from sqlalchemy.engine import Connection

from ..domain.jobs import ChunkState, JobState, check_job_transition
from ..domain.languages import validate_language
from ..domain.records import ErrorInfo, EventKind, JobRecord
from .errors import InvalidStoreValueError, JobNotFoundError
from .events import insert_event
from .rows import check_finite, dump_json_object, error_columns, job_from_row
from .schema import chunks, events, jobs

#: Bytes of randomness in a job id (12 hex digits: short to type, collisions practically never).
JOB_ID_BYTES = 6
_JOB_ID_PATTERN = re.compile(r"[0-9a-z][0-9a-z_-]{0,63}")
_ID_ATTEMPTS = 8

#: Orders ``list_jobs`` accepts: newest first, oldest first, or the dispatch queue's order.
JOB_ORDERS = ("newest", "oldest", "queue")

#: Fields ``update_job_fields`` may change (state and counters change only through their own methods).
EDITABLE_JOB_FIELDS = frozenset(
    {
        "display_name",
        "source_path",
        "size_bytes",
        "duration_seconds",
        "language_detected",
        "model_name",
        "decode_options",
        "priority",
        "work_dir",
        "extras",
    }
)
_FINISHED_STATES = (JobState.COMPLETED, JobState.FAILED, JobState.CANCELLED)


def new_job_id() -> str:
    """A fresh random job id (12 lowercase hex digits)."""
    return secrets.token_hex(JOB_ID_BYTES)


def check_job_id(job_id: str) -> str:
    if not isinstance(job_id, str) or not _JOB_ID_PATTERN.fullmatch(job_id):
        raise InvalidStoreValueError(
            f"expected lowercase letters, digits, '-' or '_' (at most 64), got {job_id!r}", field="job id"
        )
    return job_id


def _non_empty(value: Any, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidStoreValueError(f"expected a non-empty text, got {value!r}", field=field)
    return value


def _int_at_least(value: Any, field: str, minimum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidStoreValueError(f"expected a whole number, got {value!r}", field=field)
    if minimum is not None and value < minimum:
        raise InvalidStoreValueError(f"must be at least {minimum}, got {value}", field=field)
    return value


def _field_value(name: str, value: Any) -> Any:
    """A job field's value as stored, after checking it."""
    if name in ("display_name", "source_path", "model_name"):
        return _non_empty(value, name)
    if name == "size_bytes":
        return _int_at_least(value, name, 0)
    if name == "priority":
        return _int_at_least(value, name)
    if name == "duration_seconds":
        return None if value is None else check_finite(value, field=name, minimum=0.0)
    if name == "language_detected":
        return None if value is None else _non_empty(value, name).strip().lower()
    if name in ("decode_options", "extras"):
        return dump_json_object(value, field=name)
    if name == "work_dir":
        return None if value is None else _non_empty(str(value), name)
    raise InvalidStoreValueError(
        f"'{name}' cannot be changed here; editable: {', '.join(sorted(EDITABLE_JOB_FIELDS))}", field="job field"
    )


def insert_job(
    conn: Connection,
    *,
    source_path: str,
    language: str,
    model_name: str,
    now: float,
    display_name: str | None = None,
    size_bytes: int = 0,
    duration_seconds: float | None = None,
    decode_options: Mapping[str, Any] | None = None,
    priority: int = 0,
    work_dir: str | None = None,
    extras: Mapping[str, Any] | None = None,
    job_id: str | None = None,
) -> JobRecord:
    """Insert a PENDING job and log ``job_added``."""
    source = _non_empty(str(source_path) if isinstance(source_path, PurePath) else source_path, "source_path")
    values = {
        "source_path": source,
        "display_name": _field_value("display_name", display_name or PurePath(source).name or source),
        "size_bytes": _field_value("size_bytes", size_bytes),
        "duration_seconds": _field_value("duration_seconds", duration_seconds),
        "language_requested": validate_language(language),
        "model_name": _field_value("model_name", model_name),
        "decode_options": _field_value("decode_options", decode_options),
        "priority": _field_value("priority", priority),
        "work_dir": _field_value("work_dir", work_dir),
        "extras": _field_value("extras", extras),
        "state": JobState.PENDING.value,
        "created_at": now,
        "updated_at": now,
    }
    if job_id is not None:
        check_job_id(job_id)
        if fetch_job(conn, job_id) is not None:
            raise InvalidStoreValueError(f"a job with id '{job_id}' already exists", field="job id")
    else:
        for _ in range(_ID_ATTEMPTS):
            job_id = new_job_id()
            if fetch_job(conn, job_id) is None:
                break
    next_seq = select(func.coalesce(func.max(jobs.c.seq), 0) + 1).scalar_subquery()
    conn.execute(insert(jobs).values(id=job_id, seq=next_seq, **values))
    insert_event(conn, EventKind.JOB_ADDED, at=now, job_id=job_id, data={"name": values["display_name"]})
    return require_job(conn, job_id)


def fetch_job(conn: Connection, job_id: str) -> JobRecord | None:
    row = conn.execute(select(jobs).where(jobs.c.id == job_id)).mappings().first()
    return None if row is None else job_from_row(row)


def require_job(conn: Connection, job_id: str) -> JobRecord:
    job = fetch_job(conn, job_id)
    if job is None:
        raise JobNotFoundError(job_id=job_id)
    return job


def _state_filter(states: Iterable[JobState | str] | None) -> list[str] | None:
    if states is None:
        return None
    if isinstance(states, (str, JobState)):
        states = [states]
    try:
        return [JobState(s).value for s in states]
    except ValueError as exc:
        raise InvalidStoreValueError(str(exc), field="job state") from exc


def select_jobs(
    conn: Connection,
    *,
    states: Iterable[JobState | str] | None,
    limit: int,
    offset: int,
    order: str,
) -> list[JobRecord]:
    if order not in JOB_ORDERS:
        raise InvalidStoreValueError(f"expected one of {', '.join(JOB_ORDERS)}, got {order!r}", field="order")
    _int_at_least(limit, "limit", 1)
    _int_at_least(offset, "offset", 0)
    query = select(jobs)
    wanted = _state_filter(states)
    if wanted is not None:
        query = query.where(jobs.c.state.in_(wanted))
    if order == "newest":
        query = query.order_by(jobs.c.created_at.desc(), jobs.c.seq.desc())
    elif order == "oldest":
        query = query.order_by(jobs.c.seq)
    else:
        query = query.order_by(jobs.c.priority.desc(), jobs.c.seq)
    rows = conn.execute(query.limit(limit).offset(offset)).mappings()
    return [job_from_row(row) for row in rows]


def count_jobs(conn: Connection, *, states: Iterable[JobState | str] | None) -> int:
    query = select(func.count()).select_from(jobs)
    wanted = _state_filter(states)
    if wanted is not None:
        query = query.where(jobs.c.state.in_(wanted))
    return int(conn.execute(query).scalar_one())


def set_job_state(
    conn: Connection,
    job_id: str,
    old: JobState,
    new: JobState,
    *,
    now: float,
    error: ErrorInfo | None = None,
    fields: Mapping[str, Any] | None = None,
    event_data: Mapping[str, Any] | None = None,
) -> bool:
    """Compare-and-set the job's state from ``old`` to ``new``; False if it was not ``old``.

    Raises IllegalTransitionError for a change the transition table forbids.
    """
    old, new = JobState(old), JobState(new)
    check_job_transition(old, new)
    values: dict[str, Any] = {name: _field_value(name, value) for name, value in (fields or {}).items()}
    values.update(state=new.value, updated_at=now)
    if new is JobState.PROCESSING:
        values["started_at"] = func.coalesce(jobs.c.started_at, now)
    if new in _FINISHED_STATES:
        values["finished_at"] = now
    else:
        values["finished_at"] = None
    if error is not None:
        values.update(error_columns(error))
    elif old is JobState.FAILED:
        # Leaving FAILED (retry): the old error no longer describes the job.
        values.update(error_columns(None))
    result = conn.execute(update(jobs).where(and_(jobs.c.id == job_id, jobs.c.state == old.value)).values(**values))
    if result.rowcount != 1:
        return False
    data: dict[str, Any] = {"old": old.value, "new": new.value}
    if error is not None:
        data["error_code"] = error.code
    if event_data:
        data.update(event_data)
    insert_event(conn, EventKind.JOB_STATE, at=now, job_id=job_id, data=data)
    return True


def _has_chunk_in(conn: Connection, job_id: str, states: Iterable[ChunkState]) -> bool:
    query = select(chunks.c.id).where(chunks.c.job_id == job_id, chunks.c.state.in_([s.value for s in states]))
    return conn.execute(query.limit(1)).first() is not None


def settle_job(conn: Connection, job_id: str, *, now: float) -> JobState | None:
    """Finish an active, planned job whose chunks are all settled; return its new state, if changed.

    All chunks done → COMPLETED. Nothing left to run but some dead letters →
    FAILED, keeping the partial transcript (the first dead letter's error
    becomes the job's, unless the job already has one).
    """
    job = fetch_job(conn, job_id)
    if job is None or not job.state.is_active or job.planned_at is None:
        return None
    # Index probes, not counts: this runs after every completion of jobs with many chunks.
    if _has_chunk_in(conn, job_id, (ChunkState.PENDING, ChunkState.LEASED, ChunkState.RETRY_WAIT)):
        return None
    if not _has_chunk_in(conn, job_id, (ChunkState.FAILED,)):
        if set_job_state(conn, job_id, job.state, JobState.COMPLETED, now=now):
            return JobState.COMPLETED
        return None
    error = job.error
    if error is None:
        first = conn.execute(
            select(chunks.c.error_code, chunks.c.error_en, chunks.c.error_vi)
            .where(and_(chunks.c.job_id == job_id, chunks.c.state == ChunkState.FAILED.value))
            .order_by(chunks.c.order_key)
            .limit(1)
        ).first()
        if first is not None and first.error_code is not None:
            error = ErrorInfo(first.error_code, first.error_en or "", first.error_vi or "")
    if set_job_state(conn, job_id, job.state, JobState.FAILED, now=now, error=error):
        return JobState.FAILED
    return None


def update_job(conn: Connection, job_id: str, fields: Mapping[str, Any], *, now: float) -> JobRecord:
    """Change non-state fields of a job; return it as it is now."""
    values = {name: _field_value(name, value) for name, value in fields.items()}
    if values:
        values["updated_at"] = now
        result = conn.execute(update(jobs).where(jobs.c.id == job_id).values(**values))
        if result.rowcount != 1:
            raise JobNotFoundError(job_id=job_id)
    return require_job(conn, job_id)


def delete_job(conn: Connection, job_id: str, *, now: float) -> bool:
    """Delete a job with its chunks, edits and events; log ``job_deleted``. False if there was none."""
    job = fetch_job(conn, job_id)
    if job is None:
        return False
    conn.execute(delete(events).where(events.c.job_id == job_id))
    conn.execute(delete(jobs).where(jobs.c.id == job_id))
    insert_event(
        conn, EventKind.JOB_DELETED, at=now, job_id=job_id, data={"name": job.display_name, "state": job.state.value}
    )
    return True
