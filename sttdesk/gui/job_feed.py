"""Keeps the job table in step with the core without ever reading the store on the GUI thread.

Events from the core mark jobs as stale; after a short pause (so a burst of
events costs one read) the stale jobs are read on the serial task runner and
the table is updated in place. Running jobs are also re-read now and then, for
their agents and remaining time, and their clocks tick every second in between.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from ..domain.jobs import JobState
from ..service.events import EventKind, ServiceEvent
from ..service.job_service import JobNotFoundError, JobService
from ..service.views import JobView
from .job_table_model import JobTableModel
from .tasks import TaskRunner

log = logging.getLogger(__name__)

#: Most jobs the table lists (newest first).
MAX_JOBS_LISTED = 2000
#: Events arriving within this many milliseconds are answered with one read.
FLUSH_DELAY_MS = 150
#: How often the clocks of running jobs tick on screen.
TICK_MS = 1000
#: How often running jobs are re-read for their agents and remaining time.
RUNNING_REFRESH_MS = 3000

_JOB_EVENTS = frozenset({
    EventKind.JOB_ADDED, EventKind.JOB_CHANGED, EventKind.CHUNK_DONE,
    EventKind.CHUNK_FAILED, EventKind.JOB_FINISHED,
})


def read_jobs(service: JobService, job_ids: Iterable[str]) -> tuple[list[JobView], list[str]]:
    """The views of ``job_ids`` that still exist, and the ids that are gone (runs on a worker)."""
    views: list[JobView] = []
    gone: list[str] = []
    for job_id in job_ids:
        try:
            views.append(service.get(job_id))
        except JobNotFoundError:
            gone.append(job_id)
    return views, gone


class JobFeed(QObject):
    """Feeds a :class:`JobTableModel` from the job service: one read per burst of events."""

    #: The table changed (rows added, removed or updated).
    jobs_changed = Signal()
    #: A job ended (COMPLETED or FAILED); the :class:`JobView` read after its last event.
    job_finished = Signal(object)
    #: A job's transcript may have grown or changed (a chunk ended, a retry started): its id.
    transcript_changed = Signal(str)
    #: An agent joined or left.
    agents_changed = Signal()

    def __init__(
        self,
        service: JobService,
        model: JobTableModel,
        runner: TaskRunner,
        parent: QObject | None = None,
        *,
        list_limit: int = MAX_JOBS_LISTED,
        flush_delay_ms: int = FLUSH_DELAY_MS,
        tick_ms: int = TICK_MS,
        running_refresh_ms: int = RUNNING_REFRESH_MS,
    ) -> None:
        super().__init__(parent)
        self._service = service
        self._model = model
        self._runner = runner
        self._list_limit = list_limit
        self._stale: set[str] = set()
        self._finished: set[str] = set()
        self._reading = False
        self._full_read_wanted = False
        self._stopped = False
        self._flush_timer = QTimer(self, singleShot=True, interval=flush_delay_ms)
        self._flush_timer.timeout.connect(self._flush)
        self._tick_timer = QTimer(self, interval=tick_ms)
        self._tick_timer.timeout.connect(model.tick)
        self._running_timer = QTimer(self, interval=running_refresh_ms)
        self._running_timer.timeout.connect(self._refresh_running)

    def start(self) -> None:
        """Read every job once, then follow events."""
        self.refresh_all()
        self._tick_timer.start()
        self._running_timer.start()

    def stop(self) -> None:
        """Stop following the core for good (the app is quitting)."""
        self._stopped = True
        for timer in (self._flush_timer, self._tick_timer, self._running_timer):
            timer.stop()

    @property
    def busy(self) -> bool:
        """Whether a read is under way or waiting to start."""
        return self._reading or bool(self._stale) or self._full_read_wanted or self._flush_timer.isActive()

    def refresh_all(self) -> None:
        """Read the whole job list again (after start, or when something may have been missed)."""
        self._full_read_wanted = True
        self._schedule()

    def refresh(self, job_ids: Iterable[str]) -> None:
        """Read these jobs again soon."""
        self._stale.update(job_ids)
        self._schedule()

    def on_event(self, event: ServiceEvent) -> None:
        """Called on the GUI thread for every core event."""
        if event.kind is EventKind.JOB_REMOVED and event.job_id:
            self._stale.discard(event.job_id)
            if self._model.remove_job(event.job_id):
                self.jobs_changed.emit()
            return
        if event.kind in (EventKind.AGENT_SEEN, EventKind.AGENT_LOST):
            self.agents_changed.emit()
            return
        if event.kind not in _JOB_EVENTS or not event.job_id:
            return
        if event.kind is EventKind.JOB_FINISHED:
            self._finished.add(event.job_id)
        if event.kind in (EventKind.CHUNK_DONE, EventKind.CHUNK_FAILED, EventKind.JOB_FINISHED) or (
            event.kind is EventKind.JOB_CHANGED and event.data.get("state") == JobState.PENDING.value
        ):
            self.transcript_changed.emit(event.job_id)
        self.refresh([event.job_id])

    # --- reading in the background ------------------------------------------------

    def _schedule(self) -> None:
        if not self._stopped and not self._reading and not self._flush_timer.isActive():
            self._flush_timer.start()

    def _flush(self) -> None:
        if self._reading:
            return
        service = self._service
        if self._full_read_wanted:
            self._full_read_wanted = False
            self._stale.clear()
            limit = self._list_limit
            self._start_read(lambda: ("all", service.list(limit=limit)))
        elif self._stale:
            ids = sorted(self._stale)
            self._stale.clear()
            self._start_read(lambda: ("some", read_jobs(service, ids)))

    def _start_read(self, fn: Any) -> None:
        self._reading = True
        self._runner.run(fn, on_done=self._read_done, on_error=self._read_failed)

    def _read_done(self, result: tuple[str, Any]) -> None:
        self._reading = False
        kind, payload = result
        if kind == "all":
            self._model.set_jobs(payload)
            views = payload
        else:
            views, gone = payload
            self._model.update_jobs(views)
            for job_id in gone:
                self._model.remove_job(job_id)
        self.jobs_changed.emit()
        for view in views:
            if view.id in self._finished and view.state in (JobState.COMPLETED.value, JobState.FAILED.value):
                self._finished.discard(view.id)
                self.job_finished.emit(view)
        if self._stale or self._full_read_wanted:
            self._schedule()

    def _read_failed(self, error: BaseException) -> None:
        self._reading = False
        log.error("reading jobs failed: %s", error, exc_info=error)
        if self._stale or self._full_read_wanted:
            self._schedule()

    def _refresh_running(self) -> None:
        running = [v.id for v in self._model.jobs() if v.state == JobState.PROCESSING.value]
        if running:
            self.refresh(running)
