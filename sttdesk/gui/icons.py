"""The app's icons (our own SVGs under resources/icons, compiled into resources_rc)."""

from __future__ import annotations

from functools import cache

from PySide6.QtGui import QIcon

from . import resources_rc  # noqa: F401 - registers the ":/icons" and ":/i18n" resources with Qt

_STATE_ICONS = {
    "PENDING": "state-pending",
    "PROCESSING": "state-processing",
    "PAUSED": "state-paused",
    "COMPLETED": "state-completed",
    "FAILED": "state-failed",
    "CANCELLED": "state-cancelled",
}


@cache
def icon(name: str) -> QIcon:
    """The icon ``resources/icons/<name>.svg`` (an empty icon for an unknown name)."""
    return QIcon(f":/icons/{name}.svg")


def state_icon(state: str) -> QIcon | None:
    """The small coloured icon of a job state, or None for an unknown state."""
    name = _STATE_ICONS.get(state)
    return icon(name) if name else None
