"""The agent's socket loop: one thread owns the ROUTER socket and everything it hears.

Coordinators connect to the agent's ROUTER; the loop answers HELLO with READY,
queues WORK per coordinator, hands chunks to idle slots fairly between
coordinators, routes each slot's finished RESULT or FAILURE back to the
coordinator that sent the WORK, heartbeats every coordinator, and forgets the
ones that fall silent. Slots report through an inproc PULL socket that only
this thread reads; a stop request (a signal) arrives through a self-pipe, so
nothing but this thread ever touches the ROUTER.

Who may do what is decided per message by the sender's CURVE key (see
:mod:`sttdesk.agent.transport`): a coordinator whose key is in the trust list
is served; any other key may pair (PAIR_* messages, :mod:`sttdesk.security.pairing`)
and gets an ERROR ``not_paired`` for everything else, without ever entering the
peer table. The trust list is re-read when its file changes, before each batch
of messages: a revoked coordinator's next message is refused, and its queued
and running work is dropped.

Shutdown (:meth:`AgentRuntime.request_stop`): queued work is handed back at
once with RELEASED, new WORK is released as it comes, running chunks get a grace
period to finish (their results are sent as usual), whatever still runs after
it is released too, and every coordinator gets a BYE. A second stop request
skips the rest of the grace period.

With a :class:`~sttdesk.agent.provisioning.ModelInstaller`, the models a
coordinator's heartbeat says it needs are fetched from it by a
:class:`~sttdesk.agent.provisioning.ModelFetcher`, whose own thread writes the
file; this loop only passes pieces to it and its requests back out (through
another inproc PULL socket only this thread reads).
"""

from __future__ import annotations

import errno
import json
import logging
import os
import time
from collections.abc import Callable
from typing import Any

import zmq
from zmq.utils.monitor import recv_monitor_message

from ..domain.errors import SttdeskError
from ..security.errors import NotPairedError
from ..security.keys import fingerprint
from ..security.pairing import PairingDesk, PairingOffer
from ..security.trust import TrustStore
from ..protocol import (
    HEARTBEAT_INTERVAL,
    HEARTBEAT_LIVENESS,
    PROTOCOL_VERSION,
    Bye,
    Cancel,
    Error,
    ErrorInfo,
    Failure,
    Heartbeat,
    Hello,
    Message,
    MessageKind,
    ModelPiece,
    PairChallenge,
    PairConfirm,
    PairExchange,
    PairRequest,
    PairResult,
    ProtocolError,
    Ready,
    Released,
    Work,
    decode,
    encode,
)
from .engines import EngineFactory
from .errors import AgentBusyError
from .identity import AgentIdentity
from .models import ModelCatalog
from .peers import Peer, PeerTable, Task
from .provisioning import OUT_MODELS, OUT_SEND, ModelFetcher, ModelInstaller
from .slots import Slot
from .status import STATUS_SECONDS, CoordinatorStatus, RuntimeStatus
from .transport import WATCHED_EVENTS, HandshakeWatch, sender_key

log = logging.getLogger(__name__)

#: Seconds running chunks get to finish after a stop request.
DEFAULT_GRACE_SECONDS = 30.0
#: Messages read from the network per loop turn, so slots' results are never starved.
READ_BATCH = 100
#: How long the final RELEASED and BYE messages may take to leave on exit (ms).
FINAL_LINGER_MS = 1000
#: How long shutdown waits for each slot thread (and its engine) to end.
SLOT_JOIN_SECONDS = 5.0
#: Queued chunks and queued audio bytes accepted per coordinator. A coordinator with
#: credit-based flow control keeps far fewer here (about its share of the slots); the caps
#: only keep a runaway or hostile peer from filling the agent's memory.
MAX_QUEUED_PER_PEER = 64
MAX_QUEUED_BYTES_PER_PEER = 256 * 1024 * 1024
#: Socket events that mean a connection failed its handshake.
#: Warnings of one sort (rejected messages, dropped sends) logged per window; a flood of
#: garbage is summarised, not logged line by line.
WARNING_LIMIT = 20
WARNING_WINDOW_SECONDS = 60.0


