"""Transcript values: the merged Transcript, gaps, word helpers and their round trips."""

from __future__ import annotations

import itertools
import json
import unicodedata

import pytest

from sttdesk.domain.transcript import (
    Gap,
    InvalidTranscriptDataError,
    RecognitionResult,
    Segment,
    Transcript,
    Word,
    estimate_words,
    join_words,
    segment_from_words,
)


def _transcript() -> Transcript:
    words = (Word(0.0, 0.4, "Xin", 0.9), Word(0.5, 0.9, "chào,", 0.8), Word(1.0, 1.6, "Việt", 0.95))
    return Transcript(
        segments=(segment_from_words(words, no_speech_prob=0.01), Segment(5.0, 6.0, "Không có thời gian.")),
        language="vi",
        duration=60.0,
        source_name="họp.m4a",
        model="base-q8_0",
        dropped={"phantom_phrase": 2},
        gaps=(Gap(30.0, 54.0, 1, "engine_crashed", "The engine stopped.", "Bộ máy dừng."),),
        complete=False,
    )


def test_transcript_round_trips_through_json() -> None:
    transcript = _transcript()
    data = json.loads(json.dumps(transcript.to_dict(), ensure_ascii=False))
    back = Transcript.from_dict(data)
    assert back == transcript
    assert back.gaps[0].message("vi") == "Bộ máy dừng."
    assert not back.gaps[0].pending


def test_text_and_words_follow_segment_order() -> None:
    transcript = _transcript()
    assert transcript.text == "Xin chào, Việt Không có thời gian."
    assert [w.text for w in transcript.words] == ["Xin", "chào,", "Việt"]


def test_join_words_attaches_punctuation_tokens() -> None:
    assert join_words([" Hello", ",", "world ", "", "?"]) == "Hello, world?"
    assert join_words(["Tiếng", "Việt", "."]) == "Tiếng Việt."


def test_segment_from_words_spans_its_words() -> None:
    segment = segment_from_words([Word(1.0, 1.5, "a"), Word(1.6, 2.5, "b")])
    assert (segment.start, segment.end, segment.text) == (1.0, 2.5, "a b")
    with pytest.raises(ValueError):
        segment_from_words([])


def test_estimate_words_spreads_text_over_the_segment() -> None:
    segment = Segment(10.0, 14.0, "aaa b cc")
    words = estimate_words(segment)
    assert [w.text for w in words] == ["aaa", "b", "cc"]
    assert words[0].start == pytest.approx(10.0) and words[-1].end == pytest.approx(14.0)
    # Longer words get more time; the words tile the segment without overlap.
    assert words[0].end - words[0].start > words[1].end - words[1].start
    assert all(a.end == pytest.approx(b.start) for a, b in itertools.pairwise(words))
    timed = segment_from_words([Word(0, 1, "x")])
    assert estimate_words(timed) == timed.words
    assert estimate_words(Segment(0, 1, "  ")) == ()


@pytest.mark.parametrize(
    "data",
    [
        [],
        {"segments": []},
        {"duration": "long"},
        {"duration": 5, "segments": [{"start": 0, "text": "x"}]},
        {"duration": 5, "segments": [{"start": 2, "end": 1, "text": "x"}]},
        {"duration": -1},
        {"duration": 5, "gaps": [{"start": 0, "end": "nan", "chunk_index": 0, "error_code": "x"}]},
        {"duration": 5, "dropped": {"repetition": "many"}},
    ],
)
def test_malformed_transcript_data_is_rejected(data: object) -> None:
    with pytest.raises(InvalidTranscriptDataError) as info:
        Transcript.from_dict(data)  # type: ignore[arg-type]
    assert info.value.code == "invalid_transcript"
    assert info.value.user_message("vi").startswith("Dữ liệu bản chép lời")


def test_existing_result_api_is_unchanged() -> None:
    result = RecognitionResult(
        segments=(Segment(0.0, 1.0, "hello", (Word(0.0, 1.0, "hello", 0.5),)),), language="en", audio_seconds=1.0
    )
    assert RecognitionResult.from_dict(result.to_dict()) == result
    assert result.text == "hello"
    assert result.segments[0].shifted(2.0).words[0].start == 2.0
    assert unicodedata.is_normalized("NFC", _transcript().segments[0].text)
