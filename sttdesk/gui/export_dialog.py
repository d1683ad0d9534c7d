"""The export dialog: which formats, which folder; the writing itself runs in the background."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ..domain.exporters import available_formats
from .exporting import ExportOptions


class ExportDialog(QDialog):
    """Asks for formats and a folder; :meth:`options` gives the answer."""

    def __init__(self, job_count: int, *, folder: Path, formats: tuple[str, ...], txt_timestamps: bool = False,
                 ui_language: str = "en", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._ui_language = ui_language
        self.setWindowTitle(self.tr("Export Transcripts"))
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(self.tr("Save the transcripts of %n job(s) as:", "", job_count), self))
        descriptions = {
            "txt": self.tr("Plain text (TXT)"),
            "json": self.tr("Data with word times (JSON)"),
            "srt": self.tr("Subtitles (SRT)"),
            "vtt": self.tr("Web subtitles (VTT)"),
        }
        self.format_boxes: dict[str, QCheckBox] = {}
        for name in available_formats():
            box = QCheckBox(descriptions.get(name, name.upper()), self)
            box.setObjectName(f"format_{name}")
            box.setChecked(name in formats)
            box.toggled.connect(self._update_ok)
            self.format_boxes[name] = box
            layout.addWidget(box)
        self.timestamps_box = QCheckBox(self.tr("Start each line of the text file with its time"), self)
        self.timestamps_box.setChecked(txt_timestamps)
        self.format_boxes["txt"].toggled.connect(self.timestamps_box.setEnabled)
        self.timestamps_box.setEnabled(self.format_boxes["txt"].isChecked())
        timestamps_row = QHBoxLayout()
        timestamps_row.addSpacing(24)
        timestamps_row.addWidget(self.timestamps_box)
        layout.addLayout(timestamps_row)

        form = QFormLayout()
        folder_row = QHBoxLayout()
        self.folder_edit = QLineEdit(str(folder), self)
        self.folder_edit.setObjectName("folderEdit")
        self.folder_edit.setMinimumWidth(360)
        self.folder_edit.textChanged.connect(self._update_ok)
        browse = QPushButton(self.tr("Choose…"), self)
        browse.clicked.connect(self._choose_folder)
        folder_row.addWidget(self.folder_edit, 1)
        folder_row.addWidget(browse)
        form.addRow(self.tr("Folder:"), folder_row)
        layout.addLayout(form)
        note = QLabel(self.tr("Files are named after the recordings; an earlier export of the same job is replaced."),
                      self)
        note.setWordWrap(True)
        note.setEnabled(False)
        layout.addWidget(note)

        self.buttons = QDialogButtonBox(self)
        self.ok_button = self.buttons.addButton(self.tr("Export"), QDialogButtonBox.ButtonRole.AcceptRole)
        self.buttons.addButton(self.tr("Cancel"), QDialogButtonBox.ButtonRole.RejectRole)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self._update_ok()

    def options(self) -> ExportOptions:
        return ExportOptions(
            folder=Path(self.folder_edit.text().strip()).expanduser(),
            formats=tuple(name for name, box in self.format_boxes.items() if box.isChecked()),
            txt_timestamps=self.timestamps_box.isChecked(),
            ui_language=self._ui_language,
        )

    def _choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, self.tr("Export to Folder"), self.folder_edit.text())
        if folder:
            self.folder_edit.setText(folder)

    def _update_ok(self) -> None:
        formats = any(box.isChecked() for box in self.format_boxes.values())
        self.ok_button.setEnabled(formats and bool(self.folder_edit.text().strip()))
