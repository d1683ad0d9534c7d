"""Fixtures for the service tests: a tiny installed model, speech files built from real recordings."""

from __future__ import annotations

import wave
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from sttdesk.audio.decode import SAMPLE_RATE, load_audio
from sttdesk.engine.ggml_format import (
    GgmlHeader,
    GgmlWriter,
    expected_tensors,
    file_type,
    stored_ftype,
)
from sttdesk.engine.store import InstalledModel, ModelStore
from sttdesk.paths import default_paths

from ..conftest import TEST_DATA, read_transcripts

#: Name of the tiny model the fake-engine tests install in their isolated model store.
TINY_MODEL_NAME = "tiny-test"
EN_AUDIO = TEST_DATA / "en"


def write_tiny_ggml(path: Path) -> Path:
    """A structurally valid whisper.cpp model of about 150 kB (random weights, never run)."""
    header = GgmlHeader(64, 8, 32, 2, 1, 8, 32, 2, 1, 80, stored_ftype(file_type("f16")))
    weight_type = header.file_type.weight_type
    rng = np.random.default_rng(0)
    tokens = [f"t{i}".encode() for i in range(64)]
    with GgmlWriter(path, header, np.full((header.n_mels, 201), 0.01, np.float32), tokens) as writer:
        for spec in expected_tensors(header).values():
            shape = tuple(reversed(spec.ne))
            writer.add_tensor(spec.name, shape, spec.storage_type(weight_type),
                              rng.standard_normal(shape).astype(np.float32))
    return path


@pytest.fixture
def tiny_model(tmp_path: Path) -> InstalledModel:
    """A tiny model installed (and made the default) in this test's own model store."""
    store = ModelStore(default_paths().ensure().models_dir)
    model = store.import_file(write_tiny_ggml(tmp_path / "tiny.bin"), TINY_MODEL_NAME, source="test")
    store.set_default(model.name)
    return model


def write_wav(path: Path, samples: np.ndarray) -> Path:
    """Float samples in [-1, 1] as a 16 kHz mono 16-bit WAV file."""
    pcm = np.clip(np.round(samples * 32767.0), -32768, 32767).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(pcm.tobytes())
    return path


def wav_seconds(path: Path) -> float:
    with wave.open(str(path), "rb") as wav:
        return wav.getnframes() / wav.getframerate()


def build_speech(seconds: float, *, seed: int = 0) -> tuple[np.ndarray, str]:
    """About ``seconds`` of the real English recordings joined with natural pauses, and what is said.

    Whole clips only (no clip is cut), in a shuffled order, separated by pauses
    mostly of a breath or a sentence break (0.3-1.5 s) and now and then a
    longer one (3-6 s), like a talk; clips are reused when the length asks for it.
    """
    refs = read_transcripts(EN_AUDIO)
    names = sorted(name for name in refs if (EN_AUDIO / name).is_file())
    rng = np.random.default_rng(seed)
    parts: list[np.ndarray] = []
    texts: list[str] = []
    total = 0.0
    while total < seconds:
        for index in rng.permutation(len(names)):
            if total >= seconds:
                break
            clip = load_audio(EN_AUDIO / names[index])
            pause = rng.uniform(3.0, 6.0) if rng.random() < 0.1 else rng.uniform(0.3, 1.5)
            parts += [clip, np.zeros(int(pause * SAMPLE_RATE), np.float32)]
            texts.append(refs[names[index]])
            total += clip.size / SAMPLE_RATE + pause
    return np.concatenate(parts), " ".join(texts)


SpeechFactory = Callable[..., tuple[Path, str]]


@pytest.fixture
def speech_file(tmp_path: Path) -> SpeechFactory:
    """``speech_file(seconds, seed=0, name=...)`` writes a WAV of joined recordings; returns (path, text)."""

    def make(seconds: float, *, seed: int = 0, name: str | None = None) -> tuple[Path, str]:
        samples, text = build_speech(seconds, seed=seed)
        return write_wav(tmp_path / (name or f"speech-{seconds:g}s-{seed}.wav"), samples), text

    return make
