"""Transcript values: words, segments, one recognition result, a whole transcript.

Times are seconds as floats. Inside a :class:`RecognitionResult` they are
relative to the start of the audio that was recognised (a chunk); inside a
:class:`Transcript` they are on the source file's timeline.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any


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
