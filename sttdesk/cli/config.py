"""``sttdesk config``: show, check and change the settings, and say where they are stored."""

from __future__ import annotations

import click
import tomli_w

from ..settings import change_settings, load_settings, save_settings, settings_path, validate


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


@config.command("check")
def check() -> None:
    """Check the settings file and the environment overrides; exit 1 with the reason if a value is wrong."""
    validate(load_settings())
    click.echo(f"{settings_path()}: ok")


@config.command("set")
@click.argument("assignments", nargs=-1, required=True, metavar="SECTION.FIELD=VALUE...")
def set_(assignments: tuple[str, ...]) -> None:
    """Change settings in the file, e.g. ``processing.pool_agents=2 ui.auto_export_formats=txt,srt``.

    All values are checked together before anything is written; environment
    overrides are not written into the file.
    """
    changes: dict[str, dict[str, str]] = {}
    for assignment in assignments:
        key, equals, value = assignment.partition("=")
        section, dot, name = key.strip().partition(".")
        if not equals or not dot or not section or not name:
            raise click.BadParameter(f"'{assignment}' is not SECTION.FIELD=VALUE", param_hint="assignments")
        changes.setdefault(section, {})[name] = value.strip()
    # the file alone: a value from the environment must not end up saved in it
    settings = change_settings(load_settings(environ={}), changes)
    written = save_settings(settings)
    click.echo(f"saved {written}")
