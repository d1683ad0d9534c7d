"""Exporters: TXT, JSON, SRT and VTT, parsed back with real subtitle libraries."""

from __future__ import annotations

import html
import itertools
import json
import os
import random
import subprocess
import unicodedata
from datetime import UTC, datetime
from pathlib import Path

import pytest
import srt
import webvtt

from sttdesk.domain.chunks import ChunkSpan, CutKind
from sttdesk.domain.exporters import (
    EXPORTERS,
    ExportDiskFullError,
    ExportWriteError,
    InvalidExportOptionError,
    UnknownExportFormatError,
    available_formats,
    export,
    from_json,
    get_format,
    write_export,
)
from sttdesk.domain.exporters.clock import clock
from sttdesk.domain.exporters.cues import CueOptions, layout_cues
from sttdesk.domain.merge import TranscriptAssembler
from sttdesk.domain.textnorm import normalize_text
from sttdesk.domain.transcript import Gap, InvalidTranscriptDataError, Segment, Transcript, Word, segment_from_words
from tests.conftest import SHARED_AUDIO, read_transcripts

EN_DATA = Path(__file__).resolve().parent.parent / "data" / "en"
CREATED = datetime(2025, 3, 1, 8, 30, tzinfo=UTC)
#: Vietnamese sentences written for these tests (the VIVOS texts are read from ../shared when present).
VI_SENTENCES = [
    "Xin chào các bạn, hôm nay chúng ta sẽ nói về kế hoạch phát triển sản phẩm mới của công ty.",
    "Phòng kỹ thuật đề nghị tăng ngân sách để thuê thêm ba kỹ sư phần mềm vào quý tới.",
    "Mọi người có ý kiến gì không?",
    "Vâng.",
    "Chúng tôi sẽ gửi biên bản cuộc họp qua thư điện tử trước thứ sáu tuần này.",
]


def timed_transcript(sentences: list[str], *, language: str, seed: int = 1, word_times: bool = True) -> Transcript:
    """Sentences spoken one after another with plausible word times, one segment each."""
    rng = random.Random(seed)
    t = 0.3
    segments = []
    for sentence in sentences:
        words = []
        for token in sentence.split():
            length = 0.1 + 0.05 * len(token)
            words.append(Word(t, t + length, token, round(rng.uniform(0.5, 1.0), 3)))
            t += length + rng.choice((0.03, 0.08, 0.15, 0.3))
        segment = segment_from_words(words, no_speech_prob=0.02)
        segments.append(segment if word_times else Segment(segment.start, segment.end, segment.text))
        t += rng.choice((0.2, 0.6, 2.5))
    return Transcript(tuple(segments), language, duration=t + 1.0, source_name="test.wav", model="base-q8_0")


@pytest.fixture(scope="module")
def english() -> Transcript:
    return timed_transcript([text.capitalize() + "." for text in read_transcripts(EN_DATA).values()], language="en")


@pytest.fixture(scope="module")
def vietnamese() -> Transcript:
    folder = SHARED_AUDIO / "vi"
    sentences = list(VI_SENTENCES)
    if (folder / "transcripts.tsv").is_file():
        sentences += [text.capitalize() + "." for text in list(read_transcripts(folder).values())[:40]]
    # Decomposed input (as some editors save it) must still come out NFC.
    return timed_transcript([unicodedata.normalize("NFD", s) for s in sentences], language="vi", seed=2)


def _ms(stamp: str) -> int:
    hours, minutes, rest = stamp.replace(",", ".").split(":")
    seconds, millis = rest.split(".")
    return ((int(hours) * 60 + int(minutes)) * 60 + int(seconds)) * 1000 + int(millis)


