"""Slots: the worker threads of an agent, each owning one engine.

A slot runs one chunk at a time. It turns the WORK's PCM into float samples,
finds the model, (re)starts its engine when the model changes or after the
engine failed, transcribes, and encodes the RESULT or FAILURE itself. The
finished frames go to the socket-owning thread through an inproc PUSH socket
that the slot's own thread owns (one socket, one owner thread); the runtime
only routes them to the right coordinator.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import replace

import numpy as np
import zmq

from ..domain.errors import SttdeskError
from ..protocol import (
    AUDIO_FORMAT_PCM_S16LE,
    SAMPLE_RATE,
    ErrorInfo,
    Failure,
    ProtocolError,
    Result,
    Work,
    encode,
)
from .engines import Engine, EngineFactory
from .errors import (
    AgentInternalError,
    LeaseExpiredError,
    ModelUnavailableError,
    ResultUnsendableError,
    UnsupportedAudioError,
)
from .models import LocalModel, ModelCatalog
from .peers import Task

log = logging.getLogger(__name__)

#: The engine always gets at least this long, even when little of the lease is left, so a
#: chunk near its deadline is not failed by a timeout too short to load the model.
MIN_ENGINE_TIMEOUT_SECONDS = 5.0
#: Longest error text (detail, each message) sent in a FAILURE.
MAX_ERROR_TEXT = 2000


def pcm_to_float(pcm: bytes) -> np.ndarray:
    """16-bit little-endian PCM as float32 samples in [-1, 1)."""
    return np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0


class Slot:
    """One worker thread and its engine; the runtime hands it one task at a time."""

    def __init__(
        self,
        index: int,
        *,
        context: zmq.Context,
        outbox: str,
        catalog: ModelCatalog,
        engine_factory: EngineFactory,
        threads: int,
        agent_label: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.index = index
        #: The task running here; set and cleared by the runtime's thread only.
        self.task: Task | None = None
        self._context = context
        self._outbox = outbox
        self._catalog = catalog
        self._engine_factory = engine_factory
        self._threads = threads
        self._agent_label = agent_label
        self._clock = clock
        self._inbox: queue.SimpleQueue[Task | None] = queue.SimpleQueue()
        self._engine: Engine | None = None
        self._engine_model: LocalModel | None = None
        self._engine_lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name=f"slot-{index}", daemon=True)

    # --- called from the runtime's thread ------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def submit(self, task: Task) -> None:
        self.task = task
        self._inbox.put(task)

    def stop(self) -> None:
        """Ask the thread to end after its current chunk (it closes its engine)."""
        self._inbox.put(None)

    def abandon(self) -> None:
        """Stop the engine now, interrupting a running chunk (shutdown after the grace period)."""
        self._inbox.put(None)
        with self._engine_lock:
            engine = self._engine
        if engine is not None:
            engine.close()

    def join(self, timeout: float) -> bool:
        """Wait for the thread to end; False if it is still running after ``timeout`` seconds."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    # --- the slot's own thread --------------------------------------------------------

    def _run(self) -> None:
        outbox = self._context.socket(zmq.PUSH)
        outbox.setsockopt(zmq.LINGER, 0)
        outbox.connect(self._outbox)
        index = str(self.index).encode()
        try:
            while True:
                task = self._inbox.get()
                if task is None:
                    break
                try:
                    frames = self._work(task)
                except Exception:
                    # _work answers every error itself; this keeps the slot alive (and the
                    # coordinator answered) should that ever fail.
                    log.exception("slot %d failed on lease %s", self.index, task.work.lease_id)
                    frames = self._failure(task.work, AgentInternalError("the agent failed on this piece"))
                try:
                    # Blocking is right: the runtime drains this pipe every loop turn, and
                    # it holds at most one message per slot.
                    outbox.send_multipart([index, *frames])
                except zmq.ZMQError as exc:
                    log.warning("slot %d could not hand back lease %s: %s", self.index, task.work.lease_id, exc)
        finally:
            self._close_engine()
            outbox.close(0)

    def _work(self, task: Task) -> list[bytes]:
        work = task.work
        started = self._clock()
        remaining = work.deadline_seconds - (started - task.received)
        try:
            if remaining <= 0:
                raise LeaseExpiredError(agent=self._agent_label)
            if work.audio_format != AUDIO_FORMAT_PCM_S16LE or work.sample_rate != SAMPLE_RATE:
                raise UnsupportedAudioError(audio_format=work.audio_format, sample_rate=work.sample_rate)
            model = self._catalog.find(work.model)
            if model is None:
                raise ModelUnavailableError(
                    agent=self._agent_label, name=work.model.name, sha256=work.model.sha256
                )
            engine = self._engine_for(model)
            audio = pcm_to_float(work.payload)
            engine_start = self._clock()
            result = engine.transcribe(audio, work.options, timeout=max(remaining, MIN_ENGINE_TIMEOUT_SECONDS))
            engine_seconds = self._clock() - engine_start
        except SttdeskError as exc:
            if exc.transient:
                # A crashed, stuck or out-of-memory engine is not trusted again: the next
                # chunk starts a fresh child process.
                self._close_engine()
            log.warning(
                "lease %s (job %s chunk %s attempt %d) failed: %s [%s]",
                work.lease_id, work.job_id, work.chunk_id, work.attempt, exc.user_message("en"), exc.code,
            )
            return self._failure(work, exc)
        except Exception as exc:
            log.exception("unexpected error on lease %s", work.lease_id)
            self._close_engine()
            return self._failure(work, AgentInternalError(f"{type(exc).__name__}: {exc}"))
        reply = Result(
            lease_id=work.lease_id,
            job_id=work.job_id,
            chunk_id=work.chunk_id,
            attempt=work.attempt,
            result=result,
            agent_seconds=max(0.0, self._clock() - task.received),
            engine_seconds=max(0.0, engine_seconds),
        )
        try:
            frames = encode(reply)
        except ProtocolError as exc:
            log.warning("the result of lease %s cannot be sent: %s", work.lease_id, exc.detail)
            return self._failure(work, ResultUnsendableError(exc.detail))
        log.info(
            "lease %s (job %s chunk %s) done: %.1f s of audio in %.2f s",
            work.lease_id, work.job_id, work.chunk_id, len(work.payload) / (2 * SAMPLE_RATE), engine_seconds,
        )
        return frames

    def _failure(self, work: Work, error: SttdeskError) -> list[bytes]:
        info = ErrorInfo.from_error(error)
        # An exception's text can be anything; keep the header well inside its size limit.
        info = replace(
            info,
            detail=info.detail[:MAX_ERROR_TEXT],
            message_en=info.message_en[:MAX_ERROR_TEXT],
            message_vi=info.message_vi[:MAX_ERROR_TEXT],
        )
        return encode(
            Failure(
                lease_id=work.lease_id,
                job_id=work.job_id,
                chunk_id=work.chunk_id,
                attempt=work.attempt,
                error=info,
            )
        )

    def _engine_for(self, model: LocalModel) -> Engine:
        if self._engine is not None and self._engine_model == model:
            return self._engine
        self._close_engine()
        log.info("slot %d: starting the engine for model %s (%d thread(s))", self.index, model.name, self._threads)
        engine = self._engine_factory(model, self._threads)
        with self._engine_lock:
            self._engine, self._engine_model = engine, model
        return engine

    def _close_engine(self) -> None:
        with self._engine_lock:
            engine, self._engine, self._engine_model = self._engine, None, None
        if engine is not None:
            try:
                engine.close()
            except Exception:
                log.exception("slot %d: closing the engine failed", self.index)
