"""The mel filter bank whisper.cpp stores in every model file.

Whisper computes its log-mel spectrogram with librosa's Slaney-style filters
(``librosa.filters.mel(sr=16000, n_fft=400, n_mels=80 or 128)``: htk=False,
norm="slaney"); whisper.cpp does not compute them itself but reads them from the
model file, so converters must write exactly these values.
"""

from __future__ import annotations

import numpy as np

#: Whisper's audio sample rate.
SAMPLE_RATE = 16_000
#: Whisper's FFT size (25 ms windows at 16 kHz).
N_FFT = 400
#: Mel band counts of the Whisper models: 80 up to large-v2, 128 for large-v3.
WHISPER_MEL_BANDS = (80, 128)

# Slaney's mel scale: linear below 1 kHz, logarithmic above.
_F_SP = 200.0 / 3
_MIN_LOG_HZ = 1000.0
_MIN_LOG_MEL = _MIN_LOG_HZ / _F_SP
_LOG_STEP = np.log(6.4) / 27.0


def hz_to_mel(frequencies: np.ndarray) -> np.ndarray:
    """Frequencies in Hz to Slaney mels."""
    hz = np.asarray(frequencies, dtype=np.float64)
    mels = hz / _F_SP
    above = hz >= _MIN_LOG_HZ
    return np.where(above, _MIN_LOG_MEL + np.log(np.maximum(hz, _MIN_LOG_HZ) / _MIN_LOG_HZ) / _LOG_STEP, mels)


def mel_to_hz(mels: np.ndarray) -> np.ndarray:
    """Slaney mels to frequencies in Hz."""
    m = np.asarray(mels, dtype=np.float64)
    hz = _F_SP * m
    above = m >= _MIN_LOG_MEL
    return np.where(above, _MIN_LOG_HZ * np.exp(_LOG_STEP * (m - _MIN_LOG_MEL)), hz)


def mel_filters(n_mels: int = 80, *, sample_rate: int = SAMPLE_RATE, n_fft: int = N_FFT) -> np.ndarray:
    """The ``(n_mels, n_fft // 2 + 1)`` float32 filter bank, area-normalised (Slaney).

    Triangles between neighbouring mel frequencies spread evenly from 0 Hz to Nyquist,
    each scaled by 2 / its width in Hz so every band has the same area.
    """
    if n_mels <= 0 or n_fft <= 0 or sample_rate <= 0:
        raise ValueError("n_mels, n_fft and sample_rate must be positive")
    fft_freqs = np.linspace(0.0, sample_rate / 2, n_fft // 2 + 1)
    mel_points = np.linspace(hz_to_mel(np.array(0.0)), hz_to_mel(np.array(sample_rate / 2)), n_mels + 2)
    hz_points = mel_to_hz(mel_points)
    widths = np.diff(hz_points)
    ramps = hz_points[:, None] - fft_freqs[None, :]
    rising = -ramps[:-2] / widths[:-1, None]
    falling = ramps[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(rising, falling))
    weights *= (2.0 / (hz_points[2:] - hz_points[:-2]))[:, None]
    return weights.astype(np.float32)
