"""The model manager: installed and available models; install, import, remove, choose the default."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import (
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    Signal,
)
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QStyle,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from ..engine.store import ModelRow, ModelStatus, ModelStore
from . import formatting, messages
from .column_widths import cell_width, fit_columns
from .icons import icon
from .model_tasks import (
    InstallProgress,
    ModelListing,
    can_cancel,
    import_model,
    install_model,
    read_models,
)
from .models_model import MODEL_ROW_ROLE, SORT_ROLE, ModelColumn, ModelsModel
from .tasks import TaskRunner

log = logging.getLogger(__name__)

#: The window's size before its columns are measured; it grows to show every column whole.
DEFAULT_SIZE = (860, 520)
#: Room kept for the model names (the one column sized by what it holds), in pixels.
NAME_COLUMN_WIDTH = 170
#: The layout's margins and the table's frame beside the columns, in pixels.
WINDOW_MARGINS = 40


class _InstalledFilter(QSortFilterProxyModel):
    """Hides models that are only available, when asked to."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.installed_only = False

    def set_installed_only(self, only: bool) -> None:
        if hasattr(self, "beginFilterChange"):  # Qt 6.9 and later
            self.beginFilterChange()
            self.installed_only = only
            self.endFilterChange()
        else:
            self.installed_only = only
            self.invalidateFilter()

    def filterAcceptsRow(self, source_row: int, source_parent: QModelIndex | QPersistentModelIndex) -> bool:
        if not self.installed_only:
            return True
        row: ModelRow = self.sourceModel().index(source_row, 0, source_parent).data(MODEL_ROW_ROLE)
        return row.status is not ModelStatus.AVAILABLE


