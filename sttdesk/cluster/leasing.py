"""Leases: which chunk goes to which agent, and what happens when an attempt ends.

This is the coordinator's decision logic, kept free of sockets so it can be
tested on its own: the ZeroMQ loop in :mod:`sttdesk.cluster.coordinator` feeds
it what it hears and sends what it returns. Every change goes through the
store's compare-and-set operations, so a late or duplicate reply can never
overwrite a newer state.
"""

from __future__ import annotations

import json
import logging
import random
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from ..domain.chunks import ChunkSpan, CutKind
from ..domain.jobs import ChunkState
from ..domain.records import CompletionOutcome, ErrorInfo
from ..domain.retry import RetryDecision, RetryPolicy
from .agents import AgentLink

log = logging.getLogger(__name__)

#: Overlap given to the two halves of a chunk split after running out of memory.
SPLIT_OVERLAP_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class ModelRef:
    """A model as named in a job, with the checksum agents must match."""

    name: str
    sha256: str | None


@dataclass(frozen=True, slots=True)
class WorkOrder:
    """One lease, ready to be sent to an agent as a WORK message."""

    lease_id: str
    job_id: str
    chunk_id: int
    attempt: int
    model: ModelRef
    options: dict[str, Any]
    deadline_seconds: float
    audio: bytes
    audio_seconds: float


@dataclass(frozen=True, slots=True)
class AttemptError:
    """Why an attempt failed, as reported by an agent or decided here."""

    code: str
    transient: bool
    detail: str = ""
    message_en: str = ""
    message_vi: str = ""

    @property
    def info(self) -> ErrorInfo:
        """The error as the store keeps it."""
        return ErrorInfo(code=self.code, message_en=self.message_en or self.detail or self.code,
                         message_vi=self.message_vi or self.detail or self.code)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AttemptError:
        return cls(
            code=str(data.get("code") or "error"),
            transient=bool(data.get("transient", True)),
            detail=str(data.get("detail") or ""),
            message_en=str(data.get("message_en") or ""),
            message_vi=str(data.get("message_vi") or ""),
        )


AGENT_LOST = AttemptError(
    code="agent_lost",
    transient=True,
    detail="the agent stopped answering",
    message_en="The computer working on this part stopped answering; it will be retried.",
    message_vi="Máy đang xử lý phần này không còn phản hồi; sẽ thử lại.",
)
LEASE_EXPIRED = AttemptError(
    code="lease_expired",
    transient=True,
    detail="no answer before the lease deadline",
    message_en="This part took too long to come back; it will be retried.",
    message_vi="Phần này xử lý quá lâu; sẽ thử lại.",
)


class ChunkAudioReader(Protocol):
    """Reads a chunk's audio as 16 kHz mono PCM s16le bytes."""

    def __call__(self, job: Any, chunk: Any) -> bytes: ...


