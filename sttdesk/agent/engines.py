"""The engines an agent transcribes chunks with: whisper.cpp in a child process, or a fake.

Each slot of an agent owns one engine, made by an :data:`EngineFactory` from the
model a chunk asks for. The real factory runs whisper.cpp in its own child
process (:mod:`sttdesk.engine.process`), so a crash or an out-of-memory there
kills only the child. The fake engine is a test and benchmark aid
(``sttdesk-agent --engine fake``): it answers at once or after a set delay, with
text derived from the audio, and fails on demand, so the control plane can be
tested and measured with real processes and sockets but without whisper's cost.
"""

from __future__ import annotations

import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from ..domain.errors import SttdeskError
from ..domain.transcript import RecognitionResult, Segment, Word
from ..engine.errors import (
    CorruptModelError,
    EngineCrashedError,
    EngineOutOfMemoryError,
    EngineTimeoutError,
)
from ..protocol import SAMPLE_RATE
from .errors import ModelUnavailableError
from .models import LocalModel


class Engine(Protocol):
    """What a slot needs from an engine."""

    def transcribe(self, audio: np.ndarray, options: dict[str, Any], *, timeout: float) -> RecognitionResult:
        """Transcribe 16 kHz mono float32 ``audio`` with wire ``options`` within ``timeout`` seconds.

        Raises SttdeskError subclasses: transient ones (crash, timeout, out of memory) leave
        the engine unusable and the slot replaces it; permanent ones are about the request.
        """
        ...

    def close(self) -> None:
        """Stop the engine (and its child process); may be called from another thread."""
        ...


#: Makes the engine for a model, with this many CPU threads.
EngineFactory = Callable[[LocalModel, int], Engine]


# --- whisper.cpp ------------------------------------------------------------------


class WhisperEngine:
    """whisper.cpp in its own child process, with the wire's options turned into DecodeOptions."""

    def __init__(self, model: LocalModel, *, threads: int) -> None:
        # Imported here so the fake engine, and an agent's --help, never load whisper.cpp.
        from ..engine.options import DecodeOptions
        from ..engine.process import EngineProcess

        if model.path is None:
            raise ModelUnavailableError(agent="this agent", name=model.name, sha256=model.sha256)
        self._options_type = DecodeOptions
        self._process = EngineProcess(model.path, threads=threads)

    def transcribe(self, audio: np.ndarray, options: dict[str, Any], *, timeout: float) -> RecognitionResult:
        decode_options = self._options_type.from_dict(options)
        return self._process.transcribe(audio, decode_options, timeout=timeout)

    def close(self) -> None:
        self._process.close()


def whisper_engine(model: LocalModel, threads: int) -> Engine:
    """The real :data:`EngineFactory`."""
    return WhisperEngine(model, threads=threads)


# --- the fake engine ----------------------------------------------------------------

#: Error codes the fake engine can be told to fail with, and the errors it raises for them.
FAKE_FAILURES: dict[str, Callable[[], SttdeskError]] = {
    "engine_crashed": lambda: EngineCrashedError("the fake engine was told to crash"),
    "engine_timeout": lambda: EngineTimeoutError("the fake engine was told to time out", seconds=0),
    "engine_oom": lambda: EngineOutOfMemoryError("the fake engine was told to run out of memory"),
    "corrupt_model": lambda: CorruptModelError("the fake engine was told the model is damaged", path="fake"),
}


@dataclass(frozen=True, slots=True)
class FakeEngineSettings:
    """How the fake engine behaves; the defaults answer at once and never fail."""

    #: Seconds every chunk takes, on top of ``speed``.
    delay_seconds: float = 0.0
    #: Simulated speed in multiples of real time (10 = 1 s per 10 s of audio); 0 adds nothing.
    speed: float = 0.0
    #: Fail chunks with this error code (a key of FAKE_FAILURES); None never fails.
    fail_code: str | None = None
    #: Fail only the first this many chunks the agent runs (all slots together); 0 fails every one.
    fail_count: int = 0

    def __post_init__(self) -> None:
        if self.delay_seconds < 0 or self.speed < 0 or self.fail_count < 0:
            raise ValueError("fake engine delays, speed and counts cannot be negative")
        if self.fail_code is not None and self.fail_code not in FAKE_FAILURES:
            raise ValueError(f"unknown fake failure {self.fail_code!r}; choose from {', '.join(FAKE_FAILURES)}")


