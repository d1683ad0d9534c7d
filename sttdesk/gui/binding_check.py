"""A start-up check of the Qt binding itself.

PySide6 6.12.0 on CPython 3.11 drops a reference to ``True`` on every signal
emission and to ``None`` on every empty value it returns; once the count hits
zero the interpreter aborts ("deallocating True or False"), minutes or hours
into a session. Failing at start with a clear message beats a crash later.
"""

from __future__ import annotations

import logging
import platform
import sys

import PySide6
from PySide6.QtCore import QObject, Signal

from .errors import QtBindingError

log = logging.getLogger(__name__)

#: Signals emitted by the check: enough to see a steady loss, cheap at start-up.
PROBE_EMITS = 64


class _Probe(QObject):
    ping = Signal(int)


def check_qt_binding() -> None:
    """Raise :class:`QtBindingError` when emitting signals loses references to ``True``."""
    probe = _Probe()
    probe.ping.connect(lambda _value: None)
    before = sys.getrefcount(True)
    for value in range(PROBE_EMITS):
        probe.ping.emit(value)
    lost = before - sys.getrefcount(True)
    if lost >= PROBE_EMITS // 2:
        version = getattr(PySide6, "__version__", "?")
        log.error("PySide6 %s lost %d references to True in %d signal emissions", version, lost, PROBE_EMITS)
        raise QtBindingError(version=version, python=platform.python_version())
