"""The desktop app: builds the core and the window, starts them, stops them cleanly.

``python -m sttdesk.gui [FILES…]`` (and the ``sttdesk-gui`` script) run :func:`main`.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QCoreApplication, QObject, Qt, QTimer
from PySide6.QtWidgets import QApplication

from ..domain.errors import SttdeskError
from ..domain.jobs import JobState
from ..service.views import JobView
from .binding_check import check_qt_binding
from .core_events import CoreEventBridge
from .errors import QtBindingError
from .i18n import choose_ui_language, install_translators
from .icons import icon
from .main_window import MainWindow
from .messages import error_text, show_error
from .os_signals import TerminationSignals
from .preferences import Preferences
from .tasks import DEFAULT_PARALLEL_THREADS, TaskRunner
from .tray import TrayIcon

if TYPE_CHECKING:
    from ..app import Core
    from ..paths import AppPaths
    from ..settings import Settings

log = logging.getLogger(__name__)

APP_NAME = "sttdesk"
#: How long quitting waits for background tasks (a model install is cancelled first).
SHUTDOWN_TASK_TIMEOUT_MS = 15_000
#: Python's thread switch interval while the app runs (seconds; Python's default is 0.005).
#: Qt paints a table by calling into Python for every cell and role, and each call takes the GIL
#: back from the worker threads; with the default, each hand-over can wait up to 5 ms, and a
#: paint makes hundreds of them.
GUI_SWITCH_INTERVAL = 0.001


class DesktopApp(QObject):
    """One running desktop app: the core, the window, the tray icon and the background runners."""

    def __init__(self, core: Core, *, ui_language: str = "en", use_tray: bool = True,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.core = core
        self.ui_language = ui_language
        self.serial = TaskRunner(self, threads=1, name="core-calls")
        self.parallel = TaskRunner(self, threads=DEFAULT_PARALLEL_THREADS, name="long-work")
        self.preferences = Preferences(core.settings, core.paths, self.serial, self)
        self.bridge = CoreEventBridge(core.events, self)
        self.window = MainWindow(core, self.preferences, serial=self.serial, parallel=self.parallel,
                                 ui_language=ui_language)
        self.tray: TrayIcon | None = None
        if use_tray and TrayIcon.available():
            self.tray = TrayIcon(self, ui_language=ui_language)
            self.tray.show_window_requested.connect(self.show_window)
            self.tray.quit_requested.connect(self.window.request_quit)
        self.bridge.received.connect(self.window.on_event)
        self.window.feed.job_finished.connect(self._job_finished)
        self.window.quit_requested.connect(self.quit)
        self.core_running = False
        self.core_error: BaseException | None = None
        self._stopped = False

    def start(self, files: Sequence[Path] = (), *, minimized: bool = False) -> None:
        """Show the window (or only the tray icon), start the core in the background, queue ``files``."""
        sys.setswitchinterval(min(sys.getswitchinterval(), GUI_SWITCH_INTERVAL))
        if self.tray is not None:
            self.tray.show()
        if not minimized:
            self.window.show()
        elif self.tray is None:  # without a tray, minimised is the nearest thing to hidden
            self.window.showMinimized()
        self.window.start()
        self.parallel.run(self.core.start, on_done=self._core_started, on_error=self._core_failed)
        if files:
            self.window.add_paths(list(files))

    def show_window(self) -> None:
        self.window.showNormal()
        self.window.raise_()
        self.window.activateWindow()

    def quit(self) -> None:
        """Stop everything, then leave the event loop."""
        self.shutdown()
        QCoreApplication.quit()

    def shutdown(self) -> None:
        """Stop following the core, finish background work and stop the core (idempotent)."""
        if self._stopped:
            return
        self._stopped = True
        self.window.hide()
        if self.tray is not None:
            self.tray.hide()
        self.window.stop()
        self.bridge.close()
        self.parallel.close(SHUTDOWN_TASK_TIMEOUT_MS)
        self.serial.close(SHUTDOWN_TASK_TIMEOUT_MS)
        try:
            self.core.stop()
        except Exception:
            log.exception("the core did not stop cleanly")
        self.window.deleteLater()

    def _core_started(self, _core: object) -> None:
        self.core_running = True
        log.info("core started")
        self.window.core_started()

    def _core_failed(self, error: BaseException) -> None:
        self.core_error = error
        log.error("the core did not start: %s", error, exc_info=error)
        show_error(self.window, self.tr("sttdesk could not start"), error_text(error, self.ui_language))

    def _job_finished(self, job: JobView) -> None:
        if job.state == JobState.COMPLETED.value:
            self.window.show_status(self.tr("Transcript ready: %1").replace("%1", job.name))
        else:
            reason = (job.error_vi if self.ui_language == "vi" else job.error_en) or ""
            self.window.show_status(self.tr("Transcription failed: %1").replace("%1", job.name)
                                    + (f" — {reason}" if reason else ""))
        if self.tray is not None and not self.window.isActiveWindow():
            self.tray.notify_finished(job)


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="sttdesk-gui", description="The sttdesk desktop app.")
    parser.add_argument("files", nargs="*", type=Path, help="audio or video files (or folders) to transcribe")
    parser.add_argument("--minimized", action="store_true", help="start in the tray (or minimised)")
    parser.add_argument("--log-level", choices=("debug", "info", "warning", "error"), default="warning")
    return parser.parse_args(list(argv))


def load_settings_or_defaults(paths: AppPaths) -> tuple[Settings, BaseException | None]:
    """The settings; a broken settings file is moved aside and the defaults used (with the error)."""
    from ..settings import Settings, SettingsError, load_settings, settings_path

    try:
        return load_settings(paths=paths), None
    except SettingsError as exc:
        broken = settings_path(paths)
        if broken.is_file():
            aside = broken.with_name(broken.name + ".broken")
            os.replace(broken, aside)
            log.error("settings file %s is broken (moved to %s): %s", broken, aside, exc)
        return Settings(), exc


def main(argv: Sequence[str] | None = None) -> int:
    """Run the desktop app until the user quits; returns the exit code."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from ..app import build_core
    from ..paths import default_paths

    QCoreApplication.setApplicationName(APP_NAME)
    QCoreApplication.setOrganizationName(APP_NAME)
    app = QApplication.instance()
    if app is None:
        QApplication.setHighDpiScaleFactorRoundingPolicy(Qt.HighDpiScaleFactorRoundingPolicy.PassThrough)
        app = QApplication([sys.argv[0]])
    app.setWindowIcon(icon("app"))
    app.setQuitOnLastWindowClosed(False)  # the window only hides on quit; DesktopApp.quit ends the loop
    paths = default_paths()
    try:
        check_qt_binding()
    except QtBindingError as exc:
        show_error(None, "sttdesk", exc.user_message("en") + "\n\n" + exc.user_message("vi"))
        return 1
    settings, settings_error = load_settings_or_defaults(paths)
    ui_language = choose_ui_language(settings.ui.language)
    translators = install_translators(app, ui_language)
    if settings_error is not None:
        show_error(None, QCoreApplication.translate("DesktopApp", "Settings reset"),
                   error_text(settings_error, ui_language),
                   QCoreApplication.translate("DesktopApp", "The default settings are used; the old file was kept "
                                                            "beside the new one with the ending .broken."))
    try:
        core = build_core(settings=settings, paths=paths)
    except Exception as exc:
        log.exception("could not build the core")
        show_error(None, QCoreApplication.translate("DesktopApp", "sttdesk could not start"),
                   error_text(exc, ui_language))
        return 1
    try:
        core.claim()  # a second app (or sttdesk serve) on the same job table says who holds it
    except SttdeskError as exc:
        core.stop()
        log.error("%s", exc)
        show_error(None, QCoreApplication.translate("DesktopApp", "sttdesk could not start"),
                   error_text(exc, ui_language))
        return 1
    desktop = DesktopApp(core, ui_language=ui_language)
    # Log-out, shutdown or Ctrl-C in a terminal: stop as Quit does (without asking; the work resumes).
    termination = TerminationSignals(app)
    termination.received.connect(lambda _number: desktop.quit())
    # Started from the event loop, so the window paints before the first background task returns.
    QTimer.singleShot(0, lambda: desktop.start(args.files, minimized=args.minimized or settings.ui.start_minimized))
    try:
        code = app.exec()
    finally:
        desktop.shutdown()
        termination.close()
        del translators
    return int(code)
