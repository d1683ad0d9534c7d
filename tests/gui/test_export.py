"""Exporting transcripts from the window: formats, folder, corrections included, clashes and failures."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QItemSelectionModel
from PySide6.QtWidgets import QLabel

from sttdesk.gui.export_dialog import ExportDialog
from sttdesk.gui.exporting import unique_stems
from sttdesk.service.job_service import JobRequest

from .conftest import JOB_TIMEOUT_MS


def test_names_that_would_clash_are_numbered() -> None:
    assert unique_stems(["talk.mp3", "Talk.wav", "talk.m4a", "notes.flac", ".mp3"]) == [
        "talk", "Talk (2)", "talk (3)", "notes", ".mp3"]


def test_the_dialog_needs_a_format_and_a_folder(qtbot: Any, tmp_path: Path) -> None:
    dialog = ExportDialog(2, folder=tmp_path, formats=("srt",))
    qtbot.addWidget(dialog)
    assert dialog.ok_button.isEnabled()
    dialog.format_boxes["srt"].setChecked(False)
    assert not dialog.ok_button.isEnabled() and not dialog.timestamps_box.isEnabled()
    dialog.format_boxes["txt"].setChecked(True)
    dialog.timestamps_box.setChecked(True)
    dialog.folder_edit.setText("  ")
    assert not dialog.ok_button.isEnabled()
    dialog.folder_edit.setText(str(tmp_path / "out"))
    options = dialog.options()
    assert options.formats == ("txt",) and options.txt_timestamps and options.folder == tmp_path / "out"


def complete_jobs(qtbot: Any, desktop: Any, paths: list[Path]) -> list[str]:
    ids = [desktop.core.service.add(JobRequest(path=path, language="en")) for path in paths]
    jobs = desktop.window.jobs
    qtbot.waitUntil(lambda: all(jobs.job(i) is not None and jobs.job(i).state == "COMPLETED" for i in ids),
                    timeout=JOB_TIMEOUT_MS)
    return ids


def select(window: Any, job_ids: list[str]) -> None:
    window.table.clearSelection()
    model = window.table.model()
    for job_id in job_ids:
        index = model.mapFromSource(window.jobs.index(window.jobs.row_of(job_id), 0))
        window.table.selectionModel().select(
            index, QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows)


def answer_export(window: Any, folder: Path, formats: tuple[str, ...]) -> list[str]:
    """Make the next export dialog answer with ``formats`` and ``folder``; returns the texts it showed."""
    shown: list[str] = []

    def run(dialog: ExportDialog) -> bool:
        shown.extend(label.text() for label in dialog.findChildren(QLabel))
        for name, box in dialog.format_boxes.items():
            box.setChecked(name in formats)
        dialog.folder_edit.setText(str(folder))
        return True

    window._run_dialog = run
    return shown


def cue_text(srt: str) -> str:
    """The words of an SRT file without cue numbers and times."""
    lines = [line for line in srt.splitlines() if line.strip() and not line.strip().isdigit() and "-->" not in line]
    return " ".join(lines)


@pytest.mark.slow
def test_export_many_jobs_with_a_correction_and_same_named_files(
    qtbot: Any, desktop: Any, dialogs: Any, en_audio: Path, tmp_path: Path
) -> None:
    # Two recordings with the same file name from different folders, and a third one.
    twin = tmp_path / "elsewhere" / "103-1240-0000.flac"
    twin.parent.mkdir()
    twin.write_bytes((en_audio / "1081-125237-0000.flac").read_bytes())
    first, second, third = complete_jobs(qtbot, desktop, [en_audio / "103-1240-0000.flac", twin,
                                                          en_audio / "jfk.wav"])
    store = desktop.core.store
    store.save_segment_edit(first, segment_index=0, segment_start=0.0, text="A correction made by hand.")
    window = desktop.window
    out = tmp_path / "exports"
    shown = answer_export(window, out, ("srt", "txt", "json", "vtt"))

    select(window, [first, second, third])
    assert window.actions.export.isEnabled()
    window.actions.export.trigger()
    qtbot.waitUntil(lambda: window.last_export is not None, timeout=JOB_TIMEOUT_MS)

    assert "Save the transcripts of 3 jobs as:" in shown
    names = sorted(path.name for path in out.iterdir())
    assert names == sorted(f"{stem}.{ext}" for stem in ("103-1240-0000", "103-1240-0000 (2)", "jfk")
                           for ext in ("srt", "txt", "json", "vtt"))
    assert window.last_export.failed == []
    srt = {path.name: cue_text(path.read_text(encoding="utf-8")) for path in out.glob("*.srt")}
    corrected = [name for name, text in srt.items() if "A correction made by hand." in text]
    assert len(corrected) == 1
    assert "fake" in srt["jfk.srt"]
    assert "Saved 12 files" in window.statusBar().currentMessage()
    assert not dialogs.errors


@pytest.mark.slow
def test_an_unwritable_folder_is_reported_per_job(qtbot: Any, desktop: Any, dialogs: Any, en_audio: Path,
                                                 tmp_path: Path) -> None:
    (job,) = complete_jobs(qtbot, desktop, [en_audio / "jfk.wav"])
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    window = desktop.window
    answer_export(window, blocker / "sub", ("txt",))
    select(window, [job])
    window.actions.export.trigger()
    qtbot.waitUntil(lambda: bool(dialogs.errors), timeout=JOB_TIMEOUT_MS)
    title, text, _details = dialogs.errors[-1]
    assert title == "Some transcripts were not saved"
    assert text.startswith("jfk.wav: Could not write")


@pytest.mark.slow
def test_finished_jobs_are_exported_automatically_when_a_folder_is_set(
    qtbot: Any, desktop: Any, en_audio: Path, tmp_path: Path
) -> None:
    target = tmp_path / "auto"

    def change(settings: Any) -> None:
        settings.ui.auto_export_dir = str(target)
        settings.ui.auto_export_formats = ["vtt"]

    desktop.preferences.update(change)
    desktop.window.add_paths([en_audio / "jfk.wav"])
    qtbot.waitUntil(lambda: (target / "jfk.vtt").is_file(), timeout=JOB_TIMEOUT_MS)
    assert (target / "jfk.vtt").read_text(encoding="utf-8").startswith("WEBVTT")
    assert sorted(p.name for p in target.iterdir()) == ["jfk.vtt"]
