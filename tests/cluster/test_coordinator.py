"""The real Coordinator with real agent processes over loopback ZeroMQ, and a rogue peer.

Agents run the fake engine (its text is a function of the audio, so "the same
text as an undisturbed run" is checkable chunk by chunk). Every wait polls the
store or the coordinator with a deadline; every process is killed (its whole
group) when the test ends, passed or not.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import zmq
from zmq.utils.monitor import recv_monitor_message

from sttdesk import protocol as wire
from sttdesk.domain.jobs import ChunkState, JobState
from sttdesk.domain.transcript import RecognitionResult, Segment
from sttdesk.security.keys import generate_keypair
from sttdesk.store import JobStore

from .harness import (
    MODEL,
    AgentProcess,
    CoordinatorProcess,
    CoordinatorRig,
    add_job,
    expected_text,
    start_agent,
    start_coordinator,
    start_coordinator_process,
    wait_for,
    write_pcm,
)

#: Seconds of test audio: enough for every job here.
AUDIO_SECONDS = 60.0


@pytest.fixture
def store(tmp_path: Path) -> Iterator[JobStore]:
    with JobStore(tmp_path / "jobs.db") as opened:
        yield opened


@pytest.fixture
def pcm(tmp_path: Path) -> Path:
    return write_pcm(tmp_path / "audio.pcm", AUDIO_SECONDS)


@pytest.fixture
def agents(tmp_path: Path) -> Iterator[Callable[..., AgentProcess]]:
    """``agents(name, *args, port=..., slots=...)`` starts a fake agent; all are killed at the end."""
    started: list[AgentProcess] = []

    def start(name: str, *args: str, **kwargs: Any) -> AgentProcess:
        agent = start_agent(tmp_path / "agents", name, *args, **kwargs)
        started.append(agent)
        return agent

    yield start
    for agent in started:
        agent.kill()


@pytest.fixture
def coordinators(store: JobStore, pcm: Path) -> Iterator[Callable[..., CoordinatorRig]]:
    """``coordinators()`` starts a coordinator over the test's store; all are stopped at the end."""
    started: list[CoordinatorRig] = []

    def start(**kwargs: Any) -> CoordinatorRig:
        rig = start_coordinator(store, pcm, **kwargs)
        started.append(rig)
        return rig

    yield start
    for rig in started:
        rig.stop()


def finished(store: JobStore, job_id: str) -> Callable[[], bool]:
    return lambda: store.get_job(job_id).state in (JobState.COMPLETED, JobState.FAILED)


def assert_completed_with_expected_text(store: JobStore, job_id: str, pcm: Path) -> None:
    """COMPLETED, every chunk DONE exactly once, each with the text an undisturbed run gives."""
    job = store.get_job(job_id)
    assert job.state is JobState.COMPLETED, job
    chunks = store.chunks_of(job_id)
    assert len(chunks) == job.chunk_total == job.chunk_done
    for chunk in chunks:
        assert chunk.state is ChunkState.DONE
        assert chunk.result().text == expected_text(pcm, chunk)
    done = Counter(e.chunk_id for e in store.events(job_id=job_id, kinds=["chunk_done"]))
    assert done == Counter({c.id: 1 for c in chunks})


def engine_calls(agents: list[AgentProcess], job_id: str) -> Counter[int]:
    """How many times the agents' engines finished each chunk of ``job_id``, from their logs."""
    calls: Counter[int] = Counter()
    for agent in agents:
        for line in agent.log().splitlines():
            if f"(job {job_id} chunk " in line and ") done:" in line:
                calls[int(line.split(f"(job {job_id} chunk ")[1].split(")")[0])] += 1
    return calls


# --- the happy path ------------------------------------------------------------------------------


