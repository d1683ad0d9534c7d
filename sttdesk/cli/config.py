"""``sttdesk config``: show the effective settings and where they are stored."""

from __future__ import annotations

import click
import tomli_w

from ..settings import load_settings, settings_path


@click.group()
def config() -> None:
    """Settings (a TOML file; STTDESK_<SECTION>__<FIELD> variables override it)."""


@config.command("show")
def show() -> None:
    """Print the effective settings as TOML."""
    click.echo(tomli_w.dumps(load_settings().to_dict()))


@config.command("path")
def path() -> None:
    """Print the settings file's path."""
    click.echo(str(settings_path()))
