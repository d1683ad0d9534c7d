"""Snapshots of what the job store holds: jobs, chunks, agents, events, progress and metrics.

These are plain frozen values, built by :mod:`sttdesk.store` from its rows and
handed to every layer above it (coordinator, service, CLI, GUI, REST API). They
live in the domain layer, not in the store, so that front ends can use them
without importing the store (and SQLAlchemy) at all. A record is a copy taken
inside one transaction: it never changes under the caller, and the only way to
change the truth is through the store's compare-and-set methods.

Times are epoch seconds (floats); durations are seconds.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from .chunks import ChunkSpan, CutKind
from .errors import SttdeskError
from .jobs import ChunkState, JobState
from .transcript import RecognitionResult


class EventKind(str, Enum):
    """Kinds of event the store writes into its event log itself.

    Callers may log other kinds (any short string) with ``JobStore.log_event``.
    """

    JOB_ADDED = "job_added"
    #: Any job state change; data holds ``old`` and ``new``.
    JOB_STATE = "job_state"
    JOB_DELETED = "job_deleted"
    CHUNKS_PLANNED = "chunks_planned"
    CHUNK_LEASED = "chunk_leased"
    CHUNK_DONE = "chunk_done"
    #: A failed attempt that will be retried after its backoff.
    CHUNK_RETRY_WAIT = "chunk_retry_wait"
    #: A failed attempt that made the chunk a dead letter.
    CHUNK_DEAD_LETTER = "chunk_dead_letter"
    #: A failed attempt (out of memory) that replaced the chunk by two halves.
    CHUNK_SPLIT = "chunk_split"
    #: A lease handed back unused; no attempt spent.
    CHUNK_RELEASED = "chunk_released"
    #: A chunk whose retry backoff ended, back in the queue.
    CHUNK_WOKEN = "chunk_woken"
    #: "Retry failed": a dead letter back in the queue with fresh attempts.
    CHUNK_REQUEUED = "chunk_requeued"
    #: A lease ran past its deadline without a reply.
    LEASE_EXPIRED = "lease_expired"
    #: A lease left over by a coordinator that stopped, put back in the queue.
    LEASE_RECOVERED = "lease_recovered"
    #: A reply that did not match the chunk's current lease (late or duplicate).
    REPLY_DROPPED = "reply_dropped"
    AGENT_REGISTERED = "agent_registered"
    #: A known agent came back with another public key: its trust was revoked.
    AGENT_KEY_CHANGED = "agent_key_changed"
    AGENT_TRUST = "agent_trust"
    AGENT_CRASH = "agent_crash"
    DEAD_LETTERS_PURGED = "dead_letters_purged"


#: Event kinds that end one attempt at a chunk, and those of them that are failures.
ATTEMPT_END_KINDS = (
    EventKind.CHUNK_DONE,
    EventKind.CHUNK_RETRY_WAIT,
    EventKind.CHUNK_DEAD_LETTER,
    EventKind.CHUNK_SPLIT,
)
FAILED_ATTEMPT_KINDS = (
    EventKind.CHUNK_RETRY_WAIT,
    EventKind.CHUNK_DEAD_LETTER,
    EventKind.CHUNK_SPLIT,
)


@dataclass(frozen=True, slots=True)
class ErrorInfo:
    """An error as stored and shown: its stable code and the user message in both languages."""

    code: str
    message_en: str
    message_vi: str

    @classmethod
    def from_error(cls, error: SttdeskError) -> ErrorInfo:
        return cls(code=error.code, message_en=error.user_message("en"), message_vi=error.user_message("vi"))

    def message(self, language: str = "en") -> str:
        return self.message_vi if language == "vi" else self.message_en

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "message_en": self.message_en, "message_vi": self.message_vi}


@dataclass(frozen=True, slots=True)
class JobRecord:
    """One job (one source file) as stored."""

    #: Short random hex id, shown to users and used in commands.
    id: str
    #: Order in which jobs were added; ties in the fair dispatch order go to the older job.
    seq: int
    #: Higher runs first; 0 by default.
    priority: int
    state: JobState
    source_path: str
    #: What the user sees (usually the file name).
    display_name: str
    size_bytes: int
    #: Length of the audio, once probed.
    duration_seconds: float | None
    #: "en", "vi" or "auto".
    language_requested: str
    #: The language whisper found, for "auto" jobs.
    language_detected: str | None
    model_name: str
    #: Decoding options passed to the engine (beam size, prompt...); a copy.
    decode_options: dict[str, Any]
    created_at: float
    updated_at: float
    #: When the first chunk was handed out.
    started_at: float | None
    #: When the job last became COMPLETED, FAILED or CANCELLED.
    finished_at: float | None
    #: When its chunks were planned (None: not chunked yet).
    planned_at: float | None
    #: Chunks to transcribe (a split chunk counts as its two halves).
    chunk_total: int
    chunk_done: int
    #: Failed attempts that were retried, over all its chunks.
    retry_count: int
    #: Why the job failed, when it did.
    error: ErrorInfo | None
    #: The job's folder (decoded audio, scratch files).
    work_dir: str | None
    #: Optional settings front ends attach (export formats and folder, webhook URL...); a copy.
    extras: dict[str, Any]

    @property
    def is_planned(self) -> bool:
        return self.planned_at is not None


@dataclass(frozen=True, slots=True)
class ChunkRecord:
    """One chunk of a job as stored, with its lease and (once done) its result."""

    #: Unique over the whole store and never reused.
    id: int
    job_id: str
    #: Index of the planned span this chunk is (or was split from).
    index: int
    #: Sorts the chunks of a job into transcript order, halves of splits included.
    order_key: str
    #: The chunk this one is a half of, after an out-of-memory split.
    parent_id: int | None
    start: float
    end: float
    cut: CutKind
    overlap_before: float
    state: ChunkState
    #: Leases granted so far; the current lease is attempt number ``attempt``.
    attempt: int
    #: Failed attempts since the chunk was (re)queued; drives the retry policy.
    failures: int
    lease_id: str | None
    lease_agent_id: str | None
    lease_deadline: float | None
    leased_at: float | None
    #: A chunk waiting for a retry goes back to the queue at this time.
    not_before: float | None
    #: Lease length for this chunk; grows after timeouts.
    deadline_seconds: float
    error: ErrorInfo | None
    #: The engine's result (RecognitionResult.to_dict as JSON), once done.
    result_json: str | None
    engine_seconds: float | None
    agent_seconds: float | None
    #: The agent whose reply was accepted.
    done_agent_id: str | None
    done_at: float | None
    #: When the chunk became a dead letter.
    failed_at: float | None
    #: When a dead letter's history was purged (it no longer counts as a dead letter).
    purged_at: float | None
    created_at: float
    updated_at: float

    @property
    def duration(self) -> float:
        return self.end - self.start

    @property
    def span(self) -> ChunkSpan:
        return ChunkSpan(
            index=self.index, start=self.start, end=self.end, cut=self.cut, overlap_before=self.overlap_before
        )

    @property
    def is_dead_letter(self) -> bool:
        return self.state is ChunkState.FAILED and self.purged_at is None

    def result(self) -> RecognitionResult | None:
        """The engine's result, parsed on demand (None until the chunk is done)."""
        if self.result_json is None:
            return None
        return RecognitionResult.from_dict(json.loads(self.result_json))