def test_a_multi_chunk_job_completes_across_two_agents(store, pcm, agents, coordinators):
    first, second = agents("first", "--fake-delay", "0.3"), agents("second", "--fake-delay", "0.3")
    rig = coordinators()
    rig.coordinator.add_agent(first.endpoint, local=True)
    rig.coordinator.add_agent(second.endpoint, local=True)
    wait_for(lambda: len(rig.ready_agents()) == 2, "both agents READY")

    job_id = add_job(store, pcm, 8)
    rig.coordinator.wake()
    wait_for(finished(store, job_id), "the job to finish")

    assert_completed_with_expected_text(store, job_id, pcm)
    by_agent = Counter(c.done_agent_id for c in store.chunks_of(job_id))
    assert set(by_agent) == {first.agent_id, second.agent_id}
    assert {a.id: a.chunks_done for a in store.list_agents()} == dict(by_agent)
    # credit-based: no agent ever held more chunks than its one slot
    held: Counter[str] = Counter()
    for event in store.events(job_id=job_id, kinds=["chunk_leased", "chunk_done"]):
        held[event.agent_id] += 1 if event.kind == "chunk_leased" else -1
        assert held[event.agent_id] <= 1
    statuses = rig.ready_agents()
    assert statuses[first.agent_id].models == ("base-q8_0", "fake")
    assert statuses[first.agent_id].busy == statuses[second.agent_id].busy == 0


@pytest.mark.parametrize("deleted", [False, True], ids=["cancelled", "cancelled-and-deleted"])
def test_a_cancelled_jobs_lease_is_taken_back_and_frees_the_slot(store, pcm, agents, coordinators, deleted):
    agent = agents("only", "--fake-delay", "2")
    rig = coordinators()
    rig.coordinator.add_agent(agent.endpoint)
    cancelled = add_job(store, pcm, 1)
    rig.coordinator.wake()
    (chunk,) = wait_for(lambda: [c for c in store.chunks_of(cancelled) if c.state is ChunkState.LEASED],
                        "the first job's chunk to be leased")

    # as JobService.cancel / delete do it: the store first, then the coordinator
    assert store.change_job_state(cancelled, JobState.PROCESSING, JobState.CANCELLED)
    if deleted:
        assert store.delete_job(cancelled)
    rig.coordinator.cancel_job(cancelled)
    wait_for(lambda: f"lease {chunk.lease_id} cancelled" in agent.log(), "the agent to drop the lease")
    wait_for(lambda: rig.ready_agents()[agent.agent_id].busy == 0, "the agent's slot to be free again")
    if not deleted:
        back = store.get_chunk(chunk.id)
        assert back.state is ChunkState.PENDING and back.failures == 0

    # the one slot is free again: the next job goes out and completes
    following = add_job(store, pcm, 1)
    rig.coordinator.wake()
    wait_for(finished(store, following), "the next job to finish", timeout=30)
    assert_completed_with_expected_text(store, following, pcm)
    assert rig.coordinator.running


# --- agents dying and coming back -------------------------------------------------------------------


def test_an_agent_killed_mid_chunk_loses_its_lease_and_the_job_completes_on_the_other(
        store, pcm, agents, coordinators):
    victim = agents("victim", "--fake-delay", "600")
    survivor = agents("survivor", "--fake-delay", "0.2")
    rig = coordinators()
    rig.coordinator.add_agent(victim.endpoint, local=True)
    wait_for(lambda: victim.agent_id in rig.ready_agents(), "the victim READY")
    job_id = add_job(store, pcm, 6)
    rig.coordinator.wake()
    (held,) = wait_for(lambda: store.leases_of_agent(victim.agent_id), "a chunk leased to the victim")
    # its one slot starts its engine for the first chunk it runs: it is mid-chunk now
    wait_for(lambda: "starting the engine" in victim.log(), "the victim to start the chunk")
    rig.coordinator.add_agent(survivor.endpoint, local=True)

    victim.kill()
    wait_for(finished(store, job_id), "the job to finish")

    assert_completed_with_expected_text(store, job_id, pcm)
    assert store.get_chunk(held.id).done_agent_id == survivor.agent_id
    history = [(e.kind, e.agent_id, e.data) for e in store.events(chunk_id=held.id)]
    kinds = [kind for kind, _, _ in history]
    assert kinds[:2] == ["chunk_leased", "lease_expired"]
    assert history[0][1] == history[1][1] == victim.agent_id
    assert history[1][2]["reason"] == "agent_lost" and history[1][2]["lease_id"] == held.lease_id
    assert kinds[-2:] == ["chunk_leased", "chunk_done"]
    assert history[-2][1] == survivor.agent_id and history[-2][2]["attempt"] == 2
    assert "chunk_retry_wait" in kinds
    assert store.get_agent(victim.agent_id).crashes == 1
    assert ("agent_lost", {"endpoint": victim.endpoint, "agent_id": victim.agent_id}) in rig.events


