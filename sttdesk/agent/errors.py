"""Errors of the agent: what it reports to coordinators in FAILURE messages, and start-up problems."""

from __future__ import annotations

from ..domain.errors import PermanentError, SttdeskError, TransientError
from ..engine.errors import ModelNotInstalledError


class AgentError(SttdeskError):
    """Base of every error raised by :mod:`sttdesk.agent`."""

    code = "agent_error"


class ModelUnavailableError(ModelNotInstalledError):
    """The agent does not have the exact model file a chunk asks for."""

    # Same code as ModelNotInstalledError: for the coordinator both mean "not on that machine".
    code = "model_unavailable"
    message_en = "The agent {agent} does not have the model '{name}' (sha256 {sha256:.12})."
    message_vi = "Máy trạm {agent} không có mô hình '{name}' (sha256 {sha256:.12})."


class UnsupportedAudioError(AgentError, PermanentError):
    """A chunk's audio is in a format or sample rate this agent cannot read."""

    code = "unsupported_audio"
    message_en = "The agent cannot read audio in format '{audio_format}' at {sample_rate} Hz."
    message_vi = "Máy trạm không đọc được âm thanh định dạng '{audio_format}' ở {sample_rate} Hz."


class LeaseExpiredError(AgentError, TransientError):
    """A chunk waited in the agent's queue past its deadline and was never started."""

    code = "lease_expired"
    message_en = "The piece waited on agent {agent} past its deadline and was not started; it will be retried."
    message_vi = "Đoạn âm thanh chờ trên máy trạm {agent} quá hạn nên chưa được xử lý; sẽ thử lại."


class AgentBusyError(AgentError, TransientError):
    """The agent already holds more queued chunks from this coordinator than it accepts."""

    code = "agent_busy"
    message_en = "The agent {agent} has too much work waiting; the piece will be given out again."
    message_vi = "Máy trạm {agent} có quá nhiều việc đang chờ; đoạn này sẽ được giao lại."


class ResultUnsendableError(AgentError, TransientError):
    """The engine's result breaks the wire's rules (far too long, for one) and cannot be sent."""

    code = "result_unsendable"
    message_en = "The transcript of this piece could not be sent back ({detail}); it will be retried."
    message_vi = "Không gửi lại được bản chép lời của đoạn này ({detail}); sẽ thử lại."


class AgentInternalError(AgentError, TransientError):
    """An unexpected fault inside the agent while working on a chunk."""

    code = "agent_internal_error"
    message_en = "The agent hit an unexpected problem ({detail}); the piece will be retried."
    message_vi = "Máy trạm gặp sự cố không lường trước ({detail}); đoạn này sẽ được thử lại."


class AgentBindError(AgentError, PermanentError):
    """The agent cannot listen on the address and port it was given."""

    code = "agent_bind_failed"
    message_en = "Cannot listen on {endpoint}: {detail}. Is another program already using this port?"
    message_vi = "Không thể lắng nghe tại {endpoint}: {detail}. Có chương trình khác đang dùng cổng này không?"


class ModelTransferError(AgentError, TransientError):
    """A model could not be received from a coordinator (pieces kept arriving damaged, say)."""

    code = "model_transfer_failed"
    message_en = "Could not receive the model '{name}' from the coordinator: {detail}"
    message_vi = "Không nhận được mô hình '{name}' từ máy điều phối: {detail}"


class AgentInterfaceError(AgentError, PermanentError):
    """An ``--interface`` choice names no interface or address of this computer."""

    code = "agent_interface_unknown"
    message_en = "This computer has no network interface or address '{interface}' (interfaces: {known})."
    message_vi = "Máy này không có giao diện mạng hay địa chỉ '{interface}' (các giao diện: {known})."
