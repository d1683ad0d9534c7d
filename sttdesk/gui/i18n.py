"""The UI language: English or Vietnamese, from the settings or else the system's locale."""

from __future__ import annotations

import logging

from PySide6.QtCore import QCoreApplication, QLibraryInfo, QLocale, QTranslator

from . import resources_rc  # noqa: F401 - registers ":/i18n"

log = logging.getLogger(__name__)

#: Languages the app's own texts exist in; the first is the source language.
UI_LANGUAGES = ("en", "vi")
#: Our translation files inside the resources: the app's texts, and Qt's own buttons and dialogs.
_OWN_CATALOGS = ("sttdesk", "qtbase")


def choose_ui_language(setting: str, system: QLocale | None = None) -> str:
    """``setting`` when it names a UI language, else the system's language when we have it, else English."""
    if setting in UI_LANGUAGES:
        return setting
    if setting:
        log.warning("unknown UI language %r in the settings: following the system", setting)
    locale = system or QLocale.system()
    for name in (locale.name(), *locale.uiLanguages()):
        code = name.replace("-", "_").split("_")[0].lower()
        if code in UI_LANGUAGES:
            return code
    return UI_LANGUAGES[0]


def install_translators(app: QCoreApplication, language: str) -> list[QTranslator]:
    """Load and install the translations for ``language``; returns them (keep them alive).

    English needs its catalog too: it carries the plural forms ("1 part", "2 parts").
    """
    installed: list[QTranslator] = []
    for catalog in _OWN_CATALOGS:
        translator = QTranslator(app)
        if translator.load(f":/i18n/{catalog}_{language}.qm"):
            app.installTranslator(translator)
            installed.append(translator)
        elif catalog == "sttdesk":
            log.warning("no %s translation for UI language %r", catalog, language)
    # Qt's own catalog where Qt ships one (it has none for Vietnamese: ours covers that).
    qt_translator = QTranslator(app)
    if qt_translator.load(f"qtbase_{language}", QLibraryInfo.path(QLibraryInfo.LibraryPath.TranslationsPath)):
        app.installTranslator(qt_translator)
        installed.append(qt_translator)
    return installed


def remove_translators(app: QCoreApplication, translators: list[QTranslator]) -> None:
    for translator in translators:
        app.removeTranslator(translator)
