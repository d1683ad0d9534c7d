"""The coordinator: one thread that owns every ZeroMQ socket to the agents.

Other threads never touch a socket: they call the public methods, which put a
command on a queue and wake the owner thread through an inproc pipe (the
ZeroMQ Guide's habit). The owner thread connects one DEALER socket per agent,
says HELLO until the agent answers READY, keeps heartbeats going both ways,
hands chunks out through the :class:`LeaseManager` whenever an agent has a
free slot, and settles every RESULT, FAILURE and silence it sees.

Agents that lack a model the waiting chunks need are told so in the
heartbeat and fetch it from here (:mod:`sttdesk.cluster.provisioning`): pieces
are read from disk by a reader thread and only sent by the owner thread, with
per-agent and coordinator-wide limits on pieces in flight.

Every link runs over CURVE: the coordinator connects as a CURVE client with its
own key pair and the agent's public key (a peer without that key cannot answer).
An agent gets work (and so audio) only while its key is trusted: a local agent
of the app, or one in the trust list (paired or trusted by an admin). The trust
list is re-read when its file changes, before every dispatch and every
heartbeat; an agent whose key was revoked has its leases returned to the queue
and its link closed at once, and an ``agents_trust_changed`` event tells the
agent directory (sttdesk.service.agent_directory), which decides whom to
connect to, to look again.

Whatever an agent sends, the loop survives it: undecodable frames are logged
(rate-limited), answered with ERROR and dropped; a message that fails while
being handled is logged and dropped; and an error in one loop turn (the store
briefly locked, say) is logged and the next turn goes on.
"""

from __future__ import annotations

import logging
import os
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
from ..protocol import HEARTBEAT_INTERVAL, HEARTBEAT_LIVENESS, ProtocolError
from ..security.errors import NotPairedError
from ..security.keys import KeyPair, fingerprint, generate_keypair, parse_public_key
from ..security.trust import TrustStore
from .agents import AgentLink
from .leasing import AttemptError, LeaseManager, WorkOrder
from .provisioning import ModelSource, ModelUploads, UploadStatus

log = logging.getLogger(__name__)

#: Longest the owner thread sleeps when nothing happens (seconds).
IDLE_POLL_SECONDS = 0.25
#: After a loop turn failed, the next one waits this long, so a lasting fault does not spin.
ERROR_PAUSE_SECONDS = 0.5
#: Messages read from one agent per loop turn, so no agent can starve the others.
READ_BATCH = 100
#: HELLOs left unanswered on one socket before it is replaced (see _heartbeat): two, so that an
#: agent slow to answer the first is not cut off, and at most two READYs come back at once.
HELLOS_BEFORE_RENEW = 2
#: Messages queued per agent socket before sends to it fail.
SEND_HWM = 1000
#: Warnings about one agent's rejected messages logged per window; the rest are counted.
WARNING_LIMIT = 20
WARNING_WINDOW_SECONDS = 60.0


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
    #: The agent process's run id from its last READY (a new one: it restarted).
    session: str | None = None
    #: Measured speed: audio seconds per second per slot (None before its first result).
    speed: float | None = None
    #: The agent's CURVE public key (Z85) and its fingerprint.
    public_key: str = ""
    fingerprint: str = ""
    #: This coordinator trusts the agent (paired or local): only then does it get work.
    trusted: bool = False
    #: The agent said it does not trust this coordinator: pair them.
    refused: bool = False


class _WarningBudget:
    """At most ``limit`` warnings per ``window`` seconds for one agent; the rest are counted."""

    def __init__(self, clock: Callable[[], float], *, limit: int = WARNING_LIMIT,
                 window: float = WARNING_WINDOW_SECONDS) -> None:
        self._clock = clock
        self._limit = limit
        self._window = window
        self._started = clock()
        self._count = 0
        self._suppressed = 0

    def allow(self, endpoint: str) -> bool:
        """Whether one more warning may be logged now (logs the summary of a finished window)."""
        now = self._clock()
        if now - self._started >= self._window:
            if self._suppressed:
                log.warning("%d more rejected message(s) from agent %s in the last %.0f s were not logged",
                            self._suppressed, endpoint, self._window)
            self._started, self._count, self._suppressed = now, 0, 0
        if self._count < self._limit:
            self._count += 1
            return True
        self._suppressed += 1
        return False


