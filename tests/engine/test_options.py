"""DecodeOptions: defaults, validation with typed errors, and the round trip over the wire."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from sttdesk.domain.errors import UnsupportedLanguageError
from sttdesk.engine.options import (
    DEFAULT_AUTO_LANGUAGES,
    DecodeOptions,
    InvalidDecodeOptionsError,
)


def test_defaults_decode_greedily_without_cross_chunk_context() -> None:
    options = DecodeOptions()
    assert options.greedy and options.beam_size is None
    assert options.no_context is True
    assert options.word_timestamps is True
    assert options.coverage_check is True  # skipped speech is decoded again unless turned off
    assert options.language == "auto"
    assert options.auto_languages == DEFAULT_AUTO_LANGUAGES
    assert options.temperature == 0.0 and options.temperature_inc > 0  # fallback on by default


def test_beam_size_turns_beam_search_on() -> None:
    assert not DecodeOptions(beam_size=5).greedy


def test_language_is_normalised() -> None:
    assert DecodeOptions(language=" VI ").language == "vi"


def test_round_trip_through_json_keeps_every_field() -> None:
    options = DecodeOptions(
        language="vi",
        beam_size=4,
        best_of=3,
        initial_prompt="Hà Nội, Sài Gòn",
        threads=2,
        temperature=0.2,
        temperature_inc=0.0,
        entropy_threshold=2.0,
        logprob_threshold=-0.5,
        no_speech_threshold=0.5,
        no_context=False,
        word_timestamps=False,
        max_segment_chars=42,
        auto_languages=("vi",),
    )
    wire = json.loads(json.dumps(options.to_dict()))
    assert DecodeOptions.from_dict(wire) == options


def test_missing_keys_take_their_defaults() -> None:
    assert DecodeOptions.from_dict({"language": "en"}) == DecodeOptions(language="en")


@pytest.mark.parametrize(
    "fields",
    [
        {"beam_size": 1},
        {"beam_size": 9},
        {"beam_size": True},
        {"beam_size": "5"},
        {"best_of": 0},
        {"threads": 0},
        {"threads": 2.5},
        {"temperature": -0.1},
        {"temperature": math.nan},
        {"temperature_inc": 2},
        {"logprob_threshold": 1.0},
        {"no_speech_threshold": "high"},
        {"max_segment_chars": -1},
        {"no_context": "yes"},
        {"word_timestamps": 1},
        {"coverage_check": "no"},
        {"initial_prompt": 42},
        {"auto_languages": "en"},
        {"auto_languages": ("en", "")},
    ],
)
def test_bad_values_raise_a_typed_error(fields: dict[str, Any]) -> None:
    with pytest.raises(InvalidDecodeOptionsError) as caught:
        DecodeOptions(**fields)
    error = caught.value
    assert not error.transient
    assert next(iter(fields)) in error.user_message("en")
    assert error.user_message("vi").startswith("Tuỳ chọn nhận dạng không hợp lệ")


def test_unsupported_language_is_the_domain_error() -> None:
    with pytest.raises(UnsupportedLanguageError) as caught:
        DecodeOptions(language="fr")
    assert "fr" in caught.value.user_message("en")
    assert "fr" in caught.value.user_message("vi")


@pytest.mark.parametrize("data", [None, [], "language=en", 3])
def test_from_dict_rejects_what_is_not_an_object(data: Any) -> None:
    with pytest.raises(InvalidDecodeOptionsError):
        DecodeOptions.from_dict(data)


def test_from_dict_rejects_unknown_keys() -> None:
    with pytest.raises(InvalidDecodeOptionsError) as caught:
        DecodeOptions.from_dict({"language": "en", "beam": 5})
    assert "beam" in caught.value.detail


def test_from_dict_rejects_wrong_types() -> None:
    with pytest.raises(InvalidDecodeOptionsError):
        DecodeOptions.from_dict({"threads": "2"})
