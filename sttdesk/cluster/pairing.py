"""Pairing with one agent over the wire: the coordinator's side of :mod:`sttdesk.security.pairing`.

:func:`pair_with_agent` opens its own short-lived CURVE connection to the agent
(so it works from the CLI beside a running app, or from the GUI), asks for a
code, lets the caller ask the user for it, and on success records the agent's
key in the trust list. Blocking; every wait has a deadline.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import zmq

from .. import protocol as wire
from ..domain.errors import SttdeskError
from ..security.errors import PairingCodeWrongError, PairingFailedError
from ..security.keys import KeyPair, fingerprint, parse_public_key
from ..security.pairing import PairingAttempt
from ..security.trust import TrustedPeer, TrustStore
from .coordinator import make_coordinator_socket, new_routing_id

log = logging.getLogger(__name__)

#: Seconds to wait for each answer of the agent (a wrong key never answers at all).
DEFAULT_REPLY_TIMEOUT = 10.0

M = TypeVar("M")


@dataclass(frozen=True, slots=True)
class PairingChallengeInfo:
    """What the user is told while asked for the code."""

    agent_id: str
    agent_name: str
    #: The agent's key fingerprint, to compare with the one the agent shows.
    fingerprint: str
    #: Seconds the code stays valid, and the tries it has left.
    expires_seconds: float
    attempts_left: int


@dataclass(frozen=True, slots=True)
class PairingOutcome:
    """A finished pairing: the agent now trusts us and we trust it."""

    agent_id: str
    agent_name: str
    endpoint: str
    public_key: bytes
    #: The agent trusted this coordinator already; no code was needed.
    already_paired: bool
    peer: TrustedPeer


def pair_with_agent(
    endpoint: str,
    agent_key: bytes | str,
    *,
    keys: KeyPair,
    trust: TrustStore,
    ask_code: Callable[[PairingChallengeInfo], str | None],
    coordinator_id: str,
    coordinator_name: str,
    reply_timeout: float = DEFAULT_REPLY_TIMEOUT,
    context: zmq.Context | None = None,
) -> PairingOutcome:
    """Pair with the agent at ``endpoint`` whose public key is ``agent_key``.

    ``ask_code`` is called with what the agent said and returns the code the user typed
    (None gives up); after a wrong code it is called again while the code has tries left.
    Raises PairingFailedError (no answer, refused), PairingCodeWrongError (out of tries),
    PairingExpiredError, PairingRateLimitedError.
    """
    server_key = parse_public_key(agent_key)
    ctx = context or zmq.Context.instance()
    sock = make_coordinator_socket(ctx, endpoint, new_routing_id(), keys=keys, server_key=server_key)
    try:
        link = _Link(sock, endpoint, reply_timeout)
        link.send(wire.PairRequest(coordinator_id=coordinator_id, coordinator_name=coordinator_name))
        challenge = link.expect(wire.PairChallenge)
        if challenge.paired:
            peer = trust.trust(server_key, name=challenge.agent_name, peer_id=challenge.agent_id,
                               endpoint=endpoint, how="paired")
            return PairingOutcome(agent_id=challenge.agent_id, agent_name=challenge.agent_name, endpoint=endpoint,
                                  public_key=server_key, already_paired=True, peer=peer)
        info = PairingChallengeInfo(agent_id=challenge.agent_id, agent_name=challenge.agent_name,
                                    fingerprint=fingerprint(server_key), expires_seconds=challenge.expires_seconds,
                                    attempts_left=challenge.attempts_left)
        label = f"{challenge.agent_name} ({challenge.agent_id})"
        while True:
            code = ask_code(info)
            if code is None:
                raise PairingFailedError("cancelled", agent=label)
            attempt = PairingAttempt(coordinator_key=keys.public, agent_key=server_key, code=code)
            link.send(wire.PairExchange(spake=attempt.message.hex()))
            answer = link.expect(wire.PairExchange)
            try:
                confirm = attempt.finish(bytes.fromhex(answer.spake), answer.confirm, agent_label=label,
                                         attempts_left=answer.attempts_left)
            except PairingCodeWrongError:
                link.send(wire.PairConfirm(confirm=""))  # lets the agent log and count it now
                link.expect(wire.PairResult)
                if answer.attempts_left <= 0:
                    raise
                info = PairingChallengeInfo(**{**_fields(info), "attempts_left": answer.attempts_left})
                log.warning("wrong pairing code for %s; %d attempt(s) left", label, answer.attempts_left)
                continue
            link.send(wire.PairConfirm(confirm=confirm))
            result = link.expect(wire.PairResult)
            if not result.paired:
                raise _error_of(result, label)
            peer = trust.trust(server_key, name=result.agent_name, peer_id=result.agent_id, endpoint=endpoint,
                               how="paired")
            log.info("paired with agent %s at %s (key %s)", label, endpoint, fingerprint(server_key))
            return PairingOutcome(agent_id=result.agent_id, agent_name=result.agent_name, endpoint=endpoint,
                                  public_key=server_key, already_paired=False, peer=peer)
    finally:
        sock.close(0)


def _fields(info: PairingChallengeInfo) -> dict[str, Any]:
    return {name: getattr(info, name) for name in info.__slots__}  # type: ignore[attr-defined]


def _error_of(result: wire.PairResult, label: str) -> SttdeskError:
    if result.error is None:
        return PairingFailedError("the agent refused without a reason", agent=label)
    return result.error.to_error()  # type: ignore[return-value]


class _Link:
    """One DEALER socket, a message at a time, each answer awaited with a deadline."""

    def __init__(self, sock: zmq.Socket, endpoint: str, timeout: float) -> None:
        self._sock = sock
        self._endpoint = endpoint
        self._timeout = timeout

    def send(self, message: Any) -> None:
        self._sock.send_multipart(wire.encode(message))

    def expect(self, kind: type[M]) -> M:
        """The next message of ``kind`` (heartbeats skipped); a PAIR_RESULT or ERROR instead raises."""
        deadline = time.monotonic() + self._timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not self._sock.poll(left * 1000):
                raise PairingFailedError(
                    f"no answer from {self._endpoint} within {self._timeout:.0f} s (is the agent running, "
                    "and is this its public key?)", agent=self._endpoint)
            try:
                message = wire.decode(self._sock.recv_multipart())
            except wire.ProtocolError as exc:
                raise PairingFailedError(f"the agent sent a bad message ({exc.detail})", agent=self._endpoint) from exc
            if isinstance(message, kind):
                return message
            if isinstance(message, wire.PairResult):
                raise _error_of(message, self._endpoint)
            if isinstance(message, wire.Error):
                raise PairingFailedError(f"{message.detail} [{message.code}]", agent=self._endpoint)
