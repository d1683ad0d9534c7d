"""The job table widget: sortable, multi-select, with a progress bar column and a drop hint."""

from __future__ import annotations

from PySide6.QtCore import QItemSelectionModel, QModelIndex, QPoint, QSortFilterProxyModel, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QContextMenuEvent, QPainter, QPaintEvent
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QMenu, QTableView, QWidget

from ..domain.jobs import JobState
from ..service.views import JobView
from . import formatting
from .job_table_model import JOB_ID_ROLE, JOB_VIEW_ROLE, SORT_ROLE, Column, JobTableModel
from .progress_delegate import ProgressBarDelegate

#: Starting widths of the columns, in characters of the table's font ("stretch" for the name).
_COLUMN_CHARS = {
    Column.DURATION: 8, Column.LANGUAGE: 16, Column.MODEL: 12, Column.STATE: 15,
    Column.PROGRESS: 14, Column.ELAPSED: 9, Column.REMAINING: 10, Column.AGENTS: 12,
}


#: Room for the state icon and the cell's margins beside the state's name, in pixels.
STATE_ICON_ROOM = 40
#: The selected jobs are read again this long after the last change of a burst.
SELECTION_SETTLE_MS = 30


class JobTableView(QTableView):
    """Shows a :class:`JobTableModel` through a sorting proxy; tells which jobs are selected."""

    #: The selected jobs changed; the list of :class:`JobView` (in table order).
    selection_changed = Signal(list)
    #: The job to show in the transcript view changed (the current row); its id or "".
    current_job_changed = Signal(str)

    def __init__(self, model: JobTableModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._jobs = model
        self._proxy = QSortFilterProxyModel(self)
        self._proxy.setSourceModel(model)
        self._proxy.setSortRole(SORT_ROLE)
        self._proxy.setDynamicSortFilter(True)
        self.setModel(self._proxy)
        self.setItemDelegateForColumn(Column.PROGRESS, ProgressBarDelegate(self))
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setSortingEnabled(True)
        # No column sorted at first: the model's own order, newest job on top.
        self.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        self.setAlternatingRowColors(True)
        self.setShowGrid(False)
        self.setWordWrap(False)
        self.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.verticalHeader().hide()
        self.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 12)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.DefaultContextMenu)
        header = self.horizontalHeader()
        header.setHighlightSections(False)
        header.setSectionResizeMode(Column.NAME, QHeaderView.ResizeMode.Stretch)
        char = self.fontMetrics().averageCharWidth()
        for column, chars in _COLUMN_CHARS.items():
            self.setColumnWidth(column, chars * char + 16)
        # State names differ a lot in length between languages: fit the longest, beside its icon.
        widest = max(self.fontMetrics().horizontalAdvance(formatting.state_label(state.value)) for state in JobState)
        self.setColumnWidth(Column.STATE, max(self.columnWidth(Column.STATE), widest + STATE_ICON_ROOM))
        self._context_actions: list[QAction | None] = []
        # A new selection is told at once (actions follow the click); row updates come in
        # bursts (a refresh of many rows, the running clocks), so the selected jobs are read
        # again once per burst.
        self._selection_timer = QTimer(self, singleShot=True, interval=SELECTION_SETTLE_MS)
        self._selection_timer.timeout.connect(self._emit_selection)
        self.selectionModel().selectionChanged.connect(self._emit_selection)
        self.selectionModel().currentRowChanged.connect(self._emit_current)
        # Rows updated in place keep their selection, but the states behind it may change.
        model.dataChanged.connect(self._selection_timer.start)
        model.rowsRemoved.connect(self._selection_timer.start)
        self._empty_text = ""

    # --- what is selected -----------------------------------------------------------------

    def selected_jobs(self) -> list[JobView]:
        rows = sorted({index.row() for index in self.selectionModel().selectedRows()})
        jobs = [self._proxy.index(row, 0).data(JOB_VIEW_ROLE) for row in rows]
        return [job for job in jobs if job is not None]

    def current_job_id(self) -> str:
        index = self.currentIndex()
        return str(index.data(JOB_ID_ROLE) or "") if index.isValid() else ""

    def select_job(self, job_id: str) -> bool:
        """Make ``job_id`` the current, only selected row; False if it is not listed."""
        row = self._jobs.row_of(job_id)
        if row < 0:
            return False
        index = self._proxy.mapFromSource(self._jobs.index(row, 0))
        self.selectionModel().setCurrentIndex(
            index, QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows
        )
        self.scrollTo(index)
        return True

    # --- context menu and empty hint ---------------------------------------------------

    def set_context_actions(self, actions: list[QAction | None]) -> None:
        """Actions of the right-click menu, in order; None draws a separator."""
        self._context_actions = list(actions)

    def set_empty_text(self, text: str) -> None:
        """What the empty table says (how to add files)."""
        self._empty_text = text
        self.viewport().update()

    def context_menu(self, position: QPoint) -> QMenu | None:
        """The right-click menu for a click at ``position`` (viewport coordinates).

        A click on a row outside the selection selects that row first, as file managers do.
        """
        if not self._context_actions:
            return None
        index = self.indexAt(position)
        if index.isValid() and not self.selectionModel().isRowSelected(index.row(), QModelIndex()):
            self.select_job(str(index.data(JOB_ID_ROLE)))
        menu = QMenu(self)
        for action in self._context_actions:
            if action is None:
                menu.addSeparator()
            else:
                menu.addAction(action)
        return menu

    def contextMenuEvent(self, event: QContextMenuEvent) -> None:
        menu = self.context_menu(event.pos())
        if menu is not None:
            menu.exec(event.globalPos())
            menu.deleteLater()

    def paintEvent(self, event: QPaintEvent) -> None:
        super().paintEvent(event)
        if self._proxy.rowCount() or not self._empty_text:
            return
        painter = QPainter(self.viewport())
        painter.setPen(self.palette().placeholderText().color())
        font = painter.font()
        font.setPointSizeF(font.pointSizeF() * 1.3)
        painter.setFont(font)
        painter.drawText(self.viewport().rect().adjusted(24, 24, -24, -24),
                         Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self._empty_text)

    # --- signals --------------------------------------------------------------------

    def _emit_selection(self, *_args: object) -> None:
        self.selection_changed.emit(self.selected_jobs())

    def _emit_current(self, current: QModelIndex, _previous: QModelIndex) -> None:
        self.current_job_changed.emit(str(current.data(JOB_ID_ROLE) or "") if current.isValid() else "")
