"""Turns an accepted job into chunks: probe if not done yet, decode once to 16 kHz PCM, plan the cuts.

Runs on its own worker thread so adding a file returns at once. The decoded
audio stays in the job's folder for the job's life: agents get their chunks
from it, and the GUI plays from it.
"""

from __future__ import annotations

import json
import logging
import shutil
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from ..audio.chunker import ChunkerOptions, plan
from ..audio.decode import PcmFile, decode_to_pcm
from ..audio.probe import AudioLimits, validate_input
from ..domain.errors import PermanentError, SttdeskError
from ..domain.jobs import JobState

log = logging.getLogger(__name__)

PCM_FILE_NAME = "audio.pcm"
SPEECH_FILE_NAME = "speech.json"


class TooManyChunksError(PermanentError):
    """The recording would need more chunks than the safety cap allows."""

    code = "too_many_chunks"
    message_en = "This recording would need {count} pieces, more than the limit of {limit}."
    message_vi = "Bản ghi này cần {count} đoạn, vượt giới hạn {limit} đoạn."


class JobPreparer:
    """Decodes and chunks jobs in the background, one at a time."""

    def __init__(
        self,
        store: Any,
        *,
        jobs_dir: Path,
        chunker_options: ChunkerOptions,
        max_chunks: int,
        deadline_seconds: float,
        on_planned: Callable[[str], None],
        on_failed: Callable[[str, SttdeskError], None],
        clock: Callable[[], float],
        limits: AudioLimits | None = None,
    ) -> None:
        self._store = store
        self._limits = limits or AudioLimits()
        self._jobs_dir = jobs_dir
        self._options = chunker_options
        self._max_chunks = max_chunks
        self._deadline_seconds = deadline_seconds
        self._on_planned = on_planned
        self._on_failed = on_failed
        self._clock = clock
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="prepare")
        self._pending: set[str] = set()
        self._lock = threading.Lock()

    def job_dir(self, job_id: str) -> Path:
        return self._jobs_dir / job_id

    def pcm_path(self, job_id: str) -> Path:
        return self.job_dir(job_id) / PCM_FILE_NAME

    def submit(self, job_id: str) -> None:
        """Prepare a job in the background (no-op if it is already queued)."""
        with self._lock:
            if job_id in self._pending:
                return
            self._pending.add(job_id)
        self._pool.submit(self._prepare_safely, job_id)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def speech(self, job_id: str) -> list[tuple[float, float]] | None:
        """The job's speech intervals (seconds), if planning recorded them."""
        path = self.job_dir(job_id) / SPEECH_FILE_NAME
        try:
            return [tuple(pair) for pair in json.loads(path.read_text())]  # type: ignore[misc]
        except (OSError, ValueError):
            return None

    def remove_files(self, job_id: str) -> None:
        shutil.rmtree(self.job_dir(job_id), ignore_errors=True)

    def _prepare_safely(self, job_id: str) -> None:
        try:
            self._prepare(job_id)
        except SttdeskError as exc:
            log.warning("job %s cannot be prepared: %s", job_id, exc)
            self._on_failed(job_id, exc)
        except Exception as exc:  # keep the worker alive; report the job as failed
            log.exception("unexpected error preparing job %s", job_id)
            self._on_failed(job_id, PermanentError(str(exc)))
        finally:
            with self._lock:
                self._pending.discard(job_id)
            # Deleted while it was being decoded: the folder was removed before the decode wrote it.
            if self._store.find_job(job_id) is None:
                self.remove_files(job_id)

    def _prepare(self, job_id: str) -> None:
        job = self._store.find_job(job_id)
        if job is None or job.state is not JobState.PENDING or job.is_planned:
            return
        if job.duration_seconds is None:
            # added without a probe (the REST API answers before ffprobe would finish): probe now,
            # so a file that is not a usable recording fails with the same error as in the app
            info = validate_input(Path(job.source_path), job.language_requested, limits=self._limits)
            self._store.update_job_fields(job_id, duration_seconds=info.duration, size_bytes=info.size_bytes)
        folder = self.job_dir(job_id)
        folder.mkdir(parents=True, exist_ok=True)
        pcm_path = folder / PCM_FILE_NAME
        if not pcm_path.exists():
            decode_to_pcm(Path(job.source_path), pcm_path)
        with PcmFile(pcm_path) as pcm:
            chunk_plan = plan(pcm, options=self._options)
            duration = pcm.duration
        spans = list(chunk_plan.chunks)
        if len(spans) > self._max_chunks:
            raise TooManyChunksError(count=len(spans), limit=self._max_chunks)
        speech = [[round(a, 3), round(b, 3)] for a, b in chunk_plan.analysis.speech]
        (folder / SPEECH_FILE_NAME).write_text(json.dumps(speech))
        self._store.update_job_fields(job_id, duration_seconds=duration)
        self._store.plan_chunks(job_id, spans, deadline_seconds=self._deadline_seconds)
        log.info("job %s: %.1f s of audio in %d %s chunk(s)", job_id, duration, len(spans),
                 chunk_plan.mode.value)
        self._on_planned(job_id)
