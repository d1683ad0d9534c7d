"""Real ``sttdesk-agent`` processes and a scripted coordinator socket, for tests.

:func:`start_agent` runs ``python -m sttdesk.agent.main`` on loopback with a
free port and waits for its "listening on" line; :class:`ScriptedCoordinator`
is a real DEALER socket that speaks the protocol one message at a time, so a
test can play any coordinator, well-behaved or not. Every wait has a deadline.
"""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import zmq

from sttdesk import protocol as wire
from sttdesk.agent.models import fake_model
from sttdesk.security.keys import KeyPair, generate_keypair

REPO_ROOT = Path(__file__).resolve().parents[2]
#: How long an agent may take to print its listening line.
START_TIMEOUT = 30.0
#: Default deadline for one expected message.
REPLY_TIMEOUT = 10.0
#: The fake engine's default model, as WORK must name it.
FAKE_MODEL = fake_model("fake").ref
#: The CURVE key pair scripted coordinators use unless told otherwise; agents trust it unless told not to.
COORDINATOR_KEYS = generate_keypair()
#: Each started agent's public key by endpoint, so a scripted coordinator can find it.
AGENT_KEYS: dict[str, bytes] = {}

M = TypeVar("M")


def pcm(seconds: float, *, value: int = 1000) -> bytes:
    """``seconds`` of a constant 16 kHz s16le signal (distinct values give distinct fake texts)."""
    return value.to_bytes(2, "little", signed=True) * int(seconds * wire.SAMPLE_RATE)


