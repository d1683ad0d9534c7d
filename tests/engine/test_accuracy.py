"""Accuracy of the real engine: English WER with base f16, q8_0 and q5_0; Vietnamese diacritics.

Each clip is one request to an :class:`EngineProcess` (2 threads, greedy), the
way the product sends chunks. The f16 model runs the whole English dev set
(tests/data/en, 7.6 min); the quantized models run every other clip and are
compared with f16 on exactly those clips, which checks the same thing for half
the time. The figures are attached to the test reports (``record_property``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sttdesk.engine.options import DecodeOptions
from sttdesk.engine.process import EngineProcess
from sttdesk.engine.store import InstalledModel
from tests.conftest import read_transcripts

from .audio import SAMPLE_RATE, read_audio
from .wer import diacritic_letters, normalize_english, normalize_vietnamese, word_error_rate

pytestmark = [pytest.mark.model, pytest.mark.slow]

THREADS = 2
#: A hang guard, not a speed check: a 30 s piece takes a few seconds idle, but two-thread
#: whisper.cpp slows down many times over when other work holds a core.
CLIP_TIMEOUT = 600.0
MAX_ENGLISH_WER = 0.06
#: A quantized model may be this much worse than f16 (absolute WER).
MAX_QUANTIZATION_LOSS = 0.01
#: Vietnamese utterances are joined into chunks of up to this many seconds.
VI_CHUNK_SECONDS = 30.0
JFK_SENTENCE = (
    "and so my fellow americans ask not what your country can do for you ask what you can do for your country"
)

Clips = list[tuple[str, np.ndarray, str]]


def _clips(folder: Path) -> Clips:
    return [(name, read_audio(folder / name), text) for name, text in sorted(read_transcripts(folder).items())]


def _transcribe(model: InstalledModel, clips: Clips, language: str) -> dict[str, str]:
    options = DecodeOptions(language=language)
    with EngineProcess(model.path, threads=THREADS) as engine:
        return {name: engine.transcribe(audio, options, timeout=CLIP_TIMEOUT).text for name, audio, _ in clips}


def _english_wer(clips: Clips, hypotheses: dict[str, str]) -> float:
    return word_error_rate(
        [normalize_english(ref) for _, _, ref in clips],
        [normalize_english(hypotheses[name]) for name, _, _ in clips],
    )


@pytest.fixture(scope="module")
def english(en_audio: Path) -> Clips:
    return _clips(en_audio)


@pytest.fixture(scope="module")
def english_subset(english: Clips) -> Clips:
    return english[::2]


@pytest.fixture(scope="module")
def f16_english(base_f16_model: InstalledModel, english: Clips) -> dict[str, str]:
    return _transcribe(base_f16_model, english, "en")


def test_jfk_gives_the_known_sentence(f16_english: dict[str, str]) -> None:
    assert normalize_english(f16_english["jfk.wav"]) == JFK_SENTENCE


def test_english_wer_with_base_f16(
    english: Clips, f16_english: dict[str, str], record_property: pytest.RecordProperty
) -> None:
    wer = _english_wer(english, f16_english)
    record_property("wer_en_base_f16", round(wer, 4))
    assert len(english) >= 30
    assert wer <= MAX_ENGLISH_WER, f"WER {wer:.2%}"


@pytest.mark.parametrize("model_fixture", ["base_q8_model", "base_q5_model"])
def test_quantized_models_stay_within_a_point_of_f16(
    request: pytest.FixtureRequest,
    model_fixture: str,
    english_subset: Clips,
    f16_english: dict[str, str],
    record_property: pytest.RecordProperty,
) -> None:
    model: InstalledModel = request.getfixturevalue(model_fixture)
    quantized = _transcribe(model, english_subset, "en")
    wer = _english_wer(english_subset, quantized)
    reference = _english_wer(english_subset, f16_english)
    record_property(f"wer_en_{model.name}_subset", round(wer, 4))
    record_property("wer_en_base_f16_subset", round(reference, 4))
    assert wer <= reference + MAX_QUANTIZATION_LOSS, f"{model.name}: {wer:.2%} against f16 {reference:.2%}"


def _joined(clips: Clips, max_seconds: float = VI_CHUNK_SECONDS) -> Clips:
    """Clips joined with short pauses into chunks of at most ``max_seconds``, as the chunker sends them."""
    pause = np.zeros(int(0.5 * SAMPLE_RATE), dtype=np.float32)
    chunks: Clips = []
    pieces: list[np.ndarray] = []
    texts: list[str] = []
    for name, audio, text in clips:
        if pieces and sum(p.size for p in pieces) + audio.size > max_seconds * SAMPLE_RATE:
            chunks.append((f"chunk{len(chunks)}", np.concatenate(pieces), " ".join(texts)))
            pieces, texts = [], []
        pieces += [audio, pause]
        texts.append(text)
    chunks.append((f"chunk{len(chunks)}", np.concatenate(pieces), " ".join(texts)))
    return chunks


def test_vietnamese_comes_back_with_its_diacritics(
    base_q8_model: InstalledModel, vi_audio: Path, record_property: pytest.RecordProperty
) -> None:
    # 42 utterances of 2-7 s: joined into chunks of up to 30 s, each costs one whisper window
    # instead of one per utterance.
    clips = _joined(_clips(vi_audio))
    hypotheses = _transcribe(base_q8_model, clips, "vi")
    references = [normalize_vietnamese(ref) for _, _, ref in clips]
    normalised = [normalize_vietnamese(hypotheses[name]) for name, _, _ in clips]
    wer = word_error_rate(references, normalised)
    record_property("wer_vi_base_q8_0", round(wer, 4))
    # Most accented letters of the references must come back: a model or decoding step that
    # lost diacritics would return "viet nam" for "việt nam".
    wanted = [letter for reference in references for letter in set(diacritic_letters(reference))]
    found = sum(
        len(set(diacritic_letters(reference)) & set(diacritic_letters(hypothesis)))
        for reference, hypothesis in zip(references, normalised, strict=True)
    )
    record_property("vi_diacritics_recovered", round(found / len(wanted), 4))
    assert len(wanted) > 50
    assert found / len(wanted) >= 0.8, f"only {found}/{len(wanted)} accented letters came back"
    assert not any("\ufffd" in text for text in hypotheses.values())
    assert wer < 0.6, f"Vietnamese WER {wer:.2%}"
