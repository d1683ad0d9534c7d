"""Backends that misbehave on request, run inside real engine child processes by the tests.

They are named to :class:`~sttdesk.engine.process.EngineProcess` as
``"tests.engine.fake_backends:ScriptedBackend"``. What a request does is taken
from its ``initial_prompt`` (the one free-text option), what loading does from
the model file's contents, so one backend covers every failure the child must
survive.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import signal
import time
from pathlib import Path

import numpy as np

from sttdesk.domain.transcript import RecognitionResult, Segment
from sttdesk.engine.backend import InvalidAudioError, ModelInfo
from sttdesk.engine.errors import CorruptModelError
from sttdesk.engine.options import DecodeOptions

#: Bytes a fake model file starts with; the rest says how loading goes.
FAKE_MODEL_MAGIC = b"fake-model:"


def write_fake_model(path: Path, behaviour: str = "ok") -> Path:
    """A file the scripted backend loads: "ok", "corrupt" (typed error) or "segfault"."""
    path.write_bytes(FAKE_MODEL_MAGIC + behaviour.encode())
    return path


def _segfault() -> None:
    ctypes.string_at(0)


class ScriptedBackend:
    """Answers with a digest of the audio it received, or fails the way the request says.

    ``initial_prompt`` commands: "segfault", "abort", "exit", "hang", "memory"
    (raise MemoryError), "allocate" (really allocate 4 GB, to hit a memory
    limit), "bug" (an unexpected exception), "reject" (a permanent typed
    error), "sleep:SECONDS", "kill-self" (SIGKILL itself). Anything else
    transcribes: one segment whose text is the SHA-256 of the samples.
    """

    def load(self, model_path: Path, threads: int) -> ModelInfo:
        content = Path(model_path).read_bytes()
        behaviour = content[len(FAKE_MODEL_MAGIC) :].decode() if content.startswith(FAKE_MODEL_MAGIC) else ""
        if behaviour == "segfault":
            _segfault()
        if behaviour != "ok":
            raise CorruptModelError(path=str(model_path), detail="not a fake model")
        return ModelInfo(path=str(model_path), model_type="fake", multilingual=True, ftype=0, load_seconds=0.0)

    def transcribe(self, audio: np.ndarray, options: DecodeOptions) -> RecognitionResult:
        command = options.initial_prompt or ""
        if command == "segfault":
            _segfault()
        elif command == "abort":
            os.abort()
        elif command == "exit":
            os._exit(3)
        elif command == "kill-self":
            os.kill(os.getpid(), signal.SIGKILL)
        elif command == "hang":
            time.sleep(3600)
        elif command.startswith("sleep:"):
            time.sleep(float(command.partition(":")[2]))
        elif command == "memory":
            raise MemoryError("scripted")
        elif command == "allocate":
            block = np.ones(4 * 1024**3, dtype=np.uint8)
            return self._answer(audio, options, extra=str(block.sum()))
        elif command == "bug":
            raise RuntimeError("scripted bug")
        elif command == "reject":
            raise InvalidAudioError("scripted rejection")
        return self._answer(audio, options)

    def _answer(self, audio: np.ndarray, options: DecodeOptions, extra: str = "") -> RecognitionResult:
        digest = hashlib.sha256(audio.tobytes()).hexdigest()
        seconds = audio.size / 16_000
        return RecognitionResult(
            segments=(Segment(start=0.0, end=seconds, text=digest + extra),),
            language=options.language,
            audio_seconds=seconds,
            timings={"transcribe": 0.0, "pid": float(os.getpid())},
        )

    def close(self) -> None:
        """Nothing to free."""
