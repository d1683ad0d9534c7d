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

Trust is one list of public keys (:class:`~sttdesk.security.trust.TrustStore`,
``trusted-agents.json``): a found agent is trusted when the CURVE key in its
announcement is on it; an agent added by address is reached with the key
recorded for that address (``sttdesk agents add HOST:PORT --key K``, or
pairing by address). :meth:`pair` and :meth:`revoke` change the list and apply
the change at once; a change made by another process (the CLI beside a
running app) reaches :meth:`retrust` through the coordinator, which re-reads
the file within a second and itself takes leases away from a revoked agent.

Connections themselves belong to the coordinator (``add_agent`` /
``remove_agent``); liveness is its heartbeats' business. A withdrawn
announcement therefore disconnects only an agent that is not talking to us:
a ready agent whose mDNS records lapsed keeps working.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from ..domain.errors import PermanentError
from ..protocol import DEFAULT_AGENT_PORT
from ..security.keys import KeyPair, fingerprint, parse_public_key
from ..security.trust import TrustedPeer, TrustStore
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


class AgentKeyRequiredError(PermanentError):
    """An agent was named by address, but nobody said which public key it has."""

    code = "agent_key_required"
    message_en = ("The public key of the agent at {address} is not known. Give it with --key "
                  "(the agent shows it with 'sttdesk-agent key'), or pair an agent found on the LAN by its name.")
    message_vi = ("Chưa biết khóa công khai của máy xử lý tại {address}. Hãy nhập khóa bằng --key "
                  "(máy xử lý hiện khóa bằng lệnh 'sttdesk-agent key'), hoặc ghép đôi theo tên máy tìm thấy trong mạng LAN.")


class AgentNotFoundError(PermanentError):
    """No agent found on the LAN, added by address or trusted matches what the user typed."""

    code = "agent_not_found"
    message_en = "No agent matches '{which}'. Check the name, id or address with 'sttdesk agents list'."
    message_vi = "Không có máy xử lý nào khớp với '{which}'. Hãy xem tên, mã hoặc địa chỉ bằng 'sttdesk agents list'."


class AgentAmbiguousError(PermanentError):
    """What the user typed matches several agents."""

    code = "agent_ambiguous"
    message_en = "'{which}' matches several agents ({names}). Type more of the name, id or key."
    message_vi = "'{which}' khớp với nhiều máy xử lý ({names}). Hãy nhập đầy đủ hơn tên, mã hoặc khóa."


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


def looks_like_address(text: str) -> bool:
    """Whether ``text`` reads as host:port (or tcp://...), not as an agent id or name."""
    cleaned = text.strip()
    try:
        ipaddress.ip_address(cleaned.strip("[]"))
        return True
    except ValueError:
        pass
    return cleaned.startswith("tcp://") or (":" in cleaned and _ADDRESS.match(cleaned) is not None)


def match_found(agents: list[Any], which: str) -> list[Any]:
    """The found agents (DiscoveredAgent) ``which`` names: id, name, instance name, endpoint or
    host:port; an exact match wins over a prefix of the id or name. Case-insensitive."""
    text = which.strip().lower()
    endpoint = ""
    if looks_like_address(which):
        try:
            endpoint = address_endpoint(normalize_address(which))
        except InvalidAgentAddressError:
            endpoint = ""
    exact = [a for a in agents if text in (a.agent_id.lower(), a.card.name.lower(), a.instance.lower())
             or (endpoint and a.endpoint == endpoint)]
    if exact:
        return exact
    return [a for a in agents if a.agent_id.lower().startswith(text) or a.card.name.lower().startswith(text)]


@dataclass(frozen=True, slots=True)
class PairTarget:
    """Where and with which key to pair, and whether the agent was found on the LAN."""

    endpoint: str
    public_key: bytes
    #: Found by discovery (the directory follows its address); False: added by address.
    found: bool
    label: str


