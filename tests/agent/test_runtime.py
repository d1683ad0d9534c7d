"""The agent end to end: real ``sttdesk-agent`` processes, real sockets, a scripted coordinator.

The agents run the fake engine (``--engine fake``) except in the last test,
which runs the real whisper model.
"""

from __future__ import annotations

import hashlib
import json
import signal
import socket
import wave
from collections.abc import Callable
from pathlib import Path

import pytest

from sttdesk import protocol as wire
from sttdesk.agent.engines import fake_text
from sttdesk.agent.models import fake_model

from .harness import FAKE_MODEL, AgentProcess, ScriptedCoordinator, pcm

AgentFactory = Callable[..., AgentProcess]
CoordinatorFactory = Callable[..., ScriptedCoordinator]


def test_hello_is_answered_with_what_the_agent_is(agent_factory: AgentFactory,
                                                   coordinator_factory: CoordinatorFactory,
                                                   tmp_path: Path) -> None:
    agent = agent_factory("--engine", "fake", "--slots", "3", "--threads", "2", "--name", "spare-pc",
                          "--fake-model", "base-q8_0:" + "ab" * 32)
    ready = coordinator_factory(agent.endpoint).hello()
    assert ready.agent_id == agent.agent_id
    assert (ready.agent_name, ready.slots, ready.threads) == ("spare-pc", 3, 2)
    assert ready.protocol == wire.PROTOCOL_VERSION
    assert {m.name: m.sha256 for m in ready.models} == {"fake": FAKE_MODEL.sha256, "base-q8_0": "ab" * 32}
    assert ready.session and ready.cpu and ready.host
    # The id lasts: it is kept in the agent's data folder.
    assert (tmp_path / "agent-data" / "agent-id").read_text().strip() == agent.agent_id


def test_work_is_answered_with_a_result_carrying_its_ids(agent_factory: AgentFactory,
                                                         coordinator_factory: CoordinatorFactory) -> None:
    agent = agent_factory("--engine", "fake")
    coordinator = coordinator_factory(agent.endpoint)
    coordinator.hello()
    work = coordinator.work("lease-7", seconds=2.5, value=1234, attempt=3, options={"language": "vi"},
                            chunk_id=4711)
    result = coordinator.expect(wire.Result)
    assert (result.lease_id, result.job_id, result.chunk_id, result.attempt) == (
        "lease-7", work.job_id, 4711, 3)
    assert result.result.text == fake_text(work.payload)
    assert result.result.language == "vi"
    assert result.result.audio_seconds == pytest.approx(2.5)
    assert 0 <= result.engine_seconds <= result.agent_seconds


def test_more_work_than_slots_is_queued_and_all_of_it_completes(agent_factory: AgentFactory,
                                                               coordinator_factory: CoordinatorFactory) -> None:
    agent = agent_factory("--engine", "fake", "--slots", "2", "--fake-delay", "1.0")
    coordinator = coordinator_factory(agent.endpoint)
    coordinator.hello()
    leases = {f"L{i}" for i in range(5)}
    sent = {lease: coordinator.work(lease, value=100 + i) for i, lease in enumerate(sorted(leases))}
    replies = coordinator.replies(leases, timeout=30)
    assert all(isinstance(r, wire.Result) for r in replies.values())
    assert {lease: r.result.text for lease, r in replies.items()} == {
        lease: fake_text(w.payload) for lease, w in sent.items()
    }
    # Three waves of one second: the agent reported its load at least once meanwhile,
    # and never more chunks running than it has slots.
    busy = [m.busy for m in coordinator.received if isinstance(m, wire.Heartbeat)]
    assert busy and max(busy) == 2
    assert all(m.slots == 2 for m in coordinator.received if isinstance(m, wire.Heartbeat))


def test_two_coordinators_share_the_slots_fairly(agent_factory: AgentFactory,
                                                 coordinator_factory: CoordinatorFactory) -> None:
    agent = agent_factory("--engine", "fake", "--slots", "1", "--fake-delay", "0.4")
    first = coordinator_factory(agent.endpoint, coordinator_id="desk-a")
    second = coordinator_factory(agent.endpoint, coordinator_id="desk-b")
    first.hello()
    second.hello()
    for i in range(6):
        first.work(f"A{i}")
    for i in range(2):
        second.work(f"B{i}")
    # Record the order results arrive in, across both sockets.
    order: list[str] = []
    while len(order) < 8:
        for coordinator in (first, second):
            message = coordinator.receive(timeout=0.05)
            if isinstance(message, wire.Result):
                order.append(message.lease_id)
        assert len(coordinator.received) < 500, f"results missing: got {order}"
    assert sorted(order) == sorted([f"A{i}" for i in range(6)] + ["B0", "B1"])
    # First come first served would run all six of A's chunks before B's; fair sharing
    # alternates once B has work, so both of B's finish before A's fourth.
    assert order.index("B1") < order.index("A3"), order


