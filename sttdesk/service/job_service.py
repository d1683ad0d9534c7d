"""JobService: the one API the GUI, the CLI and the REST API use.

Adding a file validates it at once (a bad file never becomes a half-made
job), records the job PENDING in the store and returns its id; decoding,
chunking and transcription happen in the background. A front end that must
answer faster than ffprobe runs (the REST API) can leave the probe to the
background: the file then becomes a job at once, and a FAILED one if the
probe refuses it. Everything a front end
shows comes from the store, and everything it hears comes as events.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..audio.probe import AudioLimits, check_file, validate_input
from ..domain.edits import EditedTranscript, apply_segment_edits
from ..domain.errors import PermanentError, SttdeskError
from ..domain.hallucination import HallucinationGuard
from ..domain.jobs import ChunkState, JobState, can_change_job
from ..domain.languages import validate_language
from ..domain.merge import TranscriptAssembler
from ..domain.records import ErrorInfo, JobRecord, SegmentEdit
from ..domain.transcript import Transcript
from .events import EventBus, EventKind, ServiceEvent
from .preparer import JobPreparer
from .views import JobView

log = logging.getLogger(__name__)


class JobNotFoundError(PermanentError):
    """No job has this id."""

    code = "job_not_found"
    message_en = "There is no job with id {job_id}."
    message_vi = "Không có công việc nào có mã {job_id}."


class JobStateError(PermanentError):
    """The action does not fit the job's current state."""

    code = "job_state"
    message_en = "Cannot {action} a job that is {state}."
    message_vi = "Không thể {action_vi} công việc đang ở trạng thái {state}."


@dataclass(frozen=True, slots=True)
class JobRequest:
    """What a front end asks for when adding a file."""

    path: Path
    language: str = "auto"
    model: str | None = None
    #: Decoding options for the engine (DecodeOptions as a dict); empty for defaults.
    options: dict[str, Any] | None = None
    #: Extra data kept with the job (export folder and formats, webhook URL...).
    extras: dict[str, Any] | None = None


