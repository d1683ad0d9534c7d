"""Users' corrections laid over a merged transcript.

The job service applies them whenever it hands out a transcript, so the
desktop app, CLI exports and the REST API all give the corrected text.

An edit names the segment's position and start time when it was made. While a
job runs, segments before it may still arrive and shift positions, so an edit
is matched by start time (within :data:`EDIT_MATCH_SECONDS`), nearest to its
recorded position; an edit whose segment no longer exists is left out.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from .records import SegmentEdit
from .transcript import Segment, Transcript

#: How far a segment's start may move (re-merged seams) and still take its edit.
EDIT_MATCH_SECONDS = 0.05


def edited_segment(segment: Segment, text: str) -> Segment:
    """``segment`` with the user's ``text``.

    Word times are kept when the edit has as many words as the segment (a
    corrected spelling keeps its subtitle timing); otherwise they are dropped
    and exporters spread the new words over the segment's span.
    """
    text = text.strip()
    tokens = text.split()
    if segment.words and len(tokens) == len(segment.words):
        words = tuple(replace(word, text=token) for word, token in zip(segment.words, tokens))
    else:
        words = ()
    return replace(segment, text=text, words=words)


def match_edits(segments: tuple[Segment, ...], edits: Iterable[SegmentEdit]) -> dict[int, SegmentEdit]:
    """Segment position → the edit that applies to it."""
    matched: dict[int, SegmentEdit] = {}
    for edit in edits:
        candidates = [
            position for position, segment in enumerate(segments)
            if abs(segment.start - edit.segment_start) <= EDIT_MATCH_SECONDS
        ]
        if not candidates:
            continue
        position = min(candidates, key=lambda p: abs(p - edit.segment_index))
        previous = matched.get(position)
        if previous is None or edit.edited_at >= previous.edited_at:
            matched[position] = edit
    return matched


@dataclass(frozen=True, slots=True)
class EditedTranscript:
    """A transcript with the user's corrections applied, and which segments they changed."""

    transcript: Transcript
    #: Positions (in ``transcript.segments``) of the corrected segments.
    edited: frozenset[int]


def apply_segment_edits(transcript: Transcript, edits: Iterable[SegmentEdit]) -> EditedTranscript:
    """The transcript with the edits applied, and the positions of the edited segments."""
    matched = match_edits(transcript.segments, edits)
    if not matched:
        return EditedTranscript(transcript, frozenset())
    segments = tuple(
        edited_segment(segment, matched[position].text) if position in matched else segment
        for position, segment in enumerate(transcript.segments)
    )
    return EditedTranscript(replace(transcript, segments=segments), frozenset(matched))
