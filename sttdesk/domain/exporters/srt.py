"""SubRip (.srt) export: numbered cues, ``00:00:01,000 --> 00:00:02,500`` times."""

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


def to_srt(
    transcript: Transcript,
    *,
    max_line_chars: int = DEFAULT_MAX_LINE_CHARS,
    max_lines: int = DEFAULT_MAX_LINES,
    max_cue_seconds: float = DEFAULT_MAX_CUE_SECONDS,
    min_cue_seconds: float = DEFAULT_MIN_CUE_SECONDS,
    max_pause_seconds: float = DEFAULT_MAX_PAUSE_SECONDS,
) -> str:
    """The transcript as SubRip subtitles (see :mod:`.cues` for the layout rules)."""
    options = CueOptions(
        max_line_chars=max_line_chars,
        max_lines=max_lines,
        max_cue_seconds=max_cue_seconds,
        min_cue_seconds=min_cue_seconds,
        max_pause_seconds=max_pause_seconds,
        format_name="SRT",
    )
    blocks = []
    for number, cue in enumerate(layout_cues(transcript, options), start=1):
        # "-->" inside text would read as a timing line to some players.
        lines = "\n".join(line.replace("-->", "->") for line in cue.lines)
        times = f"{clock(cue.start_ms, decimal_mark=',')} --> {clock(cue.end_ms, decimal_mark=',')}"
        blocks.append(f"{number}\n{times}\n{lines}\n")
    return unicodedata.normalize("NFC", "\n".join(blocks))