class _LimitedWarnings:
    """Warnings of one sort, at most ``limit`` per ``window`` seconds, the rest counted."""

    def __init__(self, what: str, clock: Callable[[], float], *, limit: int = WARNING_LIMIT,
                 window: float = WARNING_WINDOW_SECONDS) -> None:
        self._what = what
        self._clock = clock
        self._limit = limit
        self._window = window
        self._started = clock()
        self._count = 0
        self._suppressed = 0

    def warn(self, text: str, *args: Any) -> None:
        self.flush()
        if self._count < self._limit:
            self._count += 1
            log.warning(text, *args)
        else:
            self._suppressed += 1

    def flush(self) -> None:
        now = self._clock()
        if now - self._started < self._window:
            return
        if self._suppressed:
            log.warning("%d more %s in the last %.0f s were not logged",
                        self._suppressed, self._what, self._window)
        self._started, self._count, self._suppressed = now, 0, 0


class AgentRuntime:
    """Serves coordinators on one bound ROUTER socket until stopped; see the module docstring."""

    def __init__(
        self,
        sock: zmq.Socket,
        identity: AgentIdentity,
        catalog: ModelCatalog,
        engine_factory: EngineFactory,
        *,
        trust: TrustStore,
        pairing: PairingDesk,
        on_pairing_change: Callable[[list[PairingOffer]], None] | None = None,
        slots: int = 1,
        threads: int = 1,
        grace_seconds: float = DEFAULT_GRACE_SECONDS,
        heartbeat_interval: float = HEARTBEAT_INTERVAL,
        liveness: int = HEARTBEAT_LIVENESS,
        max_queued_per_peer: int = MAX_QUEUED_PER_PEER,
        max_queued_bytes_per_peer: int = MAX_QUEUED_BYTES_PER_PEER,
        installer: ModelInstaller | None = None,
        clock: Callable[[], float] = time.monotonic,
        on_status: Callable[[RuntimeStatus], None] | None = None,
        status_interval: float = STATUS_SECONDS,
    ) -> None:
        """``installer``: where models fetched from coordinators go; None fetches none.
        ``on_status`` gets a snapshot every ``status_interval`` seconds, on the loop's thread.
        """
        if slots < 1 or threads < 1:
            raise ValueError("an agent needs at least one slot and one thread")
        self._router = sock
        self._identity = identity
        self._catalog = catalog
        self._engine_factory = engine_factory
        self._slot_count = slots
        self._threads = threads
        self._grace = grace_seconds
        self._interval = heartbeat_interval
        self._expiry = heartbeat_interval * liveness
        self._max_queued = max_queued_per_peer
        self._max_queued_bytes = max_queued_bytes_per_peer
        self._clock = clock
        self._on_status = on_status
        self._status_interval = status_interval
        self._results_sent = 0
        self._failures_sent = 0
        self._trust = trust
        self._pairing = pairing
        self._on_pairing_change = on_pairing_change or (lambda offers: None)
        self._peers = PeerTable()
        self._slots: list[Slot] = []
        self._rejects = _LimitedWarnings("rejected message(s)", clock)
        self._drops = _LimitedWarnings("dropped message(s)", clock)
        self._refusals = _LimitedWarnings("refused message(s) from unpaired coordinators", clock)
        self._outbox_address = f"inproc://sttdesk-agent-slots-{id(self):x}"
        self._fetcher_address = f"inproc://sttdesk-agent-fetcher-{id(self):x}"
        self._installer = installer
        self._fetcher: ModelFetcher | None = None
        self._stop_read, self._stop_write = os.pipe()
        os.set_blocking(self._stop_read, False)
        os.set_blocking(self._stop_write, False)
        self._stop_requests = 0
        self._draining = False
        self._drain_deadline = 0.0
        self._finished = False
        #: Running leases already handed back at the end of the grace period.
        self._released: set[str] = set()
        self._handlers: dict[type, Callable[[bytes, Peer | None, Any, float], None]] = {
            Hello: self._on_hello,
            Heartbeat: self._on_heartbeat,
            Work: self._on_work,
            Cancel: self._on_cancel,
            Bye: self._on_bye,
            ModelPiece: self._on_model_piece,
            Error: self._on_error,
        }
        self._pairing_handlers: dict[type, Callable[[bytes, bytes, Any], None]] = {
            PairRequest: self._on_pair_request,
            PairExchange: self._on_pair_exchange,
            PairConfirm: self._on_pair_confirm,
        }

    # --- public ---------------------------------------------------------------------

    def request_stop(self) -> None:
        """Begin a clean shutdown (a second call cuts the grace period short).

        Safe from a signal handler and from any thread: it only writes to a pipe.
        """
        try:
            os.write(self._stop_write, b"s")
        except (BlockingIOError, OSError):
            pass  # the pipe is full or closed: a stop is already pending or done

    def run(self) -> bool:
        """Serve until a stop request has been carried out.

        Returns True when every slot thread ended (so the ZeroMQ context can be terminated).
        """
        context = self._router.context
        outbox = context.socket(zmq.PULL)
        outbox.setsockopt(zmq.LINGER, 0)
        outbox.bind(self._outbox_address)
        self._slots = [
            Slot(
                i,
                context=context,
                outbox=self._outbox_address,
                catalog=self._catalog,
                engine_factory=self._engine_factory,
                threads=self._threads,
                agent_label=f"{self._identity.name} ({self._identity.agent_id})",
                clock=self._clock,
            )
            for i in range(self._slot_count)
        ]
        for slot in self._slots:
            slot.start()
        fetched = context.socket(zmq.PULL)
        fetched.setsockopt(zmq.LINGER, 0)
        fetched.bind(self._fetcher_address)
        if self._installer is not None:
            self._fetcher = ModelFetcher(self._installer, context=context, outbox=self._fetcher_address)
            self._fetcher.start()
        # Connections that fail the CURVE handshake (a wrong server key, a replayed or garbled
        # handshake, garbage bytes) never reach the ROUTER: the socket monitor tells of them.
        monitor = self._router.get_monitor_socket(WATCHED_EVENTS)
        handshakes = HandshakeWatch()
        poller = zmq.Poller()
        poller.register(self._router, zmq.POLLIN)
        poller.register(outbox, zmq.POLLIN)
        poller.register(fetched, zmq.POLLIN)
        poller.register(monitor, zmq.POLLIN)
        poller.register(self._stop_read, zmq.POLLIN)
        log.info(
            "agent %s (%s) serving: %d slot(s) x %d thread(s), models: %s",
            self._identity.name, self._identity.agent_id, self._slot_count, self._threads,
            ", ".join(m.name for m in self._catalog.models()) or "none",
        )
        next_beat = next_status = self._clock()
        try:
            while not self._finished:
                now = self._clock()
                wait = min(self._interval, max(0.0, next_beat - now))
                if self._draining:
                    wait = min(wait, max(0.0, self._drain_deadline - now))
                events = dict(poller.poll(wait * 1000))
                # Before anything is read or sent: a revoked coordinator gets nothing more.
                self._check_trust()
                if self._stop_read in events:
                    self._take_stop_requests()
                if outbox in events:
                    self._collect(outbox)
                if fetched in events:
                    self._collect_fetcher(fetched)
                if self._router in events:
                    self._read()
                if monitor in events:
                    self._log_handshake_failures(monitor, handshakes)
                now = self._clock()
                self._drop_silent(now)
                if now >= next_beat:
                    self._beat()
                    next_beat = now + self._interval
                if not self._draining:
                    self._dispatch()
                else:
                    self._finish_if_drained(now)
                self._rejects.flush()
                self._drops.flush()
                self._refusals.flush()
                if self._on_status is not None and now >= next_status:
                    next_status = now + self._status_interval
                    self._report_status(now)
        finally:
            self._router.disable_monitor()
            monitor.close(0)
            clean = self._close(outbox, fetched)
        return clean

    def _log_handshake_failures(self, monitor: zmq.Socket, handshakes: HandshakeWatch) -> None:
        while True:
            try:
                event = recv_monitor_message(monitor, zmq.NOBLOCK)
            except zmq.Again:
                return
            warning = handshakes.feed(event["event"], event["value"])
            if warning is not None:
                self._rejects.warn("%s", warning)

    # --- stop requests and shutdown -----------------------------------------------

    def _take_stop_requests(self) -> None:
        try:
            count = len(os.read(self._stop_read, 64))
        except BlockingIOError:
            return
        for _ in range(count):
            self._stop_requests += 1
            if self._stop_requests == 1:
                self._begin_drain()
            elif self._stop_requests == 2:
                log.warning("second stop request: not waiting for running chunks")
                self._drain_deadline = self._clock()

    def _begin_drain(self) -> None:
        self._draining = True
        self._drain_deadline = self._clock() + self._grace
        handed_back = 0
        for peer in self._peers:
            if peer.queued:
                lease_ids = tuple(t.work.lease_id for t in peer.queued)
                peer.queued.clear()
                handed_back += len(lease_ids)
                self._send(peer.routing_id, Released(lease_ids=lease_ids))
        running = sum(1 for s in self._slots if s.task is not None)
        log.info(
            "stopping: %d running chunk(s) get up to %.0f s to finish; %d queued chunk(s) handed back",
            running, self._grace, handed_back,
        )

    def _finish_if_drained(self, now: float) -> None:
        running = [s for s in self._slots if s.task is not None]
        if running and now < self._drain_deadline:
            return
        if running:
            by_peer: dict[bytes, list[str]] = {}
            for slot in running:
                task = slot.task
                assert task is not None
                peer, lease_id = task.peer, task.work.lease_id
                if not peer.gone and lease_id not in peer.cancelled:
                    by_peer.setdefault(peer.routing_id, []).append(lease_id)
                    self._released.add(lease_id)
                slot.abandon()
            for routing_id, lease_ids in by_peer.items():
                self._send(routing_id, Released(lease_ids=tuple(lease_ids)))
            log.warning("grace period over: %d running chunk(s) handed back unfinished", len(running))
        for peer in self._peers:
            self._send(peer.routing_id, Bye(reason="agent shutting down"))
        self._finished = True

    def _close(self, outbox: zmq.Socket, fetched: zmq.Socket) -> bool:
        for slot in self._slots:
            slot.stop()
        if self._fetcher is not None:
            self._fetcher.stop()
        deadline = time.monotonic() + SLOT_JOIN_SECONDS
        clean = True
        for slot in self._slots:
            if not slot.join(max(0.0, deadline - time.monotonic())):
                log.warning("slot %d did not stop in time", slot.index)
                slot.abandon()
                clean = slot.join(1.0) and clean
        if self._fetcher is not None and not self._fetcher.join(max(1.0, deadline - time.monotonic())):
            log.warning("the model fetcher did not stop in time")
            clean = False
        outbox.close(0)
        fetched.close(0)
        # The last RELEASED and BYE messages may still be queued: give them a moment to leave.
        self._router.close(linger=FINAL_LINGER_MS)
        os.close(self._stop_read)
        os.close(self._stop_write)
        log.info("agent %s stopped", self._identity.agent_id)
        return clean

    # --- slots ----------------------------------------------------------------------

    def _dispatch(self) -> None:
        for slot in self._slots:
            if slot.task is not None:
                continue
            task = self._peers.next_task()
            if task is None:
                return
            task.peer.running[task.work.lease_id] = task
            slot.submit(task)

    def _collect(self, outbox: zmq.Socket) -> None:
        while True:
            try:
                frames = outbox.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            slot = self._slots[int(frames[0])]
            task, slot.task = slot.task, None
            if task is None:
                log.error("slot %d reported work it was never given", slot.index)
                continue
            peer, lease_id = task.peer, task.work.lease_id
            peer.running.pop(lease_id, None)
            if lease_id in self._released:
                continue
            if peer.gone:
                log.info("result of lease %s dropped: %s is gone", lease_id, peer.label)
            elif lease_id in peer.cancelled:
                peer.cancelled.discard(lease_id)
                log.info("result of lease %s dropped: it was cancelled", lease_id)
            elif self._send_frames(peer.routing_id, frames[1:]):
                if _is_failure(frames[1]):
                    self._failures_sent += 1
                else:
                    self._results_sent += 1

    def _report_status(self, now: float) -> None:
        assert self._on_status is not None
        status = RuntimeStatus(
            slots=self._slot_count, threads=self._threads,
            busy=sum(1 for s in self._slots if s.task is not None),
            queued=self._peers.queued_count(),
            coordinators=tuple(
                CoordinatorStatus(name=p.name, coordinator_id=p.coordinator_id, queued=len(p.queued),
                                  running=len(p.running), silent_seconds=round(max(0.0, now - p.last_seen), 1))
                for p in self._peers
            ),
            results_sent=self._results_sent, failures_sent=self._failures_sent, stopping=self._draining,
        )
        try:
            self._on_status(status)
        except Exception:
            log.exception("status report failed")

    def _collect_fetcher(self, fetched: zmq.Socket) -> None:
        while True:
            try:
                frames = fetched.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            if frames[0] == OUT_SEND:
                # Only to a coordinator still served: a departed one's transfer waits.
                if self._peers.get(frames[1]) is not None:
                    self._send_frames(frames[1], frames[2:])
            elif frames[0] == OUT_MODELS:
                # A model was installed: say so now, so its chunks can come at once.
                self._beat()

    # --- the network ----------------------------------------------------------------

    def _read(self) -> None:
        for _ in range(READ_BATCH):
            try:
                parts = self._router.recv_multipart(zmq.NOBLOCK, copy=False)
            except zmq.Again:
                return
            try:
                key = sender_key(parts[1]) if len(parts) > 1 else None
                self._on_frames([part.bytes for part in parts], key)
            except Exception:
                # One bad message must never take the agent down.
                log.exception("error while handling a message")

    def _check_trust(self) -> None:
        """Re-read the trust list if it changed; drop every coordinator no longer trusted."""
        try:
            changed = self._trust.refresh()
        except SttdeskError as exc:
            # A damaged list must not open the agent up: keep the last good one, and say so.
            self._rejects.warn("cannot re-read the trust list: %s", exc.user_message("en"))
            return
        if not changed:
            return
        for peer in self._peers:
            if not self._trust.is_trusted(peer.key):
                self._drop(peer, f"its key {fingerprint(peer.key)} was revoked")
                self._send(peer.routing_id, Error.from_error(self._not_paired()))
                self._pairing.withdraw(peer.key)

    def _not_paired(self) -> NotPairedError:
        return NotPairedError(agent=f"{self._identity.name} ({self._identity.agent_id})",
                              fingerprint=fingerprint(self._pairing.agent_key))

    def _on_frames(self, frames: list[bytes], key: bytes | None = None) -> None:
        routing_id, body = frames[0], frames[1:]
        now = self._clock()
        if key is None:
            # libzmq admitted a connection without asking the ZAP handler: never serve it.
            self._refusals.warn("refused a message without a CURVE key on connection %s", routing_id.hex()[:8])
            return
        peer = self._peers.get(routing_id)
        if peer is not None and peer.key != key:
            # Another key took this routing id over (ROUTER_HANDOVER): nothing more may go
            # to the old holder's routing id, so its work is dropped.
            self._drop(peer, f"its connection was taken over by key {fingerprint(key)}")
            peer = None
        if peer is not None:
            peer.last_seen = now  # any message, even a bad one, is a sign of life
        try:
            message = decode(body)
        except ProtocolError as exc:
            who = peer.label if peer else f"unknown peer {routing_id.hex()[:8]} (key {fingerprint(key)})"
            self._rejects.warn("rejected a message from %s: %s [%s]", who, exc.detail, exc.code)
            self._send(routing_id, Error.from_error(exc))
            return
        pairing = self._pairing_handlers.get(type(message))
        if pairing is not None:
            pairing(routing_id, key, message)
            return
        if not self._trust.is_trusted(key):
            if not isinstance(message, (Bye, Error)):
                self._refusals.warn("refused %s from unpaired key %s", type(message).KIND.value, fingerprint(key))
                self._send(routing_id, Error.from_error(self._not_paired()))
            return
        if peer is None and isinstance(message, Hello | Heartbeat | Work):
            peer = self._peers.add(routing_id, now, key)
            if not isinstance(message, Hello):
                log.info("new coordinator %s: announcing this agent", peer.label)
                self._send(routing_id, self._ready())
        handler = self._handlers.get(type(message))
        if handler is None:
            kind = type(message).KIND.value
            self._rejects.warn("rejected %s from %s: agents do not accept it", kind,
                               peer.label if peer else routing_id.hex()[:8])
            self._send(routing_id, Error(code="unexpected_message", detail=f"an agent does not accept {kind}"))
            return
        handler(routing_id, peer, message, now)

    def _send(self, routing_id: bytes, message: Message) -> bool:
        return self._send_frames(routing_id, encode(message))

    def _send_frames(self, routing_id: bytes, frames: list[bytes]) -> bool:
        try:
            self._router.send_multipart([routing_id, *frames], zmq.NOBLOCK)
            return True
        except zmq.Again:
            self._drops.warn("coordinator %s is not reading: a message to it was dropped", routing_id.hex()[:8])
        except zmq.ZMQError as exc:
            if exc.errno != errno.EHOSTUNREACH:
                raise
            # Disconnected; it reconnects by itself, and its leases expire if the reply mattered.
            log.info("coordinator %s is not connected: a message to it was dropped", routing_id.hex()[:8])
        return False

    def _ready(self) -> Ready:
        identity = self._identity
        return Ready(
            agent_id=identity.agent_id,
            agent_name=identity.name,
            protocol=PROTOCOL_VERSION,
            version=identity.version,
            slots=self._slot_count,
            threads=self._threads,
            models=tuple(m.info() for m in self._catalog.models()),
            cpu=identity.cpu,
            host=identity.host,
            session=identity.session,
        )

    def _beat(self) -> None:
        busy = sum(1 for s in self._slots if s.task is not None)
        models = tuple(m.info() for m in self._catalog.models())
        for peer in self._peers:
            self._send(peer.routing_id, Heartbeat(busy=busy, slots=self._slot_count, models=models))

    def _drop_silent(self, now: float) -> None:
        for peer in self._peers.silent(now, self._expiry):
            self._drop(peer, f"silent for {now - peer.last_seen:.1f} s")

    def _drop(self, peer: Peer, why: str) -> None:
        self._peers.remove(peer)
        peer.gone = True
        if self._fetcher is not None:
            self._fetcher.peer_gone(peer.routing_id)
        discarded = len(peer.queued)
        peer.queued.clear()
        log.warning(
            "%s dropped (%s): %d queued chunk(s) discarded, %d running chunk(s) will be discarded",
            peer.label, why, discarded, len(peer.running),
        )

    @staticmethod
    def _known(routing_id: bytes, peer: Peer | None, now: float) -> Peer:
        """The peer for ``routing_id`` (recorded, and told who this agent is, by _on_frames)."""
        assert peer is not None
        return peer

    # --- message handlers -----------------------------------------------------------

    def _on_hello(self, routing_id: bytes, peer: Peer | None, message: Hello, now: float) -> None:
        peer = self._known(routing_id, peer, now)
        absorbed = self._peers.introduce(peer, message.coordinator_id, message.coordinator_name)
        if absorbed is not None:
            log.info("%s reconnected: %d queued and %d running chunk(s) follow it",
                     peer.label, len(peer.queued), len(peer.running))
        else:
            log.info("%s connected", peer.label)
        self._send(routing_id, self._ready())

    def _on_heartbeat(self, routing_id: bytes, peer: Peer | None, message: Heartbeat, now: float) -> None:
        peer = self._known(routing_id, peer, now)
        if message.wanted_models and self._may_fetch_from(peer):
            assert self._fetcher is not None
            self._fetcher.wanted(routing_id, message.wanted_models)

    def _may_fetch_from(self, peer: Peer) -> bool:
        """Whether models may come from ``peer``: it must be a coordinator this agent serves.

        A peer that has not said HELLO on this connection is not one yet.
        """
        return self._fetcher is not None and not self._draining and bool(peer.coordinator_id)

    def _on_model_piece(self, routing_id: bytes, peer: Peer | None, message: ModelPiece, now: float) -> None:
        if peer is None or not self._may_fetch_from(peer):
            self._rejects.warn("a model piece from %s was not asked for: dropped",
                               peer.label if peer else routing_id.hex()[:8])
            return
        assert self._fetcher is not None
        self._fetcher.piece(routing_id, message)

    def _on_work(self, routing_id: bytes, peer: Peer | None, message: Work, now: float) -> None:
        peer = self._known(routing_id, peer, now)
        if self._draining:
            self._send(routing_id, Released(lease_ids=(message.lease_id,)))
            return
        if peer.holds(message.lease_id):
            log.warning("duplicate WORK for lease %s from %s ignored", message.lease_id, peer.label)
            return
        queued_bytes = sum(len(t.work.payload) for t in peer.queued) + len(message.payload)
        if len(peer.queued) >= self._max_queued or queued_bytes > self._max_queued_bytes:
            log.warning("lease %s from %s refused: %d chunk(s) already queued", message.lease_id,
                        peer.label, len(peer.queued))
            self._fail(routing_id, message, AgentBusyError(agent=self._identity.name))
            return
        peer.queued.append(Task(work=message, peer=peer, received=now))
        log.debug("lease %s (job %s chunk %s attempt %d) queued from %s", message.lease_id,
                  message.job_id, message.chunk_id, message.attempt, peer.label)

    def _on_cancel(self, routing_id: bytes, peer: Peer | None, message: Cancel, now: float) -> None:
        if peer is None:
            return
        for task in peer.queued:
            if task.work.lease_id == message.lease_id:
                peer.queued.remove(task)
                log.info("lease %s cancelled by %s before it started", message.lease_id, peer.label)
                return
        if message.lease_id in peer.running:
            peer.cancelled.add(message.lease_id)
            log.info("lease %s cancelled by %s while running: its result will be dropped",
                     message.lease_id, peer.label)

    def _on_bye(self, routing_id: bytes, peer: Peer | None, message: Bye, now: float) -> None:
        if peer is not None:
            self._drop(peer, f"said goodbye: {message.reason or 'no reason given'}")

    def _on_error(self, routing_id: bytes, peer: Peer | None, message: Error, now: float) -> None:
        self._rejects.warn("%s rejected a message from this agent: %s [%s]",
                           peer.label if peer else routing_id.hex()[:8], message.detail, message.code)

    # --- pairing (any key) ---------------------------------------------------------

    def _pair_result(self, routing_id: bytes, *, error: SttdeskError | None = None) -> None:
        self._send(routing_id, PairResult(
            paired=error is None, agent_id=self._identity.agent_id, agent_name=self._identity.name,
            error=ErrorInfo.from_error(error) if error is not None else None,
        ))

    def _on_pair_request(self, routing_id: bytes, key: bytes, message: PairRequest) -> None:
        if self._trust.is_trusted(key):
            self._send(routing_id, PairChallenge(agent_id=self._identity.agent_id, agent_name=self._identity.name,
                                                 paired=True, expires_seconds=0.0, attempts_left=0))
            return
        name = message.coordinator_name[:80] or message.coordinator_id[:80]
        try:
            offer = self._pairing.request(key, name)
        except SttdeskError as exc:
            self._refusals.warn("pairing request from key %s refused: %s", fingerprint(key), exc.user_message("en"))
            self._pair_result(routing_id, error=exc)
            return
        left = max(0.0, offer.expires - time.time())
        log.info("PAIRING CODE %s for coordinator %r (key fingerprint %s); valid for %.0f s. "
                 "Type it where pairing was started (sttdesk agents pair).", offer.shown, name,
                 fingerprint(key), left)
        self._publish_pairing()
        self._send(routing_id, PairChallenge(agent_id=self._identity.agent_id, agent_name=self._identity.name,
                                             paired=False, expires_seconds=max(left, 1.0),
                                             attempts_left=offer.attempts_left))

    def _on_pair_exchange(self, routing_id: bytes, key: bytes, message: PairExchange) -> None:
        try:
            answer, confirm, attempts_left = self._pairing.exchange(key, bytes.fromhex(message.spake))
        except SttdeskError as exc:
            self._refusals.warn("pairing attempt from key %s refused: %s", fingerprint(key), exc.user_message("en"))
            self._publish_pairing()
            self._pair_result(routing_id, error=exc)
            return
        self._send(routing_id, PairExchange(spake=answer.hex(), confirm=confirm, attempts_left=attempts_left))

    def _on_pair_confirm(self, routing_id: bytes, key: bytes, message: PairConfirm) -> None:
        try:
            offer = self._pairing.confirm(key, message.confirm)
        except SttdeskError as exc:
            self._publish_pairing()
            self._pair_result(routing_id, error=exc)
            return
        try:
            self._trust.trust(key, name=offer.coordinator_name, how="paired")
        except SttdeskError as exc:
            log.error("paired with %r but cannot keep its key: %s", offer.coordinator_name, exc.user_message("en"))
            self._pair_result(routing_id, error=exc)
            return
        log.info("paired with coordinator %r (key fingerprint %s): it is trusted from now on",
                 offer.coordinator_name, fingerprint(key))
        self._publish_pairing()
        self._pair_result(routing_id)

    def _publish_pairing(self) -> None:
        try:
            self._on_pairing_change(self._pairing.offers())
        except Exception:
            log.exception("could not publish the open pairing codes")

    def _fail(self, routing_id: bytes, work: Work, error: SttdeskError) -> None:
        self._send(routing_id, Failure(lease_id=work.lease_id, job_id=work.job_id, chunk_id=work.chunk_id,
                                       attempt=work.attempt, error=ErrorInfo.from_error(error)))


def _is_failure(header: bytes) -> bool:
    """Whether a slot's reply (its encoded header frame) is a FAILURE rather than a RESULT."""
    try:
        return json.loads(header).get("kind") == MessageKind.FAILURE.value
    except (ValueError, AttributeError):
        return False