@dataclass(frozen=True, slots=True)
class AgentRecord:
    """A worker agent the coordinator has seen, with its lifetime counters."""

    id: str
    name: str
    host: str
    #: Where the coordinator reaches it ("tcp://10.0.0.5:5557"), or "" for agents that connect in.
    endpoint: str
    public_key: str | None
    fingerprint: str | None
    #: Approved by the user to receive audio (local agents are trusted from the start).
    trusted: bool
    #: Started by this app's local pool on loopback.
    local: bool
    #: Chunks it may hold at once.
    slots: int
    #: Engine threads per slot.
    threads: int
    models: tuple[str, ...]
    cpu: str
    version: str
    first_seen: float
    last_seen: float
    chunks_done: int
    #: Audio it transcribed, and the wall time it spent on it.
    audio_seconds: float
    busy_seconds: float
    crashes: int

    @property
    def real_time_factor(self) -> float | None:
        """Seconds of work per second of audio (below 1: faster than real time); None before any work."""
        if self.audio_seconds <= 0:
            return None
        return self.busy_seconds / self.audio_seconds


@dataclass(frozen=True, slots=True)
class EventRecord:
    """One entry of the event log."""

    #: Increases with every event and is never reused: poll with ``since_id``.
    id: int
    at: float
    kind: str
    job_id: str | None
    chunk_id: int | None
    agent_id: str | None
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class SegmentEdit:
    """A user's correction of one segment of a job's transcript."""

    job_id: str
    #: Position of the segment in the merged transcript.
    segment_index: int
    #: Start of the segment when it was edited, to notice a transcript that changed since.
    segment_start: float
    text: str
    edited_at: float


