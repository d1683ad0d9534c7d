"""Draws a job's progress (chunks done out of total) as a progress bar in the table."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QPainter
from PySide6.QtWidgets import QApplication, QStyle, QStyledItemDelegate, QStyleOptionProgressBar, QStyleOptionViewItem

from .job_table_model import PROGRESS_ROLE

#: Space left around the bar inside its cell, in pixels.
BAR_MARGIN = 3


class ProgressBarDelegate(QStyledItemDelegate):
    """Paints ``PROGRESS_ROLE`` as a bar whose text is the cell's display text ("3/7")."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem,
              index: QModelIndex | QPersistentModelIndex) -> None:
        progress = index.data(PROGRESS_ROLE)
        if not progress:
            super().paint(painter, option, index)
            return
        done, total, _failed, state = progress
        if not total and state != "COMPLETED":
            # Not chunked yet (or stopped before it was): only the cell's text ("Preparing…").
            super().paint(painter, option, index)
            return
        # The selection background first, so a selected row still looks selected.
        style = option.widget.style() if option.widget is not None else QApplication.style()
        background = QStyleOptionViewItem(option)
        self.initStyleOption(background, index)
        background.text = ""
        style.drawControl(QStyle.ControlElement.CE_ItemViewItem, background, painter, option.widget)

        bar = QStyleOptionProgressBar()
        bar.rect = option.rect.adjusted(BAR_MARGIN, BAR_MARGIN, -BAR_MARGIN, -BAR_MARGIN)
        bar.state = option.state | QStyle.StateFlag.State_Horizontal
        bar.minimum = 0
        # A completed job with nothing to transcribe (all silence) shows a full bar.
        bar.maximum = max(total, 1)
        bar.progress = done if total else (1 if state == "COMPLETED" else 0)
        bar.text = str(index.data(Qt.ItemDataRole.DisplayRole) or "")
        bar.textVisible = True
        bar.textAlignment = Qt.AlignmentFlag.AlignCenter
        style.drawControl(QStyle.ControlElement.CE_ProgressBar, bar, painter, option.widget)
