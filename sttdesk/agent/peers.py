"""The coordinators an agent serves, their leases, and the fair order it runs them in.

No sockets here: the runtime feeds this table what it hears and asks it which
chunk to run next. Coordinators are known by their ROUTER routing id; a HELLO
that carries a ``coordinator_id`` already known under another routing id (the
coordinator reconnected) moves that coordinator's leases to the new id, so the
replies still reach it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field

from ..protocol import Work


@dataclass(slots=True, eq=False)
class Peer:
    """One coordinator, as this agent knows it."""

    routing_id: bytes
    #: Monotonic time anything was last heard from it.
    last_seen: float
    #: Its CURVE public key (Z85): every message on ``routing_id`` must come from this key.
    key: bytes = b""
    #: From its HELLO; empty until it has said HELLO on this connection.
    coordinator_id: str = ""
    name: str = ""
    #: Work received and not yet started, oldest first.
    queued: deque[Task] = field(default_factory=deque)
    #: Work running in a slot, by lease id.
    running: dict[str, Task] = field(default_factory=dict)
    #: Running leases it cancelled: their results are thrown away.
    cancelled: set[str] = field(default_factory=set)
    #: Set once it is dropped (BYE, silence): its running work is finished and thrown away.
    gone: bool = False

    @property
    def label(self) -> str:
        """How the log names it."""
        if self.name or self.coordinator_id:
            return f"{self.name or '?'} ({self.coordinator_id or self.routing_id.hex()[:8]})"
        return f"coordinator {self.routing_id.hex()[:8]}"

    def holds(self, lease_id: str) -> bool:
        return lease_id in self.running or any(t.work.lease_id == lease_id for t in self.queued)


@dataclass(slots=True, eq=False)
class Task:
    """One WORK message on its way through the agent."""

    work: Work
    peer: Peer
    #: Monotonic time the WORK arrived; its deadline counts from here.
    received: float


class PeerTable:
    """The coordinators by routing id, and the fair choice of the next chunk to run."""

    def __init__(self) -> None:
        self._peers: dict[bytes, Peer] = {}
        #: Routing ids in round-robin order; the next pick starts after the last one served.
        self._order: list[bytes] = []
        self._cursor = 0

    def __len__(self) -> int:
        return len(self._peers)

    def __iter__(self) -> Iterator[Peer]:
        # A copy: callers drop peers while iterating.
        return iter(list(self._peers.values()))

    def get(self, routing_id: bytes) -> Peer | None:
        return self._peers.get(routing_id)

    def add(self, routing_id: bytes, now: float, key: bytes = b"") -> Peer:
        """A new coordinator heard on ``routing_id``, sending with CURVE key ``key``."""
        peer = Peer(routing_id=routing_id, last_seen=now, key=key)
        self._peers[routing_id] = peer
        self._order.append(routing_id)
        return peer

    def introduce(self, peer: Peer, coordinator_id: str, name: str) -> Peer | None:
        """Record ``peer``'s HELLO. Returns the earlier entry of the same coordinator it absorbed, if any.

        The earlier entry's queued and running work moves to ``peer`` (the live connection);
        the earlier entry leaves the table. Only an entry with the same CURVE key is taken
        over: another key claiming the same coordinator id gets none of its work.
        """
        peer.coordinator_id = coordinator_id
        peer.name = name
        old = next(
            (p for p in self._peers.values()
             if p is not peer and p.coordinator_id == coordinator_id and p.key == peer.key), None
        )
        if old is None:
            return None
        self.remove(old)
        old.gone = True
        for task in old.queued:
            task.peer = peer
        for task in old.running.values():
            task.peer = peer
        # Older work first: it has been waiting longer.
        peer.queued = deque([*old.queued, *peer.queued])
        peer.running.update(old.running)
        peer.cancelled |= old.cancelled
        old.queued.clear()
        old.running.clear()
        return old

    def remove(self, peer: Peer) -> None:
        """Forget ``peer`` (its Task objects keep pointing at it)."""
        if self._peers.get(peer.routing_id) is not peer:
            return
        del self._peers[peer.routing_id]
        index = self._order.index(peer.routing_id)
        del self._order[index]
        if index < self._cursor:
            self._cursor -= 1
        if self._order:
            self._cursor %= len(self._order)
        else:
            self._cursor = 0

    def silent(self, now: float, expiry: float) -> list[Peer]:
        """Coordinators not heard from for more than ``expiry`` seconds."""
        return [p for p in self._peers.values() if now - p.last_seen > expiry]

    def queued_count(self) -> int:
        return sum(len(p.queued) for p in self._peers.values())

    def next_task(self) -> Task | None:
        """Take the next chunk to run, fairly between coordinators.

        The coordinator with the fewest chunks running goes first, so each gets an equal
        share of the slots; among equals, round-robin from the one after the last served.
        """
        count = len(self._order)
        best: Peer | None = None
        best_step = 0
        for step in range(count):
            peer = self._peers[self._order[(self._cursor + step) % count]]
            if peer.queued and (best is None or len(peer.running) < len(best.running)):
                best, best_step = peer, step
        if best is None:
            return None
        self._cursor = (self._cursor + best_step + 1) % count
        return best.queued.popleft()
