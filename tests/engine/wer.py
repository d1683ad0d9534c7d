"""Word error rate with text normalisers for English and Vietnamese, for the accuracy tests.

Whisper writes "Chapter 1. Mrs. Lynde" where LibriSpeech's references say
"CHAPTER ONE MISSUS LYNDE": without normalising both sides the same way, WER
measures spelling conventions, not recognition. This follows the rules of
whisper's EnglishTextNormalizer that matter for read English (case,
punctuation, titles, contractions, number words to digits, common British
spellings); whisper's own normaliser is not installed here.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

import jiwer

_TITLES = {
    "mr": "mister",
    "mrs": "missus",
    "ms": "miss",
    "dr": "doctor",
    "st": "saint",
    "prof": "professor",
    "capt": "captain",
    "gen": "general",
    "col": "colonel",
    "lt": "lieutenant",
    "jr": "junior",
    "sr": "senior",
    "rev": "reverend",
}
_CONTRACTIONS = [
    (r"\bwon't\b", "will not"),
    (r"\bcan't\b", "can not"),
    (r"\bcannot\b", "can not"),
    (r"\bshan't\b", "shall not"),
    (r"\blet's\b", "let us"),
    (r"\bma'am\b", "madam"),
    (r"n't\b", " not"),
    (r"'re\b", " are"),
    (r"'ll\b", " will"),
    (r"'ve\b", " have"),
    (r"'m\b", " am"),
    (r"'d\b", " would"),
]
_BRITISH = {
    "colour": "color",
    "colours": "colors",
    "coloured": "colored",
    "honour": "honor",
    "honours": "honors",
    "honoured": "honored",
    "honourable": "honorable",
    "favour": "favor",
    "favourite": "favorite",
    "favoured": "favored",
    "neighbour": "neighbor",
    "neighbours": "neighbors",
    "neighbourhood": "neighborhood",
    "labour": "labor",
    "humour": "humor",
    "behaviour": "behavior",
    "harbour": "harbor",
    "vapour": "vapor",
    "odour": "odor",
    "rumour": "rumor",
    "parlour": "parlor",
    "vigour": "vigor",
    "splendour": "splendor",
    "endeavour": "endeavor",
    "ardour": "ardor",
    "candour": "candor",
    "clamour": "clamor",
    "armour": "armor",
    "centre": "center",
    "theatre": "theater",
    "grey": "gray",
    "jewellery": "jewelry",
    "travelled": "traveled",
    "travelling": "traveling",
    "traveller": "traveler",
    "travellers": "travelers",
    "marvellous": "marvelous",
    "quarrelled": "quarreled",
    "quarrelling": "quarreling",
    "counsellor": "counselor",
    "jeweller": "jeweler",
    "cancelled": "canceled",
    "levelled": "leveled",
    "realise": "realize",
    "realised": "realized",
    "recognise": "recognize",
    "recognised": "recognized",
    "civilised": "civilized",
    "apologise": "apologize",
    "organised": "organized",
}
_UNITS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13,
    "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
}  # fmt: skip
_TENS = {
    "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
    "eighty": 80, "ninety": 90,
}  # fmt: skip
_SCALES = {"hundred": 100, "thousand": 1_000, "million": 1_000_000}


def _numbers_to_digits(words: list[str]) -> list[str]:
    """Replace runs of English number words by their value: "twenty nine" -> "29".

    "and" inside a number ("one hundred and five") belongs to it. Both sides of
    a comparison go through this, so a lone "one" becoming "1" is harmless.
    """
    out: list[str] = []
    i = 0
    while i < len(words):
        if words[i] not in _UNITS and words[i] not in _TENS:
            out.append(words[i])
            i += 1
            continue
        total, current, j = 0, 0, i
        while j < len(words):
            word = words[j]
            if word in _UNITS:
                current += _UNITS[word]
            elif word in _TENS:
                current += _TENS[word]
            elif word in _SCALES and j > i:
                scale = _SCALES[word]
                if scale == 100:
                    current *= 100
                else:
                    total += current * scale
                    current = 0
            elif word == "and" and j + 1 < len(words) and (words[j + 1] in _UNITS or words[j + 1] in _TENS) and j > i:
                pass
            else:
                break
            j += 1
        out.append(str(total + current))
        i = j
    return out


def normalize_english(text: str) -> str:
    """Lower-case words without punctuation, titles and contractions spelled out, numbers as digits."""
    text = unicodedata.normalize("NFKC", text).lower().replace("’", "'").replace("‘", "'")
    text = re.sub(r"[\[(<][^\])>]*[\])>]", " ", text)  # bracketed notes: [music], (laughs)
    for pattern, replacement in _CONTRACTIONS:
        text = re.sub(pattern, replacement, text)
    text = re.sub(r"(\d),(\d)", r"\1\2", text)  # 1,000 -> 1000
    text = re.sub(r"[^a-z0-9' ]+", " ", text)
    words = []
    for word in text.split():
        word = word.strip("'")
        if word.endswith("'s"):
            word = word[:-2] + "s"
        word = _TITLES.get(word, word)
        word = _BRITISH.get(word, word)
        if word:
            words.extend(word.split())
    return " ".join(_numbers_to_digits(words))


def normalize_vietnamese(text: str) -> str:
    """Lower-case syllables without punctuation, in Unicode NFC (diacritics kept)."""
    text = unicodedata.normalize("NFC", text).lower()
    text = "".join(ch if ch.isalnum() or ch.isspace() else " " for ch in text)
    return " ".join(text.split())


def word_error_rate(references: Sequence[str], hypotheses: Sequence[str]) -> float:
    """Corpus WER: all edits over all reference words (texts already normalised)."""
    return float(jiwer.wer(list(references), list(hypotheses)))


def diacritic_letters(text: str) -> list[str]:
    """The letters of ``text`` that carry a diacritic (not plain ASCII), in NFC."""
    return [ch for ch in unicodedata.normalize("NFC", text) if ch.isalpha() and not ch.isascii()]
