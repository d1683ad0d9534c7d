"""Word error rate for the accuracy tests and the engine benchmark.

Whisper writes "Chapter 1. Mrs. Lynde" where LibriSpeech's references say
"CHAPTER ONE MISSUS LYNDE": both sides go through sttdesk's shared WER
normaliser (:mod:`sttdesk.domain.textnorm`) first, so that WER counts
recognition errors, not spelling conventions.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

import jiwer

from sttdesk.domain.textnorm import normalize_text


def normalize_english(text: str) -> str:
    """Lower-case words without punctuation; titles, contractions and numbers spelled out."""
    return normalize_text(text, "en")


def normalize_vietnamese(text: str) -> str:
    """Lower-case syllables without punctuation, in Unicode NFC (diacritics kept)."""
    return normalize_text(text, "vi")


def word_error_rate(references: Sequence[str], hypotheses: Sequence[str]) -> float:
    """Corpus WER: all edits over all reference words (texts already normalised)."""
    return float(jiwer.wer(list(references), list(hypotheses)))


def diacritic_letters(text: str) -> list[str]:
    """The letters of ``text`` that carry a diacritic (not plain ASCII), in NFC."""
    return [ch for ch in unicodedata.normalize("NFC", text) if ch.isalpha() and not ch.isascii()]
