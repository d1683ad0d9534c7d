"""The shared text normaliser used for word error rates."""

from __future__ import annotations

import unicodedata

import jiwer
import pytest

from sttdesk.domain.textnorm import normalize_text, normalize_token, normalize_words, number_to_words


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Mrs. Rachel Lynde's house.", "missus rachel lyndes house"),
        ("It's late, Alexey!", "it is late alexey"),
        ("We can't, they won't; you're right", "we can not they will not you are right"),
        ("I\u2019ll be there at 7", "i will be there at seven"),
        (
            "In 1,250 days, 21 people and 100 dogs",
            "in one thousand two hundred fifty days twenty one people and one hundred dogs",
        ),
        ("twenty-one well-known e.g. things", "twenty one well known e g things"),
        ('"Quoted" (text) -- dashes', "quoted text dashes"),
        ("Big 1234567 numbers stay", "big 1234567 numbers stay"),
    ],
)
def test_english(raw: str, expected: str) -> None:
    assert normalize_text(raw, "en") == expected


def test_english_reference_and_hypothesis_meet() -> None:
    # A LibriSpeech-style reference against whisper-style output of the same speech.
    reference = "CHAPTER ONE MISSUS RACHEL LYNDE IS SURPRISED IT'S LATE"
    hypothesis = "Chapter 1. Mrs. Rachel Lynde is surprised. It is late."
    assert normalize_text(reference) == normalize_text(hypothesis)
    assert jiwer.wer(normalize_text(reference), normalize_text(hypothesis)) == 0.0


def test_vietnamese_keeps_diacritics_and_unifies_encoding() -> None:
    decomposed = unicodedata.normalize("NFD", "Tiếng VIỆT, rất hay!")
    assert normalize_text(decomposed, "vi") == "tiếng việt rất hay"
    assert normalize_words("Khách sạn… 5 sao?", "vi") == ["khách", "sạn", "5", "sao"]
    # Diacritics distinguish words: they must never be stripped.
    assert normalize_text("ma má mà mả mã mạ", "vi").split() == ["ma", "má", "mà", "mả", "mã", "mạ"]


def test_normalize_token_is_language_neutral() -> None:
    assert normalize_token("Country.") == "country"
    assert normalize_token(unicodedata.normalize("NFD", "Việt,")) == "việt"
    assert normalize_token("...") == ""


def test_number_words() -> None:
    assert number_to_words(0) == "zero"
    assert number_to_words(105) == "one hundred five"
    assert number_to_words(999_999) == "nine hundred ninety nine thousand nine hundred ninety nine"
    with pytest.raises(ValueError):
        number_to_words(1_000_000)


def test_british_spellings_and_sound_notes_are_not_errors() -> None:
    assert normalize_text("The Colour of the Centre, [music] honoured.", "en") == (
        normalize_text("the color of the center honored", "en")
    )
    assert normalize_text("[tiếng nhạc] Xin chào", "vi") == "xin chào"
