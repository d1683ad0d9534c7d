"""Chunk spans: the pieces a recording is cut into for transcription."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class CutKind(str, Enum):
    """How the end of a chunk was chosen."""

    #: Cut in the middle of a silence: nothing is heard twice.
    SILENCE = "silence"
    #: Cut in a pause shorter than a silence, between two sentences of one stretch of
    #: speech; the next chunk starts a few seconds earlier so that whisper hears the
    #: sentence before the one it opens with, and the merge resolves the overlap.
    PAUSE = "pause"
    #: No silence within the maximum length: cut mid-speech; the next chunk overlaps.
    FORCED = "forced"
    #: Fixed-size fallback when silence detection cannot be used; overlaps too.
    FIXED = "fixed"
    #: The chunk runs to the end of the recording.
    END = "end"


@dataclass(frozen=True, slots=True)
class ChunkSpan:
    """A stretch of the source audio sent to an engine on its own.

    ``overlap_before`` seconds at the start repeat the end of the previous chunk
    (0 after a silence cut, >0 after pause, forced and fixed cuts); the merge
    resolves them.
    """

    index: int
    start: float
    end: float
    cut: CutKind = CutKind.END
    overlap_before: float = 0.0

    @property
    def duration(self) -> float:
        return self.end - self.start

    def to_dict(self) -> dict[str, object]:
        return {
            "index": self.index,
            "start": round(self.start, 3),
            "end": round(self.end, 3),
            "cut": self.cut.value,
            "overlap_before": round(self.overlap_before, 3),
        }

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> ChunkSpan:
        return cls(
            index=int(data["index"]),  # type: ignore[arg-type]
            start=float(data["start"]),  # type: ignore[arg-type]
            end=float(data["end"]),  # type: ignore[arg-type]
            cut=CutKind(data.get("cut", "end")),
            overlap_before=float(data.get("overlap_before", 0.0)),  # type: ignore[arg-type]
        )
