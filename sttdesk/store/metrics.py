"""Monitoring figures computed from the store (DESIGN.md §4; the seed's §7.4)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from sqlalchemy import and_, func, select
from sqlalchemy.engine import Connection

from ..domain.jobs import ChunkState, JobState
from ..domain.records import (
    ATTEMPT_END_KINDS,
    FAILED_ATTEMPT_KINDS,
    AgentPerformance,
    EventKind,
    StoreMetrics,
)
from .agents import select_agents
from .rows import check_finite
from .schema import chunks, events, jobs

#: The window the seed's alerts look at ("agent crashes per hour").
DEFAULT_WINDOW_SECONDS = 3600.0
P95 = 0.95


def percentile(values: Sequence[float], fraction: float) -> float | None:
    """Nearest-rank percentile: the smallest value with at least ``fraction`` of the values at or below it."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _count_events(conn: Connection, kinds: Sequence[EventKind], since: float, now: float) -> int:
    return int(
        conn.execute(
            select(func.count()).where(
                events.c.kind.in_([k.value for k in kinds]), events.c.at >= since, events.c.at <= now
            )
        ).scalar_one()
    )


def compute(conn: Connection, *, now: float, window_seconds: float) -> StoreMetrics:
    window = check_finite(window_seconds, field="window_seconds", positive=True)
    since = now - window

    jobs_by_state = {state.value: 0 for state in JobState}
    for state, count in conn.execute(select(jobs.c.state, func.count()).group_by(jobs.c.state)):
        jobs_by_state[state] = int(count)

    active = select(jobs.c.id).where(jobs.c.state.in_([JobState.PENDING.value, JobState.PROCESSING.value]))
    queue_depth = int(
        conn.execute(
            select(func.count()).where(
                chunks.c.state.in_([ChunkState.PENDING.value, ChunkState.RETRY_WAIT.value]),
                chunks.c.job_id.in_(active),
            )
        ).scalar_one()
    )
    leased = int(conn.execute(select(func.count()).where(chunks.c.state == ChunkState.LEASED.value)).scalar_one())

    finished = conn.execute(
        select(jobs.c.state, jobs.c.retry_count, jobs.c.created_at, jobs.c.finished_at).where(
            jobs.c.state.in_([JobState.COMPLETED.value, JobState.FAILED.value]),
            jobs.c.finished_at >= since,
            jobs.c.finished_at <= now,
        )
    ).all()
    completed = [row for row in finished if row.state == JobState.COMPLETED.value]
    failed_jobs = len(finished) - len(completed)

    chunk_seconds = [
        float(row.seconds)
        for row in conn.execute(
            select((chunks.c.done_at - chunks.c.leased_at).label("seconds")).where(
                and_(
                    chunks.c.state == ChunkState.DONE.value,
                    chunks.c.done_at >= since,
                    chunks.c.done_at <= now,
                    chunks.c.leased_at.is_not(None),
                )
            )
        )
    ]
    attempts = _count_events(conn, ATTEMPT_END_KINDS, since, now)
    failed_attempts = _count_events(conn, FAILED_ATTEMPT_KINDS, since, now)
    dead_letters = int(
        conn.execute(
            select(func.count()).where(chunks.c.state == ChunkState.FAILED.value, chunks.c.purged_at.is_(None))
        ).scalar_one()
    )
    agents = tuple(
        AgentPerformance(
            agent_id=a.id,
            name=a.name,
            local=a.local,
            chunks_done=a.chunks_done,
            audio_seconds=a.audio_seconds,
            busy_seconds=a.busy_seconds,
            crashes=a.crashes,
            last_seen=a.last_seen,
            real_time_factor=a.real_time_factor,
        )
        for a in select_agents(conn, trusted=None, local=None)
    )
    return StoreMetrics(
        at=now,
        window_seconds=window,
        jobs_by_state=jobs_by_state,
        queue_depth=queue_depth,
        leased_chunks=leased,
        jobs_completed=len(completed),
        jobs_failed=failed_jobs,
        job_success_rate=_ratio(len(completed), len(finished)),
        job_failure_rate=_ratio(failed_jobs, len(finished)),
        retries_per_job=(sum(row.retry_count for row in finished) / len(finished)) if finished else None,
        chunk_attempts=attempts,
        chunk_failed_attempts=failed_attempts,
        retry_rate=_ratio(failed_attempts, attempts),
        chunk_seconds_mean=(sum(chunk_seconds) / len(chunk_seconds)) if chunk_seconds else None,
        chunk_seconds_p95=percentile(chunk_seconds, P95),
        processing_seconds_total=sum(chunk_seconds),
        job_seconds_mean=(
            sum(row.finished_at - row.created_at for row in completed) / len(completed) if completed else None
        ),
        dead_letter_depth=dead_letters,
        agent_crashes=_count_events(conn, (EventKind.AGENT_CRASH,), since, now),
        agents=agents,
    )
