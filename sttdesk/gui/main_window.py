"""The main window: drop files anywhere, watch the jobs, read the selected transcript."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QSize, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QDesktopServices,
    QDragEnterEvent,
    QDragMoveEvent,
    QDropEvent,
    QKeySequence,
)
from PySide6.QtWidgets import QDialog, QFileDialog, QFrame, QLabel, QMainWindow, QSplitter, QToolBar, QWidget

from ..domain.errors import SttdeskError
from ..domain.jobs import JobState
from ..service.events import EventKind, ServiceEvent
from ..service.job_service import JobRequest, JobService
from ..service.views import JobView
from . import messages
from .agents_panel import AgentsPanel
from .export_dialog import ExportDialog
from .exporting import ExportOptions, ExportResult, export_jobs
from .file_drop import MEDIA_FILTER_PATTERNS, expand_paths, local_paths
from .icons import icon
from .job_actions import EXPORTABLE_STATES, OPERATIONS, JobActions, applicable, run_operation
from .job_feed import JobFeed
from .job_options_bar import JobOptionsBar
from .job_table_model import JobTableModel
from .job_table_view import JobTableView
from .models_dialog import ModelsDialog
from .preferences import Preferences
from .settings_dialog import SettingsDialog
from .tasks import TaskRunner
from .transcript_panel import TranscriptPanel

if TYPE_CHECKING:
    from ..app import Core
    from ..settings import Settings

log = logging.getLogger(__name__)

#: How often the status bar's pool figures are read again.
STATUS_REFRESH_MS = 5000
#: How long a status bar message stays.
STATUS_MESSAGE_MS = 8000
#: Wait after an agent event before reading the agents: the coordinator publishes its
#: snapshot of the links a moment after it announces the event.
AGENT_SETTLE_MS = 300


@dataclass(frozen=True, slots=True)
class AddOutcome:
    """What became of the files of one drop."""

    added: list[str]
    refused: list[tuple[Path, SttdeskError]]


def add_files(service: JobService, paths: Sequence[Path], *, language: str, model: str | None) -> AddOutcome:
    """Probe and queue every file of a drop (on a worker thread: each file is probed with ffprobe)."""
    files = expand_paths(paths)
    added, refused = service.add_many(JobRequest(path=path, language=language, model=model or None)
                                      for path in files)
    return AddOutcome(added=added, refused=refused)


@dataclass(frozen=True, slots=True)
class PoolStatus:
    """The status bar's figures, read on a worker."""

    agents_ready: int
    agents_total: int
    #: Sum over ready agents of their measured speed (× real time); None before any measurement.
    speed: float | None
    #: Agent id → the name it announced, for the job table's agents column.
    names: dict[str, str]


def read_pool_status(core: Core) -> PoolStatus:
    agents = core.coordinator.agents()
    records = core.store.list_agents()
    ready = [agent for agent in agents if agent.ready]
    measured = {record.id: record.real_time_factor for record in records}
    speeds = [1.0 / rtf for agent in ready if (rtf := measured.get(agent.agent_id or "")) is not None and rtf > 0]
    names = {record.id: record.name for record in records if record.name}
    names.update({agent.agent_id: agent.name for agent in agents if agent.agent_id and agent.name})
    return PoolStatus(agents_ready=len(ready), agents_total=len(agents), speed=sum(speeds) if speeds else None,
                      names=names)


