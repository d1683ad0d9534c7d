"""The whisper.cpp backend: input checks, words from tokens, and real transcriptions in-process."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sttdesk.domain.errors import UnsupportedLanguageError
from sttdesk.domain.transcript import Segment, Word
from sttdesk.engine.backend import (
    Backend,
    DecodedToken,
    InvalidAudioError,
    ModelInfo,
    WhisperCppBackend,
    check_audio,
    check_model_file,
    is_annotation,
    split_long_segment,
    words_from_tokens,
)
from sttdesk.engine.errors import CorruptModelError, EngineError, ModelError
from sttdesk.engine.options import DecodeOptions
from sttdesk.engine.store import InstalledModel

from .audio import SAMPLE_RATE, read_audio
from .wer import diacritic_letters, normalize_english

JFK_SENTENCE = (
    "and so my fellow americans ask not what your country can do for you ask what you can do for your country"
)

# --- input checks -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("audio", "expected"),
    [
        ([0.0, 0.1], "numpy array"),
        (np.zeros((2, 100), dtype=np.float32), "mono"),
        (np.zeros(100, dtype=np.int16), "float"),
        (np.array([0.0, np.nan], dtype=np.float32), "NaN"),
        (np.array([0.0, np.inf], dtype=np.float32), "NaN"),
    ],
)
def test_unusable_audio_is_refused(audio: object, expected: str) -> None:
    with pytest.raises(InvalidAudioError) as caught:
        check_audio(audio)
    assert expected in caught.value.user_message("en")
    assert not caught.value.transient


def test_float64_audio_is_converted_to_contiguous_float32() -> None:
    audio = np.linspace(-1, 1, 200, dtype=np.float64)[::2]
    samples = check_audio(audio)
    assert samples.dtype == np.float32 and samples.flags.c_contiguous
    np.testing.assert_allclose(samples, audio, rtol=1e-6)


def test_missing_model_file_is_a_model_error(tmp_path: Path) -> None:
    with pytest.raises(ModelError) as caught:
        check_model_file(tmp_path / "ggml-nothing.bin")
    assert not caught.value.transient
    assert "not found" in caught.value.detail


def test_file_without_ggml_magic_is_corrupt(tmp_path: Path) -> None:
    page = tmp_path / "ggml-base.bin"
    page.write_bytes(b"<html>404 Not Found</html>" * 100_000)
    with pytest.raises(CorruptModelError) as caught:
        check_model_file(page)
    assert "bad magic" in caught.value.user_message("en")


def test_stub_with_ggml_magic_is_corrupt(tmp_path: Path) -> None:
    stub = tmp_path / "ggml-base.bin"
    stub.write_bytes(b"lmgg" + bytes(100))
    with pytest.raises(CorruptModelError):
        check_model_file(stub)


# --- tokens to words ---------------------------------------------------------------------


def _token(text: bytes, start: float, end: float, p: float = 0.9) -> DecodedToken:
    return DecodedToken(id=1, text=text, probability=p, start=start, end=end)


def test_words_start_at_tokens_with_a_leading_space() -> None:
    tokens = [
        _token(b" Amer", 1.0, 1.2, 0.8),
        _token(b"icans", 1.2, 1.6, 0.6),
        _token(b",", 1.6, 1.6, 1.0),
        _token(b" ask", 3.3, 3.6),
    ]
    words = words_from_tokens(tokens)
    assert [w.text for w in words] == ["Americans,", "ask"]
    assert (words[0].start, words[0].end) == (1.0, 1.6)
    assert words[0].probability == pytest.approx((0.8 + 0.6 + 1.0) / 3)


def test_multibyte_letters_split_across_tokens_are_joined_before_decoding() -> None:
    # "Việt" where byte-level BPE cut the "ệ" (3 bytes in UTF-8) between two tokens.
    raw = " Việt".encode()
    tokens = [_token(raw[:4], 0.0, 0.2), _token(raw[4:], 0.2, 0.4), _token(b" Nam", 0.4, 0.7)]
    assert [w.text for w in words_from_tokens(tokens)] == ["Việt", "Nam"]


def test_a_leading_token_without_space_still_starts_a_word() -> None:
    words = words_from_tokens([_token(b"Hello", 0.0, 0.5), _token(b" there", 0.5, 0.9)])
    assert [w.text for w in words] == ["Hello", "there"]


def test_long_segments_are_split_at_word_boundaries() -> None:
    words = tuple(Word(start=i, end=i + 0.5, text=t) for i, t in enumerate(["one", "two", "three", "four", "five"]))
    segment = Segment(start=0.0, end=5.0, text="one two three four five", words=words)
    pieces = split_long_segment(segment, 9)
    assert [p.text for p in pieces] == ["one two", "three", "four five"]
    assert pieces[0].start == 0.0 and pieces[-1].end == 5.0
    assert pieces[1].start == 2.0 and pieces[1].end == 2.5
    assert split_long_segment(segment, 0) == [segment]


@pytest.mark.parametrize("text", ["[BLANK_AUDIO]", "(music)", " [Music] ", "♪ ♪", "[ Silence ]"])
def test_sound_notes_are_annotations(text: str) -> None:
    assert is_annotation(text)


@pytest.mark.parametrize("text", ["you", "Hello [applause]", "(laughs) yes", "Chapter 1."])
def test_speech_is_not_an_annotation(text: str) -> None:
    assert not is_annotation(text)


def test_whisper_backend_satisfies_the_protocol() -> None:
    assert isinstance(WhisperCppBackend(), Backend)


def test_transcribe_before_load_is_an_engine_error() -> None:
    with pytest.raises(EngineError):
        WhisperCppBackend().transcribe(np.zeros(16000, dtype=np.float32), DecodeOptions())


# --- the real model ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def backend(base_q8_model: InstalledModel) -> WhisperCppBackend:
    whisper = WhisperCppBackend()
    whisper.load(Path(base_q8_model.path), 2)
    yield whisper
    whisper.close()


@pytest.fixture(scope="module")
def jfk(en_audio: Path) -> np.ndarray:
    return read_audio(en_audio / "jfk.wav")


@pytest.mark.model
def test_load_reports_the_model(backend: WhisperCppBackend) -> None:
    info = backend.info
    assert info is not None
    assert info.model_type == "base" and info.multilingual
    assert info.ftype == 7  # ggml file type q8_0


@pytest.mark.model
def test_jfk_gives_the_sentence_with_plausible_word_times(backend: WhisperCppBackend, jfk: np.ndarray) -> None:
    result = backend.transcribe(jfk, DecodeOptions(language="en"))
    assert normalize_english(result.text) == JFK_SENTENCE
    assert result.language == "en" and result.language_probability is None
    assert result.audio_seconds == pytest.approx(11.0, abs=0.01)
    words = [w for s in result.segments for w in s.words]
    assert len(words) == len(JFK_SENTENCE.split())
    for segment in result.segments:
        assert 0.0 <= segment.start <= segment.end <= result.audio_seconds
        for word in segment.words:
            assert segment.start <= word.start <= word.end <= segment.end
            assert 0.0 < word.probability <= 1.0
    starts = [w.start for w in words]
    assert starts == sorted(starts)
    by_text = [(normalize_english(w.text), w) for w in words]
    # Speech energy: "ask" is spoken at 3.2-3.7 s and the first "country" at 5.6-6.3 s.
    ask = next(w for t, w in by_text if t == "ask")
    country = next(w for t, w in by_text if t == "country")
    assert 2.8 <= ask.start <= 3.6 and 3.2 <= ask.end <= 4.2
    assert 5.0 <= country.start <= 6.2 and 5.8 <= country.end <= 7.0
    assert by_text[-1][1].end >= 9.5  # the last "country." ends near the end of the clip


@pytest.mark.model
def test_beam_search_and_a_prompt_give_the_same_sentence(backend: WhisperCppBackend, jfk: np.ndarray) -> None:
    result = backend.transcribe(
        jfk, DecodeOptions(language="en", beam_size=3, initial_prompt="President Kennedy's inaugural address.")
    )
    assert normalize_english(result.text) == JFK_SENTENCE


@pytest.mark.model
def test_without_word_timestamps_segments_have_no_words(backend: WhisperCppBackend, jfk: np.ndarray) -> None:
    result = backend.transcribe(jfk, DecodeOptions(language="en", word_timestamps=False))
    assert normalize_english(result.text) == JFK_SENTENCE
    assert all(not s.words for s in result.segments)


@pytest.mark.model
def test_max_segment_chars_splits_segments(backend: WhisperCppBackend, jfk: np.ndarray) -> None:
    result = backend.transcribe(jfk, DecodeOptions(language="en", max_segment_chars=25))
    assert len(result.segments) >= 4
    assert all(len(s.text) <= 25 for s in result.segments)
    assert normalize_english(result.text) == JFK_SENTENCE


@pytest.mark.model
def test_auto_detects_english_with_a_probability(backend: WhisperCppBackend, jfk: np.ndarray) -> None:
    result = backend.transcribe(jfk, DecodeOptions(language="auto"))
    assert result.language == "en"
    assert result.language_probability is not None and result.language_probability > 0.5
    assert "detect_language" in result.timings


@pytest.mark.model
def test_language_probabilities_cover_every_language_and_agree_with_auto(
    backend: WhisperCppBackend, jfk: np.ndarray
) -> None:
    probabilities = backend.language_probabilities(jfk)
    assert {"en", "vi", "de", "ja"} <= set(probabilities)
    assert max(probabilities, key=probabilities.__getitem__) == "en"
    assert sum(probabilities.values()) == pytest.approx(1.0, abs=0.01)
    detected = backend.transcribe(jfk, DecodeOptions(language="auto", auto_languages=("vi", "de")))
    # restricted to Vietnamese and German, "auto" takes the likelier of the two, with its probability
    likelier = max(("vi", "de"), key=probabilities.__getitem__)
    assert detected.language == likelier
    assert detected.language_probability == pytest.approx(probabilities[likelier], rel=1e-5)
    with pytest.raises(InvalidAudioError):
        backend.language_probabilities(np.zeros(SAMPLE_RATE // 20, dtype=np.float32))


@pytest.mark.model
def test_vietnamese_keeps_its_diacritics(backend: WhisperCppBackend, vi_audio: Path) -> None:
    audio = read_audio(vi_audio / "VIVOSSPK01_R002.wav")
    detected = backend.transcribe(audio, DecodeOptions(language="auto"))
    assert detected.language == "vi"
    result = backend.transcribe(audio, DecodeOptions(language="vi"))
    letters = diacritic_letters(result.text)
    assert len(letters) >= 5, result.text
    assert all("\ufffd" not in w.text for s in result.segments for w in s.words)
    assert "cuối cùng" in result.text.lower()


@pytest.mark.model
def test_silence_gives_no_segments(backend: WhisperCppBackend) -> None:
    # Over pure silence whisper writes "[BLANK_AUDIO]"; it must not become transcript text.
    result = backend.transcribe(np.zeros(5 * SAMPLE_RATE, dtype=np.float32), DecodeOptions(language="en"))
    assert all(not is_annotation(s.text) for s in result.segments)
    assert "BLANK" not in result.text


@pytest.mark.model
def test_silence_and_very_short_audio_give_no_speech(backend: WhisperCppBackend) -> None:
    short = backend.transcribe(np.zeros(SAMPLE_RATE // 20, dtype=np.float32), DecodeOptions(language="en"))
    assert short.segments == () and short.audio_seconds == pytest.approx(0.05)
    empty = backend.transcribe(np.zeros(0, dtype=np.float32), DecodeOptions(language="auto"))
    assert empty.segments == () and empty.language == "en"


@pytest.mark.model
def test_load_twice_or_after_close_is_refused(base_q8_model: InstalledModel) -> None:
    whisper = WhisperCppBackend()
    whisper.load(Path(base_q8_model.path), 1)
    with pytest.raises(EngineError):
        whisper.load(Path(base_q8_model.path), 1)
    whisper.close()
    with pytest.raises(EngineError):
        whisper.transcribe(np.zeros(SAMPLE_RATE, dtype=np.float32), DecodeOptions())
    with pytest.raises(EngineError):
        whisper.load(Path(base_q8_model.path), 1)


def test_english_only_model_refuses_vietnamese() -> None:
    # Exercised without a real .en model: the check runs before whisper.cpp is called.
    whisper = WhisperCppBackend()
    whisper._ctx = object()  # stands for a loaded context; never handed to whisper.cpp
    whisper._info = ModelInfo(path="ggml-base.en.bin", model_type="base", multilingual=False, ftype=1, load_seconds=0)
    with pytest.raises(UnsupportedLanguageError) as caught:
        whisper.transcribe(np.zeros(SAMPLE_RATE, dtype=np.float32), DecodeOptions(language="vi"))
    assert caught.value.fields["supported"] == "en"
