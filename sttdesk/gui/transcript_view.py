"""The transcript's lines: time on the left, wrapped text on the right, edited in place.

A list view lays its rows out in batches while the event loop runs, so a long
transcript (thousands of lines) that grows or is resized never freezes the
window; a table sized to its contents measured every row on every change.
"""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QSize, Qt
from PySide6.QtGui import QFont, QPainter, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QLineEdit,
    QListView,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QWidget,
)

from . import formatting
from .transcript_model import EDITED_ROLE, START_ROLE, TranscriptColumn, TranscriptModel

#: Space around a line's text, in pixels.
LINE_PADDING = 4
#: Gap between the time and the text, in pixels.
TIME_GAP = 12
#: Lines laid out per pass of the event loop.
LAYOUT_BATCH = 200

AnyIndex = QModelIndex | QPersistentModelIndex


class TranscriptLineDelegate(QStyledItemDelegate):
    """Paints one line (time and wrapped text) and edits its text with a line edit beside the time."""

    def __init__(self, view: QListView) -> None:
        super().__init__(view)
        self._view = view

    def time_width(self) -> int:
        return self._view.fontMetrics().horizontalAdvance("00:00:00.0") + LINE_PADDING

    def _text_rect(self, rect: QRect) -> QRect:
        left = rect.left() + LINE_PADDING + self.time_width() + TIME_GAP
        return QRect(left, rect.top() + LINE_PADDING, max(10, rect.right() - LINE_PADDING - left),
                     max(0, rect.height() - 2 * LINE_PADDING))

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: AnyIndex) -> None:
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        text = opt.text
        opt.text = ""
        widget = opt.widget
        style = widget.style() if widget is not None else QApplication.style()
        style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, widget)  # background, selection

        selected = bool(opt.state & QStyle.StateFlag.State_Selected)
        group = QPalette.ColorGroup.Normal if opt.state & QStyle.StateFlag.State_Enabled else \
            QPalette.ColorGroup.Disabled
        text_role = QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text
        painter.save()
        time_font = QFont(opt.font)
        time_font.setItalic(False)
        time_font.setBold(bool(index.data(EDITED_ROLE)))
        painter.setFont(time_font)
        time_color = opt.palette.color(group, text_role)
        if not selected:
            time_color = opt.palette.color(group, QPalette.ColorRole.PlaceholderText)
        painter.setPen(time_color)
        time_rect = QRect(opt.rect.left() + LINE_PADDING, opt.rect.top() + LINE_PADDING, self.time_width(),
                          opt.rect.height())
        painter.drawText(time_rect, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop,
                         formatting.precise_clock(float(index.data(START_ROLE) or 0.0)))
        painter.setFont(opt.font)
        painter.setPen(opt.palette.color(group, text_role))
        painter.drawText(self._text_rect(opt.rect),
                         Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop | Qt.TextFlag.TextWordWrap, text)
        painter.restore()

    def sizeHint(self, option: QStyleOptionViewItem, index: AnyIndex) -> QSize:
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        width = self._view.viewport().width()
        text_rect = self._text_rect(QRect(0, 0, width, 0))
        bounds = opt.fontMetrics.boundingRect(QRect(0, 0, text_rect.width(), 1 << 20),
                                              int(Qt.TextFlag.TextWordWrap), opt.text)
        return QSize(width, max(bounds.height(), opt.fontMetrics.height()) + 2 * LINE_PADDING)

    def createEditor(self, parent: QWidget, option: QStyleOptionViewItem, index: AnyIndex) -> QWidget:
        editor = QLineEdit(parent)
        editor.setFrame(True)
        return editor

    def updateEditorGeometry(self, editor: QWidget, option: QStyleOptionViewItem, index: AnyIndex) -> None:
        rect = self._text_rect(option.rect)
        rect.adjust(-LINE_PADDING, -LINE_PADDING, LINE_PADDING, 0)
        rect.setHeight(max(rect.height(), editor.sizeHint().height()))
        editor.setGeometry(rect)


class TranscriptListView(QListView):
    """Shows the text column of a :class:`TranscriptModel`, one line per row."""

    def __init__(self, model: TranscriptModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setModel(model)
        self.setModelColumn(TranscriptColumn.TEXT)
        self.setItemDelegate(TranscriptLineDelegate(self))
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.DoubleClicked | QAbstractItemView.EditTrigger.EditKeyPressed)
        self.setResizeMode(QListView.ResizeMode.Adjust)  # rewrap the lines when the width changes
        self.setLayoutMode(QListView.LayoutMode.Batched)
        self.setBatchSize(LAYOUT_BATCH)
        self.setUniformItemSizes(False)
        self.setWordWrap(True)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setAlternatingRowColors(False)

    def index_at_row(self, row: int) -> QModelIndex:
        return self.model().index(row, TranscriptColumn.TEXT)
