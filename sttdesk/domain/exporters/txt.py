"""Plain-text export: paragraphs, or one line per segment with its start time."""

from __future__ import annotations

import math
import unicodedata

from ..transcript import Gap, Segment, Transcript
from .clock import clock, to_millis
from .errors import InvalidExportOptionError

#: A pause this long (seconds) between segments starts a new paragraph.
DEFAULT_PARAGRAPH_PAUSE = 2.0

_GAP_LINE = {
    "en": "[text missing from {start} to {end}: {reason}]",
    "vi": "[thiếu nội dung từ {start} đến {end}: {reason}]",
}


def to_txt(
    transcript: Transcript,
    *,
    timestamps: bool = False,
    paragraph_pause: float = DEFAULT_PARAGRAPH_PAUSE,
    ui_language: str = "en",
) -> str:
    """The transcript as plain text.

    Without ``timestamps``: paragraphs separated by a blank line wherever the
    speaker paused at least ``paragraph_pause`` seconds. With them: one line per
    segment, ``[00:01:02] text``. Either way, where a chunk failed (or is not
    done yet) a bracketed line in ``ui_language`` ("en" or "vi") says text is missing.
    """
    if not (isinstance(paragraph_pause, (int, float)) and math.isfinite(paragraph_pause) and paragraph_pause > 0):
        raise InvalidExportOptionError("paragraph_pause must be a positive number of seconds", format="TXT")
    if ui_language not in _GAP_LINE:
        raise InvalidExportOptionError(f"ui_language must be one of {sorted(_GAP_LINE)}", format="TXT")
    items: list[Segment | Gap] = sorted([*transcript.segments, *transcript.gaps], key=lambda item: item.start)
    lines: list[str] = []
    paragraph: list[str] = []
    previous_end: float | None = None

    def end_paragraph() -> None:
        if paragraph:
            lines.append(" ".join(paragraph))
            lines.append("")
            paragraph.clear()

    for item in items:
        if isinstance(item, Gap):
            end_paragraph()
            lines.append(_gap_line(item, ui_language))
            if not timestamps:
                lines.append("")  # the notice stands as a paragraph of its own
            previous_end = None
            continue
        if not item.text:
            continue
        if timestamps:
            lines.append(f"[{clock(to_millis(item.start), decimal_mark=None)}] {item.text}")
        else:
            if previous_end is not None and item.start - previous_end >= paragraph_pause:
                end_paragraph()
            paragraph.append(item.text)
        previous_end = item.end
    end_paragraph()
    text = "\n".join(line for line in _squeeze_blank_lines(lines)).strip("\n")
    return unicodedata.normalize("NFC", text + "\n") if text else ""


def _gap_line(gap: Gap, language: str) -> str:
    return _GAP_LINE[language].format(
        start=clock(to_millis(gap.start), decimal_mark=None),
        end=clock(to_millis(gap.end), decimal_mark=None),
        reason=gap.message(language).rstrip("."),
    )


def _squeeze_blank_lines(lines: list[str]) -> list[str]:
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    return out