def pair_target(which: str, found: list[Any], *, key: str | bytes | None = None) -> PairTarget:
    """Resolve what the user typed for pairing: a found agent's id or name (its key comes from
    its announcement), or HOST:PORT with ``key``. Raises AgentNotFoundError, AgentAmbiguousError,
    AgentKeyRequiredError, InvalidAgentAddressError, InvalidPublicKeyError."""
    matches = match_found(found, which)
    if len(matches) > 1:
        raise AgentAmbiguousError(which=which, names=", ".join(f"{a.card.name} ({a.agent_id})" for a in matches))
    if matches and matches[0].card.public_key:
        agent = matches[0]
        announced = parse_public_key(agent.card.public_key)
        if key is not None and parse_public_key(key) != announced:
            # The user's copy of the key wins: an announcement is not authenticated.
            return PairTarget(endpoint=agent.endpoint, public_key=parse_public_key(key), found=False,
                              label=f"{agent.card.name} ({agent.agent_id})")
        return PairTarget(endpoint=agent.endpoint, public_key=announced, found=True,
                          label=f"{agent.card.name} ({agent.agent_id})")
    if not looks_like_address(which) and key is None:
        raise AgentNotFoundError(which=which)
    address = normalize_address(which)  # with a key, a bare host name is an address too
    if key is None:
        raise AgentKeyRequiredError(address=address)
    return PairTarget(endpoint=address_endpoint(address), public_key=parse_public_key(key), found=False,
                      label=address)


