"""What an agent says about itself on the LAN: the zeroconf service type and its TXT record.

Agents register :data:`SERVICE_TYPE`; coordinators browse it. The TXT record is
the agent's business card, readable before any connection is made (the app's
agents panel shows it, and the coordinator decides from it whom to connect to):

=========== ===============================================================
``id``      agent id (stable across restarts; the key coordinators use)
``proto``   wire protocol version (:data:`sttdesk.protocol.PROTOCOL_VERSION`)
``ver``     sttdesk version
``name``    human name (may differ from the zeroconf instance name, which
            is made unique on the LAN)
``slots``   chunks it transcribes at once
``threads`` CPU threads per chunk
``models``  installed model names, comma-separated (cut to fit one TXT
            string; ``models_more`` then counts the rest)
``cpu``     processor description
``key``     CURVE public key (Z85), when the agent has one
``fp``      fingerprint of that key, the text users compare when pairing
=========== ===============================================================

Stdlib only: both sides (agent and coordinator) use it, and neither's zeroconf
objects leak into the other.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

#: The DNS-SD service type agents register.
SERVICE_TYPE = "_sttdesk-agent._tcp.local."
#: One TXT string ("key=value") may hold at most 255 bytes.
TXT_STRING_LIMIT = 255
#: Longest instance label DNS allows (bytes); longer names are cut.
INSTANCE_LABEL_LIMIT = 63


class AnnouncementError(ValueError):
    """A TXT record that is not an sttdesk agent's (a missing or unreadable field)."""


@dataclass(frozen=True, slots=True)
class AgentAnnouncement:
    """The fields of an agent's TXT record (see the module docstring)."""

    agent_id: str
    name: str
    protocol: int
    version: str
    slots: int
    threads: int
    models: tuple[str, ...] = ()
    #: Models beyond those listed that did not fit in the record.
    models_more: int = 0
    cpu: str = ""
    #: CURVE public key, Z85 text; empty when the agent announces none.
    public_key: str = ""
    fingerprint: str = ""

    def properties(self) -> dict[str, str]:
        """The TXT record as zeroconf's ``properties`` (every string within the DNS limit)."""
        props = {
            "id": self.agent_id,
            "proto": str(self.protocol),
            "ver": self.version,
            "name": self.name,
            "slots": str(self.slots),
            "threads": str(self.threads),
            "cpu": self.cpu,
        }
        listed, more = _fit_list("models", self.models)
        props["models"] = listed
        if more or self.models_more:
            props["models_more"] = str(more + self.models_more)
        if self.public_key:
            props["key"] = self.public_key
            props["fp"] = self.fingerprint
        return {key: _fit(key, value) for key, value in props.items()}

    @classmethod
    def from_properties(cls, props: Mapping[bytes | str, bytes | str | None]) -> AgentAnnouncement:
        """Read a TXT record; raises AnnouncementError when it is not an agent's."""
        text: dict[str, str] = {}
        for key, value in props.items():
            name = key.decode("utf-8", "replace") if isinstance(key, bytes) else key
            if value is None:
                text[name] = ""
            else:
                text[name] = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
        agent_id = text.get("id", "").strip()
        if not agent_id:
            raise AnnouncementError("the record has no agent id")
        try:
            protocol = int(text.get("proto", ""))
            slots = int(text.get("slots", "0") or 0)
            threads = int(text.get("threads", "0") or 0)
            more = int(text.get("models_more", "0") or 0)
        except ValueError as exc:
            raise AnnouncementError(f"a number field is not a number: {exc}") from None
        if slots < 0 or threads < 0 or more < 0:
            raise AnnouncementError("slots, threads and models_more cannot be negative")
        models = tuple(m for m in text.get("models", "").split(",") if m)
        return cls(
            agent_id=agent_id, name=text.get("name", "") or agent_id, protocol=protocol,
            version=text.get("ver", ""), slots=slots, threads=threads, models=models, models_more=more,
            cpu=text.get("cpu", ""), public_key=text.get("key", ""), fingerprint=text.get("fp", ""),
        )


def instance_label(name: str) -> str:
    """``name`` as a zeroconf instance label: no dots (they separate labels), within 63 bytes."""
    label = " ".join(name.replace(".", "-").split()) or "sttdesk-agent"
    encoded = label.encode("utf-8")[:INSTANCE_LABEL_LIMIT]
    return encoded.decode("utf-8", "ignore")


def _fit(key: str, value: str) -> str:
    """``value`` cut so that ``key=value`` fits one TXT string (never mid-character)."""
    room = TXT_STRING_LIMIT - len(key.encode("utf-8")) - 1
    return value.encode("utf-8")[:room].decode("utf-8", "ignore")


def _fit_list(key: str, items: tuple[str, ...]) -> tuple[str, int]:
    """Comma-joined ``items`` that fit one TXT string, and how many were left out."""
    room = TXT_STRING_LIMIT - len(key.encode("utf-8")) - 1
    kept: list[str] = []
    used = 0
    for item in items:
        size = len(item.encode("utf-8")) + (1 if kept else 0)
        if used + size > room:
            break
        kept.append(item)
        used += size
    return ",".join(kept), len(items) - len(kept)
