"""The hallucination guard: removes text whisper invents, before chunks are merged.

Whisper was trained on subtitled web video, so over silence, music or a cut-off
chunk it writes what such videos end with ("Thanks for watching!", "Hãy
subscribe cho kênh Ghiền Mì Gõ…", "Subtitles by the Amara.org community"), gets
stuck repeating a phrase, or writes text where nobody speaks. The guard drops
four kinds of such text and counts them (:class:`DropKind`):

* ``silence`` — a segment whose time span lies in silence, as given by the
  speech intervals the audio package detected;
* ``no_speech`` — a segment the model itself thinks holds no speech (high
  ``no_speech_prob``) and whose words it is unsure of (low mean probability);
* ``phantom_phrase`` — a known phantom phrase forming a whole segment or its
  final sentence (never one inside a sentence: "we thank you for watching
  the children" stays);
* ``repetition`` — the same 1–6 words repeated many times in a row, or the
  same segment repeated: one occurrence is kept.

Thresholds live in :class:`GuardOptions`; their defaults are documented there.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Any

from .errors import PermanentError
from .textnorm import normalize_token
from .transcript import RecognitionResult, Segment, Word, estimate_words, join_words

__all__ = [
    "DEFAULT_PHANTOM_PHRASES",
    "DropKind",
    "DroppedText",
    "GuardOptions",
    "GuardReport",
    "HallucinationGuard",
    "InvalidGuardOptionError",
    "InvalidSpeechIntervalError",
    "PhantomPhrase",
    "validate_speech_intervals",
]

log = logging.getLogger(__name__)


class DropKind(str, Enum):
    """Why the guard dropped a piece of text."""

    SILENCE = "silence"
    NO_SPEECH = "no_speech"
    PHANTOM_PHRASE = "phantom_phrase"
    REPETITION = "repetition"


class InvalidGuardOptionError(PermanentError):
    """A hallucination guard threshold is out of its valid range."""

    code = "invalid_guard_option"
    message_en = "Invalid hallucination filter setting {name} = {value}: {detail}"
    message_vi = "Thiết lập bộ lọc ảo giác không hợp lệ {name} = {value}: {detail}"


class InvalidSpeechIntervalError(PermanentError):
    """A speech interval given to the guard is not a valid (start, end) pair."""

    code = "invalid_speech_interval"
    message_en = "Invalid speech interval {interval}: {detail}"
    message_vi = "Khoảng thời gian có tiếng nói không hợp lệ {interval}: {detail}"


@dataclass(frozen=True, slots=True)
class PhantomPhrase:
    """A phrase whisper writes without anyone saying it."""

    #: The phrase as written; it is compared after :func:`normalize_token` on each word.
    text: str
    #: True when a short free tail may follow ("Subtitles by <anyone>").
    open_ended: bool = False

    @property
    def tokens(self) -> tuple[str, ...]:
        return tuple(t for t in (normalize_token(w) for w in self.text.split()) if t)


def _phrases(texts: Iterable[str], *, open_ended: bool = False) -> tuple[PhantomPhrase, ...]:
    return tuple(PhantomPhrase(t, open_ended=open_ended) for t in texts)


#: English phantoms (whisper's best-known ones, from video outros and subtitle credits).
ENGLISH_PHANTOM_PHRASES: tuple[PhantomPhrase, ...] = _phrases(
    [
        "Thanks for watching",
        "Thanks for watching and see you next time",
        "Thank you for watching",
        "Thank you so much for watching",
        "Thank you very much for watching",
        "Thank you for watching and see you next time",
        "Please subscribe",
        "Please subscribe to my channel",
        "Please like and subscribe",
        "Like and subscribe",
        "Don't forget to like and subscribe",
        "Don't forget to subscribe",
        "Subscribe to my channel",
        # alone, as whisper writes it over music ("*Subscribe*")
        "Subscribe",
        "Amara.org",
    ]
) + _phrases(
    [
        "Subtitles by",
        "Subtitle by",
        "Subtitled by",
        "English subtitles by",
        "Captions by",
        "Closed captioning by",
        "Subtitles created by",
        "Transcription by CastingWords",
        "The Amara.org community",
    ],
    open_ended=True,
)

#: Vietnamese phantoms: YouTube channel outros whisper learnt from Vietnamese videos.
VIETNAMESE_PHANTOM_PHRASES: tuple[PhantomPhrase, ...] = _phrases(
    [
        "Để không bỏ lỡ những video hấp dẫn",
        # the same outro's end alone, as whisper wrote it over music-like tones
        "Những video hấp dẫn",
        "Cảm ơn các bạn đã theo dõi",
        "Cảm ơn các bạn đã theo dõi và hẹn gặp lại",
        "Cảm ơn các bạn đã theo dõi video",
        "Cảm ơn các bạn đã xem video",
        "Hẹn gặp lại các bạn trong những video tiếp theo",
        "Hẹn gặp lại các bạn trong video tiếp theo",
        "Hẹn gặp lại các bạn trong những video sau",
    ]
) + _phrases(
    [
        "Hãy subscribe cho kênh",
        "Hãy subscribe kênh",
        "Hãy đăng ký kênh",
        "Hãy đăng kí kênh",
        "Hãy đăng ký cho kênh",
        "Hãy đăng kí cho kênh",
        "Các bạn hãy đăng ký cho kênh",
        "Các bạn hãy đăng kí cho kênh",
        "Các bạn hãy subscribe cho kênh",
        "Ghiền Mì Gõ",
        "Phụ đề bởi",
        "Phụ đề được thực hiện bởi",
    ],
    open_ended=True,
)

#: Both lists: whisper writes English phantoms over Vietnamese audio too.
DEFAULT_PHANTOM_PHRASES: tuple[PhantomPhrase, ...] = ENGLISH_PHANTOM_PHRASES + VIETNAMESE_PHANTOM_PHRASES

DEFAULT_MAX_OPEN_TAIL_WORDS = 12
DEFAULT_LOOP_MAX_NGRAM = 6
DEFAULT_LOOP_MIN_REPEATS = 4
DEFAULT_SEGMENT_LOOP_MIN_REPEATS = 3
DEFAULT_MIN_SPEECH_RATIO = 0.1
DEFAULT_SPEECH_PADDING = 0.3
DEFAULT_NO_SPEECH_THRESHOLD = 0.6
DEFAULT_LOW_PROBABILITY = 0.4

#: Sentence-final punctuation: a phantom phrase may only start after one of these.
_SENTENCE_END = frozenset(".!?…。")
_QUOTES = "\"'”’»)]"


@dataclass(frozen=True, slots=True)
class GuardOptions:
    """Thresholds of the hallucination guard."""

    #: Phrases to drop when they form a whole segment or its last sentence.
    phrases: tuple[PhantomPhrase, ...] = DEFAULT_PHANTOM_PHRASES
    #: Open-ended phrases ("Subtitles by …") match only with at most this many words after them.
    max_open_tail_words: int = DEFAULT_MAX_OPEN_TAIL_WORDS
    #: Longest word n-gram checked for loops.
    loop_max_ngram: int = DEFAULT_LOOP_MAX_NGRAM
    #: An n-gram repeated this many times in a row is a loop; one occurrence is kept.
    loop_min_repeats: int = DEFAULT_LOOP_MIN_REPEATS
    #: The same segment text this many times in a row is a loop (for loops longer than the n-grams).
    segment_loop_min_repeats: int = DEFAULT_SEGMENT_LOOP_MIN_REPEATS
    #: A segment is over silence when less than this share of its span is speech.
    min_speech_ratio: float = DEFAULT_MIN_SPEECH_RATIO
    #: Speech intervals are widened by this many seconds each side: detectors clip word edges
    #: and word times are approximate.
    speech_padding: float = DEFAULT_SPEECH_PADDING
    #: Whisper's own default: a segment with ``no_speech_prob`` at or above this may be empty…
    no_speech_threshold: float = DEFAULT_NO_SPEECH_THRESHOLD
    #: …and is dropped when its words' mean probability is below this (roughly whisper's
    #: average log-probability cut of -1.0). Segments without words are never dropped this way.
    low_probability_threshold: float = DEFAULT_LOW_PROBABILITY

    def __post_init__(self) -> None:
        _require(self.max_open_tail_words >= 0, "max_open_tail_words", self.max_open_tail_words, "must be >= 0")
        _require(self.loop_max_ngram >= 1, "loop_max_ngram", self.loop_max_ngram, "must be >= 1")
        _require(self.loop_min_repeats >= 2, "loop_min_repeats", self.loop_min_repeats, "must be >= 2")
        _require(
            self.segment_loop_min_repeats >= 2,
            "segment_loop_min_repeats",
            self.segment_loop_min_repeats,
            "must be >= 2",
        )
        for name in ("min_speech_ratio", "no_speech_threshold", "low_probability_threshold"):
            value = getattr(self, name)
            _require(0.0 <= value <= 1.0, name, value, "must be between 0 and 1")
        _require(
            math.isfinite(self.speech_padding) and self.speech_padding >= 0,
            "speech_padding",
            self.speech_padding,
            "must be a number of seconds >= 0",
        )


def _require(ok: bool, name: str, value: object, detail: str) -> None:
    if not ok:
        raise InvalidGuardOptionError(detail, name=name, value=value)


@dataclass(frozen=True, slots=True)
class DroppedText:
    """One piece of text the guard removed."""

    kind: DropKind
    start: float
    end: float
    text: str

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind.value, "start": round(self.start, 3), "end": round(self.end, 3), "text": self.text}


@dataclass(slots=True)
class GuardReport:
    """What the guard removed from one result: counts per kind and the texts."""

    #: Number of removals per :class:`DropKind` value (every kind present, zero included).
    counts: dict[str, int] = field(default_factory=lambda: {k.value: 0 for k in DropKind})
    dropped: list[DroppedText] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def record(self, kind: DropKind, words: Sequence[Word]) -> None:
        if not words:
            return
        self.counts[kind.value] = self.counts.get(kind.value, 0) + 1
        text = join_words(w.text for w in words)
        self.dropped.append(DroppedText(kind, words[0].start, max(w.end for w in words), text))
        log.debug("guard dropped %s: %r", kind.value, text)

    def merged(self, other: GuardReport) -> GuardReport:
        """A new report holding this one's removals and ``other``'s."""
        counts = dict(self.counts)
        for kind, n in other.counts.items():
            counts[kind] = counts.get(kind, 0) + n
        return GuardReport(counts=counts, dropped=[*self.dropped, *other.dropped])

    def to_dict(self) -> dict[str, Any]:
        return {"counts": dict(self.counts), "dropped": [d.to_dict() for d in self.dropped]}


@dataclass(slots=True)
class _WorkSegment:
    """A segment being cleaned: its (possibly estimated) words and which survive."""

    original: Segment
    words: list[Word]
    keep: list[bool]

    @property
    def kept_words(self) -> list[Word]:
        return [w for w, k in zip(self.words, self.keep) if k]

    def drop_all(self) -> list[Word]:
        gone = self.kept_words
        self.keep = [False] * len(self.words)
        return gone

    def rebuilt(self) -> Segment | None:
        if all(self.keep):
            return self.original
        kept = self.kept_words
        if not kept:
            return None
        start = self.original.start if self.keep[0] else kept[0].start
        end = self.original.end if self.keep[-1] else kept[-1].end
        return replace(
            self.original,
            start=start,
            end=max(end, start),
            text=join_words(w.text for w in kept),
            words=tuple(kept) if self.original.words else (),
        )


class HallucinationGuard:
    """Cleans one recognition result; stateless, so one guard serves every chunk."""

    def __init__(self, options: GuardOptions | None = None) -> None:
        self.options = options or GuardOptions()
        phrases = [(p.tokens, p.open_ended) for p in self.options.phrases]
        # Longest first so that "Thanks for watching and see you next time" wins over its prefix.
        self._phrases = sorted((p for p in phrases if p[0]), key=lambda p: -len(p[0]))

    def clean(
        self,
        result: RecognitionResult,
        *,
        speech: Sequence[tuple[float, float]] | None = None,
    ) -> tuple[RecognitionResult, GuardReport]:
        """``result`` without hallucinated text, and what was dropped.

        ``speech`` lists the intervals (start, end) that hold speech, on the same
        timeline as ``result`` (relative to the chunk). ``None`` means unknown and
        skips the silence check; an empty list means the audio is all silence.
        """
        intervals = None if speech is None else validate_speech_intervals(speech)
        report = GuardReport()
        work: list[_WorkSegment] = []
        for segment in result.segments:
            words = list(estimate_words(segment))
            if words:  # a segment without any text has nothing to guard and is dropped
                work.append(_WorkSegment(segment, words, [True] * len(words)))
        for seg in work:
            if intervals is not None and self._over_silence(seg.original, intervals):
                report.record(DropKind.SILENCE, seg.drop_all())
            elif self._model_hears_nothing(seg.original):
                report.record(DropKind.NO_SPEECH, seg.drop_all())
            else:
                self._strip_phantoms(seg, report)
        self._collapse_segment_loops(work, report)
        self._collapse_ngram_loops(work, report)
        segments = tuple(s for s in (w.rebuilt() for w in work) if s is not None)
        report.dropped.sort(key=lambda d: d.start)
        if report.total:
            log.info("hallucination guard dropped %s", {k: v for k, v in report.counts.items() if v})
        return replace(result, segments=segments), report

    # --- silence --------------------------------------------------------------

    def _over_silence(self, segment: Segment, speech: list[tuple[float, float]]) -> bool:
        pad = self.options.speech_padding
        length = max(segment.end - segment.start, 1e-3)
        heard = 0.0
        for start, end in speech:
            heard += max(0.0, min(segment.end, end + pad) - max(segment.start, start - pad))
        return heard / length < self.options.min_speech_ratio

    def _model_hears_nothing(self, segment: Segment) -> bool:
        if segment.no_speech_prob is None or not segment.words:
            return False
        if segment.no_speech_prob < self.options.no_speech_threshold:
            return False
        mean = sum(w.probability for w in segment.words) / len(segment.words)
        return mean < self.options.low_probability_threshold

    # --- phantom phrases --------------------------------------------------------

    def _strip_phantoms(self, seg: _WorkSegment, report: GuardReport) -> None:
        while True:
            # Positions of the kept words that carry letters (punctuation tokens do not count).
            positions = [i for i, (w, k) in enumerate(zip(seg.words, seg.keep)) if k and normalize_token(w.text)]
            tokens = [normalize_token(seg.words[i].text) for i in positions]
            begin = self._phantom_start(seg, positions, tokens)
            if begin is None:
                return
            first = positions[begin]
            gone = [w for i, (w, k) in enumerate(zip(seg.words, seg.keep)) if k and i >= first]
            for i in range(first, len(seg.words)):
                seg.keep[i] = False
            report.record(DropKind.PHANTOM_PHRASE, gone)

    def _phantom_start(self, seg: _WorkSegment, positions: list[int], tokens: list[str]) -> int | None:
        """Index into ``tokens`` where a final phantom phrase starts, the earliest if several."""
        best: int | None = None
        n = len(tokens)
        for phrase, open_ended in self._phrases:
            size = len(phrase)
            if open_ended:
                starts: Iterable[int] = range(max(0, n - size - self.options.max_open_tail_words), n - size + 1)
            else:
                starts = (n - size,) if n >= size else ()
            for begin in starts:
                if best is not None and begin >= best:
                    break
                if tuple(tokens[begin : begin + size]) == phrase and _starts_sentence(seg, positions, begin):
                    best = begin
                    break
        return best

    # --- loops ------------------------------------------------------------------

    def _collapse_segment_loops(self, work: list[_WorkSegment], report: GuardReport) -> None:
        run_start = 0
        texts = [_segment_key(w) for w in work]
        for i in range(1, len(work) + 1):
            if i < len(work) and texts[i] and texts[i] == texts[run_start]:
                continue
            if i - run_start >= self.options.segment_loop_min_repeats:
                gone: list[Word] = []
                for seg in work[run_start + 1 : i]:
                    gone += seg.drop_all()
                report.record(DropKind.REPETITION, gone)
            run_start = i

    def _collapse_ngram_loops(self, work: list[_WorkSegment], report: GuardReport) -> None:
        # One flat sequence over all segments: loops often run across segment borders.
        flat = [(s, i) for s in work for i, k in enumerate(s.keep) if k]
        letters = [p for p, (s, i) in enumerate(flat) if normalize_token(s.words[i].text)]
        tokens = [normalize_token(flat[p][0].words[flat[p][1]].text) for p in letters]
        pos = 0
        while pos < len(tokens):
            size, repeats = self._loop_at(tokens, pos)
            if not size:
                pos += 1
                continue
            # Remove from the second occurrence up to the next word after the loop,
            # so the punctuation closing the loop's last occurrence goes too.
            first = letters[pos + size]
            after = pos + repeats * size
            stop = letters[after] if after < len(letters) else len(flat)
            gone = []
            for seg, i in flat[first:stop]:
                gone.append(seg.words[i])
                seg.keep[i] = False
            report.record(DropKind.REPETITION, gone)
            pos = after

    def _loop_at(self, tokens: list[str], pos: int) -> tuple[int, int]:
        """(n-gram size, repeats) of the shortest loop starting at ``pos``, or (0, 0)."""
        for size in range(1, self.options.loop_max_ngram + 1):
            gram = tokens[pos : pos + size]
            if len(gram) < size:
                break
            repeats = 1
            while tokens[pos + repeats * size : pos + (repeats + 1) * size] == gram:
                repeats += 1
            if repeats >= self.options.loop_min_repeats:
                return size, repeats
        return 0, 0


def _starts_sentence(seg: _WorkSegment, positions: list[int], begin: int) -> bool:
    """True when the token at ``begin`` starts the segment or follows the end of a sentence."""
    index = positions[begin]
    before = [w.text for w, k in zip(seg.words[:index], seg.keep[:index]) if k]
    if not before:
        return True
    last = before[-1].rstrip(_QUOTES)
    return bool(last) and last[-1] in _SENTENCE_END


def _segment_key(seg: _WorkSegment) -> str:
    return " ".join(t for t in (normalize_token(w.text) for w in seg.kept_words) if t)


def validate_speech_intervals(speech: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """``speech`` as a list of (start, end) floats; raises InvalidSpeechIntervalError on anything else."""
    intervals: list[tuple[float, float]] = []
    for item in speech:
        try:
            start, end = (float(v) for v in item)
        except (TypeError, ValueError) as exc:
            raise InvalidSpeechIntervalError("expected a (start, end) pair of seconds", interval=repr(item)) from exc
        if not (math.isfinite(start) and math.isfinite(end)) or end < start:
            raise InvalidSpeechIntervalError("end must not be before start", interval=repr(item))
        intervals.append((start, end))
    return intervals
