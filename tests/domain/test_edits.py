"""Corrections laid over a transcript: matched by start time, word times kept where they can be."""

from __future__ import annotations

from sttdesk.domain.exporters import export
from sttdesk.domain.records import SegmentEdit
from sttdesk.domain.transcript import Segment, Transcript, Word
from sttdesk.domain.edits import apply_segment_edits, edited_segment


def words(*items: tuple[float, float, str]) -> tuple[Word, ...]:
    return tuple(Word(a, b, t) for a, b, t in items)


SEGMENTS = (
    Segment(0.0, 2.0, "Helo world.", words((0.0, 1.0, "Helo"), (1.0, 2.0, "world."))),
    Segment(3.0, 5.0, "Second one.", words((3.0, 4.0, "Second"), (4.0, 5.0, "one."))),
)
TRANSCRIPT = Transcript(segments=SEGMENTS, language="en", duration=6.0)


def edit(index: int, start: float, text: str, at: float = 1.0) -> SegmentEdit:
    return SegmentEdit(job_id="j", segment_index=index, segment_start=start, text=text, edited_at=at)


def test_same_word_count_keeps_word_times_otherwise_they_are_dropped() -> None:
    fixed = edited_segment(SEGMENTS[0], "Hello world.")
    assert [(w.start, w.text) for w in fixed.words] == [(0.0, "Hello"), (1.0, "world.")]
    longer = edited_segment(SEGMENTS[0], "Hello there, world.")
    assert longer.words == () and longer.text == "Hello there, world." and longer.end == 2.0


def test_edits_match_by_start_time_even_after_positions_moved() -> None:
    # The edit was made when the second segment was the first one shown (index 0).
    applied = apply_segment_edits(TRANSCRIPT, [edit(0, 3.0, "Second one, corrected.")])
    assert applied.edited == frozenset({1})
    assert [s.text for s in applied.transcript.segments] == ["Helo world.", "Second one, corrected."]


def test_stale_edits_are_left_out_and_the_newest_edit_wins() -> None:
    stale = edit(0, 1.5, "No segment starts here any more.")
    applied = apply_segment_edits(TRANSCRIPT, [stale, edit(0, 0.0, "Old.", at=1), edit(0, 0.01, "New.", at=2)])
    assert applied.edited == frozenset({0})
    assert applied.transcript.segments[0].text == "New."
    unchanged = apply_segment_edits(TRANSCRIPT, [stale])
    assert unchanged.transcript is TRANSCRIPT and unchanged.edited == frozenset()


def test_exports_carry_the_correction() -> None:
    result = apply_segment_edits(TRANSCRIPT, [edit(0, 0.0, "Hello world.")]).transcript
    assert "Hello world." in export(result, "srt")
    assert "Helo" not in export(result, "srt")
