"""``sttdesk agents``: the remote agents this computer gives work to, and the keys it trusts.

One trust model (DESIGN.md §5): an agent gets audio only when its CURVE public
key is in this computer's trust list (``trusted-agents.json`` under the key
folder). It gets there by **pairing** (``pair``: the agent shows a one-time
code, both sides then trust each other's key) or by an admin typing the key in
(``trust``, or ``add HOST:PORT --key K``).

* ``pair NAME|ID`` pairs with an agent found on the LAN; its key comes from
  its announcement. ``pair HOST:PORT --key K`` pairs with one discovery cannot
  find (another subnet, a VPN); it is added by address too.
* ``add`` / ``remove`` / ``addresses`` keep the agents added by address in the
  settings file (``[network] agents``), used from the next start.
* ``list`` shows the agents found on the LAN, those added by address and the
  trusted keys, with fingerprints; ``revoke`` stops trusting one at once.

The trust list is a file, so these commands work beside a running app
(``sttdesk serve`` or the desktop app): it re-reads the list within a second,
connects to newly paired agents and takes a revoked agent's chunks back.
A front end inside the app calls ``core.agents.pair`` / ``core.agents.revoke``.
"""

from __future__ import annotations

import getpass
import socket
import threading
import time
from typing import Any

import click

from ..paths import default_paths
from ..security.keys import KeyPair, fingerprint, key_directory, load_or_create_keypair, public_key_from_argument
from ..security.trust import TRUSTED_AGENTS_FILE, TrustStore
from ..service.agent_directory import (
    address_endpoint,
    find_trusted,
    key_fingerprint,
    looks_like_address,
    match_found,
    normalize_address,
    pair_target,
)
from ..settings import load_settings, update_settings_file

#: How long ``pair`` and ``list`` listen for LAN announcements (seconds).
DEFAULT_BROWSE_SECONDS = 3.0


def _keys() -> KeyPair:
    return load_or_create_keypair(key_directory(default_paths().ensure().data_dir))


def _trust() -> TrustStore:
    return TrustStore(key_directory(default_paths().ensure().data_dir) / TRUSTED_AGENTS_FILE)


def _browse(seconds: float, *, wanted: str = "") -> list[Any]:
    """The agents announced on the LAN within ``seconds`` (sooner once one matches ``wanted``).

    Nothing when discovery is off in the settings or ``seconds`` is 0.
    """
    if seconds <= 0 or not load_settings().network.discovery:
        return []
    from ..cluster.discovery import AgentBrowser

    seen = threading.Event()

    def on_change(kind: str, agent: Any) -> None:
        if wanted and kind != "lost" and match_found([agent], wanted):
            seen.set()

    browser = AgentBrowser(on_change)
    browser.start()
    try:
        seen.wait(seconds)
        return browser.agents()
    finally:
        browser.stop()


def _add_address(address: str) -> bool:
    """Keep ``address`` (normalised) in ``[network] agents``; False when it was there already."""
    current = load_settings().network.agents
    if address in current:
        return False
    update_settings_file("network", {"agents": [*current, address]})
    return True


@click.group()
def agents() -> None:
    """Agents this computer gives work to: pair, trust, list, revoke; add by address."""


@agents.command("key")
def show_key() -> None:
    """Show this computer's public key (for 'sttdesk-agent trust' on an agent) and its fingerprint."""
    pair = _keys()
    click.echo(f"public key:  {pair.public.decode()}")
    click.echo(f"fingerprint: {pair.fingerprint}")


@agents.command("pair")
@click.argument("which")
@click.option("--key", "agent_key", default=None, metavar="KEY|FILE",
              help="The agent's public key ('sttdesk-agent key' shows it) or its curve.pub file; needed when "
                   "WHICH is an address discovery does not find.")
@click.option("--code", default=None, help="The code the agent shows (asked for when not given).")
@click.option("--timeout", type=click.FloatRange(1, 300), default=10.0, show_default=True,
              help="Seconds to wait for each answer of the agent.")
@click.option("--browse-seconds", type=click.FloatRange(0, 60), default=DEFAULT_BROWSE_SECONDS, show_default=True,
              help="How long to look for WHICH on the LAN (0: do not look).")
def pair(which: str, agent_key: str | None, code: str | None, timeout: float, browse_seconds: float) -> None:
    """Pair with an agent: WHICH is the name or id of an agent found on the LAN, or HOST:PORT with --key.

    The agent shows the code in its log and with 'sttdesk-agent pairing'.
    """
    from ..cluster.pairing import PairingChallengeInfo, pair_with_agent

    key = public_key_from_argument(agent_key) if agent_key else None
    target = pair_target(which, _browse(browse_seconds, wanted=which), key=key)
    given = [code] if code else []

    def ask(info: PairingChallengeInfo) -> str | None:
        if given:
            return given.pop()
        click.echo(f"Agent {info.agent_name} ({info.agent_id}), key fingerprint {info.fingerprint}, "
                   f"now shows a pairing code (valid {info.expires_seconds:.0f} s, {info.attempts_left} tries).")
        click.echo("Find it in the agent's log or with 'sttdesk-agent pairing' on that computer.")
        typed = click.prompt("Pairing code", default="", show_default=False).strip()
        return typed or None

    host = socket.gethostname() or "sttdesk"
    outcome = pair_with_agent(
        target.endpoint, target.public_key, keys=_keys(), trust=_trust(), ask_code=ask,
        coordinator_id=host, coordinator_name=f"{getpass.getuser()}@{host}", reply_timeout=timeout,
    )
    how = "were already paired" if outcome.already_paired else "are now paired"
    click.echo(f"This computer and agent {outcome.agent_name} ({outcome.agent_id}) at {target.endpoint} {how}; "
               f"agent key fingerprint {fingerprint(outcome.public_key)}.")
    if not target.found and _add_address(target.endpoint.removeprefix("tcp://")):
        click.echo(f"Added {target.endpoint.removeprefix('tcp://')} by address (discovery did not find it).")


