"""The speech-coverage check: finding speech whisper skipped, and decoding it again alone.

The fast tests drive :func:`transcribe_covered` with a scripted backend over
synthetic audio whose phrases are known; the model test runs the real whisper
base model on a chunk made from two real recordings on which greedy whisper
skips most of the speech.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import jiwer
import numpy as np
import pytest

from sttdesk.audio.chunker import analyse
from sttdesk.audio.decode import load_audio
from sttdesk.domain.textnorm import normalize_text
from sttdesk.domain.transcript import RecognitionResult, Segment, Word
from sttdesk.engine.coverage import (
    CoverageOptions,
    SpeechMap,
    placed_words,
    runs_to_redecode,
    splice,
    transcribe_covered,
    uncovered_runs,
)
from sttdesk.engine.options import DecodeOptions
from sttdesk.engine.process import EngineProcess
from sttdesk.engine.store import InstalledModel
from tests.conftest import read_transcripts

SAMPLE_RATE = 16_000


def bursts(spans: list[tuple[float, float]], seconds: float, *, seed: int = 0) -> np.ndarray:
    """``seconds`` of digital silence with loud noise (speech stand-in) in each of ``spans``."""
    rng = np.random.default_rng(seed)
    audio = np.zeros(int(seconds * SAMPLE_RATE), np.float32)
    for start, end in spans:
        a, b = int(start * SAMPLE_RATE), int(end * SAMPLE_RATE)
        audio[a:b] = rng.uniform(-0.3, 0.3, b - a).astype(np.float32)
    return audio


def words(*items: tuple[str, float, float]) -> tuple[Word, ...]:
    return tuple(Word(start=s, end=e, text=t) for t, s, e in items)


def segment(*items: tuple[str, float, float]) -> Segment:
    ws = words(*items)
    return Segment(start=ws[0].start, end=ws[-1].end, text=" ".join(w.text for w in ws), words=ws)


def evenly(text: str, start: float, end: float) -> Segment:
    """One segment whose words share ``start..end`` evenly, as a well-aligned decode gives."""
    tokens = text.split()
    step = (end - start) / len(tokens)
    return segment(*[(t, start + i * step, start + (i + 1) * step) for i, t in enumerate(tokens)])


#: Phrases of the synthetic chunk: a fragment, a pause, then four phrases of a new sentence.
PHRASES = [(0.5, 1.0), (2.5, 4.0), (4.5, 6.5), (7.0, 9.0), (9.5, 11.0)]
#: What greedy whisper returns for such chunks: the fragment, then its words spread to the end.
SKIPPING = segment(("and", 0.5, 3.5), ("develop", 3.5, 7.2), ("herd.", 7.2, 11.0))
SPEECH = SpeechMap(phrases=tuple(PHRASES), speech=((0.5, 1.0), (2.5, 11.0)))


# --- where the words are -----------------------------------------------------------------


def test_the_speech_map_finds_the_phrases_of_the_audio() -> None:
    speech = SpeechMap.of(bursts(PHRASES, 12.0))
    assert speech is not None
    assert len(speech.phrases) == len(PHRASES)
    for (start, end), (expected_start, expected_end) in zip(speech.phrases, PHRASES, strict=True):
        assert start == pytest.approx(expected_start, abs=0.02) and end == pytest.approx(expected_end, abs=0.02)
    # pauses under a second are inside speech; the 1.5 s after the fragment is not
    assert [t for span in speech.speech for t in span] == pytest.approx([0.5, 1.0, 2.5, 11.0], abs=0.02)


def test_without_contrast_there_is_no_speech_map() -> None:
    noise = np.random.default_rng(1).uniform(-0.3, 0.3, 10 * SAMPLE_RATE).astype(np.float32)
    assert SpeechMap.of(noise) is None


def test_a_stretched_word_keeps_its_start_but_the_words_after_it_are_not_placed() -> None:
    assert [w.text for w in placed_words(SKIPPING, SPEECH)] == ["and"]
    normal = evenly("that small frogs and toads", 2.5, 4.0)
    assert placed_words(normal, SPEECH) == list(normal.words)


def test_words_in_a_silence_are_not_placed_and_after_placed_words_nor_is_the_rest() -> None:
    speech = SpeechMap(phrases=((0.0, 2.0), (6.0, 8.0)), speech=((0.0, 2.0), (6.0, 8.0)))
    # whisper started the segment early, at a whole second: its first word is in the silence
    early = segment(("How", 4.0, 4.8), ("soon", 6.1, 6.5), ("keys", 6.6, 7.0))
    assert [w.text for w in placed_words(early, speech)] == ["soon", "keys"]
    # the words run on from speech across the silence into the next phrase: shared-out times
    drifting = segment(("a", 1.5, 1.9), ("table", 3.5, 4.4), ("fist.", 6.2, 6.9))
    assert [w.text for w in placed_words(drifting, speech)] == ["a"]


def test_a_chunk_whose_words_cover_its_speech_has_nothing_to_decode_again() -> None:
    good = [evenly("M de Villefort", 0.5, 1.0), evenly("attempts to preserve the system", 2.5, 4.0),
            evenly("that small frogs and toads for instance", 4.5, 6.5),
            evenly("never have fallen from the sky", 7.0, 9.0), evenly("but were on the ground", 9.5, 11.0)]
    assert runs_to_redecode(uncovered_runs(good, SPEECH)) == []


def test_speech_after_the_fragment_is_one_uncovered_run() -> None:
    runs = uncovered_runs([SKIPPING], SPEECH)
    assert len(runs) == 1
    run = runs[0]
    # "and" vouches for 0.2-1.8 s; everything from the second phrase on is uncovered
    assert run.start == pytest.approx(2.5) and run.end == pytest.approx(11.0)
    assert run.speech_seconds == pytest.approx(1.5 + 2.0 + 2.0 + 1.5)
    assert run.next_word is None
    assert runs_to_redecode(runs) == [run]


def test_a_short_gap_in_the_words_is_left_alone_and_runs_stop_at_placed_words() -> None:
    # the second phrase has no words (a cough?), the fourth half of them ("have" vouches up to 7.9 s)
    segments = [evenly("M de Villefort", 0.5, 1.0), evenly("that small frogs and toads", 4.5, 6.5),
                evenly("never have", 7.0, 7.6), evenly("but were on the ground", 9.5, 11.0)]
    runs = uncovered_runs(segments, SPEECH)
    assert [(round(r.start, 2), round(r.end, 2)) for r in runs] == [(2.5, 4.0), (7.9, 9.0)]
    assert runs[0].next_word == pytest.approx(4.5) and runs[1].next_word == pytest.approx(9.5)
    assert runs_to_redecode(runs) == [runs[0]]
    assert runs_to_redecode(runs, CoverageOptions(min_uncovered_seconds=2.0)) == []


# --- splicing ------------------------------------------------------------------------------


def test_splice_replaces_the_words_of_the_stretch_and_keeps_the_rest() -> None:
    before = evenly("one two three four", 0.0, 4.0)  # words at 0, 1, 2, 3
    after = evenly("nine ten", 9.0, 10.0)
    new = [evenly("five six seven", 4.0, 7.0), evenly("outside", 8.5, 8.9)]
    spliced = splice([before, after], new, 2.0, 8.0)
    assert [s.text for s in spliced] == ["one two", "five six seven", "nine ten"]
    assert spliced[0].end == pytest.approx(2.0)  # a segment cut at the stretch ends by its start
    assert spliced[2] == after


def test_splice_ends_a_kept_stretched_word_where_the_new_words_begin() -> None:
    new = [evenly("attempts to preserve the system", 2.2, 4.0)]
    spliced = splice([SKIPPING], new, 2.2, 11.0)
    assert [s.text for s in spliced] == ["and", "attempts to preserve the system"]
    assert spliced[0].words[0].end == pytest.approx(2.2) and spliced[0].end == pytest.approx(2.2)


def test_splice_keeps_a_segment_that_holds_the_stretch_in_a_pause() -> None:
    around = segment(("before", 1.0, 1.5), ("after", 6.0, 6.5))
    wordless = Segment(start=3.0, end=4.0, text="no word times")
    spliced = splice([around, wordless], [], 2.0, 5.0)
    assert spliced == (around,)


# --- transcribe_covered --------------------------------------------------------------------


@dataclass
class ScriptedWhisper:
    """A backend that answers each call with the next scripted result and records the calls."""

    answers: list[list[Segment]]
    calls: list[tuple[float, DecodeOptions]] = field(default_factory=list)

    def transcribe(self, audio: np.ndarray, options: DecodeOptions) -> RecognitionResult:
        self.calls.append((audio.size / SAMPLE_RATE, options))
        segments = self.answers[len(self.calls) - 1] if len(self.calls) <= len(self.answers) else []
        return RecognitionResult(segments=tuple(segments), language="en", audio_seconds=audio.size / SAMPLE_RATE,
                                 timings={"decode": 0.01, "transcribe": 0.01})


AUDIO = bursts(PHRASES, 12.0)
#: Where the decode of the run starts: before it, half the 1.5 s pause that precedes it.
LOW = 2.5 - 0.75
#: The stretch from LOW to the end, decoded alone (times relative to LOW).
RECOVERED = [s.shifted(-LOW) for s in (
    evenly("attempts to preserve the system", 2.5, 4.0), evenly("that small frogs and toads", 4.5, 6.5),
    evenly("never have fallen from the sky", 7.0, 9.0), evenly("but were on the ground", 9.5, 11.0))]


def test_skipped_speech_is_decoded_again_alone_and_spliced_in() -> None:
    backend = ScriptedWhisper([[SKIPPING], RECOVERED])
    result = transcribe_covered(backend, AUDIO, DecodeOptions(language="auto"))
    assert result.text == ("and attempts to preserve the system that small frogs and toads "
                           "never have fallen from the sky but were on the ground")
    assert len(backend.calls) == 2
    seconds, options = backend.calls[1]
    assert seconds == pytest.approx(12.0 - LOW, abs=0.001)  # from half the pause before the run to the end
    assert options.language == "en"  # the language the first decode chose, not detected again
    assert result.segments[1].start == pytest.approx(2.5)  # on the chunk's timeline
    assert result.timings["redecodes"] == 1.0 and result.timings["coverage"] >= 0.0


def test_a_decode_that_covers_the_speech_costs_no_second_call() -> None:
    covering = [evenly("M de Villefort", 0.5, 1.0)] + [s.shifted(LOW) for s in RECOVERED]
    backend = ScriptedWhisper([covering])
    result = transcribe_covered(backend, AUDIO, DecodeOptions(language="en"))
    assert len(backend.calls) == 1 and result.segments == tuple(covering)
    assert result.timings["redecodes"] == 0.0


def test_a_second_decode_that_finds_nothing_more_is_dropped() -> None:
    backend = ScriptedWhisper([[SKIPPING], [evenly("hmm", 0.3, 0.6)]])
    result = transcribe_covered(backend, AUDIO, DecodeOptions(language="en"))
    assert len(backend.calls) == 2
    assert result.text == "and develop herd."


def test_words_whisper_wrote_later_with_squeezed_times_are_not_decoded_twice() -> None:
    """whisper.cpp put every word of the sentence at the end of its segment, so the phrases before look
    skipped; decoding them again finds the same words, which already stand: nothing is spliced in."""
    squeezed = segment(*[(t, 11.0, 11.0) for t in "attempts to preserve the system that small frogs".split()],
                       ("and", 11.0, 11.1), ("toads", 11.1, 11.5))
    again = [s.shifted(-LOW) for s in (evenly("attempts to preserve the system", 2.5, 4.0),
                                       evenly("that small frogs", 4.5, 6.5))]
    backend = ScriptedWhisper([[evenly("and", 0.5, 1.0), squeezed], again])
    result = transcribe_covered(backend, AUDIO, DecodeOptions(language="en"))
    assert len(backend.calls) == 2  # the stretch was decoded again...
    assert result.text == "and attempts to preserve the system that small frogs and toads"  # ...but written once


def test_the_check_can_be_turned_off_and_words_are_dropped_when_not_asked_for() -> None:
    backend = ScriptedWhisper([[SKIPPING], RECOVERED])
    assert transcribe_covered(backend, AUDIO, DecodeOptions(language="en", coverage_check=False)).text == (
        "and develop herd.")
    assert len(backend.calls) == 1

    backend = ScriptedWhisper([[SKIPPING], RECOVERED])
    result = transcribe_covered(backend, AUDIO, DecodeOptions(language="en", word_timestamps=False))
    assert backend.calls[0][1].word_timestamps is True  # the check needs the word times
    assert "frogs" in result.text and all(s.words == () for s in result.segments)


def test_redecodes_are_bounded_and_each_starts_later_than_the_last() -> None:
    # every decode returns only a stretched fragment at its start: each run is tried once
    def fragment(start: float) -> list[Segment]:
        return [segment(("uh", start, start + 3.0), ("what", start + 3.0, 8.0))]

    backend = ScriptedWhisper([fragment(0.5), fragment(0.3), fragment(0.3), fragment(0.3), fragment(0.3)])
    transcribe_covered(backend, AUDIO, DecodeOptions(language="en"), coverage=CoverageOptions(max_redecodes=2))
    assert len(backend.calls) == 3
    lengths = [seconds for seconds, _ in backend.calls]
    assert lengths == sorted(lengths, reverse=True) and len(set(lengths)) == 3  # each from a later start
    report_only = ScriptedWhisper([[SKIPPING]])
    result = transcribe_covered(report_only, AUDIO, DecodeOptions(language="en"),
                                coverage=CoverageOptions(max_redecodes=0))
    assert len(report_only.calls) == 1 and result.text == "and develop herd."


def test_coverage_options_are_checked() -> None:
    with pytest.raises(ValueError):
        CoverageOptions(pad_seconds=-1.0)
    with pytest.raises(ValueError):
        CoverageOptions(word_span_seconds=3.0, stretched_word_seconds=2.0)
    with pytest.raises(ValueError):
        CoverageOptions(max_redecodes=-1)


# --- the real model ----------------------------------------------------------------------

#: Seconds the engine may take per request: a guard against hangs, not a speed check.
MODEL_TIMEOUT_SECONDS = 600.0


@pytest.fixture(scope="module")
def fragment_then_sentence(en_audio: Path) -> tuple[np.ndarray, str]:
    """A chunk as the chunker cut it from a talk: the last words of one recording, a pause, the next one.

    "...on his wife's request | M. de Villefort" ends 60-121082-0000; after a
    pause comes 3240-131231-0000 ("attempts to preserve the system. That small
    frogs and toads..."). On this chunk greedy whisper base writes "and
    developed." and nothing else (both stretched over the 18 s).
    """
    first, second = load_audio(en_audio / "60-121082-0000.flac"), load_audio(en_audio / "3240-131231-0000.flac")
    last_phrase = analyse(first).phrases[-1][0]
    tail = first[int((last_phrase - 0.23) * SAMPLE_RATE):]
    pause = np.zeros(SAMPLE_RATE, np.float32)
    reference = "M DE VILLEFORT " + read_transcripts(en_audio)["3240-131231-0000.flac"]
    return np.concatenate([tail, pause, second]), reference


@pytest.mark.model
@pytest.mark.slow
def test_whisper_skips_the_sentence_after_a_fragment_and_the_check_brings_it_back(
    base_q8_model: InstalledModel, fragment_then_sentence: tuple[np.ndarray, str]
) -> None:
    audio, reference = fragment_then_sentence

    def wer(text: str) -> float:
        return jiwer.wer(normalize_text(reference, "en"), normalize_text(text, "en"))

    engine = EngineProcess(base_q8_model.path, threads=1)
    try:
        plain = engine.transcribe(audio, DecodeOptions(language="en", coverage_check=False),
                                  timeout=MODEL_TIMEOUT_SECONDS)
        covered = engine.transcribe(audio, DecodeOptions(language="en"), timeout=MODEL_TIMEOUT_SECONDS)
    finally:
        engine.close()
    assert wer(plain.text) > 0.8, f"whisper no longer skips this sentence: {plain.text!r}"
    assert covered.timings["redecodes"] == 1.0
    assert "small frogs and toads" in covered.text.lower()
    assert wer(covered.text) < 0.15, covered.text
    # the words are on the chunk's timeline, in order, inside the audio
    starts = [w.start for s in covered.segments for w in s.words]
    assert starts == sorted(starts) and covered.segments[-1].end <= audio.size / SAMPLE_RATE + 0.01
    frogs = next(w for s in covered.segments for w in s.words if w.text.lower().startswith("frogs"))
    assert 4.0 < frogs.start < 7.0
