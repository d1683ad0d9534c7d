"""Reading test recordings as 16 kHz mono float32 with ffmpeg (independent of sttdesk.audio)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np

SAMPLE_RATE = 16_000


def read_audio(path: Path) -> np.ndarray:
    """The recording at ``path`` as 16 kHz mono float32 samples in -1..1."""
    completed = subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-ac", "1", "-ar", str(SAMPLE_RATE), "-f", "f32le", "-"],
        capture_output=True,
        check=True,
    )
    return np.frombuffer(completed.stdout, dtype=np.float32).copy()
