"""The agent's one ZeroMQ socket: a ROUTER that coordinators connect to, over CURVE.

:func:`make_agent_socket` is the only place the agent's socket is configured. The
agent is a CURVE server with its long-lived key pair: every link is encrypted,
and a client must know the agent's public key to connect at all (a wrong key
never completes the handshake). Which coordinator may do what is decided per
message by the runtime, from the client's CURVE public key, which
:class:`ZapHandler` (ZeroMQ's authentication protocol, RFC 27) puts on every
message as its ``User-Id``. The handler admits every well-formed CURVE client,
so that an unknown coordinator can ask to pair; it gets nothing else.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections import OrderedDict

import zmq
from zmq.utils import z85

from ..protocol import MAX_HEADER_BYTES, MAX_PAYLOAD_BYTES
from ..security.keys import KeyPair, fingerprint
from .errors import AgentBindError

log = logging.getLogger(__name__)

#: The inproc address libzmq sends authentication requests to (RFC 27).
ZAP_ENDPOINT = "inproc://zeromq.zap.01"
#: ZAP domain of the agent's socket (any non-empty value makes libzmq ask the handler).
ZAP_DOMAIN = "sttdesk-agent"
#: Client keys the handler remembers, so only a key's first connection is logged.
REMEMBERED_CLIENT_KEYS = 1024
#: How often the handler thread checks whether it should stop (ms).
_ZAP_POLL_MS = 200

#: Messages queued per coordinator before the agent drops further sends to it.
SEND_HWM = 1000
#: Messages queued from all coordinators before the agent stops reading the network.
RECEIVE_HWM = 1000
#: Time a connection has to complete its CURVE handshake (ms).
HANDSHAKE_TIMEOUT_MS = 10_000


def agent_endpoint(host: str, port: int) -> str:
    """The ZeroMQ endpoint for ``host`` (address, interface name or ``*``) and ``port`` (0 = any)."""
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"  # an IPv6 address
    return f"tcp://{host}:{port if port else '*'}"


class ZapHandler:
    """Answers libzmq's authentication requests for one context, in a thread of its own.

    Every CURVE client is admitted with its public key (Z85) as ``User-Id``; any other
    mechanism is refused (the agent's socket speaks only CURVE, so that cannot happen
    unless something is misconfigured). Start it before binding the agent's socket and
    stop it before terminating the context.
    """

    def __init__(self, context: zmq.Context) -> None:
        self._context = context
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._seen: OrderedDict[bytes, None] = OrderedDict()
        self._error: BaseException | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> ZapHandler:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="zap-handler", daemon=True)
            self._thread.start()
            self._ready.wait(10)
            if self._error is not None:
                raise self._error
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def _run(self) -> None:
        sock = self._context.socket(zmq.REP)
        sock.setsockopt(zmq.LINGER, 0)
        try:
            sock.bind(ZAP_ENDPOINT)
        except zmq.ZMQError as exc:
            self._error = exc
            self._ready.set()
            sock.close(0)
            return
        self._ready.set()
        try:
            while not self._stop.is_set():
                if not sock.poll(_ZAP_POLL_MS):
                    continue
                request = sock.recv_multipart()
                sock.send_multipart(self._answer(request))
        except zmq.ContextTerminated:
            pass
        finally:
            sock.close(0)

    def _answer(self, request: list[bytes]) -> list[bytes]:
        if len(request) < 6:
            # Too short to know whom to answer; libzmq never sends this.
            return [b"1.0", request[1] if len(request) > 1 else b"", b"400", b"bad request", b"", b""]
        version, request_id, _domain, address, _identity, mechanism = request[:6]
        credentials = request[6:]
        if version != b"1.0" or mechanism != b"CURVE" or len(credentials) != 1 or len(credentials[0]) != 32:
            log.warning("refused a %s connection from %s: the agent speaks only CURVE",
                        mechanism.decode("ascii", "replace")[:20], address.decode("ascii", "replace"))
            return [b"1.0", request_id, b"400", b"CURVE only", b"", b""]
        client_key = z85.encode(credentials[0])
        if client_key not in self._seen:
            log.info("CURVE connection from %s, key fingerprint %s",
                     address.decode("ascii", "replace"), fingerprint(client_key))
            self._seen[client_key] = None
            if len(self._seen) > REMEMBERED_CLIENT_KEYS:
                self._seen.popitem(last=False)
        return [b"1.0", request_id, b"200", b"OK", client_key, b""]


def sender_key(frame: zmq.Frame) -> bytes | None:
    """The CURVE public key (Z85) of the coordinator that sent ``frame``, from its User-Id."""
    try:
        user_id = frame.get("User-Id")
    except zmq.ZMQError:
        return None
    if not user_id:
        return None
    key = user_id.encode("ascii", "replace") if isinstance(user_id, str) else bytes(user_id)
    return key if len(key) == 40 else None


def make_agent_socket(context: zmq.Context, endpoint: str, *, keys: KeyPair, zap: ZapHandler) -> zmq.Socket:
    """A CURVE-server ROUTER socket bound to ``endpoint``; raises AgentBindError if it cannot listen there.

    ``zap`` must be running: without a handler libzmq would admit clients without telling
    the agent who they are.
    """
    if not zap.running:
        raise RuntimeError("start the ZAP handler before making the agent's socket")
    sock = context.socket(zmq.ROUTER)
    sock.setsockopt(zmq.CURVE_SERVER, 1)
    sock.setsockopt(zmq.CURVE_SECRETKEY, keys.secret)
    sock.setsockopt(zmq.CURVE_PUBLICKEY, keys.public)
    sock.setsockopt_string(zmq.ZAP_DOMAIN, ZAP_DOMAIN)
    # A handshake that never completes (garbage, a stalled peer) does not hold a connection forever.
    sock.setsockopt(zmq.HANDSHAKE_IVL, HANDSHAKE_TIMEOUT_MS)
    # Never wait on exit for a coordinator that is gone (the final BYE gets its own linger).
    sock.setsockopt(zmq.LINGER, 0)
    # Sending to a coordinator that is gone raises instead of vanishing, so it is noticed.
    sock.setsockopt(zmq.ROUTER_MANDATORY, 1)
    # A coordinator that reconnects with the same routing id takes over its old place.
    sock.setsockopt(zmq.ROUTER_HANDOVER, 1)
    # Frames bigger than any valid message cut the sender off before they fill memory;
    # smaller oversized frames reach the decoder, which rejects them with a reason.
    sock.setsockopt(zmq.MAXMSGSIZE, MAX_PAYLOAD_BYTES + MAX_HEADER_BYTES)
    sock.setsockopt(zmq.SNDHWM, SEND_HWM)
    sock.setsockopt(zmq.RCVHWM, RECEIVE_HWM)
    if "[" in endpoint:
        sock.setsockopt(zmq.IPV6, 1)
    try:
        sock.bind(endpoint)
    except zmq.ZMQError as exc:
        sock.close(0)
        raise AgentBindError(exc.strerror, endpoint=endpoint) from exc
    return sock


def bound_endpoint(sock: zmq.Socket) -> str:
    """The endpoint the socket actually listens on (the real port when bound to port 0)."""
    return sock.getsockopt_string(zmq.LAST_ENDPOINT)


#: Socket monitor events :class:`HandshakeWatch` needs.
WATCHED_EVENTS = (zmq.EVENT_ACCEPTED | zmq.EVENT_DISCONNECTED | zmq.EVENT_HANDSHAKE_SUCCEEDED
                  | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
                  | zmq.EVENT_HANDSHAKE_FAILED_AUTH)
_FAILURES = {
    zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL: "failed (wrong key, or not ZeroMQ at all)",
    zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL: "broke the protocol (garbled or replayed)",
    zmq.EVENT_HANDSHAKE_FAILED_AUTH: "was refused by authentication",
}
#: Connections still in their handshake that are tracked at once (older ones are forgotten).
MAX_TRACKED_HANDSHAKES = 1024


class HandshakeWatch:
    """Turns the agent socket's monitor events into warnings about refused connections.

    libzmq reports a failed CURVE handshake (wrong key, a replay) as an event, but a
    connection that never gets that far (garbage bytes, an HTTP request, a port scan)
    only as accepted then disconnected. The watch keeps the connections accepted and
    not yet through their handshake (by file descriptor, with the peer's address read
    when it was accepted): one that disconnects while still there was garbage.
    libzmq does not say which connection a handshake result belongs to, so results
    settle the oldest open one; with many handshakes at once a warning may name the
    wrong peer, never miss one.
    """

    def __init__(self, *, limit: int = MAX_TRACKED_HANDSHAKES) -> None:
        self._opening: OrderedDict[int, str] = OrderedDict()
        self._limit = limit

    def feed(self, event: int, value: int) -> str | None:
        """One monitor event; returns a warning to log, or None."""
        if event == zmq.EVENT_ACCEPTED:
            self._opening[value] = _peer_of(value)
            while len(self._opening) > self._limit:
                self._opening.popitem(last=False)
            return None
        if event == zmq.EVENT_HANDSHAKE_SUCCEEDED:
            if self._opening:
                self._opening.popitem(last=False)
            return None
        if event in _FAILURES:
            peer = self._opening.popitem(last=False)[1] if self._opening else ""
            return f"a connection{_from(peer)} was refused: its CURVE handshake {_FAILURES[event]} (error {value})"
        if event == zmq.EVENT_DISCONNECTED and value in self._opening:
            peer = self._opening.pop(value)
            return (f"a connection{_from(peer)} was refused: its CURVE handshake never completed "
                    "(not ZeroMQ, garbled, or too slow)")
        return None


def _from(peer: str) -> str:
    return f" from {peer}" if peer else ""


def _peer_of(fd: int) -> str:
    """The remote address of the connection on ``fd`` ("" when it is gone already)."""
    try:
        copy = os.dup(fd)
    except OSError:
        return ""
    try:
        with socket.socket(fileno=copy) as sock:
            host, port = sock.getpeername()[:2]
    except OSError:
        return ""
    return f"{host}:{port}"