class LeaseManager:
    """Hands chunks to agents as leases and settles each attempt's outcome."""

    def __init__(
        self,
        store: Any,
        *,
        read_audio: ChunkAudioReader,
        resolve_model: Callable[[str], ModelRef],
        policy: RetryPolicy | None = None,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        on_event: Callable[[str, dict[str, Any]], None] | None = None,
    ) -> None:
        self._store = store
        self._read_audio = read_audio
        self._resolve_model = resolve_model
        self._policy = policy or RetryPolicy()
        self._clock = clock
        self._rng = rng or random.Random()
        self._on_event = on_event or (lambda kind, data: None)
        #: lease id -> (chunk id, attempt, endpoint) for leases this coordinator handed out.
        self._leases: dict[str, tuple[int, int, str]] = {}

    # --- handing out ---------------------------------------------------------

    def assign(self, agents: Iterable[AgentLink]) -> list[tuple[AgentLink, WorkOrder]]:
        """Lease as many dispatchable chunks as the agents have free slots."""
        ready = [a for a in agents if a.free_slots > 0]
        capacity = sum(a.free_slots for a in ready)
        if not capacity:
            return []
        now = self._clock()
        orders: list[tuple[AgentLink, WorkOrder]] = []
        jobs: dict[str, Any] = {}
        for chunk in self._store.dispatchable_chunks(limit=capacity, now=now):
            job = jobs.get(chunk.job_id) or self._store.get_job(chunk.job_id)
            jobs[chunk.job_id] = job
            model = self._resolve_model(job.model_name)
            agent = self._pick_agent(ready, model)
            if agent is None:
                continue
            lease_id = uuid.uuid4().hex[:16]
            deadline = now + chunk.deadline_seconds
            leased = self._store.lease_chunk(
                chunk.id, agent_id=agent.agent_id, lease_id=lease_id, deadline=deadline, now=now
            )
            if leased is None:  # somebody else (another coordinator) got it first
                continue
            try:
                audio = self._read_audio(job, leased)
            except OSError as exc:
                log.error("cannot read audio of chunk %s of job %s: %s", chunk.id, job.id, exc)
                self._settle_failure(
                    leased, lease_id, AttemptError("audio_unreadable", False, str(exc),
                                                   f"The decoded audio could not be read: {exc}",
                                                   f"Không đọc được âm thanh đã giải mã: {exc}"), now)
                continue
            agent.leases.add(lease_id)
            self._leases[lease_id] = (leased.id, leased.attempt, agent.endpoint)
            orders.append(
                (
                    agent,
                    WorkOrder(
                        lease_id=lease_id,
                        job_id=job.id,
                        chunk_id=leased.id,
                        attempt=leased.attempt,
                        model=model,
                        options=dict(job.decode_options or {}),
                        deadline_seconds=chunk.deadline_seconds,
                        audio=audio,
                        audio_seconds=leased.end - leased.start,
                    ),
                )
            )
            self._on_event("chunk_leased", {"job_id": job.id, "chunk_id": leased.id,
                                            "agent_id": agent.agent_id, "attempt": leased.attempt})
            if not any(a.free_slots for a in ready):
                break
        return orders

    @staticmethod
    def _pick_agent(agents: list[AgentLink], model: ModelRef) -> AgentLink | None:
        """The agent with the most free slots that has the model (local agents win ties)."""
        able = [a for a in agents if a.free_slots > 0 and a.has_model(model.name, model.sha256)]
        if not able:
            return None
        return max(able, key=lambda a: (a.free_slots, a.local))

    # --- outcomes ------------------------------------------------------------

    def forget(self, agent: AgentLink, lease_id: str) -> tuple[int, int] | None:
        """Drop a lease from the books; its (chunk id, attempt) if it was ours."""
        agent.leases.discard(lease_id)
        entry = self._leases.pop(lease_id, None)
        return None if entry is None else (entry[0], entry[1])

    def complete(self, agent: AgentLink, *, lease_id: str, chunk_id: int, attempt: int,
                 result: dict[str, Any], engine_seconds: float, agent_seconds: float) -> CompletionOutcome:
        """Store a chunk's result; a late or duplicate reply is dropped by the store."""
        self.forget(agent, lease_id)
        outcome = self._store.complete_chunk(
            chunk_id,
            lease_id=lease_id,
            attempt=attempt,
            result_json=json.dumps(result, ensure_ascii=False),
            agent_id=agent.agent_id,
            engine_seconds=engine_seconds,
            agent_seconds=agent_seconds,
            now=self._clock(),
        )
        return outcome

    def fail(self, agent: AgentLink, *, lease_id: str, chunk_id: int, attempt: int,
             error: AttemptError) -> None:
        """Settle an attempt the agent reported as failed."""
        self.forget(agent, lease_id)
        chunk = self._store.get_chunk(chunk_id)
        if chunk is None or chunk.lease_id != lease_id or chunk.attempt != attempt:
            self._store.log_event("reply_dropped", chunk_id=chunk_id, agent_id=agent.agent_id,
                                  data={"lease_id": lease_id, "attempt": attempt,
                                        "reason": "stale failure", "code": error.code})
            return
        self._settle_failure(chunk, lease_id, error, self._clock())

    def release(self, agent: AgentLink, lease_ids: Iterable[str]) -> None:
        """Take back leases an agent returned unused (it is shutting down)."""
        for lease_id in lease_ids:
            entry = self.forget(agent, lease_id)
            if entry is not None:
                self._store.release_chunk(entry[0], lease_id=lease_id)

    def agent_lost(self, agent: AgentLink) -> int:
        """Every lease of a silent agent expires now; returns how many."""
        now = self._clock()
        count = 0
        for lease_id in list(agent.leases):
            entry = self.forget(agent, lease_id)
            if entry is None:
                continue
            chunk = self._store.get_chunk(entry[0])
            if chunk is not None and chunk.lease_id == lease_id:
                self._store.log_event("lease_expired", job_id=chunk.job_id, chunk_id=chunk.id,
                                      agent_id=agent.agent_id,
                                      data={"lease_id": lease_id, "reason": "agent_lost"})
                self._settle_failure(chunk, lease_id, AGENT_LOST, now)
                count += 1
        return count

    def expire_overdue(self) -> int:
        """Settle every lease (ours or a dead coordinator's) past its deadline."""
        now = self._clock()
        count = 0
        for chunk in self._store.expired_leases(now):
            self._leases.pop(chunk.lease_id, None)
            self._settle_failure(chunk, chunk.lease_id, LEASE_EXPIRED, now, expired=True)
            count += 1
        return count

    def wake_retries(self) -> int:
        """Chunks whose backoff has ended go back to the queue; returns how many."""
        return len(self._store.wake_retries(self._clock()))

    def owner_of(self, lease_id: str) -> str | None:
        """The endpoint of the agent holding a lease of ours."""
        entry = self._leases.get(lease_id)
        return None if entry is None else entry[2]

    def leases_of_job(self, job_id: str) -> list[str]:
        chunk_ids = {c.id for c in self._store.chunks_of(job_id)}
        return [lid for lid, (cid, _, _) in self._leases.items() if cid in chunk_ids]

    # --- retry policy --------------------------------------------------------

    def _settle_failure(self, chunk: Any, lease_id: str | None, error: AttemptError, now: float,
                        *, expired: bool = False) -> None:
        failures = chunk.failures + 1
        decision = self._policy.decide(
            error_code=error.code,
            transient=error.transient,
            failures=failures,
            chunk_seconds=chunk.end - chunk.start,
        )
        if decision is RetryDecision.SPLIT:
            halves = split_span(chunk)
            if self._store.split_chunk(chunk.id, lease_id=lease_id, attempt=chunk.attempt,
                                       halves=halves, error=error.info, now=now):
                log.info("chunk %s of job %s ran out of memory: split in two", chunk.id, chunk.job_id)
                return
            decision = RetryDecision.RETRY
        if decision is RetryDecision.RETRY:
            delay = self._policy.delay(failures, rng=self._rng)
            deadline_seconds = chunk.deadline_seconds
            if error.code == "engine_timeout":
                deadline_seconds *= self._policy.timeout_growth
            done = self._store.fail_chunk(
                chunk.id, lease_id=lease_id, attempt=chunk.attempt, new_state=ChunkState.RETRY_WAIT,
                error=error.info, not_before=now + delay, deadline_seconds=deadline_seconds,
                expired=expired, now=now,
            )
            if done:
                log.info("chunk %s of job %s failed (%s), retry %d in %.1f s",
                         chunk.id, chunk.job_id, error.code, failures, delay)
            return
        done = self._store.fail_chunk(
            chunk.id, lease_id=lease_id, attempt=chunk.attempt, new_state=ChunkState.FAILED,
            error=error.info, job_failed=True, expired=expired, now=now,
        )
        if done:
            log.warning("chunk %s of job %s dead-lettered after %d failures: %s",
                        chunk.id, chunk.job_id, failures, error.code)
            self._on_event("chunk_failed", {"job_id": chunk.job_id, "chunk_id": chunk.id,
                                            "code": error.code})


def split_span(chunk: Any) -> tuple[ChunkSpan, ChunkSpan]:
    """Two halves of a chunk, overlapping a little so no word is cut in two."""
    middle = (chunk.start + chunk.end) / 2
    half = SPLIT_OVERLAP_SECONDS / 2
    first = ChunkSpan(index=chunk.index, start=chunk.start, end=middle + half,
                      cut=CutKind.FORCED, overlap_before=chunk.overlap_before)
    second = ChunkSpan(index=chunk.index, start=middle - half, end=chunk.end,
                       cut=CutKind(chunk.cut),
                       overlap_before=SPLIT_OVERLAP_SECONDS)
    return first, second
