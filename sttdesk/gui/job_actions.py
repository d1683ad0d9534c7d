"""The actions a user takes on selected jobs, and the one table saying when each applies."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence

from ..domain.errors import SttdeskError
from ..domain.jobs import JobState
from ..service.job_service import JobService, JobStateError
from ..service.views import JobView
from .icons import icon

log = logging.getLogger(__name__)

_ALL_STATES = frozenset(state.value for state in JobState)


@dataclass(frozen=True, slots=True)
class JobOperation:
    """One thing the job service can do to a job."""

    name: str
    #: Job states the operation applies to; selected jobs in other states are skipped.
    states: frozenset[str]
    #: ``call(service, job_id)``, run on a worker thread.
    call: Callable[[JobService, str], object]


OPERATIONS: dict[str, JobOperation] = {
    op.name: op
    for op in (
        JobOperation("pause", frozenset({JobState.PENDING.value, JobState.PROCESSING.value}),
                     lambda service, job_id: service.pause(job_id)),
        JobOperation("resume", frozenset({JobState.PAUSED.value}),
                     lambda service, job_id: service.resume_job(job_id)),
        JobOperation("cancel", frozenset({JobState.PENDING.value, JobState.PROCESSING.value,
                                          JobState.PAUSED.value, JobState.FAILED.value}),
                     lambda service, job_id: service.cancel(job_id)),
        JobOperation("retry", frozenset({JobState.FAILED.value}),
                     lambda service, job_id: service.retry_failed(job_id)),
        JobOperation("remove", _ALL_STATES, lambda service, job_id: service.delete(job_id)),
    )
}

#: Job states that have a transcript worth opening or exporting.
EXPORTABLE_STATES = frozenset({JobState.COMPLETED.value, JobState.FAILED.value})


def applicable(operation: JobOperation, jobs: Iterable[JobView]) -> list[str]:
    """Ids of the jobs ``operation`` applies to."""
    return [job.id for job in jobs if job.state in operation.states]


def run_operation(service: JobService, operation: JobOperation, job_ids: Iterable[str]) -> list[tuple[str, SttdeskError]]:
    """Apply ``operation`` to every job (on a worker thread); returns the jobs that refused, with why.

    A job whose state changed since the user clicked refuses with the service's
    own error; the others still go ahead. A refusal because the job moved on at
    that very moment (waiting → transcribing while pausing) is tried once more
    when the operation still fits the job's new state.
    """
    refused: list[tuple[str, SttdeskError]] = []
    for job_id in job_ids:
        try:
            try:
                operation.call(service, job_id)
            except JobStateError:
                if service.get(job_id).state not in operation.states:
                    raise
                operation.call(service, job_id)
        except SttdeskError as exc:
            log.info("%s refused for job %s: %s", operation.name, job_id, exc)
            refused.append((job_id, exc))
    return refused


class JobActions(QObject):
    """The window's QActions for jobs, enabled to match the selection."""

    #: An operation of :data:`OPERATIONS` was asked for, by name.
    operation_requested = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.add_files = self._action("add", self.tr("&Add Files…"), QKeySequence.StandardKey.Open,
                                      self.tr("Add audio or video files to transcribe"))
        self.add_folder = self._action("folder", self.tr("Add &Folder…"), "Ctrl+Shift+O",
                                       self.tr("Add every audio and video file in a folder"))
        self.pause = self._operation("pause", "pause", self.tr("&Pause"), "Ctrl+P", self.tr("Pause the selected jobs"))
        self.resume = self._operation("resume", "resume", self.tr("&Resume"), "Ctrl+R",
                                      self.tr("Resume the selected paused jobs"))
        self.cancel = self._operation("cancel", "cancel", self.tr("&Cancel"), "Ctrl+.",
                                      self.tr("Stop the selected jobs for good"))
        self.retry = self._operation("retry", "retry", self.tr("Retry &Failed"), "Ctrl+Shift+R",
                                     self.tr("Try the failed parts of the selected jobs again"))
        self.remove = self._operation("remove", "remove", self.tr("Re&move"), QKeySequence.StandardKey.Delete,
                                      self.tr("Remove the selected jobs and their files from the list"))
        # Delete must not remove jobs while the user edits transcript text elsewhere.
        self.remove.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.open_folder = self._action("folder", self.tr("Open Containing &Folder"), "Ctrl+Shift+F",
                                        self.tr("Show the selected file in the file manager"))
        self.export = self._action("export", self.tr("&Export…"), "Ctrl+E",
                                   self.tr("Save the transcripts of the selected jobs as TXT, JSON, SRT or VTT"))
        self.set_selection([])

    @property
    def job_actions(self) -> list[QAction]:
        """The actions that need a selection, in menu order."""
        return [self.pause, self.resume, self.cancel, self.retry, self.remove, self.open_folder, self.export]

    def set_selection(self, jobs: list[JobView]) -> None:
        """Enable each action when it applies to at least one selected job."""
        for name, action in (("pause", self.pause), ("resume", self.resume), ("cancel", self.cancel),
                             ("retry", self.retry), ("remove", self.remove)):
            action.setEnabled(bool(applicable(OPERATIONS[name], jobs)))
        self.open_folder.setEnabled(bool(jobs))
        self.export.setEnabled(any(job.state in EXPORTABLE_STATES for job in jobs))

    def _action(self, icon_name: str, text: str, shortcut: QKeySequence.StandardKey | str, tip: str) -> QAction:
        action = QAction(icon(icon_name), text, self)
        action.setShortcut(QKeySequence(shortcut))
        action.setToolTip(f"{tip} ({action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)})")
        action.setStatusTip(tip)
        return action

    def _operation(self, name: str, icon_name: str, text: str,
                   shortcut: QKeySequence.StandardKey | str, tip: str) -> QAction:
        action = self._action(icon_name, text, shortcut, tip)
        action.triggered.connect(lambda: self.operation_requested.emit(name))
        return action
