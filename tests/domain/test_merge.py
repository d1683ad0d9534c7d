"""Merging chunk results by time: seams, arrival order, partial views, failures, baseline."""

from __future__ import annotations

import itertools
import json
import random
from dataclasses import replace
from pathlib import Path

import jiwer
import pytest

from sttdesk.domain.chunks import ChunkSpan, CutKind
from sttdesk.domain.errors import TransientError
from sttdesk.domain.hallucination import HallucinationGuard, InvalidSpeechIntervalError
from sttdesk.domain.merge import (
    InvalidChunkPlanError,
    InvalidChunkResultError,
    InvalidMergeOptionError,
    TranscriptAssembler,
    UnknownChunkError,
    merge_word_count_baseline,
)
from sttdesk.domain.textnorm import normalize_text
from sttdesk.domain.transcript import RecognitionResult, Segment, Word, join_words, segment_from_words
from tests.conftest import read_transcripts

EN_DATA = Path(__file__).resolve().parent.parent / "data" / "en"
DATA = Path(__file__).resolve().parent / "data"
#: Words per segment in the synthetic chunk results (whisper segments are about a sentence).
WORDS_PER_SEGMENT = 11


# --- a synthetic recording: real reference text, plausible word times ------------------


def reference_words(*, seconds_per_char: float = 0.055, seed: int = 7, limit: int = 700) -> list[Word]:
    """The English reference transcripts as one long speech with word times.

    Each word lasts in proportion to its length; pauses between words are short,
    with a longer one at the end of every clip (where silence cuts can go).
    """
    rng = random.Random(seed)
    words: list[Word] = []
    t = 0.4
    for text in read_transcripts(EN_DATA).values():
        tokens = text.lower().split()
        for position, token in enumerate(tokens):
            length = 0.12 + seconds_per_char * len(token)
            words.append(Word(t, t + length, token, 0.9))
            t += length + rng.choice((0.04, 0.08, 0.12, 0.2, 0.35))
            if position == len(tokens) - 1:
                t += 1.6
            if len(words) >= limit:
                return words
    return words


def silence_plan(words: list[Word], *, target: float = 27.0) -> list[ChunkSpan]:
    """Chunks cut in the middle of the long pauses, about ``target`` seconds each."""
    spans: list[ChunkSpan] = []
    start = 0.0
    for before, after in itertools.pairwise(words):
        if after.start - before.end > 1.0 and after.start - start >= target:
            cut = (before.end + after.start) / 2
            spans.append(ChunkSpan(len(spans), start, cut, CutKind.SILENCE))
            start = cut
    spans.append(ChunkSpan(len(spans), start, words[-1].end + 0.5, CutKind.END))
    return spans


def forced_plan(
    total: float, *, length: float = 25.0, overlap: float = 3.0, kind: CutKind = CutKind.FORCED
) -> list[ChunkSpan]:
    """Fixed-length chunks, each repeating the last ``overlap`` seconds of the one before."""
    spans: list[ChunkSpan] = []
    start = 0.0
    while True:
        end = min(start + length, total)
        last = end >= total
        spans.append(ChunkSpan(len(spans), start, end, CutKind.END if last else kind, overlap if spans else 0.0))
        if last:
            return spans
        start = end - overlap


def pause_plan(words: list[Word], *, target: float = 25.0, overlap: float = 3.0) -> list[ChunkSpan]:
    """Chunks cut in the middle of short pauses between words, as the chunker cuts in a pause
    when no silence fits: the next chunk starts ``overlap`` seconds before the cut, mid-speech."""
    spans: list[ChunkSpan] = []
    start = 0.0
    for before, after in itertools.pairwise(words):
        if 0.3 <= after.start - before.end < 1.0 and before.end - start >= target:
            cut = (before.end + after.start) / 2
            spans.append(ChunkSpan(len(spans), start, cut, CutKind.PAUSE, overlap if spans else 0.0))
            start = cut - overlap
    spans.append(ChunkSpan(len(spans), start, words[-1].end + 0.5, CutKind.END, overlap if spans else 0.0))
    return spans


