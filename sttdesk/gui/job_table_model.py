"""The job table: one row per job, from the job service's :class:`JobView` snapshots."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from enum import IntEnum
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt

from ..domain.jobs import JobState
from ..service.views import JobView
from . import formatting
from .icons import state_icon

log = logging.getLogger(__name__)

#: The job's id (str).
JOB_ID_ROLE = Qt.ItemDataRole.UserRole + 1
#: The whole :class:`JobView`.
JOB_VIEW_ROLE = Qt.ItemDataRole.UserRole + 2
#: A plain value to sort the column by (numbers sort as numbers).
SORT_ROLE = Qt.ItemDataRole.UserRole + 3
#: ``(chunks done, chunks total, chunks failed, state)`` for the progress delegate.
PROGRESS_ROLE = Qt.ItemDataRole.UserRole + 4
#: The job's state (str), e.g. "PROCESSING".
STATE_ROLE = Qt.ItemDataRole.UserRole + 5

_ACTIVE_STATES = (JobState.PENDING.value, JobState.PROCESSING.value)

AnyIndex = QModelIndex | QPersistentModelIndex


class Column(IntEnum):
    """The table's columns, left to right."""

    NAME = 0
    DURATION = 1
    LANGUAGE = 2
    MODEL = 3
    STATE = 4
    PROGRESS = 5
    ELAPSED = 6
    REMAINING = 7
    AGENTS = 8


#: Columns by position: ``Column(n)`` costs an enum lookup, and data() runs for every cell and role.
_COLUMNS = tuple(Column)
#: Columns whose text moves with the clock while a job runs.
_CLOCK_COLUMNS = frozenset({Column.ELAPSED, Column.REMAINING})
#: The roles data() answers; Qt asks each cell for a dozen more (font, colours...) at every paint.
_SERVED_ROLES = frozenset(int(role) for role in (
    Qt.ItemDataRole.DisplayRole, JOB_ID_ROLE, JOB_VIEW_ROLE, STATE_ROLE, PROGRESS_ROLE, SORT_ROLE,
    Qt.ItemDataRole.ToolTipRole, Qt.ItemDataRole.DecorationRole, Qt.ItemDataRole.TextAlignmentRole,
))
_DISPLAY_ROLE = int(Qt.ItemDataRole.DisplayRole)


class _Row:
    """A job and the moment it was read, so running times can tick between reads.

    The texts of its cells are kept once made: a paint asks for them again and
    again, and only the clock columns change between reads (their texts are
    kept for the clock second they were made in).
    """

    __slots__ = ("clock_second", "read_at", "texts", "view")

    def __init__(self, view: JobView, read_at: float) -> None:
        self.view = view
        self.read_at = read_at
        self.texts: dict[Column, str | None] = {}
        self.clock_second = -1


