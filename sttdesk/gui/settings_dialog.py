"""The settings dialog: the app's :class:`Settings`, edited and checked, saved by the caller.

Every field maps to one setting of :mod:`sttdesk.settings`; the dialog never reads
or writes the settings file itself. Values are checked by the settings' own
dataclasses, so a bad combination is refused with their typed error.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ..audio.chunker import ChunkingMode
from ..domain.errors import SttdeskError
from ..domain.exporters import available_formats
from ..settings import MAX_BEAM_SIZE, MAX_POOL_THREADS, Settings, change_settings
from . import formatting


@dataclass(frozen=True, slots=True)
class NumberField:
    """One numeric setting and how its spin box behaves."""

    section: str
    name: str
    minimum: float
    maximum: float
    #: Digits after the decimal point; 0 makes a whole-number spin box.
    decimals: int = 2
    step: float = 1.0
    suffix: str = ""
    #: When set, one step below ``minimum`` shows this text and stands for 0 ("Automatic" agents).
    special: str = ""
    #: Shown value = stored value × scale (a share shown in percent).
    scale: float = 1.0


class SettingsDialog(QDialog):
    """Edits a copy of the settings; :meth:`result_settings` gives the checked new settings."""

    def __init__(self, settings: Settings, models: Sequence[str], *, ui_language: str = "en",
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._ui_language = ui_language
        self.setWindowTitle(self.tr("Settings"))
        self._original = copy.deepcopy(settings)
        self._models = list(models)
        self._numbers: dict[tuple[str, str], QSpinBox | QDoubleSpinBox] = {}
        self._number_fields: list[NumberField] = []
        self.tabs = QTabWidget(self)
        self.tabs.addTab(self._general_tab(), self.tr("General"))
        self.tabs.addTab(self._processing_tab(), self.tr("Processing"))
        self.tabs.addTab(self._chunking_tab(), self.tr("Chunking"))
        self.tabs.addTab(self._retry_tab(), self.tr("Retries"))

        self.error_label = QLabel(self)
        self.error_label.setObjectName("settingsError")
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet("color: #c5221f;")
        self.error_label.hide()
        note = QLabel(self.tr("Changes to processing, chunking, retries and the display language "
                              "take effect the next time sttdesk starts."), self)
        note.setWordWrap(True)
        note.setEnabled(False)

        self.buttons = QDialogButtonBox(self)
        self.save_button = self.buttons.addButton(self.tr("Save"), QDialogButtonBox.ButtonRole.AcceptRole)
        self.buttons.addButton(self.tr("Cancel"), QDialogButtonBox.ButtonRole.RejectRole)
        self.reset_button = self.buttons.addButton(self.tr("Restore Defaults"), QDialogButtonBox.ButtonRole.ResetRole)
        self.reset_button.clicked.connect(self.restore_defaults)
        self.buttons.accepted.connect(self._accept_if_valid)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs)
        layout.addWidget(note)
        layout.addWidget(self.error_label)
        layout.addWidget(self.buttons)
        self._load(settings)

    # --- tabs ---------------------------------------------------------------------------------

    def _general_tab(self) -> QWidget:
        page = QWidget(self)
        form = QFormLayout(page)
        self.ui_language = QComboBox(page)
        self.ui_language.addItem(self.tr("Same as the system"), "")
        self.ui_language.addItem("English", "en")
        self.ui_language.addItem("Tiếng Việt", "vi")
        form.addRow(self.tr("Display language:"), self.ui_language)
        self.start_minimized = QCheckBox(self.tr("Start in the tray, without opening the window"), page)
        form.addRow("", self.start_minimized)
        self.default_language = QComboBox(page)
        for code in formatting.JOB_LANGUAGES:
            self.default_language.addItem(formatting.language_label(code), code)
        form.addRow(self.tr("Language of new jobs:"), self.default_language)
        self.default_model = QComboBox(page)
        self.default_model.addItem(self.tr("The model store's default"), "")
        for name in self._models:
            self.default_model.addItem(name, name)
        form.addRow(self.tr("Model of new jobs:"), self.default_model)
        folder_row = QHBoxLayout()
        self.export_dir = QLineEdit(page)
        self.export_dir.setObjectName("autoExportDir")
        self.export_dir.setPlaceholderText(self.tr("Off: export by hand"))
        browse = QPushButton(self.tr("Choose…"), page)
        browse.clicked.connect(self._choose_export_dir)
        folder_row.addWidget(self.export_dir, 1)
        folder_row.addWidget(browse)
        form.addRow(self.tr("Save finished transcripts to:"), folder_row)
        formats_row = QHBoxLayout()
        self.export_formats: dict[str, QCheckBox] = {}
        for name in available_formats():
            box = QCheckBox(name.upper(), page)
            self.export_formats[name] = box
            formats_row.addWidget(box)
        formats_row.addStretch(1)
        form.addRow(self.tr("As:"), formats_row)
        return page

    def _processing_tab(self) -> QWidget:
        seconds = self.tr(" s")
        return self._number_page([
            (self.tr("Agents on this computer:"), NumberField(
                "processing", "pool_agents", 1, 64, decimals=0, special=self.tr("Automatic (one per core)"))),
            (self.tr("Threads per agent:"), NumberField("processing", "pool_threads", 1, MAX_POOL_THREADS,
                                                        decimals=0)),
            (self.tr("Time allowed per part:"), NumberField("processing", "chunk_timeout_seconds", 10, 7200,
                                                            decimals=0, step=30, suffix=seconds)),
            (self.tr("Beam size:"), NumberField("processing", "beam_size", 2, MAX_BEAM_SIZE, decimals=0,
                                                special=self.tr("Greedy (fastest)"))),
        ])

    def _chunking_tab(self) -> QWidget:
        seconds = self.tr(" s")
        page = self._number_page([
            (self.tr("Silence below:"), NumberField("chunking", "threshold_dbfs", -90, -10, decimals=1, step=1,
                                                    suffix=self.tr(" dBFS"))),
            (self.tr("Shortest silence to cut at:"), NumberField("chunking", "min_silence_seconds", 0.1, 10,
                                                                 step=0.1, suffix=seconds)),
            (self.tr("Shortest part:"), NumberField("chunking", "min_chunk_seconds", 1, 60, suffix=seconds)),
            (self.tr("Aim for parts of:"), NumberField("chunking", "target_chunk_seconds", 5, 120, step=0.5,
                                                       suffix=seconds)),
            (self.tr("Longest part:"), NumberField("chunking", "max_chunk_seconds", 5, 300, suffix=seconds)),
            (self.tr("Overlap at a forced cut:"), NumberField("chunking", "forced_overlap_seconds", 0, 20, step=0.5,
                                                              suffix=seconds)),
            (self.tr("Fixed parts (no silences found):"), NumberField("chunking", "fixed_chunk_seconds", 5, 300,
                                                                     suffix=seconds)),
            (self.tr("Overlap of fixed parts:"), NumberField("chunking", "fixed_overlap_seconds", 0, 60, step=0.5,
                                                             suffix=seconds)),
        ])
        self.chunking_mode = QComboBox(page)
        self.chunking_mode.addItem(self.tr("Cut at silences (recommended)"), ChunkingMode.HYBRID.value)
        self.chunking_mode.addItem(self.tr("Fixed-length parts"), ChunkingMode.FIXED.value)
        layout = page.layout()
        assert isinstance(layout, QFormLayout)
        layout.insertRow(0, self.tr("How to cut:"), self.chunking_mode)
        return page

    def _retry_tab(self) -> QWidget:
        seconds = self.tr(" s")
        return self._number_page([
            (self.tr("Retries of a failed part:"), NumberField("retry", "max_retries", 0, 20, decimals=0)),
            (self.tr("First wait:"), NumberField("retry", "base_seconds", 0.1, 600, suffix=seconds)),
            (self.tr("Each wait longer by:"), NumberField("retry", "factor", 1, 10, suffix="×")),
            (self.tr("Longest wait:"), NumberField("retry", "cap_seconds", 1, 86400, decimals=0, step=10,
                                                   suffix=seconds)),
            (self.tr("Random spread of waits:"), NumberField("retry", "jitter", 0, 0.99, decimals=1, scale=100,
                                                             suffix=" %")),
        ])

    def _number_page(self, rows: list[tuple[str, NumberField]]) -> QWidget:
        page = QWidget(self)
        form = QFormLayout(page)
        for label, spec in rows:
            box: QSpinBox | QDoubleSpinBox
            if spec.decimals == 0 and spec.scale == 1.0:
                box = QSpinBox(page)
                box.setRange(int(spec.minimum) - (1 if spec.special else 0), int(spec.maximum))
                box.setSingleStep(int(spec.step))
            else:
                box = QDoubleSpinBox(page)
                box.setDecimals(spec.decimals)
                box.setRange(spec.minimum * spec.scale, spec.maximum * spec.scale)
                box.setSingleStep(spec.step)
            if spec.special:
                box.setSpecialValueText(spec.special)
            box.setSuffix(spec.suffix)
            box.setObjectName(f"{spec.section}.{spec.name}")
            box.setMinimumWidth(160)
            self._numbers[(spec.section, spec.name)] = box
            self._number_fields.append(spec)
            form.addRow(label, box)
        return page

    # --- values ---------------------------------------------------------------------------------

    def _load(self, settings: Settings) -> None:
        self._select(self.ui_language, settings.ui.language)
        self.start_minimized.setChecked(settings.ui.start_minimized)
        self._select(self.default_language, settings.processing.default_language)
        if settings.processing.default_model and self.default_model.findData(settings.processing.default_model) < 0:
            self.default_model.addItem(settings.processing.default_model, settings.processing.default_model)
        self._select(self.default_model, settings.processing.default_model)
        self.export_dir.setText(settings.ui.auto_export_dir)
        for name, box in self.export_formats.items():
            box.setChecked(name in settings.ui.auto_export_formats)
        self._select(self.chunking_mode, ChunkingMode(settings.chunking.mode).value)
        for spec in self._number_fields:
            value = getattr(getattr(settings, spec.section), spec.name)
            box = self._numbers[(spec.section, spec.name)]
            if spec.special and value == 0:
                box.setValue(box.minimum())  # shows the special text ("Automatic", "Greedy")
            else:
                box.setValue(value * spec.scale)

    def _number_value(self, spec: NumberField) -> Any:
        box = self._numbers[(spec.section, spec.name)]
        if spec.special and box.value() == box.minimum():
            return 0
        value = box.value() / spec.scale
        return round(value) if isinstance(box, QSpinBox) else value

    def result_settings(self) -> Settings:
        """The edited settings, checked; raises :class:`SettingsError` for values that do not fit together."""
        changes: dict[str, dict[str, Any]] = {"processing": {}, "chunking": {}, "retry": {}, "ui": {}}
        for spec in self._number_fields:
            changes[spec.section][spec.name] = self._number_value(spec)
        changes["processing"]["default_language"] = self.default_language.currentData()
        changes["processing"]["default_model"] = self.default_model.currentData() or ""
        changes["chunking"]["mode"] = ChunkingMode(self.chunking_mode.currentData())
        changes["ui"].update(
            language=self.ui_language.currentData(), start_minimized=self.start_minimized.isChecked(),
            auto_export_dir=self.export_dir.text().strip(),
            auto_export_formats=[name for name, box in self.export_formats.items() if box.isChecked()],
        )
        # the same rules as the settings file and `sttdesk config set`
        return change_settings(self._original, changes)

    def restore_defaults(self) -> None:
        """Put every field back to the defaults (nothing is saved until Save)."""
        self._load(Settings())
        self.error_label.hide()

    def _accept_if_valid(self) -> None:
        try:
            self.result_settings()
        except SttdeskError as exc:
            self.error_label.setText(exc.user_message(self._ui_language))
            self.error_label.show()
            return
        self.accept()

    # --- helpers ---------------------------------------------------------------------------------

    @staticmethod
    def _select(box: QComboBox, data: object) -> None:
        position = box.findData(data)
        box.setCurrentIndex(max(0, position))

    def _choose_export_dir(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, self.tr("Save Finished Transcripts To"),
                                                  self.export_dir.text())
        if folder:
            self.export_dir.setText(folder)
