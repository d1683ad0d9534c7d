"""What the coordinator knows about each agent it talks to (no sockets here)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..protocol import HEARTBEAT_INTERVAL, HEARTBEAT_LIVENESS


@dataclass(slots=True)
class AgentLink:
    """One agent endpoint as seen from this coordinator."""

    endpoint: str
    #: Started by this app on loopback (the local pool), not found on the LAN.
    local: bool = False
    #: Filled in from the agent's READY message.
    agent_id: str | None = None
    name: str = ""
    host: str = ""
    cpu: str = ""
    #: The sttdesk version the agent runs.
    version: str = ""
    slots: int = 0
    threads: int = 0
    #: Model name -> sha256 of the models the agent has.
    models: dict[str, str] = field(default_factory=dict)
    #: Lease ids currently held by the agent.
    leases: set[str] = field(default_factory=set)
    #: Last time anything was heard from the agent (clock seconds); None before READY.
    last_seen: float | None = None
    #: When HELLO was last sent, to repeat it until the agent answers.
    hello_sent: float | None = None
    #: HELLOs sent on the current socket and not answered yet. The agent answers each HELLO
    #: with one READY; a READY beyond these came unasked: the agent does not know us (any more).
    hellos_unanswered: int = 0
    #: Set when the agent stopped answering; cleared by its next READY.
    lost: bool = False
    #: The agent process's run id from READY: a new one means it restarted.
    session: str | None = None
    #: Measured speed: seconds of audio one slot transcribes per second of engine time,
    #: smoothed over its results; None until its first result.
    speed: float | None = None
    #: The agent's CURVE public key (Z85): the link is encrypted to it and only this key can answer.
    server_key: bytes = b""
    #: Whether this coordinator trusts the agent's key (paired, or a local agent): only then
    #: does it get work, audio or models.
    trusted: bool = False
    #: The agent answered "not paired": it does not trust this coordinator (yet).
    refused: bool = False

    @property
    def ready(self) -> bool:
        return self.agent_id is not None and not self.lost

    @property
    def free_slots(self) -> int:
        """Credit: how many more chunks the agent may hold right now (none unless trusted)."""
        return max(0, self.slots - len(self.leases)) if self.ready and self.trusted else 0

    def is_silent(self, now: float, *, interval: float = HEARTBEAT_INTERVAL,
                  liveness: int = HEARTBEAT_LIVENESS) -> bool:
        """Whether the agent missed ``liveness`` heartbeats in a row."""
        return self.last_seen is not None and now - self.last_seen > interval * liveness

    def has_model(self, name: str, sha256: str | None) -> bool:
        """Whether the agent announced model ``name`` (with exactly this sha256, when given)."""
        if name not in self.models:
            return False
        return sha256 is None or not self.models[name] or self.models[name] == sha256
