"""The network interfaces an agent listens and announces on.

An office PC may have several (wired, Wi-Fi, a VPN, a Docker bridge): the admin
names the ones to serve with ``--interface`` (a name such as ``eth0`` or an
address such as ``192.168.1.20``; repeatable). Without it the agent listens on
every IPv4 address and announces the addresses of every interface that is up
and not loopback. Loopback and down interfaces are never announced: a
coordinator could not reach them.
"""

from __future__ import annotations

import ipaddress
import logging
import sys
from dataclasses import dataclass
from pathlib import Path

import ifaddr

from .errors import AgentInterfaceError

log = logging.getLogger(__name__)

#: Linux interface flags (include/uapi/linux/if.h), read from /sys/class/net/<name>/flags.
IFF_UP = 0x1
IFF_LOOPBACK = 0x8
_SYS_NET = Path("/sys/class/net")


@dataclass(frozen=True, slots=True)
class InterfaceAddress:
    """One address of one interface."""

    interface: str
    address: str
    #: 4 or 6.
    version: int
    up: bool
    loopback: bool

    @property
    def usable(self) -> bool:
        """Whether a coordinator on the LAN could reach the agent at this address."""
        if not self.up or self.loopback:
            return False
        ip = ipaddress.ip_address(self.address)
        # IPv6 link-local addresses need a scope id that a TXT record cannot carry.
        return not ip.is_loopback and not (ip.version == 6 and ip.is_link_local)


def _flags(name: str) -> int | None:
    """The interface's flags on Linux; None where /sys does not tell."""
    try:
        return int((_SYS_NET / name / "flags").read_text().strip(), 16)
    except (OSError, ValueError):
        return None


def list_addresses() -> list[InterfaceAddress]:
    """Every address of every interface of this machine, with its state."""
    found: list[InterfaceAddress] = []
    for adapter in ifaddr.get_adapters():
        name = adapter.name if isinstance(adapter.name, str) else adapter.name.decode()
        flags = _flags(name) if sys.platform.startswith("linux") else None
        for ip in adapter.ips:
            if isinstance(ip.ip, tuple):  # IPv6: (address, flowinfo, scope id)
                address, version = ip.ip[0].split("%", 1)[0], 6
            else:
                address, version = ip.ip, 4
            loopback = ipaddress.ip_address(address).is_loopback
            if flags is not None:
                up = bool(flags & IFF_UP)
                loopback = loopback or bool(flags & IFF_LOOPBACK)
            else:
                up = True  # ifaddr lists only configured addresses; no flags to say more
            found.append(InterfaceAddress(interface=name, address=address, version=version, up=up,
                                          loopback=loopback))
    return found


def resolve_interfaces(choices: list[str], *, available: list[InterfaceAddress] | None = None
                       ) -> list[InterfaceAddress]:
    """The addresses that ``--interface`` choices (names or addresses) stand for.

    Raises AgentInterfaceError for a name or address this machine does not have.
    A chosen interface that is down or loopback is kept (the admin asked for it)
    but is not announced; that is logged.
    """
    available = list_addresses() if available is None else available
    chosen: list[InterfaceAddress] = []
    for choice in choices:
        text = choice.strip().strip("[]")
        try:
            wanted = str(ipaddress.ip_address(text))
        except ValueError:
            matches = [a for a in available if a.interface == text and a.version == 4]
            if not matches:
                matches = [a for a in available if a.interface == text]
        else:
            matches = [a for a in available if a.address == wanted]
        if not matches:
            raise AgentInterfaceError(interface=choice, known=", ".join(sorted({a.interface for a in available})))
        for match in matches:
            if not match.usable:
                log.warning("interface %s (%s) is %s: coordinators on the LAN cannot reach it there",
                            match.interface, match.address, "down" if not match.up else "loopback")
            if match not in chosen:
                chosen.append(match)
    return chosen


def default_addresses(*, available: list[InterfaceAddress] | None = None) -> list[InterfaceAddress]:
    """IPv4 addresses of every interface that is up and not loopback (what ``*`` serves on the LAN)."""
    available = list_addresses() if available is None else available
    return [a for a in available if a.version == 4 and a.usable]


def bind_host(address: InterfaceAddress) -> str:
    """The host part of a ZeroMQ endpoint for ``address`` (IPv6 in brackets)."""
    return f"[{address.address}]" if address.version == 6 else address.address
