"""The Qt binding keeps its references: the start-up check passes and signals keep True alive."""

from __future__ import annotations

import sys
from typing import Any

from PySide6.QtCore import QObject, QStringListModel, Qt, Signal

from sttdesk.gui.binding_check import check_qt_binding


class _Emitter(QObject):
    ping = Signal(object)


def test_the_installed_pyside_keeps_references_to_true_and_none(qtbot: Any) -> None:
    """PySide6 6.12.0 on Python 3.11 loses them (and the app aborts later): pin another version."""
    check_qt_binding()
    emitter = _Emitter()
    received: list[object] = []
    emitter.ping.connect(received.append)
    model = QStringListModel(["a"])
    true_before, none_before = sys.getrefcount(True), sys.getrefcount(None)
    for _ in range(200):
        emitter.ping.emit(None)
        model.index(0, 0).data(Qt.ItemDataRole.UserRole)  # an empty value comes back as None
    received.clear()
    assert sys.getrefcount(True) >= true_before - 10
    assert sys.getrefcount(None) >= none_before - 10