def test_malformed_messages_are_rejected_logged_and_answered_and_the_agent_keeps_serving(
    agent_factory: AgentFactory, coordinator_factory: CoordinatorFactory
) -> None:
    agent = agent_factory("--engine", "fake")
    coordinator = coordinator_factory(agent.endpoint)
    coordinator.hello()
    good = json.loads(wire.encode(wire.Cancel(lease_id="x"))[0])
    work_header = json.loads(wire.encode(coordinator.work("warm-up"))[0])
    coordinator.expect(wire.Result)
    cases = {
        "malformed_message": [
            [b"\xff\x00 garbage"],
            [b"not json at all"],
            [json.dumps({k: v for k, v in work_header.items() if k != "lease_id"}).encode(), pcm(0.5)],
            [json.dumps({**work_header, "attempt": -1}).encode(), pcm(0.5)],
            [json.dumps(work_header).encode()],  # WORK without its audio
            [b""],
        ],
        "protocol_version": [[json.dumps({**good, "v": wire.PROTOCOL_VERSION + 1}).encode()]],
        "message_too_large": [
            [json.dumps({**good, "lease_id": "x" * (wire.MAX_HEADER_BYTES + 1)}).encode()],
            [json.dumps(work_header).encode(), b"\0" * (wire.MAX_PAYLOAD_BYTES + 2)],
            [json.dumps(good).encode(), b"", b""],
        ],
        "unknown_message_kind": [[json.dumps({**good, "kind": "SELF_DESTRUCT"}).encode()]],
        "unexpected_message": [wire.encode(wire.Released(lease_ids=("x",)))],
    }
    for code, frame_lists in cases.items():
        for frames in frame_lists:
            coordinator.send_raw(frames)
            error = coordinator.expect(wire.Error)
            assert error.code == code, (frames[:1], error)
    log = agent.wait_for_log("rejected", count=12)
    for code in ("malformed_message", "protocol_version", "message_too_large", "unknown_message_kind"):
        assert f"[{code}]" in log
    # Still serving, on the same connection.
    coordinator.work("after-garbage")
    assert coordinator.expect(wire.Result).lease_id == "after-garbage"


def test_garbage_below_the_protocol_does_not_hurt_the_agent(agent_factory: AgentFactory,
                                                           coordinator_factory: CoordinatorFactory) -> None:
    agent = agent_factory("--engine", "fake")
    host, port = agent.endpoint.removeprefix("tcp://").rsplit(":", 1)
    # Not ZeroMQ at all: random bytes on the TCP port.
    with socket.create_connection((host, int(port)), timeout=5) as raw:
        raw.sendall(bytes(range(256)) * 64)
    # A peer that never said HELLO sending garbage gets an ERROR too.
    stranger = coordinator_factory(agent.endpoint, coordinator_id="stranger")
    stranger.send_raw([b"\x00\x01\x02"])
    assert stranger.expect(wire.Error).code == "malformed_message"
    # A frame far over any limit cuts that peer off at the socket, before it fills memory.
    flooder = coordinator_factory(agent.endpoint, coordinator_id="flooder")
    flooder.send_raw([b"{}", b"\0" * (wire.MAX_PAYLOAD_BYTES + wire.MAX_HEADER_BYTES + 1024)])
    coordinator = coordinator_factory(agent.endpoint)
    coordinator.hello()
    coordinator.work("still-fine")
    assert coordinator.expect(wire.Result).lease_id == "still-fine"
    assert agent.process.poll() is None


def test_a_flood_of_garbage_is_answered_but_not_logged_line_by_line(
    agent_factory: AgentFactory, coordinator_factory: CoordinatorFactory
) -> None:
    agent = agent_factory("--engine", "fake")
    coordinator = coordinator_factory(agent.endpoint)
    coordinator.hello()
    for i in range(60):
        coordinator.send_raw([b"garbage %d" % i])
    for _ in range(60):
        assert coordinator.expect(wire.Error).code == "malformed_message"
    coordinator.work("after-flood")
    assert coordinator.expect(wire.Result).lease_id == "after-flood"
    assert agent.log().count("rejected a message") == 20  # the rest are counted, not printed


