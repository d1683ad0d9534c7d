"""``sttdesk agents``: remote agents the app uses.

``add`` / ``remove`` keep the agents that LAN discovery cannot find (another
subnet, a VPN) in the settings file (``[network] agents``); the app and
``sttdesk serve`` connect to them on every start. A running app adds one at
once through its own window (core.agents.add).
"""

from __future__ import annotations

import click

from ..service.agent_directory import normalize_address
from ..settings import load_settings, update_settings_file


@click.group()
def agents() -> None:
    """Remote agents: add or remove agents by address."""


@agents.command("add")
@click.argument("address")
def add(address: str) -> None:
    """Use the agent at ADDRESS (host:port; port 7878 when left out) from the next start on."""
    normalized = normalize_address(address)
    current = load_settings().network.agents
    if normalized in current:
        click.echo(f"{normalized} is already listed")
        return
    update_settings_file("network", {"agents": [*current, normalized]})
    click.echo(f"added {normalized} (used from the next start of sttdesk)")


@agents.command("remove")
@click.argument("address")
def remove(address: str) -> None:
    """Stop using the agent added as ADDRESS."""
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
