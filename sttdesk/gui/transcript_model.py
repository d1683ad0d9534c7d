"""The transcript view's rows: segments with their times, and gaps where text is missing."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QPalette
from PySide6.QtWidgets import QApplication

from ..domain.transcript import Transcript
from . import formatting

#: Row kind: a segment of text, a failed chunk, or audio not transcribed yet.
SEGMENT, FAILED_GAP, PENDING_GAP = "segment", "failed", "pending"

#: Start of the row on the file's timeline, seconds (float).
START_ROLE = Qt.ItemDataRole.UserRole + 1
#: End of the row, seconds (float).
END_ROLE = Qt.ItemDataRole.UserRole + 2
#: :data:`SEGMENT`, :data:`FAILED_GAP` or :data:`PENDING_GAP`.
KIND_ROLE = Qt.ItemDataRole.UserRole + 3
#: Position of the segment in the transcript (-1 for gaps).
SEGMENT_INDEX_ROLE = Qt.ItemDataRole.UserRole + 4
#: Whether the user corrected this segment's text.
EDITED_ROLE = Qt.ItemDataRole.UserRole + 5

#: Colours of rows that are not plain text (light tints that work on light and dark palettes).
_FAILED_TINT = QColor(217, 48, 37, 40)
_PLAYING_TINT = QColor(26, 115, 232, 60)

AnyIndex = QModelIndex | QPersistentModelIndex


class TranscriptColumn(IntEnum):
    TIME = 0
    TEXT = 1


@dataclass(frozen=True, slots=True)
class TranscriptRow:
    """One line of the view."""

    kind: str
    start: float
    end: float
    #: The segment's text, or the reason for a gap (already in the UI language).
    text: str
    segment_index: int = -1
    edited: bool = False


def rows_from_transcript(transcript: Transcript, edited: frozenset[int], ui_language: str) -> list[TranscriptRow]:
    """Segments and gaps in time order; consecutive not-yet-transcribed stretches become one row."""
    items: list[TranscriptRow] = [
        TranscriptRow(SEGMENT, s.start, s.end, s.text, position, position in edited)
        for position, s in enumerate(transcript.segments)
    ]
    for gap in transcript.gaps:
        kind = PENDING_GAP if gap.pending else FAILED_GAP
        items.append(TranscriptRow(kind, gap.start, gap.end, gap.message(ui_language)))
    items.sort(key=lambda row: (row.start, row.kind != SEGMENT))
    rows: list[TranscriptRow] = []
    for row in items:
        if row.kind == PENDING_GAP and rows and rows[-1].kind == PENDING_GAP:
            rows[-1] = TranscriptRow(PENDING_GAP, rows[-1].start, max(rows[-1].end, row.end), rows[-1].text)
        else:
            rows.append(row)
    return rows


class TranscriptModel(QAbstractTableModel):
    """Rows of one job's transcript; the text of a segment can be edited in place."""

    #: The user changed a segment's text: (segment index, segment start, new text).
    edit_requested = Signal(int, float, str)

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._rows: list[TranscriptRow] = []
        self._playing = -1

    # --- Qt model interface ---------------------------------------------------------

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008 - Qt's default argument
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(TranscriptColumn)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation != Qt.Orientation.Horizontal or role != Qt.ItemDataRole.DisplayRole:
            return None
        if section == TranscriptColumn.TIME:
            return self.tr("Time")
        if section == TranscriptColumn.TEXT:
            return self.tr("Text")
        return None

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.row() >= len(self._rows):
            return None
        row = self._rows[index.row()]
        column = index.column()
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole):
            if column == TranscriptColumn.TIME:
                return formatting.precise_clock(row.start)
            return self._text(row)
        if role == START_ROLE:
            return row.start
        if role == END_ROLE:
            return row.end
        if role == KIND_ROLE:
            return row.kind
        if role == SEGMENT_INDEX_ROLE:
            return row.segment_index
        if role == EDITED_ROLE:
            return row.edited
        if role == Qt.ItemDataRole.BackgroundRole:
            if index.row() == self._playing:
                return QBrush(_PLAYING_TINT)
            if row.kind == FAILED_GAP:
                return QBrush(_FAILED_TINT)
            return None
        if role == Qt.ItemDataRole.ForegroundRole and row.kind == PENDING_GAP:
            return QApplication.palette().brush(QPalette.ColorRole.PlaceholderText)
        if role == Qt.ItemDataRole.FontRole and (row.kind != SEGMENT or (row.edited and column == TranscriptColumn.TIME)):
            font = QFont()
            font.setItalic(row.kind != SEGMENT)
            font.setBold(row.edited)
            return font
        if role == Qt.ItemDataRole.ToolTipRole:
            span = f"{formatting.precise_clock(row.start)} – {formatting.precise_clock(row.end)}"
            if row.edited:
                return span + "\n" + self.tr("Corrected by you")
            return span
        if role == Qt.ItemDataRole.TextAlignmentRole and column == TranscriptColumn.TIME:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop)
        return None

    def flags(self, index: AnyIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        flags = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemNeverHasChildren
        if index.column() == TranscriptColumn.TEXT and self._rows[index.row()].kind == SEGMENT:
            flags |= Qt.ItemFlag.ItemIsEditable
        return flags

    def setData(self, index: AnyIndex, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:
        if role != Qt.ItemDataRole.EditRole or not (self.flags(index) & Qt.ItemFlag.ItemIsEditable):
            return False
        text = " ".join(str(value).split())
        row = self._rows[index.row()]
        if not text or text == row.text:
            return False  # an empty segment is not a correction: the text stays as it was
        self._rows[index.row()] = TranscriptRow(SEGMENT, row.start, row.end, text, row.segment_index, True)
        self.dataChanged.emit(self.index(index.row(), 0), self.index(index.row(), len(TranscriptColumn) - 1))
        self.edit_requested.emit(row.segment_index, row.start, text)
        return True

    # --- updates ------------------------------------------------------------------

    def set_rows(self, rows: list[TranscriptRow]) -> None:
        """Show ``rows``; rows that did not change stay (with an open editor) as they are.

        A growing transcript changes in the middle (a pending stretch becomes
        text), so the common head and tail are kept and only the middle replaced.
        """
        old = self._rows
        head = 0
        while head < len(old) and head < len(rows) and old[head] == rows[head]:
            head += 1
        tail = 0
        while (tail < len(old) - head and tail < len(rows) - head
               and old[len(old) - 1 - tail] == rows[len(rows) - 1 - tail]):
            tail += 1
        old_middle = len(old) - head - tail
        new_middle = len(rows) - head - tail
        changed = min(old_middle, new_middle)
        if changed:
            self._rows[head:head + changed] = rows[head:head + changed]
            self.dataChanged.emit(self.index(head, 0), self.index(head + changed - 1, len(TranscriptColumn) - 1))
        if old_middle > new_middle:
            first = head + changed
            self.beginRemoveRows(QModelIndex(), first, first + old_middle - new_middle - 1)
            del self._rows[first:first + old_middle - new_middle]
            self.endRemoveRows()
        elif new_middle > old_middle:
            first = head + changed
            self.beginInsertRows(QModelIndex(), first, first + new_middle - old_middle - 1)
            self._rows[first:first] = rows[first:first + new_middle - old_middle]
            self.endInsertRows()
        if self._playing >= len(self._rows):
            self._playing = -1

    def clear(self) -> None:
        self.set_rows([])
        self._playing = -1

    def rows(self) -> list[TranscriptRow]:
        return list(self._rows)

    def row_at_time(self, seconds: float) -> int:
        """The segment row playing at ``seconds``, or -1."""
        for position, row in enumerate(self._rows):
            if row.kind == SEGMENT and row.start <= seconds < row.end:
                return position
        return -1

    def set_playing_row(self, row: int) -> None:
        """Highlight ``row`` as the one being played (-1: none)."""
        if row == self._playing:
            return
        previous, self._playing = self._playing, row
        for position in (previous, row):
            if 0 <= position < len(self._rows):
                self.dataChanged.emit(self.index(position, 0), self.index(position, len(TranscriptColumn) - 1),
                                      [Qt.ItemDataRole.BackgroundRole])

    @property
    def playing_row(self) -> int:
        return self._playing

    def find(self, text: str) -> list[int]:
        """Rows whose text contains ``text`` (ignoring case)."""
        needle = text.casefold().strip()
        if not needle:
            return []
        return [position for position, row in enumerate(self._rows)
                if row.kind == SEGMENT and needle in row.text.casefold()]

    def _text(self, row: TranscriptRow) -> str:
        if row.kind == FAILED_GAP:
            return self.tr("Not transcribed: %1").replace("%1", row.text)
        if row.kind == PENDING_GAP:
            return self.tr("Not transcribed yet…")
        return row.text