class JobService:
    """Add, watch, control and read transcription jobs."""

    def __init__(
        self,
        store: Any,
        *,
        preparer_factory: Callable[..., JobPreparer],
        model_exists: Callable[[str], None],
        default_model: str | Callable[[], str],
        default_options: dict[str, Any],
        validate_options: Callable[[dict[str, Any]], None] | None = None,
        limits: AudioLimits,
        events: EventBus,
        guard: HallucinationGuard | None = None,
        coordinator: Any = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._model_exists = model_exists
        self._default_model = default_model
        self._default_options = dict(default_options)
        self._validate_options = validate_options or (lambda options: None)
        self._limits = limits
        self.events = events
        self._guard = guard or HallucinationGuard()
        self._coordinator = coordinator
        self._clock = clock
        self._preparer = preparer_factory(on_planned=self._planned, on_failed=self._prepare_failed)

    # --- lifecycle -------------------------------------------------------------

    def attach_coordinator(self, coordinator: Any) -> None:
        self._coordinator = coordinator

    def resume(self) -> None:
        """After a start: leases of a previous run go back to the queue; unplanned jobs are prepared."""
        self._store.recover_after_restart(now=self._clock())
        for job in self._store.list_jobs(states=[JobState.PENDING], limit=100000):
            if not job.is_planned:
                self._preparer.submit(job.id)
        self._wake()

    def close(self) -> None:
        self._preparer.close()

    # --- adding ----------------------------------------------------------------

    def add(self, request: JobRequest, *, probe_now: bool = True) -> str:
        """Validate a file and queue it; returns the new job's id at once.

        Raises a permanent SttdeskError (unsupported language, unknown model,
        unreadable or invalid audio...) before anything is recorded. With
        ``probe_now`` false only what takes no time is checked here (language,
        model, options, the file's existence and size); ffprobe's checks run
        in the background before decoding, and a file they refuse makes the
        job FAILED with that error.
        """
        language = validate_language(request.language)
        model = request.model or self.default_model()
        self._model_exists(model)
        options = dict(self._default_options)
        options.update(request.options or {})
        options["language"] = language
        # Bad options would fail every chunk on the agents: refuse them here, before any work.
        self._validate_options(options)
        path = Path(request.path).expanduser().resolve()
        if probe_now:
            info = validate_input(path, language, limits=self._limits)
            size_bytes, duration = info.size_bytes, info.duration
        else:
            # the duration stays unknown: the preparer probes a job without one first
            size_bytes, duration = check_file(path, limits=self._limits), None
        job = self._store.add_job(
            source_path=path,
            display_name=path.name,
            size_bytes=size_bytes,
            duration_seconds=duration,
            language=language,
            model_name=model,
            decode_options=options,
            extras=dict(request.extras or {}),
            now=self._clock(),
        )
        self._emit(EventKind.JOB_ADDED, job.id, {"name": path.name})
        self._preparer.submit(job.id)
        return job.id

    def add_many(self, requests: Iterable[JobRequest]) -> tuple[list[str], list[tuple[Path, SttdeskError]]]:
        """Add several files; returns the ids added and the files refused with their errors."""
        added: list[str] = []
        refused: list[tuple[Path, SttdeskError]] = []
        for request in requests:
            try:
                added.append(self.add(request))
            except SttdeskError as exc:
                refused.append((Path(request.path), exc))
        return added, refused

    def find_unfinished(self, path: Path, *, language: str, model: str | None = None) -> str | None:
        """The newest job for this same file (path, size, language, model) that has not completed."""
        path = Path(path).expanduser().resolve()
        try:
            size = path.stat().st_size
        except OSError:
            return None
        model = model or self.default_model()
        candidates = self._store.list_jobs(
            states=[JobState.PENDING, JobState.PROCESSING, JobState.PAUSED, JobState.FAILED], limit=100000
        )
        for job in candidates:
            if (job.source_path == str(path) and job.size_bytes == size
                    and job.language_requested == language and job.model_name == model):
                return job.id
        return None

    def continue_job(self, job_id: str) -> None:
        """Get an unfinished job going again, whatever stopped it (pause, failure, exit)."""
        job = self._require(job_id)
        state = job.state
        if state is JobState.PAUSED:
            self.resume_job(job_id)
        elif state is JobState.FAILED:
            self.retry_failed(job_id)
        else:
            if not job.is_planned:
                self._preparer.submit(job_id)
            self._wake()

    # --- reading ---------------------------------------------------------------

    def default_model(self) -> str:
        """The model a job gets when it names none (read each time: the user may change it)."""
        return self._default_model() if callable(self._default_model) else self._default_model

    def get(self, job_id: str) -> JobView:
        return self._view(self._require(job_id))

    def list(self, *, states: Iterable[str] | None = None, limit: int = 100, offset: int = 0) -> list[JobView]:
        wanted = [JobState(s) for s in states] if states else None
        return [self._view(job) for job in self._store.list_jobs(states=wanted, limit=limit, offset=offset)]

    def count(self, *, states: Iterable[str] | None = None) -> int:
        wanted = [JobState(s) for s in states] if states else None
        return self._store.count_jobs(states=wanted)

    def transcript(self, job_id: str, *, partial: bool = True, edits: bool = True) -> Transcript:
        """The merged transcript of the finished chunks (all of them once COMPLETED).

        The user's corrections are applied unless ``edits`` is false (the text
        as transcribed). Every front end exports what this returns.
        """
        if edits:
            return self.edited_transcript(job_id, partial=partial).transcript
        return self._merged_transcript(self._require(job_id), partial=partial)

    def edited_transcript(self, job_id: str, *, partial: bool = True) -> EditedTranscript:
        """The transcript with the user's corrections, and which segments they changed."""
        job = self._require(job_id)
        return apply_segment_edits(self._merged_transcript(job, partial=partial), self._store.segment_edits(job_id))

    def edit_segment(self, job_id: str, *, segment_index: int, segment_start: float, text: str) -> SegmentEdit:
        """Keep the user's correction of one segment (replacing an earlier one of the same segment).

        ``segment_index`` and ``segment_start`` are the segment's position and
        start in the transcript the user saw: while chunks still arrive the
        position can move, and the start is what finds the segment again.
        """
        self._require(job_id)
        edit = self._store.save_segment_edit(job_id, segment_index=segment_index, segment_start=segment_start,
                                             text=text, now=self._clock())
        self._emit(EventKind.JOB_CHANGED, job_id, {"edited_segment": segment_index})
        return edit

    def _merged_transcript(self, job: JobRecord, *, partial: bool) -> Transcript:
        job_id = job.id
        chunks = self._store.chunks_of(job_id)
        language = job.language_detected or job.language_requested
        if not chunks:
            # Not cut yet, or nothing but silence (then the empty transcript is the whole of it).
            return Transcript(segments=(), language=language, duration=job.duration_seconds or 0.0,
                              source_name=job.display_name, model=job.model_name, complete=job.is_planned)
        # Halves of split chunks share their parent's index: number them by transcript order.
        spans = [replace(chunk.span, index=position) for position, chunk in enumerate(chunks)]
        assembler = TranscriptAssembler(
            spans, duration=job.duration_seconds, source_name=job.display_name, model=job.model_name,
            language=language, guard=self._guard,
            speech=self._preparer.speech(job_id),
        )
        for span, chunk in zip(spans, chunks):
            result = chunk.result() if chunk.state is ChunkState.DONE else None
            if result is not None:
                assembler.add(span, result)
            elif chunk.state is ChunkState.FAILED:
                error = chunk.error or ErrorInfo("error", "", "")
                assembler.mark_failed(span, StoredError(error))
        return assembler.transcript(partial=partial)

    def audio_path(self, job_id: str) -> Path:
        """The job's decoded 16 kHz mono PCM (s16le), for playback."""
        return self._preparer.pcm_path(job_id)

    # --- control ---------------------------------------------------------------

    def cancel(self, job_id: str) -> None:
        self._change(job_id, JobState.CANCELLED, action=("cancel", "huỷ"))
        if self._coordinator is not None:
            self._coordinator.cancel_job(job_id)

    def pause(self, job_id: str) -> None:
        self._change(job_id, JobState.PAUSED, action=("pause", "tạm dừng"))

    def resume_job(self, job_id: str) -> None:
        job = self._require(job_id)
        if job.state is not JobState.PAUSED:
            raise JobStateError(action="resume", action_vi="tiếp tục", state=job.state.value)
        self._change(job_id, JobState.PENDING, action=("resume", "tiếp tục"))
        if not job.is_planned:
            self._preparer.submit(job_id)
        elif self._require(job_id).state is JobState.COMPLETED:
            # every chunk came back while it was paused: resuming completed it
            self._emit(EventKind.JOB_FINISHED, job_id, {"state": JobState.COMPLETED.value})
            return
        self._wake()

    def retry_failed(self, job_id: str) -> int:
        """Put a failed job's dead-lettered chunks back in the queue; returns how many."""
        job = self._require(job_id)
        if job.state is not JobState.FAILED:
            raise JobStateError(action="retry", action_vi="thử lại", state=job.state.value)
        count = self._store.retry_failed(job_id, now=self._clock())
        if not job.is_planned:  # failed before it was chunked: prepare again
            self._preparer.submit(job_id)
        self._emit(EventKind.JOB_CHANGED, job_id, {"state": JobState.PENDING.value})
        self._wake()
        return count

    def delete(self, job_id: str) -> None:
        """Cancel a job if it runs, then remove it and its files."""
        job = self._require(job_id)
        if not job.state.is_terminal and job.state is not JobState.FAILED:
            # Stop handing out its chunks. The coordinator is not asked to cancel the running
            # ones: it would look the job up after it is gone. Their late replies are dropped.
            self._store.change_job_state(job_id, job.state, JobState.CANCELLED, now=self._clock())
        self._store.delete_job(job_id)
        self._preparer.remove_files(job_id)
        self._emit(EventKind.JOB_REMOVED, job_id, {})

    # --- callbacks from the preparer and the coordinator ---------------------------

    def _planned(self, job_id: str) -> None:
        job = self._store.find_job(job_id)
        if job is None:
            return
        if not job.chunk_total:
            # nothing but silence: an empty transcript, done at once
            if job.state is JobState.PENDING:
                self._store.change_job_state(job_id, JobState.PENDING, JobState.COMPLETED, now=self._clock())
            self._emit(EventKind.JOB_FINISHED, job_id, {"state": JobState.COMPLETED.value})
            return
        self._emit(EventKind.JOB_CHANGED, job_id, {"planned": True, "chunks": job.chunk_total})
        self._wake()

    def _prepare_failed(self, job_id: str, error: SttdeskError) -> None:
        job = self._store.find_job(job_id)
        if job is None or not can_change_job(job.state, JobState.FAILED):
            return
        self._store.change_job_state(job_id, job.state, JobState.FAILED, now=self._clock(),
                                     error=ErrorInfo.from_error(error))
        self._emit(EventKind.JOB_FINISHED, job_id, {"state": JobState.FAILED.value, "error": error.to_dict()})

    def on_coordinator_event(self, kind: str, data: dict[str, Any]) -> None:
        """Translate the coordinator's events into service events (called on its thread)."""
        job_id = data.get("job_id")
        if kind == "chunk_result":
            outcome = data.get("outcome")
            if outcome is not None and outcome.accepted:
                self._emit(EventKind.CHUNK_DONE, job_id, {"chunk_id": data.get("chunk_id")})
                if outcome.job_completed:
                    self._emit(EventKind.JOB_FINISHED, job_id, {"state": JobState.COMPLETED.value})
        elif kind == "chunk_failed":
            self._emit(EventKind.CHUNK_FAILED, job_id, dict(data))
            job = self._store.find_job(job_id) if job_id else None
            if job is not None and job.state is JobState.FAILED:
                error = job.error.to_dict() if job.error else None
                self._emit(EventKind.JOB_FINISHED, job_id, {"state": JobState.FAILED.value, "error": error})
        elif kind == "chunk_leased":
            self._emit(EventKind.JOB_CHANGED, job_id, {"state": JobState.PROCESSING.value})
        elif kind == "agent_ready":
            self._emit(EventKind.AGENT_SEEN, None, dict(data))
        elif kind == "agent_lost":
            self._emit(EventKind.AGENT_LOST, None, dict(data))
        elif kind == "agent_revoked":  # its key is no longer trusted: its link is closed
            self._emit(EventKind.AGENT_LOST, None, {**data, "revoked": True})

    # --- helpers ---------------------------------------------------------------

    def _require(self, job_id: str) -> JobRecord:
        job = self._store.find_job(job_id)
        if job is None:
            raise JobNotFoundError(job_id=job_id)
        return job

    def _change(self, job_id: str, new: JobState, *, action: tuple[str, str]) -> None:
        job = self._require(job_id)
        old = job.state
        if old is new:
            return
        if not can_change_job(old, new) or not self._store.change_job_state(job_id, old, new, now=self._clock()):
            raise JobStateError(action=action[0], action_vi=action[1], state=job.state.value)
        self._emit(EventKind.JOB_CHANGED, job_id, {"state": new.value})

    def _wake(self) -> None:
        if self._coordinator is not None:
            self._coordinator.wake()

    def _emit(self, kind: EventKind, job_id: str | None, data: dict[str, Any]) -> None:
        self.events.publish(ServiceEvent(kind=kind, job_id=job_id, data=data))

    def _view(self, job: JobRecord) -> JobView:
        progress = self._store.job_progress(job.id)
        now = self._clock()
        elapsed = None
        if job.started_at:
            elapsed = (job.finished_at or now) - job.started_at
        eta = None
        active = job.state in (JobState.PENDING, JobState.PROCESSING)
        if active and elapsed and progress.audio_seconds_done > 0:
            rate = elapsed / progress.audio_seconds_done
            eta = max(0.0, rate * max(0.0, progress.audio_seconds_total - progress.audio_seconds_done))
        agents = tuple(sorted({c.lease_agent_id for c in self._store.chunks_of(job.id, with_results=False)
                               if c.state is ChunkState.LEASED and c.lease_agent_id}))
        error = job.error
        return JobView(
            id=job.id, name=job.display_name, path=job.source_path, state=job.state.value,
            language=job.language_requested, detected_language=job.language_detected, model=job.model_name,
            duration=job.duration_seconds, created_at=job.created_at, started_at=job.started_at,
            finished_at=job.finished_at, chunks_total=job.chunk_total,
            chunks_done=progress.done, chunks_failed=progress.failed, chunks_running=progress.leased,
            retries=job.retry_count, error_code=error.code if error else None,
            error_en=error.message_en if error else None, error_vi=error.message_vi if error else None,
            eta_seconds=eta, elapsed_seconds=elapsed, agents=agents,
        )


class StoredError(SttdeskError):
    """A chunk's failure as the store kept it, with its original code and messages."""

    def __init__(self, info: ErrorInfo) -> None:
        self.code = info.code  # type: ignore[misc]
        self.message_en = info.message_en  # type: ignore[misc]
        self.message_vi = info.message_vi  # type: ignore[misc]
        super().__init__(info.message_en)
