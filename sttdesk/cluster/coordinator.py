"""The coordinator: one thread that owns every ZeroMQ socket to the agents.

Other threads never touch a socket: they call the public methods, which put a
command on a queue and wake the owner thread through an inproc pipe (the
ZeroMQ Guide's habit). The owner thread connects one DEALER socket per agent,
says HELLO until the agent answers READY, keeps heartbeats going both ways,
hands chunks out through the :class:`LeaseManager` whenever an agent has a
free slot, and settles every RESULT, FAILURE and silence it sees.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import zmq

from .. import protocol as wire
from ..protocol import HEARTBEAT_INTERVAL, ProtocolError
from .agents import AgentLink
from .leasing import AttemptError, LeaseManager, WorkOrder

log = logging.getLogger(__name__)

#: Longest the owner thread sleeps when nothing happens (seconds).
IDLE_POLL_SECONDS = 0.25


@dataclass(frozen=True, slots=True)
class AgentStatus:
    """A snapshot of one agent link, for front ends."""

    endpoint: str
    agent_id: str | None
    name: str
    local: bool
    ready: bool
    slots: int
    busy: int
    threads: int
    models: tuple[str, ...]
    last_seen: float | None


def make_coordinator_socket(ctx: zmq.Context, endpoint: str) -> zmq.Socket:
    """A DEALER socket connected to one agent (the one place sockets are configured)."""
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.RECONNECT_IVL, int(wire.RECONNECT_INTERVAL * 1000))
    sock.setsockopt(zmq.RECONNECT_IVL_MAX, int(wire.RECONNECT_INTERVAL_MAX * 1000))
    sock.setsockopt(zmq.SNDHWM, 1000)
    sock.setsockopt(zmq.MAXMSGSIZE, wire.MAX_HEADER_BYTES + wire.MAX_PAYLOAD_BYTES + 1024)
    sock.connect(endpoint)
    return sock


class Coordinator:
    """Spreads chunks over agents; thread-safe facade over one socket-owning thread."""

    def __init__(
        self,
        leases: LeaseManager,
        *,
        coordinator_id: str | None = None,
        name: str = "sttdesk",
        clock: Callable[[], float] = time.time,
        on_event: Callable[[str, dict[str, Any]], None] | None = None,
        context: zmq.Context | None = None,
    ) -> None:
        self.coordinator_id = coordinator_id or uuid.uuid4().hex[:12]
        self.name = name
        self._leases = leases
        self._clock = clock
        self._on_event = on_event or (lambda kind, data: None)
        self._ctx = context or zmq.Context.instance()
        self._commands: queue.Queue[tuple[str, tuple[Any, ...]]] = queue.Queue()
        self._wake_address = f"inproc://coordinator-wake-{self.coordinator_id}-{id(self)}"
        self._wake_lock = threading.Lock()
        self._wake_sender: zmq.Socket | None = None
        self._thread: threading.Thread | None = None
        self._running = threading.Event()
        self._links: dict[str, AgentLink] = {}
        self._sockets: dict[str, zmq.Socket] = {}
        self._status_lock = threading.Lock()
        self._status: list[AgentStatus] = []

    # --- public, thread-safe -------------------------------------------------

    def start(self) -> None:
        """Start the owner thread; returns once it listens for commands."""
        if self._thread is not None:
            return
        ready = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(ready,), name="coordinator", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("coordinator thread did not start")

    def stop(self, timeout: float = 5.0) -> None:
        """Say BYE to every agent, close the sockets and end the owner thread."""
        if self._thread is None:
            return
        self._post("stop")
        self._thread.join(timeout)
        self._thread = None
        with self._wake_lock:
            if self._wake_sender is not None:
                self._wake_sender.close(0)
                self._wake_sender = None

    def add_agent(self, endpoint: str, *, local: bool = False) -> None:
        """Connect to an agent at ``endpoint`` (e.g. ``tcp://127.0.0.1:7878``)."""
        self._post("add", endpoint, local)

    def remove_agent(self, endpoint: str) -> None:
        """Disconnect from an agent; its leases go back to the queue."""
        self._post("remove", endpoint)

    def wake(self) -> None:
        """Something changed in the store (new chunks, a retry woke up): dispatch now."""
        self._post("dispatch")

    def sweep(self) -> None:
        """Settle leases past their deadline (called by the timer service)."""
        self._post("sweep")

    def cancel_job(self, job_id: str) -> None:
        """Tell agents to drop the leases of a cancelled or paused job."""
        self._post("cancel_job", job_id)

    def agents(self) -> list[AgentStatus]:
        """A snapshot of every agent link (updated by the owner thread)."""
        with self._status_lock:
            return list(self._status)

    # --- owner thread --------------------------------------------------------

    def _post(self, command: str, *args: Any) -> None:
        self._commands.put((command, args))
        with self._wake_lock:
            if self._thread is None and command != "stop":
                return  # not started: the command waits in the queue
            if self._wake_sender is None:
                self._wake_sender = self._ctx.socket(zmq.PUSH)
                self._wake_sender.setsockopt(zmq.LINGER, 0)
                self._wake_sender.connect(self._wake_address)
            try:
                self._wake_sender.send(b"", zmq.NOBLOCK)
            except zmq.Again:
                pass  # the owner is already awake with a full pipe

    def _run(self, ready: threading.Event) -> None:
        wake = self._ctx.socket(zmq.PULL)
        wake.setsockopt(zmq.LINGER, 0)
        wake.bind(self._wake_address)
        poller = zmq.Poller()
        poller.register(wake, zmq.POLLIN)
        self._poller = poller
        self._running.set()
        ready.set()
        next_beat = self._clock()
        try:
            while self._running.is_set():
                timeout = max(0.0, min(IDLE_POLL_SECONDS, next_beat - self._clock()))
                events = dict(poller.poll(timeout * 1000))
                if wake in events:
                    while True:
                        try:
                            wake.recv(zmq.NOBLOCK)
                        except zmq.Again:
                            break
                self._drain_commands()
                for endpoint, sock in list(self._sockets.items()):
                    if sock in events:
                        self._read_agent(endpoint, sock)
                now = self._clock()
                if now >= next_beat:
                    self._heartbeat(now)
                    next_beat = now + HEARTBEAT_INTERVAL
                self._dispatch()
                self._publish_status()
        except Exception:  # the loop must never die silently
            log.exception("coordinator loop crashed")
            raise
        finally:
            for endpoint in list(self._sockets):
                self._disconnect(endpoint, say_bye=True)
            wake.close(0)

    def _drain_commands(self) -> None:
        while True:
            try:
                command, args = self._commands.get_nowait()
            except queue.Empty:
                return
            if command == "stop":
                self._running.clear()
            elif command == "add":
                self._connect(*args)
            elif command == "remove":
                self._disconnect(args[0], say_bye=True)
            elif command == "sweep":
                expired = self._leases.expire_overdue()
                if expired:
                    log.info("%d lease(s) expired", expired)
                self._leases.wake_retries()
            elif command == "cancel_job":
                for lease_id in self._leases.leases_of_job(args[0]):
                    endpoint = self._leases.owner_of(lease_id)
                    if endpoint in self._sockets:
                        self._send(endpoint, wire.Cancel(lease_id=lease_id))
            # "dispatch" needs nothing: every loop turn dispatches

    def _connect(self, endpoint: str, local: bool) -> None:
        if endpoint in self._sockets:
            return
        sock = make_coordinator_socket(self._ctx, endpoint)
        self._sockets[endpoint] = sock
        self._links[endpoint] = AgentLink(endpoint=endpoint, local=local)
        self._poller.register(sock, zmq.POLLIN)
        self._say_hello(self._links[endpoint])
        log.info("connecting to agent %s", endpoint)

    def _disconnect(self, endpoint: str, *, say_bye: bool) -> None:
        sock = self._sockets.pop(endpoint, None)
        link = self._links.pop(endpoint, None)
        if sock is None:
            return
        if say_bye:
            try:
                sock.send_multipart(wire.encode(wire.Bye(reason="coordinator leaving")), zmq.NOBLOCK)
            except zmq.ZMQError:
                pass
        self._poller.unregister(sock)
        sock.close(0)
        if link is not None and link.leases:
            self._leases.agent_lost(link)

    def _say_hello(self, link: AgentLink) -> None:
        link.hello_sent = self._clock()
        self._send(link.endpoint, wire.Hello(coordinator_id=self.coordinator_id,
                                             coordinator_name=self.name,
                                             protocol=wire.PROTOCOL_VERSION))

    def _send(self, endpoint: str, message: Any) -> bool:
        sock = self._sockets.get(endpoint)
        if sock is None:
            return False
        try:
            sock.send_multipart(wire.encode(message), zmq.NOBLOCK)
            return True
        except zmq.Again:
            log.warning("agent %s is not accepting messages (queue full)", endpoint)
            return False

    def _heartbeat(self, now: float) -> None:
        for endpoint, link in list(self._links.items()):
            if link.ready and link.is_silent(now):
                link.lost = True
                log.warning("agent %s (%s) missed %d heartbeats: treating it as lost",
                            link.name or endpoint, link.agent_id, wire.HEARTBEAT_LIVENESS)
                self._leases.agent_lost(link)
                self._on_event("agent_lost", {"endpoint": endpoint, "agent_id": link.agent_id})
            if not link.ready:
                if link.hello_sent is None or now - link.hello_sent >= HEARTBEAT_INTERVAL * wire.HEARTBEAT_LIVENESS:
                    self._say_hello(link)
            self._send(endpoint, wire.Heartbeat(busy=len(link.leases), slots=link.slots))

    def _read_agent(self, endpoint: str, sock: zmq.Socket) -> None:
        link = self._links[endpoint]
        for _ in range(100):  # bounded: other sockets get their turn
            try:
                frames = sock.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            try:
                message = wire.decode(frames)
            except ProtocolError as exc:
                log.warning("malformed message from agent %s dropped: %s", endpoint, exc)
                self._on_event("malformed_message", {"endpoint": endpoint, "detail": str(exc)})
                continue
            link.last_seen = self._clock()
            try:
                self._handle(link, message)
            except Exception:  # one bad message must not stop the coordinator
                log.exception("error handling %s from agent %s", type(message).__name__, endpoint)

    def _handle(self, link: AgentLink, message: Any) -> None:
        if isinstance(message, wire.Ready):
            was_lost = link.lost
            if link.session is not None and link.session != message.session and link.leases:
                # the agent restarted: the leases it had died with its old process
                log.warning("agent %s restarted; its %d lease(s) go back to the queue",
                            link.endpoint, len(link.leases))
                self._leases.agent_lost(link)
            link.session = message.session
            link.agent_id = message.agent_id
            link.name = message.agent_name
            link.slots = max(0, int(message.slots))
            link.threads = int(message.threads)
            link.models = {m.name: m.sha256 for m in message.models}
            link.lost = False
            log.info("agent %s ready at %s: %d slot(s) x %d thread(s), models %s",
                     link.name, link.endpoint, link.slots, link.threads, sorted(link.models))
            self._on_event("agent_ready", {"endpoint": link.endpoint, "agent_id": link.agent_id,
                                           "name": link.name, "slots": link.slots,
                                           "threads": link.threads, "local": link.local,
                                           "models": sorted(link.models), "rejoined": was_lost})
        elif isinstance(message, wire.Result):
            outcome = self._leases.complete(
                link, lease_id=message.lease_id, chunk_id=message.chunk_id, attempt=message.attempt,
                result=message.result.to_dict(), engine_seconds=message.engine_seconds,
                agent_seconds=message.agent_seconds,
            )
            self._on_event("chunk_result", {"job_id": message.job_id, "chunk_id": message.chunk_id,
                                            "agent_id": link.agent_id, "outcome": outcome})
        elif isinstance(message, wire.Failure):
            self._leases.fail(link, lease_id=message.lease_id, chunk_id=message.chunk_id,
                              attempt=message.attempt, error=AttemptError.from_dict(message.error.to_dict()))
            self._on_event("chunk_attempt_failed", {"job_id": message.job_id,
                                                    "chunk_id": message.chunk_id,
                                                    "agent_id": link.agent_id,
                                                    "code": message.error.code})
        elif isinstance(message, wire.Released):
            self._leases.release(link, message.lease_ids)
        elif isinstance(message, wire.Bye):
            log.info("agent %s said goodbye: %s", link.name or link.endpoint, message.reason)
            self._leases.agent_lost(link)
            link.agent_id = None
            link.hello_sent = None
        elif isinstance(message, wire.Error):
            log.warning("agent %s reported a protocol error: %s %s", link.endpoint, message.code,
                        message.detail)
        # HEARTBEAT carries nothing beyond the sign of life already recorded

    def _dispatch(self) -> None:
        links = [link for link in self._links.values() if link.free_slots > 0]
        if not links:
            return
        for link, order in self._leases.assign(links):
            if not self._send(link.endpoint, work_message(order)):
                # could not even queue it: give the lease back at once
                self._leases.release(link, [order.lease_id])

    def _publish_status(self) -> None:
        snapshot = [
            AgentStatus(
                endpoint=link.endpoint, agent_id=link.agent_id, name=link.name, local=link.local,
                ready=link.ready, slots=link.slots, busy=len(link.leases), threads=link.threads,
                models=tuple(sorted(link.models)), last_seen=link.last_seen,
            )
            for link in self._links.values()
        ]
        with self._status_lock:
            self._status = snapshot


def work_message(order: WorkOrder) -> Any:
    """The WORK message for a lease."""
    return wire.Work(
        lease_id=order.lease_id,
        job_id=order.job_id,
        chunk_id=order.chunk_id,
        attempt=order.attempt,
        model=wire.ModelRef(name=order.model.name, sha256=order.model.sha256 or ""),
        options=order.options,
        deadline_seconds=order.deadline_seconds,
        sample_rate=16000,
        audio_format="pcm_s16le",
        audio_seconds=order.audio_seconds,
        payload=order.audio,
    )


def pcm_s16le(samples: np.ndarray) -> bytes:
    """Float samples in [-1, 1] as 16-bit little-endian PCM bytes."""
    clipped = np.clip(samples, -1.0, 1.0)
    return (clipped * 32767.0).astype("<i2").tobytes()