@dataclass(frozen=True, slots=True)
class JobProgress:
    """How far a job is: chunk counts by state and audio seconds done."""

    job_id: str
    state: JobState
    total: int
    done: int
    leased: int
    pending: int
    #: Waiting for a retry backoff to end.
    waiting: int
    #: Dead letters.
    failed: int
    audio_seconds_total: float
    audio_seconds_done: float
    #: Agent time spent on the done chunks.
    processing_seconds: float
    started_at: float | None
    updated_at: float

    @property
    def fraction(self) -> float:
        """0..1, weighted by audio length (chunk counts when lengths are unknown)."""
        if self.audio_seconds_total > 0:
            return min(1.0, self.audio_seconds_done / self.audio_seconds_total)
        if self.total > 0:
            return self.done / self.total
        return 1.0 if self.state is JobState.COMPLETED else 0.0


class DropReason(str, Enum):
    """Why a chunk reply was not accepted."""

    #: No chunk with that id (deleted with its job, or never existed).
    UNKNOWN_CHUNK = "unknown_chunk"
    #: The same lease already completed the chunk: a duplicated reply.
    DUPLICATE = "duplicate"
    #: The chunk was leased again since (the reply's lease expired); a newer attempt owns it.
    SUPERSEDED = "superseded"
    #: The chunk is no longer leased (waiting for a retry, requeued, split or dead-lettered).
    NOT_LEASED = "not_leased"
    #: The lease id does not match the attempt: a confused or hostile sender.
    LEASE_MISMATCH = "lease_mismatch"


@dataclass(frozen=True, slots=True)
class CompletionOutcome:
    """What became of a chunk reply."""

    accepted: bool
    #: Why it was dropped (None when accepted).
    reason: DropReason | None
    #: The chunk after the reply (None for an unknown chunk).
    chunk: ChunkRecord | None
    #: The reply finished the job: it is COMPLETED now.
    job_completed: bool = False


@dataclass(frozen=True, slots=True)
class AgentPerformance:
    """One agent's lifetime work, for the monitoring view."""

    agent_id: str
    name: str
    local: bool
    chunks_done: int
    audio_seconds: float
    busy_seconds: float
    crashes: int
    last_seen: float
    #: busy / audio seconds (below 1 is faster than real time); None before any work.
    real_time_factor: float | None


@dataclass(frozen=True, slots=True)
class StoreMetrics:
    """The monitoring figures (DESIGN.md §4, the seed's §7.4), computed from the store.

    "Window" figures count what happened in the ``window_seconds`` before ``at``;
    the others describe the store as it is. Rates are None when nothing happened
    to compute them from.
    """

    at: float
    window_seconds: float
    #: Every job by state, now.
    jobs_by_state: dict[str, int]
    #: Chunks waiting to be handed out (queued, or waiting for a retry) of jobs that may run.
    queue_depth: int
    leased_chunks: int
    #: Jobs that completed / failed in the window.
    jobs_completed: int
    jobs_failed: int
    job_success_rate: float | None
    job_failure_rate: float | None
    #: Mean retried attempts per job, over the jobs that finished in the window.
    retries_per_job: float | None
    #: Attempts that ended in the window, and those of them that failed.
    chunk_attempts: int
    chunk_failed_attempts: int
    #: failed attempts / attempts.
    retry_rate: float | None
    #: Lease-to-result time of the chunks done in the window: mean, 95th percentile, sum.
    chunk_seconds_mean: float | None
    chunk_seconds_p95: float | None
    processing_seconds_total: float
    #: Mean time from adding a job to its completion, over jobs completed in the window.
    job_seconds_mean: float | None
    #: Dead letters kept (not yet purged).
    dead_letter_depth: int
    #: Agent crashes recorded in the window.
    agent_crashes: int
    agents: tuple[AgentPerformance, ...] = field(default_factory=tuple)