def parse_srt(text: str) -> list[tuple[int, int, list[str]]]:
    cues = list(srt.parse(text))
    assert [c.index for c in cues] == list(range(1, len(cues) + 1))
    return [(c.start // _ONE_MS, c.end // _ONE_MS, c.content.split("\n")) for c in cues]


def parse_vtt(text: str) -> list[tuple[int, int, list[str]]]:
    assert text.startswith("WEBVTT\n\n")
    return [
        (_ms(c.start), _ms(c.end), [html.unescape(line) for line in c.lines]) for c in webvtt.from_string(text).captions
    ]


_ONE_MS = srt.timedelta(milliseconds=1)
PARSERS = {"srt": parse_srt, "vtt": parse_vtt}


def check_cues(
    cues: list[tuple[int, int, list[str]]],
    transcript: Transcript,
    options: CueOptions | None = None,
    *,
    broken_words: bool = False,
) -> None:
    """Every rule of the layout, checked on parsed-back cues."""
    options = options or CueOptions()
    assert cues
    for start, end, lines in cues:
        assert 1 <= len(lines) <= options.max_lines
        assert all(0 < len(line) <= options.max_line_chars for line in lines), lines
        assert all(line == line.strip() for line in lines)
        assert 0 < end - start <= options.max_cue_seconds * 1000
    for (s1, e1, _), (s2, _, _) in itertools.pairwise(cues):
        assert e1 <= s2, "cues overlap"
        assert s1 < s2, "times are not increasing"
    # Nothing is lost or invented: the cues hold the transcript's words in order.
    cue_words = " ".join(" ".join(lines) for _, _, lines in cues).split()
    expected = unicodedata.normalize("NFC", transcript.text).split()
    if broken_words:  # words wider than a line are broken across lines
        cue_words, expected = ["".join(cue_words)], ["".join(expected)]
    assert cue_words == expected


# --- subtitles ------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["srt", "vtt"])
@pytest.mark.parametrize("word_times", [True, False])
def test_english_subtitles_follow_the_rules(fmt: str, word_times: bool) -> None:
    transcript = timed_transcript(
        [text.capitalize() + "." for text in read_transcripts(EN_DATA).values()], language="en", word_times=word_times
    )
    cues = PARSERS[fmt](export(transcript, fmt))
    check_cues(cues, transcript)
    # Short cues are stretched to about a second where the next cue leaves room.
    short = [(s, e) for (s, e, _), (n, _, _) in itertools.pairwise(cues) if e - s < 1000 and n - s >= 1000]
    assert short == []
    # Cue times come from the words: each cue starts with one of its words.
    if word_times:
        starts = {round(w.start * 1000) for w in transcript.words}
        assert all(start in starts for start, _, _ in cues)


@pytest.mark.parametrize("fmt", ["srt", "vtt"])
def test_vietnamese_subtitles_keep_diacritics_in_nfc(fmt: str, vietnamese: Transcript) -> None:
    text = export(vietnamese, fmt)
    assert unicodedata.is_normalized("NFC", text)
    assert "Phòng kỹ thuật" in text and "điện tử" in text
    check_cues(PARSERS[fmt](text), vietnamese)


def test_two_line_cues_are_balanced(english: Transcript) -> None:
    cues = layout_cues(english)
    two_line = [c for c in cues if len(c.lines) == 2]
    assert two_line
    # Balanced: the shorter line is not much shorter than the longer (words are short).
    assert all(abs(len(a) - len(b)) <= 15 for a, b in (c.lines for c in two_line)), [c.lines for c in two_line]


def test_cues_split_long_segments_by_time_and_pauses() -> None:
    words = [Word(0.5 * i, 0.5 * i + 0.4, "ok") for i in range(30)]  # 15 s of short words
    words += [Word(20.0, 20.3, "after"), Word(20.4, 20.8, "pause")]
    transcript = Transcript((segment_from_words(words),), "en", duration=30.0)
    cues = layout_cues(transcript)
    assert all(c.end_ms - c.start_ms <= 7000 for c in cues)
    assert cues[-1].lines == ("after pause",) and cues[-1].start_ms == 20000
    assert sum(len(" ".join(c.lines).split()) for c in cues) == 32


def test_awkward_times_still_give_valid_cues() -> None:
    segments = (
        segment_from_words([Word(5.0, 5.0, "zero"), Word(5.0, 5.0, "length")]),
        Segment(4.0, 30.0, "overlapping the one before and lasting far too long"),
        segment_from_words([Word(29.0, 29.5, "https://example.org/" + "a" * 60)]),
        segment_from_words([Word(29.1, 29.2, "same"), Word(29.1, 29.2, "time")]),
    )
    transcript = Transcript(segments, "en", duration=31.0)
    for fmt in ("srt", "vtt"):
        cues = PARSERS[fmt](export(transcript, fmt))
        check_cues(cues, transcript, broken_words=True)
        url = next(c for c in cues if c[2][0].startswith("https://"))
        assert url[1] - url[0] == 500  # a cue pushed later keeps its length


def test_cue_options_are_honoured_and_checked(english: Transcript) -> None:
    cues = parse_srt(export(english, "srt", max_line_chars=32, max_lines=1, max_cue_seconds=4.0))
    check_cues(cues, english, CueOptions(max_line_chars=32, max_lines=1, max_cue_seconds=4.0))
    for bad in (
        {"max_line_chars": 5},
        {"max_lines": 0},
        {"max_cue_seconds": 0},
        {"max_cue_seconds": float("inf")},
        {"min_cue_seconds": 9.0},
        {"max_pause_seconds": -1},
    ):
        with pytest.raises(InvalidExportOptionError) as info:
            export(english, "vtt", **bad)
        assert info.value.code == "invalid_export_option"
        assert "VTT" in info.value.user_message("vi")


def test_special_characters_are_safe() -> None:
    transcript = Transcript((Segment(1.0, 3.0, "a --> b & <i>c</i>"),), "en", duration=4.0)
    (cue,) = parse_srt(export(transcript, "srt"))
    assert cue[2] == ["a -> b & <i>c</i>"]
    vtt_text = export(transcript, "vtt")
    assert "&lt;i&gt;" in vtt_text and "-->" not in vtt_text.split("\n", 3)[3]
    assert parse_vtt(vtt_text)[0][2] == ["a --> b & <i>c</i>"]


def test_empty_transcript() -> None:
    empty = Transcript((), "en", duration=0.0)
    assert export(empty, "srt") == ""
    assert export(empty, "vtt") == "WEBVTT\n"
    assert webvtt.from_string(export(empty, "vtt")).captions == []
    assert export(empty, "txt") == ""
    assert from_json(export(empty, "json")) == empty


def test_clock_formats() -> None:
    assert clock(3_723_004, decimal_mark=",") == "01:02:03,004"
    assert clock(0) == "00:00:00.000"
    assert clock(360_000_000, decimal_mark=None) == "100:00:00"
    with pytest.raises(ValueError):
        clock(-1)


# --- text and JSON ----------------------------------------------------------------------------


def test_txt_paragraphs_and_timestamps(vietnamese: Transcript) -> None:
    text = export(vietnamese, "txt")
    assert unicodedata.is_normalized("NFC", text)
    paragraphs = text.strip().split("\n\n")
    assert 1 < len(paragraphs) < len(vietnamese.segments)  # long pauses only
    assert normalize_text(" ".join(paragraphs), "vi") == normalize_text(vietnamese.text, "vi")
    stamped = export(vietnamese, "txt", timestamps=True).splitlines()
    assert len(stamped) == len(vietnamese.segments)
    assert stamped[0].startswith("[00:00:00] Xin chào")


def test_txt_and_json_show_gaps() -> None:
    transcript = Transcript(
        (Segment(1.0, 3.0, "Before."), Segment(40.0, 42.0, "After.")),
        "en",
        duration=60.0,
        gaps=(Gap(25.0, 39.5, 1, "engine_crashed", "The engine stopped.", "Bộ máy dừng."),),
        complete=False,
        dropped={"phantom_phrase": 1},
    )
    assert export(transcript, "txt").split("\n\n") == [
        "Before.",
        "[text missing from 00:00:25 to 00:00:39: The engine stopped]",
        "After.\n",
    ]
    assert "[thiếu nội dung từ 00:00:25 đến 00:00:39: Bộ máy dừng]" in export(transcript, "txt", ui_language="vi")
    document = json.loads(export(transcript, "json", created=CREATED))
    assert document["complete"] is False and document["gaps"][0]["error_code"] == "engine_crashed"
    assert document["dropped"] == {"phantom_phrase": 1}


def test_json_schema_and_round_trip(vietnamese: Transcript) -> None:
    text = export(vietnamese, "json", created=CREATED)
    document = json.loads(text)
    assert document["schema"] == "sttdesk.transcript/1"
    assert document["created"] == "2025-03-01T08:30:00Z"
    assert (document["file"], document["language"], document["model"]) == ("test.wav", "vi", "base-q8_0")
    assert [s["id"] for s in document["segments"]] == list(range(len(vietnamese.segments)))
    first_word = document["segments"][0]["words"][0]
    assert set(first_word) == {"start", "end", "text", "probability"}
    assert "kỹ thuật" in text  # UTF-8, not \\u escapes
    back = from_json(text)
    assert back.text == unicodedata.normalize("NFC", vietnamese.text)
    assert len(back.words) == len(vietnamese.words)
    assert export(back, "json", created=CREATED) == text
    compact = export(vietnamese, "json", created=CREATED, indent=None)
    assert "\n" not in compact.strip() and json.loads(compact) == document


def test_json_created_defaults_to_now_in_utc(english: Transcript) -> None:
    created = json.loads(export(english, "json"))["created"]
    assert created.endswith("Z") and created[:4].isdigit()
    naive = json.loads(export(english, "json", created=datetime(2024, 1, 2, 3, 4, 5)))["created"]
    assert naive == "2024-01-02T03:04:05Z"


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "[]",
        '{"schema": "sttdesk.transcript/9", "duration": 1}',
        '{"duration": 1}',
        '{"schema": "sttdesk.transcript/1", "duration": 1, "segments": [{"start": 0}]}',
    ],
)
def test_bad_json_is_rejected(text: str) -> None:
    with pytest.raises(InvalidTranscriptDataError):
        from_json(text)


