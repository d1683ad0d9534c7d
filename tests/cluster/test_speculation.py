"""The tail of a job on unequal machines: measured speeds, speculative copies, one result per chunk.

The first tests drive the LeaseManager against a real store with a hand-moved
clock; the last one runs a real coordinator with a fast and a slow fake agent
process (``--fake-speed``) and checks that the fast one takes over the slow
one's last chunk, and that the store still holds each chunk's result once.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sttdesk.cluster.agents import AgentLink
from sttdesk.cluster.leasing import LeaseManager, WorkOrder
from sttdesk.domain.jobs import ChunkState, JobState
from sttdesk.domain.records import DropReason
from sttdesk.domain.retry import RetryPolicy
from sttdesk.store import JobStore

from .conftest import FakeClock
from .harness import (
    AgentProcess,
    expected_text,
    start_agent,
    start_coordinator,
    wait_for,
    write_pcm,
)
from .harness import add_job as add_pcm_job
from .test_leasing import (
    CRASH,
    MODELS,
    add_job,
    agent,
    chunk_audio,
    fail,
    result,
    texts,
)


@pytest.fixture
def manager(store: JobStore, clock: FakeClock) -> LeaseManager:
    return LeaseManager(store, read_audio=chunk_audio, resolve_model=lambda name: MODELS[name],
                        policy=RetryPolicy(jitter=0), clock=clock)


def _finish(manager: LeaseManager, link: AgentLink, order: WorkOrder, text: str, *, engine_seconds: float):
    return manager.complete(link, lease_id=order.lease_id, chunk_id=order.chunk_id, attempt=order.attempt,
                            result=result(text), engine_seconds=engine_seconds, agent_seconds=engine_seconds)


def _setup(store: JobStore, manager: LeaseManager, clock: FakeClock):
    """Two chunks of 30 s: the fast agent does its one in 1 s, the slow one (measured at 1x) is at its own."""
    job_id = add_job(store, 2)
    fast, slow = agent("fast", clock=clock), agent("slow", clock=clock)
    orders = {link.agent_id: order for link, order in manager.assign([fast, slow])}
    assert set(orders) == {"fast", "slow"}
    clock.advance(1.0)
    assert _finish(manager, fast, orders["fast"], "fast one", engine_seconds=1.0).accepted
    assert fast.speed == pytest.approx(30.0)
    slow.speed = 1.0  # as measured on its earlier chunks: its one takes 30 s
    return job_id, fast, slow, orders["slow"]


def test_no_copy_while_chunks_are_still_waiting(store, manager, clock):
    add_job(store, 3)
    fast, slow = agent("fast", clock=clock), agent("slow", clock=clock)
    fast.speed = 30.0
    manager.assign([fast, slow])
    clock.advance(60.0)
    # the third chunk still waits: a free slot takes it, not a copy
    assert manager.speculate([fast, slow]) == []


def test_an_idle_fast_agent_copies_a_stragglers_chunk_and_the_first_result_wins(store, manager, clock):
    job_id, fast, slow, straggler = _setup(store, manager, clock)
    assert manager.assign([fast, slow]) == []  # nothing is waiting any more
    clock.advance(5.0)  # the slow agent has had 6 s; the fast one needs about 1 s

    ((link, copy),) = manager.speculate([fast, slow])
    assert link is fast
    assert copy.chunk_id == straggler.chunk_id and copy.attempt == straggler.attempt
    assert copy.lease_id != straggler.lease_id and copy.audio == straggler.audio
    assert fast.free_slots == 0
    # one copy per chunk: asking again gives nothing
    assert manager.speculate([fast, slow]) == []

    clock.advance(1.0)
    outcome = _finish(manager, fast, copy, "copy", engine_seconds=1.0)
    assert outcome.accepted and outcome.job_completed
    rivals = manager.take_rivals(straggler.chunk_id, [fast, slow])
    assert [(r.lease_id, r.endpoint) for r in rivals] == [(straggler.lease_id, slow.endpoint)]
    assert not slow.leases and slow.free_slots == 1

    # the straggler's late answer is a duplicate: dropped, the text stays the copy's
    late = _finish(manager, slow, straggler, "late", engine_seconds=40.0)
    assert not late.accepted and late.reason is DropReason.DUPLICATE
    assert texts(store, job_id) == ["fast one", "copy"]
    job = store.get_job(job_id)
    assert job.state is JobState.COMPLETED and job.chunk_done == 2
    chunk = store.get_chunk(straggler.chunk_id)
    assert chunk.done_agent_id == "fast" and chunk.failures == 0
    assert sum(e.kind == "chunk_done" for e in store.events(job_id=job_id)) == 2


def test_when_the_original_answers_first_the_copy_is_cancelled_and_its_answer_dropped(store, manager, clock):
    job_id, fast, slow, straggler = _setup(store, manager, clock)
    clock.advance(5.0)
    ((_, copy),) = manager.speculate([fast, slow])

    assert _finish(manager, slow, straggler, "original", engine_seconds=6.0).accepted
    assert slow.speed == pytest.approx(0.7 * 1.0 + 0.3 * 5.0)  # smoothed
    rivals = manager.take_rivals(straggler.chunk_id, [fast, slow])
    assert [(r.lease_id, r.endpoint) for r in rivals] == [(copy.lease_id, fast.endpoint)]
    assert not fast.leases

    late = _finish(manager, fast, copy, "copy", engine_seconds=1.0)
    assert not late.accepted
    assert texts(store, job_id) == ["fast one", "original"]
    assert store.get_job(job_id).chunk_done == 2


def test_no_copy_when_the_idle_agent_would_not_finish_sooner(store, manager, clock):
    _, fast, slow, _straggler = _setup(store, manager, clock)
    slow.speed = 28.0  # measured nearly as fast: its chunk ends in about a second anyway
    clock.advance(0.2)
    assert manager.speculate([fast, slow]) == []
    unmeasured = agent("new", clock=clock)  # an agent of unknown speed never copies
    assert manager.speculate([unmeasured, slow]) == []


def test_no_copy_of_an_agent_whose_speed_is_not_known_yet(store, manager, clock):
    _, fast, slow, _straggler = _setup(store, manager, clock)
    slow.speed = None  # no result from it yet: a stuck agent is the lease deadline's business
    clock.advance(60.0)
    assert manager.speculate([fast, slow]) == []


def test_a_failed_original_takes_its_copy_down_with_it(store, manager, clock):
    _, fast, slow, straggler = _setup(store, manager, clock)
    clock.advance(5.0)
    ((_, copy),) = manager.speculate([fast, slow])
    assert fail(manager, slow, straggler, CRASH)
    rivals = manager.take_rivals(straggler.chunk_id, [fast, slow])
    assert [r.lease_id for r in rivals] == [copy.lease_id]
    assert store.get_chunk(straggler.chunk_id).state is ChunkState.RETRY_WAIT
    # the copy's answer is for an attempt that ended: dropped
    assert not _finish(manager, fast, copy, "copy", engine_seconds=1.0).accepted
    assert store.get_chunk(straggler.chunk_id).state is ChunkState.RETRY_WAIT


def test_a_lost_copy_holder_costs_the_chunk_nothing(store, manager, clock):
    _, fast, slow, straggler = _setup(store, manager, clock)
    clock.advance(5.0)
    manager.speculate([fast, slow])
    assert manager.agent_lost(fast) == 0
    chunk = store.get_chunk(straggler.chunk_id)
    assert chunk.state is ChunkState.LEASED and chunk.lease_id == straggler.lease_id and chunk.failures == 0


# --- real processes ------------------------------------------------------------------------


@pytest.fixture
def procs() -> list[AgentProcess]:
    started: list[AgentProcess] = []
    yield started
    for process in started:
        process.kill()


def test_a_fast_agent_takes_over_the_slow_agents_last_chunk(tmp_path: Path, procs) -> None:
    pcm = write_pcm(tmp_path / "audio.pcm", 60.0)
    store = JobStore(tmp_path / "jobs.db")
    rig = start_coordinator(store, pcm)
    try:
        # 4 s chunks: the fast agent needs 0.1 s each, the slow one 8 s.
        fast = start_agent(tmp_path, "fast", "--fake-speed", "40")
        slow = start_agent(tmp_path, "slow", "--fake-speed", "0.5")
        procs += [fast, slow]
        rig.coordinator.add_agent(slow.endpoint)
        wait_for(lambda: slow.agent_id in rig.ready_agents(), "the slow agent")
        job_id = add_pcm_job(store, pcm, 8)
        rig.coordinator.wake()
        # The slow agent alone finishes one chunk (so its speed is known) and starts another ...
        first = wait_for(lambda: [c for c in store.chunks_of(job_id) if c.state is ChunkState.DONE],
                         "the slow agent's first chunk", timeout=60.0)
        wait_for(lambda: store.leases_of_agent(slow.agent_id), "the slow agent's second chunk")
        # ... then the fast one joins, does the rest, and copies the slow one's last chunk.
        rig.coordinator.add_agent(fast.endpoint)

        wait_for(lambda: store.get_job(job_id).state is JobState.COMPLETED, "the job to complete", timeout=60.0)

        chunks = store.chunks_of(job_id)
        assert first[0].done_agent_id == slow.agent_id
        assert {c.done_agent_id for c in chunks if c.id != first[0].id} == {fast.agent_id}
        assert [c.result().text for c in chunks] == [expected_text(pcm, c) for c in chunks]
        assert all(c.failures == 0 and c.attempt == 1 for c in chunks)
        assert store.get_job(job_id).chunk_done == 8
        assert sum(e.kind == "chunk_done" for e in store.events(job_id=job_id)) == 8
        assert any(kind == "chunk_speculated" for kind, _ in list(rig.events))
        wait_for(lambda: "cancelled" in slow.log(), "the slow agent to be told to drop its copy")
    finally:
        rig.stop()
        store.close()
