"""The tray icon: show or hide the window, quit, and notices when jobs end."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu, QSystemTrayIcon

from ..domain.jobs import JobState
from ..service.views import JobView
from .icons import icon

#: How long a notice stays up, in milliseconds.
NOTICE_MS = 6000


class TrayIcon(QObject):
    """A tray icon with a small menu; only built where the desktop has a tray."""

    show_window_requested = Signal()
    quit_requested = Signal()

    def __init__(self, parent: QObject | None = None, *, ui_language: str = "en") -> None:
        super().__init__(parent)
        self._ui_language = ui_language
        self.icon = QSystemTrayIcon(icon("app"), self)
        self.icon.setToolTip("sttdesk")
        self._menu = QMenu()
        show = QAction(self.tr("Show sttdesk"), self._menu)
        show.triggered.connect(self.show_window_requested)
        quit_action = QAction(self.tr("Quit"), self._menu)
        quit_action.triggered.connect(self.quit_requested)
        self._menu.addAction(show)
        self._menu.addSeparator()
        self._menu.addAction(quit_action)
        self.icon.setContextMenu(self._menu)
        self.icon.activated.connect(self._activated)

    @staticmethod
    def available() -> bool:
        return QSystemTrayIcon.isSystemTrayAvailable()

    def show(self) -> None:
        self.icon.show()

    def hide(self) -> None:
        self.icon.hide()

    def notify_finished(self, job: JobView) -> None:
        """A notice that ``job`` completed or failed."""
        if job.state == JobState.COMPLETED.value:
            self.icon.showMessage(self.tr("Transcript ready"), job.name,
                                  QSystemTrayIcon.MessageIcon.Information, NOTICE_MS)
        else:
            reason = (job.error_vi if self._ui_language == "vi" else job.error_en) or ""
            body = f"{job.name}\n{reason}".strip()
            self.icon.showMessage(self.tr("Transcription failed"), body,
                                  QSystemTrayIcon.MessageIcon.Warning, NOTICE_MS)

    def _activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason in (QSystemTrayIcon.ActivationReason.Trigger, QSystemTrayIcon.ActivationReason.DoubleClick):
            self.show_window_requested.emit()