@dataclass
class AgentProcess:
    """A running agent and where its log goes."""

    process: subprocess.Popen[bytes]
    endpoint: str
    agent_id: str
    log_path: Path
    #: The agent's CURVE public key, from its listening line.
    key: bytes = b""

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def wait_for_log(self, text: str, *, timeout: float = REPLY_TIMEOUT, count: int = 1) -> str:
        """Wait until ``text`` appears ``count`` times in the log; returns the log."""
        deadline = time.monotonic() + timeout
        while True:
            content = self.log()
            if content.count(text) >= count:
                return content
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} not logged within {timeout} s; log:\n{content}")
            if self.process.poll() is not None:
                raise AssertionError(f"agent exited ({self.process.returncode}) before logging {text!r}:\n{content}")
            time.sleep(0.05)

    def stop(self, sig: int = signal.SIGTERM, *, timeout: float = 30.0) -> int:
        """Send ``sig`` and wait for the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
        return self.process.wait(timeout)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


def agent_command(*args: str, data_dir: Path) -> list[str]:
    return [
        sys.executable, "-m", "sttdesk.agent.main",
        "--host", "127.0.0.1", "--port", "0", "--data-dir", str(data_dir), *args,
    ]


def start_agent(workdir: Path, *args: str, name: str = "agent", trust: bool = True) -> AgentProcess:
    """Start an agent (``args`` after the loopback/port-0 defaults) and wait until it listens.

    ``trust``: the agent serves :data:`COORDINATOR_KEYS` for this run (``--trust-key``).
    """
    workdir.mkdir(parents=True, exist_ok=True)
    log_path = workdir / f"{name}.log"
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    if trust:
        args = (f"--trust-key={COORDINATOR_KEYS.public.decode()}", *args)  # a key may start with "-"
    with open(log_path, "wb") as log_file:
        process = subprocess.Popen(
            agent_command(*args, data_dir=workdir / f"{name}-data"),
            stdout=subprocess.PIPE, stderr=log_file, cwd=REPO_ROOT, env=env,
        )
    assert process.stdout is not None
    line = b""
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        if selector.select(START_TIMEOUT):
            line = process.stdout.readline()
    text = line.decode().strip()
    if "listening on" not in text:
        process.kill()
        process.wait(10)
        raise AssertionError(f"agent did not start: {text!r}\n{log_path.read_text(errors='replace')}")
    words = text.split()
    assert words[0] == "sttdesk-agent" and words[2:4] == ["listening", "on"] and words[5] == "key", text
    key = words[6].encode()
    AGENT_KEYS[words[4]] = key
    return AgentProcess(process=process, endpoint=words[4], agent_id=words[1], log_path=log_path, key=key)


@dataclass
class ScriptedCoordinator:
    """A CURVE-client DEALER socket connected to one agent, driven step by step by a test."""

    context: zmq.Context
    endpoint: str
    #: This coordinator's key pair, and the agent's public key (default: the one it printed).
    keys: KeyPair = COORDINATOR_KEYS
    server_key: bytes | None = None
    coordinator_id: str = "coordinator-1"
    name: str = "test desk"
    routing_id: bytes | None = None
    #: Send a HEARTBEAT every interval while waiting, as a real coordinator does; a test
    #: playing a coordinator that has gone quiet turns this off.
    heartbeats: bool = True
    #: Every message received, in order, heartbeats included.
    received: list[Any] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.socket = self.context.socket(zmq.DEALER)
        self.socket.setsockopt(zmq.LINGER, 0)
        self.socket.setsockopt(zmq.CURVE_SERVERKEY, self.server_key or AGENT_KEYS[self.endpoint])
        self.socket.setsockopt(zmq.CURVE_PUBLICKEY, self.keys.public)
        self.socket.setsockopt(zmq.CURVE_SECRETKEY, self.keys.secret)
        if self.routing_id is not None:
            self.socket.setsockopt(zmq.ROUTING_ID, self.routing_id)
        self.socket.connect(self.endpoint)
        self._unread: list[Any] = []
        self._last_sent = time.monotonic()

    def close(self) -> None:
        self.socket.close(0)

    def send(self, message: Any) -> None:
        self.send_raw(wire.encode(message))

    def send_raw(self, frames: list[bytes]) -> None:
        self.socket.send_multipart(frames)
        self._last_sent = time.monotonic()

    def _poll(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for a message, heartbeating meanwhile if asked to."""
        deadline = time.monotonic() + timeout
        while True:
            if self.heartbeats and time.monotonic() - self._last_sent >= wire.HEARTBEAT_INTERVAL:
                self.send(wire.Heartbeat(busy=0, slots=0))
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            if self.socket.poll(min(left, wire.HEARTBEAT_INTERVAL / 4) * 1000):
                return True

    def hello(self) -> wire.Ready:
        self.send(wire.Hello(coordinator_id=self.coordinator_id, coordinator_name=self.name,
                             protocol=wire.PROTOCOL_VERSION))
        return self.expect(wire.Ready)

    def work(self, lease_id: str, *, seconds: float = 1.0, value: int = 1000, attempt: int = 1,
             model: wire.ModelRef = FAKE_MODEL, options: dict[str, Any] | None = None,
             deadline: float = 60.0, audio: bytes | None = None, chunk_id: int = 0) -> wire.Work:
        audio = audio if audio is not None else pcm(seconds, value=value)
        message = wire.Work(
            lease_id=lease_id, job_id=f"job-{lease_id}", chunk_id=chunk_id, attempt=attempt,
            model=model, options=options or {}, deadline_seconds=deadline,
            audio_seconds=wire.pcm_seconds(audio), payload=audio,
        )
        self.send(message)
        return message

    def receive(self, timeout: float = REPLY_TIMEOUT) -> Any | None:
        """The next message (heartbeats included), or None after ``timeout`` seconds."""
        if self._unread:
            return self._unread.pop(0)
        if not self._poll(timeout):
            return None
        message = wire.decode(self.socket.recv_multipart())
        self.received.append(message)
        return message

    def expect(self, kind: type[M], *, timeout: float = REPLY_TIMEOUT) -> M:
        """The next message of type ``kind``; other messages stay unread (heartbeats are dropped)."""
        deadline = time.monotonic() + timeout
        skipped: list[Any] = []
        try:
            for index, message in enumerate(self._unread):
                if isinstance(message, kind):
                    del self._unread[index]
                    return message
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no {kind} within {timeout} s; got {skipped}")
                if not self._poll(left):
                    continue
                message = wire.decode(self.socket.recv_multipart())
                self.received.append(message)
                if isinstance(message, kind):
                    return message
                if not isinstance(message, wire.Heartbeat):
                    skipped.append(message)
        finally:
            self._unread.extend(skipped)

    def replies(self, lease_ids: set[str], *, timeout: float = REPLY_TIMEOUT) -> dict[str, Any]:
        """RESULT or FAILURE for each lease in ``lease_ids`` (other messages stay unread)."""
        found: dict[str, Any] = {}
        deadline = time.monotonic() + timeout
        while set(found) != lease_ids:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"missing replies for {sorted(lease_ids - set(found))}")
            message = self.expect(wire.Result | wire.Failure, timeout=left)  # type: ignore[arg-type]
            assert message.lease_id in lease_ids, f"unexpected reply for {message.lease_id}"
            assert message.lease_id not in found, f"second reply for {message.lease_id}"
            found[message.lease_id] = message
        return found
