"""Errors of the desktop app's own inputs (each with an English and a Vietnamese message)."""

from __future__ import annotations

from ..domain.errors import PermanentError


class GuiError(PermanentError):
    """Base of the desktop app's errors."""

    code = "gui_error"


class InvalidAgentAddressError(GuiError):
    """An agent address typed by the user is not host:port."""

    code = "invalid_agent_address"
    message_en = "'{address}' is not an agent address. Type it as host:port, for example 192.168.1.20:7878."
    message_vi = "'{address}' không phải địa chỉ máy xử lý. Hãy nhập dạng máy:cổng, ví dụ 192.168.1.20:7878."

