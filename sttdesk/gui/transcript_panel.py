"""The transcript of the selected job: growing live, searchable, editable, playable."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QItemSelectionModel, QModelIndex, Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ..domain.jobs import JobState
from ..domain.transcript import Transcript
from ..service.views import JobView
from . import formatting
from .icons import icon
from .messages import error_text
from .playback import JobAudioPlayer
from .tasks import TaskRunner
from .transcript_model import (
    FAILED_GAP,
    KIND_ROLE,
    START_ROLE,
    TranscriptModel,
    TranscriptRow,
    rows_from_transcript,
)
from .transcript_view import TranscriptListView

if TYPE_CHECKING:
    from ..service.job_service import JobService

log = logging.getLogger(__name__)

#: Reads of the shown transcript are spaced at least this far apart while chunks pour in.
RELOAD_DELAY_MS = 250
#: Room beside the find box's placeholder text (its icon and clear button), in pixels.
FIND_EDIT_ROOM = 64


@dataclass(frozen=True, slots=True)
class TranscriptSnapshot:
    """What the panel shows of one job, read on a worker."""

    job: JobView
    transcript: Transcript
    edited: frozenset[int]
    #: The rows the view shows, made on the worker too (a long transcript takes a while).
    rows: list[TranscriptRow]
    #: The user's file if it is still there, and the job's decoded audio if it exists.
    source: Path | None
    pcm: Path | None


def load_snapshot(service: JobService, job_id: str, ui_language: str = "en") -> TranscriptSnapshot:
    """Read a job's transcript with the user's corrections and make its rows (on a worker thread)."""
    job = service.get(job_id)
    edited = service.edited_transcript(job_id, partial=True)
    source = Path(job.path)
    pcm = service.audio_path(job_id)
    return TranscriptSnapshot(job=job, transcript=edited.transcript, edited=edited.edited,
                              rows=rows_from_transcript(edited.transcript, edited.edited, ui_language),
                              source=source if source.is_file() else None,
                              pcm=pcm if pcm.is_file() else None)


class TranscriptPanel(QWidget):
    """Shows one job's transcript; reads it in the background whenever it may have changed."""

    #: A message for the status bar.
    status_message = Signal(str)
    #: Something failed: (title, message) for an error box.
    error = Signal(str, str)

    def __init__(self, service: JobService, runner: TaskRunner, *,
                 ui_language: str = "en", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._service = service
        self._runner = runner
        self._ui_language = ui_language
        self._job_id = ""
        self._snapshot: TranscriptSnapshot | None = None
        self._loading = False
        self._reload_wanted = False
        self._stopped = False
        self._matches: list[int] = []
        self.model = TranscriptModel(self)
        self.model.edit_requested.connect(self._save_edit)
        self.player = JobAudioPlayer(runner, self)
        self.player.position_changed.connect(self._playing_at)
        self.player.playing_changed.connect(self._playing_changed)
        self.player.failed.connect(self.status_message)
        self._reload_timer = QTimer(self, singleShot=True, interval=RELOAD_DELAY_MS)
        self._reload_timer.timeout.connect(self._load)
        self._build()
        self.show_job("")

    # --- layout ---------------------------------------------------------------------

    def _build(self) -> None:
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)

        header = QHBoxLayout()
        self.play_button = QToolButton(self)
        self.play_button.setIcon(icon("play"))
        self.play_button.setToolTip(self.tr("Play or pause the audio (Ctrl+Space)"))
        self.play_button.setAutoRaise(True)
        self.play_button.clicked.connect(self._toggle_play)
        self.title = QLabel(self)
        self.title.setObjectName("transcriptTitle")
        self.title.setTextFormat(Qt.TextFormat.PlainText)
        font = self.title.font()
        font.setBold(True)
        self.title.setFont(font)
        self.summary = QLabel(self)
        self.summary.setTextFormat(Qt.TextFormat.PlainText)
        self.find_edit = QLineEdit(self)
        self.find_edit.setObjectName("findEdit")
        self.find_edit.setPlaceholderText(self.tr("Find in transcript"))
        self.find_edit.setClearButtonEnabled(True)
        self.find_edit.addAction(icon("find"), QLineEdit.ActionPosition.LeadingPosition)
        self.find_edit.setMinimumWidth(
            self.find_edit.fontMetrics().horizontalAdvance(self.find_edit.placeholderText()) + FIND_EDIT_ROOM)
        self.find_edit.setMaximumWidth(max(self.find_edit.minimumWidth(), 260))
        self.find_edit.textChanged.connect(self._find_changed)
        self.find_edit.returnPressed.connect(self.find_next)
        self.find_count = QLabel(self)
        header.addWidget(self.play_button)
        header.addWidget(self.title)
        header.addWidget(self.summary, 1)
        header.addWidget(self.find_count)
        header.addWidget(self.find_edit)
        layout.addLayout(header)

        self.banner = QFrame(self)
        self.banner.setObjectName("failureBanner")
        self.banner.setFrameShape(QFrame.Shape.StyledPanel)
        self.banner.setStyleSheet("#failureBanner { background: rgba(217, 48, 37, 28); border-radius: 4px; }")
        banner_layout = QHBoxLayout(self.banner)
        banner_layout.setContentsMargins(8, 4, 8, 4)
        warning = QLabel(self.banner)
        warning.setPixmap(icon("warning").pixmap(20, 20))
        self.banner_text = QLabel(self.banner)
        self.banner_text.setWordWrap(True)
        self.banner_text.setTextFormat(Qt.TextFormat.PlainText)
        self.retry_button = QPushButton(icon("retry"), self.tr("Retry failed parts"), self.banner)
        self.retry_button.clicked.connect(self.retry_failed)
        banner_layout.addWidget(warning)
        banner_layout.addWidget(self.banner_text, 1)
        banner_layout.addWidget(self.retry_button)
        layout.addWidget(self.banner)

        self.view = TranscriptListView(self.model, self)
        self.view.setObjectName("transcriptView")
        self.view.setToolTip(self.tr("Click a line to play it; double-click or press F2 to correct its text"))
        self.view.clicked.connect(self._clicked)
        layout.addWidget(self.view, 1)

        find = QShortcut(QKeySequence.StandardKey.Find, self, context=Qt.ShortcutContext.WindowShortcut)
        find.activated.connect(self.focus_find)
        play = QShortcut(QKeySequence("Ctrl+Space"), self, context=Qt.ShortcutContext.WindowShortcut)
        play.activated.connect(self._toggle_play)
        next_match = QShortcut(QKeySequence.StandardKey.FindNext, self, context=Qt.ShortcutContext.WindowShortcut)
        next_match.activated.connect(self.find_next)
        previous = QShortcut(QKeySequence.StandardKey.FindPrevious, self, context=Qt.ShortcutContext.WindowShortcut)
        previous.activated.connect(self.find_previous)

    # --- which job ----------------------------------------------------------------------

    @property
    def job_id(self) -> str:
        return self._job_id

    @property
    def snapshot(self) -> TranscriptSnapshot | None:
        """What is shown now (None while nothing is, or the first read runs)."""
        return self._snapshot

    @property
    def loading(self) -> bool:
        return self._loading or self._reload_timer.isActive()

    def show_job(self, job_id: str) -> None:
        """Show ``job_id``'s transcript ("" shows nothing)."""
        if job_id == self._job_id and job_id:
            return
        self._job_id = job_id
        self._snapshot = None
        self.model.clear()
        self.banner.hide()
        self._matches = []
        self._update_find_count()
        if self.player.job_id and self.player.job_id != job_id:
            self.player.stop()
        if not job_id:
            self.title.setText(self.tr("No job selected"))
            self.summary.setText(self.tr("Select a job to read its transcript."))
            self.play_button.setEnabled(False)
            return
        self.title.setText("")
        self.summary.setText(self.tr("Loading…"))
        self._load()

    def stop(self) -> None:
        """Stop reading and playing (the app is quitting)."""
        self._stopped = True
        self._reload_timer.stop()
        self._reload_wanted = False
        self.player.close()

    def job_changed(self, job_id: str) -> None:
        """The job's transcript may have changed: read it again soon."""
        if job_id == self._job_id and job_id and not self._stopped and not self._reload_timer.isActive():
            self._reload_timer.start()

    # --- reading ------------------------------------------------------------------------

    def _load(self) -> None:
        if not self._job_id:
            return
        if self._loading:
            self._reload_wanted = True
            return
        self._loading = True
        job_id, service, language = self._job_id, self._service, self._ui_language
        self._runner.run(lambda: load_snapshot(service, job_id, language),
                         on_done=self._loaded, on_error=lambda exc: self._load_failed(job_id, exc))

    def _loaded(self, snapshot: TranscriptSnapshot) -> None:
        self._loading = False
        if snapshot.job.id == self._job_id:
            self._snapshot = snapshot
            self.model.set_rows(snapshot.rows)
            self._show_summary(snapshot)
            if self.find_edit.text():
                self._matches = self.model.find(self.find_edit.text())
                self._update_find_count()
        self._reload_if_wanted()

    def _load_failed(self, job_id: str, error: BaseException) -> None:
        self._loading = False
        if job_id == self._job_id:
            self.summary.setText(error_text(error, self._ui_language))
        self._reload_if_wanted()

    def _reload_if_wanted(self) -> None:
        if self._reload_wanted and not self._stopped:
            self._reload_wanted = False
            self._reload_timer.start()

    def _show_summary(self, snapshot: TranscriptSnapshot) -> None:
        job = snapshot.job
        transcript = snapshot.transcript
        self.title.setText(job.name)
        parts = [formatting.state_label(job.state)]
        if job.chunks_total and job.state not in (JobState.COMPLETED.value,):
            parts.append(self.tr("%1 of %2 parts").replace("%1", str(job.chunks_done))
                         .replace("%2", str(job.chunks_total)))
        if transcript.language:
            parts.append(formatting.language_label(transcript.language))
        if snapshot.edited:
            parts.append(self.tr("%n correction(s)", "", len(snapshot.edited)))
        self.summary.setText(" · ".join(parts))
        self.play_button.setEnabled(snapshot.source is not None or snapshot.pcm is not None)
        failed_gaps = [gap for gap in transcript.gaps if not gap.pending]
        job_error = (job.error_vi if self._ui_language == "vi" else job.error_en) or job.error_code
        if failed_gaps:
            text = self.tr("%n part(s) could not be transcribed.", "", len(failed_gaps))
            if job.state != JobState.FAILED.value:
                text += " " + self.tr("They can be retried once the other parts are done.")
        elif job.state == JobState.FAILED.value:
            text = job_error or self.tr("The job failed.")
        else:
            self.banner.hide()
            return
        self.banner_text.setText(text)
        self.retry_button.setText(self.tr("Retry failed parts") if failed_gaps else self.tr("Retry"))
        self.retry_button.setEnabled(job.state == JobState.FAILED.value)
        self.banner.show()

    # --- editing --------------------------------------------------------------------------

    def _save_edit(self, segment_index: int, segment_start: float, text: str) -> None:
        job_id, service = self._job_id, self._service
        self._runner.run(
            lambda: service.edit_segment(job_id, segment_index=segment_index, segment_start=segment_start,
                                         text=text),
            on_done=lambda _edit: self._edit_saved(job_id),
            on_error=lambda exc: self._edit_failed(job_id, exc),
        )

    def _edit_saved(self, job_id: str) -> None:
        self.status_message.emit(self.tr("Correction saved."))
        self.job_changed(job_id)

    def _edit_failed(self, job_id: str, error: BaseException) -> None:
        self.error.emit(self.tr("Could not save the correction"), error_text(error, self._ui_language))
        self.job_changed(job_id)

    # --- retry ------------------------------------------------------------------------------

    def retry_failed(self) -> None:
        job_id, service = self._job_id, self._service
        if not job_id:
            return
        self.retry_button.setEnabled(False)
        self._runner.run(lambda: service.retry_failed(job_id),
                         on_done=lambda count: self.status_message.emit(
                             self.tr("Retrying %n part(s).", "", count)),
                         on_error=lambda exc: self.error.emit(self.tr("Could not retry"),
                                                              error_text(exc, self._ui_language)))

    # --- playing ----------------------------------------------------------------------------

    def play_row(self, row: int) -> None:
        """Play the audio from the start of ``row``."""
        snapshot = self._snapshot
        if snapshot is None or not 0 <= row < self.model.rowCount():
            return
        start = float(self.view.index_at_row(row).data(START_ROLE))
        self.player.play_from(snapshot.job.id, start, source=snapshot.source, pcm=snapshot.pcm)
        self.model.set_playing_row(row if self.view.index_at_row(row).data(KIND_ROLE) != FAILED_GAP else -1)

    def _clicked(self, index: QModelIndex) -> None:
        if self.view.state() != QAbstractItemView.State.EditingState:
            self.play_row(index.row())

    def _toggle_play(self) -> None:
        if self.player.job_id == self._job_id and self._job_id:
            self.player.toggle()
            return
        row = self.view.currentIndex().row()
        self.play_row(max(row, 0))

    def _playing_at(self, seconds: float) -> None:
        if self.player.job_id != self._job_id:
            return
        row = self.model.row_at_time(seconds)
        if row >= 0 and row != self.model.playing_row:
            self.model.set_playing_row(row)
            if self.view.state() != QAbstractItemView.State.EditingState:
                self.view.scrollTo(self.view.index_at_row(row))

    def _playing_changed(self, playing: bool) -> None:
        self.play_button.setIcon(icon("stop" if playing else "play"))

    # --- find ---------------------------------------------------------------------------------

    def focus_find(self) -> None:
        self.find_edit.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.find_edit.selectAll()

    def find_next(self) -> None:
        self._go_to_match(+1)

    def find_previous(self) -> None:
        self._go_to_match(-1)

    def _find_changed(self, text: str) -> None:
        self._matches = self.model.find(text)
        self._update_find_count()
        if self._matches:
            self._select_row(self._matches[0])

    def _go_to_match(self, step: int) -> None:
        if not self._matches:
            return
        current = self.view.currentIndex().row()
        if step > 0:
            following = [row for row in self._matches if row > current]
            row = following[0] if following else self._matches[0]
        else:
            before = [row for row in self._matches if row < current]
            row = before[-1] if before else self._matches[-1]
        self._select_row(row)

    def _select_row(self, row: int) -> None:
        index = self.view.index_at_row(row)
        self.view.selectionModel().setCurrentIndex(
            index, QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows)
        self.view.scrollTo(index)
        self._update_find_count()

    def _update_find_count(self) -> None:
        if not self.find_edit.text().strip():
            self.find_count.setText("")
            return
        if not self._matches:
            self.find_count.setText(self.tr("No matches"))
            return
        current = self.view.currentIndex().row()
        position = self._matches.index(current) + 1 if current in self._matches else 0
        self.find_count.setText(self.tr("%1 of %2").replace("%1", str(position))
                                .replace("%2", str(len(self._matches))))
