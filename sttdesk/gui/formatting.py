"""How values look on screen: clock times, sizes, job states and language names (translated)."""

from __future__ import annotations

import math

from PySide6.QtCore import QCoreApplication

from ..domain.jobs import JobState

#: Languages a job can ask for, in the order menus list them; names are shown in their own language.
JOB_LANGUAGES = ("auto", "en", "vi")
_NATIVE_NAMES = {"en": "English", "vi": "Tiếng Việt"}


def clock(seconds: float | None, *, always_hours: bool = False) -> str:
    """``seconds`` as ``m:ss`` or ``h:mm:ss`` (``""`` when unknown)."""
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return ""
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours or always_hours:
        return f"{hours}:{minutes:02d}:{secs:02d}"
    return f"{minutes}:{secs:02d}"


def precise_clock(seconds: float) -> str:
    """``seconds`` as ``h:mm:ss.d`` or ``m:ss.d``, for transcript timestamps."""
    seconds = max(0.0, seconds)
    tenths = round(seconds * 10)
    whole, tenth = divmod(tenths, 10)
    return f"{clock(whole)}.{tenth}"


def byte_size(size: int | None) -> str:
    """A byte count as a short human size ("81.8 MB")."""
    if size is None or size < 0:
        return ""
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return ""  # unreachable: the loop returns at GB


def state_label(state: str) -> str:
    """A job state as users read it."""
    labels = {
        JobState.PENDING.value: QCoreApplication.translate("Formatting", "Waiting"),
        JobState.PROCESSING.value: QCoreApplication.translate("Formatting", "Transcribing"),
        JobState.PAUSED.value: QCoreApplication.translate("Formatting", "Paused"),
        JobState.COMPLETED.value: QCoreApplication.translate("Formatting", "Done"),
        JobState.FAILED.value: QCoreApplication.translate("Formatting", "Failed"),
        JobState.CANCELLED.value: QCoreApplication.translate("Formatting", "Cancelled"),
    }
    return labels.get(state, state)


def language_label(code: str | None) -> str:
    """A transcription language's name: native names for English and Vietnamese."""
    if not code:
        return ""
    if code == "auto":
        return QCoreApplication.translate("Formatting", "Auto-detect")
    return _NATIVE_NAMES.get(code, code)


def job_language_label(requested: str, detected: str | None) -> str:
    """What a job's language column says: the language, or what auto-detect found."""
    if requested == "auto" and detected:
        return QCoreApplication.translate("Formatting", "%1 (detected)").replace("%1", language_label(detected))
    return language_label(requested)


def real_time_factor(rtf: float | None) -> str:
    """A real-time factor as a speed ("12.5× real time"); ``""`` when unknown."""
    if rtf is None or rtf <= 0 or not math.isfinite(rtf):
        return ""
    return QCoreApplication.translate("Formatting", "%1× real time").replace("%1", f"{1.0 / rtf:.1f}")
