"""The language and model new jobs get: two drop-downs above the job table."""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QWidget

from . import formatting


class JobOptionsBar(QWidget):
    """Language (English / Tiếng Việt / auto) and model for the files added next."""

    #: The user picked another language or model: (language, model).
    changed = Signal(str, str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 0, 6, 0)
        self.language_box = QComboBox(self)
        self.language_box.setObjectName("languageBox")
        for code in formatting.JOB_LANGUAGES:
            self.language_box.addItem(formatting.language_label(code), code)
        self.language_box.setToolTip(self.tr("Language spoken in the files you add next"))
        self.model_box = QComboBox(self)
        self.model_box.setObjectName("modelBox")
        self.model_box.setToolTip(self.tr("Whisper model for the files you add next"))
        self.model_box.setMinimumContentsLength(10)
        language_label = QLabel(self.tr("&Language:"), self)
        language_label.setBuddy(self.language_box)
        model_label = QLabel(self.tr("&Model:"), self)
        model_label.setBuddy(self.model_box)
        layout.addWidget(language_label)
        layout.addWidget(self.language_box)
        layout.addSpacing(8)
        layout.addWidget(model_label)
        layout.addWidget(self.model_box)
        self.language_box.activated.connect(self._emit)
        self.model_box.activated.connect(self._emit)

    @property
    def language(self) -> str:
        return str(self.language_box.currentData() or "auto")

    @property
    def model(self) -> str:
        return str(self.model_box.currentData() or "")

    def set_language(self, code: str) -> None:
        position = self.language_box.findData(code)
        self.language_box.setCurrentIndex(max(0, position))

    def set_models(self, names: Iterable[str], current: str) -> None:
        """List the installed models; ``current`` is selected (listed even if not installed)."""
        names = list(names)
        if current and current not in names:
            names.insert(0, current)
        self.model_box.clear()
        for name in names:
            self.model_box.addItem(name, name)
        self.model_box.setCurrentIndex(max(0, self.model_box.findData(current)))
        self.model_box.setEnabled(bool(names))

    def _emit(self, _position: int) -> None:
        self.changed.emit(self.language, self.model)
