"""Subtitle cue layout shared by the SRT and VTT exporters.

Follows common subtitling practice (the BBC and Netflix guidelines agree on
these): at most two lines of at most 42 characters, a cue on screen for at
most 7 seconds and, where the next cue leaves room, at least about 1 second;
cues never overlap. Cues break at word boundaries using the words' times, never
join two segments, start afresh after a long pause, and prefer to end where a
sentence ends. A segment without word times is split in proportion to the
length of its words. Two-line cues are balanced (both lines about as long).
"""

from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass

from ..transcript import Transcript, Word, estimate_words, join_words
from .clock import to_millis
from .errors import InvalidExportOptionError

DEFAULT_MAX_LINE_CHARS = 42
DEFAULT_MAX_LINES = 2
DEFAULT_MAX_CUE_SECONDS = 7.0
DEFAULT_MIN_CUE_SECONDS = 1.0
DEFAULT_MAX_PAUSE_SECONDS = 1.5
#: A cue that already holds at least this share of one line may end at a sentence end.
_SENTENCE_BREAK_FILL = 0.5
_SENTENCE_END = (".", "!", "?", "…")
_CLAUSE_END = (",", ";", ":") + _SENTENCE_END
_PUNCTUATION_ONLY = frozenset(",.;:!?…)]}»”’%")


@dataclass(frozen=True, slots=True)
class CueOptions:
    """How subtitle cues are laid out."""

    #: Longest line, in characters (NFC, so a Vietnamese letter with its marks is one).
    max_line_chars: int = DEFAULT_MAX_LINE_CHARS
    #: Most lines in one cue.
    max_lines: int = DEFAULT_MAX_LINES
    #: Longest time a cue stays on screen, in seconds.
    max_cue_seconds: float = DEFAULT_MAX_CUE_SECONDS
    #: Shortest time on screen, reached by extending a cue into the pause after it where there is room.
    min_cue_seconds: float = DEFAULT_MIN_CUE_SECONDS
    #: A pause between words at least this long (seconds) starts a new cue.
    max_pause_seconds: float = DEFAULT_MAX_PAUSE_SECONDS
    #: Format name used in error messages.
    format_name: str = "subtitle"

    def __post_init__(self) -> None:
        checks = (
            (self.max_line_chars >= 10, "max_line_chars must be at least 10"),
            (self.max_lines >= 1, "max_lines must be at least 1"),
            (_positive(self.max_cue_seconds), "max_cue_seconds must be a positive number of seconds"),
            (
                math.isfinite(self.min_cue_seconds) and 0 <= self.min_cue_seconds <= self.max_cue_seconds,
                "min_cue_seconds must be between 0 and max_cue_seconds",
            ),
            (_positive(self.max_pause_seconds), "max_pause_seconds must be a positive number of seconds"),
        )
        for ok, detail in checks:
            if not ok:
                raise InvalidExportOptionError(detail, format=self.format_name)


def _positive(value: float) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value) and value > 0


@dataclass(frozen=True, slots=True)
class Cue:
    """One subtitle on screen: times in whole milliseconds and its lines."""

    start_ms: int
    end_ms: int
    lines: tuple[str, ...]

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def layout_cues(transcript: Transcript, options: CueOptions | None = None) -> list[Cue]:
    """The transcript's text as subtitle cues, in time order, never overlapping."""
    options = options or CueOptions()
    groups: list[list[Word]] = []
    for segment in transcript.segments:
        groups += _split_segment(_units(estimate_words(segment), options.max_line_chars), options)
    cues = []
    for group in groups:
        lines = _wrap([w.text for w in group], options.max_line_chars, options.max_lines)
        assert lines is not None  # _split_segment only makes groups that fit
        start = to_millis(group[0].start)
        cues.append(Cue(start, max(to_millis(max(w.end for w in group)), start), tuple(lines)))
    return _fix_timing(cues, options, to_millis(transcript.duration))


# --- words into groups ---------------------------------------------------------------


