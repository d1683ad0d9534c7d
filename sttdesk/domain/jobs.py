"""Job and chunk states, and the one table of transitions each may make.

A job is one source file to transcribe; its chunks are the pieces handed to
agents. Every state change in the store is a compare-and-set from an old state
to a new one; :func:`check_job_transition` and :func:`check_chunk_transition`
are the single authority on which changes are legal.
"""

from __future__ import annotations

from enum import Enum

from .errors import PermanentError


class JobState(str, Enum):
    """Where a job is in its life."""

    #: Accepted and waiting: not yet chunked, or no chunk handed out yet.
    PENDING = "PENDING"
    #: At least one chunk has been handed to an agent.
    PROCESSING = "PROCESSING"
    #: Stopped by the user; no new chunk is handed out until resumed.
    PAUSED = "PAUSED"
    #: Every chunk is done; the transcript is complete.
    COMPLETED = "COMPLETED"
    #: A permanent error, or a chunk ran out of retries; the partial transcript is kept.
    FAILED = "FAILED"
    #: Stopped for good by the user.
    CANCELLED = "CANCELLED"

    @property
    def is_terminal(self) -> bool:
        return self in JOB_TERMINAL

    @property
    def is_active(self) -> bool:
        """Whether chunks of this job may be handed out."""
        return self in (JobState.PENDING, JobState.PROCESSING)


class ChunkState(str, Enum):
    """Where one chunk is in its life."""

    #: Waiting for an agent.
    PENDING = "PENDING"
    #: Handed to an agent under a lease with a deadline.
    LEASED = "LEASED"
    #: Transcribed; its result is stored.
    DONE = "DONE"
    #: Failed with a transient error; back to PENDING when its backoff ends.
    RETRY_WAIT = "RETRY_WAIT"
    #: Dead letter: a permanent error, or retries exhausted.
    FAILED = "FAILED"
    #: Replaced by two halves (after running out of memory).
    SPLIT = "SPLIT"


JOB_TERMINAL = frozenset({JobState.COMPLETED, JobState.CANCELLED})

JOB_TRANSITIONS: dict[JobState, frozenset[JobState]] = {
    JobState.PENDING: frozenset(
        {JobState.PROCESSING, JobState.PAUSED, JobState.FAILED, JobState.CANCELLED, JobState.COMPLETED}
    ),
    JobState.PROCESSING: frozenset(
        {JobState.COMPLETED, JobState.FAILED, JobState.PAUSED, JobState.CANCELLED, JobState.PENDING}
    ),
    JobState.PAUSED: frozenset({JobState.PENDING, JobState.CANCELLED}),
    # "Retry failed" puts a failed job back in the queue.
    JobState.FAILED: frozenset({JobState.PENDING, JobState.CANCELLED}),
    JobState.COMPLETED: frozenset(),
    JobState.CANCELLED: frozenset(),
}

CHUNK_TRANSITIONS: dict[ChunkState, frozenset[ChunkState]] = {
    ChunkState.PENDING: frozenset({ChunkState.LEASED, ChunkState.FAILED}),
    ChunkState.LEASED: frozenset(
        {
            ChunkState.DONE,
            ChunkState.RETRY_WAIT,
            ChunkState.FAILED,
            ChunkState.SPLIT,
            # handed back unused (agent shutting down, job paused): no attempt spent
            ChunkState.PENDING,
        }
    ),
    ChunkState.RETRY_WAIT: frozenset({ChunkState.PENDING, ChunkState.FAILED}),
    # "Retry failed" gives a dead letter a fresh set of attempts.
    ChunkState.FAILED: frozenset({ChunkState.PENDING}),
    ChunkState.DONE: frozenset(),
    ChunkState.SPLIT: frozenset(),
}


class IllegalTransitionError(PermanentError):
    """A state change that the transition table does not allow."""

    code = "illegal_transition"
    message_en = "Cannot change {what} from {old} to {new}."
    message_vi = "Không thể chuyển {what} từ {old} sang {new}."


def can_change_job(old: JobState, new: JobState) -> bool:
    return new in JOB_TRANSITIONS[old]


def can_change_chunk(old: ChunkState, new: ChunkState) -> bool:
    return new in CHUNK_TRANSITIONS[old]


def check_job_transition(old: JobState, new: JobState) -> None:
    """Raise IllegalTransitionError unless a job may go from ``old`` to ``new``."""
    if not can_change_job(old, new):
        raise IllegalTransitionError(what="job", old=old.value, new=new.value)


def check_chunk_transition(old: ChunkState, new: ChunkState) -> None:
    """Raise IllegalTransitionError unless a chunk may go from ``old`` to ``new``."""
    if not can_change_chunk(old, new):
        raise IllegalTransitionError(what="chunk", old=old.value, new=new.value)
