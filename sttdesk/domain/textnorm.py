"""Text normalisation for word error rates and for comparing words across chunks.

Two transcripts of the same speech differ in ways nobody would call an error:
case, punctuation, "Mrs." against "missus", "it's" against "it is", "7" against
"seven". :func:`normalize_text` removes those differences so that a word error
rate counts only real mistakes. Benchmarks and accuracy tests use it on both
the reference and the hypothesis.

Both: square-bracketed sound notes ("[music]") dropped. English: lower case, curly
quotes made straight, a few unambiguous contractions and titles expanded,
British spellings made American, whole numbers below a million written as words, every
other punctuation mark removed. Vietnamese: case folded, NFC (so precomposed and
combining diacritics compare equal), punctuation removed, diacritics kept;
digits are left as they are because Vietnamese number words vary by region
("lăm"/"nhăm", "linh"/"lẻ") and a wrong guess would add errors, not remove them.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["normalize_text", "normalize_token", "normalize_words", "number_to_words"]

#: Contractions with only one reading; "'s" and "'d" are ambiguous and stay.
_CONTRACTIONS: dict[str, str] = {
    "can't": "can not",
    "cannot": "can not",
    "won't": "will not",
    "shan't": "shall not",
    "ain't": "is not",
    "let's": "let us",
    "it's": "it is",
    "that's": "that is",
    "what's": "what is",
    "there's": "there is",
    "i'm": "i am",
}
_SUFFIXES: tuple[tuple[str, str], ...] = (
    ("n't", " not"),
    ("'re", " are"),
    ("'ve", " have"),
    ("'ll", " will"),
)
#: Titles as LibriSpeech-style references spell them out.
_ABBREVIATIONS: dict[str, str] = {
    "mr": "mister",
    "mrs": "missus",
    "dr": "doctor",
}
#: British spellings common in read English, mapped to the American ones whisper
#: usually writes, so a spelling convention is not counted as an error.
_BRITISH: dict[str, str] = {
    word: word.replace("our", "or")
    for word in (
        "colour", "colours", "coloured", "neighbour", "neighbours", "neighbourhood", "labour",
        "humour", "behaviour", "harbour", "vapour", "odour", "rumour", "parlour", "vigour",
        "splendour", "endeavour", "ardour", "candour", "clamour", "armour", "favour", "favourite",
        "honour", "honoured", "valour", "savour",
    )
} | {
    "centre": "center", "theatre": "theater", "grey": "gray", "jewellery": "jewelry",
    "travelled": "traveled", "travelling": "traveling", "traveller": "traveler",
    "travellers": "travelers", "marvellous": "marvelous", "quarrelled": "quarreled",
    "counsellor": "counselor", "cancelled": "canceled", "levelled": "leveled",
    "realise": "realize", "realised": "realized", "recognise": "recognize",
    "recognised": "recognized", "apologise": "apologize", "organised": "organized",
}  # fmt: skip
#: Sound notes in square brackets ("[music]") are not words anybody said.
#: Parentheses stay: in a reference text they hold real words.
_SOUND_NOTE = re.compile(r"\[[^\]]*\]")
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "`": "'"})
_EDGE_PUNCTUATION = '.,;:!?"()[]{}«»“”'
_NUMBER = re.compile(r"\d{1,3}(?:,\d{3})+|\d+")
_ONES = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
_TENS = ["_", "_", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
#: Numbers from here on are left as digits: their spoken forms vary too much.
_NUMBER_WORDS_LIMIT = 1_000_000


def number_to_words(value: int) -> str:
    """English cardinal words for 0 <= value < 1,000,000 ("one hundred five")."""
    if not 0 <= value < _NUMBER_WORDS_LIMIT:
        raise ValueError(f"number out of range: {value}")
    if value < 20:
        return _ONES[value]
    if value < 100:
        tens, ones = divmod(value, 10)
        return _TENS[tens] + ("" if ones == 0 else " " + _ONES[ones])
    if value < 1000:
        hundreds, rest = divmod(value, 100)
        return _ONES[hundreds] + " hundred" + ("" if rest == 0 else " " + number_to_words(rest))
    thousands, rest = divmod(value, 1000)
    return number_to_words(thousands) + " thousand" + ("" if rest == 0 else " " + number_to_words(rest))


def _spell_number(match: re.Match[str]) -> str:
    value = int(match.group(0).replace(",", ""))
    return f" {number_to_words(value)} " if value < _NUMBER_WORDS_LIMIT else f" {value} "


def _strip_punctuation(text: str) -> str:
    """Replace every punctuation or symbol character by a space; keep letters, marks, digits."""
    return "".join(
        ch if ch.isalnum() or ch.isspace() or unicodedata.category(ch).startswith("M") else " " for ch in text
    )


def _expand_english(token: str) -> str:
    token = token.strip("'")
    if token in _CONTRACTIONS:
        return _CONTRACTIONS[token]
    if token in _ABBREVIATIONS:
        return _ABBREVIATIONS[token]
    if token in _BRITISH:
        return _BRITISH[token]
    for suffix, expansion in _SUFFIXES:
        if token.endswith(suffix) and len(token) > len(suffix):
            return token[: -len(suffix)] + expansion
    return token


def normalize_text(text: str, language: str = "en") -> str:
    """``text`` normalised for comparison in ``language`` ("en", "vi"; others: like "vi")."""
    text = unicodedata.normalize("NFC", text).translate(_APOSTROPHES)
    text = _SOUND_NOTE.sub(" ", text)
    if language == "en":
        text = text.lower()
        # Contractions and titles first, while apostrophes and dots still mark them.
        tokens = [_expand_english(t.strip(_EDGE_PUNCTUATION)) for t in text.split()]
        text = " ".join(tokens)
        text = _NUMBER.sub(_spell_number, text)
        # A possessive stays one word ("rachel's" -> "rachels"); hyphens and dots
        # inside words ("twenty-one", "e.g.") separate words.
        text = _strip_punctuation(text.replace("'", ""))
    else:
        text = _strip_punctuation(text.casefold())
    return " ".join(text.split())


def normalize_words(text: str, language: str = "en") -> list[str]:
    """The normalised words of ``text``."""
    return normalize_text(text, language).split()


def normalize_token(token: str) -> str:
    """One word reduced to what identifies it across chunks: case, accents' encoding, punctuation.

    Cheaper and language-neutral: used by the merge to recognise the same word
    transcribed twice in an overlap, where both copies come from the same model.
    """
    folded = unicodedata.normalize("NFC", token).casefold()
    return "".join(ch for ch in folded if ch.isalnum() or unicodedata.category(ch).startswith("M"))