def test_merged_transcript_exports_end_to_end() -> None:
    spans = [ChunkSpan(0, 0.0, 6.0, CutKind.FORCED), ChunkSpan(1, 3.0, 10.0, CutKind.END, 3.0)]
    words = [
        Word(0.3 + 0.6 * i, 0.7 + 0.6 * i, t)
        for i, t in enumerate(
            ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve"]
        )
    ]

    def heard(span: ChunkSpan):
        from sttdesk.domain.transcript import RecognitionResult

        inside = [w.shifted(-span.start) for w in words if w.start >= span.start and w.end <= span.end]
        return RecognitionResult((segment_from_words(inside),), "en")

    assembler = TranscriptAssembler(spans, source_name="count.wav")
    for span in spans:
        assembler.add(span, heard(span))
    transcript = assembler.transcript()
    cues = parse_srt(export(transcript, "srt"))
    assert " ".join(" ".join(lines) for _, _, lines in cues) == " ".join(w.text for w in words)


# --- registry and files -------------------------------------------------------------------------


def test_registry() -> None:
    assert available_formats() == ("txt", "json", "srt", "vtt")
    assert get_format(".SRT") is EXPORTERS["srt"] and get_format("webvtt") is EXPORTERS["vtt"]
    assert {f.extension for f in EXPORTERS.values()} == {".txt", ".json", ".srt", ".vtt"}
    with pytest.raises(UnknownExportFormatError) as info:
        export(Transcript((), "en", 0.0), "docx")
    assert info.value.code == "unknown_export_format"
    assert "txt, json, srt, vtt" in info.value.user_message("vi")