class CoordinatorLinks(Protocol):
    """What the directory needs of the coordinator."""

    def add_agent(self, endpoint: str, *, server_key: bytes | str | None = None, local: bool = False) -> None: ...

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
    #: Its announced CURVE public key and that key's fingerprint ("" when it announced none).
    public_key: str = ""
    fingerprint: str = ""


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
        trust_store: TrustStore | None = None,
        keys: KeyPair | None = None,
        coordinator_id: str = "",
        coordinator_name: str = "",
    ) -> None:
        """``browser_factory`` None: discovery is off (only agents added by address are used).

        ``trust_store``: the trusted agents' keys; when given it decides trust (a found agent
        is trusted when its announced key is on it) and gives agents added by address their
        key. ``keys``, ``coordinator_id`` and ``coordinator_name`` are this app's, for :meth:`pair`.
        """
        self._coordinator = coordinator
        self._store = trust_store
        self._keys = keys
        self._coordinator_id = coordinator_id
        self._coordinator_name = coordinator_name
        if trust_store is not None and trust is _allow_all:
            trust = lambda agent: bool(agent.card.public_key) and trust_store.is_trusted(agent.card.public_key)  # noqa: E731
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
                self._connect_manual(address)
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

    def add(self, address: str, *, key: str | bytes | None = None, name: str = "") -> str:
        """Use the agent at ``address`` from now on and after every restart; returns ``host:port``.

        ``key``: the agent's public key, which the user copied from it ('sttdesk-agent key'):
        it is trusted for that address (typing it in is the approval). Without it the key must
        already be trusted for the address (paired by address), else AgentKeyRequiredError
        (with no trust store, the coordinator's own lookup decides). Raises
        InvalidAgentAddressError, InvalidPublicKeyError. Adding one already listed changes nothing
        but the key.
        """
        normalized = normalize_address(address)
        if self._store is not None:
            endpoint = address_endpoint(normalized)
            if key is not None:
                self._store.trust(key, name=name, endpoint=endpoint, how="manual")
            elif self._key_for(normalized) is None:
                raise AgentKeyRequiredError(address=normalized)
        with self._lock:
            if normalized in self._manual:
                return normalized
            self._save_manual([*self._manual, normalized])
            self._manual.append(normalized)
            if self._started:
                self._connect_manual(normalized)
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

    def _key_for(self, address: str) -> str | None:
        """The trusted key recorded for an agent added by address (the newest), if any."""
        if self._store is None:
            return None
        endpoint = address_endpoint(address)
        known = [p for p in self._store.peers() if p.endpoint == endpoint]
        return max(known, key=lambda p: p.added).public_key if known else None

    def _connect_manual(self, address: str) -> None:
        if self._store is None:
            self._coordinator.add_agent(address_endpoint(address))
            return
        key = self._key_for(address)
        if key is None:
            log.warning("agent %s was added by address but its key is not trusted: pair it "
                        "(sttdesk agents pair %s --key KEY) or add it with --key", address, address)
            return
        self._coordinator.add_agent(address_endpoint(address), server_key=key)

    # --- agents found on the LAN ------------------------------------------------

    def found(self) -> list[FoundAgent]:
        """The agents announced on the LAN now, trusted or not."""
        with self._lock:
            return [
                FoundAgent(details=agent.to_dict(), trusted=agent_id in self._connected,
                           connected_endpoint=self._connected.get(agent_id, ""),
                           public_key=agent.card.public_key, fingerprint=agent.card.fingerprint)
                for agent_id, agent in self._found.items()
            ]

    # --- trust: pairing and revoking --------------------------------------------------

    def trusted(self) -> list[TrustedPeer]:
        """The agents whose keys this app trusts (paired, or approved by key)."""
        if self._store is None:
            return []
        return [p for p in self._store.peers() if p.how != "session"]

    def pair(self, which: str, ask_code: Callable[[Any], str | None], *, key: str | bytes | None = None,
             reply_timeout: float | None = None) -> Any:
        """Pair with an agent: ``which`` is a found agent's id or name (its key comes from its
        announcement), or HOST:PORT with ``key`` (without it, the key recorded when the agent was
        added by address). Blocks until done (call it off the GUI thread).

        ``ask_code(info)`` gets a :class:`~sttdesk.cluster.pairing.PairingChallengeInfo` (agent
        name, id, key fingerprint, seconds and tries left) and returns the code the user typed
        (None cancels); it is asked again after a wrong code. An agent paired by address is
        added by address too. Returns a :class:`~sttdesk.cluster.pairing.PairingOutcome`.
        Raises AgentNotFoundError, AgentAmbiguousError, AgentKeyRequiredError and the pairing
        errors (PairingFailedError, PairingCodeWrongError, PairingExpiredError, ...).
        """
        from ..cluster.pairing import DEFAULT_REPLY_TIMEOUT, pair_with_agent

        if self._store is None or self._keys is None:
            raise RuntimeError("this directory was built without a trust store and key pair")
        with self._lock:
            found = list(self._found.values())
        if key is None and not match_found(found, which) and looks_like_address(which):
            key = self._key_for(normalize_address(which))  # added by address with its key: that key
        target = pair_target(which, found, key=key)
        outcome = pair_with_agent(
            target.endpoint, target.public_key, keys=self._keys, trust=self._store, ask_code=ask_code,
            coordinator_id=self._coordinator_id, coordinator_name=self._coordinator_name,
            reply_timeout=reply_timeout or DEFAULT_REPLY_TIMEOUT,
        )
        if not target.found:
            self.add(target.endpoint.removeprefix("tcp://"))
        self.retrust()
        return outcome

    def revoke(self, which: str) -> TrustedPeer:
        """Stop trusting an agent at once: ``which`` is its key, fingerprint (or their start),
        id, name or address. Its leases go back to the queue and its link closes.
        Raises AgentNotFoundError, AgentAmbiguousError."""
        if self._store is None:
            raise RuntimeError("this directory was built without a trust store")
        peer = find_trusted(self._store, which)
        self._store.revoke(peer.public_key)
        log.info("revoked agent %s (key %s)", peer.name or peer.peer_id or peer.endpoint, peer.fingerprint)
        self.retrust()
        return peer

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
            if self._store is not None and self._started:
                self._retrust_manual()

    def _retrust_manual(self) -> None:
        linked = {s.endpoint: s for s in self._coordinator.agents()}
        for address in self._manual:
            endpoint = address_endpoint(address)
            key = self._key_for(address)
            link = linked.get(endpoint)
            if key is None:
                if link is not None and not getattr(link, "local", False):
                    self._coordinator.remove_agent(endpoint)  # revoked: the coordinator returns its leases
            elif link is None or getattr(link, "public_key", key) != key:
                self._coordinator.add_agent(endpoint, server_key=key)

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
                self._coordinator.add_agent(agent.endpoint, server_key=agent.card.public_key or None)
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


def find_trusted(store: TrustStore, which: str) -> TrustedPeer:
    """The one trusted agent ``which`` names (key, fingerprint or their start, id, name or address).
    Raises AgentNotFoundError, AgentAmbiguousError."""
    matches = store.find(which)
    if not matches and looks_like_address(which):
        try:
            matches = store.find(address_endpoint(normalize_address(which)))
        except InvalidAgentAddressError:
            matches = []
    matches = [p for p in matches if p.how != "session"]
    if not matches:
        raise AgentNotFoundError(which=which)
    if len(matches) > 1:
        raise AgentAmbiguousError(which=which, names=", ".join(f"{p.name or p.peer_id} {p.fingerprint}"
                                                                for p in matches))
    return matches[0]


def key_fingerprint(public_key: str) -> str:
    """A key's fingerprint, or "" for a key that does not parse."""
    try:
        return fingerprint(parse_public_key(public_key))
    except Exception:  # an announcement's key is not trusted input
        return ""
