"""A real ``sttdesk-agent --engine fake`` process behind CURVE: pairing, refusals, revocation, bad handshakes."""

from __future__ import annotations

import os
import random
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import zmq

from sttdesk import protocol as wire
from sttdesk.cluster.pairing import PairingChallengeInfo, pair_with_agent
from sttdesk.domain.errors import SttdeskError
from sttdesk.security.keys import generate_keypair
from sttdesk.security.trust import TrustStore
from tests.agent.harness import REPO_ROOT, AgentProcess, ScriptedCoordinator, start_agent

CODE_RE = re.compile(r"PAIRING CODE (\d{3}-\d{3})")


@pytest.fixture
def context() -> Iterator[zmq.Context]:
    ctx = zmq.Context()
    yield ctx
    ctx.destroy(linger=0)


@pytest.fixture
def agent(tmp_path: Path) -> Iterator[AgentProcess]:
    """An agent that trusts no coordinator, with slow fake chunks."""
    process = start_agent(tmp_path, "--engine", "fake", "--fake-delay", "2", "--slots", "1",
                          name="office-pc", trust=False)
    yield process
    process.kill()


def admin(agent_data: Path, *args: str) -> str:
    """Run ``sttdesk-agent ARGS --data-dir ...`` (an admin command) and return its output."""
    command, *rest = args
    done = subprocess.run([sys.executable, "-m", "sttdesk.agent.main", command, f"--data-dir={agent_data}", *rest],
                          capture_output=True, text=True, timeout=60, cwd=REPO_ROOT)
    assert done.returncode == 0, done.stderr
    return done.stdout


def code_from_log(agent: AgentProcess, count: int = 1) -> str:
    return CODE_RE.findall(agent.wait_for_log("PAIRING CODE", count=count))[-1]


def pair(agent: AgentProcess, keys, trust: TrustStore, codes: list[str] | None = None, *, from_log: bool = True):
    typed: list[str] = []

    def ask(info: PairingChallengeInfo) -> str | None:
        assert info.agent_id == agent.agent_id and info.attempts_left >= 1
        code = codes.pop(0) if codes else code_from_log(agent)
        typed.append(code)
        return code

    outcome = pair_with_agent(agent.endpoint, agent.key, keys=keys, trust=trust, ask_code=ask,
                              coordinator_id="desk-1", coordinator_name="anna@desk")
    return outcome, typed


def test_an_unpaired_coordinator_gets_only_not_paired_then_pairs_with_the_code_and_is_served(
        agent: AgentProcess, context: zmq.Context, tmp_path: Path) -> None:
    keys = generate_keypair()
    stranger = ScriptedCoordinator(context, agent.endpoint, keys=keys)
    try:
        # HELLO and WORK (with audio) from an unknown key: a typed refusal each, nothing else
        stranger.send(wire.Hello(coordinator_id="desk-1", coordinator_name="anna@desk"))
        assert stranger.expect(wire.Error).code == "not_paired"
        stranger.work("L-unpaired")
        assert stranger.expect(wire.Error).code == "not_paired"
        assert stranger.receive(timeout=3.0) is None or not isinstance(stranger.received[-1], wire.Result)
        assert not any(isinstance(m, wire.Ready | wire.Result | wire.Failure) for m in stranger.received)
        log = agent.wait_for_log("refused WORK from unpaired key")
        assert "queued" not in log

        # pairing with the code from the agent's log (and from 'sttdesk-agent pairing')
        trust = TrustStore(tmp_path / "app-keys" / "trusted-agents.json")
        codes_shown: list[str] = []

        def ask(info: PairingChallengeInfo) -> str:
            shown = admin(tmp_path / "office-pc-data", "pairing")
            codes_shown.append(shown)
            return code_from_log(agent)

        outcome = pair_with_agent(agent.endpoint, agent.key, keys=keys, trust=trust, ask_code=ask,
                                  coordinator_id="desk-1", coordinator_name="anna@desk")
        assert outcome.agent_id == agent.agent_id and not outcome.already_paired
        assert code_from_log(agent) in codes_shown[0] and "anna@desk" in codes_shown[0]
        assert trust.is_trusted(agent.key) and trust.get(agent.key).endpoint == agent.endpoint
        assert keys.public.decode() in admin(tmp_path / "office-pc-data", "trusted")
        assert "No pairing code is open" in admin(tmp_path / "office-pc-data", "pairing")

        # now the same key is served
        ready = stranger.hello()
        assert ready.agent_id == agent.agent_id
        stranger.work("L-paired")
        assert isinstance(stranger.replies({"L-paired"}, timeout=30)["L-paired"], wire.Result)

        # asking again needs no code
        again, typed = pair(agent, keys, trust, codes=[])
        assert again.already_paired and typed == []
    finally:
        stranger.close()


