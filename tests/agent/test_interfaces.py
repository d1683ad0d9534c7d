"""Choosing the interfaces an agent serves: names, addresses, loopback and down ones."""

from __future__ import annotations

import pytest

from sttdesk.agent.errors import AgentInterfaceError
from sttdesk.agent.interfaces import InterfaceAddress, default_addresses, list_addresses, resolve_interfaces

MACHINE = [
    InterfaceAddress("lo", "127.0.0.1", 4, up=True, loopback=True),
    InterfaceAddress("eth0", "192.168.1.20", 4, up=True, loopback=False),
    InterfaceAddress("eth0", "192.168.1.21", 4, up=True, loopback=False),
    InterfaceAddress("eth0", "fe80::1", 6, up=True, loopback=False),
    InterfaceAddress("wlan0", "10.0.0.7", 4, up=False, loopback=False),
    InterfaceAddress("tun0", "fd00::7", 6, up=True, loopback=False),
]


def test_the_default_is_every_ipv4_address_of_interfaces_that_are_up_and_not_loopback() -> None:
    assert [a.address for a in default_addresses(available=MACHINE)] == ["192.168.1.20", "192.168.1.21"]


def test_a_name_stands_for_its_ipv4_addresses_and_an_address_for_itself() -> None:
    assert [a.address for a in resolve_interfaces(["eth0"], available=MACHINE)] == ["192.168.1.20", "192.168.1.21"]
    assert [a.address for a in resolve_interfaces(["192.168.1.21", "[fd00::7]"], available=MACHINE)] == [
        "192.168.1.21", "fd00::7"]


def test_a_down_interface_may_be_chosen_but_is_never_usable(caplog: pytest.LogCaptureFixture) -> None:
    chosen = resolve_interfaces(["wlan0"], available=MACHINE)
    assert [a.usable for a in chosen] == [False]
    assert "is down" in caplog.text


def test_an_unknown_interface_is_a_clear_error() -> None:
    with pytest.raises(AgentInterfaceError) as caught:
        resolve_interfaces(["eth9"], available=MACHINE)
    assert "eth0" in caught.value.user_message("en") and "eth9" in caught.value.user_message("vi")


def test_this_machine_lists_its_loopback_as_loopback() -> None:
    loopback = [a for a in list_addresses() if a.address == "127.0.0.1"]
    assert loopback and all(a.loopback and not a.usable for a in loopback)


def test_the_agent_refuses_an_unknown_interface_at_start(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from sttdesk.agent.main import EXIT_FAILED, main

    assert main(["--engine", "fake", "--interface", "no-such-if0", "--port", "0",
                 "--data-dir", str(tmp_path)]) == EXIT_FAILED
