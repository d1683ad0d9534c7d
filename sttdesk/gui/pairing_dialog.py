"""Pairing with an agent from the window: the code the agent shows is typed into a small dialog.

``core.agents.pair`` runs on a worker thread and asks for the code through a
callback, possibly more than once (after a wrong code). :class:`CodePrompter`
carries each question to the GUI thread, shows :class:`PairingCodeDialog`
window-modally (the event loop keeps running) and hands the typed code back to
the waiting worker; closing the dialog, or the window it belongs to, gives up.
"""

from __future__ import annotations

import queue
import threading
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QRegularExpression, Qt, Signal
from PySide6.QtGui import QFontDatabase, QRegularExpressionValidator
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

if TYPE_CHECKING:
    from ..cluster.pairing import PairingChallengeInfo

# What a pairing code may look like while typed: six digits, grouped as the agent shows them.
CODE_PATTERN = r"\s*\d{3}[\s-]?\d{3}\s*"
# Width of the dialog, in pixels: the explanations read as a few lines, not a narrow column.
MIN_WIDTH = 480
# Seconds the worker waits for an answer beyond the code's own lifetime before giving up.
ANSWER_GRACE_SECONDS = 5.0


def code_digits(text: str) -> str:
    """The digits of a code as typed ("123 456", "123-456")."""
    return "".join(ch for ch in text if ch.isdigit())


class PairingCodeDialog(QDialog):
    """Asks for the six-digit code an agent shows, with the key fingerprint to compare."""

    def __init__(self, info: PairingChallengeInfo, *, retry: bool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Pair with %1").replace("%1", info.agent_name or info.agent_id))
        self.setWindowModality(Qt.WindowModality.WindowModal)
        intro = QLabel(self.tr("The agent now shows a six-digit pairing code: in its log, or with "
                               "'sttdesk-agent pairing' on that computer. Type it here."), self)
        intro.setWordWrap(True)
        self.retry_note = QLabel(self.tr("That code did not match. Check it and type it again."), self)
        self.retry_note.setObjectName("pairingRetryNote")
        self.retry_note.setStyleSheet("color: #b3261e;")
        self.retry_note.setWordWrap(True)
        self.retry_note.setVisible(retry)
        self.fingerprint = QLabel(info.fingerprint, self)
        self.fingerprint.setObjectName("pairingFingerprint")
        self.fingerprint.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        font = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        font.setBold(True)
        self.fingerprint.setFont(font)  # compared character by character with the agent's
        compare = QLabel(self.tr("The agent shows the same fingerprint. If it does not, do not pair: "
                                 "another computer may be answering in its place."), self)
        compare.setWordWrap(True)
        self.code_edit = QLineEdit(self)
        self.code_edit.setObjectName("pairingCode")
        self.code_edit.setPlaceholderText("123-456")
        self.code_edit.setValidator(QRegularExpressionValidator(QRegularExpression(CODE_PATTERN), self))
        minutes = max(1, round(info.expires_seconds / 60))
        limits = " ".join((self.tr("The code is valid for %n more minute(s).", "", minutes),
                           self.tr("%n attempt(s) left.", "", info.attempts_left)))

        form = QFormLayout()
        form.addRow(self.tr("Agent:"), QLabel(f"{info.agent_name} ({info.agent_id})", self))
        form.addRow(self.tr("Key fingerprint:"), self.fingerprint)
        form.addRow(self.tr("Pairing code:"), self.code_edit)

        self.buttons = QDialogButtonBox(self)
        self.pair_button = self.buttons.addButton(self.tr("Pair"), QDialogButtonBox.ButtonRole.AcceptRole)
        self.buttons.addButton(self.tr("Cancel"), QDialogButtonBox.ButtonRole.RejectRole)
        self.pair_button.setEnabled(False)
        self.pair_button.setDefault(True)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.code_edit.textChanged.connect(
            lambda text: self.pair_button.setEnabled(len(code_digits(text)) == 6))

        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.retry_note)
        layout.addLayout(form)
        layout.addWidget(compare)
        layout.addWidget(QLabel(limits, self))
        layout.addWidget(self.buttons)
        self.setMinimumWidth(MIN_WIDTH)
        self.code_edit.setFocus()

    def code(self) -> str:
        """The digits typed so far."""
        return code_digits(self.code_edit.text())


class CodePrompter(QObject):
    """Asks for pairing codes on the GUI thread on behalf of a worker thread (see the module notes)."""

    #: Emitted with each dialog as it opens (tests type into it; the panel keeps it on top).
    dialog_opened = Signal(object)
    #: Worker -> GUI thread: show a dialog for (info, retry, answer queue).
    _asked = Signal(object, bool, object)

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self._parent = parent
        self._asks = 0
        self._lock = threading.Lock()
        self._dialog: PairingCodeDialog | None = None
        self._asked.connect(self._show, Qt.ConnectionType.QueuedConnection)

    @property
    def dialog(self) -> PairingCodeDialog | None:
        """The dialog open now, if any."""
        return self._dialog

    def begin(self) -> None:
        """A new pairing starts: its first question is not a retry."""
        with self._lock:
            self._asks = 0

    def ask(self, info: PairingChallengeInfo) -> str | None:
        """The code the user types for ``info``, or None when the dialog was closed (on a worker thread).

        Never call this on the GUI thread: it waits for the GUI thread to answer.
        """
        with self._lock:
            retry = self._asks > 0
            self._asks += 1
        answers: queue.Queue[str | None] = queue.Queue(maxsize=1)
        self._asked.emit(info, retry, answers)
        try:
            return answers.get(timeout=max(1.0, info.expires_seconds) + ANSWER_GRACE_SECONDS)
        except queue.Empty:
            return None

    def cancel(self) -> None:
        """Close an open dialog as if Cancel were pressed (the window it belongs to is closing)."""
        if self._dialog is not None:
            self._dialog.reject()

    def _show(self, info: PairingChallengeInfo, retry: bool, answers: queue.Queue[str | None]) -> None:
        dialog = PairingCodeDialog(info, retry=retry, parent=self._parent)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self._dialog = dialog

        def finished(result: int) -> None:
            code = dialog.code() if result == QDialog.DialogCode.Accepted else None
            if self._dialog is dialog:
                self._dialog = None
            answers.put_nowait(code)

        dialog.finished.connect(finished)
        dialog.open()
        self.dialog_opened.emit(dialog)