def test_unknown_options_are_rejected(english: Transcript) -> None:
    with pytest.raises(InvalidExportOptionError) as info:
        export(english, "srt", timestamps=True)
    assert "max_line_chars" in info.value.user_message("en")
    with pytest.raises(InvalidExportOptionError):
        export(english, "txt", paragraph_pause=0)
    with pytest.raises(InvalidExportOptionError):
        export(english, "txt", ui_language="fr")
    with pytest.raises(InvalidExportOptionError):
        export(english, "json", created="yesterday")
    with pytest.raises(InvalidExportOptionError):
        export(english, "json", indent=-2)


def test_write_export_is_atomic_utf8_and_bom_optional(tmp_path: Path, vietnamese: Transcript) -> None:
    target = tmp_path / "out" / "họp.srt"
    write_export(vietnamese, "srt", target)
    data = target.read_bytes()
    assert not data.startswith(b"\xef\xbb\xbf")
    assert data.decode("utf-8") == export(vietnamese, "srt")
    # Replacing an existing file leaves no temporary files behind.
    write_export(vietnamese, "srt", target, bom=True)
    assert target.read_bytes().startswith(b"\xef\xbb\xbf")
    assert sorted(p.name for p in target.parent.iterdir()) == ["họp.srt"]
    assert parse_srt(target.read_text(encoding="utf-8-sig"))
    with pytest.raises(InvalidExportOptionError):
        write_export(vietnamese, "json", tmp_path / "x.json", bom=True)


def test_write_errors_are_typed(tmp_path: Path, english: Transcript) -> None:
    folder = tmp_path / "a-folder"
    folder.mkdir()
    with pytest.raises(ExportWriteError) as info:
        write_export(english, "txt", folder)  # a folder is in the way
    assert info.value.code == "export_write_failed" and str(folder) in info.value.user_message("vi")
    assert list(folder.iterdir()) == []
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ExportWriteError):
        write_export(english, "txt", blocker / "below.txt")


def test_full_disk_is_a_transient_error(tmp_path: Path, english: Transcript) -> None:
    mount = tmp_path / "tiny"
    mount.mkdir()
    if (
        os.geteuid() != 0
        or subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", str(mount)], capture_output=True, check=False
        ).returncode
    ):
        pytest.skip("needs root to mount a tiny tmpfs")
    try:
        with pytest.raises(ExportDiskFullError) as info:
            write_export(english, "json", mount / "big.json")
        assert info.value.transient and info.value.code == "disk_full"
        assert list(mount.iterdir()) == []  # the partial file was removed
    finally:
        subprocess.run(["umount", str(mount)], check=True)
