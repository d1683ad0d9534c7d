"""Speech coverage: notice where whisper skipped speech, and decode that stretch again on its own.

Greedy whisper sometimes writes the first phrase of a chunk (a chapter title,
or the end of a sentence the cut before it left over) and then a timestamp at
or near the end of its window: everything said in between is skipped. On
three-minute talks joined from the recordings in tests/data/en this made
chunked transcripts 11-17 % WER against 4-7 % for the same audio in one piece
(whisper base q8_0, greedy): one chunk of 18 s came back as "and develop herd."
whisper's own safety net does not fire, because the few words it wrote are
confident (no low log-probability, no repetition for the temperature
fallback to see). The sign is in the times: whisper.cpp spreads the tokens of
such a segment over all of it ("and" 0.23-3.15 s, "develop" 3.15-10.50 s,
"herd." 10.50-17.80 s), while the audio's energy shows phrase after phrase of
speech with no word in it.

So after a decode the phrases of the audio (``sttdesk.audio.chunker``: speech
split at short quiet pauses) are compared with where the words are:

* A word is *placed* at its start and vouches for the next
  ``word_span_seconds`` (a margin either side). A word that lasts longer than
  ``stretched_word_seconds`` has interpolated times: it still vouches for its
  start, but the words after it in the same segment vouch for nothing; nor
  do words that start in a silence, nor, once a segment's words have run on
  into a silence, the words after them.
* Phrase time no placed word vouches for is *uncovered*; uncovered pieces with
  only silence between them form a *run*. A run holding at least
  ``min_uncovered_seconds`` of speech (more than a cough or a filler whisper
  leaves out on purpose) is decoded again alone, from just before it to just
  after it, or to the end of the audio when no placed word follows.
* The new words replace the old ones in that stretch when they cover speech of
  the run and are more than the old ones there; otherwise the first decode
  stands. At most ``max_redecodes`` extra decodes per request, each starting
  later than the one before.

Decoding a skipped stretch alone works because whisper then starts on it
fresh; a wider beam over the whole chunk also recovered some of these chunks
but lost a trailing title in another and cost about 1.5 times a greedy decode.
A chunk whose words cover its speech costs one energy analysis (a few
milliseconds for 30 s of audio) and nothing else.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from difflib import SequenceMatcher

import numpy as np

from ..audio.chunker import Interval, analyse
from ..domain.textnorm import normalize_words
from ..domain.transcript import RecognitionResult, Segment, Word, segment_from_words
from .backend import SAMPLE_RATE, WINDOW_SECONDS, Backend
from .options import DecodeOptions

log = logging.getLogger(__name__)

#: Seconds after its start a placed word vouches for (a long word, or two short ones).
DEFAULT_WORD_SPAN_SECONDS = 1.0
#: Words lasting longer than this have interpolated times (whisper.cpp spread them over a gap).
DEFAULT_STRETCHED_WORD_SECONDS = 2.5
#: A word vouches for speech this close to it on either side (token times are a little loose).
DEFAULT_MARGIN_SECONDS = 0.3
#: A word starting further than this from any speech is in a silence: its time is made up.
DEFAULT_SILENCE_MARGIN_SECONDS = 1.0
#: Uncovered pieces of speech shorter than this are ignored (edges of phrases, breaths).
DEFAULT_MIN_PIECE_SECONDS = 0.2
#: A run with less uncovered speech than this is left alone: whisper rightly skips coughs and fillers.
DEFAULT_MIN_UNCOVERED_SECONDS = 1.5
#: Audio kept before and after a run when it is decoded again.
DEFAULT_PAD_SECONDS = 0.3
#: Silence kept before a run that starts after a pause, up to half the pause: whisper misreads a
#: phrase that starts its window too soon ("Shorter Joveir" at 0.3 s, "Shortage of air" at 0.6 s).
DEFAULT_LEAD_SECONDS = 1.0
#: Extra decodes one request may cost at most.
DEFAULT_MAX_REDECODES = 3
#: A stretch decoded again whose words (this share of them, and at least this many in a row) stand
#: already just after it is not spliced in: see _written_after.
REPEATED_SHARE = 0.6
MIN_REPEATED_WORDS = 3


@dataclass(frozen=True, slots=True)
class CoverageOptions:
    """When a transcript counts as skipping speech, and how the skipped part is decoded again."""

    #: Seconds after its start that a placed word vouches for.
    word_span_seconds: float = DEFAULT_WORD_SPAN_SECONDS
    #: A word lasting longer than this has interpolated times; later words of its segment are not placed.
    stretched_word_seconds: float = DEFAULT_STRETCHED_WORD_SECONDS
    #: Slack on both sides of a word's span.
    margin_seconds: float = DEFAULT_MARGIN_SECONDS
    #: A word starting further than this from any speech has a made-up time.
    silence_margin_seconds: float = DEFAULT_SILENCE_MARGIN_SECONDS
    #: Uncovered pieces of a phrase shorter than this do not count.
    min_piece_seconds: float = DEFAULT_MIN_PIECE_SECONDS
    #: Uncovered speech in one run needed before it is decoded again.
    min_uncovered_seconds: float = DEFAULT_MIN_UNCOVERED_SECONDS
    #: Audio kept around a run when it is decoded again.
    pad_seconds: float = DEFAULT_PAD_SECONDS
    #: Most silence kept before a run that starts after a pause (at most half the pause).
    lead_seconds: float = DEFAULT_LEAD_SECONDS
    #: Most extra decodes per request; 0 only reports.
    max_redecodes: int = DEFAULT_MAX_REDECODES

    def __post_init__(self) -> None:
        for name in ("word_span_seconds", "stretched_word_seconds", "margin_seconds", "silence_margin_seconds",
                     "min_piece_seconds", "min_uncovered_seconds", "pad_seconds", "lead_seconds"):
            value = getattr(self, name)
            if not value >= 0:
                raise ValueError(f"{name} must be zero or more, not {value!r}")
        if self.stretched_word_seconds < self.word_span_seconds:
            raise ValueError("stretched_word_seconds must be at least word_span_seconds")
        if self.max_redecodes < 0:
            raise ValueError(f"max_redecodes must be zero or more, not {self.max_redecodes!r}")


@dataclass(frozen=True, slots=True)
class UncoveredRun:
    """Speech no placed word vouches for, between two placed words (or the audio's edges)."""

    #: Where the first uncovered piece starts and the last one ends (seconds).
    start: float
    end: float
    #: Seconds of uncovered speech in it (silence between its pieces not counted).
    speech_seconds: float
    #: Start of the first placed word after the run, or None when none follows.
    next_word: float | None


@dataclass(frozen=True, slots=True)
class SpeechMap:
    """Where the audio holds speech, as the energy analysis found it (seconds, sorted, disjoint)."""

    #: Speech split at every short quiet pause: the pieces that should each hold words.
    phrases: tuple[Interval, ...]
    #: Speech with pauses under a second included: a word starting outside it is in a silence.
    speech: tuple[Interval, ...]

    @classmethod
    def of(cls, audio: np.ndarray) -> SpeechMap | None:
        """The speech map of 16 kHz ``audio``, or None when speech cannot be told from noise."""
        analysis = analyse(audio)
        if not analysis.has_contrast:
            return None
        return cls(phrases=tuple(analysis.phrases), speech=tuple(analysis.speech))

    def pause_before(self, time: float) -> float:
        """Seconds of silence just before ``time``: 0 inside a phrase, up to ``time`` before the first."""
        if any(start < time < end for start, end in self.phrases):
            return 0.0
        return time - max((end for _, end in self.phrases if end <= time), default=0.0)

    def in_silence(self, time: float, margin: float) -> bool:
        """True when ``time`` is more than ``margin`` seconds away from all speech."""
        return not any(start - margin <= time <= end + margin for start, end in self.speech)


def placed_words(segment: Segment, speech: SpeechMap, options: CoverageOptions = CoverageOptions()) -> list[Word]:
    """The words of ``segment`` whose start times can be trusted.

    whisper.cpp shares out the time of a segment it could not align among its
    words: a word then lasts seconds, or starts in a silence. A stretched word
    keeps its start (where the sound it stands for began), but the words after
    it in its segment only share out the rest of the segment's time and are left
    out. Words starting in a silence are left out: at the start of a segment
    (whisper often starts a segment early, at a whole second), alone; after
    placed words, with every word after them.
    """
    placed: list[Word] = []
    for word in segment.words:
        if speech.in_silence(word.start, options.silence_margin_seconds):
            if placed:
                break  # the segment's words run on across a silence: their times are shared out
            continue  # a segment whose start whisper put early, in the silence before its speech
        placed.append(word)
        if word.end - word.start > options.stretched_word_seconds:
            break
    return placed


def placed_spans(
    segments: Sequence[Segment], speech: SpeechMap, options: CoverageOptions = CoverageOptions()
) -> list[Interval]:
    """The stretches the placed words of ``segments`` vouch for, sorted and merged."""
    spans = [
        (word.start - options.margin_seconds,
         word.start + min(word.end - word.start, options.word_span_seconds) + options.margin_seconds)
        for segment in segments
        for word in placed_words(segment, speech, options)
    ]
    return _union(spans)


def uncovered_runs(
    segments: Sequence[Segment], speech: SpeechMap, options: CoverageOptions = CoverageOptions()
) -> list[UncoveredRun]:
    """The runs of speech no placed word of ``segments`` vouches for, in time order.

    Every run is returned, however short; :func:`runs_to_redecode` picks those worth a decode.
    """
    covered = placed_spans(segments, speech, options)
    pieces = [p for p in _subtract(speech.phrases, covered) if p[1] - p[0] >= options.min_piece_seconds]
    runs: list[UncoveredRun] = []
    for start, end in pieces:
        if runs and not any(a < start and b > runs[-1].end for a, b in covered):
            last = runs[-1]  # only silence since the last piece: the same run
            runs[-1] = replace(last, end=end, speech_seconds=last.speech_seconds + end - start)
        else:
            runs.append(UncoveredRun(start, end, end - start, None))
    # the first placed word after each run bounds how far a decode of the run may reach
    starts = sorted(w.start for seg in segments for w in placed_words(seg, speech, options))
    return [replace(run, next_word=next((w for w in starts if w >= run.end), None)) for run in runs]


def runs_to_redecode(runs: Sequence[UncoveredRun], options: CoverageOptions = CoverageOptions()) -> list[UncoveredRun]:
    """The runs with enough uncovered speech to be worth decoding again."""
    return [run for run in runs if run.speech_seconds >= options.min_uncovered_seconds]


def splice(
    segments: Sequence[Segment], replacement: Sequence[Segment], start: float, end: float
) -> tuple[Segment, ...]:
    """``segments`` with their words in ``[start, end)`` replaced by ``replacement``'s.

    ``replacement`` is on the same timeline (already shifted); its words outside
    the stretch are dropped. Segments cut at the stretch's edges keep their other
    words and get their text rebuilt; words kept before it end by its start.
    """
    result: list[Segment] = []
    for segment in segments:
        if not segment.words:  # nothing to cut by: kept unless it lies inside the stretch
            if not start <= segment.start < end:
                result.append(segment)
            continue
        before = [w for w in segment.words if w.start < start]
        after = [w for w in segment.words if w.start >= end]
        if len(before) + len(after) == len(segment.words) and before and after:
            result.append(segment)  # the stretch lies in a pause inside this segment
            continue
        if before:
            kept = segment if len(before) == len(segment.words) else segment_from_words(
                before, no_speech_prob=segment.no_speech_prob)
            result.append(_end_by(kept, start))
        if after:
            kept = segment if len(after) == len(segment.words) else segment_from_words(
                after, no_speech_prob=segment.no_speech_prob)
            result.append(replace(kept, start=max(kept.start, min(end, after[0].start))))
    for segment in replacement:
        inside = [w for w in segment.words if start <= w.start < end]
        if inside:
            kept = segment if len(inside) == len(segment.words) else segment_from_words(inside)
            result.append(_end_by(kept, end))
    result.sort(key=lambda s: (s.start, s.end))
    return tuple(result)


def transcribe_covered(
    backend: Backend,
    audio: np.ndarray,
    options: DecodeOptions,
    *,
    coverage: CoverageOptions = CoverageOptions(),
) -> RecognitionResult:
    """``backend.transcribe(audio, options)``, with skipped speech decoded again (see the module notes).

    Off when ``options.coverage_check`` is false. The result's timings gain
    ``coverage`` (seconds spent checking and decoding again) and
    ``redecodes`` (how many extra decodes ran).
    """
    if not options.coverage_check:
        return backend.transcribe(audio, options)
    wanted_words = options.word_timestamps
    first_options = options if wanted_words else replace(options, word_timestamps=True)
    result = backend.transcribe(audio, first_options)
    started = time.perf_counter()
    duration = audio.size / SAMPLE_RATE
    speech = SpeechMap.of(audio)
    segments = result.segments
    redecodes = 0
    if speech is not None and speech.phrases:
        # the language whisper chose for the whole audio; a stretch alone could be detected otherwise
        again = replace(first_options, language=result.language)
        frontier = -1.0
        while redecodes < coverage.max_redecodes:
            runs = [r for r in runs_to_redecode(uncovered_runs(segments, speech, coverage), coverage)
                    if r.start > frontier]
            if not runs:
                break
            run = runs[0]
            frontier = run.start
            lead = max(coverage.pad_seconds, min(coverage.lead_seconds, speech.pause_before(run.start) / 2))
            low = max(0.0, run.start - lead)
            high = duration if run.next_word is None else min(run.next_word, run.end + coverage.pad_seconds)
            high = min(high, low + WINDOW_SECONDS)
            piece = audio[int(low * SAMPLE_RATE): int(high * SAMPLE_RATE)]
            redecodes += 1
            new = tuple(s.shifted(low) for s in backend.transcribe(piece, again).segments)
            old_words = _words_in(segments, low, high)
            new_words = _words_in(new, low, high)
            gained = _covered_speech(run, speech, new, coverage)
            accepted = (gained > 0 and len(new_words) > len(old_words)
                        and not _written_after(new_words, segments, high, result.language))
            log.info("speech at %.1f-%.1f s (%.1f s) had no words; decoded %.1f-%.1f s again: %d words for %d, "
                     "%.1f s of it covered, %s", run.start, run.end, run.speech_seconds, low, high,
                     len(new_words), len(old_words), gained, "kept" if accepted else "dropped")
            if accepted:
                segments = splice(segments, new, low, high)
    if not wanted_words:
        segments = tuple(replace(s, words=()) for s in segments)
    timings = dict(result.timings)
    timings["coverage"] = time.perf_counter() - started
    timings["redecodes"] = float(redecodes)
    if "transcribe" in timings:
        timings["transcribe"] += timings["coverage"]
    return replace(result, segments=tuple(segments), timings=timings)


# --- helpers ---------------------------------------------------------------------------


def _words_in(segments: Sequence[Segment], start: float, end: float) -> list[Word]:
    return [w for s in segments for w in s.words if start <= w.start < end]


def _written_after(new_words: Sequence[Word], segments: Sequence[Segment], end: float, language: str) -> bool:
    """True when most of ``new_words`` already stand, in order, among the words just after ``end``.

    whisper.cpp sometimes squeezes the times of a whole sentence into a moment
    ("And@11.76 so@11.76 my@11.76 fellow@11.76 ..."): the speech before it then looks
    skipped, but its words are there, only placed later. Decoding the stretch again
    finds them a second time; splicing that in would write them twice.
    """
    fresh = [token for w in new_words for token in normalize_words(w.text, language)]
    later = [token for w in _words_in(segments, end, end + WINDOW_SECONDS)
             for token in normalize_words(w.text, language)]
    if not fresh or not later:
        return False
    match = SequenceMatcher(None, fresh, later, autojunk=False).find_longest_match(0, len(fresh), 0, len(later))
    return match.size >= max(MIN_REPEATED_WORDS, REPEATED_SHARE * len(fresh))


def _covered_speech(run: UncoveredRun, speech: SpeechMap, segments: Sequence[Segment],
                    options: CoverageOptions) -> float:
    """Seconds of the run's speech that the placed words of ``segments`` vouch for."""
    inside = [(max(a, run.start), min(b, run.end)) for a, b in speech.phrases if b > run.start and a < run.end]
    left = sum(b - a for a, b in _subtract(inside, placed_spans(segments, speech, options)))
    return max(0.0, sum(b - a for a, b in inside) - left)


def _end_by(segment: Segment, limit: float) -> Segment:
    """``segment`` with its end, and its words' ends, no later than ``limit`` (starts are kept)."""
    if segment.end <= limit:
        return segment
    words = tuple(replace(w, end=max(w.start, min(w.end, limit))) for w in segment.words)
    return replace(segment, end=max(segment.start, limit), words=words)


def _union(spans: Sequence[Interval]) -> list[Interval]:
    merged: list[Interval] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _subtract(intervals: Sequence[Interval], holes: Sequence[Interval]) -> list[Interval]:
    """``intervals`` minus the sorted, disjoint ``holes``."""
    result: list[Interval] = []
    for start, end in intervals:
        cursor = start
        for hole_start, hole_end in holes:
            if hole_end <= cursor:
                continue
            if hole_start >= end:
                break
            if hole_start > cursor:
                result.append((cursor, hole_start))
            cursor = max(cursor, hole_end)
            if cursor >= end:
                break
        if cursor < end:
            result.append((cursor, end))
    return result
