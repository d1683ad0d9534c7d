"""The UI's translations: generated files up to date, every text translated, placeholders kept,
and a running window in Vietnamese shows no English text."""

from __future__ import annotations

import re
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QLocale, Qt
from PySide6.QtWidgets import QAbstractButton, QApplication, QLabel, QLineEdit

from sttdesk.gui.i18n import choose_ui_language, install_translators, remove_translators

REPO = Path(__file__).resolve().parents[2]
I18N = REPO / "resources" / "i18n"
_PLACEHOLDER = re.compile(r"%(?:\d|n)")


def messages(ts: Path) -> Iterator[tuple[str, str, ET.Element]]:
    for context in ET.parse(ts).getroot().iter("context"):
        name = context.findtext("name") or ""
        for message in context.iter("message"):
            yield name, message.findtext("source") or "", message


def translations(message: ET.Element) -> list[str]:
    translation = message.find("translation")
    assert translation is not None
    forms = translation.findall("numerusform")
    return [form.text or "" for form in forms] if forms else [translation.text or ""]


def test_generated_files_are_up_to_date() -> None:
    result = subprocess.run([str(REPO / "scripts" / "update_translations"), "--check"], cwd=REPO,
                            capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("catalog", ["sttdesk_vi.ts", "sttdesk_en.ts", "qtbase_vi.ts"])
def test_every_text_is_translated_with_its_placeholders(catalog: str) -> None:
    count = 0
    for context, source, message in messages(I18N / catalog):
        translation = message.find("translation")
        if catalog == "sttdesk_en.ts" and message.get("numerus") != "yes":
            continue  # English is the source language: only plurals need writing out
        count += 1
        assert translation is not None and translation.get("type") not in ("unfinished", "vanished", "obsolete"), \
            f"{context}: {source!r} is not translated in {catalog}"
        for text in translations(message):
            assert text.strip(), f"{context}: {source!r} has an empty translation in {catalog}"
            assert sorted(_PLACEHOLDER.findall(text)) == sorted(_PLACEHOLDER.findall(source)), \
                f"{context}: {source!r} -> {text!r} changes the placeholders"
    assert count > 0


def test_the_ui_language_follows_the_setting_then_the_system() -> None:
    assert choose_ui_language("vi", QLocale("en_US")) == "vi"
    assert choose_ui_language("", QLocale("vi_VN")) == "vi"
    assert choose_ui_language("", QLocale("de_DE")) == "en"
    assert choose_ui_language("klingon", QLocale("vi_VN")) == "vi"


@pytest.fixture
def vietnamese(qapp: QApplication) -> Iterator[None]:
    """The app in Vietnamese (the English catalog of the session stays below it)."""
    translators = install_translators(qapp, "vi")
    assert len(translators) >= 2  # our texts and our translation of Qt's buttons
    yield
    remove_translators(qapp, translators)


@pytest.mark.slow
def test_a_running_window_in_vietnamese_shows_no_english(qtbot: Any, vietnamese: None, core: Any,
                                                       dialogs: Any) -> None:
    from sttdesk.gui.app import DesktopApp

    app = DesktopApp(core, ui_language="vi", use_tray=False)
    app.start()
    try:
        window = app.window
        qtbot.waitUntil(lambda: app.core_running, timeout=60_000)
        windows = [window, window.show_agents(), window.show_models()]
        english = {source for _context, source, message in messages(I18N / "sttdesk_vi.ts")
                   if translations(message)[0] != source}
        shown: list[str] = []
        for widget in windows:
            for child in widget.findChildren(QLabel) + widget.findChildren(QAbstractButton):
                shown.append(child.text())
            for edit in widget.findChildren(QLineEdit):
                shown.append(edit.placeholderText())
            for action in widget.findChildren(type(window.quit_action)):
                shown += [action.text(), action.toolTip()]
        for menu in window.menuBar().actions():
            shown.append(menu.text())
        for column in range(window.jobs.columnCount()):
            shown.append(window.jobs.headerData(column, Qt.Orientation.Horizontal))
        untranslated = sorted({text for text in shown if text and text.replace("&", "") in
                               {e.replace("&", "") for e in english}})
        assert untranslated == []
        assert "Tạm &dừng" in [window.actions.pause.text()]
        assert window.jobs.headerData(0, Qt.Orientation.Horizontal) == "Tệp"
    finally:
        app.shutdown()
