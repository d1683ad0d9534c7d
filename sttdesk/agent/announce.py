"""The agent's zeroconf announcement: register, keep it current, withdraw it on the way out.

One thread of its own: it registers ``_sttdesk-agent._tcp.local.`` on the
chosen interfaces, then every :data:`CHECK_SECONDS` looks again at the
machine's addresses and the installed models. New models are a TXT update; a
changed address set (DHCP gave a new lease, a cable moved) re-registers on the
new addresses, so coordinators follow the agent. Name clashes (two PCs both
called "reception") are settled by zeroconf's probing: the later one takes a
numbered instance name; the agent id in the TXT record stays the key.

The host name in the SRV record is made from the agent id, not the machine's
name: cloned office PCs often share a host name, and two machines answering
for one name would point coordinators at the wrong one.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from zeroconf import IPVersion, NonUniqueNameException, ServiceInfo, Zeroconf

from ..announcement import SERVICE_TYPE, AgentAnnouncement, instance_label
from .interfaces import InterfaceAddress

log = logging.getLogger(__name__)

#: How often the addresses and models are looked at again (seconds).
CHECK_SECONDS = 5.0
#: After a failed registration (no usable network yet), the next try waits this long.
RETRY_SECONDS = 10.0
#: How long closing zeroconf may take (its goodbye packets) before we give up waiting.
STOP_TIMEOUT_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class AnnouncedState:
    """What the LAN currently hears from this agent (for the status file and logs)."""

    #: The zeroconf instance name without the service type (unique on the LAN); empty when not registered.
    instance: str
    addresses: tuple[str, ...]
    port: int
    models: tuple[str, ...]


class Announcer:
    """Keeps the agent registered in zeroconf while it runs; see the module docstring."""

    def __init__(
        self,
        announcement: Callable[[], AgentAnnouncement],
        *,
        port: int,
        addresses: Callable[[], list[InterfaceAddress]],
        check_seconds: float = CHECK_SECONDS,
    ) -> None:
        """``announcement`` and ``addresses`` are called again at every check, to see changes."""
        self._announcement = announcement
        self._port = port
        self._addresses = addresses
        self._check_seconds = check_seconds
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._zeroconf: Zeroconf | None = None
        self._info: ServiceInfo | None = None
        self._registered_on: tuple[str, ...] = ()
        self._lock = threading.Lock()
        self._state = AnnouncedState(instance="", addresses=(), port=port, models=())

    # --- public, thread-safe ----------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="announce", daemon=True)
        self._thread.start()

    def refresh(self) -> None:
        """Look at models and addresses now (e.g. right after a model was installed)."""
        self._wake.set()

    def withdraw(self) -> None:
        """Start unregistering; safe from a signal handler (it only sets events)."""
        self._stopping.set()
        self._wake.set()

    def stop(self, timeout: float = STOP_TIMEOUT_SECONDS) -> None:
        """Unregister (coordinators hear a goodbye) and end the thread."""
        self.withdraw()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("the zeroconf announcement did not close within %.0f s", timeout)
            self._thread = None

    def state(self) -> AnnouncedState:
        with self._lock:
            return self._state

    # --- the thread -------------------------------------------------------------

    def _run(self) -> None:
        wait = 0.0
        try:
            while not self._stopping.is_set():
                self._wake.wait(wait)
                self._wake.clear()
                if self._stopping.is_set():
                    break
                try:
                    self._check()
                    wait = self._check_seconds
                except Exception:
                    # Announcing is a convenience: a broken network must not stop the agent,
                    # which coordinators can still reach by address.
                    log.warning("zeroconf announcement failed; retrying in %.0f s", RETRY_SECONDS,
                                exc_info=True)
                    self._close()
                    wait = RETRY_SECONDS
        finally:
            self._close()

    def _check(self) -> None:
        usable = tuple(sorted({a.address for a in self._addresses() if a.usable}))
        card = self._announcement()
        if usable != self._registered_on:
            self._close()
            if not usable:
                log.warning("no usable network address to announce on; waiting for one")
                return
            self._register(card, usable)
            return
        info = self._info
        if info is None or self._zeroconf is None:
            return
        properties = card.properties()
        if info.decoded_properties != properties:
            new = self._service_info(card, usable, name=info.name)
            self._zeroconf.update_service(new)
            self._info = new
            self._set_state(new.name, usable, card.models)
            log.info("zeroconf announcement updated: models %s", ", ".join(card.models) or "none")

    def _register(self, card: AgentAnnouncement, addresses: tuple[str, ...]) -> None:
        label = instance_label(card.name)
        ipv6 = any(":" in a for a in addresses)
        ipv4 = any(":" not in a for a in addresses)
        version = IPVersion.All if ipv4 and ipv6 else (IPVersion.V6Only if ipv6 else IPVersion.V4Only)
        zeroconf = Zeroconf(interfaces=list(addresses), ip_version=version)
        info = self._service_info(card, addresses, name=f"{label}.{SERVICE_TYPE}")
        try:
            zeroconf.register_service(info, allow_name_change=True)
        except NonUniqueNameException:
            # Every numbered variant is taken too: the agent id makes the name unique.
            info = self._service_info(card, addresses, name=f"{instance_label(f'{label} {card.agent_id}')}."
                                                             f"{SERVICE_TYPE}")
            zeroconf.register_service(info, allow_name_change=True)
        except BaseException:
            zeroconf.close()
            raise
        self._zeroconf, self._info, self._registered_on = zeroconf, info, addresses
        self._set_state(info.name, addresses, card.models)
        if info.name != f"{label}.{SERVICE_TYPE}":
            log.warning("another agent on the LAN is called %r: announced as %r instead", label,
                        info.name.removesuffix("." + SERVICE_TYPE))
        log.info("announced as %r on %s port %d", info.name.removesuffix("." + SERVICE_TYPE),
                 ", ".join(addresses), self._port)

    def _service_info(self, card: AgentAnnouncement, addresses: tuple[str, ...], *, name: str) -> ServiceInfo:
        return ServiceInfo(
            SERVICE_TYPE, name, port=self._port, properties=card.properties(),
            server=f"sttdesk-{card.agent_id}.local.", parsed_addresses=list(addresses),
        )

    def _set_state(self, instance: str, addresses: tuple[str, ...], models: tuple[str, ...]) -> None:
        with self._lock:
            self._state = AnnouncedState(instance=instance.removesuffix("." + SERVICE_TYPE), addresses=addresses,
                                         port=self._port, models=models)

    def _close(self) -> None:
        zeroconf, info = self._zeroconf, self._info
        self._zeroconf, self._info, self._registered_on = None, None, ()
        self._set_state("", (), ())
        if zeroconf is None:
            return
        try:
            if info is not None:
                zeroconf.unregister_service(info)
                log.info("zeroconf announcement withdrawn")
        except Exception:
            log.warning("could not withdraw the zeroconf announcement", exc_info=True)
        finally:
            zeroconf.close()
