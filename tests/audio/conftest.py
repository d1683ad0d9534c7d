"""Fixtures of the audio tests: real recordings decoded once per session."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sttdesk.audio.decode import SAMPLE_RATE, load_audio
from tests.audio.signals import SOURCE_CLIP, squeeze_pauses


@pytest.fixture(scope="session")
def source_clip(en_audio: Path) -> Path:
    """A real 14 s English recording."""
    return en_audio / SOURCE_CLIP


@pytest.fixture(scope="session")
def clips(en_audio: Path) -> list[np.ndarray]:
    """Every English dev recording decoded to float32 16 kHz mono, in name order."""
    paths = sorted(en_audio.glob("*.flac")) + sorted(en_audio.glob("*.wav"))
    return [load_audio(path) for path in paths]


@pytest.fixture(scope="session")
def continuous_speech(clips: list[np.ndarray]) -> np.ndarray:
    """About 100 s of real speech with no pause in it at all."""
    out: list[np.ndarray] = []
    total = 0
    for clip in clips:
        squeezed = squeeze_pauses(clip)
        out.append(squeezed)
        total += squeezed.size
        if total >= 100 * SAMPLE_RATE:
            break
    return np.concatenate(out)
