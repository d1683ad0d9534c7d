"""Leases: which chunk goes to which agent, and what happens when an attempt ends.

It also measures each agent's speed from its results and uses it at the tail
of a job (:meth:`LeaseManager.speculate`): when nothing waits and an agent is
idle, a chunk a slower agent is still working on is copied to the idle one if
it would finish clearly sooner there. The copy runs under a lease id known only
here; whichever answer comes first completes the chunk under the store's lease
(the store keeps one result, and a late one is a duplicate it drops), and the
other is cancelled (:meth:`LeaseManager.take_rivals`).

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
from ..domain.errors import SttdeskError
from ..domain.jobs import ChunkState
from ..domain.records import CompletionOutcome, ErrorInfo, EventKind
from ..domain.retry import RetryDecision, RetryPolicy
from .agents import AgentLink

log = logging.getLogger(__name__)

#: Overlap given to the two halves of a chunk split after running out of memory.
SPLIT_OVERLAP_SECONDS = 1.0
#: Seconds a lease outlives the deadline the agent is given. The agent counts its deadline
#: from the WORK's arrival and reports a typed timeout when it passes; this margin lets that
#: report (which makes the next deadline longer) arrive before the lease expires here.
LEASE_GRACE_SECONDS = 5.0
#: Most queued chunks one hand-out looks at. Chunks no agent can take (their model is
#: nowhere) are passed over, and the scan widens until it finds work for the free slots.
MAX_DISPATCH_SCAN = 1024
#: Error codes that mean "the attempt ran out of time": the next lease gets a longer deadline.
TIMEOUT_CODES = frozenset({"engine_timeout", "lease_expired"})
#: Weight of the newest result in an agent's measured speed (the rest is its history).
SPEED_SMOOTHING = 0.3
#: A speculative copy must be expected to finish at least this many seconds sooner ...
SPECULATION_MIN_GAIN_SECONDS = 1.0
#: ... with the idle agent's own estimate padded by this fraction (sending, start-up, noise).
SPECULATION_MARGIN = 0.5


@dataclass(frozen=True, slots=True)
class ModelRef:
    """A model as named in a job, with the checksum agents must match (None: any file of that name)."""

    name: str
    sha256: str | None


@dataclass(frozen=True, slots=True)
class WorkOrder:
    """One lease, ready to be sent to an agent as a WORK message."""

    lease_id: str
    job_id: str
    chunk_id: int
    attempt: int
    #: The model with the exact sha256 the chosen agent announced.
    model: ModelRef
    options: dict[str, Any]
    #: Seconds the agent has for the chunk, from the WORK's arrival.
    deadline_seconds: float
    audio: bytes
    audio_seconds: float


@dataclass(frozen=True, slots=True)
class _Lease:
    """A lease this coordinator handed out and has not heard the end of."""

    chunk_id: int
    attempt: int
    job_id: str
    #: The agent holding it.
    endpoint: str
    #: Its agent's id.
    agent_id: str | None = None
    #: Seconds of audio in the chunk.
    audio_seconds: float = 0.0
    #: Clock time it was handed out.
    started: float = 0.0
    #: For a speculative copy: the store's lease it copies (None for a store lease).
    copy_of: str | None = None
    #: For a speculative copy: the agent holding that store lease.
    copy_of_agent_id: str | None = None


@dataclass(frozen=True, slots=True)
class RivalLease:
    """A lease on a chunk that is settled now: its holder should drop the work."""

    lease_id: str
    endpoint: str


@dataclass(frozen=True, slots=True)
class ExpiredLease:
    """A lease of ours that ran past its deadline and was settled as a failed attempt."""

    lease_id: str
    chunk_id: int
    #: The agent that held it (to tell it to drop the work).
    endpoint: str


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

    @classmethod
    def from_error(cls, error: SttdeskError) -> AttemptError:
        return cls(code=error.code, transient=error.transient, detail=error.detail,
                   message_en=error.user_message("en"), message_vi=error.user_message("vi"))


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


def audio_unreadable(detail: str) -> AttemptError:
    """The chunk's decoded audio could not be read here: no agent can do better (permanent)."""
    return AttemptError(
        code="audio_unreadable", transient=False, detail=detail,
        message_en=f"The decoded audio of this part could not be read: {detail}",
        message_vi=f"Không đọc được âm thanh đã giải mã của phần này: {detail}",
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
        lease_grace_seconds: float = LEASE_GRACE_SECONDS,
        max_dispatch_scan: int = MAX_DISPATCH_SCAN,
        speculation: bool = True,
    ) -> None:
        """``speculation``: copy stragglers' chunks to idle faster agents at a job's tail (see speculate)."""
        self._store = store
        self._read_audio = read_audio
        self._resolve_model = resolve_model
        self._policy = policy or RetryPolicy()
        self._clock = clock
        self._rng = rng or random.Random()
        self._on_event = on_event or (lambda kind, data: None)
        self._grace = lease_grace_seconds
        self._max_scan = max_dispatch_scan
        self._speculation = speculation
        #: Leases this coordinator handed out, by lease id (kept apart from the store, so a
        #: deleted job's leases can still be taken back from their agents).
        self._leases: dict[str, _Lease] = {}
        #: Jobs already reported as waiting for a model no agent has (logged once each).
        self._unservable: set[str] = set()
        #: Models (by sha256) of chunks the last hand-out passed over: no agent with a free
        #: slot had them. Agents lacking one may fetch it (model provisioning).
        self._starved: dict[str, ModelRef] = {}

    # --- handing out ---------------------------------------------------------

    def assign(self, agents: Iterable[AgentLink]) -> list[tuple[AgentLink, WorkOrder]]:
        """Lease as many dispatchable chunks as the agents have free slots, in the store's fair order.

        A chunk goes only to an agent that announced its model (and sha256) and has a free
        slot. Chunks no agent can take are passed over, so a job waiting for a model that
        is nowhere does not hold up the jobs behind it.
        """
        ready = [a for a in agents if a.free_slots > 0]
        if not ready:
            return []
        self._starved = {}
        now = self._clock()
        orders: list[tuple[AgentLink, WorkOrder]] = []
        jobs: dict[str, Any] = {}
        models: dict[str, ModelRef] = {}
        seen: set[int] = set()
        while True:
            free = sum(a.free_slots for a in ready)
            if not free:
                break
            # Ask for the seen chunks again plus enough for every free slot: the fair order
            # is recomputed after each lease, and passed-over chunks stay at its head.
            limit = min(self._max_scan, free + len(seen))
            batch = self._store.dispatchable_chunks(limit=limit, now=now)
            fresh = [c for c in batch if c.id not in seen]
            if not fresh:
                break
            for chunk in fresh:
                seen.add(chunk.id)
                order = self._lease_one(chunk, ready, jobs, models, now)
                if order is not None:
                    orders.append(order)
                    if not any(a.free_slots for a in ready):
                        break
            if len(batch) < limit or limit >= self._max_scan:
                break  # nothing more is queued (or the scan is as wide as it may get)
        return orders

    def _lease_one(self, chunk: Any, ready: list[AgentLink], jobs: dict[str, Any],
                   models: dict[str, ModelRef], now: float) -> tuple[AgentLink, WorkOrder] | None:
        job = jobs.get(chunk.job_id)
        if job is None:
            job = jobs[chunk.job_id] = self._store.get_job(chunk.job_id)
        model = models.get(job.id)
        if model is None:
            model = models[job.id] = self._resolve_model(job.model_name)
        agent = self._pick_agent(ready, model)
        if agent is None:
            if model.sha256:
                self._starved[model.sha256] = model
            if job.id not in self._unservable:
                self._unservable.add(job.id)
                log.info("job %s waits for an agent with model %s (%s)", job.id, model.name,
                         (model.sha256 or "any file")[:12])
            return None
        self._unservable.discard(job.id)
        lease_id = uuid.uuid4().hex[:16]
        deadline = now + chunk.deadline_seconds + self._grace
        leased = self._store.lease_chunk(
            chunk.id, agent_id=agent.agent_id, lease_id=lease_id, deadline=deadline, now=now
        )
        if leased is None:  # changed since it was read (another coordinator, a cancel)
            return None
        try:
            audio = self._read_audio(job, leased)
        except (OSError, SttdeskError) as exc:
            detail = exc.user_message("en") if isinstance(exc, SttdeskError) else str(exc)
            log.error("cannot read audio of chunk %s of job %s: %s", leased.id, job.id, detail)
            self._settle_failure(leased, lease_id, audio_unreadable(detail), now)
            return None
        agent.leases.add(lease_id)
        self._leases[lease_id] = _Lease(leased.id, leased.attempt, job.id, agent.endpoint, agent_id=agent.agent_id,
                                        audio_seconds=leased.end - leased.start, started=now)
        self._on_event("chunk_leased", {"job_id": job.id, "chunk_id": leased.id,
                                        "agent_id": agent.agent_id, "attempt": leased.attempt})
        # The agent matches name *and* sha256: name the exact file it announced.
        exact = ModelRef(name=model.name, sha256=model.sha256 or agent.models.get(model.name) or None)
        return agent, WorkOrder(
            lease_id=lease_id,
            job_id=job.id,
            chunk_id=leased.id,
            attempt=leased.attempt,
            model=exact,
            options=dict(job.decode_options or {}),
            deadline_seconds=leased.deadline_seconds,
            audio=audio,
            audio_seconds=leased.end - leased.start,
        )

    # --- the tail of a job: speculative copies -------------------------------

    def speculate(self, agents: Iterable[AgentLink]) -> list[tuple[AgentLink, WorkOrder]]:
        """Copy stragglers' chunks to idle agents that would finish them clearly sooner.

        Only when no chunk is waiting (a free slot takes waiting work first), only
        between agents whose speeds have been measured, and at most one copy per chunk.
        A chunk's time left on its holder is estimated from the holder's measured speed
        (a chunk already past that estimate is assumed to need as long again as it is
        late). A holder not measured yet is given the benefit of the doubt: a stuck or
        dead agent is the lease deadline's and the heartbeats' business, not this one's.
        """
        if not self._speculation:
            return []
        agents = list(agents)
        idle = [a for a in agents if a.free_slots > 0 and a.speed]
        if not idle or not self._leases:
            return []
        now = self._clock()
        if self._store.dispatchable_chunks(limit=1, now=now):
            return []
        by_endpoint = {a.endpoint: a for a in agents}
        copied = {entry.copy_of for entry in self._leases.values() if entry.copy_of is not None}
        stragglers = sorted(
            ((self._time_left(entry, by_endpoint.get(entry.endpoint), now), lease_id, entry)
             for lease_id, entry in self._leases.items()
             if entry.copy_of is None and lease_id not in copied
             and (holder := by_endpoint.get(entry.endpoint)) is not None and holder.speed),
            key=lambda item: -item[0],
        )
        orders: list[tuple[AgentLink, WorkOrder]] = []
        for left, lease_id, entry in stragglers:
            choices = [
                (entry.audio_seconds / a.speed * (1.0 + SPECULATION_MARGIN), a)
                for a in idle if a.free_slots > 0 and a.endpoint != entry.endpoint and a.speed
            ]
            choices = [(eta, a) for eta, a in choices if eta + SPECULATION_MIN_GAIN_SECONDS < left]
            if not choices:
                continue
            eta, agent = min(choices, key=lambda choice: choice[0])
            order = self._copy(agent, lease_id, entry, now)
            if order is not None:
                log.info("chunk %s of job %s: copied to %s (about %.1f s there, %.1f s left on %s)",
                         entry.chunk_id, entry.job_id, agent.name or agent.endpoint, eta, left, entry.endpoint)
                orders.append((agent, order))
        return orders

    @staticmethod
    def _time_left(entry: _Lease, holder: AgentLink | None, now: float) -> float:
        elapsed = max(0.0, now - entry.started)
        if holder is None or not holder.speed:
            return 0.0
        expected = entry.audio_seconds / holder.speed
        return max(expected - elapsed, elapsed - expected)

    def _copy(self, agent: AgentLink, lease_id: str, entry: _Lease, now: float) -> WorkOrder | None:
        chunk = self._store.get_chunk(entry.chunk_id)
        if chunk is None or chunk.state is not ChunkState.LEASED or chunk.lease_id != lease_id:
            return None
        job = self._store.find_job(entry.job_id)
        if job is None:
            return None
        model = self._resolve_model(job.model_name)
        if not agent.has_model(model.name, model.sha256):
            return None
        try:
            audio = self._read_audio(job, chunk)
        except (OSError, SttdeskError):
            return None  # the original goes on; its own attempt reports the problem if it has it
        copy_id = uuid.uuid4().hex[:16]
        agent.leases.add(copy_id)
        self._leases[copy_id] = _Lease(chunk.id, chunk.attempt, job.id, agent.endpoint, agent_id=agent.agent_id,
                                       audio_seconds=entry.audio_seconds, started=now, copy_of=lease_id,
                                       copy_of_agent_id=chunk.lease_agent_id)
        self._on_event("chunk_speculated", {"job_id": job.id, "chunk_id": chunk.id, "agent_id": agent.agent_id,
                                            "holder_agent_id": chunk.lease_agent_id, "attempt": chunk.attempt})
        exact = ModelRef(name=model.name, sha256=model.sha256 or agent.models.get(model.name) or None)
        return WorkOrder(lease_id=copy_id, job_id=job.id, chunk_id=chunk.id, attempt=chunk.attempt, model=exact,
                         options=dict(job.decode_options or {}), deadline_seconds=chunk.deadline_seconds,
                         audio=audio, audio_seconds=entry.audio_seconds)

    def take_rivals(self, chunk_id: int, agents: Iterable[AgentLink] = ()) -> list[RivalLease]:
        """Every lease of ours still out on ``chunk_id``, now settled: off the books, to be cancelled.

        Their slots in ``agents`` are freed at once (the agents drop cancelled work without a reply).
        """
        links = {a.endpoint: a for a in agents}
        rivals = [RivalLease(lease_id, entry.endpoint) for lease_id, entry in self._leases.items()
                  if entry.chunk_id == chunk_id]
        for rival in rivals:
            del self._leases[rival.lease_id]
            link = links.get(rival.endpoint)
            if link is not None:
                link.leases.discard(rival.lease_id)
        return rivals

    def _measure(self, agent: AgentLink, entry: _Lease | None, engine_seconds: float) -> None:
        """Fold one result's speed (audio seconds per engine second) into the agent's."""
        if entry is None or engine_seconds <= 0 or entry.audio_seconds <= 0:
            return
        sample = entry.audio_seconds / engine_seconds
        agent.speed = sample if agent.speed is None else (1 - SPEED_SMOOTHING) * agent.speed + SPEED_SMOOTHING * sample

    def starved_models(self) -> tuple[ModelRef, ...]:
        """Models (with their sha256) that chunks waited for in the last hand-out, no free agent having them."""
        return tuple(self._starved.values())

    @staticmethod
    def _pick_agent(agents: list[AgentLink], model: ModelRef) -> AgentLink | None:
        """The agent with the most free slots that has the model (local agents win ties)."""
        able = [a for a in agents if a.free_slots > 0 and a.has_model(model.name, model.sha256)]
        if not able:
            return None
        return max(able, key=lambda a: (a.free_slots, a.local))

    # --- agents --------------------------------------------------------------

    def agent_seen(self, agent: AgentLink) -> None:
        """Record what an agent announced in READY (the store's agent list and its counters)."""
        if agent.agent_id is None:
            return
        self._store.upsert_agent(
            agent.agent_id, name=agent.name or None, host=agent.host, endpoint=agent.endpoint,
            local=agent.local, slots=max(1, agent.slots), threads=max(1, agent.threads),
            models=sorted(agent.models), cpu=agent.cpu, version=agent.version, now=self._clock(),
        )

    # --- outcomes ------------------------------------------------------------

    def forget(self, agent: AgentLink, lease_id: str) -> tuple[int, int] | None:
        """Drop a lease of ``agent`` from the books; its (chunk id, attempt) if it was a store lease of ours.

        A lease id that another agent holds is left alone: a confused or hostile peer
        must not be able to free another agent's credit. A speculative copy is dropped
        too, but gives None: the store never heard of it.
        """
        entry = self._take(agent, lease_id)
        if entry is None or entry.copy_of is not None:
            return None
        return entry.chunk_id, entry.attempt

    def _take(self, agent: AgentLink, lease_id: str) -> _Lease | None:
        agent.leases.discard(lease_id)
        entry = self._leases.get(lease_id)
        if entry is None or entry.endpoint != agent.endpoint:
            return None
        del self._leases[lease_id]
        return entry

    def complete(self, agent: AgentLink, *, lease_id: str, chunk_id: int, attempt: int,
                 result: dict[str, Any], engine_seconds: float, agent_seconds: float) -> CompletionOutcome:
        """Store a chunk's result; a late or duplicate reply is dropped by the store.

        The result of a speculative copy completes the chunk under the store's lease it
        copies (credited to the agent that ran it). Call :meth:`take_rivals` after an
        accepted result: the other copy of the work is no longer wanted.
        """
        entry = self._take(agent, lease_id)
        self._measure(agent, entry, engine_seconds)
        store_lease, holder = lease_id, None
        if entry is not None and entry.copy_of is not None:
            store_lease, holder = entry.copy_of, entry.copy_of_agent_id
        return self._store.complete_chunk(
            chunk_id,
            lease_id=store_lease,
            attempt=attempt,
            result_json=json.dumps(result, ensure_ascii=False),
            agent_id=agent.agent_id,
            engine_seconds=engine_seconds,
            agent_seconds=agent_seconds,
            now=self._clock(),
            lease_agent_id=holder,
        )

    def fail(self, agent: AgentLink, *, lease_id: str, chunk_id: int, attempt: int,
             error: AttemptError) -> bool:
        """Settle an attempt the agent reported as failed; False if the report was stale (dropped).

        A speculative copy that failed only frees its slot: the original goes on.
        """
        entry = self._take(agent, lease_id)
        if entry is not None and entry.copy_of is not None:
            log.info("speculative copy of chunk %s failed on %s (%s); the original goes on",
                     chunk_id, agent.name or agent.endpoint, error.code)
            return False
        chunk = self._store.get_chunk(chunk_id)
        if (chunk is None or chunk.state is not ChunkState.LEASED or chunk.lease_id != lease_id
                or chunk.attempt != attempt or chunk.lease_agent_id != agent.agent_id):
            self._store.log_event(EventKind.REPLY_DROPPED, job_id=None if chunk is None else chunk.job_id,
                                  chunk_id=chunk_id, agent_id=agent.agent_id,
                                  data={"lease_id": lease_id, "attempt": attempt,
                                        "reason": "stale failure", "code": error.code},
                                  now=self._clock())
            return False
        return self._settle_failure(chunk, lease_id, error, self._clock())

    def release(self, agent: AgentLink, lease_ids: Iterable[str]) -> int:
        """Take back leases an agent returned unused (no attempt spent); returns how many."""
        count = 0
        for lease_id in lease_ids:
            entry = self.forget(agent, lease_id)
            if entry is not None and self._store.release_chunk(entry[0], lease_id=lease_id, now=self._clock()):
                count += 1
        return count

    def agent_lost(self, agent: AgentLink, *, crashed: bool = True) -> int:
        """Every lease of an agent that died or vanished expires now; returns how many.

        Each is logged as ``lease_expired`` (reason ``agent_lost``) and counted as a failed
        attempt, so the chunk goes back to the queue after its backoff. ``crashed`` also
        records a crash against the agent (for the agent-crash metric).
        """
        now = self._clock()
        count = 0
        for lease_id in list(agent.leases):
            entry = self.forget(agent, lease_id)
            if entry is None:
                continue
            chunk = self._store.get_chunk(entry[0])
            if chunk is not None and chunk.state is ChunkState.LEASED and chunk.lease_id == lease_id:
                self._store.log_event(EventKind.LEASE_EXPIRED, job_id=chunk.job_id, chunk_id=chunk.id,
                                      agent_id=agent.agent_id,
                                      data={"lease_id": lease_id, "attempt": chunk.attempt,
                                            "reason": "agent_lost"}, now=now)
                if self._settle_failure(chunk, lease_id, AGENT_LOST, now):
                    count += 1
        if crashed and agent.agent_id is not None:
            try:
                self._store.record_agent_crash(agent.agent_id, now, detail="stopped answering")
            except SttdeskError:
                log.debug("agent %s is not in the store: crash not recorded", agent.agent_id)
        return count

    def expire_overdue(self) -> list[ExpiredLease]:
        """Settle every lease (ours or a dead coordinator's) past its deadline.

        Returns the expired leases that were ours, so the coordinator can free the
        holders' slots and tell them to drop the work.
        """
        now = self._clock()
        expired: list[ExpiredLease] = []
        for chunk in self._store.expired_leases(now):
            entry = self._leases.pop(chunk.lease_id, None)
            settled = self._settle_failure(chunk, chunk.lease_id, LEASE_EXPIRED, now, expired=True)
            if entry is not None and settled:
                expired.append(ExpiredLease(lease_id=chunk.lease_id, chunk_id=chunk.id, endpoint=entry.endpoint))
        return expired

    def wake_retries(self) -> int:
        """Chunks whose backoff has ended go back to the queue; returns how many."""
        return len(self._store.wake_retries(self._clock()))

    def owner_of(self, lease_id: str) -> str | None:
        """The endpoint of the agent holding a lease of ours."""
        entry = self._leases.get(lease_id)
        return None if entry is None else entry.endpoint

    def holds(self, lease_id: str) -> bool:
        """Whether ``lease_id`` is a lease of ours still running."""
        return lease_id in self._leases

    def leases_of_job(self, job_id: str) -> list[str]:
        """Our running leases on chunks of ``job_id`` (even if the job was deleted meanwhile)."""
        return [lease_id for lease_id, entry in self._leases.items() if entry.job_id == job_id]

    # --- retry policy --------------------------------------------------------

    def _settle_failure(self, chunk: Any, lease_id: str, error: AttemptError, now: float,
                        *, expired: bool = False) -> bool:
        """Apply the retry policy to a failed attempt; False if the lease was no longer current."""
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
                return True
            return False
        if decision is RetryDecision.RETRY:
            delay = self._policy.delay(failures, rng=self._rng)
            deadline_seconds = chunk.deadline_seconds
            if error.code in TIMEOUT_CODES:
                deadline_seconds *= self._policy.timeout_growth
            done = self._store.fail_chunk(
                chunk.id, lease_id=lease_id, attempt=chunk.attempt, new_state=ChunkState.RETRY_WAIT,
                error=error.info, not_before=now + delay, deadline_seconds=deadline_seconds,
                expired=expired, now=now,
            )
            if done:
                log.info("chunk %s of job %s failed (%s), retry %d in %.1f s",
                         chunk.id, chunk.job_id, error.code, failures, delay)
            return done
        done = self._store.fail_chunk(
            chunk.id, lease_id=lease_id, attempt=chunk.attempt, new_state=ChunkState.FAILED,
            error=error.info, job_failed=True, expired=expired, now=now,
        )
        if done:
            log.warning("chunk %s of job %s dead-lettered after %d failure(s): %s",
                        chunk.id, chunk.job_id, failures, error.code)
            self._on_event("chunk_failed", {"job_id": chunk.job_id, "chunk_id": chunk.id,
                                            "code": error.code})
        return done


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
