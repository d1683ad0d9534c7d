"""LAN agents for GUI tests and screenshots without zeroconf: a stand-in browser fed by hand with
what zeroconf would report for real agent processes on loopback."""

from __future__ import annotations

from typing import Any

from sttdesk.announcement import AgentAnnouncement
from sttdesk.cluster.discovery import DiscoveredAgent
from sttdesk.security.keys import fingerprint, key_directory, load_or_create_keypair
from sttdesk.security.trust import TRUSTED_AGENTS_FILE, TrustStore
from sttdesk.service.agent_directory import AgentDirectory


class Browser:
    """Stands in for zeroconf: the caller announces and withdraws agents through ``on_change``."""

    def __init__(self, on_change: Any) -> None:
        self.on_change = on_change

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass


def use_lan_directory(core: Any) -> Browser:
    """Give ``core`` an agent directory that finds LAN agents through the returned stand-in browser,
    with the core's own trust list and keys (so that pairing is real)."""
    browsers: list[Browser] = []
    keys_dir = key_directory(core.paths.data_dir)
    core.agents = AgentDirectory(
        core.coordinator, core.events, manual=[], save_manual=lambda _addresses: None,
        browser_factory=lambda on_change: browsers.append(Browser(on_change)) or browsers[-1],
        trust_store=TrustStore(keys_dir / TRUSTED_AGENTS_FILE), keys=load_or_create_keypair(keys_dir),
        coordinator_id=core.coordinator.coordinator_id, coordinator_name=core.coordinator.name)
    core.agents.start()
    return browsers[0]


def announcement(agent: Any, name: str) -> DiscoveredAgent:
    """What zeroconf would report for the real ``agent`` process (tests.agent.harness.AgentProcess):
    its address, port and key."""
    host, port = agent.endpoint.removeprefix("tcp://").rsplit(":", 1)
    card = AgentAnnouncement(agent_id=agent.agent_id, name=name, protocol=1, version="0.1", slots=1, threads=1,
                             models=("base-q8_0",), public_key=agent.key.decode(), fingerprint=fingerprint(agent.key))
    return DiscoveredAgent(instance=name.lower(), card=card, addresses=(host,), port=int(port))