def new_routing_id() -> bytes:
    """A random routing id for one agent socket.

    The agent's ROUTER hands a reconnected socket its old place by routing id, so the
    id is kept secret (it travels only inside CURVE) and differs per socket: an id
    anyone could learn (the coordinator id says HELLO to every agent, paired or not)
    would let another peer take our place and receive our transcripts.
    """
    return b"c" + os.urandom(15)  # ids starting with a zero byte are libzmq's own


def make_coordinator_socket(ctx: zmq.Context, endpoint: str, routing_id: bytes, *, keys: KeyPair,
                            server_key: bytes) -> zmq.Socket:
    """A CURVE-client DEALER socket connected to one agent (the one place sockets are configured).

    ``server_key`` is the agent's public key: the handshake fails unless the peer holds
    its secret. A reconnected socket keeps ``routing_id``, so the agent's ROUTER gives
    it the old one's place and replies to leases already out still reach us.
    """
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.CURVE_SERVERKEY, server_key)
    sock.setsockopt(zmq.CURVE_PUBLICKEY, keys.public)
    sock.setsockopt(zmq.CURVE_SECRETKEY, keys.secret)
    sock.setsockopt(zmq.ROUTING_ID, routing_id)
    sock.setsockopt(zmq.RECONNECT_IVL, int(wire.RECONNECT_INTERVAL * 1000))
    sock.setsockopt(zmq.RECONNECT_IVL_MAX, int(wire.RECONNECT_INTERVAL_MAX * 1000))
    sock.setsockopt(zmq.SNDHWM, SEND_HWM)
    # Frames far beyond any valid message cut the connection before they fill memory;
    # smaller oversized frames reach the decoder, which rejects them with a reason.
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
        model_files: ModelSource | None = None,
        may_receive_models: Callable[[AgentLink], bool] | None = None,
        upload_options: dict[str, Any] | None = None,
        keys: KeyPair | None = None,
        trust: TrustStore | None = None,
    ) -> None:
        """``model_files`` finds the model files agents may fetch from here (None: no provisioning).

        ``may_receive_models`` decides which agents may get them; None: only trusted agents
        (paired or local), the same rule as for work and audio. ``upload_options`` are
        keyword arguments for :class:`ModelUploads` (piece size, limits). ``keys``: this
        coordinator's CURVE key pair (a fresh one for this run if None). ``trust``: the
        agents it may give work to besides its local ones (none if None).
        """
        self.coordinator_id = coordinator_id or uuid.uuid4().hex[:12]
        self.name = name
        self.keys = keys or generate_keypair()
        self._trust = trust or TrustStore.in_memory()
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
        self._warnings: dict[str, _WarningBudget] = {}
        self._poller: zmq.Poller | None = None
        #: Something changed that may let a chunk go out (a free slot, new work, a sweep).
        self._dispatch_due = True
        self._status_lock = threading.Lock()
        self._status: list[AgentStatus] = []
        self._may_receive_models = may_receive_models or (lambda link: link.trusted)
        self._uploads = (
            ModelUploads(model_files, context=self._ctx, on_event=self._on_event, **(upload_options or {}))
            if model_files is not None else None
        )
        self._pieces: zmq.Socket | None = None
        self._upload_status: list[UploadStatus] = []

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
        """Say BYE to every agent, hand its running leases back to the queue and end the thread.

        The leases go back unused (no attempt counted): the agents drop a departed
        coordinator's work, and stopping is not the chunks' fault.
        """
        if self._thread is None:
            return
        self._post("stop")
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.warning("coordinator thread did not stop within %.0f s", timeout)
        self._thread = None
        with self._wake_lock:
            if self._wake_sender is not None:
                self._wake_sender.close(0)
                self._wake_sender = None

    @property
    def running(self) -> bool:
        """Whether the owner thread is alive."""
        thread = self._thread
        return thread is not None and thread.is_alive()

    def add_agent(self, endpoint: str, *, server_key: bytes | str | None = None, local: bool = False) -> None:
        """Connect to an agent at ``endpoint`` (e.g. ``tcp://127.0.0.1:7878``) whose public key is ``server_key``.

        Without ``server_key`` the key of a trusted agent recorded at that address is used
        (one paired by host:port); with none known the agent cannot be reached securely,
        which is logged and reported as an ``agent_key_unknown`` event.
        ``local``: started by this app, which read its key from the agent's own output:
        trusted without pairing. Any other agent gets work only once its key is trusted.
        Raises InvalidPublicKeyError for a malformed key.
        """
        if server_key is None:
            known = [p for p in self._trust.peers() if p.endpoint == endpoint]
            if not known:
                log.error("cannot connect to agent %s: its public key is not known. Pair it first: "
                          "sttdesk agents pair %s --key AGENT-KEY", endpoint, endpoint)
                self._on_event("agent_key_unknown", {"endpoint": endpoint})
                return
            server_key = known[-1].public_key
        self._post("add", endpoint, local, parse_public_key(server_key))

    def remove_agent(self, endpoint: str, *, crashed: bool = False) -> None:
        """Disconnect from an agent.

        ``crashed``: the agent died (the local pool saw its process exit): its leases count
        as failed attempts (``lease_expired``, reason ``agent_lost``) and a crash is recorded.
        Otherwise its leases go back to the queue unused.
        """
        self._post("remove", endpoint, crashed)

    def wake(self) -> None:
        """Something changed in the store (new chunks, a retry woke up): dispatch now."""
        self._post("dispatch")

    def sweep(self) -> None:
        """Settle leases past their deadline and requeue ended backoffs (called by the timers)."""
        self._post("sweep")

    def cancel_job(self, job_id: str) -> None:
        """Tell agents to drop the leases of a cancelled job; they go back to the queue unused."""
        self._post("cancel_job", job_id)

    def agents(self) -> list[AgentStatus]:
        """A snapshot of every agent link (updated by the owner thread)."""
        with self._status_lock:
            return list(self._status)

    def model_uploads(self) -> list[UploadStatus]:
        """A snapshot of the model files on their way to agents (updated by the owner thread)."""
        with self._status_lock:
            return list(self._upload_status)

    @property
    def peak_pieces_in_flight(self) -> int:
        """Most model pieces that were ever in flight at once, all agents together."""
        return self._uploads.peak_in_flight if self._uploads is not None else 0

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
        if self._uploads is not None:
            self._pieces = self._uploads.start()
            poller.register(self._pieces, zmq.POLLIN)
        self._poller = poller
        self._running.set()
        ready.set()
        next_beat = self._clock()
        pause = 0.0
        try:
            while self._running.is_set():
                timeout = pause or max(0.0, min(IDLE_POLL_SECONDS, next_beat - self._clock()))
                pause = 0.0
                try:
                    events = dict(poller.poll(timeout * 1000))
                    if wake in events:
                        self._drain_wake(wake)
                    self._drain_commands()
                    if not self._running.is_set():
                        break
                    for endpoint, sock in list(self._sockets.items()):
                        if sock in events:
                            self._read_agent(endpoint, sock)
                    if self._pieces is not None and self._pieces in events:
                        self._send_pieces()
                    now = self._clock()
                    if now >= next_beat:
                        next_beat = now + HEARTBEAT_INTERVAL
                        self._heartbeat(now)
                        self._dispatch_due = True  # also catches work added without a wake()
                    if self._dispatch_due:
                        self._dispatch_due = False
                        self._dispatch()
                    if self._uploads is not None:
                        self._uploads.pump()
                    self._publish_status()
                except Exception:
                    # The loop must outlive any one fault (a locked store, a bug in a handler):
                    # log it, and try again shortly.
                    log.exception("coordinator loop turn failed")
                    self._dispatch_due = True
                    pause = ERROR_PAUSE_SECONDS
        finally:
            self._shutdown()
            if self._uploads is not None:
                self._uploads.stop()
                self._pieces = None
            wake.close(0)
            self._running.clear()

    @staticmethod
    def _drain_wake(wake: zmq.Socket) -> None:
        while True:
            try:
                wake.recv(zmq.NOBLOCK)
            except zmq.Again:
                return

    def _shutdown(self) -> None:
        for endpoint in list(self._sockets):
            link = self._links.get(endpoint)
            try:
                if link is not None and link.leases:
                    self._leases.release(link, list(link.leases))
            except Exception:
                log.exception("could not hand back the leases of agent %s", endpoint)
            self._disconnect(endpoint)
        self._publish_status()

    def _drain_commands(self) -> None:
        while True:
            try:
                command, args = self._commands.get_nowait()
            except queue.Empty:
                return
            if command == "stop":
                self._running.clear()
                return
            if command == "add":
                self._connect(*args)
                self._check_trust()
            elif command == "remove":
                self._remove(*args)
            elif command == "sweep":
                self._sweep()
            elif command == "cancel_job":
                self._cancel_job(args[0])
            self._dispatch_due = True

    # --- agent links -----------------------------------------------------------

    def _connect(self, endpoint: str, local: bool, server_key: bytes) -> None:
        current = self._links.get(endpoint)
        if current is not None:
            if current.server_key == server_key:
                return
            # Another agent (another key) now answers at this address: start over with it.
            log.info("agent %s has a new key %s", endpoint, fingerprint(server_key))
            self._remove(endpoint, crashed=False)
        self._links[endpoint] = AgentLink(endpoint=endpoint, local=local, server_key=server_key,
                                          trusted=local or self._trust.is_trusted(server_key))
        try:
            self._open_socket(endpoint)
        except zmq.ZMQError as exc:
            del self._links[endpoint]
            log.error("cannot connect to agent %s: %s", endpoint, exc)
            return
        log.info("connecting to agent %s", endpoint)

    def _open_socket(self, endpoint: str) -> None:
        assert self._poller is not None
        link = self._links[endpoint]
        sock = make_coordinator_socket(self._ctx, endpoint, new_routing_id(), keys=self.keys,
                                       server_key=link.server_key)
        self._sockets[endpoint] = sock
        self._poller.register(sock, zmq.POLLIN)
        link.hellos_unanswered = 0  # whatever was queued on an old socket is gone with it
        self._say_hello(link, renew=False)

    def _renew_socket(self, endpoint: str) -> None:
        """Replace an agent's socket: drops what was queued for it and connects afresh."""
        self._close_socket(endpoint, say_bye=False)
        self._open_socket(endpoint)

    def _close_socket(self, endpoint: str, *, say_bye: bool) -> None:
        sock = self._sockets.pop(endpoint, None)
        if sock is None:
            return
        if say_bye:
            try:
                sock.send_multipart(wire.encode(wire.Bye(reason="coordinator leaving")), zmq.NOBLOCK)
            except zmq.ZMQError:
                pass
        assert self._poller is not None
        self._poller.unregister(sock)
        sock.close(0)

    def _disconnect(self, endpoint: str) -> None:
        if self._uploads is not None:
            self._uploads.drop_agent(endpoint)
        self._close_socket(endpoint, say_bye=True)
        self._links.pop(endpoint, None)
        self._warnings.pop(endpoint, None)

    def _remove(self, endpoint: str, crashed: bool) -> None:
        link = self._links.get(endpoint)
        if link is None:
            return
        if crashed:
            self._leases.agent_lost(link, crashed=True)
        elif link.leases:
            self._leases.release(link, list(link.leases))
        self._disconnect(endpoint)
        log.info("disconnected from agent %s", endpoint)

    def _say_hello(self, link: AgentLink, *, renew: bool = True) -> None:
        link.hello_sent = self._clock()
        link.hellos_unanswered += 1
        sent = self._send(link.endpoint, wire.Hello(coordinator_id=self.coordinator_id,
                                                    coordinator_name=self.name,
                                                    protocol=wire.PROTOCOL_VERSION))
        if not sent and renew and link.endpoint in self._sockets:
            # A DEALER whose connection ended in a protocol error (a frame over MAXMSGSIZE)
            # never reconnects and refuses every send: only a new socket talks again.
            log.info("agent %s: connection gone, connecting afresh", link.endpoint)
            self._renew_socket(link.endpoint)

    def _send(self, endpoint: str, message: Any) -> bool:
        return self._send_frames(endpoint, wire.encode(message), type(message).KIND)

    def _send_frames(self, endpoint: str, frames: list[bytes], kind: wire.MessageKind) -> bool:
        sock = self._sockets.get(endpoint)
        if sock is None:
            return False
        try:
            sock.send_multipart(frames, zmq.NOBLOCK, copy=False)
            return True
        except zmq.Again:
            # Heartbeats and HELLOs to an agent that is down pile up to the high-water mark;
            # that is expected and says nothing new.
            quiet = kind in (wire.MessageKind.HEARTBEAT, wire.MessageKind.HELLO)
            log.log(logging.DEBUG if quiet else logging.WARNING,
                    "agent %s is not accepting messages (queue full): %s dropped", endpoint, kind.value)
            return False

    def _check_trust(self) -> None:
        """Follow the trust list: revoked agents lose their leases and link, newly trusted ones get work."""
        try:
            changed = self._trust.refresh()
        except Exception:
            # A damaged list trusts nobody new; the links keep the trust they had until it reads again.
            log.exception("cannot re-read the trusted agents")
            return
        if changed:
            # Whom to connect to is the agent directory's business (found agents, addresses):
            # it hears of the change here, also when another process (the CLI) made it.
            self._on_event("agents_trust_changed", {})
        for endpoint, link in list(self._links.items()):
            trusted = link.local or self._trust.is_trusted(link.server_key)
            if trusted == link.trusted:
                continue
            link.trusted = trusted
            if trusted:
                log.info("agent %s (%s) is trusted now", link.name or endpoint, fingerprint(link.server_key))
                self._dispatch_due = True
                continue
            log.warning("agent %s (%s) was revoked: its %d lease(s) go back to the queue and its link is closed",
                        link.name or endpoint, fingerprint(link.server_key), len(link.leases))
            self._on_event("agent_revoked", {"endpoint": endpoint, "agent_id": link.agent_id})
            self._remove(endpoint, crashed=False)

    def _heartbeat(self, now: float) -> None:
        self._check_trust()
        for endpoint, link in list(self._links.items()):
            if link.ready and link.is_silent(now) and not self._has_input(endpoint):
                self._lose(link)
            hello_due = link.hello_sent is None or now - link.hello_sent >= HEARTBEAT_INTERVAL * HEARTBEAT_LIVENESS
            if not link.ready and hello_due:
                if link.hellos_unanswered >= HELLOS_BEFORE_RENEW:
                    # Nobody is reading: each HELLO would wait in the socket's queue, and the agent
                    # would answer them all at once when the link comes back (a burst of READYs).
                    # A fresh socket drops them and says HELLO once more.
                    self._renew_socket(endpoint)
                else:
                    self._say_hello(link)
            if link.ready:  # an agent that has not said READY has no use for heartbeats (they would queue too)
                self._send(endpoint, wire.Heartbeat(busy=len(link.leases), slots=link.slots,
                                                    wanted_models=self._wanted_models(link)))

    # --- model provisioning -------------------------------------------------------

    def _wanted_models(self, link: AgentLink) -> tuple[wire.ModelRef, ...]:
        """Models waiting chunks need that this agent should fetch from here."""
        if self._uploads is None or not link.ready or link.free_slots == 0:
            return ()
        if not self._may_receive_models(link):
            return ()
        return tuple(
            wire.ModelRef(name=model.name, sha256=model.sha256)
            for model in self._leases.starved_models()
            if model.sha256 and not link.has_model(model.name, model.sha256)
            and self._uploads.may_offer(link.endpoint, model.name, model.sha256)
        )

    def _on_model_request(self, link: AgentLink, message: wire.ModelRequest) -> None:
        if self._uploads is None or not self._may_receive_models(link):
            if self._warning_allowed(link):
                log.warning("agent %s asked for model %s: refused (%s)", link.name or link.endpoint,
                            message.name, "no model provisioning here" if self._uploads is None
                            else "the agent may not receive models")
            self._send(link.endpoint, wire.Error(code="model_refused",
                                                 detail=f"model {message.name} is not sent to this agent"))
            return
        self._uploads.request(link.endpoint, link.name or link.endpoint, message)

    def _send_pieces(self) -> None:
        assert self._uploads is not None
        for endpoint, sha256, frames in self._uploads.collect():
            if not self._send_frames(endpoint, frames, wire.MessageKind.MODEL_PIECE):
                self._uploads.restart(endpoint, sha256)

    def _on_agent_heartbeat(self, link: AgentLink, message: wire.Heartbeat) -> None:
        if message.models is None:
            return
        models = {m.name: m.sha256 for m in message.models}
        if models == link.models:
            return
        added = sorted(name for name, sha in models.items() if link.models.get(name) != sha)
        link.models = models
        self._dispatch_due = True
        log.info("agent %s now has models %s (new: %s)", link.name or link.endpoint, sorted(models), added)
        try:
            self._leases.agent_seen(link)
        except Exception:
            log.exception("could not record agent %s in the store", link.agent_id)
        self._on_event("agent_models", {"endpoint": link.endpoint, "agent_id": link.agent_id,
                                        "models": sorted(models), "added": added})

    def _has_input(self, endpoint: str) -> bool:
        """Whether messages from the agent wait unread (then it is not silent: this thread was slow)."""
        sock = self._sockets.get(endpoint)
        return sock is not None and bool(sock.getsockopt(zmq.EVENTS) & zmq.POLLIN)

    def _lose(self, link: AgentLink) -> None:
        """The agent missed its heartbeats: its leases expire, and its socket starts afresh."""
        link.lost = True
        if self._uploads is not None:
            self._uploads.drop_agent(link.endpoint)
        log.warning("agent %s (%s) missed %d heartbeats: treating it as lost",
                    link.name or link.endpoint, link.agent_id, HEARTBEAT_LIVENESS)
        self._leases.agent_lost(link, crashed=True)
        self._on_event("agent_lost", {"endpoint": link.endpoint, "agent_id": link.agent_id})
        # A fresh socket drops what was queued for the dead peer (WORK included), so an
        # agent restarted on the same port does not get stale work; then HELLO again.
        self._renew_socket(link.endpoint)

    def _read_agent(self, endpoint: str, sock: zmq.Socket) -> None:
        for _ in range(READ_BATCH):
            link = self._links.get(endpoint)
            if link is None or self._sockets.get(endpoint) is not sock:
                return  # the link was closed or renewed by a message handled just now
            try:
                frames = sock.recv_multipart(zmq.NOBLOCK, copy=True)
            except zmq.Again:
                return
            try:
                message = wire.decode(frames)
            except ProtocolError as exc:
                self._reject(link, exc)
                continue
            link.last_seen = self._clock()
            try:
                self._handle(link, message)
            except Exception:  # one bad message must not stop the coordinator
                log.exception("error handling %s from agent %s", type(message).__name__, endpoint)

    def _reject(self, link: AgentLink, exc: ProtocolError) -> None:
        budget = self._warnings.get(link.endpoint)
        if budget is None:
            budget = self._warnings[link.endpoint] = _WarningBudget(self._clock)
        if budget.allow(link.endpoint):
            log.warning("malformed message from agent %s dropped: %s [%s]", link.endpoint, exc.detail, exc.code)
            self._send(link.endpoint, wire.Error.from_error(exc))
        self._on_event("malformed_message", {"endpoint": link.endpoint, "code": exc.code, "detail": exc.detail})

    def _handle(self, link: AgentLink, message: Any) -> None:
        if isinstance(message, wire.Ready):
            self._on_ready(link, message)
        elif isinstance(message, wire.Heartbeat):
            # The sign of life is already recorded; a READY agent also tells its models.
            if link.agent_id is not None:
                self._on_agent_heartbeat(link, message)
        elif isinstance(message, wire.Error) and message.code == NotPairedError.code:
            if not link.refused:
                log.warning("agent %s (key %s) does not trust this coordinator: pair it with "
                            "'sttdesk agents pair %s'", link.endpoint, fingerprint(link.server_key), link.endpoint)
            link.refused = True
        elif isinstance(message, wire.Error):
            if self._warning_allowed(link):
                log.warning("agent %s rejected a message from this coordinator: %s %s", link.endpoint,
                            message.code, message.detail)
        elif isinstance(message, wire.Bye):
            self._on_bye(link, message)
        elif link.agent_id is None:
            # Work replies from a peer that never said who it is (or said goodbye) are not trusted.
            if self._warning_allowed(link):
                log.warning("%s from agent %s dropped: it has not said READY", type(message).KIND.value,
                            link.endpoint)
        elif isinstance(message, wire.Result):
            self._on_result(link, message)
        elif isinstance(message, wire.Failure):
            settled = self._leases.fail(link, lease_id=message.lease_id, chunk_id=message.chunk_id,
                                        attempt=message.attempt,
                                        error=AttemptError.from_dict(message.error.to_dict()))
            if settled:
                self._cancel_rivals(message.chunk_id)  # a copy of a failed attempt is pointless
            self._dispatch_due = True
            self._on_event("chunk_attempt_failed", {"job_id": message.job_id,
                                                    "chunk_id": message.chunk_id,
                                                    "agent_id": link.agent_id,
                                                    "code": message.error.code})
        elif isinstance(message, wire.Released):
            self._leases.release(link, message.lease_ids)
            self._dispatch_due = True
        elif isinstance(message, wire.ModelRequest):
            self._on_model_request(link, message)
        elif self._warning_allowed(link):
            log.warning("%s from agent %s dropped: coordinators do not accept it",
                        type(message).KIND.value, link.endpoint)

    def _warning_allowed(self, link: AgentLink) -> bool:
        budget = self._warnings.get(link.endpoint)
        if budget is None:
            budget = self._warnings[link.endpoint] = _WarningBudget(self._clock)
        return budget.allow(link.endpoint)

    def _on_ready(self, link: AgentLink, message: wire.Ready) -> None:
        was_lost = link.lost
        restarted = link.session is not None and link.session != message.session
        asked = link.hellos_unanswered > 0
        link.hellos_unanswered = max(0, link.hellos_unanswered - 1)
        if restarted and link.leases:
            # the agent restarted: the leases it had died with its old process
            log.warning("agent %s restarted; its %d lease(s) go back to the queue",
                        link.endpoint, len(link.leases))
            self._leases.agent_lost(link, crashed=True)
        elif not asked and link.leases:
            # Same process, but it no longer knows us: it stopped hearing from us (this thread
            # was blocked, the network dropped) and threw our work away. Nothing will come
            # back for those leases, so they go back to the queue now, not at their deadline.
            log.warning("agent %s forgot this coordinator; its %d lease(s) go back to the queue",
                        link.endpoint, len(link.leases))
            self._leases.release(link, list(link.leases))
        link.session = message.session
        link.agent_id = message.agent_id
        link.name = message.agent_name
        link.host = message.host
        link.cpu = message.cpu
        link.version = message.version
        link.slots = max(0, int(message.slots))
        link.threads = int(message.threads)
        link.models = {m.name: m.sha256 for m in message.models}
        link.lost = False
        link.refused = False
        self._dispatch_due = True
        if not asked:
            # An agent announces itself unasked when it does not know us (it restarted, or
            # our connection is new to it): a HELLO tells it who we are. Its answer is an
            # asked READY, so this never ping-pongs.
            self._say_hello(link)
        log.info("agent %s ready at %s: %d slot(s) x %d thread(s), models %s",
                 link.name, link.endpoint, link.slots, link.threads, sorted(link.models))
        try:
            self._leases.agent_seen(link)
        except Exception:
            log.exception("could not record agent %s in the store", link.agent_id)
        self._on_event("agent_ready", {"endpoint": link.endpoint, "agent_id": link.agent_id,
                                       "name": link.name, "slots": link.slots,
                                       "threads": link.threads, "local": link.local,
                                       "models": sorted(link.models), "rejoined": was_lost,
                                       "restarted": restarted, "session": link.session})

    def _on_bye(self, link: AgentLink, message: wire.Bye) -> None:
        log.info("agent %s said goodbye: %s", link.name or link.endpoint, message.reason)
        if self._uploads is not None:
            self._uploads.drop_agent(link.endpoint)
        # It handed back what it could (RELEASED) before saying BYE; anything still out was
        # never started by it, so it goes back unused.
        if link.leases:
            self._leases.release(link, list(link.leases))
        link.agent_id = None
        link.hello_sent = None
        link.hellos_unanswered = 0
        self._dispatch_due = True

    def _on_result(self, link: AgentLink, message: wire.Result) -> None:
        outcome = self._leases.complete(
            link, lease_id=message.lease_id, chunk_id=message.chunk_id, attempt=message.attempt,
            result=message.result.to_dict(), engine_seconds=message.engine_seconds,
            agent_seconds=message.agent_seconds,
        )
        if outcome.accepted:
            # The first answer wins: a speculative copy (or the original) still out is cancelled.
            self._cancel_rivals(message.chunk_id)
        self._dispatch_due = True
        self._on_event("chunk_result", {"job_id": message.job_id, "chunk_id": message.chunk_id,
                                        "agent_id": link.agent_id, "outcome": outcome})

    # --- leases ------------------------------------------------------------------

    def _sweep(self) -> None:
        expired = self._leases.expire_overdue()
        if expired:
            log.info("%d lease(s) expired", len(expired))
        for lease in expired:
            link = self._links.get(lease.endpoint)
            if link is not None:
                link.leases.discard(lease.lease_id)
                # The agent may still be at it: its result would be dropped anyway.
                self._send(lease.endpoint, wire.Cancel(lease_id=lease.lease_id))
            self._cancel_rivals(lease.chunk_id)
        self._leases.wake_retries()

    def _cancel_rivals(self, chunk_id: int) -> None:
        """Tell the holders of other leases on a settled chunk to drop the work."""
        for rival in self._leases.take_rivals(chunk_id, self._links.values()):
            log.info("chunk %s is settled: lease %s on %s cancelled", chunk_id, rival.lease_id, rival.endpoint)
            self._send(rival.endpoint, wire.Cancel(lease_id=rival.lease_id))

    def _cancel_job(self, job_id: str) -> None:
        for lease_id in self._leases.leases_of_job(job_id):
            endpoint = self._leases.owner_of(lease_id)
            link = self._links.get(endpoint) if endpoint else None
            if link is None:
                continue
            self._send(link.endpoint, wire.Cancel(lease_id=lease_id))
            # The agent drops the work without a reply: take the lease back here.
            self._leases.release(link, [lease_id])

    def _dispatch(self) -> None:
        self._check_trust()  # a revoked agent must not get one more chunk
        links = [link for link in self._links.values() if link.free_slots > 0]
        if not links:
            return
        orders = self._leases.assign(links)
        if any(link.free_slots for link in links):
            # Nothing more is waiting for these slots: the tail of a job may use them.
            orders += self._leases.speculate(self._links.values())
        for link, order in orders:
            try:
                frames = wire.encode(work_message(order))
            except ProtocolError as exc:
                # Nothing any agent could take (options that are not JSON, say): fail it for good.
                log.error("chunk %s of job %s cannot be sent: %s", order.chunk_id, order.job_id, exc.detail)
                self._leases.fail(link, lease_id=order.lease_id, chunk_id=order.chunk_id,
                                  attempt=order.attempt, error=AttemptError.from_error(exc))
                continue
            if not self._send_frames(link.endpoint, frames, wire.MessageKind.WORK):
                # could not even queue it: give the lease back at once
                self._leases.release(link, [order.lease_id])

    def _publish_status(self) -> None:
        snapshot = [
            AgentStatus(
                endpoint=link.endpoint, agent_id=link.agent_id, name=link.name, local=link.local,
                ready=link.ready, slots=link.slots, busy=len(link.leases), threads=link.threads,
                models=tuple(sorted(link.models)), last_seen=link.last_seen, session=link.session,
                speed=link.speed,
                public_key=link.server_key.decode("ascii"), fingerprint=fingerprint(link.server_key),
                trusted=link.trusted, refused=link.refused,
            )
            for link in self._links.values()
        ]
        uploads = self._uploads.status() if self._uploads is not None else []
        with self._status_lock:
            self._status = snapshot
            self._upload_status = uploads


def work_message(order: WorkOrder) -> wire.Work:
    """The WORK message for a lease."""
    return wire.Work(
        lease_id=order.lease_id,
        job_id=order.job_id,
        chunk_id=order.chunk_id,
        attempt=order.attempt,
        model=wire.ModelRef(name=order.model.name, sha256=order.model.sha256 or ""),
        options=order.options,
        deadline_seconds=order.deadline_seconds,
        sample_rate=wire.SAMPLE_RATE,
        audio_format=wire.AUDIO_FORMAT_PCM_S16LE,
        audio_seconds=order.audio_seconds,
        payload=order.audio,
    )


def pcm_s16le(samples: np.ndarray) -> bytes:
    """Float samples in [-1, 1] as 16-bit little-endian PCM bytes."""
    clipped = np.clip(samples, -1.0, 1.0)
    return (clipped * 32767.0).astype("<i2").tobytes()
