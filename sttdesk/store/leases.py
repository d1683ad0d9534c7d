"""The lease life of a chunk: dispatch order, lease, complete, fail, split, release, expiry, wake-up.

Every change is a compare-and-set: ``UPDATE chunks ... WHERE id = :id AND
state = :old [AND lease_id = :lease AND attempt = :attempt]``, and its row count
says whether it happened. The job's counters and state change in the same
transaction, and so does the event that records it.

Attempts. ``attempt`` counts the leases ever granted to a chunk and only grows:
it is the generation number in the (chunk, attempt, lease id) key of a reply,
so a reply from an earlier lease can never match a later one. ``failures``
counts failed attempts and drives the retry policy. A lease handed back unused
(:func:`release`) or left over by a stopped coordinator (:func:`recover`) goes
back to PENDING without touching ``failures``: it spent no attempt in the
policy's sense, yet the next lease still gets a new attempt number.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.engine import Connection

from ..domain.chunks import ChunkSpan
from ..domain.jobs import ChunkState, JobState, check_chunk_transition
from ..domain.records import ChunkRecord, CompletionOutcome, DropReason, ErrorInfo, EventKind
from .chunks import CHUNK_COLUMNS_WITHOUT_RESULT, batched, check_span, fetch_chunk, fetch_chunks, spans_meet
from .errors import InvalidStoreValueError
from .events import insert_event
from .jobs import fetch_job, set_job_state, settle_job
from .rows import check_finite, check_json_object_text, chunk_from_row, error_columns
from .schema import agents, chunks, jobs

_ACTIVE_JOB_STATES = [JobState.PENDING.value, JobState.PROCESSING.value]
_LEASE_CLEARED: dict[str, Any] = {"lease_id": None, "lease_agent_id": None, "lease_deadline": None}


def _text_id(value: Any, field: str) -> str:
    if not isinstance(value, str) or not value or len(value) > 128:
        raise InvalidStoreValueError(f"expected a non-empty id of at most 128 characters, got {value!r}", field=field)
    return value


def _optional_seconds(value: float | None, field: str) -> float | None:
    return None if value is None else check_finite(value, field=field, minimum=0.0)


def dispatchable(conn: Connection, *, limit: int, now: float, exclude_ids: Collection[int] = ()) -> list[ChunkRecord]:
    """Queued chunks of jobs that may run, in fair order, at most ``limit``.

    Fairness is round robin between jobs: a chunk's turn is the number of
    chunks its job already has out (leased, or in ``exclude_ids``: about to be)
    plus its rank among the job's queued chunks. A job with nothing out gets its
    first chunk ahead of the third chunk of a job with two out, so a short job
    queued behind a long one starts at once and the two then alternate. Higher
    job priority goes first; ties go to the older job, then transcript order.
    """
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise InvalidStoreValueError(f"must be a whole number of at least 1, got {limit!r}", field="limit")
    excluded = sorted({int(i) for i in exclude_ids})
    out_condition = chunks.c.state == ChunkState.LEASED.value
    if excluded:
        out_condition = or_(out_condition, chunks.c.id.in_(excluded))
    out_per_job = (
        select(chunks.c.job_id.label("job_id"), func.count().label("n"))
        .where(out_condition)
        .group_by(chunks.c.job_id)
        .subquery("out_per_job")
    )
    queued = select(
        chunks.c.id.label("chunk_id"),
        chunks.c.job_id.label("job_id"),
        jobs.c.priority.label("priority"),
        jobs.c.seq.label("seq"),
        chunks.c.order_key.label("order_key"),
        func.row_number().over(partition_by=chunks.c.job_id, order_by=chunks.c.order_key).label("rank"),
    ).join_from(chunks, jobs, jobs.c.id == chunks.c.job_id)
    queued = queued.where(
        chunks.c.state == ChunkState.PENDING.value,
        jobs.c.state.in_(_ACTIVE_JOB_STATES),
        or_(chunks.c.not_before.is_(None), chunks.c.not_before <= now),
    )
    if excluded:
        queued = queued.where(chunks.c.id.not_in(excluded))
    q = queued.subquery("queued")
    turn = func.coalesce(out_per_job.c.n, 0) + q.c.rank
    ordered = (
        select(q.c.chunk_id)
        .select_from(q.outerjoin(out_per_job, out_per_job.c.job_id == q.c.job_id))
        # No job needs more than ``limit`` candidates.
        .where(q.c.rank <= limit)
        .order_by(q.c.priority.desc(), turn, q.c.seq, q.c.order_key)
        .limit(limit)
    )
    ids = [row.chunk_id for row in conn.execute(ordered)]
    return fetch_chunks(conn, ids)


def lease(
    conn: Connection, chunk_id: int, *, agent_id: str, lease_id: str, deadline: float, now: float
) -> ChunkRecord | None:
    """PENDING → LEASED (attempt + 1) if the chunk is queued and its job may run; else None."""
    _text_id(agent_id, "agent id")
    _text_id(lease_id, "lease id")
    deadline = check_finite(deadline, field="deadline")
    if deadline <= now:
        raise InvalidStoreValueError(f"lease deadline {deadline} is not after now ({now})", field="deadline")
    active_jobs = select(jobs.c.id).where(jobs.c.state.in_(_ACTIVE_JOB_STATES))
    result = conn.execute(
        update(chunks)
        .where(
            chunks.c.id == chunk_id,
            chunks.c.state == ChunkState.PENDING.value,
            or_(chunks.c.not_before.is_(None), chunks.c.not_before <= now),
            chunks.c.job_id.in_(active_jobs),
        )
        .values(
            state=ChunkState.LEASED.value,
            attempt=chunks.c.attempt + 1,
            lease_id=lease_id,
            lease_agent_id=agent_id,
            lease_deadline=deadline,
            leased_at=now,
            not_before=None,
            updated_at=now,
        )
    )
    if result.rowcount != 1:
        return None
    chunk = fetch_chunk(conn, chunk_id, with_result=False)
    assert chunk is not None
    set_job_state(conn, chunk.job_id, JobState.PENDING, JobState.PROCESSING, now=now)
    insert_event(
        conn,
        EventKind.CHUNK_LEASED,
        at=now,
        job_id=chunk.job_id,
        chunk_id=chunk_id,
        agent_id=agent_id,
        data={"attempt": chunk.attempt, "lease_id": lease_id, "deadline": deadline},
    )
    return chunk


def _drop_reason(chunk: ChunkRecord, *, lease_id: str, attempt: int, agent_id: str) -> DropReason | None:
    """Why a reply for (chunk, attempt, lease) cannot be accepted; None if it can."""
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
) -> CompletionOutcome:
    """LEASED → DONE for the reply of the current lease; any other reply is dropped and logged."""
    check_json_object_text(result_json, field="result")
    engine_seconds = _optional_seconds(engine_seconds, "engine_seconds")
    agent_seconds = _optional_seconds(agent_seconds, "agent_seconds")
    chunk = fetch_chunk(conn, chunk_id, with_result=False)
    reason = (
        DropReason.UNKNOWN_CHUNK
        if chunk is None
        else _drop_reason(chunk, lease_id=lease_id, attempt=attempt, agent_id=agent_id)
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
    # Inside one BEGIN IMMEDIATE transaction the row read above cannot have changed.
    assert updated.rowcount == 1
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
        **_LEASE_CLEARED,
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
            **_LEASE_CLEARED,
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


def release(conn: Connection, chunk_id: int, *, lease_id: str, now: float) -> bool:
    """LEASED → PENDING for a lease handed back unused (no failure counted); False if not current."""
    chunk = fetch_chunk(conn, chunk_id, with_result=False)
    if chunk is None:
        return False
    result = conn.execute(
        update(chunks)
        .where(chunks.c.id == chunk_id, chunks.c.state == ChunkState.LEASED.value, chunks.c.lease_id == lease_id)
        .values(state=ChunkState.PENDING.value, updated_at=now, **_LEASE_CLEARED)
    )
    if result.rowcount != 1:
        return False
    insert_event(
        conn,
        EventKind.CHUNK_RELEASED,
        at=now,
        job_id=chunk.job_id,
        chunk_id=chunk_id,
        agent_id=chunk.lease_agent_id,
        data={"attempt": chunk.attempt, "lease_id": lease_id},
    )
    return True


def expired(conn: Connection, *, now: float) -> list[ChunkRecord]:
    """Leased chunks whose deadline has passed, earliest deadline first."""
    rows = conn.execute(
        select(*CHUNK_COLUMNS_WITHOUT_RESULT)
        .where(chunks.c.state == ChunkState.LEASED.value, chunks.c.lease_deadline <= now)
        .order_by(chunks.c.lease_deadline, chunks.c.id)
    ).mappings()
    return [chunk_from_row(row) for row in rows]


def of_agent(conn: Connection, agent_id: str) -> list[ChunkRecord]:
    """Chunks leased to ``agent_id`` now."""
    ids = [
        row.id
        for row in conn.execute(
            select(chunks.c.id)
            .where(chunks.c.state == ChunkState.LEASED.value, chunks.c.lease_agent_id == agent_id)
            .order_by(chunks.c.leased_at, chunks.c.id)
        )
    ]
    return fetch_chunks(conn, ids)


def _requeue(
    conn: Connection, ids: Sequence[int], *, from_state: ChunkState, kind: EventKind, now: float
) -> list[ChunkRecord]:
    """Move the chunks still in ``from_state`` back to PENDING, logging ``kind`` for each."""
    before = {c.id: c for c in fetch_chunks(conn, ids)}
    moved: list[int] = []
    for batch in batched(list(ids)):
        conn.execute(
            update(chunks)
            .where(chunks.c.id.in_(batch), chunks.c.state == from_state.value)
            .values(state=ChunkState.PENDING.value, not_before=None, updated_at=now, **_LEASE_CLEARED)
        )
    for chunk in fetch_chunks(conn, ids):
        old = before[chunk.id]
        if chunk.state is ChunkState.PENDING and old.state is from_state:
            moved.append(chunk.id)
            insert_event(
                conn,
                kind,
                at=now,
                job_id=chunk.job_id,
                chunk_id=chunk.id,
                agent_id=old.lease_agent_id,
                data={"attempt": old.attempt, "lease_id": old.lease_id} if old.lease_id else {"attempt": old.attempt},
            )
    return fetch_chunks(conn, moved)


def wake(conn: Connection, *, now: float) -> list[ChunkRecord]:
    """RETRY_WAIT chunks whose backoff has ended → PENDING."""
    ids = [
        row.id
        for row in conn.execute(
            select(chunks.c.id)
            .where(chunks.c.state == ChunkState.RETRY_WAIT.value, chunks.c.not_before <= now)
            .order_by(chunks.c.not_before, chunks.c.id)
        )
    ]
    return _requeue(conn, ids, from_state=ChunkState.RETRY_WAIT, kind=EventKind.CHUNK_WOKEN, now=now)


def recover(conn: Connection, *, now: float) -> list[ChunkRecord]:
    """Every LEASED chunk (left by a coordinator that stopped) → PENDING, no failure counted."""
    ids = [
        row.id
        for row in conn.execute(
            select(chunks.c.id).where(chunks.c.state == ChunkState.LEASED.value).order_by(chunks.c.id)
        )
    ]
    return _requeue(conn, ids, from_state=ChunkState.LEASED, kind=EventKind.LEASE_RECOVERED, now=now)
