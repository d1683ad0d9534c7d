"""Errors of the desktop app's own inputs (each with an English and a Vietnamese message)."""

from __future__ import annotations

from ..domain.errors import PermanentError


class GuiError(PermanentError):
    """Base of the desktop app's errors."""

    code = "gui_error"


class QtBindingError(GuiError):
    """The installed PySide6 loses references to Python's True/None (PySide6 6.12.0 on Python 3.11)."""

    code = "qt_binding_broken"
    message_en = ("The installed PySide6 {version} has a known defect with Python {python} that makes the app crash "
                  "after a while. Install another version: pip install \"pyside6>=6.7,!=6.12.0\".")
    message_vi = ("Bản PySide6 {version} đang cài có lỗi đã biết với Python {python} khiến ứng dụng bị tắt đột ngột "
                  "sau một lúc. Hãy cài bản khác: pip install \"pyside6>=6.7,!=6.12.0\".")
