"""Chunk rows of a job: planning, reading in transcript order, progress, retry, dead letters.

Transcript order. A planned chunk's ``order_key`` is its span index, zero
padded (``"00000003"``); the halves of a split chunk append ``".0"`` and
``".1"`` to their parent's key (``"00000003.0"``, ``"00000003.1"``, then
``"00000003.0.1"``...). Sorting the keys as text (SQLite's binary collation)
puts every half right where its parent was, at any depth, without renumbering
the chunks after it: a chunk's id, index and key never change once written,
which matters because agents and partial-transcript viewers hold on to them.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import and_, delete, func, insert, select, update
from sqlalchemy.engine import Connection

from ..domain.chunks import ChunkSpan
from ..domain.jobs import ChunkState, JobState
from ..domain.records import ChunkRecord, EventKind, JobProgress
from .errors import InvalidStoreValueError, JobAlreadyPlannedError, JobStateConflictError
from .events import insert_event
from .jobs import require_job, set_job_state, settle_job
from .rows import check_finite, chunk_from_row, error_columns
from .schema import chunks, events, jobs

#: Digits of a planned chunk's order key; a job has far fewer chunks than this allows.
ORDER_KEY_DIGITS = 8
MAX_CHUNK_INDEX = 10**ORDER_KEY_DIGITS - 1
#: Ids per ``IN (...)`` list, well under SQLite's bound-parameter limit.
ID_BATCH = 500
#: Two span ends closer than this are the same point (spans are stored to the millisecond).
SPAN_TOLERANCE_SECONDS = 1e-3

CHUNK_COLUMNS_WITHOUT_RESULT = [c for c in chunks.c if c.name != "result_json"]


def root_order_key(index: int) -> str:
    return f"{index:0{ORDER_KEY_DIGITS}d}"


def batched(ids: Sequence[int]) -> Iterator[Sequence[int]]:
    for start in range(0, len(ids), ID_BATCH):
        yield ids[start : start + ID_BATCH]


def check_span(span: ChunkSpan, *, field: str = "span") -> ChunkSpan:
    """``span`` if its times make sense, else InvalidStoreValueError."""
    if not isinstance(span, ChunkSpan):
        raise InvalidStoreValueError(f"expected a ChunkSpan, got {type(span).__name__}", field=field)
    start = check_finite(span.start, field=f"{field} start", minimum=0.0)
    end = check_finite(span.end, field=f"{field} end")
    overlap = check_finite(span.overlap_before, field=f"{field} overlap", minimum=0.0)
    if end <= start:
        raise InvalidStoreValueError(f"ends at {end} s, not after its start {start} s", field=field)
    if overlap >= end - start:
        raise InvalidStoreValueError(f"overlap {overlap} s is not shorter than the span", field=field)
    return span


def _check_plan(spans: Sequence[ChunkSpan]) -> None:
    previous: ChunkSpan | None = None
    for position, span in enumerate(spans):
        check_span(span, field=f"span {position}")
        if isinstance(span.index, bool) or not isinstance(span.index, int) or not 0 <= span.index <= MAX_CHUNK_INDEX:
            raise InvalidStoreValueError(f"index {span.index!r} is not in 0..{MAX_CHUNK_INDEX}", field="span index")
        if previous is not None and (span.index <= previous.index or span.start < previous.start):
            raise InvalidStoreValueError(
                f"span {span.index} ({span.start} s) does not follow span {previous.index} ({previous.start} s)",
                field="span order",
            )
        previous = span


def _same_spans(planned: Sequence[ChunkRecord], spans: Sequence[ChunkSpan]) -> bool:
    if len(planned) != len(spans):
        return False
    return all(
        c.index == s.index
        and abs(c.start - s.start) <= SPAN_TOLERANCE_SECONDS
        and abs(c.end - s.end) <= SPAN_TOLERANCE_SECONDS
        for c, s in zip(planned, spans)
    )


def fetch_chunk(conn: Connection, chunk_id: int, *, with_result: bool = True) -> ChunkRecord | None:
    columns = list(chunks.c) if with_result else CHUNK_COLUMNS_WITHOUT_RESULT
    row = conn.execute(select(*columns).where(chunks.c.id == chunk_id)).mappings().first()
    return None if row is None else chunk_from_row(row)


def fetch_chunks(conn: Connection, chunk_ids: Sequence[int]) -> list[ChunkRecord]:
    """The chunks with these ids (without results), in the order of ``chunk_ids``."""
    found: dict[int, ChunkRecord] = {}
    for batch in batched(list(chunk_ids)):
        rows = conn.execute(select(*CHUNK_COLUMNS_WITHOUT_RESULT).where(chunks.c.id.in_(batch))).mappings()
        for row in rows:
            found[row["id"]] = chunk_from_row(row)
    return [found[i] for i in chunk_ids if i in found]


def select_chunks(
    conn: Connection, job_id: str, *, with_results: bool = True, include_split: bool = False
) -> list[ChunkRecord]:
    """The chunks of a job in transcript order (split chunks replaced by their halves unless asked)."""
    columns = list(chunks.c) if with_results else CHUNK_COLUMNS_WITHOUT_RESULT
    query = select(*columns).where(chunks.c.job_id == job_id)
    if not include_split:
        query = query.where(chunks.c.state != ChunkState.SPLIT.value)
    rows = conn.execute(query.order_by(chunks.c.order_key)).mappings()
    return [chunk_from_row(row) for row in rows]


def plan(
    conn: Connection, job_id: str, spans: Sequence[ChunkSpan], *, deadline_seconds: float, now: float
) -> list[ChunkRecord]:
    """Create the job's chunks, once; asking again with the same spans returns the chunks it has."""
    spans = list(spans)
    deadline = check_finite(deadline_seconds, field="deadline_seconds", positive=True)
    _check_plan(spans)
    job = require_job(conn, job_id)
    if job.planned_at is not None:
        roots = [c for c in select_chunks(conn, job_id, with_results=False, include_split=True) if c.parent_id is None]
        if not _same_spans(roots, spans):
            raise JobAlreadyPlannedError(job_id=job_id, planned=len(roots))
        return select_chunks(conn, job_id)
    if job.state not in (JobState.PENDING, JobState.PAUSED):
        raise JobStateConflictError(
            job_id=job_id, state=job.state.value, action="cut into chunks", action_vi="chia thành các đoạn"
        )
    if spans:
        conn.execute(
            insert(chunks),
            [
                {
                    "job_id": job_id,
                    "chunk_index": span.index,
                    "order_key": root_order_key(span.index),
                    "parent_id": None,
                    "start_seconds": span.start,
                    "end_seconds": span.end,
                    "cut": span.cut.value,
                    "overlap_before": span.overlap_before,
                    "state": ChunkState.PENDING.value,
                    "deadline_seconds": deadline,
                    "created_at": now,
                    "updated_at": now,
                }
                for span in spans
            ],
        )
    conn.execute(
        update(jobs)
        .where(jobs.c.id == job_id)
        .values(planned_at=now, chunk_total=len(spans), chunk_done=0, updated_at=now)
    )
    audio = sum(s.duration for s in spans)
    insert_event(
        conn,
        EventKind.CHUNKS_PLANNED,
        at=now,
        job_id=job_id,
        data={"count": len(spans), "audio_seconds": round(audio, 3)},
    )
    # A recording with no speech at all has nothing to transcribe: the job is complete.
    settle_job(conn, job_id, now=now)
    return select_chunks(conn, job_id)


