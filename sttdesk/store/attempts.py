"""How an attempt at a chunk ends: its reply accepted (or dropped), a failure, or a split.

Each is a compare-and-set on the chunk's current lease: state LEASED, the same
lease id and the same attempt number. A reply that does not match is dropped
and logged (``reply_dropped``) with the reason, so a late or duplicated reply
can never overwrite a newer state or count twice. The job's counters, its
state and the agent's counters change in the same transaction.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, insert, update
from sqlalchemy.engine import Connection

from ..domain.chunks import ChunkSpan
from ..domain.jobs import ChunkState, JobState, check_chunk_transition
from ..domain.records import (
    ChunkRecord,
    CompletionOutcome,
    DropReason,
    ErrorInfo,
    EventKind,
)
from .chunks import check_span, fetch_chunk, fetch_chunks, spans_meet
from .errors import InvalidStoreValueError, StoreError
from .events import insert_event
from .jobs import fetch_job, set_job_state, settle_job
from .leases import LEASE_CLEARED, check_text_id
from .rows import check_finite, check_json_object_text, error_columns
from .schema import agents, chunks, jobs


def _optional_seconds(value: float | None, field: str) -> float | None:
    return None if value is None else check_finite(value, field=field, minimum=0.0)


def _check_lease_key(lease_id: str, attempt: int) -> None:
    check_text_id(lease_id, "lease id")
    if isinstance(attempt, bool) or not isinstance(attempt, int) or attempt < 1:
        raise InvalidStoreValueError(f"expected a whole number of at least 1, got {attempt!r}", field="attempt")


def _drop_reason(chunk: ChunkRecord, *, lease_id: str, attempt: int, agent_id: str) -> DropReason | None:
    """Why a reply for (chunk, attempt, lease) cannot be accepted; None if it can.

    ``agent_id`` is the agent the lease was given to.
    """
    if attempt < chunk.attempt:
        return DropReason.SUPERSEDED
    if attempt > chunk.attempt:
        return DropReason.LEASE_MISMATCH
    if chunk.state is ChunkState.DONE:
        # A done chunk keeps the id of the lease that completed it, to recognise duplicates.
        return DropReason.DUPLICATE if chunk.lease_id == lease_id else DropReason.LEASE_MISMATCH
    if chunk.state is not ChunkState.LEASED:
        return DropReason.NOT_LEASED
    if chunk.lease_id != lease_id or chunk.lease_agent_id != agent_id:
        return DropReason.LEASE_MISMATCH
    return None


def complete(
    conn: Connection,
    chunk_id: int,
    *,
    lease_id: str,
    attempt: int,
    result_json: str,
    agent_id: str,
    engine_seconds: float | None,
    agent_seconds: float | None,
    now: float,
    lease_agent_id: str | None = None,
) -> CompletionOutcome:
    """LEASED → DONE for the reply of the current lease; any other reply is dropped and logged.

    ``agent_id`` did the work. ``lease_agent_id`` is the agent holding the lease when
    that is another one (a speculative copy of a straggler's chunk finished first):
    the lease is checked against it, the result and counters go to ``agent_id``.
    """
    _check_lease_key(lease_id, attempt)
    check_text_id(agent_id, "agent id")
    holder = agent_id if lease_agent_id is None else check_text_id(lease_agent_id, "lease agent id")
    check_json_object_text(result_json, field="result")
    engine_seconds = _optional_seconds(engine_seconds, "engine_seconds")
    agent_seconds = _optional_seconds(agent_seconds, "agent_seconds")
    chunk = fetch_chunk(conn, chunk_id, with_result=False)
    reason = (
        DropReason.UNKNOWN_CHUNK
        if chunk is None
        else _drop_reason(chunk, lease_id=lease_id, attempt=attempt, agent_id=holder)
    )
    if chunk is None or reason is not None:
        insert_event(
            conn,
            EventKind.REPLY_DROPPED,
            at=now,
            job_id=None if chunk is None else chunk.job_id,
            chunk_id=chunk_id,
            agent_id=agent_id,
            data={
                "reason": reason.value if reason else None,
                "attempt": attempt,
                "lease_id": lease_id,
                "state": None if chunk is None else chunk.state.value,
                "current_attempt": None if chunk is None else chunk.attempt,
            },
        )
        return CompletionOutcome(accepted=False, reason=reason, chunk=chunk)

    updated = conn.execute(
        update(chunks)
        .where(
            chunks.c.id == chunk_id,
            chunks.c.state == ChunkState.LEASED.value,
            chunks.c.lease_id == lease_id,
            chunks.c.attempt == attempt,
        )
        .values(
            state=ChunkState.DONE.value,
            result_json=result_json,
            engine_seconds=engine_seconds,
            agent_seconds=agent_seconds,
            done_agent_id=agent_id,
            done_at=now,
            lease_deadline=None,
            updated_at=now,
            **error_columns(None),
        )
    )
    if updated.rowcount != 1:
        # Inside one BEGIN IMMEDIATE transaction the row read above cannot change; if
        # it did, something outside sttdesk wrote to the file: refuse rather than guess.
        raise StoreError(f"chunk {chunk_id} changed during its completion")
    conn.execute(update(jobs).where(jobs.c.id == chunk.job_id).values(chunk_done=jobs.c.chunk_done + 1, updated_at=now))
    lease_seconds = max(0.0, now - (chunk.leased_at or now))
    busy = (
        agent_seconds if agent_seconds is not None else engine_seconds if engine_seconds is not None else lease_seconds
    )
    conn.execute(
        update(agents)
        .where(agents.c.id == agent_id)
        .values(
            chunks_done=agents.c.chunks_done + 1,
            audio_seconds=agents.c.audio_seconds + chunk.duration,
            busy_seconds=agents.c.busy_seconds + busy,
            last_seen=func.max(agents.c.last_seen, now),
        )
    )
    insert_event(
        conn,
        EventKind.CHUNK_DONE,
        at=now,
        job_id=chunk.job_id,
        chunk_id=chunk_id,
        agent_id=agent_id,
        data={
            "attempt": attempt,
            "seconds": round(lease_seconds, 4),
            "engine_seconds": engine_seconds,
            "agent_seconds": agent_seconds,
            **({"speculative_for": holder} if holder != agent_id else {}),
        },
    )
    job_completed = settle_job(conn, chunk.job_id, now=now) is JobState.COMPLETED
    return CompletionOutcome(
        accepted=True, reason=None, chunk=fetch_chunk(conn, chunk_id, with_result=False), job_completed=job_completed
    )


def fail(
    conn: Connection,
    chunk_id: int,
    *,
    lease_id: str,
    attempt: int,
    new_state: ChunkState,
    error: ErrorInfo,
    now: float,
    not_before: float | None,
    job_failed: bool,
    deadline_seconds: float | None,
    expired: bool,
) -> bool:
    """LEASED → RETRY_WAIT or FAILED (dead letter) for the current lease; False if it is not current."""
    _check_lease_key(lease_id, attempt)
    new_state = ChunkState(new_state)
    if new_state not in (ChunkState.RETRY_WAIT, ChunkState.FAILED):
        raise InvalidStoreValueError(f"expected RETRY_WAIT or FAILED, got {new_state.value}", field="new_state")
    check_chunk_transition(ChunkState.LEASED, new_state)
    if error is None:
        raise InvalidStoreValueError("a failed attempt needs its error", field="error")
    errors = error_columns(error)
    values: dict[str, Any] = {
        "state": new_state.value,
        "failures": chunks.c.failures + 1,
        "updated_at": now,
        **LEASE_CLEARED,
        **errors,
    }
    if new_state is ChunkState.RETRY_WAIT:
        if not_before is None:
            raise InvalidStoreValueError("a chunk waiting for a retry needs its wake-up time", field="not_before")
        values["not_before"] = check_finite(not_before, field="not_before")
    else:
        values["failed_at"] = now
        values["not_before"] = None
    if deadline_seconds is not None:
        values["deadline_seconds"] = check_finite(deadline_seconds, field="deadline_seconds", positive=True)

    chunk = fetch_chunk(conn, chunk_id, with_result=False)
    if chunk is None:
        return False
    conditions = [
        chunks.c.id == chunk_id,
        chunks.c.state == ChunkState.LEASED.value,
        chunks.c.lease_id == lease_id,
        chunks.c.attempt == attempt,
    ]
    if expired:
        # Never expire a lease before its deadline.
        conditions.append(chunks.c.lease_deadline <= now)
    if conn.execute(update(chunks).where(*conditions).values(**values)).rowcount != 1:
        return False

    if new_state is ChunkState.RETRY_WAIT:
        conn.execute(update(jobs).where(jobs.c.id == chunk.job_id).values(retry_count=jobs.c.retry_count + 1))
    if expired:
        insert_event(
            conn,
            EventKind.LEASE_EXPIRED,
            at=now,
            job_id=chunk.job_id,
            chunk_id=chunk_id,
            agent_id=chunk.lease_agent_id,
            data={"attempt": attempt, "deadline": chunk.lease_deadline, "lease_id": lease_id},
        )
    kind = EventKind.CHUNK_RETRY_WAIT if new_state is ChunkState.RETRY_WAIT else EventKind.CHUNK_DEAD_LETTER
    insert_event(
        conn,
        kind,
        at=now,
        job_id=chunk.job_id,
        chunk_id=chunk_id,
        agent_id=chunk.lease_agent_id,
        data={
            "attempt": attempt,
            "failures": chunk.failures + 1,
            "error_code": error.code,
            "not_before": values.get("not_before"),
        },
    )
    if new_state is ChunkState.FAILED and job_failed:
        _fail_job(conn, chunk.job_id, error, now=now)
    else:
        settle_job(conn, chunk.job_id, now=now)
    return True


def _fail_job(conn: Connection, job_id: str, error: ErrorInfo, *, now: float) -> None:
    job = fetch_job(conn, job_id)
    if job is None:
        return
    if job.state.is_active:
        set_job_state(conn, job_id, job.state, JobState.FAILED, now=now, error=error)
    elif job.state is JobState.PAUSED:
        # A paused job cannot fail (no such transition); keep the error, and the
        # job fails when resumed (see settle_job).
        conn.execute(update(jobs).where(jobs.c.id == job_id).values(updated_at=now, **error_columns(error)))


def _check_halves(parent: ChunkRecord, halves: tuple[ChunkSpan, ChunkSpan]) -> tuple[ChunkSpan, ChunkSpan]:
    if not isinstance(halves, (tuple, list)) or len(halves) != 2:
        raise InvalidStoreValueError("expected exactly two spans", field="halves")
    first, second = check_span(halves[0], field="first half"), check_span(halves[1], field="second half")
    if not spans_meet(first.start, parent.start) or not spans_meet(second.end, parent.end):
        raise InvalidStoreValueError(
            f"halves {first.start}-{second.end} s do not cover the chunk {parent.start}-{parent.end} s", field="halves"
        )
    if not first.start < second.start <= first.end + 1e-3:
        raise InvalidStoreValueError(
            f"second half starts at {second.start} s, not within the first half {first.start}-{first.end} s",
            field="halves",
        )
    return first, second


def split(
    conn: Connection,
    chunk_id: int,
    *,
    lease_id: str,
    attempt: int,
    halves: tuple[ChunkSpan, ChunkSpan],
    now: float,
    error: ErrorInfo | None,
    deadline_seconds: float | None,
) -> tuple[ChunkRecord, ChunkRecord] | None:
    """LEASED → SPLIT, replaced by two PENDING halves in its place; None if the lease is not current.

    The halves inherit the parent's failures plus this one, so a chunk that
    keeps running out of memory still reaches the retry limit.
    """
    _check_lease_key(lease_id, attempt)
    parent = fetch_chunk(conn, chunk_id, with_result=False)
    if (
        parent is None
        or parent.state is not ChunkState.LEASED
        or parent.lease_id != lease_id
        or parent.attempt != attempt
    ):
        return None
    check_chunk_transition(ChunkState.LEASED, ChunkState.SPLIT)
    first, second = _check_halves(parent, halves)
    deadline = (
        parent.deadline_seconds
        if deadline_seconds is None
        else check_finite(deadline_seconds, field="deadline_seconds", positive=True)
    )
    result = conn.execute(
        update(chunks)
        .where(
            chunks.c.id == chunk_id,
            chunks.c.state == ChunkState.LEASED.value,
            chunks.c.lease_id == lease_id,
            chunks.c.attempt == attempt,
        )
        .values(
            state=ChunkState.SPLIT.value,
            failures=chunks.c.failures + 1,
            updated_at=now,
            **LEASE_CLEARED,
            **error_columns(error),
        )
    )
    if result.rowcount != 1:
        return None
    child_ids = []
    for position, span in enumerate((first, second)):
        inserted = conn.execute(
            insert(chunks).values(
                job_id=parent.job_id,
                chunk_index=parent.index,
                order_key=f"{parent.order_key}.{position}",
                parent_id=parent.id,
                start_seconds=span.start,
                end_seconds=span.end,
                cut=span.cut.value,
                overlap_before=span.overlap_before,
                state=ChunkState.PENDING.value,
                failures=parent.failures + 1,
                deadline_seconds=deadline,
                created_at=now,
                updated_at=now,
            )
        )
        child_ids.append(int(inserted.inserted_primary_key[0]))
    conn.execute(
        update(jobs)
        .where(jobs.c.id == parent.job_id)
        .values(chunk_total=jobs.c.chunk_total + 1, retry_count=jobs.c.retry_count + 1, updated_at=now)
    )
    insert_event(
        conn,
        EventKind.CHUNK_SPLIT,
        at=now,
        job_id=parent.job_id,
        chunk_id=chunk_id,
        agent_id=parent.lease_agent_id,
        data={"attempt": attempt, "children": child_ids, "error_code": None if error is None else error.code},
    )
    children = fetch_chunks(conn, child_ids)
    return children[0], children[1]