def test_an_agent_restarted_on_the_same_port_is_picked_up_again(store, pcm, agents, coordinators):
    before = agents("phoenix", "--fake-delay", "600")
    rig = coordinators()
    rig.coordinator.add_agent(before.endpoint, local=True)
    wait_for(lambda: before.agent_id in rig.ready_agents(), "the agent READY")
    old_session = rig.ready_agents()[before.agent_id].session
    job_id = add_job(store, pcm, 3)
    rig.coordinator.wake()
    (held,) = wait_for(lambda: store.leases_of_agent(before.agent_id), "a chunk leased to the agent")

    before.kill()
    after = agents("phoenix", "--fake-delay", "0.2", port=before.port)
    assert (after.agent_id, after.endpoint) == (before.agent_id, before.endpoint)

    status = wait_for(lambda: (s := rig.ready_agents().get(after.agent_id)) and s.session != old_session and s,
                      "the restarted agent READY with a new session")
    assert status.endpoint == before.endpoint
    wait_for(finished(store, job_id), "the job to finish on the restarted agent")
    assert_completed_with_expected_text(store, job_id, pcm)
    # the lease the old process held expired with it, and went to the new process
    expired = store.events(chunk_id=held.id, kinds=["lease_expired"])
    assert [e.data["lease_id"] for e in expired] == [held.lease_id]
    assert all(e.agent_id == after.agent_id for e in store.events(job_id=job_id, kinds=["chunk_done"]))
    ready = [data for kind, data in rig.events if kind == "agent_ready" and data["agent_id"] == after.agent_id]
    assert ready[0]["session"] == old_session
    assert ready[-1]["session"] == status.session


# --- the coordinator dying and coming back ---------------------------------------------------------


def test_a_coordinator_killed_mid_job_resumes_from_the_table(tmp_path, store, pcm, agents, coordinators):
    pool = [agents("left", "--fake-delay", "0.4"), agents("right", "--fake-delay", "0.4")]
    child: CoordinatorProcess = start_coordinator_process(
        tmp_path, store.path, pcm, [a.endpoint for a in pool])
    try:
        job_id = add_job(store, pcm, 10)

        def midway() -> bool:
            states = Counter(c.state for c in store.chunks_of(job_id, with_results=False))
            return states[ChunkState.DONE] >= 3 and states[ChunkState.LEASED] >= 1

        wait_for(midway, "the job to be midway", every=0.01)
    finally:
        child.kill()
    chunks = store.chunks_of(job_id)
    done_before = {c.id for c in chunks if c.state is ChunkState.DONE}
    leased_before = {c.id for c in chunks if c.state is ChunkState.LEASED}
    assert done_before and leased_before and store.get_job(job_id).state is JobState.PROCESSING
    last_event = store.events(job_id=job_id, limit=100000)[-1].id

    recovered = store.recover_after_restart()
    assert {c.id for c in recovered} == leased_before
    assert all(c.state is ChunkState.PENDING and c.failures == 0 for c in recovered)
    rig = coordinators()
    for agent in pool:
        rig.coordinator.add_agent(agent.endpoint, local=True)
    wait_for(finished(store, job_id), "the job to finish after the restart")

    assert_completed_with_expected_text(store, job_id, pcm)
    after = store.events(job_id=job_id, since_id=last_event, limit=100000)
    assert {e.chunk_id for e in after if e.kind == "lease_recovered"} == leased_before
    releases = {e.chunk_id for e in after if e.kind == "chunk_leased"}
    assert not releases & done_before
    assert releases >= leased_before
    # no finished chunk was transcribed again (the engines' own count)
    calls = engine_calls(pool, job_id)
    assert all(calls[chunk_id] == 1 for chunk_id in done_before), calls
    assert set(calls) == {c.id for c in store.chunks_of(job_id)}