class JobTableModel(QAbstractTableModel):
    """Jobs newest first; updated in place so selections and sorting survive refreshes."""

    def __init__(
        self,
        parent: Any = None,
        *,
        ui_language: str = "en",
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(parent)
        self._rows: list[_Row] = []
        self._index_of: dict[str, int] = {}
        self._agent_names: dict[str, str] = {}
        self._ui_language = ui_language
        self._clock = clock

    # --- Qt model interface -------------------------------------------------------

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008 - Qt's default argument
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(Column)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation != Qt.Orientation.Horizontal or role != Qt.ItemDataRole.DisplayRole:
            return None
        titles = {
            Column.NAME: self.tr("File"),
            Column.DURATION: self.tr("Length"),
            Column.LANGUAGE: self.tr("Language"),
            Column.MODEL: self.tr("Model"),
            Column.STATE: self.tr("State"),
            Column.PROGRESS: self.tr("Progress"),
            Column.ELAPSED: self.tr("Elapsed"),
            Column.REMAINING: self.tr("Remaining"),
            Column.AGENTS: self.tr("Agents"),
        }
        try:
            return titles[Column(section)]
        except ValueError:
            return None

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        # Runs for every visible cell and role at every paint: the common cases return first.
        if role not in _SERVED_ROLES or not index.isValid():
            return None
        position = index.row()
        if position >= len(self._rows):
            return None
        row = self._rows[position]
        column = _COLUMNS[index.column()]
        if role == _DISPLAY_ROLE:
            return self._cell_text(row, column)
        view = row.view
        if role == JOB_ID_ROLE:
            return view.id
        if role == JOB_VIEW_ROLE:
            return view
        if role == STATE_ROLE:
            return view.state
        if role == PROGRESS_ROLE:
            return (view.chunks_done, view.chunks_total, view.chunks_failed, view.state)
        if role == SORT_ROLE:
            return self._sort_value(row, column)
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(view, column)
        if role == Qt.ItemDataRole.DecorationRole and column is Column.STATE:
            return state_icon(view.state)
        if role == Qt.ItemDataRole.TextAlignmentRole and column in (
            Column.DURATION, Column.ELAPSED, Column.REMAINING
        ):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def flags(self, index: AnyIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemNeverHasChildren

    # --- updates --------------------------------------------------------------------

    def set_jobs(self, views: Iterable[JobView]) -> None:
        """Show exactly ``views`` (newest first): rows of known jobs change in place."""
        views = list(views)
        wanted = {v.id for v in views}
        for job_id in [r.view.id for r in self._rows if r.view.id not in wanted]:
            self.remove_job(job_id)
        known = [v for v in views if v.id in self._index_of]
        self.update_jobs(known)
        new = [v for v in views if v.id not in self._index_of]
        if new:
            self._insert(new)

    def update_jobs(self, views: Iterable[JobView]) -> None:
        """Refresh the rows of these jobs; jobs not shown yet are added at the top."""
        now = self._clock()
        new: list[JobView] = []
        for view in views:
            position = self._index_of.get(view.id)
            if position is None:
                new.append(view)
                continue
            self._rows[position] = _Row(view, now)
            self.dataChanged.emit(self.index(position, 0), self.index(position, len(Column) - 1))
        if new:
            self._insert(new)

    def remove_job(self, job_id: str) -> bool:
        position = self._index_of.get(job_id)
        if position is None:
            return False
        self.beginRemoveRows(QModelIndex(), position, position)
        del self._rows[position]
        self._reindex()
        self.endRemoveRows()
        return True

    def set_agent_names(self, names: dict[str, str]) -> None:
        """Agent id → name, for the agents column."""
        if names != self._agent_names:
            self._agent_names = dict(names)
            for row in self._rows:
                row.texts.pop(Column.AGENTS, None)
            self._emit_column(Column.AGENTS)

    def tick(self) -> None:
        """Let the elapsed and remaining times of running jobs move on between reads (one signal for all)."""
        running = [position for position, row in enumerate(self._rows)
                   if row.view.state in _ACTIVE_STATES and row.view.started_at]
        if running:
            self.dataChanged.emit(self.index(running[0], Column.ELAPSED), self.index(running[-1], Column.REMAINING),
                                  [Qt.ItemDataRole.DisplayRole, SORT_ROLE])

    # --- reading ------------------------------------------------------------------

    def job(self, job_id: str) -> JobView | None:
        position = self._index_of.get(job_id)
        return None if position is None else self._rows[position].view

    def job_ids(self) -> list[str]:
        return [r.view.id for r in self._rows]

    def jobs(self) -> list[JobView]:
        return [r.view for r in self._rows]

    def row_of(self, job_id: str) -> int:
        """The row showing ``job_id``, or -1."""
        return self._index_of.get(job_id, -1)

    # --- helpers --------------------------------------------------------------------

    def _insert(self, views: list[JobView]) -> None:
        # Newest first, like the service's listing; new jobs are nearly always the newest.
        views.sort(key=lambda v: v.created_at, reverse=True)
        now = self._clock()
        self.beginInsertRows(QModelIndex(), 0, len(views) - 1)
        self._rows[0:0] = [_Row(v, now) for v in views]
        self._reindex()
        self.endInsertRows()

    def _reindex(self) -> None:
        self._index_of = {row.view.id: position for position, row in enumerate(self._rows)}

    def _emit_column(self, column: Column) -> None:
        if self._rows:
            self.dataChanged.emit(self.index(0, column), self.index(len(self._rows) - 1, column))

    def _elapsed(self, row: _Row) -> float | None:
        view = row.view
        if view.elapsed_seconds is None:
            return None
        if view.state in _ACTIVE_STATES:
            return view.elapsed_seconds + max(0.0, self._clock() - row.read_at)
        return view.elapsed_seconds

    def _remaining(self, row: _Row) -> float | None:
        view = row.view
        if view.eta_seconds is None or view.state not in _ACTIVE_STATES:
            return None
        return max(0.0, view.eta_seconds - max(0.0, self._clock() - row.read_at))

    def _agents_text(self, view: JobView) -> str:
        return ", ".join(self._agent_names.get(agent, agent) for agent in view.agents)

    def _cell_text(self, row: _Row, column: Column) -> str | None:
        """The cell's text, made once per read of the job (per clock second for the running times)."""
        if column in _CLOCK_COLUMNS:
            second = int(self._clock())
            if second != row.clock_second:
                row.clock_second = second
                row.texts.pop(Column.ELAPSED, None)
                row.texts.pop(Column.REMAINING, None)
        try:
            return row.texts[column]
        except KeyError:
            text = row.texts[column] = self._display(row, column)
            return text

    def _display(self, row: _Row, column: Column) -> str | None:
        view = row.view
        if column is Column.NAME:
            return view.name
        if column is Column.DURATION:
            return formatting.clock(view.duration)
        if column is Column.LANGUAGE:
            return formatting.job_language_label(view.language, view.detected_language)
        if column is Column.MODEL:
            return view.model
        if column is Column.STATE:
            return formatting.state_label(view.state)
        if column is Column.PROGRESS:
            return self._progress_text(view)
        if column is Column.ELAPSED:
            return formatting.clock(self._elapsed(row))
        if column is Column.REMAINING:
            remaining = self._remaining(row)
            return "" if remaining is None else "~" + formatting.clock(remaining)
        if column is Column.AGENTS:
            return self._agents_text(view)
        return None

    def _progress_text(self, view: JobView) -> str:
        if view.chunks_total:
            return f"{view.chunks_done}/{view.chunks_total}"
        if view.state == JobState.PENDING.value:
            return self.tr("Preparing…")
        return ""

    def _sort_value(self, row: _Row, column: Column) -> Any:
        view = row.view
        values: dict[Column, Any] = {
            Column.NAME: view.name.casefold(),
            Column.DURATION: view.duration or 0.0,
            Column.LANGUAGE: view.language,
            Column.MODEL: view.model,
            Column.STATE: view.state,
            Column.PROGRESS: view.progress,
            Column.ELAPSED: self._elapsed(row) or 0.0,
            Column.REMAINING: self._remaining(row) or 0.0,
            Column.AGENTS: len(view.agents),
        }
        return values[column]

    def _tooltip(self, view: JobView, column: Column) -> str | None:
        if column is Column.NAME:
            return view.path
        if column in (Column.STATE, Column.PROGRESS):
            parts = []
            if view.error_code:
                parts.append((view.error_vi if self._ui_language == "vi" else view.error_en) or view.error_code)
            if view.chunks_failed:
                parts.append(self.tr("%n part(s) failed", "", view.chunks_failed))
            if view.retries:
                parts.append(self.tr("%n retry(s)", "", view.retries))
            return "\n".join(parts) or None
        return None
