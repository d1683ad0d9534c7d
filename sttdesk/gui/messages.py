"""Error texts and small question boxes in the user's language.

The core's errors carry their own English and Vietnamese messages; this module
picks the one for the UI language. Message boxes get translated button texts
of our own, since Qt ships no Vietnamese translation of its standard buttons.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import QMessageBox, QWidget

from ..domain.errors import SttdeskError

log = logging.getLogger(__name__)

#: At most this many lines are listed in one message; the rest are counted.
MAX_LISTED = 12


def error_text(error: BaseException, ui_language: str) -> str:
    """What to tell a user about ``error``: its own message for sttdesk errors."""
    if isinstance(error, SttdeskError):
        return error.user_message(ui_language)
    log.error("unexpected error shown to the user", exc_info=error)
    return QCoreApplication.translate("Messages", "Unexpected error: %1").replace("%1", str(error) or type(error).__name__)


def file_errors_text(failures: Sequence[tuple[Path, BaseException]], ui_language: str) -> str:
    """One line per refused file: "name: reason" (long lists are cut short)."""
    lines = [f"{path.name}: {error_text(error, ui_language)}" for path, error in failures[:MAX_LISTED]]
    hidden = len(failures) - MAX_LISTED
    if hidden > 0:
        # the count is a plain name: lupdate does not read an expression as the plural count
        lines.append(QCoreApplication.translate("Messages", "…and %n more.", "", hidden))
    return "\n".join(lines)


def show_error(parent: QWidget | None, title: str, text: str, details: str = "") -> None:
    """A modal error box with an OK button."""
    box = QMessageBox(QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.Ok, parent)
    box.button(QMessageBox.StandardButton.Ok).setText(QCoreApplication.translate("Messages", "OK"))
    if details:
        box.setInformativeText(details)
    box.exec()


def ask(parent: QWidget | None, title: str, text: str, *, yes: str, no: str | None = None) -> bool:
    """A yes/no question; ``yes`` and ``no`` are the buttons' texts. True if the user said yes."""
    box = QMessageBox(QMessageBox.Icon.Question, title, text, QMessageBox.StandardButton.NoButton, parent)
    yes_button = box.addButton(yes, QMessageBox.ButtonRole.AcceptRole)
    no_button = box.addButton(no or QCoreApplication.translate("Messages", "Cancel"), QMessageBox.ButtonRole.RejectRole)
    box.setDefaultButton(no_button)
    box.setEscapeButton(no_button)
    box.exec()
    return box.clickedButton() is yes_button