def test_a_wrong_code_is_refused_and_the_right_one_still_works(agent: AgentProcess, tmp_path: Path) -> None:
    keys = generate_keypair()
    trust = TrustStore.in_memory()
    answers: list[str] = []

    def ask(info: PairingChallengeInfo) -> str:
        right = code_from_log(agent)
        wrong = f"{(int(right.replace('-', '')) + 1) % 10**6:06d}"
        answers.append(wrong if not answers else right)
        return answers[-1]

    outcome = pair_with_agent(agent.endpoint, agent.key, keys=keys, trust=trust, ask_code=ask,
                              coordinator_id="desk-2", coordinator_name="bao@desk")
    assert len(answers) == 2 and outcome.agent_id == agent.agent_id
    assert "wrong pairing code" in agent.wait_for_log("paired with coordinator")


def test_three_wrong_codes_use_the_code_up(agent: AgentProcess) -> None:
    keys = generate_keypair()
    with pytest.raises(SttdeskError) as caught:
        pair(agent, keys, TrustStore.in_memory(), codes=["000000", "000001", "000002"] * 2)
    assert caught.value.code in ("pairing_code_wrong", "pairing_expired")
    assert not TrustStore.in_memory().is_trusted(keys.public)
    assert "paired with coordinator" not in agent.log()


def test_revoking_a_coordinator_drops_its_work_and_refuses_its_next_message(
        context: zmq.Context, tmp_path: Path) -> None:
    keys = generate_keypair()
    agent = start_agent(tmp_path, "--engine", "fake", "--fake-delay", "20", "--slots", "1",
                        name="office-pc", trust=False)
    admin(tmp_path / "office-pc-data", "trust", "--name=desk", "--", keys.public.decode())
    coordinator = ScriptedCoordinator(context, agent.endpoint, keys=keys)
    try:
        coordinator.hello()
        coordinator.work("L-running")  # 20 s of fake work
        coordinator.work("L-queued")
        # revoke from another process while this coordinator keeps heartbeating
        revoking = threading.Thread(target=admin, args=(tmp_path / "office-pc-data", "revoke", "--",
                                                        keys.public.decode()))
        revoking.start()
        deadline = time.monotonic() + 30
        while (revoking.is_alive() or "was revoked" not in agent.log()) and time.monotonic() < deadline:
            coordinator.receive(timeout=0.2)
        revoking.join(30)
        log = agent.wait_for_log("was revoked")
        assert "1 queued chunk(s) discarded, 1 running chunk(s) will be discarded" in log
        coordinator.send(wire.Heartbeat(busy=0, slots=0))
        assert coordinator.expect(wire.Error).code == "not_paired"
        # neither the running nor the queued chunk's transcript ever comes back
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            coordinator.receive(timeout=0.5)
        assert not any(isinstance(m, wire.Result) for m in coordinator.received)
    finally:
        coordinator.close()
        agent.kill()