def test_a_silent_coordinator_is_dropped_with_its_work(agent_factory: AgentFactory,
                                                      coordinator_factory: CoordinatorFactory) -> None:
    agent = agent_factory("--engine", "fake", "--slots", "1", "--fake-delay", "6", "--grace", "0")
    coordinator = coordinator_factory(agent.endpoint, coordinator_id="goes-quiet", heartbeats=False)
    coordinator.hello()
    for lease in ("Q0", "Q1", "Q2"):
        coordinator.work(lease)
    # The test socket sends no heartbeats: after three missed intervals the agent gives up on it.
    log = agent.wait_for_log("dropped (silent for", timeout=15)
    assert "2 queued chunk(s) discarded, 1 running chunk(s) will be discarded" in log
    agent.wait_for_log("result of lease Q0 dropped", timeout=15)
    assert not any(isinstance(m, wire.Result | wire.Failure) for m in coordinator.received)
    # Speaking up again, it is a stranger: the agent announces itself anew.
    coordinator.send(wire.Heartbeat(busy=0, slots=0))
    assert coordinator.expect(wire.Ready).agent_id == agent.agent_id


def test_a_reconnecting_coordinator_gets_the_results_of_its_earlier_connection(
    agent_factory: AgentFactory, coordinator_factory: CoordinatorFactory
) -> None:
    agent = agent_factory("--engine", "fake", "--slots", "1", "--fake-delay", "1.0", "--log-level", "debug")
    before = coordinator_factory(agent.endpoint, coordinator_id="desk-c")
    before.hello()
    before.work("R0")
    before.work("R1")
    agent.wait_for_log("lease R1 (job job-R1 chunk 0 attempt 1) queued")
    before.close()
    after = coordinator_factory(agent.endpoint, coordinator_id="desk-c")
    after.hello()
    replies = after.replies({"R0", "R1"}, timeout=15)
    assert all(isinstance(r, wire.Result) for r in replies.values())
    assert "desk-c" in agent.wait_for_log("reconnected")


def test_cancelled_work_is_not_answered(agent_factory: AgentFactory,
                                        coordinator_factory: CoordinatorFactory) -> None:
    agent = agent_factory("--engine", "fake", "--slots", "1", "--fake-delay", "0.8")
    coordinator = coordinator_factory(agent.endpoint)
    coordinator.hello()
    for lease in ("C0", "C1", "C2"):
        coordinator.work(lease)
    agent.wait_for_log("slot 0: starting the engine")
    coordinator.send(wire.Cancel(lease_id="C0"))  # running
    coordinator.send(wire.Cancel(lease_id="C1"))  # queued
    # C2 runs after C0 ends; had C0 or C1 been answered, their replies would come first.
    reply = coordinator.expect(wire.Result | wire.Failure, timeout=15)  # type: ignore[arg-type]
    assert reply.lease_id == "C2"
    log = agent.wait_for_log("result of lease C0 dropped: it was cancelled")
    assert "lease C1 cancelled" in log


def test_failures_are_reported_with_their_error_and_the_agent_recovers(
    agent_factory: AgentFactory, coordinator_factory: CoordinatorFactory
) -> None:
    agent = agent_factory("--engine", "fake")
    coordinator = coordinator_factory(agent.endpoint)
    coordinator.hello()
    coordinator.work("crash", options={"fake": {"fail": "engine_crashed"}})
    crashed = coordinator.expect(wire.Failure)
    assert (crashed.lease_id, crashed.error.code, crashed.error.transient) == ("crash", "engine_crashed", True)
    assert crashed.error.message_vi and crashed.error.message_vi != crashed.error.message_en
    missing = wire.ModelRef(name="large-v3", sha256=hashlib.sha256(b"other").hexdigest())
    coordinator.work("no-model", model=missing)
    unavailable = coordinator.expect(wire.Failure)
    assert (unavailable.error.code, unavailable.error.transient) == ("model_unavailable", False)
    assert "large-v3" in unavailable.error.message_en
    # Same name, other file: not the model the coordinator meant either.
    coordinator.work("wrong-hash", model=wire.ModelRef(name="fake", sha256=missing.sha256))
    assert coordinator.expect(wire.Failure).error.code == "model_unavailable"
    coordinator.work("fine")
    assert coordinator.expect(wire.Result).lease_id == "fine"
    assert "failed" in agent.log()


def test_a_failing_engine_fails_only_as_often_as_told(agent_factory: AgentFactory,
                                                      coordinator_factory: CoordinatorFactory) -> None:
    agent = agent_factory("--engine", "fake", "--fake-fail", "engine_oom", "--fake-fail-count", "2")
    coordinator = coordinator_factory(agent.endpoint)
    coordinator.hello()
    codes = []
    for i in range(3):
        coordinator.work(f"F{i}")
        reply = coordinator.expect(wire.Result | wire.Failure)  # type: ignore[arg-type]
        codes.append(reply.error.code if isinstance(reply, wire.Failure) else "ok")
    assert codes == ["engine_oom", "engine_oom", "ok"]


