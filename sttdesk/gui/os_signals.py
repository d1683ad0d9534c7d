"""Termination signals (SIGTERM at log-out or shutdown, SIGINT, SIGHUP) as a Qt signal.

Python runs its signal handlers only between bytecodes, and the GUI thread
spends its time inside Qt's event loop, so a handler set with
``signal.signal`` alone would wait for the next Python callback. Here the
handlers do nothing; ``signal.set_wakeup_fd`` makes the interpreter write the
signal's number to a socket, and a ``QSocketNotifier`` on the other end wakes
the event loop, which then quits the app the orderly way (core stopped, local
agents asked to finish, the job table closed): the work resumes on the next start.
"""

from __future__ import annotations

import logging
import signal
import socket
from collections.abc import Iterable

from PySide6.QtCore import QObject, QSocketNotifier, Signal

log = logging.getLogger(__name__)

#: The signals that ask a desktop program to end.
TERMINATION_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


class TerminationSignals(QObject):
    """Emits :attr:`received` on the GUI thread when the process gets one of ``signals``."""

    #: The signal's number.
    received = Signal(int)

    def __init__(self, parent: QObject | None = None, *, signals: Iterable[int] = TERMINATION_SIGNALS) -> None:
        super().__init__(parent)
        self._reader, self._writer = socket.socketpair()
        self._reader.setblocking(False)
        self._writer.setblocking(False)
        self._signals = tuple(signals)
        self._previous_handlers = {sig: signal.signal(sig, _ignore) for sig in self._signals}
        self._previous_fd = signal.set_wakeup_fd(self._writer.fileno(), warn_on_full_buffer=False)
        self._notifier = QSocketNotifier(self._reader.fileno(), QSocketNotifier.Type.Read, self)
        self._notifier.activated.connect(self._read)

    def close(self) -> None:
        """Give the signals back to their earlier handlers."""
        if self._notifier is None:
            return
        self._notifier.setEnabled(False)
        self._notifier = None
        signal.set_wakeup_fd(self._previous_fd)
        for sig, handler in self._previous_handlers.items():
            signal.signal(sig, handler)
        self._reader.close()
        self._writer.close()

    def _read(self) -> None:
        try:
            data = self._reader.recv(64)
        except BlockingIOError:
            return
        for number in data:
            if number in self._signals:
                log.info("received %s: quitting", signal.Signals(number).name)
                self.received.emit(number)


def _ignore(_number: int, _frame: object) -> None:
    """The real work happens on the GUI thread (see the module notes)."""
