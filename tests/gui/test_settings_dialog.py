"""The settings dialog: shows the settings, checks edits with the settings' own rules, restores defaults,
and the window saves the result through sttdesk.settings."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from sttdesk.audio.chunker import ChunkingMode
from sttdesk.gui.settings_dialog import SettingsDialog
from sttdesk.paths import default_paths
from sttdesk.settings import Settings, SettingsError, load_settings


def box(dialog: SettingsDialog, name: str) -> Any:
    return dialog._numbers[tuple(name.split("."))]  # type: ignore[index]


def test_values_round_trip_and_special_zeroes(qtbot: Any) -> None:
    settings = Settings()
    settings.processing.pool_agents = 0
    settings.processing.beam_size = 5
    settings.retry = dataclasses.replace(settings.retry, jitter=0.25)
    dialog = SettingsDialog(settings, ["base", "base-q8_0"])
    qtbot.addWidget(dialog)

    assert box(dialog, "processing.pool_agents").text() == "Automatic (one per core)"
    assert box(dialog, "retry.jitter").value() == 25
    result = dialog.result_settings()
    assert result == settings  # nothing edited: nothing changes

    box(dialog, "processing.pool_agents").setValue(3)
    box(dialog, "processing.beam_size").setValue(box(dialog, "processing.beam_size").minimum())
    dialog.chunking_mode.setCurrentIndex(dialog.chunking_mode.findData("fixed"))
    dialog.default_model.setCurrentIndex(dialog.default_model.findData("base"))
    dialog.export_dir.setText("/tmp/out")
    dialog.export_formats["vtt"].setChecked(True)
    result = dialog.result_settings()
    assert result.processing.pool_agents == 3 and result.processing.beam_size == 0
    assert result.chunking.mode is ChunkingMode.FIXED
    assert result.processing.default_model == "base"
    assert result.ui.auto_export_dir == "/tmp/out" and result.ui.auto_export_formats == ["txt", "srt", "vtt"]


def test_bad_combinations_are_refused_with_a_typed_message(qtbot: Any) -> None:
    dialog = SettingsDialog(Settings(), [], ui_language="vi")
    qtbot.addWidget(dialog)
    box(dialog, "chunking.min_chunk_seconds").setValue(40)
    box(dialog, "chunking.target_chunk_seconds").setValue(20)
    with pytest.raises(SettingsError) as caught:
        dialog.result_settings()
    assert caught.value.code == "bad_settings" and "chunking" in caught.value.user_message("en")

    dialog._accept_if_valid()
    assert dialog.error_label.isVisibleTo(dialog)
    assert dialog.error_label.text().startswith("Cài đặt chunking")
    assert dialog.result() == 0  # not accepted

    dialog.restore_defaults()
    assert box(dialog, "chunking.target_chunk_seconds").value() == 29.5
    box(dialog, "retry.base_seconds").setValue(100)
    box(dialog, "retry.cap_seconds").setValue(50)
    with pytest.raises(SettingsError):
        dialog.result_settings()
    dialog.restore_defaults()
    dialog.export_dir.setText("/tmp/out")
    for format_box in dialog.export_formats.values():
        format_box.setChecked(False)
    with pytest.raises(SettingsError):
        dialog.result_settings()


@pytest.mark.slow
def test_the_window_saves_settings_to_the_settings_file(qtbot: Any, desktop: Any) -> None:
    window = desktop.window

    def answer(dialog: SettingsDialog) -> bool:
        box(dialog, "retry.max_retries").setValue(5)
        dialog.ui_language.setCurrentIndex(dialog.ui_language.findData("vi"))
        return True

    window._run_dialog = answer
    window.settings_action.trigger()
    path = default_paths().config_dir / "settings.toml"
    qtbot.waitUntil(path.is_file, timeout=10_000)
    saved = load_settings(path, environ={})
    assert saved.retry.max_retries == 5 and saved.ui.language == "vi"
    assert desktop.preferences.settings.retry.max_retries == 5
    assert "Settings saved." in window.statusBar().currentMessage()