def test_sigterm_finishes_running_work_hands_back_the_rest_and_exits_0(
    agent_factory: AgentFactory, coordinator_factory: CoordinatorFactory
) -> None:
    agent = agent_factory("--engine", "fake", "--slots", "1", "--fake-delay", "1.5")
    coordinator = coordinator_factory(agent.endpoint)
    coordinator.hello()
    for lease in ("S0", "S1", "S2"):
        coordinator.work(lease)
    agent.wait_for_log("slot 0: starting the engine")
    agent.process.send_signal(signal.SIGTERM)
    released = coordinator.expect(wire.Released)
    assert set(released.lease_ids) == {"S1", "S2"}
    # While it drains it takes no new work: that comes straight back.
    coordinator.work("late")
    assert coordinator.expect(wire.Released).lease_ids == ("late",)
    assert coordinator.expect(wire.Result).lease_id == "S0"
    assert coordinator.expect(wire.Bye).reason
    assert agent.process.wait(15) == 0
    assert "received SIGTERM" in agent.log()


def test_after_the_grace_period_running_work_is_handed_back(agent_factory: AgentFactory,
                                                            coordinator_factory: CoordinatorFactory) -> None:
    agent = agent_factory("--engine", "fake", "--slots", "2", "--fake-delay", "60", "--grace", "0.5")
    coordinator = coordinator_factory(agent.endpoint)
    coordinator.hello()
    coordinator.work("G0")
    coordinator.work("G1")
    agent.wait_for_log("starting the engine", count=2)
    assert agent.stop(signal.SIGINT, timeout=15) == 0
    released = coordinator.expect(wire.Released)
    assert set(released.lease_ids) == {"G0", "G1"}
    coordinator.expect(wire.Bye)
    assert not any(isinstance(m, wire.Result | wire.Failure) for m in coordinator.received)
    assert "grace period over: 2 running chunk(s) handed back" in agent.log()


def test_a_taken_port_is_a_clear_error(agent_factory: AgentFactory, tmp_path: Path) -> None:
    import subprocess
    import sys

    from .harness import REPO_ROOT

    first = agent_factory("--engine", "fake")
    port = first.endpoint.rsplit(":", 1)[1]
    result = subprocess.run(
        [sys.executable, "-m", "sttdesk.agent.main", "--engine", "fake", "--host", "127.0.0.1",
         "--port", port, "--data-dir", str(tmp_path / "second")],
        check=False, capture_output=True, text=True, cwd=REPO_ROOT, timeout=60,
    )
    assert result.returncode == 1
    assert "Cannot listen on tcp://127.0.0.1:" + port in result.stderr
    assert "listening on" not in result.stdout


# --- the real engine ------------------------------------------------------------------

try:  # the real-model fixture lives with the engine's tests
    from tests.engine.conftest import base_q8_model
except ImportError:
    base_q8_model = None  # type: ignore[assignment]


@pytest.mark.model
@pytest.mark.slow
def test_the_real_engine_transcribes_jfk(request: pytest.FixtureRequest, agent_factory: AgentFactory,
                                         coordinator_factory: CoordinatorFactory, en_audio: Path) -> None:
    if base_q8_model is None:
        pytest.skip("the base_q8_model fixture (tests/engine/conftest.py) is not there yet")
    try:
        import sttdesk.engine.process  # noqa: F401
    except ImportError:
        pytest.skip("the engine child process (sttdesk.engine.process) is not there yet")
    model = request.getfixturevalue("base_q8_model")
    agent = agent_factory("--slots", "1", "--threads", "2", "--models-dir", str(Path(model.path).parent))
    coordinator = coordinator_factory(agent.endpoint)
    ready = coordinator.hello()
    assert model.sha256 in {m.sha256 for m in ready.models}
    with wave.open(str(en_audio / "jfk.wav")) as recording:
        assert (recording.getframerate(), recording.getnchannels(), recording.getsampwidth()) == (16000, 1, 2)
        audio = recording.readframes(recording.getnframes())  # already 16 kHz mono s16le PCM
    coordinator.work("jfk", audio=audio, options={"language": "en"}, deadline=300,
                     model=wire.ModelRef(name=model.name, sha256=model.sha256))
    result = coordinator.expect(wire.Result, timeout=300)
    text = result.result.text.lower()
    for phrase in ("ask not what your country can do for you", "what you can do for your country"):
        assert phrase in text.replace(",", ""), text
    assert result.result.segments[0].words, "words with times"


def test_fake_model_reference_is_stable() -> None:
    # Coordinator tests name the fake engine's model by this hash: it must not drift.
    assert fake_model("fake").sha256 == hashlib.sha256(b"sttdesk fake model fake").hexdigest()
