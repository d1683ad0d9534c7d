"""Transcript values: words, segments, one recognition result, a whole transcript.

Times are seconds as floats. Inside a :class:`RecognitionResult` they are
relative to the start of the audio that was recognised (a chunk); inside a
:class:`Transcript` they are on the source file's timeline.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from .errors import PermanentError


@dataclass(frozen=True, slots=True)
class Word:
    """One spoken word with its time span and the model's confidence."""

    start: float
    end: float
    #: The word without surrounding whitespace; may carry punctuation ("country.").
    text: str
    #: Mean token probability of the word, 0..1.
    probability: float = 1.0

    def shifted(self, offset: float) -> Word:
        """The same word moved by ``offset`` seconds."""
        return replace(self, start=self.start + offset, end=self.end + offset)

    def to_dict(self) -> dict[str, Any]:
        return {
            "start": round(self.start, 3),
            "end": round(self.end, 3),
            "text": self.text,
            "probability": round(self.probability, 4),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Word:
        return cls(
            start=float(data["start"]),
            end=float(data["end"]),
            text=str(data["text"]),
            probability=float(data.get("probability", 1.0)),
        )


@dataclass(frozen=True, slots=True)
class Segment:
    """A run of speech (about a sentence) with its words."""

    start: float
    end: float
    #: The segment's text, stripped; words joined the way the language writes them.
    text: str
    words: tuple[Word, ...] = ()
    #: The model's probability that this stretch holds no speech, if known.
    no_speech_prob: float | None = None

    def shifted(self, offset: float) -> Segment:
        """The same segment, words included, moved by ``offset`` seconds."""
        return replace(
            self,
            start=self.start + offset,
            end=self.end + offset,
            words=tuple(w.shifted(offset) for w in self.words),
        )

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "start": round(self.start, 3),
            "end": round(self.end, 3),
            "text": self.text,
            "words": [w.to_dict() for w in self.words],
        }
        if self.no_speech_prob is not None:
            data["no_speech_prob"] = round(self.no_speech_prob, 4)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Segment:
        nsp = data.get("no_speech_prob")
        return cls(
            start=float(data["start"]),
            end=float(data["end"]),
            text=str(data["text"]),
            words=tuple(Word.from_dict(w) for w in data.get("words", ())),
            no_speech_prob=None if nsp is None else float(nsp),
        )