def progress(conn: Connection, job_id: str) -> JobProgress:
    job = require_job(conn, job_id)
    duration = chunks.c.end_seconds - chunks.c.start_seconds
    spent = func.coalesce(chunks.c.agent_seconds, chunks.c.done_at - chunks.c.leased_at, 0.0)
    rows = conn.execute(
        select(chunks.c.state, func.count(), func.sum(duration), func.sum(spent))
        .where(and_(chunks.c.job_id == job_id, chunks.c.state != ChunkState.SPLIT.value))
        .group_by(chunks.c.state)
    ).all()
    counts = {ChunkState(state): int(n) for state, n, _, _ in rows}
    audio = {ChunkState(state): float(a or 0.0) for state, _, a, _ in rows}
    done_spent = next((float(s or 0.0) for state, _, _, s in rows if state == ChunkState.DONE.value), 0.0)
    return JobProgress(
        job_id=job_id,
        state=job.state,
        total=sum(counts.values()),
        done=counts.get(ChunkState.DONE, 0),
        leased=counts.get(ChunkState.LEASED, 0),
        pending=counts.get(ChunkState.PENDING, 0),
        waiting=counts.get(ChunkState.RETRY_WAIT, 0),
        failed=counts.get(ChunkState.FAILED, 0),
        audio_seconds_total=sum(audio.values()),
        audio_seconds_done=audio.get(ChunkState.DONE, 0.0),
        processing_seconds=done_spent,
        started_at=job.started_at,
        updated_at=job.updated_at,
    )


