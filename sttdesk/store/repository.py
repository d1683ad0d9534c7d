"""JobStore: the one object through which sttdesk reads and changes its job database.

Every method runs in its own transaction and returns plain records from
:mod:`sttdesk.domain.records`; SQLAlchemy never leaks out. State changes are
compare-and-set operations that return whether they happened (or the changed
record, or None), so a stale caller can never overwrite a newer state. Times
are passed in as ``now`` (epoch seconds) or taken from the injected clock.

One JobStore may be shared by the threads of a process; several processes
may open the same file at once (see :mod:`sttdesk.store.database`).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Self

from ..domain.chunks import ChunkSpan
from ..domain.jobs import ChunkState, JobState
from ..domain.records import (
    AgentRecord,
    ChunkRecord,
    CompletionOutcome,
    ErrorInfo,
    EventKind,
    EventRecord,
    JobProgress,
    JobRecord,
    SegmentEdit,
    StoreMetrics,
)
from ..paths import default_paths
from . import agents as agent_rows
from . import attempts, leases, metrics
from . import chunks as chunk_rows
from . import edits as edit_rows
from . import events as event_rows
from . import jobs as job_rows
from .database import DATABASE_FILE_NAME, Database, StoreOptions
from .errors import InvalidStoreValueError
from .migrations import MigrationReport

log = logging.getLogger(__name__)

Clock = Callable[[], float]


def default_database_path() -> Path:
    """``<data dir>/sttdesk.db``, honouring ``STTDESK_DATA_DIR``."""
    return default_paths().data_dir / DATABASE_FILE_NAME


class JobStore:
    """Jobs, chunks, agents, the event log and metrics in one SQLite file."""

    def __init__(
        self,
        path: Path | str | None = None,
        *,
        options: StoreOptions | None = None,
        clock: Clock = time.time,
    ) -> None:
        self.path = Path(path) if path is not None else default_database_path()
        self.options = options or StoreOptions()
        self._clock = clock
        self._db = Database(self.path, self.options)
        try:
            self.schema: MigrationReport = self._db.open()
        except BaseException:
            self._db.dispose()
            raise
        log.debug("Job database %s open (schema %d)", self.path, self.schema.to_version)

    def close(self) -> None:
        self._db.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def now(self) -> float:
        """The current time by the store's clock (epoch seconds)."""
        return self._now(None)

    def _now(self, now: float | None) -> float:
        value = self._clock() if now is None else now
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise InvalidStoreValueError(f"expected epoch seconds, got {value!r}", field="now")
        return float(value)

    def check_integrity(self) -> list[str]:
        """Problems SQLite finds in the file (empty when it is sound)."""
        with self._db.read() as conn:
            rows = [row[0] for row in conn.exec_driver_sql("PRAGMA integrity_check").fetchall()]
        return [] if rows == ["ok"] else rows

    def sqlite_settings(self) -> dict[str, Any]:
        """How SQLite runs this file, as seen by a pooled connection (for diagnostics)."""
        names = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}
        with self._db.read() as conn:
            pragma = conn.exec_driver_sql
            return {
                "journal_mode": str(pragma("PRAGMA journal_mode").scalar()).lower(),
                "synchronous": names.get(int(pragma("PRAGMA synchronous").scalar()), "?"),
                "foreign_keys": bool(pragma("PRAGMA foreign_keys").scalar()),
                "busy_timeout_ms": int(pragma("PRAGMA busy_timeout").scalar()),
                "schema_version": int(pragma("PRAGMA user_version").scalar()),
            }

    # --- jobs -----------------------------------------------------------------

    def add_job(
        self,
        *,
        source_path: str | Path,
        language: str,
        model_name: str,
        display_name: str | None = None,
        size_bytes: int = 0,
        duration_seconds: float | None = None,
        decode_options: Mapping[str, Any] | None = None,
        priority: int = 0,
        work_dir: str | Path | None = None,
        extras: Mapping[str, Any] | None = None,
        job_id: str | None = None,
        now: float | None = None,
    ) -> JobRecord:
        """Add a PENDING job (id generated unless given) and return it."""
        at = self._now(now)
        with self._db.write() as conn:
            return job_rows.insert_job(
                conn,
                source_path=str(source_path),
                language=language,
                model_name=model_name,
                display_name=display_name,
                size_bytes=size_bytes,
                duration_seconds=duration_seconds,
                decode_options=decode_options,
                priority=priority,
                work_dir=None if work_dir is None else str(work_dir),
                extras=extras,
                job_id=job_id,
                now=at,
            )

    def get_job(self, job_id: str) -> JobRecord:
        """The job, or JobNotFoundError."""
        with self._db.read() as conn:
            return job_rows.require_job(conn, job_id)

    def find_job(self, job_id: str) -> JobRecord | None:
        with self._db.read() as conn:
            return job_rows.fetch_job(conn, job_id)

    def list_jobs(
        self,
        *,
        states: Iterable[JobState | str] | None = None,
        limit: int = 100,
        offset: int = 0,
        order: str = "newest",
    ) -> list[JobRecord]:
        """Jobs, optionally only in ``states``; ``order`` is "newest", "oldest" or "queue"."""
        with self._db.read() as conn:
            return job_rows.select_jobs(conn, states=states, limit=limit, offset=offset, order=order)

    def count_jobs(self, states: Iterable[JobState | str] | None = None) -> int:
        with self._db.read() as conn:
            return job_rows.count_jobs(conn, states=states)

    def change_job_state(
        self,
        job_id: str,
        old: JobState,
        new: JobState,
        *,
        error: ErrorInfo | None = None,
        now: float | None = None,
        **fields: Any,
    ) -> bool:
        """Move the job from ``old`` to ``new`` (and set ``fields``) if it is still ``old``.

        Returns False when the job is in another state; raises JobNotFoundError
        for an unknown job and IllegalTransitionError for a forbidden change.
        Resuming a job (→ PENDING) whose chunks all finished meanwhile completes it.
        """
        at = self._now(now)
        with self._db.write() as conn:
            job_rows.require_job(conn, job_id)
            changed = job_rows.set_job_state(conn, job_id, old, new, now=at, error=error, fields=fields)
            if changed and JobState(new) is JobState.PENDING:
                job_rows.settle_job(conn, job_id, now=at)
            return changed

    def update_job_fields(self, job_id: str, *, now: float | None = None, **fields: Any) -> JobRecord:
        """Change non-state fields (duration, detected language, extras...); return the job."""
        at = self._now(now)
        with self._db.write() as conn:
            return job_rows.update_job(conn, job_id, fields, now=at)

    def delete_job(self, job_id: str, *, now: float | None = None) -> bool:
        """Delete a job with its chunks, edits and events; False if there was no such job."""
        at = self._now(now)
        with self._db.write() as conn:
            return job_rows.delete_job(conn, job_id, now=at)

    def plan_chunks(
        self, job_id: str, spans: Sequence[ChunkSpan], *, deadline_seconds: float, now: float | None = None
    ) -> list[ChunkRecord]:
        """Create the job's chunks from ``spans`` (once; the same spans again return them)."""
        at = self._now(now)
        with self._db.write() as conn:
            return chunk_rows.plan(conn, job_id, spans, deadline_seconds=deadline_seconds, now=at)

    # --- chunks ---------------------------------------------------------------

    def get_chunk(self, chunk_id: int) -> ChunkRecord | None:
        with self._db.read() as conn:
            return chunk_rows.fetch_chunk(conn, chunk_id)

    def chunks_of(self, job_id: str, *, with_results: bool = True, include_split: bool = False) -> list[ChunkRecord]:
        """The job's chunks in transcript order; results parse on demand (``ChunkRecord.result()``).

        ``with_results=False`` leaves ``result_json`` None (light listings);
        ``include_split=True`` adds the chunks replaced by halves.
        """
        with self._db.read() as conn:
            job_rows.require_job(conn, job_id)
            return chunk_rows.select_chunks(conn, job_id, with_results=with_results, include_split=include_split)

    def job_progress(self, job_id: str) -> JobProgress:
        with self._db.read() as conn:
            return chunk_rows.progress(conn, job_id)

    def dispatchable_chunks(
        self, *, limit: int, now: float | None = None, exclude_ids: Collection[int] = ()
    ) -> list[ChunkRecord]:
        """Chunks to hand out next, fair between jobs (see :func:`sttdesk.store.leases.dispatchable`)."""
        at = self._now(now)
        with self._db.read() as conn:
            return leases.dispatchable(conn, limit=limit, now=at, exclude_ids=exclude_ids)

    def lease_chunk(
        self, chunk_id: int, *, agent_id: str, lease_id: str, deadline: float, now: float | None = None
    ) -> ChunkRecord | None:
        """Lease a queued chunk to an agent until ``deadline``; None if it is no longer queued."""
        at = self._now(now)
        with self._db.write() as conn:
            return leases.lease(conn, chunk_id, agent_id=agent_id, lease_id=lease_id, deadline=deadline, now=at)

    def complete_chunk(
        self,
        chunk_id: int,
        *,
        lease_id: str,
        attempt: int,
        result_json: str,
        agent_id: str,
        engine_seconds: float | None = None,
        agent_seconds: float | None = None,
        now: float | None = None,
        lease_agent_id: str | None = None,
    ) -> CompletionOutcome:
        """Accept the reply of the chunk's current lease, or drop it (logged as ``reply_dropped``).

        ``lease_agent_id``: the lease's holder, when ``agent_id`` ran a speculative copy of it.
        """
        at = self._now(now)
        with self._db.write() as conn:
            outcome = attempts.complete(
                conn,
                chunk_id,
                lease_id=lease_id,
                attempt=attempt,
                result_json=result_json,
                agent_id=agent_id,
                engine_seconds=engine_seconds,
                agent_seconds=agent_seconds,
                now=at,
                lease_agent_id=lease_agent_id,
            )
        if not outcome.accepted:
            log.info("Dropped reply for chunk %s attempt %s from %s: %s", chunk_id, attempt, agent_id, outcome.reason)
        return outcome

    def fail_chunk(
        self,
        chunk_id: int,
        *,
        lease_id: str,
        attempt: int,
        new_state: ChunkState,
        error: ErrorInfo,
        not_before: float | None = None,
        job_failed: bool = False,
        deadline_seconds: float | None = None,
        expired: bool = False,
        now: float | None = None,
    ) -> bool:
        """Record a failed attempt: RETRY_WAIT until ``not_before``, or FAILED (dead letter).

        ``job_failed``: a dead letter fails its job at once (keeping its partial
        transcript). Without it the job goes on and fails once nothing else of
        it is left to run. ``deadline_seconds`` sets the chunk's next lease
        length (after a timeout). ``expired``: the failure is the lease running
        out; refused before the deadline, and logged as ``lease_expired``.
        """
        at = self._now(now)
        with self._db.write() as conn:
            return attempts.fail(
                conn,
                chunk_id,
                lease_id=lease_id,
                attempt=attempt,
                new_state=new_state,
                error=error,
                now=at,
                not_before=not_before,
                job_failed=job_failed,
                deadline_seconds=deadline_seconds,
                expired=expired,
            )

    def split_chunk(
        self,
        chunk_id: int,
        *,
        lease_id: str,
        attempt: int,
        halves: tuple[ChunkSpan, ChunkSpan],
        error: ErrorInfo | None = None,
        deadline_seconds: float | None = None,
        now: float | None = None,
    ) -> tuple[ChunkRecord, ChunkRecord] | None:
        """Replace a leased chunk (out of memory) by two queued halves in its place; None if not current."""
        at = self._now(now)
        with self._db.write() as conn:
            return attempts.split(
                conn,
                chunk_id,
                lease_id=lease_id,
                attempt=attempt,
                halves=halves,
                now=at,
                error=error,
                deadline_seconds=deadline_seconds,
            )

    def release_chunk(self, chunk_id: int, *, lease_id: str, now: float | None = None) -> bool:
        """Put a leased chunk back in the queue unused (no failure counted)."""
        at = self._now(now)
        with self._db.write() as conn:
            return leases.release(conn, chunk_id, lease_id=lease_id, now=at)

    def expired_leases(self, now: float | None = None) -> list[ChunkRecord]:
        at = self._now(now)
        with self._db.read() as conn:
            return leases.expired(conn, now=at)

    def leases_of_agent(self, agent_id: str) -> list[ChunkRecord]:
        with self._db.read() as conn:
            return leases.of_agent(conn, agent_id)

    def wake_retries(self, now: float | None = None) -> list[ChunkRecord]:
        """Queue again the chunks whose retry backoff has ended; return them."""
        at = self._now(now)
        with self._db.write() as conn:
            return leases.wake(conn, now=at)

    def retry_failed(self, job_id: str, *, now: float | None = None) -> int:
        """ "Retry failed": dead letters get fresh attempts, a FAILED job is queued again; returns the count."""
        at = self._now(now)
        with self._db.write() as conn:
            return chunk_rows.retry_failed(conn, job_id, now=at)

    def dead_letters(self, older_than: float | None = None) -> list[ChunkRecord]:
        with self._db.read() as conn:
            return chunk_rows.dead_letters(conn, older_than=older_than)

    def purge_dead_letters(self, older_than: float, *, now: float | None = None) -> int:
        """Drop the history of dead letters failed before ``older_than`` (see chunks.purge_dead_letters)."""
        at = self._now(now)
        with self._db.write() as conn:
            return chunk_rows.purge_dead_letters(conn, older_than=older_than, now=at)

    def recover_after_restart(self, now: float | None = None) -> list[ChunkRecord]:
        """On coordinator start: leases of the previous run go back to the queue, no failure counted.

        A stopped coordinator is not the chunks' fault. DONE chunks stay done;
        a late reply to a recovered lease is dropped because the chunk will
        have a new lease (and attempt number) by then.
        """
        at = self._now(now)
        with self._db.write() as conn:
            recovered = leases.recover(conn, now=at)
        if recovered:
            log.info("Put %d chunks leased before the restart back in the queue", len(recovered))
        return recovered

    # --- agents ---------------------------------------------------------------

    def upsert_agent(
        self,
        agent_id: str,
        *,
        name: str | None = None,
        host: str = "",
        endpoint: str = "",
        public_key: str | None = None,
        fingerprint: str | None = None,
        local: bool = False,
        slots: int = 1,
        threads: int = 1,
        models: Iterable[str] = (),
        cpu: str = "",
        version: str = "",
        trusted: bool | None = None,
        now: float | None = None,
    ) -> AgentRecord:
        """Register an agent or refresh what it announced (see agents.upsert for trust rules)."""
        at = self._now(now)
        with self._db.write() as conn:
            return agent_rows.upsert(
                conn,
                agent_id,
                name=name,
                host=host,
                endpoint=endpoint,
                public_key=public_key,
                fingerprint=fingerprint,
                local=local,
                slots=slots,
                threads=threads,
                models=models,
                cpu=cpu,
                version=version,
                trusted=trusted,
                now=at,
            )

    def get_agent(self, agent_id: str) -> AgentRecord:
        """The agent, or AgentNotFoundError."""
        with self._db.read() as conn:
            return agent_rows.require(conn, agent_id)

    def list_agents(self, *, trusted: bool | None = None, local: bool | None = None) -> list[AgentRecord]:
        with self._db.read() as conn:
            return agent_rows.select_agents(conn, trusted=trusted, local=local)

    def set_agent_trusted(self, agent_id: str, trusted: bool, *, now: float | None = None) -> AgentRecord:
        at = self._now(now)
        with self._db.write() as conn:
            return agent_rows.set_trusted(conn, agent_id, trusted, now=at)

    def record_agent_crash(self, agent_id: str, now: float | None = None, *, detail: str | None = None) -> AgentRecord:
        at = self._now(now)
        with self._db.write() as conn:
            return agent_rows.record_crash(conn, agent_id, now=at, detail=detail)

    def touch_agent(self, agent_id: str, now: float | None = None) -> bool:
        """Note that the agent was heard from; False for an unknown agent."""
        at = self._now(now)
        with self._db.write() as conn:
            return agent_rows.touch(conn, agent_id, now=at)

    # --- events, edits, metrics -----------------------------------------------

    def log_event(
        self,
        kind: str | EventKind,
        *,
        job_id: str | None = None,
        chunk_id: int | None = None,
        agent_id: str | None = None,
        data: Mapping[str, Any] | None = None,
        now: float | None = None,
    ) -> int:
        """Append an event to the log; return its id."""
        at = self._now(now)
        with self._db.write() as conn:
            return event_rows.insert_event(
                conn, kind, at=at, job_id=job_id, chunk_id=chunk_id, agent_id=agent_id, data=data
            )

    def events(
        self,
        *,
        job_id: str | None = None,
        chunk_id: int | None = None,
        agent_id: str | None = None,
        kinds: Iterable[str | EventKind] | None = None,
        since_id: int = 0,
        limit: int = event_rows.DEFAULT_EVENT_LIMIT,
    ) -> list[EventRecord]:
        """Events after ``since_id``, oldest first."""
        with self._db.read() as conn:
            return event_rows.query_events(
                conn, job_id=job_id, chunk_id=chunk_id, agent_id=agent_id, kinds=kinds, since_id=since_id, limit=limit
            )

    def save_segment_edit(
        self, job_id: str, *, segment_index: int, segment_start: float, text: str, now: float | None = None
    ) -> SegmentEdit:
        at = self._now(now)
        with self._db.write() as conn:
            return edit_rows.save(
                conn, job_id, segment_index=segment_index, segment_start=segment_start, text=text, now=at
            )

    def segment_edits(self, job_id: str) -> list[SegmentEdit]:
        with self._db.read() as conn:
            return edit_rows.of_job(conn, job_id)

    def remove_segment_edit(self, job_id: str, segment_index: int) -> bool:
        with self._db.write() as conn:
            return edit_rows.remove(conn, job_id, segment_index)

    def metrics(
        self, *, now: float | None = None, window_seconds: float = metrics.DEFAULT_WINDOW_SECONDS
    ) -> StoreMetrics:
        at = self._now(now)
        with self._db.read() as conn:
            return metrics.compute(conn, now=at, window_seconds=window_seconds)