@agents.command("trust")
@click.argument("public_key", metavar="KEY|FILE")
@click.option("--address", default="", help="HOST:PORT of the agent, when discovery cannot find it "
                                              "(it is added by address too).")
@click.option("--name", default="", help="A name to remember it by.")
def trust(public_key: str, address: str, name: str) -> None:
    """Trust an agent's public key without pairing (an admin copied it from 'sttdesk-agent key').

    A key starting with '-' needs '--' before it (sttdesk agents trust -- KEY), or give its file.
    """
    normalized = normalize_address(address) if address else ""
    peer = _trust().trust(public_key_from_argument(public_key), name=name,
                          endpoint=address_endpoint(normalized) if normalized else "", how="manual")
    if normalized:
        _add_address(normalized)
    click.echo(f"Trusted agent key {peer.fingerprint}{f' ({name})' if name else ''}. "
               "The agent must trust this computer too: run 'sttdesk-agent trust KEY' there with the key "
               "'sttdesk agents key' shows.")


@agents.command("add")
@click.argument("address")
@click.option("--key", "agent_key", default=None, metavar="KEY|FILE",
              help="The agent's public key ('sttdesk-agent key' shows it); typing it in trusts it.")
@click.option("--name", default="", help="A name to remember it by.")
def add(address: str, agent_key: str | None, name: str) -> None:
    """Use the agent at ADDRESS (host:port; port 7878 when left out) from the next start on.

    Its key must be known: give --key, or pair it by address ('sttdesk agents pair HOST:PORT --key K').
    """
    from ..service.agent_directory import AgentKeyRequiredError

    normalized = normalize_address(address)
    store = _trust()
    endpoint = address_endpoint(normalized)
    if agent_key:
        store.trust(public_key_from_argument(agent_key), name=name, endpoint=endpoint, how="manual")
    elif not [p for p in store.peers() if p.endpoint == endpoint]:
        raise AgentKeyRequiredError(address=normalized)
    if _add_address(normalized):
        click.echo(f"added {normalized} (used from the next start of sttdesk)")
    else:
        click.echo(f"{normalized} is already listed")


@agents.command("remove")
@click.argument("address")
def remove(address: str) -> None:
    """Stop using the agent added as ADDRESS (its key stays trusted until revoked)."""
    normalized = normalize_address(address)
    current = load_settings().network.agents
    if normalized not in current:
        raise click.ClickException(f"{normalized} is not among the agents added by address: "
                                   f"{', '.join(current) or 'none'}")
    update_settings_file("network", {"agents": [a for a in current if a != normalized]})
    click.echo(f"removed {normalized}")


@agents.command("addresses")
def addresses() -> None:
    """List the agents added by address."""
    for address in load_settings().network.agents:
        click.echo(address)


@agents.command("list")
@click.option("--browse-seconds", type=click.FloatRange(0, 60), default=DEFAULT_BROWSE_SECONDS, show_default=True,
              help="How long to look for agents on the LAN (0: do not look).")
def list_agents(browse_seconds: float) -> None:
    """List the agents found on the LAN, those added by address, and the trusted keys."""
    peers = [p for p in _trust().peers() if p.how != "session"]
    trusted_keys = {p.public_key for p in peers}
    found = _browse(browse_seconds)
    shown: set[str] = set()
    click.echo(f"Found on the LAN ({len(found)}):" if browse_seconds > 0 else "Found on the LAN: not looked")
    for agent in sorted(found, key=lambda a: a.card.name):
        state = "trusted" if agent.card.public_key in trusted_keys else "NOT PAIRED"
        shown.add(agent.card.public_key)
        click.echo(f"  {agent.card.name:20} {agent.agent_id:14} {agent.endpoint:28} "
                   f"{agent.card.fingerprint or key_fingerprint(agent.card.public_key) or '(no key)':20} {state}")
    manual = load_settings().network.agents
    click.echo(f"Added by address ({len(manual)}):")
    for address in manual:
        keys = [p for p in peers if p.endpoint == address_endpoint(address)]
        state = f"{keys[-1].fingerprint}  trusted" if keys else "key unknown: pair it or add it with --key"
        click.echo(f"  {address:28} {state}")
    click.echo(f"Trusted keys ({len(peers)}):")
    if not peers:
        click.echo("  none yet. Pair an agent: sttdesk agents pair NAME (or HOST:PORT --key AGENT-KEY)")
    for peer in peers:
        added = time.strftime("%Y-%m-%d %H:%M", time.localtime(peer.added)) if peer.added else "?"
        seen = "on the LAN" if peer.public_key in shown else ""
        click.echo(f"  {peer.fingerprint}  {peer.name or '-':20} {peer.peer_id or '-':14} "
                   f"{peer.endpoint or '-':28} {peer.how:7} since {added} {seen}".rstrip())


@agents.command("revoke")
@click.argument("which")
def revoke(which: str) -> None:
    """Stop trusting an agent at once (WHICH: its key, fingerprint or its start, id, name or address)."""
    store = _trust()
    peer = find_trusted(store, which)
    store.revoke(peer.public_key)
    click.echo(f"Revoked agent {peer.name or peer.peer_id or ''} key {peer.fingerprint}: "
               "a running app stops giving it work now.")
    if peer.endpoint and looks_like_address(peer.endpoint):
        address = peer.endpoint.removeprefix("tcp://")
        if address in load_settings().network.agents:
            click.echo(f"{address} stays added by address; 'sttdesk agents remove {address}' drops it.")
