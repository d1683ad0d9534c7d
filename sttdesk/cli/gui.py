"""``sttdesk gui``: open the desktop app (also what ``sttdesk`` alone does).

Qt is imported only when this command runs, so every other command works on
a server without PySide6 or a display.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import click

from ..domain.errors import PermanentError


class DesktopAppMissingError(PermanentError):
    """PySide6, which the desktop app needs, is not installed."""

    code = "desktop_app_missing"
    message_en = ("The desktop app needs PySide6, which is not installed: pip install \"sttdesk[gui]\". "
                  "Without it, use 'sttdesk transcribe' or 'sttdesk serve' (see 'sttdesk --help').")
    message_vi = ("Ứng dụng máy tính cần PySide6 nhưng chưa được cài: pip install \"sttdesk[gui]\". "
                  "Nếu không, hãy dùng 'sttdesk transcribe' hoặc 'sttdesk serve' (xem 'sttdesk --help').")


@click.command()
@click.argument("files", nargs=-1, type=click.Path(path_type=Path))
@click.option("--minimized", is_flag=True, help="Start in the tray (or minimised).")
@click.pass_context
def gui(ctx: click.Context, files: tuple[Path, ...], minimized: bool) -> None:
    """Open the desktop app, with FILES (audio, video or folders) queued for transcription."""
    if importlib.util.find_spec("PySide6") is None:
        raise DesktopAppMissingError()
    from ..gui.app import main as run_desktop_app

    args = [str(path) for path in files]
    if minimized:
        args.append("--minimized")
    code = run_desktop_app(args)
    if code:
        ctx.exit(code)