def test_a_stopped_coordinator_hands_its_leases_back_unspent(store, pcm, agents, coordinators):
    slow, fast = agents("slow", "--fake-delay", "600"), agents("fast", "--fake-delay", "0.2")
    rig = coordinators()
    rig.coordinator.add_agent(slow.endpoint, local=True)
    wait_for(lambda: slow.agent_id in rig.ready_agents(), "the slow agent READY")
    job_id = add_job(store, pcm, 4)
    rig.coordinator.wake()
    (held,) = wait_for(lambda: store.leases_of_agent(slow.agent_id), "a chunk leased to the slow agent")
    rig.coordinator.add_agent(fast.endpoint, local=True)
    wait_for(lambda: sum(c.state is ChunkState.DONE for c in store.chunks_of(job_id)) >= 2,
             "two chunks done by the fast agent")

    rig.stop()

    assert not rig.coordinator.running
    chunk = store.get_chunk(held.id)
    assert chunk.state is ChunkState.PENDING and chunk.failures == 0 and chunk.lease_id is None
    assert not any(c.state is ChunkState.LEASED for c in store.chunks_of(job_id))
    assert store.events(chunk_id=held.id, kinds=["chunk_released"])
    done_before = {c.id for c in store.chunks_of(job_id) if c.state is ChunkState.DONE}
    assert store.recover_after_restart() == []

    again = coordinators()
    again.coordinator.add_agent(fast.endpoint, local=True)
    wait_for(finished(store, job_id), "the job to finish with the new coordinator")
    assert_completed_with_expected_text(store, job_id, pcm)
    assert store.get_chunk(held.id).done_agent_id == fast.agent_id
    releases = [e for e in store.events(job_id=job_id, kinds=["chunk_leased"]) if e.chunk_id in done_before]
    assert len(releases) == len(done_before)  # each leased once, before the stop


# --- a rogue peer ------------------------------------------------------------------------------------


class RogueAgent:
    """A ROUTER socket bound by the test, which the coordinator connects to as if it were an agent."""

    def __init__(self, context: zmq.Context) -> None:
        self.socket = context.socket(zmq.ROUTER)
        self.socket.setsockopt(zmq.LINGER, 0)
        # A CURVE server with a key of its own, as an agent; nobody trusts it.
        self.keys = generate_keypair()
        self.socket.setsockopt(zmq.CURVE_SERVER, 1)
        self.socket.setsockopt(zmq.CURVE_SECRETKEY, self.keys.secret)
        # Sending to a peer that is not (yet) connected fails instead of vanishing.
        self.socket.setsockopt(zmq.ROUTER_MANDATORY, 1)
        # As a real agent's socket: a reconnected coordinator takes its old routing id's place.
        self.socket.setsockopt(zmq.ROUTER_HANDOVER, 1)
        self.socket.bind("tcp://127.0.0.1:*")
        self.endpoint = self.socket.getsockopt_string(zmq.LAST_ENDPOINT)
        self.peer: bytes | None = None
        self.received: list[Any] = []
        self.monitor = self.socket.get_monitor_socket(zmq.EVENT_ACCEPTED | zmq.EVENT_DISCONNECTED)

    def close(self) -> None:
        self.socket.disable_monitor()
        self.monitor.close(0)
        self.socket.close(0)

    def wait_event(self, event: int, *, timeout: float = 30.0) -> None:
        """Wait for a connection event (zmq.EVENT_ACCEPTED, zmq.EVENT_DISCONNECTED) on the socket."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not self.monitor.poll(left * 1000):
                raise AssertionError(f"no socket event {event} within {timeout} s")
            if recv_monitor_message(self.monitor)["event"] == event:
                return

    def receive(self, kind: type, *, timeout: float = 30.0) -> Any:
        """The next message of ``kind`` from the coordinator (others are kept in ``received``)."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {kind.__name__} from the coordinator within {timeout} s")
            if not self.socket.poll(left * 1000):
                continue
            peer, *frames = self.socket.recv_multipart()
            self.peer = peer
            message = wire.decode(frames)
            self.received.append(message)
            if isinstance(message, kind):
                return message

    def send_raw(self, *frames: bytes, timeout: float = 30.0) -> None:
        """Send to the coordinator, waiting (bounded) for it to be connected."""
        assert self.peer is not None, "the coordinator has not spoken yet"
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.socket.send_multipart([self.peer, *frames])
                return
            except zmq.ZMQError as exc:
                if exc.errno != zmq.EHOSTUNREACH or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def send(self, message: Any) -> None:
        self.send_raw(*wire.encode(message))


