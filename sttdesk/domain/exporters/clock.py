"""Times as subtitle and text clocks ("00:01:02,500", "00:01:02.500", "00:01:02")."""

from __future__ import annotations


def to_millis(seconds: float) -> int:
    """Seconds as whole milliseconds, rounded, never negative."""
    return max(0, round(seconds * 1000))


def clock(millis: int, *, decimal_mark: str | None = ".") -> str:
    """``HH:MM:SS`` plus ``<mark>mmm`` unless ``decimal_mark`` is None; hours may pass 99."""
    if millis < 0:
        raise ValueError(f"negative time {millis} ms")
    seconds, ms = divmod(millis, 1000)
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    text = f"{hours:02d}:{minutes:02d}:{seconds:02d}"
    return text if decimal_mark is None else f"{text}{decimal_mark}{ms:03d}"