def chunk_result(
    span: ChunkSpan,
    words: list[Word],
    *,
    rng: random.Random,
    jitter: float = 0.0,
    swap: dict[str, str] | None = None,
    with_word_times: bool = True,
    deaf_tail: float = 0.0,
    deaf_head: float = 0.0,
) -> RecognitionResult:
    """What an engine would return for ``span``: its words, chunk-relative, a little off.

    A word cut by the chunk's end is heard in part (a truncated token); a word
    cut by the start is missed. ``jitter`` moves the whole chunk's timing and
    each word a little (two chunks never agree on times exactly); ``swap``
    replaces words inside the overlap with other words (one chunk mishears);
    ``deaf_tail``/``deaf_head`` seconds at the chunk's end/start go untranscribed
    (whisper often stops early or starts late) where a neighbour overlaps.
    """
    offset = rng.uniform(-jitter, jitter)
    heard: list[Word] = []
    for w in words:
        if w.end <= span.start or w.start >= span.end:
            continue
        text = w.text
        if w.start < span.start:
            continue  # the chunk starts mid-word: whisper drops the fragment
        if span.cut is not CutKind.END and w.end > span.end - deaf_tail:
            continue
        if span.overlap_before and w.start < span.start + deaf_head:
            continue
        if w.end > span.end:
            text = text[: max(1, len(text) // 2)]  # cut mid-word: a fragment is heard
        if swap and w.start < span.start + span.overlap_before and text in swap:
            text = swap[text]
        noise = offset + rng.uniform(-jitter / 3, jitter / 3)
        start = max(0.0, w.start - span.start + noise)
        heard.append(Word(start, max(start, min(w.end - span.start + noise, span.duration)), text, w.probability))
    groups = [heard[i : i + WORDS_PER_SEGMENT] for i in range(0, len(heard), WORDS_PER_SEGMENT)]
    segments = [segment_from_words(g) for g in groups]
    if not with_word_times:
        segments = [replace(s, words=()) for s in segments]
    return RecognitionResult(tuple(segments), "en", audio_seconds=span.duration)


def merged(
    spans: list[ChunkSpan], results: dict[int, RecognitionResult], order: list[int] | None = None
) -> TranscriptAssembler:
    assembler = TranscriptAssembler(spans, language="en", source_name="talk.wav", model="base")
    for index in order if order is not None else range(len(spans)):
        assembler.add(spans[index], results[index])
    return assembler


def errors(reference: list[Word], text: str) -> jiwer.WordOutput:
    return jiwer.process_words(normalize_text(join_words(w.text for w in reference)), normalize_text(text))


@pytest.fixture(scope="module")
def speech() -> list[Word]:
    return reference_words()


# --- silence cuts ----------------------------------------------------------------------------


def test_silence_cuts_join_every_word_in_order(speech: list[Word]) -> None:
    spans = silence_plan(speech)
    assert len(spans) >= 6
    rng = random.Random(1)
    results = {s.index: chunk_result(s, speech, rng=rng, jitter=0.1) for s in spans}
    transcript = merged(spans, results).transcript()
    assert [w.text for w in transcript.words] == [w.text for w in speech]
    assert transcript.complete and transcript.gaps == ()
    starts = [s.start for s in transcript.segments]
    assert starts == sorted(starts)
    assert all(a.end <= b.start for a, b in zip(transcript.segments, transcript.segments[1:]))


def test_silence_cut_keeps_words_repeated_across_it() -> None:
    # "no" ends one chunk and starts the next: said twice, so it must stay twice.
    spans = [ChunkSpan(0, 0.0, 5.0, CutKind.SILENCE), ChunkSpan(1, 5.0, 9.0, CutKind.END)]
    results = {
        0: RecognitionResult((segment_from_words([Word(1.0, 1.5, "well"), Word(3.9, 4.2, "no.")]),), "en"),
        1: RecognitionResult((segment_from_words([Word(0.6, 0.9, "No."), Word(1.0, 1.4, "never.")]),), "en"),
    }
    assert merged(spans, results).transcript().text == "well no. No. never."


# --- forced cuts with overlap ---------------------------------------------------------------


@pytest.mark.parametrize("jitter", [0.0, 0.15, 0.3])
@pytest.mark.parametrize("kind", [CutKind.FORCED, CutKind.FIXED])
def test_overlap_seams_lose_and_repeat_nothing(speech: list[Word], jitter: float, kind: CutKind) -> None:
    total = speech[-1].end + 0.5
    overlap = 3.0 if kind is CutKind.FORCED else 5.0
    spans = forced_plan(total, overlap=overlap, length=25.0 if kind is CutKind.FORCED else 30.0, kind=kind)
    rng = random.Random(3)
    results = {s.index: chunk_result(s, speech, rng=rng, jitter=jitter) for s in spans}
    transcript = merged(spans, results).transcript()
    out = errors(speech, transcript.text)
    assert out.insertions == 0 and out.deletions == 0 and out.substitutions == 0
    assert len(transcript.words) == len(speech)
    # Cut segments keep their words, and their text is rebuilt from them.
    for segment in transcript.segments:
        assert segment.text == join_words(w.text for w in segment.words)
        assert segment.start <= segment.words[0].start + 1e-9
    assert all(a.end <= b.start for a, b in zip(transcript.segments, transcript.segments[1:]))


@pytest.mark.parametrize("jitter", [0.0, 0.15, 0.3])
def test_pause_cut_overlaps_lose_and_repeat_nothing(speech: list[Word], jitter: float) -> None:
    # After a cut in a short pause the next chunk hears the 3 s before it again (context for its
    # first words); those seconds, the pause and the words around it come out once.
    spans = pause_plan(speech)
    assert len(spans) >= 6 and all(s.overlap_before == 3.0 for s in spans[1:])
    rng = random.Random(4)
    results = {s.index: chunk_result(s, speech, rng=rng, jitter=jitter) for s in spans}
    transcript = merged(spans, results).transcript()
    assert [w.text for w in transcript.words] == [w.text for w in speech]
    assert all(a.end <= b.start for a, b in zip(transcript.segments, transcript.segments[1:]))


def test_a_pause_cut_takes_the_fragment_after_it_from_the_chunk_that_heard_its_context() -> None:
    # Chunk 0 ends in the pause after "dantes."; chunk 1 starts 3 s earlier. Heard alone,
    # chunk 1 would have misread the name; with the sentence before, it gets it, and
    # the merge takes what follows the pause from it, what precedes it from chunk 0.
    spans = [ChunkSpan(0, 0.0, 10.0, CutKind.PAUSE), ChunkSpan(1, 7.0, 16.0, CutKind.END, 3.0)]
    first = [Word(6.0, 6.6, "said"), Word(6.7, 7.4, "edmond"), Word(7.5, 8.4, "dantes."), Word(9.95, 10.0, "m")]
    second = [Word(0.05, 0.4, "mond"), Word(0.5, 1.4, "dantes."), Word(3.2, 3.5, "m."), Word(3.6, 3.8, "de"),
              Word(3.9, 4.6, "villefort"), Word(4.7, 5.0, "smiled.")]
    results = {
        0: RecognitionResult((segment_from_words(first),), "en"),
        1: RecognitionResult((segment_from_words(second),), "en"),
    }
    assert merged(spans, results).transcript().text == "said edmond dantes. m. de villefort smiled."


def test_a_word_heard_differently_in_the_overlap_appears_once(speech: list[Word]) -> None:
    total = speech[-1].end + 0.5
    spans = forced_plan(total)
    rng = random.Random(5)
    # The later chunk mishears common words in its overlap ("the" -> "a", "and" -> "an").
    results = {
        s.index: chunk_result(s, speech, rng=rng, jitter=0.2, swap={"the": "a", "and": "an", "of": "off"})
        for s in spans
    }
    transcript = merged(spans, results).transcript()
    out = errors(speech, transcript.text)
    seams = len(spans) - 1
    assert out.insertions == 0 and out.deletions == 0
    assert out.substitutions <= seams  # at worst the later chunk's reading wins at a seam
    assert abs(len(transcript.words) - len(speech)) == 0


@pytest.mark.parametrize(("deaf_tail", "deaf_head"), [(1.2, 0.0), (0.0, 1.2), (2.0, 0.0), (0.8, 0.8)])
def test_words_only_one_chunk_heard_are_kept(speech: list[Word], deaf_tail: float, deaf_head: float) -> None:
    """Whisper often stops before a chunk's end or starts late: the other chunk's words fill in."""
    spans = forced_plan(speech[-1].end + 0.5)
    rng = random.Random(13)
    results = {
        s.index: chunk_result(s, speech, rng=rng, jitter=0.15, deaf_tail=deaf_tail, deaf_head=deaf_head) for s in spans
    }
    out = errors(speech, merged(spans, results).transcript().text)
    assert (out.insertions, out.deletions, out.substitutions) == (0, 0, 0)


def test_real_whisper_chunks_merge_without_seam_errors() -> None:
    """Real whisper.cpp output for 25 s chunks overlapping by 3 s (see the data file's "about")."""
    data = json.loads((DATA / "whisper_base_forced_chunks_en.json").read_text(encoding="utf-8"))
    spans = [ChunkSpan.from_dict(s) for s in data["spans"]]
    results = {s.index: RecognitionResult.from_dict(r) for s, r in zip(spans, data["results"], strict=True)}
    references = read_transcripts(EN_DATA)
    reference = normalize_text(" ".join(references[name] for name in data["recordings"]))
    ours = jiwer.process_words(reference, normalize_text(merged(spans, results).transcript().text))
    pairs = [(s, results[s.index]) for s in spans]
    baseline = jiwer.process_words(reference, normalize_text(merge_word_count_baseline(pairs).text))
    # Measured: 6.6 % (the model's own mistakes: names, "springtime") against 12.0 % for the baseline.
    assert ours.wer < 0.075 and baseline.wer > ours.wer + 0.04
    # No word is repeated at a seam, and only words neither chunk heard go missing.
    assert ours.insertions <= 3 and ours.deletions <= 4
    words = normalize_text(merged(spans, results).transcript().text).split()
    assert not any(a == b == c for a, b, c in zip(words, words[1:], words[2:]))
    # The hallucination guard finds nothing to drop in real speech.
    guarded = TranscriptAssembler(spans, guard=HallucinationGuard())
    for span in spans:
        guarded.add(span, results[span.index])
    assert guarded.guard_report().total == 0
    assert guarded.transcript().text == merged(spans, results).transcript().text


def test_time_merge_beats_the_word_count_baseline(speech: list[Word]) -> None:
    """On the same chunk results, the seed's word-count merge makes errors the time merge does not."""
    rows = []
    for seconds_per_char, jitter in [(0.055, 0.15), (0.03, 0.15), (0.09, 0.3)]:  # normal, fast, slow speech
        words = reference_words(seconds_per_char=seconds_per_char)
        spans = forced_plan(words[-1].end + 0.5)
        rng = random.Random(11)
        results = {s.index: chunk_result(s, words, rng=rng, jitter=jitter) for s in spans}
        ours = errors(words, merged(spans, results).transcript().text).wer
        baseline = errors(words, merge_word_count_baseline([(s, results[s.index]) for s in spans]).text).wer
        rows.append((seconds_per_char, ours, baseline))
        assert ours < baseline, rows
        assert ours <= 0.005, rows
    # The baseline's guess of the speaking rate is wrong for fast and slow speech: it loses or repeats words.
    assert max(b for _, _, b in rows) > 0.02, rows


def test_segments_without_word_times_merge_too(speech: list[Word]) -> None:
    spans = forced_plan(speech[-1].end + 0.5)
    rng = random.Random(2)
    results = {s.index: chunk_result(s, speech, rng=rng, jitter=0.1, with_word_times=False) for s in spans}
    transcript = merged(spans, results).transcript()
    out = errors(speech, transcript.text)
    # Estimated word times are rough, so allow a word per seam, never a run of repeats.
    assert out.insertions + out.deletions + out.substitutions <= len(spans) - 1
    assert all(not s.words for s in transcript.segments)


def test_vietnamese_seam_matches_words_despite_case_and_punctuation() -> None:
    text = "hôm nay chúng ta họp về kế hoạch năm tới và ngân sách của phòng kỹ thuật"
    words = [Word(0.5 + 0.45 * i, 0.85 + 0.45 * i, t) for i, t in enumerate(text.split())]
    spans = [ChunkSpan(0, 0.0, 5.0, CutKind.FORCED), ChunkSpan(1, 2.0, 9.0, CutKind.END, 3.0)]

    def heard(span: ChunkSpan, variant: dict[str, str]) -> RecognitionResult:
        inside = [w for w in words if w.start >= span.start and w.end <= span.end]
        shifted = [Word(w.start - span.start, w.end - span.start, variant.get(w.text, w.text)) for w in inside]
        return RecognitionResult((segment_from_words(shifted),), "vi")

    results = {0: heard(spans[0], {"họp": "họp,"}), 1: heard(spans[1], {"họp": "Họp", "kế": "Kế"})}
    transcript = merged(spans, results).transcript()
    assert normalize_text(transcript.text, "vi") == text


# --- arrival order, partial views, failures ------------------------------------------------


def test_arrival_order_does_not_matter(speech: list[Word]) -> None:
    spans = forced_plan(speech[-1].end + 0.5)
    rng = random.Random(4)
    results = {s.index: chunk_result(s, speech, rng=rng, jitter=0.2) for s in spans}
    expected = merged(spans, results).transcript()
    shuffler = random.Random(9)
    for _ in range(5):
        order = list(range(len(spans)))
        shuffler.shuffle(order)
        assert merged(spans, results, order).transcript() == expected
    # Duplicate delivery (at-least-once) changes nothing either.
    again = merged(spans, results, [*range(len(spans)), 2, 0, len(spans) - 1])
    assert again.transcript() == expected


def test_partial_views_with_holes(speech: list[Word]) -> None:
    spans = forced_plan(speech[-1].end + 0.5)[:4]
    rng = random.Random(6)
    results = {s.index: chunk_result(s, speech, rng=rng, jitter=0.1) for s in spans}
    assembler = merged(spans, results, [0, 2, 3])

    streaming = assembler.transcript(partial=False)
    assert not streaming.complete
    assert streaming.segments[-1].end <= spans[0].end  # only chunk 0: the settled prefix stops at pending chunk 1
    assert [g.chunk_index for g in streaming.gaps] == []

    everything = assembler.transcript()
    assert [(g.chunk_index, g.error_code, g.pending) for g in everything.gaps] == [(1, "pending", True)]
    gap = everything.gaps[0]
    assert (gap.start, gap.end) == (spans[0].end, spans[2].start)
    assert not any(gap.start < w.start < gap.end for w in everything.words)
    assert everything.words[-1].start > spans[3].start  # text after the hole is there
    assert assembler.pending_indices == (1,) and not assembler.settled


def test_failed_chunk_becomes_a_gap_and_a_retry_fills_it(speech: list[Word]) -> None:
    spans = forced_plan(speech[-1].end + 0.5)[:4]
    rng = random.Random(8)
    results = {s.index: chunk_result(s, speech, rng=rng, jitter=0.1) for s in spans}
    assembler = merged(spans, results, [0, 2, 3])

    class EngineCrashed(TransientError):
        code = "engine_crashed"
        message_en = "The engine crashed ({detail})."
        message_vi = "Bộ máy bị lỗi ({detail})."

    assembler.mark_failed(spans[1], EngineCrashed("signal 9"))
    assert assembler.settled and assembler.failed_count == 1
    prefix, full = assembler.transcript(partial=False), assembler.transcript()
    assert prefix == full  # all settled: both views agree
    (gap,) = full.gaps
    assert (gap.chunk_index, gap.error_code, gap.pending) == (1, "engine_crashed", False)
    assert gap.message("en") == "The engine crashed (signal 9)." and gap.message("vi") == "Bộ máy bị lỗi (signal 9)."
    assert not full.complete

    assembler.mark_failed(spans[3], ValueError("bad reply"))
    assert [g.error_code for g in assembler.transcript().gaps] == ["engine_crashed", "error"]
    assert "ValueError: bad reply" in assembler.transcript().gaps[1].message_en

    assembler.add(spans[1], results[1])
    assembler.add(spans[3], results[3])
    retried = assembler.transcript()
    assert retried.complete and retried.gaps == ()
    assert retried == merged(spans, results).transcript()

    assembler.mark_pending(spans[2])
    assert [g.error_code for g in assembler.transcript().gaps] == ["pending"]


def test_neighbouring_missing_chunks_share_the_overlap() -> None:
    spans = forced_plan(80.0)  # 0-25, 22-47, 44-69, 66-80
    words = [Word(t, t + 0.3, f"w{int(t)}") for t in (1.0, 10.0, 70.0, 75.0)]
    rng = random.Random(0)
    assembler = TranscriptAssembler(spans)
    for index in (0, 3):
        assembler.add(spans[index], chunk_result(spans[index], words, rng=rng))
    gaps = assembler.transcript().gaps
    assert [(g.start, g.end) for g in gaps] == [(25.0, 45.5), (45.5, 66.0)]


def test_hallucinations_are_dropped_before_merging_and_counted() -> None:
    spans = [ChunkSpan(0, 0.0, 20.0, CutKind.SILENCE), ChunkSpan(1, 20.0, 40.0, CutKind.END)]
    chunk0 = RecognitionResult(
        (
            segment_from_words([Word(1.0, 1.4, "Good"), Word(1.5, 2.0, "morning.")]),
            segment_from_words([Word(15.0, 15.5, "Thanks"), Word(15.5, 15.8, "for"), Word(15.8, 16.4, "watching!")]),
        ),
        "en",
    )
    chunk1 = RecognitionResult((Segment(2.0, 4.0, "Let us begin."), Segment(12.0, 14.0, "Thank you.")), "en")
    assembler = TranscriptAssembler(spans, guard=HallucinationGuard(), speech=[(0.5, 2.5), (21.5, 24.5)])
    assembler.add(spans[1], chunk1)
    assembler.add(spans[0], chunk0)
    transcript = assembler.transcript()
    assert transcript.text == "Good morning. Let us begin."
    assert transcript.dropped["silence"] == 2  # "Thanks for watching!" and "Thank you." lie in silence
    report = assembler.guard_report()
    assert [d.text for d in report.dropped] == ["Thanks for watching!", "Thank you."]
    assert report.dropped[1].start == pytest.approx(12.0)  # chunk-relative times in the report


def test_language_and_metadata() -> None:
    spans = [ChunkSpan(0, 0.0, 10.0, CutKind.SILENCE), ChunkSpan(1, 10.0, 40.0, CutKind.END)]
    assembler = TranscriptAssembler(spans, language="auto", source_name="call.mp3", model="base-q8_0", duration=41.0)
    assembler.add(spans[0], RecognitionResult((Segment(1, 2, "hello"),), "en"))
    assembler.add(spans[1], RecognitionResult((Segment(1, 2, "xin chào"),), "vi"))
    transcript = assembler.transcript()
    assert (transcript.language, transcript.source_name, transcript.model, transcript.duration) == (
        "vi",
        "call.mp3",
        "base-q8_0",
        41.0,
    )
    assert transcript.segments[1].start == 11.0


def test_times_past_the_chunk_are_clamped() -> None:
    spans = [ChunkSpan(0, 0.0, 10.0, CutKind.SILENCE), ChunkSpan(1, 10.0, 20.0, CutKind.END)]
    assembler = TranscriptAssembler(spans)
    # whisper pads audio to 30 s and may place the last word past the chunk's end
    assembler.add(spans[0], RecognitionResult((segment_from_words([Word(9.5, 12.0, "end")]),), "en"))
    assembler.add(spans[1], RecognitionResult((segment_from_words([Word(-0.2, 0.5, "start")]),), "en"))
    first, second = assembler.transcript().segments
    assert first.end == 10.0 and second.start == 10.0


# --- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "spans",
    [
        [],
        [ChunkSpan(0, 0, 10), ChunkSpan(0, 10, 20)],
        [ChunkSpan(0, 0, 10), ChunkSpan(2, 10, 20)],
        [ChunkSpan(0, 5, 5)],
        [ChunkSpan(0, -1, 5)],
        [ChunkSpan(0, 0, float("nan"))],
        [ChunkSpan(0, 0, 10), ChunkSpan(1, 8, 20, CutKind.END, -1.0)],
        [ChunkSpan(0, 0, 10), ChunkSpan(1, 8, 20, CutKind.END, 30.0)],
        [ChunkSpan(0, 10, 20), ChunkSpan(1, 0, 10)],
        [ChunkSpan(0, 0, 20), ChunkSpan(1, 5, 15)],
    ],
)
def test_bad_plans_are_rejected(spans: list[ChunkSpan]) -> None:
    with pytest.raises(InvalidChunkPlanError) as info:
        TranscriptAssembler(spans)
    assert info.value.code == "invalid_chunk_plan"
    assert info.value.user_message("vi").startswith("Kế hoạch chia đoạn không hợp lệ")


def test_unknown_or_changed_chunks_are_rejected() -> None:
    spans = [ChunkSpan(0, 0.0, 10.0, CutKind.SILENCE), ChunkSpan(1, 10.0, 20.0)]
    assembler = TranscriptAssembler(spans)
    empty = RecognitionResult((), "en")
    for bad in (ChunkSpan(2, 20.0, 30.0), ChunkSpan(-1, 0.0, 10.0), ChunkSpan(1, 11.0, 20.0)):
        with pytest.raises(UnknownChunkError) as info:
            assembler.add(bad, empty)
        assert info.value.code == "unknown_chunk"
        with pytest.raises(UnknownChunkError):
            assembler.mark_failed(bad, RuntimeError("x"))
    assembler.add(ChunkSpan(1, 10.0004, 20.0), empty)  # rounding in storage is fine
    assert assembler.done_count == 1


def test_non_finite_times_in_a_result_are_rejected() -> None:
    spans = [ChunkSpan(0, 0.0, 10.0)]
    assembler = TranscriptAssembler(spans)
    bad = RecognitionResult((segment_from_words([Word(0.0, float("nan"), "x")]),), "en")
    with pytest.raises(InvalidChunkResultError) as info:
        assembler.add(spans[0], bad)
    assert "chunk 0" in info.value.user_message("en") or "0" in info.value.user_message("en")
    assert assembler.done_count == 0


def test_bad_tuning_and_speech_intervals_are_rejected() -> None:
    spans = [ChunkSpan(0, 0.0, 10.0)]
    with pytest.raises(InvalidMergeOptionError) as info:
        TranscriptAssembler(spans, seam_margin=-1)
    assert info.value.code == "invalid_merge_option" and "seam_margin" in info.value.user_message("vi")
    with pytest.raises(InvalidMergeOptionError):
        TranscriptAssembler(spans, edge_seconds=float("nan"))
    with pytest.raises(InvalidSpeechIntervalError):
        TranscriptAssembler(spans, speech=[(5.0, 1.0)])
    with pytest.raises(InvalidChunkPlanError):
        TranscriptAssembler(spans, duration=-3)


def test_baseline_rejects_a_bad_rate() -> None:
    with pytest.raises(InvalidChunkPlanError):
        merge_word_count_baseline([], words_per_second=float("nan"))


def test_every_permutation_of_a_small_job_agrees(speech: list[Word]) -> None:
    spans = forced_plan(speech[40].end + 0.5, length=8.0, overlap=3.0)[:4]
    rng = random.Random(12)
    results = {s.index: chunk_result(s, speech, rng=rng, jitter=0.2) for s in spans}
    first = merged(spans, results).transcript()
    for order in itertools.permutations(range(len(spans))):
        assert merged(spans, results, list(order)).transcript() == first