def _dead_letter_filter(older_than: float | None) -> Any:
    condition = and_(chunks.c.state == ChunkState.FAILED.value, chunks.c.purged_at.is_(None))
    if older_than is not None:
        condition = and_(condition, chunks.c.failed_at < check_finite(older_than, field="older_than"))
    return condition


def dead_letters(conn: Connection, *, older_than: float | None) -> list[ChunkRecord]:
    """Dead letters still kept (not purged), oldest first; only those failed before ``older_than`` if given."""
    rows = conn.execute(
        select(*CHUNK_COLUMNS_WITHOUT_RESULT)
        .where(_dead_letter_filter(older_than))
        .order_by(chunks.c.failed_at, chunks.c.id)
    ).mappings()
    return [chunk_from_row(row) for row in rows]


def purge_dead_letters(conn: Connection, *, older_than: float, now: float) -> int:
    """Forget the history of dead letters that failed before ``older_than``; return how many.

    The chunk rows stay (state FAILED, span, error), so the job keeps a
    consistent chunk list, its partial transcript and the place of each gap,
    and "Retry failed" still works while its audio is there. What goes: the
    per-attempt events of those chunks and their lease details; the purged
    chunks stop counting as dead letters (the queue a human should look at).
    """
    rows = conn.execute(
        select(chunks.c.id, chunks.c.job_id).where(_dead_letter_filter(older_than)).order_by(chunks.c.id)
    ).all()
    by_job: dict[str, list[int]] = {}
    for chunk_id, job_id in rows:
        by_job.setdefault(job_id, []).append(chunk_id)
    for job_id, ids in by_job.items():
        for batch in batched(ids):
            conn.execute(delete(events).where(events.c.chunk_id.in_(batch)))
            conn.execute(
                update(chunks)
                .where(chunks.c.id.in_(batch))
                .values(purged_at=now, lease_id=None, lease_agent_id=None, lease_deadline=None, updated_at=now)
            )
        insert_event(
            conn, EventKind.DEAD_LETTERS_PURGED, at=now, job_id=job_id, data={"chunk_ids": ids, "count": len(ids)}
        )
    return len(rows)


def retry_failed(conn: Connection, job_id: str, *, now: float) -> int:
    """Give the job's dead letters fresh attempts and put a FAILED job back in the queue; return how many."""
    job = require_job(conn, job_id)
    if job.state in (JobState.COMPLETED, JobState.CANCELLED):
        raise JobStateConflictError(job_id=job_id, state=job.state.value, action="retried", action_vi="thử lại")
    failed_ids = [
        row.id
        for row in conn.execute(
            select(chunks.c.id).where(and_(chunks.c.job_id == job_id, chunks.c.state == ChunkState.FAILED.value))
        )
    ]
    for batch in batched(failed_ids):
        conn.execute(
            update(chunks)
            .where(and_(chunks.c.id.in_(batch), chunks.c.state == ChunkState.FAILED.value))
            .values(
                state=ChunkState.PENDING.value,
                failures=0,
                failed_at=None,
                purged_at=None,
                not_before=None,
                updated_at=now,
                **error_columns(None),
            )
        )
    for chunk_id in failed_ids:
        insert_event(conn, EventKind.CHUNK_REQUEUED, at=now, job_id=job_id, chunk_id=chunk_id)
    if job.state is JobState.FAILED:
        set_job_state(
            conn, job_id, JobState.FAILED, JobState.PENDING, now=now, event_data={"requeued": len(failed_ids)}
        )
        settle_job(conn, job_id, now=now)
    return len(failed_ids)


def spans_meet(a: float, b: float) -> bool:
    return math.isclose(a, b, abs_tol=SPAN_TOLERANCE_SECONDS)
