"""The one helper that runs core calls off the GUI thread and brings results back.

Every call into the core that may touch the disk, the database or a child
process goes through :meth:`TaskRunner.run`: the function runs on a worker
thread, and its result (or exception) is handed to a callback on the GUI
thread through a queued signal. Widgets are never touched from a worker.

Two runners are used by the app: a *serial* one (one thread) for the short
reads and state changes of the job service, so that replies arrive in the
order the requests were made and a stale read never overwrites a newer one,
and a *parallel* one for long work (probing dropped files, exports, model
installs) that must not hold up the serial lane.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

log = logging.getLogger(__name__)

#: Worker threads of a parallel runner: two, as the machine's cores are also the agents'.
DEFAULT_PARALLEL_THREADS = 2

DoneCallback = Callable[[Any], None]
ErrorCallback = Callable[[BaseException], None]


class _Job(QRunnable):
    """Runs one function and reports through the runner's signal (from the worker thread)."""

    def __init__(self, runner: TaskRunner, task_id: int, fn: Callable[[], Any]) -> None:
        super().__init__()
        self.setAutoDelete(True)
        self._runner = runner
        self._task_id = task_id
        self._fn = fn

    def run(self) -> None:
        try:
            result = self._fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the GUI thread, never lost in a worker
            self._runner._finished.emit(self._task_id, None, exc)
        else:
            self._runner._finished.emit(self._task_id, result, None)


class TaskRunner(QObject):
    """Runs functions on worker threads; delivers results to callbacks on the GUI thread."""

    #: task id, result, exception (emitted from a worker, delivered queued on the GUI thread)
    _finished = Signal(int, object, object)
    #: Emitted on the GUI thread whenever the number of unfinished tasks changes.
    busy_changed = Signal(int)

    def __init__(self, parent: QObject | None = None, *, threads: int = 1, name: str = "tasks") -> None:
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(max(1, threads))
        self._pool.setObjectName(name)
        self._name = name
        self._ids = itertools.count(1)
        self._callbacks: dict[int, tuple[DoneCallback | None, ErrorCallback | None]] = {}
        self._closed = False
        self._finished.connect(self._deliver)

    def run(
        self,
        fn: Callable[[], Any],
        *,
        on_done: DoneCallback | None = None,
        on_error: ErrorCallback | None = None,
    ) -> int | None:
        """Run ``fn()`` on a worker; call ``on_done(result)`` or ``on_error(exc)`` on the GUI thread.

        Without ``on_error`` a failure is logged. Returns the task's id, or None
        once the runner is closed: while the app shuts down, new work is dropped.
        """
        if self._closed:
            log.debug("task runner %s is closed: dropping %r", self._name, fn)
            return None
        task_id = next(self._ids)
        self._callbacks[task_id] = (on_done, on_error)
        self._pool.start(_Job(self, task_id, fn))
        self.busy_changed.emit(len(self._callbacks))
        return task_id

    @property
    def pending(self) -> int:
        """Tasks started whose callbacks have not run yet."""
        return len(self._callbacks)

    def close(self, timeout_ms: int = 30_000) -> bool:
        """Refuse new tasks, drop queued ones and wait for running ones; True if all ended."""
        self._closed = True
        self._pool.clear()
        done = self._pool.waitForDone(timeout_ms)
        self._callbacks.clear()
        return done

    def _deliver(self, task_id: int, result: object, error: object) -> None:
        callbacks = self._callbacks.pop(task_id, None)
        if callbacks is None:  # the runner was closed meanwhile
            return
        on_done, on_error = callbacks
        try:
            if error is not None:
                if on_error is not None:
                    on_error(error)  # type: ignore[arg-type]
                else:
                    log.error("background task failed", exc_info=error)  # type: ignore[arg-type]
            elif on_done is not None:
                on_done(result)
        finally:
            self.busy_changed.emit(len(self._callbacks))