class _FailureBudget:
    """How many chunks are still to fail, shared by every slot of one agent."""

    def __init__(self, settings: FakeEngineSettings) -> None:
        self._code = settings.fail_code
        self._left = settings.fail_count
        self._every = settings.fail_count == 0
        self._lock = threading.Lock()

    def take(self) -> str | None:
        if self._code is None:
            return None
        with self._lock:
            if self._every:
                return self._code
            if self._left > 0:
                self._left -= 1
                return self._code
            return None


class FakeEngine:
    """A deterministic stand-in for whisper: text from the audio's length and checksum.

    A chunk's options may carry ``"fake": {"delay": seconds, "fail": code}`` to change the
    behaviour for that chunk alone (only the fake engine reads it; the real one rejects it).
    """

    def __init__(self, settings: FakeEngineSettings, failures: _FailureBudget) -> None:
        self._settings = settings
        self._failures = failures
        self._closed = threading.Event()

    def transcribe(self, audio: np.ndarray, options: dict[str, Any], *, timeout: float) -> RecognitionResult:
        seconds = len(audio) / SAMPLE_RATE
        override = options.get("fake") if isinstance(options.get("fake"), dict) else {}
        delay = float(override.get("delay", self._settings.delay_seconds))
        if self._settings.speed:
            delay += seconds / self._settings.speed
        fail = override.get("fail") or self._failures.take()
        if delay > timeout:
            self._closed.wait(timeout)
            raise EngineTimeoutError("the fake engine ran past its deadline", seconds=timeout)
        # Waiting on the event rather than sleeping lets close() interrupt a chunk.
        if self._closed.wait(delay):
            raise EngineCrashedError("the engine was closed while working")
        if fail:
            factory = FAKE_FAILURES.get(str(fail))
            raise factory() if factory else EngineCrashedError(f"unknown fake failure {fail!r}")
        language = str(options.get("language") or "en")
        return fake_result(audio, language="en" if language == "auto" else language)

    def close(self) -> None:
        self._closed.set()


def fake_engine_factory(settings: FakeEngineSettings | None = None) -> EngineFactory:
    """An :data:`EngineFactory` of fake engines sharing one failure budget."""
    settings = settings or FakeEngineSettings()
    failures = _FailureBudget(settings)

    def make(model: LocalModel, threads: int) -> Engine:
        return FakeEngine(settings, failures)

    return make


def fake_text(pcm: bytes) -> str:
    """The text the fake engine returns for 16 kHz s16le ``pcm``: its length and CRC-32."""
    seconds = len(pcm) / (2 * SAMPLE_RATE)
    return f"fake {seconds:.2f} seconds {zlib.crc32(pcm):08x}"


def fake_result(audio: np.ndarray, *, language: str = "en") -> RecognitionResult:
    """The fake engine's answer for float ``audio``: :func:`fake_text` as evenly spaced words."""
    # Back to the PCM the agent received (it divided by 32768), so a test can predict the text.
    pcm = np.clip(np.round(audio * 32768.0), -32768, 32767).astype("<i2").tobytes()
    seconds = len(audio) / SAMPLE_RATE
    texts = fake_text(pcm).split()
    step = seconds / len(texts)
    words = tuple(Word(start=i * step, end=(i + 1) * step, text=t, probability=1.0) for i, t in enumerate(texts))
    segment = Segment(start=0.0, end=seconds, text=" ".join(texts), words=words, no_speech_prob=0.0)
    return RecognitionResult(segments=(segment,), language=language, audio_seconds=seconds)