def _units(words: tuple[Word, ...], width: int) -> list[Word]:
    """Words ready for layout: NFC text, punctuation tokens joined on, overlong words split."""
    units: list[Word] = []
    for word in words:
        text = unicodedata.normalize("NFC", word.text.strip())
        if not text:
            continue
        if units and all(ch in _PUNCTUATION_ONLY for ch in text):
            last = units[-1]
            units[-1] = Word(last.start, max(last.end, word.end), last.text + text, last.probability)
            continue
        if len(text) <= width:
            units.append(Word(word.start, word.end, text, word.probability))
            continue
        # A "word" wider than a line (a URL, a long number): hard-break it, time shared by length.
        pieces = [text[i : i + width] for i in range(0, len(text), width)]
        span = word.end - word.start
        done = 0
        for piece in pieces:
            start = word.start + span * done / len(text)
            done += len(piece)
            units.append(Word(start, word.start + span * done / len(text), piece, word.probability))
    return units


def _split_segment(units: list[Word], options: CueOptions) -> list[list[Word]]:
    groups: list[list[Word]] = []
    current: list[Word] = []
    for word in units:
        if current and _must_break(current, word, options):
            groups.append(current)
            current = []
        current.append(word)
    if current:
        groups.append(current)
    return groups


def _must_break(current: list[Word], word: Word, options: CueOptions) -> bool:
    if word.end - current[0].start > options.max_cue_seconds:
        return True
    if word.start - current[-1].end >= options.max_pause_seconds:
        return True
    texts = [w.text for w in current]
    if (
        current[-1].text.endswith(_SENTENCE_END)
        and len(join_words(texts)) >= _SENTENCE_BREAK_FILL * options.max_line_chars
    ):
        return True
    return _wrap([*texts, word.text], options.max_line_chars, options.max_lines) is None


def _wrap(texts: list[str], width: int, max_lines: int) -> list[str] | None:
    """``texts`` as at most ``max_lines`` lines of at most ``width`` characters, or None."""
    joined = join_words(texts)
    if len(joined) <= width:
        return [joined]
    if max_lines == 1:
        return None
    if max_lines == 2:
        best: tuple[tuple[int, int, int], list[str]] | None = None
        for split in range(1, len(texts)):
            top, bottom = join_words(texts[:split]), join_words(texts[split:])
            if len(top) > width or len(bottom) > width:
                continue
            # Balanced lines first; then a break after punctuation; then a shorter top line.
            key = (max(len(top), len(bottom)), 0 if texts[split - 1].endswith(_CLAUSE_END) else 1, len(top))
            if best is None or key < best[0]:
                best = (key, [top, bottom])
        return None if best is None else best[1]
    lines: list[list[str]] = [[]]
    for text in texts:
        if lines[-1] and len(join_words([*lines[-1], text])) > width:
            lines.append([])
        lines[-1].append(text)
    return [join_words(line) for line in lines] if len(lines) <= max_lines else None


# --- timing ---------------------------------------------------------------------------


def _fix_timing(cues: list[Cue], options: CueOptions, duration_ms: int) -> list[Cue]:
    """Make times strictly increasing and non-overlapping, then apply the min and max durations.

    Cues keep the transcript's order even if its times disagree (text order is
    what the speaker said): a cue starting before the previous one ends is
    moved, whole, to start at that end. A short cue is stretched into the pause
    after it, never past where the next cue begins.
    """
    min_ms, max_ms = to_millis(options.min_cue_seconds), to_millis(options.max_cue_seconds)
    out: list[Cue] = []
    for position, cue in enumerate(cues):
        start = cue.start_ms if not out else max(cue.start_ms, out[-1].end_ms)
        end = start + max(cue.end_ms - cue.start_ms, 1)
        room = cues[position + 1].start_ms if position + 1 < len(cues) else duration_ms
        end = max(end, min(start + min_ms, room))
        out.append(Cue(start, min(end, start + max_ms), cue.lines))
    return out