class MainWindow(QMainWindow):
    """The job table above the selected job's transcript; everything runs through the core."""

    #: The user asked to quit (menu or closing the window, after confirming).
    quit_requested = Signal()

    def __init__(
        self,
        core: Core,
        preferences: Preferences,
        *,
        serial: TaskRunner,
        parallel: TaskRunner,
        ui_language: str = "en",
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.core = core
        self.preferences = preferences
        self.serial = serial
        self.parallel = parallel
        self.ui_language = ui_language
        self._adding = 0
        self._quitting = False
        self._core_default_model = ""
        self._select_when_listed = ""
        #: What the latest export wrote (for the status bar and tests).
        self.last_export: ExportResult | None = None
        self._open_url: Callable[[QUrl], bool] = QDesktopServices.openUrl
        # Runs a modal dialog, True when accepted (tests answer dialogs without a modal loop).
        self._run_dialog: Callable[[QDialog], bool] = lambda dialog: dialog.exec() == QDialog.DialogCode.Accepted
        self._export_folder: Path | None = None
        self._export_formats: tuple[str, ...] | None = None
        self._export_timestamps = False
        self.setWindowTitle("sttdesk")
        self.setWindowIcon(icon("app"))
        self.setAcceptDrops(True)
        self.resize(1100, 720)

        self.jobs = JobTableModel(self, ui_language=ui_language)
        self.feed = JobFeed(core.service, self.jobs, serial, self)
        self.actions = JobActions(self)
        self.options = JobOptionsBar(self)
        self.table = JobTableView(self.jobs, self)
        self.table.set_empty_text(self.tr("Drop audio or video files here to transcribe them,\n"
                                          "or use Add Files… (Ctrl+O)."))
        self.transcript = TranscriptPanel(core.service, serial, ui_language=ui_language, parent=self)
        self._build_layout()
        self._build_menus()
        self._build_status_bar()
        self._connect()
        self._apply_settings(preferences.settings)
        self._status_timer = QTimer(self, interval=STATUS_REFRESH_MS)
        self._status_timer.timeout.connect(self.refresh_pool_status)
        self._agents_timer = QTimer(self, singleShot=True, interval=AGENT_SETTLE_MS)
        self._agents_timer.timeout.connect(self.refresh_pool_status)

    # --- construction --------------------------------------------------------------------

    def _build_layout(self) -> None:
        toolbar = QToolBar(self.tr("Main toolbar"), self)
        toolbar.setObjectName("mainToolbar")
        toolbar.setMovable(False)
        toolbar.setIconSize(QSize(20, 20))
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        toolbar.addAction(self.actions.add_files)
        toolbar.addWidget(self.options)
        toolbar.addSeparator()
        for action in (self.actions.pause, self.actions.resume, self.actions.cancel, self.actions.retry,
                       self.actions.remove):
            toolbar.addAction(action)
        toolbar.addSeparator()
        toolbar.addAction(self.actions.export)
        self.addToolBar(toolbar)
        self.toolbar = toolbar
        # Short texts beside the icons keep the toolbar narrow; the menus have the full ones.
        for action in (self.actions.pause, self.actions.resume, self.actions.cancel, self.actions.remove):
            button = toolbar.widgetForAction(action)
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)

        splitter = QSplitter(Qt.Orientation.Vertical, self)
        splitter.setObjectName("mainSplitter")
        splitter.addWidget(self.table)
        splitter.addWidget(self.transcript)
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 1)
        splitter.setChildrenCollapsible(False)
        splitter.setContentsMargins(6, 0, 6, 0)
        self.setCentralWidget(splitter)
        self.splitter = splitter
        self.table.addAction(self.actions.remove)  # Delete works while the table has focus
        self.table.set_context_actions([
            self.actions.pause, self.actions.resume, self.actions.cancel, self.actions.retry, None,
            self.actions.open_folder, self.actions.export, None, self.actions.remove,
        ])

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu(self.tr("&File"))
        file_menu.addAction(self.actions.add_files)
        file_menu.addAction(self.actions.add_folder)
        file_menu.addSeparator()
        file_menu.addAction(self.actions.export)
        file_menu.addSeparator()
        self.quit_action = QAction(self.tr("&Quit"), self)
        self.quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        self.quit_action.setMenuRole(QAction.MenuRole.QuitRole)
        self.quit_action.triggered.connect(self.request_quit)
        file_menu.addAction(self.quit_action)

        jobs_menu = bar.addMenu(self.tr("&Jobs"))
        for action in (self.actions.pause, self.actions.resume, self.actions.cancel, self.actions.retry):
            jobs_menu.addAction(action)
        jobs_menu.addSeparator()
        jobs_menu.addAction(self.actions.open_folder)
        jobs_menu.addSeparator()
        jobs_menu.addAction(self.actions.remove)
        select_all = QAction(self.tr("Select &All"), self)
        select_all.setShortcut(QKeySequence.StandardKey.SelectAll)
        select_all.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        select_all.triggered.connect(self.table.selectAll)
        self.table.addAction(select_all)
        jobs_menu.addAction(select_all)
        self.file_menu, self.jobs_menu = file_menu, jobs_menu
        self.tools_menu = bar.addMenu(self.tr("&Tools"))
        self.agents_action = QAction(icon("agents"), self.tr("&Agents…"), self)
        self.agents_action.setShortcut(QKeySequence("Ctrl+Shift+A"))
        self.agents_action.setStatusTip(self.tr("See the computers that transcribe, and add one by address"))
        self.agents_action.triggered.connect(self.show_agents)
        self.models_action = QAction(icon("models"), self.tr("&Models…"), self)
        self.models_action.setShortcut(QKeySequence("Ctrl+Shift+M"))
        self.models_action.setStatusTip(self.tr("Install, import, remove and choose whisper models"))
        self.models_action.triggered.connect(self.show_models)
        self.settings_action = QAction(icon("settings"), self.tr("&Settings…"), self)
        self.settings_action.setShortcut(QKeySequence.StandardKey.Preferences)
        if self.settings_action.shortcut().isEmpty():
            self.settings_action.setShortcut(QKeySequence("Ctrl+,"))
        self.settings_action.setMenuRole(QAction.MenuRole.PreferencesRole)
        self.settings_action.triggered.connect(self.show_settings)
        for action in (self.agents_action, self.models_action, self.settings_action):
            action.setToolTip(f"{action.statusTip() or action.text().replace('&', '').rstrip('…')} "
                              f"({action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)})")
            self.tools_menu.addAction(action)
        self.toolbar.addSeparator()
        for action in (self.agents_action, self.models_action, self.settings_action):
            self.toolbar.addAction(action)
            self.toolbar.widgetForAction(action).setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)
        self.agents_panel: AgentsPanel | None = None
        self.models_dialog: ModelsDialog | None = None

    def _build_status_bar(self) -> None:
        status = self.statusBar()
        self.queue_label = QLabel(self)
        self.pool_label = QLabel(self)
        status.addPermanentWidget(self.queue_label)
        separator = QFrame(self)  # the two labels otherwise read as one run-on sentence
        separator.setFrameShape(QFrame.Shape.VLine)
        separator.setFrameShadow(QFrame.Shadow.Sunken)
        status.addPermanentWidget(separator)
        status.addPermanentWidget(self.pool_label)
        self.pool_label.setText(self.tr("Starting agents…"))

    def _connect(self) -> None:
        self.actions.add_files.triggered.connect(self.choose_files)
        self.actions.add_folder.triggered.connect(self.choose_folder)
        self.actions.operation_requested.connect(self.run_operation)
        self.actions.open_folder.triggered.connect(self.open_selected_folders)
        self.actions.export.triggered.connect(self.export_selected)
        self.feed.job_finished.connect(self._export_automatically)
        self.table.selection_changed.connect(self.actions.set_selection)
        self.table.current_job_changed.connect(self.transcript.show_job)
        self.table.doubleClicked.connect(lambda _index: self.transcript.table.setFocus())
        self.feed.jobs_changed.connect(self._update_queue_label)
        self.feed.jobs_changed.connect(self._select_pending_job)
        self.feed.transcript_changed.connect(self.transcript.job_changed)
        self.feed.agents_changed.connect(self._agents_changed)
        self.options.changed.connect(self._remember_job_options)
        self.transcript.status_message.connect(self.show_status)
        self.transcript.error.connect(lambda title, text: messages.show_error(self, title, text))
        self.preferences.changed.connect(self._apply_settings)

    # --- start and events -------------------------------------------------------------------

    def start(self) -> None:
        """Begin following the core (call once the window exists; the core may still be starting)."""
        self.feed.start()
        self._status_timer.start()
        self.refresh_models()

    def stop(self) -> None:
        self.feed.stop()
        self._status_timer.stop()
        self._agents_timer.stop()
        self.transcript.stop()
        if self.models_dialog is not None:
            self.models_dialog.shutdown()
        for window in (self.agents_panel, self.models_dialog):
            if window is not None:
                window.hide()

    def on_event(self, event: ServiceEvent) -> None:
        """Every core event, on the GUI thread."""
        self.feed.on_event(event)
        if self.agents_panel is not None:
            self.agents_panel.on_event(event)
        if event.kind is EventKind.ALERT:
            key = "message_vi" if self.ui_language == "vi" else "message_en"
            self.show_status(str(event.data.get(key) or event.data.get("message_en") or ""))

    def core_started(self) -> None:
        self.refresh_pool_status()

    def show_status(self, text: str) -> None:
        if text:
            self.statusBar().showMessage(text, STATUS_MESSAGE_MS)

    # --- adding files ------------------------------------------------------------------------

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if local_paths(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        if local_paths(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = local_paths(event.mimeData())
        if not paths:
            event.ignore()
            return
        event.acceptProposedAction()
        self.add_paths(paths)

    def choose_files(self) -> None:
        files, _filter = QFileDialog.getOpenFileNames(
            self, self.tr("Add Files"), "",
            self.tr("Audio and video (%1);;All files (*)").replace("%1", MEDIA_FILTER_PATTERNS))
        if files:
            self.add_paths([Path(f) for f in files])

    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, self.tr("Add Folder"))
        if folder:
            self.add_paths([Path(folder)])

    @property
    def adding(self) -> bool:
        """Whether dropped files are still being probed and queued."""
        return self._adding > 0

    def add_paths(self, paths: Sequence[Path]) -> None:
        """Queue files (folders are searched for media) with the language and model chosen above the table."""
        language, model = self.options.language, self.options.model
        service = self.core.service
        self._adding += 1
        self.show_status(self.tr("Adding %n item(s)…", "", len(paths)))
        self.parallel.run(lambda: add_files(service, list(paths), language=language, model=model),
                          on_done=self._added, on_error=self._add_failed)

    def _added(self, outcome: AddOutcome) -> None:
        self._adding -= 1
        if outcome.added:
            self.show_status(self.tr("Added %n file(s).", "", len(outcome.added)))
            self.feed.refresh(outcome.added)
            if not self.table.current_job_id():
                self._select_when_listed = outcome.added[0]
                self._select_pending_job()
        elif not outcome.refused:
            self.show_status(self.tr("No audio or video files found."))
        if outcome.refused:
            messages.show_error(
                self, self.tr("Some files were not added"),
                self.tr("%n file(s) could not be added:", "", len(outcome.refused)),
                messages.file_errors_text(outcome.refused, self.ui_language))

    def _add_failed(self, error: BaseException) -> None:
        self._adding -= 1
        messages.show_error(self, self.tr("Files were not added"), messages.error_text(error, self.ui_language))

    def _select_pending_job(self) -> None:
        """Select the first job of a drop once the table lists it (so its transcript shows)."""
        if self._select_when_listed and self.table.select_job(self._select_when_listed):
            self._select_when_listed = ""

    # --- job operations ------------------------------------------------------------------------

    def run_operation(self, name: str) -> None:
        """Apply a job operation ("pause", "resume", "cancel", "retry", "remove") to the selection."""
        operation = OPERATIONS[name]
        job_ids = applicable(operation, self.table.selected_jobs())
        if not job_ids:
            return
        if name == "remove" and not self.confirm_remove(len(job_ids)):
            return
        if name in ("remove", "cancel"):
            self.transcript.player.stop()
        service = self.core.service
        self.serial.run(lambda: run_operation(service, operation, job_ids),
                        on_done=lambda refused: self._operation_done(job_ids, refused),
                        on_error=lambda exc: messages.show_error(
                            self, self.tr("The action failed"), messages.error_text(exc, self.ui_language)))

    def confirm_remove(self, count: int) -> bool:
        return messages.ask(
            self, self.tr("Remove jobs"),
            self.tr("Remove %n job(s) from the list? Their transcripts and corrections are deleted; "
                    "your audio files are not touched.", "", count),
            yes=self.tr("Remove"))

    def _operation_done(self, job_ids: list[str], refused: list[tuple[str, SttdeskError]]) -> None:
        self.feed.refresh(job_ids)
        if refused:
            names = {job.id: job.name for job in self.jobs.jobs()}
            lines = [f"{names.get(job_id, job_id)}: {messages.error_text(error, self.ui_language)}"
                     for job_id, error in refused]
            messages.show_error(self, self.tr("Some jobs were left as they were"), "\n".join(lines))

    def open_selected_folders(self) -> None:
        folders = sorted({str(Path(job.path).parent) for job in self.table.selected_jobs()})
        for folder in folders[:5]:  # a handful of file manager windows at most
            if not Path(folder).is_dir():
                self.show_status(self.tr("The folder %1 no longer exists.").replace("%1", folder))
                continue
            self._open_url(QUrl.fromLocalFile(folder))

    # --- export -----------------------------------------------------------------------------------

    def export_selected(self) -> None:
        """Ask for formats and a folder, then write the selected jobs' transcripts there."""
        jobs = [job for job in self.table.selected_jobs() if job.state in EXPORTABLE_STATES]
        if not jobs:
            return
        settings = self.preferences.settings
        folder = self._export_folder or Path(settings.ui.auto_export_dir or Path(jobs[0].path).parent)
        formats = self._export_formats or tuple(settings.ui.auto_export_formats)
        dialog = ExportDialog(len(jobs), folder=folder, formats=formats, txt_timestamps=self._export_timestamps,
                              ui_language=self.ui_language, parent=self)
        try:
            if not self._run_dialog(dialog):
                return
            options = dialog.options()
        finally:
            dialog.deleteLater()
        self._export_folder, self._export_formats = options.folder, options.formats
        self._export_timestamps = options.txt_timestamps
        self.export_jobs([job.id for job in jobs], options)

    def export_jobs(self, job_ids: list[str], options: ExportOptions, *, automatic: bool = False) -> None:
        """Write transcripts in the background; report what was written, and what failed, when done."""
        service = self.core.service
        self.parallel.run(lambda: export_jobs(service, job_ids, options),
                          on_done=lambda result: self._exported(result, options, automatic),
                          on_error=lambda exc: messages.show_error(
                              self, self.tr("Export failed"), messages.error_text(exc, self.ui_language)))

    def _exported(self, result: ExportResult, options: ExportOptions, automatic: bool) -> None:
        self.last_export = result
        if result.written:
            self.show_status(self.tr("Saved %n file(s) in %1.", "", len(result.written))
                             .replace("%1", str(options.folder)))
        if result.failed:
            lines = [f"{name}: {messages.error_text(error, self.ui_language)}" for name, error in result.failed]
            title = self.tr("Automatic export failed") if automatic else self.tr("Some transcripts were not saved")
            messages.show_error(self, title, "\n".join(lines))

    def _export_automatically(self, job: JobView) -> None:
        settings = self.preferences.settings
        if job.state != JobState.COMPLETED.value or not settings.ui.auto_export_dir:
            return
        options = ExportOptions(folder=Path(settings.ui.auto_export_dir).expanduser(),
                                formats=tuple(settings.ui.auto_export_formats), ui_language=self.ui_language)
        if options.formats:
            self.export_jobs([job.id], options, automatic=True)

    # --- models and settings -----------------------------------------------------------------

    def refresh_models(self) -> None:
        """List the installed models in the model drop-down (read in the background)."""
        models, service = self.core.models, self.core.service
        self.serial.run(lambda: ([model.name for model in models.list()], service.default_model()),
                        on_done=self._models_listed,
                        on_error=lambda exc: log.error("could not list models: %s", exc))

    def _models_listed(self, listing: tuple[list[str], str]) -> None:
        names, core_default = listing
        self._core_default_model = core_default
        self.options.set_models(names, self._chosen_model(self.preferences.settings))

    def _chosen_model(self, settings: Settings) -> str:
        """The model new jobs get: the user's remembered choice, else the core's default."""
        return settings.processing.default_model or self._core_default_model

    def _remember_job_options(self, language: str, model: str) -> None:
        def change(settings: Settings) -> None:
            settings.processing.default_language = language
            if model:
                settings.processing.default_model = model

        self.preferences.update(change)

    def _apply_settings(self, settings: Settings) -> None:
        self.options.set_language(settings.processing.default_language)
        chosen = self._chosen_model(settings)
        if chosen and self.options.model != chosen:
            names = [self.options.model_box.itemData(i) for i in range(self.options.model_box.count())]
            self.options.set_models(names, chosen)

    # --- tool windows -----------------------------------------------------------------------------

    def show_agents(self) -> AgentsPanel:
        if self.agents_panel is None:
            self.agents_panel = AgentsPanel(self.core, self.serial, ui_language=self.ui_language, parent=self)
            self.agents_panel.status_message.connect(self.show_status)
        self._raise(self.agents_panel)
        return self.agents_panel

    def show_models(self) -> ModelsDialog:
        if self.models_dialog is None:
            self.models_dialog = ModelsDialog(self.core.models, self.serial, self.parallel,
                                              ui_language=self.ui_language, parent=self)
            self.models_dialog.models_changed.connect(self.refresh_models)
            self.models_dialog.default_chosen.connect(self._default_model_chosen)
        self._raise(self.models_dialog)
        return self.models_dialog

    def show_settings(self) -> None:
        """Edit the settings; saved through :class:`Preferences` when the user presses Save."""
        names = [self.options.model_box.itemData(i) for i in range(self.options.model_box.count())]
        dialog = SettingsDialog(self.preferences.settings, names, ui_language=self.ui_language, parent=self)
        try:
            if self._run_dialog(dialog):
                self.preferences.replace(dialog.result_settings())
                self.show_status(self.tr("Settings saved."))
        finally:
            dialog.deleteLater()

    def _default_model_chosen(self, name: str) -> None:
        def change(settings: Settings) -> None:
            settings.processing.default_model = name

        self.preferences.update(change)

    @staticmethod
    def _raise(window: QWidget) -> None:
        window.show()
        window.raise_()
        window.activateWindow()

    # --- status bar ------------------------------------------------------------------------------

    def _agents_changed(self) -> None:
        self._agents_timer.start()

    def refresh_pool_status(self) -> None:
        core = self.core
        self.serial.run(lambda: read_pool_status(core), on_done=self._show_pool_status,
                        on_error=lambda exc: log.warning("could not read the pool status: %s", exc))

    def _show_pool_status(self, status: PoolStatus) -> None:
        self.jobs.set_agent_names(status.names)
        if not status.agents_total:
            self.pool_label.setText(self.tr("No agents yet"))
            return
        text = self.tr("%n agent(s) ready", "", status.agents_ready)
        if status.speed:
            text += " · " + self.tr("%1× real time").replace("%1", f"{status.speed:.1f}")
        self.pool_label.setText(text)

    def _update_queue_label(self) -> None:
        jobs = self.jobs.jobs()
        waiting = sum(1 for job in jobs if job.state == JobState.PENDING.value)
        running = sum(1 for job in jobs if job.state == JobState.PROCESSING.value)
        paused = sum(1 for job in jobs if job.state == JobState.PAUSED.value)
        parts = [self.tr("%n transcribing", "", running), self.tr("%n waiting", "", waiting)]
        if paused:
            parts.append(self.tr("%n paused", "", paused))
        self.queue_label.setText(" · ".join(parts))
        self.actions.set_selection(self.table.selected_jobs())

    def active_jobs(self) -> list[JobView]:
        return [job for job in self.jobs.jobs() if job.state in (JobState.PENDING.value, JobState.PROCESSING.value)]

    # --- closing -----------------------------------------------------------------------------

    def request_quit(self) -> None:
        """Quit, after asking when jobs are still running (they continue on the next start)."""
        active = self.active_jobs()
        if active and not self.confirm_quit(len(active)):
            return
        self._quitting = True
        self.quit_requested.emit()

    def confirm_quit(self, active: int) -> bool:
        return messages.ask(
            self, self.tr("Quit sttdesk"),
            self.tr("%n job(s) are still being transcribed. They will continue the next time you start "
                    "sttdesk. Quit now?", "", active),
            yes=self.tr("Quit"))

    def closeEvent(self, event: QCloseEvent) -> None:
        if self._quitting:
            event.accept()
            return
        event.ignore()
        self.request_quit()