@dataclass(frozen=True, slots=True)
class RecognitionResult:
    """What an engine returns for one piece of audio (times relative to it)."""

    segments: tuple[Segment, ...]
    #: The language spoken: the one requested, or the one detected for "auto".
    language: str
    #: Probability of the detected language, when the engine detected it.
    language_probability: float | None = None
    #: Length of the audio that was recognised, in seconds.
    audio_seconds: float = 0.0
    #: Where the time went, in seconds (e.g. "load", "transcribe", "total").
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return " ".join(s.text for s in self.segments if s.text).strip()

    def to_dict(self) -> dict[str, Any]:
        return {
            "segments": [s.to_dict() for s in self.segments],
            "language": self.language,
            "language_probability": self.language_probability,
            "audio_seconds": round(self.audio_seconds, 3),
            "timings": {k: round(v, 4) for k, v in self.timings.items()},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RecognitionResult:
        lp = data.get("language_probability")
        return cls(
            segments=tuple(Segment.from_dict(s) for s in data.get("segments", ())),
            language=str(data.get("language", "")),
            language_probability=None if lp is None else float(lp),
            audio_seconds=float(data.get("audio_seconds", 0.0)),
            timings={str(k): float(v) for k, v in data.get("timings", {}).items()},
        )


# --- helpers shared by the merge, the guard and the exporters ----------------

#: Tokens made only of these characters attach to the word before them.
_CLOSING_PUNCTUATION = frozenset(",.;:!?…)]}»”’%")


def join_words(texts: Iterable[str]) -> str:
    """Join word texts into a line the way English and Vietnamese are written.

    Both languages separate words (Vietnamese: syllables) with single spaces;
    a token made only of closing punctuation ("," "?") attaches to the word
    before it, since engines sometimes emit punctuation as its own token.
    """
    parts: list[str] = []
    for raw in texts:
        text = raw.strip()
        if not text:
            continue
        if parts and all(ch in _CLOSING_PUNCTUATION for ch in text):
            parts[-1] += text
        else:
            parts.append(text)
    return " ".join(parts)


def segment_from_words(words: Sequence[Word], *, no_speech_prob: float | None = None) -> Segment:
    """A segment spanning ``words`` exactly, its text rebuilt from them."""
    if not words:
        raise ValueError("a segment needs at least one word")
    return Segment(
        start=words[0].start,
        end=max(w.end for w in words),
        text=join_words(w.text for w in words),
        words=tuple(words),
        no_speech_prob=no_speech_prob,
    )


# --- the merged transcript of a whole file -----------------------------------


class InvalidTranscriptDataError(PermanentError):
    """Stored or received transcript data is malformed and cannot be read."""

    code = "invalid_transcript"
    message_en = "The transcript data is damaged or in an unknown format: {detail}"
    message_vi = "Dữ liệu bản chép lời bị hỏng hoặc có định dạng không rõ: {detail}"


#: Error code of a :class:`Gap` for a chunk that is not finished yet.
PENDING_GAP_CODE = "pending"
PENDING_GAP_MESSAGE_EN = "Not transcribed yet."
PENDING_GAP_MESSAGE_VI = "Chưa được chép lời."


@dataclass(frozen=True, slots=True)
class Gap:
    """A stretch of the file with no text because its chunk failed (or is not done yet)."""

    #: Where the missing text begins and ends on the file's timeline, in seconds.
    start: float
    end: float
    #: Index of the chunk whose text is missing.
    chunk_index: int
    #: The failure's error code, or :data:`PENDING_GAP_CODE` while the chunk is still running.
    error_code: str
    message_en: str
    message_vi: str

    @property
    def pending(self) -> bool:
        """True when the text is missing only because the chunk is not finished yet."""
        return self.error_code == PENDING_GAP_CODE

    def message(self, language: str = "en") -> str:
        """The reason for the gap in a user's language ("en" or "vi")."""
        return self.message_vi if language == "vi" else self.message_en

    def to_dict(self) -> dict[str, Any]:
        return {
            "start": round(self.start, 3),
            "end": round(self.end, 3),
            "chunk_index": self.chunk_index,
            "error_code": self.error_code,
            "message_en": self.message_en,
            "message_vi": self.message_vi,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Gap:
        return cls(
            start=float(data["start"]),
            end=float(data["end"]),
            chunk_index=int(data["chunk_index"]),
            error_code=str(data["error_code"]),
            message_en=str(data.get("message_en", "")),
            message_vi=str(data.get("message_vi", "")),
        )


@dataclass(frozen=True, slots=True)
class Transcript:
    """The merged transcript of one source file, times on the file's timeline."""

    segments: tuple[Segment, ...]
    #: The language of the text ("en", "vi"); the detected one for auto-detect jobs.
    language: str
    #: Length of the source recording in seconds.
    duration: float
    #: The source file's name (no folders), for exports and the viewer.
    source_name: str = ""
    #: The model that produced the text (catalog name).
    model: str = ""
    #: Hallucinations the guard removed, counted by kind (see :mod:`.hallucination`).
    dropped: dict[str, int] = field(default_factory=dict)
    #: Where text is missing, in time order: failed chunks, and pending ones in a partial view.
    gaps: tuple[Gap, ...] = ()
    #: True when every chunk was transcribed; False for a partial or failed job.
    complete: bool = True

    @property
    def text(self) -> str:
        """All the text, segments joined by spaces."""
        return " ".join(s.text for s in self.segments if s.text).strip()

    @property
    def words(self) -> tuple[Word, ...]:
        """Every word of every segment, in order."""
        return tuple(w for s in self.segments for w in s.words)

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.source_name,
            "duration": round(self.duration, 3),
            "language": self.language,
            "model": self.model,
            "complete": self.complete,
            "segments": [s.to_dict() for s in self.segments],
            "gaps": [g.to_dict() for g in self.gaps],
            "dropped": {str(k): int(v) for k, v in sorted(self.dropped.items())},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Transcript:
        """Read :meth:`to_dict` output; malformed data raises :class:`InvalidTranscriptDataError`."""
        if not isinstance(data, dict):
            raise InvalidTranscriptDataError(f"expected an object, got {type(data).__name__}")
        try:
            transcript = cls(
                segments=tuple(Segment.from_dict(s) for s in data.get("segments", ())),
                language=str(data.get("language", "")),
                duration=float(data["duration"]),
                source_name=str(data.get("file", "")),
                model=str(data.get("model", "")),
                dropped={str(k): int(v) for k, v in dict(data.get("dropped", {})).items()},
                gaps=tuple(Gap.from_dict(g) for g in data.get("gaps", ())),
                complete=bool(data.get("complete", True)),
            )
        except KeyError as exc:
            raise InvalidTranscriptDataError(f"missing field {exc}") from exc
        except (TypeError, ValueError, AttributeError) as exc:
            raise InvalidTranscriptDataError(str(exc)) from exc
        _check_times(transcript)
        return transcript


def _check_times(transcript: Transcript) -> None:
    """Reject times no recording can have (negative, reversed, not finite)."""
    if not math.isfinite(transcript.duration) or transcript.duration < 0:
        raise InvalidTranscriptDataError(f"bad duration {transcript.duration!r}")
    spans: list[tuple[float, float]] = [(s.start, s.end) for s in transcript.segments]
    spans += [(w.start, w.end) for s in transcript.segments for w in s.words]
    spans += [(g.start, g.end) for g in transcript.gaps]
    for start, end in spans:
        if not (math.isfinite(start) and math.isfinite(end)) or start < 0 or end < start:
            raise InvalidTranscriptDataError(f"bad time span {start!r}..{end!r}")


def estimate_words(segment: Segment) -> tuple[Word, ...]:
    """The segment's words; for a segment without word times, words spread over its span.

    Engines without word timing still give segment times. Spreading the text's
    whitespace-separated tokens over the segment in proportion to their length
    (plus one for the space) is the usual estimate, good enough to cut subtitles
    and seams. Callers tell estimates apart by ``not segment.words``.
    """
    if segment.words:
        return segment.words
    tokens = segment.text.split()
    if not tokens:
        return ()
    weights = [len(t) + 1 for t in tokens]
    total = float(sum(weights))
    span = max(segment.end - segment.start, 0.0)
    words: list[Word] = []
    elapsed = 0
    for token, weight in zip(tokens, weights):
        start = segment.start + span * elapsed / total
        elapsed += weight
        words.append(Word(start=start, end=segment.start + span * elapsed / total, text=token))
    return tuple(words)
