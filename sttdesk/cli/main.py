"""The ``sttdesk`` command: entry point and sub-command groups.

``sttdesk`` with no arguments opens the desktop app, like ``sttdesk gui``.
"""

from __future__ import annotations

import logging
import sys

import click

from .. import __version__
from ..domain.errors import SttdeskError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="sttdesk")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
def cli(verbose: int) -> None:
    """Offline speech-to-text for English and Vietnamese."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # the scheduler's own bookkeeping is noise for users, even with -v
    logging.getLogger("apscheduler").setLevel(max(level, logging.WARNING))


def _register() -> None:
    from .agents import agents
    from .config import config
    from .gui import gui
    from .jobs import jobs
    from .models import models
    from .serve import serve
    from .transcribe import transcribe

    for command in (gui, transcribe, jobs, models, config, serve, agents):
        cli.add_command(command)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; turn sttdesk errors into a clear message and exit code 1."""
    _register()
    args = list(sys.argv[1:] if argv is None else argv)
    if not args:
        args = ["gui"]  # what people who double-click or type "sttdesk" expect
    try:
        code = cli.main(args=args, prog_name="sttdesk", standalone_mode=False)
    except SttdeskError as exc:
        click.echo(f"Error: {exc.user_message('en')}", err=True)
        return 1
    except (click.exceptions.Abort, KeyboardInterrupt):
        # the core was stopped on the way out; its jobs stay in the table
        click.echo("Interrupted. Run the same command again to continue where it stopped.", err=True)
        return 130
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    # click hands back ctx.exit()'s code in this mode (the desktop app's, for one)
    return code if isinstance(code, int) else 0


if __name__ == "__main__":
    sys.exit(main())
