"""The lease life of a chunk: dispatch order, lease, release, expiry, wake-up, recovery.

How an attempt ends (reply, failure, split) is in :mod:`sttdesk.store.attempts`.

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

from sqlalchemy import func, or_, select, update
from sqlalchemy.engine import Connection

from ..domain.jobs import ChunkState, JobState
from ..domain.records import ChunkRecord, EventKind
from .chunks import CHUNK_COLUMNS_WITHOUT_RESULT, batched, fetch_chunk, fetch_chunks
from .errors import InvalidStoreValueError, StoreError
from .events import insert_event
from .jobs import set_job_state
from .rows import check_finite, chunk_from_row
from .schema import chunks, jobs

ACTIVE_JOB_STATES = [JobState.PENDING.value, JobState.PROCESSING.value]
#: Column values of a chunk that holds no lease.
LEASE_CLEARED: dict[str, Any] = {"lease_id": None, "lease_agent_id": None, "lease_deadline": None}


def check_text_id(value: Any, field: str) -> str:
    if not isinstance(value, str) or not value or len(value) > 128:
        raise InvalidStoreValueError(f"expected a non-empty id of at most 128 characters, got {value!r}", field=field)
    return value


def dispatchable(conn: Connection, *, limit: int, now: float, exclude_ids: Collection[int] = ()) -> list[ChunkRecord]:
    """Queued chunks of jobs that may run, in fair order, at most ``limit``.

    Fairness is round robin between jobs: a chunk's turn is the number of
    chunks its job already has out (leased, or in ``exclude_ids``: about to be)
    plus its rank among the job's queued chunks. A job with nothing out gets its
    first chunk ahead of the third chunk of a job with two out, so a short job
    queued behind a long one starts at once and the two then alternate. Higher
    job priority goes first; ties go to the job with fewer chunks done (so with
    a single slot a short job still alternates with a long one instead of
    waiting behind it), then to the older job, then transcript order.

    Only the first ``limit`` queued chunks of each active job can be chosen, so
    those are read per job through the (state, job, order) index and merged
    here: the cost follows the number of active jobs, not of queued chunks.
    """
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise InvalidStoreValueError(f"must be a whole number of at least 1, got {limit!r}", field="limit")
    excluded = sorted({int(i) for i in exclude_ids})
    out_condition = chunks.c.state == ChunkState.LEASED.value
    if excluded:
        out_condition = or_(out_condition, chunks.c.id.in_(excluded))
    out_per_job = {
        job_id: int(n)
        for job_id, n in conn.execute(
            select(chunks.c.job_id, func.count()).where(out_condition).group_by(chunks.c.job_id)
        )
    }
    active = conn.execute(
        select(jobs.c.id, jobs.c.priority, jobs.c.seq, jobs.c.chunk_done).where(jobs.c.state.in_(ACTIVE_JOB_STATES))
    ).all()
    candidates: list[tuple[tuple[int, int, int, int, str], int]] = []
    for job in active:
        queued = (
            select(chunks.c.id, chunks.c.order_key)
            .where(
                chunks.c.state == ChunkState.PENDING.value,
                chunks.c.job_id == job.id,
                or_(chunks.c.not_before.is_(None), chunks.c.not_before <= now),
            )
            .order_by(chunks.c.order_key)
            .limit(limit)
        )
        if excluded:
            queued = queued.where(chunks.c.id.not_in(excluded))
        out = out_per_job.get(job.id, 0)
        for rank, row in enumerate(conn.execute(queued), start=1):
            candidates.append(((-job.priority, out + rank, job.chunk_done, job.seq, row.order_key), row.id))
    candidates.sort()
    return fetch_chunks(conn, [chunk_id for _, chunk_id in candidates[:limit]])


def lease(
    conn: Connection, chunk_id: int, *, agent_id: str, lease_id: str, deadline: float, now: float
) -> ChunkRecord | None:
    """PENDING → LEASED (attempt + 1) if the chunk is queued and its job may run; else None."""
    check_text_id(agent_id, "agent id")
    check_text_id(lease_id, "lease id")
    deadline = check_finite(deadline, field="deadline")
    if deadline <= now:
        raise InvalidStoreValueError(f"lease deadline {deadline} is not after now ({now})", field="deadline")
    active_jobs = select(jobs.c.id).where(jobs.c.state.in_(ACTIVE_JOB_STATES))
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
    if chunk is None:  # the row was just updated in this transaction
        raise StoreError(f"chunk {chunk_id} vanished while being leased")
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


def release(conn: Connection, chunk_id: int, *, lease_id: str, now: float) -> bool:
    """LEASED → PENDING for a lease handed back unused (no failure counted); False if not current."""
    chunk = fetch_chunk(conn, chunk_id, with_result=False)
    if chunk is None:
        return False
    result = conn.execute(
        update(chunks)
        .where(chunks.c.id == chunk_id, chunks.c.state == ChunkState.LEASED.value, chunks.c.lease_id == lease_id)
        .values(state=ChunkState.PENDING.value, updated_at=now, **LEASE_CLEARED)
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
            .values(state=ChunkState.PENDING.value, not_before=None, updated_at=now, **LEASE_CLEARED)
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
