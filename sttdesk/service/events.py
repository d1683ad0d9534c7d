"""Events the JobService publishes to front ends, and the bus that delivers them.

Callbacks run on the bus's own thread, never on the coordinator's: a slow or
failing subscriber cannot stall the work. GUI subscribers forward events to
the Qt main thread with a signal.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

log = logging.getLogger(__name__)


class EventKind(str, Enum):
    """What happened."""

    JOB_ADDED = "job_added"
    #: The job's state changed (PENDING → PROCESSING, paused, cancelled, ...).
    JOB_CHANGED = "job_changed"
    #: A chunk finished: the partial transcript grew.
    CHUNK_DONE = "chunk_done"
    #: A chunk failed for good (dead letter).
    CHUNK_FAILED = "chunk_failed"
    JOB_FINISHED = "job_finished"
    JOB_REMOVED = "job_removed"
    #: An agent said READY (connected, or back after a restart or a network blip).
    AGENT_SEEN = "agent_seen"
    #: A connected agent missed its heartbeats, or its key was revoked (``revoked``: True).
    AGENT_LOST = "agent_lost"
    #: An agent announced itself on the LAN (data: its announcement, ``trusted``).
    AGENT_FOUND = "agent_found"
    #: A LAN agent's announcement changed (``moved``: a new address or port, e.g. after a restart).
    AGENT_UPDATED = "agent_updated"
    #: A LAN agent withdrew its announcement (``still_connected``: it keeps working regardless).
    AGENT_VANISHED = "agent_vanished"
    #: A monitoring threshold was crossed.
    ALERT = "alert"


@dataclass(frozen=True, slots=True)
class ServiceEvent:
    """One event; ``data`` holds kind-specific JSON-ready details."""

    kind: EventKind
    job_id: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


Subscriber = Callable[[ServiceEvent], None]


class EventBus:
    """Delivers events to subscribers in order, on one background thread."""

    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []
        self._lock = threading.Lock()
        self._queue: queue.Queue[ServiceEvent | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="events", daemon=True)
        self._thread.start()

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Call ``callback`` for every event from now on; returns the unsubscribe function."""
        with self._lock:
            self._subscribers.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._subscribers:
                    self._subscribers.remove(callback)

        return unsubscribe

    def publish(self, event: ServiceEvent) -> None:
        self._queue.put(event)

    def close(self, timeout: float = 5.0) -> None:
        """Deliver what is queued, then stop the thread."""
        self._queue.put(None)
        self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            event = self._queue.get()
            if event is None:
                return
            with self._lock:
                subscribers = list(self._subscribers)
            for callback in subscribers:
                try:
                    callback(event)
                except Exception:
                    log.exception("event subscriber %r failed on %s", callback, event.kind.value)
