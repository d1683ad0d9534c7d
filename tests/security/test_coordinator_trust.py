"""The coordinator's side of trust, with real agent processes: an agent whose key this
coordinator does not trust never gets a chunk (so no audio), even though it would serve
us; revoking a key in the trust file, as ``sttdesk agents revoke`` does from another
process, takes that agent's chunks back at once and closes its link."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sttdesk.cluster.coordinator import Coordinator
from sttdesk.cluster.leasing import LeaseManager, ModelRef
from sttdesk.domain.jobs import ChunkState, JobState
from sttdesk.security.trust import TRUSTED_AGENTS_FILE, TrustStore
from sttdesk.store import JobStore
from tests.cluster.harness import (
    COORDINATOR_KEYS,
    MODEL,
    AgentProcess,
    add_job,
    pcm_reader,
    start_agent,
    wait_for,
    write_pcm,
)

#: Chunks of the test job: more than the trusted agent's one slot, so some wait in the queue.
CHUNKS = 4


@pytest.fixture
def store(tmp_path: Path) -> Iterator[JobStore]:
    with JobStore(tmp_path / "jobs.db") as opened:
        yield opened


def test_an_untrusted_agent_gets_no_chunk_and_a_revoked_one_hands_its_chunks_back_at_once(
        tmp_path: Path, store: JobStore) -> None:
    pcm = write_pcm(tmp_path / "audio.pcm", CHUNKS * 4.0)
    trust_file = tmp_path / "keys" / TRUSTED_AGENTS_FILE
    trust_file.parent.mkdir(mode=0o700)
    trust = TrustStore(trust_file)
    events: list[tuple[str, dict[str, Any]]] = []
    lock = threading.Lock()

    def on_event(kind: str, data: dict[str, Any]) -> None:
        with lock:
            events.append((kind, data))

    started: list[AgentProcess] = []
    coordinator = None
    try:
        # Both agents trust this coordinator (--trust-key): only the coordinator's list decides.
        paired = start_agent(tmp_path / "agents", "paired", "--fake-delay", "600")
        stranger = start_agent(tmp_path / "agents", "stranger", "--fake-delay", "0.1")
        started += [paired, stranger]
        trust.trust(paired.key, name="paired", peer_id=paired.agent_id, endpoint=paired.endpoint, how="paired")

        leases = LeaseManager(store, read_audio=pcm_reader(pcm),
                              resolve_model=lambda name: {MODEL.name: MODEL}.get(name, ModelRef(name, None)),
                              on_event=on_event)
        coordinator = Coordinator(leases, name="test desk", on_event=on_event, keys=COORDINATOR_KEYS, trust=trust)
        coordinator.start()
        coordinator.add_agent(paired.endpoint, server_key=paired.key)
        coordinator.add_agent(stranger.endpoint, server_key=stranger.key)
        wait_for(lambda: {a.agent_id for a in coordinator.agents() if a.ready} == {paired.agent_id,
                                                                                 stranger.agent_id},
                 "both agents ready")
        status = {a.agent_id: a for a in coordinator.agents()}
        assert status[paired.agent_id].trusted and not status[stranger.agent_id].trusted

        job_id = add_job(store, pcm, CHUNKS)
        coordinator.wake()
        held = wait_for(lambda: [c.id for c in store.chunks_of(job_id, with_results=False)
                                 if c.state is ChunkState.LEASED], "the paired agent holding a chunk")
        chunks = store.chunks_of(job_id, with_results=False)
        assert {c.lease_agent_id for c in chunks if c.state is ChunkState.LEASED} == {paired.agent_id}
        # The stranger is ready with a free slot, yet the rest of the job waits rather than go to it.
        assert sum(c.state is ChunkState.PENDING for c in chunks) == CHUNKS - len(held)

        # Revoked from another process (the CLI writes the same file).
        TrustStore(trust_file).revoke(paired.key)
        wait_for(lambda: not any(c.state is ChunkState.LEASED for c in store.chunks_of(job_id, with_results=False)),
                 "the revoked agent's chunks back in the queue", timeout=10)
        wait_for(lambda: any(k == "agent_revoked" and d["agent_id"] == paired.agent_id for k, d in list(events)),
                 "an agent_revoked event", timeout=10)
        wait_for(lambda: paired.endpoint not in {a.endpoint for a in coordinator.agents()},
                 "the revoked agent's link closed", timeout=10)
        chunks = store.chunks_of(job_id, with_results=False)
        assert all(c.state is ChunkState.PENDING for c in chunks), chunks
        assert store.get_job(job_id).state is not JobState.FAILED
        # Handing back is not a failure: the chunks keep their attempt count for the next agent.
        assert all(c.attempt <= 1 for c in chunks)
        # Nothing ever reached the stranger's engine, and it never got a WORK message.
        assert f"(job {job_id} chunk " not in stranger.log()
        assert f"job {job_id}" not in stranger.log()
    finally:
        if coordinator is not None:
            coordinator.stop()
        for agent in started:
            agent.kill()
