"""The app's settings as the window sees them: read once, changed and saved through sttdesk.settings.

Widgets never open the settings file themselves: they read
:attr:`Preferences.settings` and hand a changed copy to :meth:`Preferences.update`,
which saves it on the serial task runner and tells everyone through ``changed``.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable

from PySide6.QtCore import QObject, Signal

from ..paths import AppPaths
from ..settings import Settings, save_settings
from .tasks import TaskRunner

log = logging.getLogger(__name__)


class Preferences(QObject):
    """Holds the current :class:`Settings` and writes every change to the settings file."""

    #: The settings changed (the new :class:`Settings`).
    changed = Signal(object)
    #: Saving failed: the exception (the settings in memory are still the new ones).
    save_failed = Signal(object)

    def __init__(self, settings: Settings, paths: AppPaths, runner: TaskRunner,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._settings = copy.deepcopy(settings)
        self._paths = paths
        self._runner = runner

    @property
    def settings(self) -> Settings:
        """A copy of the current settings (changing it changes nothing until :meth:`update`)."""
        return copy.deepcopy(self._settings)

    def update(self, change: Callable[[Settings], None]) -> None:
        """Apply ``change`` to a copy of the settings, keep it, save it in the background."""
        settings = self.settings
        change(settings)
        if settings == self._settings:
            return
        self._settings = settings
        snapshot = copy.deepcopy(settings)
        paths = self._paths
        self._runner.run(lambda: save_settings(snapshot, paths=paths), on_error=self._failed)
        self.changed.emit(self.settings)

    def replace(self, settings: Settings) -> None:
        """Keep and save ``settings`` as a whole (what the settings dialog returns)."""
        new = copy.deepcopy(settings)

        def change(current: Settings) -> None:
            for section in Settings.__dataclass_fields__:
                setattr(current, section, getattr(new, section))

        self.update(change)

    def _failed(self, error: BaseException) -> None:
        log.error("could not save the settings: %s", error)
        self.save_failed.emit(error)
