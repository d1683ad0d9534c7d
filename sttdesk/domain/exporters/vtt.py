"""WebVTT (.vtt) export: the ``WEBVTT`` header, ``00:00:01.000 --> 00:00:02.500`` cues."""

from __future__ import annotations

import unicodedata

from ..transcript import Transcript
from .clock import clock
from .cues import (
    DEFAULT_MAX_CUE_SECONDS,
    DEFAULT_MAX_LINE_CHARS,
    DEFAULT_MAX_LINES,
    DEFAULT_MAX_PAUSE_SECONDS,
    DEFAULT_MIN_CUE_SECONDS,
    CueOptions,
    layout_cues,
)

_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})


def to_vtt(
    transcript: Transcript,
    *,
    max_line_chars: int = DEFAULT_MAX_LINE_CHARS,
    max_lines: int = DEFAULT_MAX_LINES,
    max_cue_seconds: float = DEFAULT_MAX_CUE_SECONDS,
    min_cue_seconds: float = DEFAULT_MIN_CUE_SECONDS,
    max_pause_seconds: float = DEFAULT_MAX_PAUSE_SECONDS,
) -> str:
    """The transcript as WebVTT subtitles (see :mod:`.cues` for the layout rules)."""
    options = CueOptions(
        max_line_chars=max_line_chars,
        max_lines=max_lines,
        max_cue_seconds=max_cue_seconds,
        min_cue_seconds=min_cue_seconds,
        max_pause_seconds=max_pause_seconds,
        format_name="VTT",
    )
    blocks = ["WEBVTT\n"]
    for cue in layout_cues(transcript, options):
        # Cue text is markup in WebVTT: &, < and > must be escaped (which also breaks any "-->").
        lines = "\n".join(line.translate(_ESCAPES) for line in cue.lines)
        blocks.append(f"{clock(cue.start_ms)} --> {clock(cue.end_ms)}\n{lines}\n")
    return unicodedata.normalize("NFC", "\n".join(blocks))
