"""AgentDirectory: found agents become events and connections (trusted only); agents added by
address persist in the settings file and come back on the next start."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from sttdesk.announcement import AgentAnnouncement
from sttdesk.cluster.discovery import DiscoveredAgent
from sttdesk.security.keys import fingerprint, generate_keypair
from sttdesk.security.trust import TrustStore
from sttdesk.service.agent_directory import (
    AgentAmbiguousError,
    AgentDirectory,
    AgentKeyRequiredError,
    AgentNotFoundError,
    InvalidAgentAddressError,
    normalize_address,
    pair_target,
)
from sttdesk.service.events import EventBus, EventKind, ServiceEvent
from sttdesk.settings import load_settings

WAIT = 5.0


@dataclass
class Link:
    endpoint: str
    ready: bool = True


@dataclass
class FakeCoordinator:
    """Records add/remove calls (the real coordinator is tested in tests/cluster and tests/lan)."""

    links: dict[str, Link] = field(default_factory=dict)
    calls: list[tuple[str, str]] = field(default_factory=list)
    #: The server key each add_agent call gave (None: left to the coordinator's lookup).
    keys: dict[str, Any] = field(default_factory=dict)

    def add_agent(self, endpoint: str, *, server_key: Any = None, local: bool = False) -> None:
        self.calls.append(("add", endpoint))
        self.keys[endpoint] = server_key
        self.links[endpoint] = Link(endpoint)

    def remove_agent(self, endpoint: str, *, crashed: bool = False) -> None:
        self.calls.append(("remove", endpoint))
        self.links.pop(endpoint, None)

    def agents(self) -> list[Link]:
        return list(self.links.values())


class FakeBrowser:
    def __init__(self, on_change: Any) -> None:
        self.on_change = on_change
        self.running = False

    def start(self) -> None:
        self.running = True

    def stop(self) -> None:
        self.running = False


def agent(agent_id: str, address: str, *, instance: str | None = None, models: tuple[str, ...] = ("base",),
          key: str = "") -> DiscoveredAgent:
    card = AgentAnnouncement(agent_id=agent_id, name=agent_id, protocol=1, version="0.1", slots=2, threads=1,
                             models=models, public_key=key, fingerprint=fingerprint(key) if key else "")
    return DiscoveredAgent(instance=instance or agent_id, card=card, addresses=(address,), port=7878)


class Events:
    def __init__(self, bus: EventBus) -> None:
        self.items: list[ServiceEvent] = []
        self._cond = threading.Condition()
        bus.subscribe(self._add)

    def _add(self, event: ServiceEvent) -> None:
        with self._cond:
            self.items.append(event)
            self._cond.notify_all()

    def wait(self, kind: EventKind, count: int = 1) -> list[ServiceEvent]:
        with self._cond:
            assert self._cond.wait_for(lambda: len(self.of(kind)) >= count, WAIT), self.items
            return self.of(kind)

    def of(self, kind: EventKind) -> list[ServiceEvent]:
        return [e for e in self.items if e.kind is kind]


@pytest.fixture
def bus():  # type: ignore[no-untyped-def]
    events = EventBus()
    yield events
    events.close()


def make(bus: EventBus, *, trust: Any = lambda a: True, manual: list[str] | None = None):  # type: ignore[no-untyped-def]
    coordinator = FakeCoordinator()
    saved: list[list[str]] = []
    browsers: list[FakeBrowser] = []

    def factory(on_change: Any) -> FakeBrowser:
        browsers.append(FakeBrowser(on_change))
        return browsers[-1]

    directory = AgentDirectory(coordinator, bus, manual=manual or [], save_manual=saved.append,
                               browser_factory=factory, trust=trust)
    directory.start()
    return directory, coordinator, saved, browsers[0]


def test_found_agents_are_connected_and_followed_to_a_new_address(bus: EventBus) -> None:
    events = Events(bus)
    directory, coordinator, _, browser = make(bus)
    browser.on_change("found", agent("pc1", "10.0.0.5"))
    found = events.wait(EventKind.AGENT_FOUND)[0].data
    assert found["agent_id"] == "pc1" and found["trusted"] is True
    assert coordinator.calls == [("add", "tcp://10.0.0.5:7878")]

    browser.on_change("updated", agent("pc1", "10.0.0.9"))
    updated = events.wait(EventKind.AGENT_UPDATED)[0].data
    assert updated["moved"] is True and updated["previous_endpoint"] == "tcp://10.0.0.5:7878"
    assert coordinator.calls[1:] == [("remove", "tcp://10.0.0.5:7878"), ("add", "tcp://10.0.0.9:7878")]
    assert [f.connected_endpoint for f in directory.found()] == ["tcp://10.0.0.9:7878"]

    # New models only: same connection.
    browser.on_change("updated", agent("pc1", "10.0.0.9", models=("base", "small")))
    assert events.wait(EventKind.AGENT_UPDATED, 2)[1].data["moved"] is False
    assert len(coordinator.calls) == 3


def test_an_untrusted_agent_is_listed_but_never_connected_until_trusted(bus: EventBus) -> None:
    events = Events(bus)
    trusted: set[str] = set()
    directory, coordinator, _, browser = make(bus, trust=lambda a: a.agent_id in trusted)
    browser.on_change("found", agent("stranger", "10.0.0.7"))
    assert events.wait(EventKind.AGENT_FOUND)[0].data["trusted"] is False
    assert coordinator.calls == []
    assert [(f.details["agent_id"], f.trusted) for f in directory.found()] == [("stranger", False)]

    trusted.add("stranger")  # paired
    directory.retrust()
    assert coordinator.calls == [("add", "tcp://10.0.0.7:7878")]
    trusted.clear()  # revoked: cut off at once
    directory.retrust()
    assert coordinator.calls[-1] == ("remove", "tcp://10.0.0.7:7878")


def test_a_vanished_agent_keeps_a_working_link_but_a_dead_one_is_dropped(bus: EventBus) -> None:
    events = Events(bus)
    directory, coordinator, _, browser = make(bus)
    browser.on_change("found", agent("alive", "10.0.0.2"))
    browser.on_change("found", agent("dead", "10.0.0.3"))
    coordinator.links["tcp://10.0.0.3:7878"].ready = False
    browser.on_change("lost", agent("alive", "10.0.0.2"))
    browser.on_change("lost", agent("dead", "10.0.0.3"))
    vanished = {e.data["agent_id"]: e.data["still_connected"] for e in events.wait(EventKind.AGENT_VANISHED, 2)}
    assert vanished == {"alive": True, "dead": False}
    assert ("remove", "tcp://10.0.0.3:7878") in coordinator.calls
    assert ("remove", "tcp://10.0.0.2:7878") not in coordinator.calls
    assert directory.found() == []


def test_added_addresses_are_normalised_saved_connected_and_removed(bus: EventBus) -> None:
    directory, coordinator, saved, _ = make(bus, manual=["10.1.0.4:7000"])
    assert coordinator.calls == [("add", "tcp://10.1.0.4:7000")]
    assert directory.add("tcp://vpn-host") == "vpn-host:7878"
    assert directory.add("vpn-host:7878") == "vpn-host:7878"  # already there: nothing changes
    assert saved == [["10.1.0.4:7000", "vpn-host:7878"]]
    assert coordinator.calls[-1] == ("add", "tcp://vpn-host:7878")
    assert directory.remove("10.1.0.4:7000") is True
    assert directory.remove("10.1.0.4:7000") is False
    assert saved[-1] == ["vpn-host:7878"] and coordinator.calls[-1] == ("remove", "tcp://10.1.0.4:7000")


@pytest.mark.parametrize("text", ["", "host:", "host:99999", "two words", "tcp://:80"])
def test_bad_addresses_are_refused_with_a_message_in_both_languages(text: str) -> None:
    with pytest.raises(InvalidAgentAddressError) as caught:
        normalize_address(text)
    assert "host:port" in caught.value.user_message("en")
    assert "máy:cổng" in caught.value.user_message("vi")


def test_ipv6_addresses_are_bracketed() -> None:
    assert normalize_address("fd00::5") == "[fd00::5]:7878"
    assert normalize_address("[fd00::5]:9000") == "[fd00::5]:9000"


def test_the_core_persists_added_agents_in_the_settings_file(isolated_dirs: Path) -> None:
    from sttdesk.app import build_core

    key = generate_keypair().public.decode()
    core = build_core(pool_agents=0)
    try:
        with pytest.raises(AgentKeyRequiredError):
            core.agents.add("127.0.0.1:7999")  # nobody said which key it has
        core.agents.add("127.0.0.1:7999", key=key)
    finally:
        core.stop()
    settings = load_settings(environ={})
    assert settings.network.agents == ["127.0.0.1:7999"]
    # The next core connects to it on start; discovery stays off in tests (conftest).
    with build_core(pool_agents=0) as again:
        assert again.agents.manual() == ["127.0.0.1:7999"]
        assert not again.agents.discovery_enabled
        deadline_ok = _eventually(lambda: any(a.endpoint == "tcp://127.0.0.1:7999" and a.public_key == key
                                              for a in again.coordinator.agents()))
        assert deadline_ok
        assert [p.public_key for p in again.agents.trusted()] == [key]
        again.agents.remove("127.0.0.1:7999")
    assert load_settings(environ={}).network.agents == []


def _eventually(check: Any, timeout: float = WAIT) -> bool:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return False


def test_cli_adds_lists_and_removes_agents_by_address(isolated_dirs: Path, capsys: pytest.CaptureFixture[str]
                                                      ) -> None:
    from sttdesk.cli.main import main

    key = generate_keypair().public.decode()
    assert main(["agents", "add", "10.9.8.7"]) == 1  # no key known for it
    assert "--key" in capsys.readouterr().err
    assert main(["agents", "add", "10.9.8.7", f"--key={key}"]) == 0
    assert main(["agents", "add", "10.9.8.7:7878"]) == 0  # its key is known now
    assert "already listed" in capsys.readouterr().out
    assert main(["agents", "addresses"]) == 0
    assert capsys.readouterr().out.split() == ["10.9.8.7:7878"]
    assert load_settings(environ={}).network.agents == ["10.9.8.7:7878"]
    assert main(["agents", "add", "not an address"]) == 1
    assert "host:port" in capsys.readouterr().err
    assert main(["agents", "list", "--browse-seconds", "0"]) == 0
    listing = capsys.readouterr().out
    assert f"10.9.8.7:7878                {fingerprint(key)}  trusted" in listing
    assert f"{fingerprint(key)}  -" in listing and "tcp://10.9.8.7:7878" in listing
    assert main(["agents", "remove", "10.9.8.7"]) == 0
    assert main(["agents", "remove", "10.9.8.7"]) == 1
    assert load_settings(environ={}).network.agents == []
    assert main(["agents", "revoke", "10.9.8.7:7878"]) == 0
    assert main(["agents", "revoke", "10.9.8.7:7878"]) == 1
    assert "No agent matches" in capsys.readouterr().err


def test_an_agent_that_withdrew_while_connected_is_followed_when_found_elsewhere(bus: EventBus) -> None:
    events = Events(bus)
    directory, coordinator, _, browser = make(bus)
    browser.on_change("found", agent("pc1", "10.0.0.5"))
    browser.on_change("lost", agent("pc1", "10.0.0.5"))  # still ready: the link is kept
    browser.on_change("found", agent("pc1", "10.0.0.6"))
    again = events.wait(EventKind.AGENT_FOUND, 2)[1].data
    assert again["moved"] is True and again["previous_endpoint"] == "tcp://10.0.0.5:7878"
    assert coordinator.calls == [("add", "tcp://10.0.0.5:7878"), ("remove", "tcp://10.0.0.5:7878"),
                                 ("add", "tcp://10.0.0.6:7878")]
    assert [f.connected_endpoint for f in directory.found()] == ["tcp://10.0.0.6:7878"]


def test_the_trust_store_decides_found_agents_by_their_announced_key(bus: EventBus, tmp_path: Path) -> None:
    store = TrustStore(tmp_path / "trusted-agents.json")
    paired, stranger = generate_keypair().public.decode(), generate_keypair().public.decode()
    store.trust(paired, name="pc1", how="paired")
    coordinator = FakeCoordinator()
    browsers: list[FakeBrowser] = []
    directory = AgentDirectory(coordinator, bus, manual=[], save_manual=lambda a: None,
                               browser_factory=lambda cb: browsers.append(FakeBrowser(cb)) or browsers[-1],
                               trust_store=store)
    directory.start()
    browsers[0].on_change("found", agent("pc1", "10.0.0.5", key=paired))
    browsers[0].on_change("found", agent("pc3", "10.0.0.7", key=stranger))
    browsers[0].on_change("found", agent("old", "10.0.0.8"))  # announces no key: never trusted
    assert coordinator.calls == [("add", "tcp://10.0.0.5:7878")]
    assert coordinator.keys["tcp://10.0.0.5:7878"] == paired  # the key comes from the announcement
    assert {f.details["agent_id"]: (f.trusted, f.fingerprint) for f in directory.found()} == {
        "pc1": (True, fingerprint(paired)), "pc3": (False, fingerprint(stranger)), "old": (False, "")}

    # An agent id looks like the id of one found agent, "pc" like two.
    with pytest.raises(AgentAmbiguousError):
        pair_target("pc", [agent("pc1", "10.0.0.5"), agent("pc3", "10.0.0.7")])
    # Another process (the CLI) trusts pc3: the coordinator tells the directory, which connects it.
    TrustStore(tmp_path / "trusted-agents.json").trust(stranger, how="paired")
    store.refresh()
    directory.retrust()
    assert coordinator.calls[-1] == ("add", "tcp://10.0.0.7:7878")
    revoked = directory.revoke("pc1")
    assert revoked.public_key == paired and coordinator.calls[-1] == ("remove", "tcp://10.0.0.5:7878")
    with pytest.raises(AgentNotFoundError) as caught:
        directory.revoke("pc1")
    assert "pc1" in caught.value.user_message("en") and "pc1" in caught.value.user_message("vi")


def test_pairing_targets_come_from_announcements_or_from_an_address_with_a_key() -> None:
    key = generate_keypair().public.decode()
    found = [agent("pc1", "10.0.0.5", key=key)]
    by_name = pair_target("PC1", found)
    assert (by_name.endpoint, by_name.public_key, by_name.found) == ("tcp://10.0.0.5:7878", key.encode(), True)
    assert pair_target("10.0.0.5:7878", found).found is True  # an address discovery knows
    other = generate_keypair().public.decode()
    by_address = pair_target("10.0.0.9", found, key=other)
    assert (by_address.endpoint, by_address.public_key, by_address.found) == (
        "tcp://10.0.0.9:7878", other.encode(), False)
    with pytest.raises(AgentKeyRequiredError) as caught:
        pair_target("10.0.0.9:7000", found)
    assert "--key" in caught.value.user_message("en") and "--key" in caught.value.user_message("vi")
    with pytest.raises(AgentNotFoundError):
        pair_target("nobody", found)
