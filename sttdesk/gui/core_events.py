"""Hands the core's events (delivered on the event bus's thread) to the GUI thread."""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import QObject, Signal

from ..service.events import EventBus, ServiceEvent

log = logging.getLogger(__name__)


class CoreEventBridge(QObject):
    """Subscribes to the core's event bus and re-emits every event on the GUI thread."""

    #: One :class:`ServiceEvent`, delivered on the GUI thread (the signal is queued across threads).
    received = Signal(object)

    def __init__(self, events: EventBus, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._unsubscribe: Callable[[], None] | None = events.subscribe(self._on_event)

    def close(self) -> None:
        """Stop listening; events already queued for the GUI thread are still delivered."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    def _on_event(self, event: ServiceEvent) -> None:
        # Runs on the bus's thread: only emit, never touch anything else here.
        if log.isEnabledFor(logging.DEBUG):
            log.debug("core event %s for %s", event.kind.value, event.job_id)
        self.received.emit(event)
