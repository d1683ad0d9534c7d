"""Finding agents on the LAN: browse ``_sttdesk-agent._tcp.local.`` and report who comes and goes.

:class:`AgentBrowser` only hands events on (python-zeroconf's habit): zeroconf's
browser thread puts each change on a queue; the browser's own thread resolves
the service (address, port, TXT record) and calls ``on_change`` with
``"found"``, ``"updated"`` (new address, port, models or key: an agent that
restarted elsewhere) or ``"lost"`` (it withdrew its announcement, or its
records expired). Agents are told apart by their agent id, not by their
zeroconf instance name, which zeroconf may renumber on a name clash.

Deciding whom to connect to is not done here (see sttdesk.service.agent_directory).
"""

from __future__ import annotations

import ipaddress
import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass

import ifaddr
from zeroconf import ServiceBrowser, ServiceStateChange, Zeroconf

from ..announcement import SERVICE_TYPE, AgentAnnouncement, AnnouncementError

log = logging.getLogger(__name__)

#: How long resolving one announced service may take (milliseconds, zeroconf's unit).
RESOLVE_TIMEOUT_MS = 3000
#: How long stopping waits for the browser's thread (seconds).
STOP_TIMEOUT_SECONDS = 5.0

ChangeKind = str  # "found" | "updated" | "lost"


@dataclass(frozen=True, slots=True)
class DiscoveredAgent:
    """One agent as its zeroconf announcement describes it."""

    #: The zeroconf instance name, without the service type.
    instance: str
    card: AgentAnnouncement
    #: Every address it announced, best first (IPv4 on one of our own networks first).
    addresses: tuple[str, ...]
    port: int

    @property
    def agent_id(self) -> str:
        return self.card.agent_id

    @property
    def endpoint(self) -> str:
        """Where to connect: the best announced address."""
        host = self.addresses[0]
        return f"tcp://[{host}]:{self.port}" if ":" in host else f"tcp://{host}:{self.port}"

    def to_dict(self) -> dict[str, object]:
        """JSON-ready details for events and front ends."""
        card = self.card
        return {
            "agent_id": card.agent_id, "name": card.name, "instance": self.instance,
            "endpoint": self.endpoint, "addresses": list(self.addresses), "port": self.port,
            "protocol": card.protocol, "version": card.version, "slots": card.slots,
            "threads": card.threads, "models": list(card.models), "cpu": card.cpu,
            "public_key": card.public_key, "fingerprint": card.fingerprint,
        }


def _local_networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    networks = []
    for adapter in ifaddr.get_adapters():
        for ip in adapter.ips:
            address = ip.ip[0] if isinstance(ip.ip, tuple) else ip.ip
            try:
                networks.append(ipaddress.ip_network(f"{address.split('%')[0]}/{ip.network_prefix}", strict=False))
            except ValueError:
                continue
    return networks


def rank_addresses(addresses: list[str], networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network]
                   ) -> tuple[str, ...]:
    """``addresses`` best first: on one of our networks, then IPv4, then the rest; loopback never."""
    def key(text: str) -> tuple[int, int]:
        ip = ipaddress.ip_address(text)
        local = any(ip.version == n.version and ip in n for n in networks)
        return (0 if local else 1, 0 if ip.version == 4 else 1)

    usable = [a for a in addresses if not ipaddress.ip_address(a).is_loopback
              and not (ipaddress.ip_address(a).version == 6 and ipaddress.ip_address(a).is_link_local)]
    return tuple(sorted(dict.fromkeys(usable), key=key))


class AgentBrowser:
    """Browses for agents on its own thread; see the module docstring."""

    def __init__(
        self,
        on_change: Callable[[ChangeKind, DiscoveredAgent], None],
        *,
        interfaces: list[str] | None = None,
        resolve_timeout_ms: int = RESOLVE_TIMEOUT_MS,
    ) -> None:
        """``interfaces``: addresses to browse on (None: every interface)."""
        self._on_change = on_change
        self._interfaces = interfaces
        self._resolve_timeout_ms = resolve_timeout_ms
        self._changes: queue.Queue[tuple[str, ServiceStateChange] | None] = queue.Queue()
        self._known: dict[str, DiscoveredAgent] = {}  # by instance name
        self._lock = threading.Lock()
        self._zeroconf: Zeroconf | None = None
        self._browser: ServiceBrowser | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None:
            return
        from zeroconf import InterfaceChoice

        self._zeroconf = Zeroconf(interfaces=self._interfaces or InterfaceChoice.All)
        self._thread = threading.Thread(target=self._run, name="agent-browser", daemon=True)
        self._thread.start()
        self._browser = ServiceBrowser(self._zeroconf, SERVICE_TYPE, handlers=[self._handle])
        log.info("browsing the LAN for agents (%s)", SERVICE_TYPE)

    def stop(self, timeout: float = STOP_TIMEOUT_SECONDS) -> None:
        browser, zeroconf, thread = self._browser, self._zeroconf, self._thread
        self._browser = self._zeroconf = self._thread = None
        if browser is not None:
            browser.cancel()
        self._changes.put(None)
        if thread is not None:
            thread.join(timeout)
        if zeroconf is not None:
            zeroconf.close()

    def agents(self) -> list[DiscoveredAgent]:
        """The agents announced now."""
        with self._lock:
            return list(self._known.values())

    # --- zeroconf's thread: hand on, nothing else --------------------------------

    def _handle(self, zeroconf: Zeroconf, service_type: str, name: str, state_change: ServiceStateChange) -> None:
        self._changes.put((name, state_change))

    # --- our thread -------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            item = self._changes.get()
            if item is None:
                return
            name, change = item
            try:
                if change is ServiceStateChange.Removed:
                    self._removed(name)
                else:
                    self._resolve(name)
            except Exception:
                # One odd announcement must not end browsing for everyone else.
                log.exception("could not handle the announcement %r", name)

    def _resolve(self, name: str) -> None:
        zeroconf = self._zeroconf
        if zeroconf is None:
            return
        info = zeroconf.get_service_info(SERVICE_TYPE, name, timeout=self._resolve_timeout_ms)
        instance = name.removesuffix("." + SERVICE_TYPE)
        if info is None or not info.port:
            log.info("agent announcement %r could not be resolved", instance)
            return
        try:
            card = AgentAnnouncement.from_properties(info.properties)
        except AnnouncementError as exc:
            log.warning("ignoring announcement %r: %s", instance, exc)
            return
        addresses = rank_addresses(info.parsed_addresses(), _local_networks())
        if not addresses:
            log.info("agent %r announced no address this computer can use", instance)
            return
        agent = DiscoveredAgent(instance=instance, card=card, addresses=addresses, port=info.port)
        with self._lock:
            old = self._known.get(name)
            self._known[name] = agent
        if old is None:
            log.info("found agent %s (%s) at %s, key %s", card.name, card.agent_id, agent.endpoint,
                     card.fingerprint or "none")
            self._on_change("found", agent)
        elif old != agent:
            log.info("agent %s (%s) changed: now at %s", card.name, card.agent_id, agent.endpoint)
            self._on_change("updated", agent)

    def _removed(self, name: str) -> None:
        with self._lock:
            agent = self._known.pop(name, None)
        if agent is not None:
            log.info("agent %s (%s) withdrew its announcement", agent.card.name, agent.agent_id)
            self._on_change("lost", agent)
