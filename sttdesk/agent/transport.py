"""The agent's one ZeroMQ socket: a ROUTER that coordinators connect to.

:func:`make_agent_socket` is the only place the agent's socket is configured;
securing the link (CURVE server keys, a ZAP allow-list) belongs here too.
"""

from __future__ import annotations

import zmq

from ..protocol import MAX_HEADER_BYTES, MAX_PAYLOAD_BYTES
from .errors import AgentBindError

#: Messages queued per coordinator before the agent drops further sends to it.
SEND_HWM = 1000
#: Messages queued from all coordinators before the agent stops reading the network.
RECEIVE_HWM = 1000


def agent_endpoint(host: str, port: int) -> str:
    """The ZeroMQ endpoint for ``host`` (address, interface name or ``*``) and ``port`` (0 = any)."""
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"  # an IPv6 address
    return f"tcp://{host}:{port if port else '*'}"


def make_agent_socket(context: zmq.Context, endpoint: str) -> zmq.Socket:
    """A ROUTER socket bound to ``endpoint``; raises AgentBindError if it cannot listen there."""
    sock = context.socket(zmq.ROUTER)
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