def test_wrong_server_key_garbage_and_replayed_handshakes_are_refused_while_a_paired_coordinator_is_served(
        agent: AgentProcess, context: zmq.Context, tmp_path: Path) -> None:
    keys = generate_keypair()
    admin(tmp_path / "office-pc-data", "trust", "--", keys.public.decode())
    trusted = ScriptedCoordinator(context, agent.endpoint, keys=keys)
    host, port = agent.endpoint.removeprefix("tcp://").rsplit(":", 1)
    try:
        trusted.hello()

        # a recorded handshake (and the first message after it), replayed byte for byte
        recorded = _record_client_bytes(context, agent, keys)
        before = agent.wait_for_log("connected", count=2)  # the relayed client was let in, as itself
        failures_before, connections_before = before.count("its CURVE handshake"), before.count("connected")
        with socket.create_connection((host, int(port)), timeout=10) as raw:
            raw.sendall(recorded)
            raw.settimeout(3.0)
            try:
                while raw.recv(65536):
                    pass
            except (TimeoutError, ConnectionError):
                pass
        log = agent.wait_for_log("its CURVE handshake", count=failures_before + 1)
        assert log.count("connected") == connections_before  # the replay got nowhere

        # garbage bytes on the port (ZeroMQ-looking, then plain text, then random): each
        # connection is dropped and logged, the agent goes on
        for junk in (b"\xff" + b"GET / HTTP/1.1\r\n\r\n" * 50, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
                     bytes(random.Random(5).randrange(256) for _ in range(4096))):
            logged = agent.log().count("its CURVE handshake")
            with socket.create_connection((host, int(port)), timeout=10) as raw:
                raw.sendall(junk)
                raw.settimeout(3.0)
                try:
                    while raw.recv(65536):
                        pass
                except (TimeoutError, ConnectionError):
                    pass
            agent.wait_for_log("its CURVE handshake", count=logged + 1)

        # a client that got the agent's key wrong never completes the handshake: no answer at all
        impostor = ScriptedCoordinator(context, agent.endpoint, keys=generate_keypair(),
                                       server_key=generate_keypair().public)
        impostor.send(wire.Hello(coordinator_id="x", coordinator_name="x"))
        assert impostor.receive(timeout=3.0) is None
        impostor.close()

        # and the paired coordinator is served all along
        trusted.work("L-after-attacks")
        assert isinstance(trusted.replies({"L-after-attacks"}, timeout=30)["L-after-attacks"], wire.Result)
        assert agent.process.poll() is None
    finally:
        trusted.close()


def _record_client_bytes(context: zmq.Context, agent: AgentProcess, keys) -> bytes:
    """What a real CURVE client sends through a TCP relay: its handshake and one HELLO."""
    host, port = agent.endpoint.removeprefix("tcp://").rsplit(":", 1)
    listener = socket.create_server(("127.0.0.1", 0))
    relay_port = listener.getsockname()[1]
    recorded = bytearray()
    stop = threading.Event()

    def relay() -> None:
        client, _ = listener.accept()
        upstream = socket.create_connection((host, int(port)))
        for sock in (client, upstream):
            sock.settimeout(0.1)
        while not stop.is_set():
            for source, target, record in ((client, upstream, True), (upstream, client, False)):
                try:
                    data = source.recv(65536)
                except TimeoutError:
                    continue
                except OSError:
                    return
                if data:
                    if record:
                        recorded.extend(data)
                    target.sendall(data)
        client.close()
        upstream.close()

    thread = threading.Thread(target=relay, daemon=True)
    thread.start()
    proxy = ScriptedCoordinator(context, f"tcp://127.0.0.1:{relay_port}", keys=keys, server_key=agent.key)
    try:
        proxy.hello()
    finally:
        proxy.close()
        stop.set()
        thread.join(5)
        listener.close()
    assert len(recorded) > 200
    return bytes(recorded)


def test_the_cli_pairs_by_address_with_the_agents_key_lists_and_revokes_it(agent: AgentProcess) -> None:
    """``sttdesk agents pair HOST:PORT --key K`` asks for the code the agent shows, then both sides
    trust each other; the agent is added by address, listed as trusted, and revoked by its id."""
    from sttdesk.settings import load_settings

    address = agent.endpoint.removeprefix("tcp://")
    command = [sys.executable, "-m", "sttdesk.cli.main", "agents", "pair", address,
               f"--key={agent.key.decode()}", "--browse-seconds", "0"]
    with subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, cwd=REPO_ROOT) as cli:
        assert cli.stdin is not None
        # The prompt comes once the agent opened a code; the user reads it off the agent's log.
        code = code_from_log(agent)
        cli.stdin.write(code + "\n")
        cli.stdin.flush()
        output, _ = cli.communicate(timeout=60)
    assert cli.returncode == 0, output
    assert "are now paired" in output and agent.agent_id in output
    assert load_settings(environ={**os.environ}).network.agents == [address]

    from sttdesk.cli.main import main

    listing = subprocess.run([sys.executable, "-m", "sttdesk.cli.main", "agents", "list", "--browse-seconds", "0"],
                             capture_output=True, text=True, timeout=60, cwd=REPO_ROOT)
    assert listing.returncode == 0, listing.stderr
    assert f"{address}" in listing.stdout and "trusted" in listing.stdout and "paired" in listing.stdout
    assert main(["agents", "revoke", agent.agent_id]) == 0
    assert main(["agents", "revoke", agent.agent_id]) == 1  # nothing left to revoke
