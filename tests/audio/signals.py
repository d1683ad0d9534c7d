"""Helpers of the audio tests: run ffmpeg, write WAVs, build test signals from real speech."""

from __future__ import annotations

import shutil
import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest

from sttdesk.audio.decode import SAMPLE_RATE

#: The recording most format tests are made from (LibriSpeech, 14.085 s, 16 kHz FLAC).
SOURCE_CLIP = "103-1240-0000.flac"
SOURCE_SECONDS = 14.085

requires_ffmpeg = pytest.mark.skipif(
    shutil.which("ffmpeg") is None or shutil.which("ffprobe") is None, reason="ffmpeg/ffprobe not installed"
)


def run_ffmpeg(*args: str | Path) -> None:
    """Run ffmpeg quietly, overwriting outputs; fail the test with its stderr if it fails."""
    cmd = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *map(str, args)]
    done = subprocess.run(cmd, capture_output=True, check=False)
    if done.returncode != 0:
        pytest.fail(f"ffmpeg {' '.join(map(str, args))} failed: {done.stderr.decode(errors='replace')}")


def write_wav(path: Path, samples: np.ndarray, *, sample_rate: int = SAMPLE_RATE) -> Path:
    """Write float samples in [-1, 1] as a 16-bit mono WAV."""
    pcm = np.clip(np.round(samples * 32767.0), -32768, 32767).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(sample_rate)
        out.writeframes(pcm.tobytes())
    return path


def seconds(n_samples: int) -> float:
    return n_samples / SAMPLE_RATE


def silence(duration: float) -> np.ndarray:
    return np.zeros(round(duration * SAMPLE_RATE), dtype=np.float32)


def squeeze_pauses(samples: np.ndarray, *, keep: float = 0.7) -> np.ndarray:
    """Speech with every pause taken out: only the loudest ``keep`` share of its 10 ms frames.

    Pauses are the quietest frames of a read sentence, so what remains is
    continuous speech with no gap long enough to cut in.
    """
    frame = SAMPLE_RATE // 100
    frames = samples[: samples.size // frame * frame].reshape(-1, frame)
    levels = 10 * np.log10((frames.astype(np.float64) ** 2).mean(axis=1) + 1e-12)
    return frames[levels >= np.percentile(levels, 100 * (1 - keep))].ravel().astype(np.float32)


def speech_with_pauses(
    clips: list[np.ndarray], total_seconds: float, *, pauses: tuple[float, float] = (0.3, 1.5), seed: int = 0
) -> np.ndarray:
    """Real recordings one after the other with random pauses between them, cut to ``total_seconds``."""
    rng = np.random.default_rng(seed)
    out: list[np.ndarray] = []
    total = 0
    while total < total_seconds * SAMPLE_RATE:
        for clip in clips:
            gap = silence(rng.uniform(*pauses))
            out += [clip, gap]
            total += clip.size + gap.size
    return np.concatenate(out)[: int(total_seconds * SAMPLE_RATE)]