def header(**fields: Any) -> bytes:
    return json.dumps(fields).encode()


def rogue_ready(session: str) -> wire.Ready:
    # It announces a model no job asks for, so it is never sent real audio.
    return wire.Ready(agent_id="rogue", agent_name="rogue", version="0", slots=4, threads=1,
                      models=(wire.ModelInfo(name="tiny-q5_0", sha256="7" * 64, size=1),),
                      cpu="none", host="nowhere", session=session)


def rogue_result(chunk_id: int, lease_id: str, attempt: int = 1) -> wire.Result:
    result = RecognitionResult(segments=(Segment(0.0, 4.0, "forged"),), language="en", audio_seconds=4.0)
    return wire.Result(lease_id=lease_id, job_id="nojob", chunk_id=chunk_id, attempt=attempt, result=result,
                       agent_seconds=0.1, engine_seconds=0.1)


def test_malformed_messages_are_dropped_and_logged_and_the_coordinator_carries_on(
        store, pcm, agents, coordinators, caplog):
    caplog.set_level(logging.INFO, logger="sttdesk")
    context = zmq.Context()
    rogue = RogueAgent(context)
    try:
        rig = coordinators()
        waiting_job = add_job(store, pcm, 2)
        (real_chunk, _) = store.chunks_of(waiting_job)
        rig.coordinator.add_agent(rogue.endpoint, server_key=rogue.keys.public)
        rogue.wait_event(zmq.EVENT_ACCEPTED)
        rogue.receive(wire.Hello)
        # its routing id is a secret of this link, not its (widely told) coordinator id
        assert rogue.peer != rig.coordinator.coordinator_id.encode() and len(rogue.peer) == 16

        valid = wire.encode(rogue_result(1, "x"))[0]
        missing = json.loads(valid)
        del missing["lease_id"]
        bad_messages = {
            "not UTF-8": [b"\xff\xfe\x00garbage"],
            "not JSON": [b"{this is not json"],
            "not a JSON object": [b"[1, 2, 3]"],
            "version": [header(v=wire.PROTOCOL_VERSION + 1, kind="HEARTBEAT", busy=0, slots=1)],
            "unknown kind": [header(v=wire.PROTOCOL_VERSION, kind="SELF_DESTRUCT")],
            "lease_id is missing": [json.dumps(missing).encode()],
            "header of": [header(v=wire.PROTOCOL_VERSION, kind="BYE", reason="x" * (wire.MAX_HEADER_BYTES + 1))],
            "payload of": [header(v=wire.PROTOCOL_VERSION, kind="HEARTBEAT", busy=0, slots=1),
                           bytes(wire.MAX_PAYLOAD_BYTES + 1)],
            "3 frames": [b"{}", b"", b""],
        }
        for frames in bad_messages.values():
            rogue.send_raw(*frames)
        # each is answered with ERROR, naming what was wrong
        codes = Counter(rogue.receive(wire.Error).code for _ in bad_messages)
        assert codes == {"protocol_version": 1, "unknown_message_kind": 1, "message_too_large": 3,
                         "malformed_message": 4}
        warnings = [r.getMessage() for r in caplog.records if r.name == "sttdesk.cluster.coordinator"
                    and r.levelno == logging.WARNING]
        for what in bad_messages:
            assert any("malformed message" in w and what in w for w in warnings), (what, warnings)
        assert rig.coordinator.running

        # a frame far past any limit cuts the connection; the coordinator reconnects and lives on
        rogue.send_raw(header(v=wire.PROTOCOL_VERSION, kind="HEARTBEAT", busy=0, slots=1),
                       bytes(wire.MAX_PAYLOAD_BYTES + wire.MAX_HEADER_BYTES + 4096))
        rogue.wait_event(zmq.EVENT_DISCONNECTED)
        rogue.wait_event(zmq.EVENT_ACCEPTED)
        assert rig.coordinator.running
        rogue.receive(wire.Hello)  # the fresh socket has a fresh routing id

        # replies about work from a peer that never said READY are not trusted
        rogue.send(rogue_result(real_chunk.id, "forged"))
        rogue.send(rogue_ready("first"))
        wait_for(lambda: "rogue" in rig.ready_agents(), "the rogue READY after the garbage")
        warnings = [r.getMessage() for r in caplog.records if r.name == "sttdesk.cluster.coordinator"]
        assert any("RESULT from agent" in w and "has not said READY" in w for w in warnings), warnings
        assert store.events(kinds=["reply_dropped"]) == []

        # well-formed replies for leases it never had: logged in the store as dropped, nothing changes
        rogue.send(rogue_result(real_chunk.id, "forged"))
        rogue.send(rogue_result(10**9, "made-up"))
        rogue.send(wire.Failure(lease_id="forged", job_id="nojob", chunk_id=real_chunk.id, attempt=1,
                                error=wire.ErrorInfo(code="engine_crashed", transient=True, detail="",
                                                     message_en="x", message_vi="x")))
        rogue.send(wire.Released(lease_ids=("forged",)))
        dropped = wait_for(lambda: len(store.events(kinds=["reply_dropped"])) >= 3 and
                           store.events(kinds=["reply_dropped"]), "three dropped replies")
        assert sorted(e.data["reason"] for e in dropped) == ["lease_mismatch", "stale failure", "unknown_chunk"]
        chunk = store.get_chunk(real_chunk.id)
        assert chunk.state is ChunkState.PENDING and chunk.attempt == 0 and chunk.failures == 0

        # and a real agent still gets the job done; the rogue, without the model, got no work
        real = agents("real", "--fake-delay", "0.1")
        rig.coordinator.add_agent(real.endpoint, local=True)
        wait_for(finished(store, waiting_job), "the job to finish on the real agent")
        assert_completed_with_expected_text(store, waiting_job, pcm)
        assert not any(isinstance(m, wire.Work) for m in rogue.received)
        assert rig.coordinator.running
    finally:
        rogue.close()
        context.destroy(linger=0)


