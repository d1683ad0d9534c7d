"""The model manager's table: catalog and installed whisper models, with size and memory need."""

from __future__ import annotations

from enum import IntEnum
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QFont

from ..engine.store import ModelRow, ModelStatus
from . import formatting

#: The model's name (str).
MODEL_NAME_ROLE = Qt.ItemDataRole.UserRole + 1
#: The :class:`ModelRow`.
MODEL_ROW_ROLE = Qt.ItemDataRole.UserRole + 2
#: A plain value to sort the column by.
SORT_ROLE = Qt.ItemDataRole.UserRole + 3

AnyIndex = QModelIndex | QPersistentModelIndex


class ModelColumn(IntEnum):
    NAME = 0
    STATUS = 1
    LANGUAGES = 2
    SIZE = 3
    RAM = 4
    QUANTIZATION = 5


class ModelsModel(QAbstractTableModel):
    """One row per model of :meth:`ModelStore.overview`; the default model in bold."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._rows: list[ModelRow] = []

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008 - Qt's default argument
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(ModelColumn)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation != Qt.Orientation.Horizontal or role != Qt.ItemDataRole.DisplayRole:
            return None
        titles = {
            ModelColumn.NAME: self.tr("Model"),
            ModelColumn.STATUS: self.tr("Status"),
            ModelColumn.LANGUAGES: self.tr("Languages"),
            ModelColumn.SIZE: self.tr("Size"),
            ModelColumn.RAM: self.tr("Memory needed"),
            ModelColumn.QUANTIZATION: self.tr("Precision"),
        }
        return titles.get(ModelColumn(section)) if 0 <= section < len(ModelColumn) else None

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.row() >= len(self._rows):
            return None
        row = self._rows[index.row()]
        column = ModelColumn(index.column())
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(row, column)
        if role == MODEL_NAME_ROLE:
            return row.name
        if role == MODEL_ROW_ROLE:
            return row
        if role == SORT_ROLE:
            return self._sort_value(row, column)
        if role == Qt.ItemDataRole.FontRole and row.is_default:
            font = QFont()
            font.setBold(True)
            return font
        if role == Qt.ItemDataRole.ToolTipRole and column is ModelColumn.LANGUAGES:
            return self._display(row, column)
        if role == Qt.ItemDataRole.ToolTipRole and column is ModelColumn.NAME:
            if row.is_recommended:
                return self.tr("Recommended for this computer: the most accurate model that runs well here")
            if row.installed is not None:
                return str(row.installed.path)
        if role == Qt.ItemDataRole.TextAlignmentRole and column in (ModelColumn.SIZE, ModelColumn.RAM):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def widest_texts(self, column: ModelColumn) -> tuple[str, ...]:
        """The texts ``column`` can show (or its widest), for every column but the names, which vary."""
        if column is ModelColumn.STATUS:
            default = " · " + self.tr("default")
            return tuple(text + default for text in (self.tr("Installed"), self.tr("Available"),
                                                     self.tr("Damaged: reinstall it")))
        if column is ModelColumn.LANGUAGES:
            return (self.tr("English only"), self.tr("English, Tiếng Việt and more"))
        if column in (ModelColumn.SIZE, ModelColumn.RAM):
            return (formatting.byte_size(888_800_000), formatting.byte_size(88_800_000_000))
        if column is ModelColumn.QUANTIZATION:
            return ("q8_0", "q5_1", "f16", "f32")
        return ()

    def flags(self, index: AnyIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemNeverHasChildren

    def set_rows(self, rows: list[ModelRow]) -> None:
        self.beginResetModel()
        self._rows = list(rows)
        self.endResetModel()

    def rows(self) -> list[ModelRow]:
        return list(self._rows)

    def row_of(self, name: str) -> int:
        return next((position for position, row in enumerate(self._rows) if row.name == name), -1)

    def _display(self, row: ModelRow, column: ModelColumn) -> str:
        entry, installed = row.entry, row.installed
        if column is ModelColumn.NAME:
            return row.name + (" ★" if row.is_recommended else "")
        if column is ModelColumn.STATUS:
            status = {
                ModelStatus.INSTALLED: self.tr("Installed"),
                ModelStatus.AVAILABLE: self.tr("Available"),
                ModelStatus.DAMAGED: self.tr("Damaged: reinstall it"),
            }[row.status]
            return status + (" · " + self.tr("default") if row.is_default else "")
        if column is ModelColumn.LANGUAGES:
            english_only = entry.english_only if entry is not None else not (installed and installed.multilingual)
            return self.tr("English only") if english_only else self.tr("English, Tiếng Việt and more")
        if column is ModelColumn.SIZE:
            size = installed.size if installed is not None else entry.size_bytes if entry is not None else None
            return formatting.byte_size(size)
        if column is ModelColumn.RAM:
            return formatting.byte_size(entry.ram_bytes) if entry is not None else ""
        if column is ModelColumn.QUANTIZATION:
            quantization = entry.quantization if entry is not None else installed.quantization if installed else ""
            return quantization
        return ""

    def _sort_value(self, row: ModelRow, column: ModelColumn) -> Any:
        entry, installed = row.entry, row.installed
        if column is ModelColumn.SIZE:
            return (installed.size if installed else entry.size_bytes if entry else 0) or 0
        if column is ModelColumn.RAM:
            return entry.ram_bytes if entry else 0
        if column is ModelColumn.STATUS:
            return {ModelStatus.INSTALLED: 0, ModelStatus.DAMAGED: 1, ModelStatus.AVAILABLE: 2}[row.status]
        return self._display(row, column).casefold()
