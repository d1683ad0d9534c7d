"""Column widths from the texts a column can show, so that no translation is cut off.

Qt's ResizeToContents sizes a column from the rows shown at the moment it lays
the header out; a state that appears later ("Working" after "Ready"), or a
longer Vietnamese text, is then clipped until the next layout. Columns whose
texts come from a known, short vocabulary are instead given, once, the width
of their widest text (and of their header) measured with the view's font.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from PySide6.QtGui import QFont, QFontMetrics
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QStyle, QTableView

#: Air beside a cell's text beyond the item delegate's own margins, in pixels.
CELL_PADDING = 12


def cell_width(view: QAbstractItemView, texts: Iterable[str], *, with_icon: bool = False,
               bold: bool = False) -> int:
    """Pixels a cell of ``view`` needs to show the widest of ``texts`` whole (and an icon before it)."""
    font = QFont(view.font())
    font.setBold(bold)
    metrics = QFontMetrics(font)
    text = max((metrics.horizontalAdvance(t) for t in texts), default=0)
    style = view.style()
    # QStyledItemDelegate keeps (focus frame margin + 1) on each side of the text, and as much again after an icon.
    margin = style.pixelMetric(QStyle.PixelMetric.PM_FocusFrameHMargin, None, view) + 1
    icon = 0
    if with_icon:
        size = view.iconSize().width()
        icon = (size if size > 0 else style.pixelMetric(QStyle.PixelMetric.PM_SmallIconSize, None, view)) + 2 * margin
    return text + 2 * margin + icon + CELL_PADDING


def fit_columns(view: QTableView, widths: Mapping[int, int]) -> int:
    """Give each column of ``widths`` that width (at least its header's) as a section the user may
    still resize; returns the total width given."""
    header = view.horizontalHeader()
    total = 0
    for column, width in widths.items():
        header.setSectionResizeMode(column, QHeaderView.ResizeMode.Interactive)
        size = max(width, header.sectionSizeHint(column))
        header.resizeSection(column, size)
        total += size
    return total