def test_a_flood_of_garbage_is_summarised_not_logged_line_by_line(store, pcm, coordinators, caplog):
    caplog.set_level(logging.WARNING, logger="sttdesk.cluster.coordinator")
    context = zmq.Context()
    rogue = RogueAgent(context)
    try:
        rig = coordinators()
        rig.coordinator.add_agent(rogue.endpoint, server_key=rogue.keys.public)
        rogue.receive(wire.Hello)
        for _ in range(500):
            rogue.send_raw(b"garbage")
        rogue.send(rogue_ready("flood"))
        wait_for(lambda: "rogue" in rig.ready_agents(), "the rogue READY after the flood")

        malformed = [r for r in caplog.records if "malformed message" in r.getMessage()]
        assert 1 <= len(malformed) <= 20
        assert sum(isinstance(m, wire.Error) for m in rogue.received) <= 20
        assert rig.coordinator.running
    finally:
        rogue.close()
        context.destroy(linger=0)


def test_a_job_for_a_model_no_agent_has_waits_and_others_go_ahead(store, pcm, agents, coordinators):
    agent = agents("plain", "--fake-delay", "0.1")
    rig = coordinators()
    rig.coordinator.add_agent(agent.endpoint)
    waiting = add_job(store, pcm, 3, model="large-v3")
    runnable = add_job(store, pcm, 2)
    rig.coordinator.wake()

    wait_for(finished(store, runnable), "the runnable job to finish")

    assert_completed_with_expected_text(store, runnable, pcm)
    assert {c.state for c in store.chunks_of(waiting)} == {ChunkState.PENDING}
    assert store.get_job(waiting).state is JobState.PENDING
    assert rig.ready_agents()[agent.agent_id].models == (MODEL.name, "fake")


