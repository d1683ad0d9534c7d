"""Which remote agents the coordinator uses: those found on the LAN and those added by address.

Front ends (GUI, CLI, REST) call :class:`AgentDirectory`; it owns two lists:

* **found**: agents announced through zeroconf (:class:`AgentBrowser`). Each
  appearance, change (new address after a restart, new models) and withdrawal
  becomes an event on the EventBus (``agent_found``, ``agent_updated``,
  ``agent_vanished``). A found agent gets a connection only when ``trust``
  says so; one that is not trusted is listed as found-but-unpaired and never
  receives audio. :meth:`retrust` applies a changed trust decision at once.
* **added by address** (another subnet, a VPN): kept in the settings file
  (``[network] agents``), reconnected on every start, changed with
  :meth:`add` / :meth:`remove`.

Connections themselves belong to the coordinator (``add_agent`` /
``remove_agent``); liveness is its heartbeats' business. A withdrawn
announcement therefore disconnects only an agent that is not talking to us:
a ready agent whose mDNS records lapsed keeps working.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from ..domain.errors import PermanentError
from ..protocol import DEFAULT_AGENT_PORT
from .events import EventBus, EventKind, ServiceEvent

log = logging.getLogger(__name__)

_ADDRESS = re.compile(
    r"^(?:tcp://)?(?P<host>\[[0-9A-Fa-f:.]+\]|[0-9A-Fa-f:]+:[0-9A-Fa-f:]*|[A-Za-z0-9][A-Za-z0-9.-]*)"
    r"(?::(?P<port>\d{1,5}))?$"
)


class InvalidAgentAddressError(PermanentError):
    """An agent address is not host or host:port."""

    code = "invalid_agent_address"
    message_en = "'{address}' is not an agent address. Type it as host:port, for example 192.168.1.20:7878."
    message_vi = "'{address}' không phải địa chỉ máy xử lý. Hãy nhập dạng máy:cổng, ví dụ 192.168.1.20:7878."


def normalize_address(text: str) -> str:
    """``host``, ``host:port`` or ``tcp://host:port`` as ``host:port`` (the agent's default port
    when none is given); raises InvalidAgentAddressError."""
    cleaned = text.strip()
    match = _ADDRESS.match(cleaned)
    if match is None:
        raise InvalidAgentAddressError(address=cleaned)
    host, port_text = match.group("host"), match.group("port")
    if host.count(":") >= 2 and not host.startswith("["):
        host, port_text = f"[{host}]", None  # a bare IPv6 address carries no port
    port = int(port_text) if port_text else DEFAULT_AGENT_PORT
    if not 1 <= port <= 65535:
        raise InvalidAgentAddressError(address=cleaned)
    return f"{host}:{port}"


def address_endpoint(address: str) -> str:
    """The ZeroMQ endpoint of a normalised ``host:port``."""
    return f"tcp://{address}"


class CoordinatorLinks(Protocol):
    """What the directory needs of the coordinator."""

    def add_agent(self, endpoint: str, *, local: bool = False) -> None: ...

    def remove_agent(self, endpoint: str, *, crashed: bool = False) -> None: ...

    def agents(self) -> list[Any]: ...


class Browser(Protocol):
    def start(self) -> None: ...

    def stop(self) -> None: ...


#: (on_change) -> a browser; on_change(kind, agent) with kind "found" | "updated" | "lost".
BrowserFactory = Callable[[Callable[[str, Any], None]], Browser]


@dataclass(frozen=True, slots=True)
class FoundAgent:
    """A LAN agent as the directory shows it."""

    #: The announcement's fields (see DiscoveredAgent.to_dict).
    details: dict[str, Any]
    #: This app trusts its key: it is connected and may receive audio.
    trusted: bool
    #: The endpoint the coordinator uses for it ("" when not connected).
    connected_endpoint: str


def _allow_all(agent: Any) -> bool:
    return True


class AgentDirectory:
    """Found and added-by-address agents; see the module docstring. Thread-safe."""

    def __init__(
        self,
        coordinator: CoordinatorLinks,
        events: EventBus,
        *,
        manual: list[str],
        save_manual: Callable[[list[str]], None],
        browser_factory: BrowserFactory | None = None,
        trust: Callable[[Any], bool] = _allow_all,
    ) -> None:
        """``browser_factory`` None: discovery is off (only agents added by address are used)."""
        self._coordinator = coordinator
        self._events = events
        self._manual = [normalize_address(a) for a in manual]
        self._save_manual = save_manual
        self._browser_factory = browser_factory
        self._trust = trust
        self._browser: Browser | None = None
        self._lock = threading.RLock()
        #: Found agents by agent id, and the endpoint each trusted one is connected on.
        self._found: dict[str, Any] = {}
        self._connected: dict[str, str] = {}
        self._started = False

    # --- lifecycle -----------------------------------------------------------------

    def start(self) -> None:
        """Connect the agents added by address and start browsing (when discovery is on)."""
        with self._lock:
            if self._started:
                return
            self._started = True
            for address in self._manual:
                self._coordinator.add_agent(address_endpoint(address))
        if self._browser_factory is not None:
            browser = self._browser_factory(self._on_change)
            browser.start()
            self._browser = browser

    def stop(self) -> None:
        browser, self._browser = self._browser, None
        if browser is not None:
            browser.stop()
        with self._lock:
            self._started = False

    @property
    def discovery_enabled(self) -> bool:
        return self._browser_factory is not None

    # --- agents added by address ------------------------------------------------

    def manual(self) -> list[str]:
        """The agents added by address, as ``host:port``."""
        with self._lock:
            return list(self._manual)

    def add(self, address: str) -> str:
        """Use the agent at ``address`` from now on and after every restart; returns ``host:port``.

        Raises InvalidAgentAddressError. Adding one already listed changes nothing.
        """
        normalized = normalize_address(address)
        with self._lock:
            if normalized in self._manual:
                return normalized
            self._save_manual([*self._manual, normalized])
            self._manual.append(normalized)
            if self._started:
                self._coordinator.add_agent(address_endpoint(normalized))
        log.info("agent %s added by address", normalized)
        return normalized

    def remove(self, address: str) -> bool:
        """Stop using the agent added as ``address``; False when it was not listed."""
        normalized = normalize_address(address)
        with self._lock:
            if normalized not in self._manual:
                return False
            remaining = [a for a in self._manual if a != normalized]
            self._save_manual(remaining)
            self._manual = remaining
            endpoint = address_endpoint(normalized)
            if self._started and endpoint not in self._connected.values():
                self._coordinator.remove_agent(endpoint)
        log.info("agent %s removed", normalized)
        return True

    # --- agents found on the LAN ------------------------------------------------

    def found(self) -> list[FoundAgent]:
        """The agents announced on the LAN now, trusted or not."""
        with self._lock:
            return [
                FoundAgent(details=agent.to_dict(), trusted=agent_id in self._connected,
                           connected_endpoint=self._connected.get(agent_id, ""))
                for agent_id, agent in self._found.items()
            ]

    def set_trust(self, trust: Callable[[Any], bool]) -> None:
        """Decide trust with ``trust(agent)`` from now on (e.g. the paired-keys store), and apply it."""
        with self._lock:
            self._trust = trust
            self.retrust()

    def retrust(self) -> None:
        """Ask ``trust`` again for every found agent (after pairing or revoking): connect the
        newly trusted, disconnect those no longer trusted."""
        with self._lock:
            for agent in list(self._found.values()):
                self._apply_trust(agent)

    # --- browser events (the browser's thread) ------------------------------------------

    def _on_change(self, kind: str, agent: Any) -> None:
        with self._lock:
            if kind == "lost":
                self._vanished(agent)
                return
            old = self._found.get(agent.agent_id)
            self._found[agent.agent_id] = agent
            # Compare with the connection, not only the last announcement: an agent that
            # withdrew while still connected comes back "found" on its new address.
            previous = self._connected.get(agent.agent_id) or (old.endpoint if old is not None else "")
            moved = bool(previous) and previous != agent.endpoint
            if moved:
                self._disconnect(agent.agent_id)
            trusted = self._apply_trust(agent)
            event = EventKind.AGENT_FOUND if old is None else EventKind.AGENT_UPDATED
            data = {**agent.to_dict(), "trusted": trusted, "moved": moved,
                    "previous_endpoint": previous if moved else ""}
        self._events.publish(ServiceEvent(kind=event, data=data))

    def _vanished(self, agent: Any) -> None:
        current = self._found.get(agent.agent_id)
        if current is not None and current.instance != agent.instance:
            return  # the same agent announces under another name now (a rename after a clash)
        self._found.pop(agent.agent_id, None)
        endpoint = self._connected.get(agent.agent_id)
        ready = endpoint is not None and any(
            s.endpoint == endpoint and s.ready for s in self._coordinator.agents())
        if endpoint is not None and not ready:
            self._disconnect(agent.agent_id)
        self._events.publish(ServiceEvent(kind=EventKind.AGENT_VANISHED, data={
            **agent.to_dict(), "still_connected": ready}))

    def _apply_trust(self, agent: Any) -> bool:
        try:
            trusted = bool(self._trust(agent))
        except Exception:
            log.exception("trust check for agent %s failed: treating it as not trusted", agent.agent_id)
            trusted = False
        connected = self._connected.get(agent.agent_id)
        if trusted and connected is None:
            self._connected[agent.agent_id] = agent.endpoint
            if agent.endpoint not in {address_endpoint(a) for a in self._manual}:
                self._coordinator.add_agent(agent.endpoint)
            log.info("connecting to LAN agent %s (%s) at %s", agent.card.name, agent.agent_id, agent.endpoint)
        elif not trusted and connected is not None:
            self._disconnect(agent.agent_id)
            log.info("agent %s (%s) is no longer trusted: disconnected", agent.card.name, agent.agent_id)
        elif not trusted:
            log.info("agent %s (%s) found but not paired: it gets no work", agent.card.name, agent.agent_id)
        return trusted

    def _disconnect(self, agent_id: str) -> None:
        endpoint = self._connected.pop(agent_id, None)
        if endpoint is not None and endpoint not in {address_endpoint(a) for a in self._manual}:
            self._coordinator.remove_agent(endpoint)
