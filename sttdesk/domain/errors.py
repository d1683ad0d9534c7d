"""The error base every sttdesk package derives its own errors from.

Each concrete error class carries a stable ``code``, whether it is
``transient`` (worth retrying) and a user message in English and Vietnamese.
Messages are ``str.format`` templates filled from the keyword arguments given
when the error is raised, so front ends can show them in the user's language.
"""

from __future__ import annotations

from typing import Any, ClassVar

#: Languages the user-facing messages exist in.
UI_LANGUAGES = ("en", "vi")


class SttdeskError(Exception):
    """Base of every error sttdesk reports to a user."""

    code: ClassVar[str] = "error"
    transient: ClassVar[bool] = False
    message_en: ClassVar[str] = "Something went wrong: {detail}"
    message_vi: ClassVar[str] = "Đã xảy ra lỗi: {detail}"

    def __init__(self, detail: str = "", **fields: Any) -> None:
        self.detail = detail
        self.fields = dict(fields, detail=detail)
        super().__init__(self.user_message("en"))

    def user_message(self, language: str = "en") -> str:
        """The message for a user, in ``language`` ("en" or "vi")."""
        template = self.message_vi if language == "vi" else self.message_en
        try:
            return template.format(**self.fields)
        except (KeyError, IndexError, ValueError):
            return template

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description: code, transiency and both messages."""
        return {
            "code": self.code,
            "transient": self.transient,
            "detail": self.detail,
            "message_en": self.user_message("en"),
            "message_vi": self.user_message("vi"),
        }


class PermanentError(SttdeskError):
    """An error that retrying cannot fix (bad input, missing model...)."""

    transient = False


class TransientError(SttdeskError):
    """An error that may go away on retry (crash, timeout, lost agent...)."""

    code = "transient"
    transient = True
    message_en = "A temporary problem occurred: {detail}"
    message_vi = "Đã xảy ra sự cố tạm thời: {detail}"


class UnsupportedLanguageError(PermanentError):
    """The requested transcription language is not one sttdesk supports."""

    code = "unsupported_language"
    message_en = "Unsupported language '{language}'. Choose one of: {supported}."
    message_vi = "Ngôn ngữ '{language}' không được hỗ trợ. Hãy chọn một trong: {supported}."