def test_work_goes_on_at_once_after_the_coordinator_stalled_past_the_agents_patience(
        store, pcm, agents, coordinators, caplog):
    caplog.set_level(logging.WARNING, logger="sttdesk.cluster.coordinator")
    pool = [agents("patient-1", "--fake-delay", "5"), agents("patient-2", "--fake-delay", "5")]
    rig = coordinators()
    for agent in pool:
        rig.coordinator.add_agent(agent.endpoint, local=True)
    job_id = add_job(store, pcm, 4)
    rig.coordinator.wake()
    held = [wait_for(lambda agent=agent: store.leases_of_agent(agent.agent_id), f"a chunk leased to {agent.agent_id}")[0]
            for agent in pool]

    # Another process holds the database's write lock: the coordinator's thread blocks on
    # its next write, says nothing for longer than the agents wait, and they drop it with
    # the chunks they are running.
    blocker = sqlite3.connect(store.path, isolation_level=None)
    try:
        blocker.execute("BEGIN IMMEDIATE")
        for agent in pool:
            wait_for(lambda agent=agent: "dropped (silent" in agent.log(), f"{agent.agent_id} to drop the coordinator")
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()

    # That work died with the coordinator's entry on their side: the coordinator must hand
    # it out again at once, not wait for the lease deadline (two minutes here).
    wait_for(finished(store, job_id), "the job to finish after the stall", timeout=45)
    assert_completed_with_expected_text(store, job_id, pcm)
    assert rig.coordinator.running
    # the agents were not lost (their heartbeats waited unread): the leases came back unspent
    assert {c.id for c in held} <= {e.chunk_id for e in store.events(job_id=job_id, kinds=["chunk_released"])}
    assert all(c.failures == 0 for c in store.chunks_of(job_id))
    assert any("forgot this coordinator" in r.getMessage() for r in caplog.records)


def test_an_agent_back_after_an_outage_answers_one_or_two_hellos_not_a_queue_of_them(
        store, pcm, agents, coordinators):
    """HELLOs said to an agent that is down must not pile up and come back as a burst of READYs."""
    before = agents("sleeper")
    rig = coordinators()
    rig.coordinator.add_agent(before.endpoint, local=True)
    wait_for(lambda: before.agent_id in rig.ready_agents(), "the agent READY")
    before.kill()
    wait_for(lambda: any(kind == "agent_lost" for kind, _ in rig.events), "the agent lost", timeout=60)
    # Several HELLO periods (3 s each) pass while nobody listens.
    time.sleep(5 * wire.HEARTBEAT_INTERVAL * wire.HEARTBEAT_LIVENESS)
    seen = len(rig.events)
    after = agents("sleeper", port=before.port)
    wait_for(lambda: after.agent_id in rig.ready_agents(), "the agent READY again", timeout=60)
    time.sleep(2 * wire.HEARTBEAT_INTERVAL * wire.HEARTBEAT_LIVENESS)  # any queued HELLO would be answered by now
    ready_again = [data for kind, data in rig.events[seen:] if kind == "agent_ready"]
    assert 1 <= len(ready_again) <= 2, ready_again