class ModelsDialog(QDialog):
    """Lists models and runs every change in the background, one install at a time."""

    #: Installed models or the default changed (the main window lists them again).
    models_changed = Signal()
    #: The user made this model the default.
    default_chosen = Signal(str)

    def __init__(self, store: ModelStore, serial: TaskRunner, parallel: TaskRunner, *, ui_language: str = "en",
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._store = store
        self._serial = serial
        self._parallel = parallel
        self._ui_language = ui_language
        self._cancel: threading.Event | None = None
        self._busy_name = ""
        #: Asks a yes/no question (tests answer it without a modal loop).
        self.confirm: Callable[[str, str, str], bool] = lambda title, text, yes: messages.ask(self, title, text,
                                                                                              yes=yes)
        #: Picks a model file to import; returns None when the user cancels.
        self.choose_file: Callable[[], Path | None] = self._choose_file
        self.setWindowTitle(self.tr("Models"))
        self.setWindowIcon(icon("models"))
        self.resize(*DEFAULT_SIZE)

        self.model = ModelsModel(self)
        self.proxy = _InstalledFilter(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setSortRole(SORT_ROLE)
        self.table = QTableView(self)
        self.table.setObjectName("modelsTable")
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setAlternatingRowColors(True)
        self.table.setShowGrid(False)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(ModelColumn.NAME, QHeaderView.ResizeMode.Stretch)
        # Every other column shows texts of a known vocabulary: each gets its widest text's width
        # (bold, as the default model's row is), and the window is made wide enough for all of them.
        fitted = fit_columns(self.table, {
            column: cell_width(self.table, texts, bold=True)
            for column in ModelColumn if (texts := self.model.widest_texts(column))
        })
        scroll_bar = self.style().pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent, None, self)
        width = max(DEFAULT_SIZE[0], fitted + NAME_COLUMN_WIDTH + scroll_bar + WINDOW_MARGINS)
        screen = self.screen()
        if screen is not None:  # never wider than the screen: the name column gives way first
            width = min(width, screen.availableGeometry().width())
        self.resize(width, DEFAULT_SIZE[1])
        # A text that does not fit is elided ("…"), never wrapped into a clipped second line.
        self.table.setWordWrap(False)
        self.table.selectionModel().selectionChanged.connect(self._update_buttons)
        self.table.doubleClicked.connect(lambda _index: self.install_selected())

        self.installed_only = QCheckBox(self.tr("Show installed models only"), self)
        self.installed_only.toggled.connect(self._filter_installed)
        self.intro = QLabel(self)
        self.intro.setWordWrap(True)

        self.install_button = QPushButton(icon("add"), self.tr("Install"), self)
        self.install_button.clicked.connect(self.install_selected)
        self.import_button = QPushButton(icon("folder"), self.tr("Import File…"), self)
        self.import_button.setToolTip(self.tr("Add a whisper.cpp model file (ggml .bin) from this computer"))
        self.import_button.clicked.connect(self.import_file)
        self.default_button = QPushButton(self.tr("Make Default"), self)
        self.default_button.clicked.connect(self.make_default)
        self.remove_button = QPushButton(icon("remove"), self.tr("Remove"), self)
        self.remove_button.clicked.connect(self.remove_selected)
        buttons = QHBoxLayout()
        for button in (self.install_button, self.import_button, self.default_button, self.remove_button):
            buttons.addWidget(button)
        buttons.addStretch(1)

        self.progress = QProgressBar(self)
        self.progress.setTextVisible(True)
        self.progress_label = QLabel(self)
        self.cancel_button = QPushButton(self.tr("Cancel Install"), self)
        self.cancel_button.clicked.connect(self.cancel_install)
        progress_row = QHBoxLayout()
        progress_row.addWidget(self.progress_label)
        progress_row.addWidget(self.progress, 1)
        progress_row.addWidget(self.cancel_button)
        self.progress_box = QWidget(self)
        self.progress_box.setLayout(progress_row)
        self.progress_box.hide()

        close = QPushButton(self.tr("Close"), self)
        close.clicked.connect(self.close)
        bottom = QHBoxLayout()
        self.status = QLabel(self)
        self.status.setWordWrap(True)
        bottom.addWidget(self.status, 1)
        bottom.addWidget(close)

        layout = QVBoxLayout(self)
        layout.addWidget(self.intro)
        layout.addWidget(self.installed_only)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.progress_box)
        layout.addLayout(bottom)
        self._listing: ModelListing | None = None
        #: A model to select once the list is read again (the one just installed).
        self._select_next = ""
        self._update_buttons()

    # --- reading ---------------------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        """Whether an install or import runs."""
        return bool(self._busy_name)

    def refresh(self) -> None:
        store = self._store
        self._serial.run(lambda: read_models(store), on_done=self._listed, on_error=self._failed)

    def _listed(self, listing: ModelListing) -> None:
        selected = self.selected_name()
        self._listing = listing
        self.model.set_rows(listing.rows)
        if listing.recommended:
            self.intro.setText(self.tr("★ %1 is recommended for this computer. Bigger models are more accurate "
                                       "but slower; the memory each needs is listed.").replace(
                                           "%1", listing.recommended))
        else:
            self.intro.setText(self.tr("Bigger models are more accurate but slower; the memory each needs "
                                       "is listed."))
        wanted, self._select_next = self._select_next or selected, ""
        if wanted:
            self.select(wanted)
        self._update_buttons()

    def select(self, name: str) -> bool:
        row = self.model.row_of(name)
        if row < 0:
            return False
        index = self.proxy.mapFromSource(self.model.index(row, 0))
        if not index.isValid():
            return False
        self.table.selectRow(index.row())
        self.table.scrollTo(index)
        return True

    def selected_row(self) -> ModelRow | None:
        rows = self.table.selectionModel().selectedRows()
        return rows[0].data(MODEL_ROW_ROLE) if rows else None

    def selected_name(self) -> str:
        row = self.selected_row()
        return row.name if row is not None else ""

    # --- actions -----------------------------------------------------------------------------------

    def install_selected(self) -> None:
        row = self.selected_row()
        if row is None or row.entry is None or row.status is ModelStatus.INSTALLED or self.busy:
            return
        name, store = row.name, self._store
        self._cancel = threading.Event()
        cancel = self._cancel
        progress = self._start_progress(name, self.tr("Installing %1…").replace("%1", name),
                                        cancellable=can_cancel(store, name))
        self._parallel.run(lambda: install_model(store, name, progress=progress, cancel=cancel),
                           on_done=lambda models: self._install_done(name, [m.name for m in models]),
                           on_error=lambda exc: self._install_failed(name, exc))

    def cancel_install(self) -> None:
        if self._cancel is not None:
            self._cancel.set()
            self.cancel_button.setEnabled(False)
            self.progress_label.setText(self.tr("Cancelling…"))

    def import_file(self) -> None:
        if self.busy:
            return
        path = self.choose_file()
        if path is None:
            return
        store = self._store
        progress = self._start_progress(path.name, self.tr("Importing %1…").replace("%1", path.name),
                                        cancellable=False)
        self._parallel.run(lambda: import_model(store, path, progress=progress),
                           on_done=lambda model: self._install_done(path.name, [model.name]),
                           on_error=lambda exc: self._install_failed(path.name, exc))

    def remove_selected(self) -> None:
        row = self.selected_row()
        if row is None or row.installed is None or self.busy:
            return
        question = self.tr("Remove the model %1 (%2) from this computer? Jobs waiting for it will fail "
                           "until it is installed again.").replace("%1", row.name).replace(
                               "%2", formatting.byte_size(row.installed.size))
        if not self.confirm(self.tr("Remove Model"), question, self.tr("Remove")):
            return
        name, store = row.name, self._store
        self._serial.run(lambda: store.remove(name),
                         on_done=lambda _none: self._changed(self.tr("%1 was removed.").replace("%1", name)),
                         on_error=self._failed)

    def make_default(self) -> None:
        row = self.selected_row()
        if row is None or row.status is not ModelStatus.INSTALLED:
            return
        name, store = row.name, self._store
        self._serial.run(lambda: store.set_default(name),
                         on_done=lambda _none: self._default_set(name), on_error=self._failed)

    # --- results -------------------------------------------------------------------------------------

    def _default_set(self, name: str) -> None:
        self.default_chosen.emit(name)
        self._changed(self.tr("New jobs use %1 from now on.").replace("%1", name))

    def _changed(self, message: str) -> None:
        self.status.setText(message)
        self.models_changed.emit()
        self.refresh()

    def _start_progress(self, name: str, text: str, *, cancellable: bool) -> InstallProgress:
        self._busy_name = name
        progress = InstallProgress(self)
        progress.changed.connect(self._progressed)
        self.progress.setRange(0, 0)  # busy until the first report says how much there is
        self.progress_label.setText(text)
        self.cancel_button.setEnabled(cancellable)
        self.cancel_button.setToolTip("" if cancellable else self.tr("Building a model locally cannot be cancelled"))
        self.progress_box.show()
        self.status.clear()
        self._update_buttons()
        return progress

    def _progressed(self, done: int, total: int | None) -> None:
        if total:
            self.progress.setRange(0, 1000)
            self.progress.setValue(int(1000 * min(done, total) / total))
            self.progress.setFormat(f"{formatting.byte_size(done)} / {formatting.byte_size(total)}"
                                    if total > 1_000_000 else "%p%")

    def _install_done(self, name: str, installed: list[str]) -> None:
        self._finish_progress()
        self._select_next = installed[-1] if installed else name
        self._changed(self.tr("Installed: %1").replace("%1", ", ".join(installed)))

    def _install_failed(self, name: str, error: BaseException) -> None:
        cancelled = self._cancel is not None and self._cancel.is_set()
        self._finish_progress()
        if cancelled:
            self.status.setText(self.tr("Install of %1 cancelled; it resumes where it stopped next time.")
                                .replace("%1", name))
        else:
            self.status.setText(messages.error_text(error, self._ui_language))
        self.refresh()

    def _finish_progress(self) -> None:
        self._busy_name = ""
        self._cancel = None
        self.progress_box.hide()
        self._update_buttons()

    def _failed(self, error: BaseException) -> None:
        self.status.setText(messages.error_text(error, self._ui_language))
        self.refresh()

    # --- helpers ----------------------------------------------------------------------------------

    def _choose_file(self) -> Path | None:
        chosen, _filter = QFileDialog.getOpenFileName(
            self, self.tr("Import Model"), "", self.tr("whisper.cpp models (*.bin);;All files (*)"))
        return Path(chosen) if chosen else None

    def _filter_installed(self, only: bool) -> None:
        self.proxy.set_installed_only(only)

    def _update_buttons(self, *_args: object) -> None:
        row = self.selected_row()
        busy = self.busy
        self.install_button.setEnabled(not busy and row is not None and row.entry is not None
                                       and row.status is not ModelStatus.INSTALLED)
        self.import_button.setEnabled(not busy)
        self.remove_button.setEnabled(not busy and row is not None and row.installed is not None)
        self.default_button.setEnabled(row is not None and row.status is ModelStatus.INSTALLED
                                       and not row.is_default)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.refresh()

    def shutdown(self) -> None:
        """Cancel a running download (the app is quitting; it resumes next time)."""
        self.cancel_install()
