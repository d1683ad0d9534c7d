"""Transcription languages sttdesk offers and their validation."""

from __future__ import annotations

from .errors import UnsupportedLanguageError

#: Language codes a job may ask for; "auto" lets whisper detect it.
SUPPORTED_LANGUAGES: dict[str, str] = {
    "en": "English",
    "vi": "Tiếng Việt",
    "auto": "Auto-detect",
}


def validate_language(code: str) -> str:
    """Return the normalised language code, or raise UnsupportedLanguageError."""
    normalised = (code or "").strip().lower()
    if normalised not in SUPPORTED_LANGUAGES:
        raise UnsupportedLanguageError(
            language=code, supported=", ".join(SUPPORTED_LANGUAGES)
        )
    return normalised
